//! Load (issue 5), sized for CI: 10 hosts, mixed calls (read, list, query, find, broadcast) with
//! 64 in flight from one client. Every request is answered exactly once with its own id; no
//! sshd ever holds more connections than the per-host cap; memory and threads stay within
//! their bounds between a warm-up and a run three times as long. The long run (10,000 calls) is
//! `cargo bench --bench load`; its last figures are in docs/PERFORMANCE.md.

use crate::common;

use common::load::{rss_and_threads, run};
use common::{scout_client, Fleet};

const HOSTS: [&str; 10] = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"];

#[test]
fn sixty_four_in_flight_over_ten_hosts_each_answered_once_within_the_caps() {
    let _turn = crate::heavy();
    let fleet = Fleet::start(&HOSTS);
    let per_host = 3;
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_MAX_SESSIONS_PER_HOST", &per_host.to_string()),
            ("SCOUT_LOG_LEVEL", "warn"),
        ],
    );

    // A long warm-up: RSS settles only once every worker thread has run every kind of call
    // (a thread's stack pages count once touched) and the allocator's free lists have grown
    // to the load (measured: +2.9 MiB over the first 3,600 calls after 1,200, then +1.1,
    // +0.5, +0.3 — converging, where a leak grows by the same amount every run).
    for calls in [1200, 3600] {
        let warm = run(&fleet, &mut c, calls, 64);
        assert!(
            warm.errors.is_empty(),
            "{:?}",
            &warm.errors[..warm.errors.len().min(5)]
        );
        assert_eq!(warm.calls, calls);
    }
    let (rss_warm, threads_warm) = rss_and_threads(c.pid());

    let long = run(&fleet, &mut c, 3600, 64);
    assert!(
        long.errors.is_empty(),
        "{:?}",
        &long.errors[..long.errors.len().min(5)]
    );
    assert_eq!(long.calls, 3600);
    let (rss_long, threads_long) = rss_and_threads(c.pid());
    eprintln!(
        "anonymous RSS {rss_warm} -> {rss_long} KiB, threads {threads_warm} -> {threads_long}"
    );

    for report in [&long] {
        for (port, n) in &report.max_connections {
            let logins: Vec<usize> = fleet
                .hosts
                .iter()
                .map(|(_, s)| s.log_count("Accepted publickey"))
                .collect();
            assert!(
                *n <= per_host,
                "sshd on port {port} held {n} connections (cap {per_host}); logins per host {logins:?}"
            );
        }
    }
    let used: usize = long.max_connections.values().filter(|n| **n > 0).count();
    assert_eq!(
        used,
        HOSTS.len(),
        "every host was used: {:?}",
        long.max_connections
    );
    // Workers start when requests find none free (64 in flight: about that many), connections
    // at most `per_host` per host: a run three times as long may meet a slightly higher peak,
    // not one more thread per call. A worker between two jobs counts as busy for an instant, so
    // on a loaded machine a burst starts a few more than are in flight (measured: up to 12
    // over 64 while the rest of the suite ran); they end after a few idle seconds.
    let bound = (64 + 2 + per_host * HOSTS.len() + 32) as u64;
    assert!(
        threads_long <= bound && threads_long <= threads_warm + 8,
        "threads grew from {threads_warm} to {threads_long} (bound {bound})"
    );
    // The allocator's free lists still settle after the warm-up, less with every run
    // (measured, anonymous RSS per further 3,600 calls: +1216, +768, +624, +468, +308 KiB),
    // and the odd new worker adds its stack; a leak of 600 bytes per call would add 2.1 MiB
    // in every run.
    assert!(
        rss_long <= rss_warm + 2048,
        "RSS grew from {rss_warm} KiB to {rss_long} KiB over 3600 calls"
    );
    c.assert_stdout_all_json();
}
