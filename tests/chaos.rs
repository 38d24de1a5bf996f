//! The chaos soak, sized for CI: 3,000 mixed calls with 64 in flight over five hosts while
//! their sshd are killed and restarted, frozen and thawed, and their connections dropped at
//! random (a fault every ~150 ms). Every call is answered exactly once; every call that did
//! not overlap a fault on its own host succeeds; descriptors, threads and memory come back to
//! where they were. The long run (10,000+ calls) is `cargo bench --bench chaos`.

use crate::common;

use std::time::Duration;

use common::chaos::{footprint, soak};
use common::{scout_client, wait_until, Fleet};

#[test]
fn a_chaos_soak_answers_everything_once_and_fails_only_calls_that_met_a_fault() {
    let _turn = crate::heavy();
    let fleet = Fleet::start(&["k0", "k1", "k2", "k3", "k4"]);
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_COMMAND_TIMEOUT", "3"),
            ("SCOUT_CONNECT_TIMEOUT", "2"),
            ("SCOUT_KEEPALIVE_INTERVAL", "1"),
            ("SCOUT_IDLE_TIMEOUT", "2"),
            ("SCOUT_LOG_LEVEL", "warn"),
        ],
    );
    let pid = c.pid();
    let idle_fds = footprint(pid).0;
    // Warm-up without faults: the worker threads and the allocator settle.
    let (warm, fleet) = soak(fleet, &mut c, 600, 64, None, 1);
    assert!(
        warm.innocent_failures.is_empty(),
        "{:?}",
        &warm.innocent_failures[..warm.innocent_failures.len().min(3)]
    );
    let (_, threads_before, rss_before) = footprint(pid);

    let (report, fleet) = soak(fleet, &mut c, 3000, 64, Some(Duration::from_millis(150)), 7);
    eprintln!(
        "{} calls in {:?}: {} faults, {} calls failed during a fault",
        report.calls,
        report.elapsed,
        report.faults.len(),
        report.fault_failures
    );
    assert_eq!(report.unanswered, 0, "calls never answered");
    assert!(
        report.answered_twice.is_empty(),
        "{:?}",
        report.answered_twice
    );
    assert_eq!(report.calls, 3000);
    assert!(
        report.faults.len() >= 5,
        "too few faults: {:?}",
        report.faults
    );
    assert!(
        report.innocent_failures.is_empty(),
        "{} calls failed without a fault on their host, e.g. {:?}\nfaults: {:?}",
        report.innocent_failures.len(),
        &report.innocent_failures[..report.innocent_failures.len().min(3)],
        report.faults
    );
    // Idle connections are closed after SCOUT_IDLE_TIMEOUT: descriptors come back to the
    // idle process's; threads and memory stay near their warm level.
    assert!(
        wait_until(Duration::from_secs(15), || footprint(pid).0 <= idle_fds + 2),
        "descriptors: {} idle before, {} now",
        idle_fds,
        footprint(pid).0
    );
    let (_, threads_after, rss_after) = footprint(pid);
    assert!(
        threads_after <= threads_before + 16,
        "threads: {threads_before} → {threads_after}"
    );
    assert!(
        rss_after <= rss_before + 8 * 1024,
        "RSS: {rss_before} KiB → {rss_after} KiB"
    );
    c.assert_stdout_all_json();
    drop(fleet);
}
