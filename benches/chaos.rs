//! The chaos soak, long: five hosts, 10,000+ mixed calls (read, list, query, find, broadcast)
//! with 64 in flight through the real binary over stdio, while a chaos thread kills and
//! restarts, freezes and thaws each host's sshd, or drops its connections, at random. Prints
//! the calls, the faults, the calls that failed during a fault on their host (expected), any
//! that failed without one (must be 0), and descriptors, threads and RSS before and after.
//! `tests/chaos.rs` runs the same driver, smaller, in CI.
//!
//! `cargo bench --bench chaos` (10,000 calls, a fault every ~300 ms); `-- --quick` runs
//! 3,000; `--calls N` sets it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::chaos::{footprint, soak};
use common::{scout_client, Fleet};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let calls: usize = args
        .iter()
        .position(|a| a == "--calls")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3_000 } else { 10_000 });
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
    let idle = footprint(pid);
    let (warm, fleet) = soak(fleet, &mut c, 1_000, 64, None, 1);
    let warmed = footprint(pid);
    let (report, fleet) = soak(
        fleet,
        &mut c,
        calls,
        64,
        Some(Duration::from_millis(300)),
        11,
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while footprint(pid).0 > idle.0 + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = footprint(pid);
    let mut kinds = std::collections::BTreeMap::new();
    for f in &report.faults {
        *kinds.entry(f.kind).or_insert(0) += 1;
    }
    println!("chaos soak: 5 hosts, 64 in flight");
    println!(
        "    warm-up: {} calls without faults, {} failed",
        warm.calls,
        warm.innocent_failures.len()
    );
    println!(
        "    soak: {} calls in {:.1} s ({:.0} calls/s), {} faults {kinds:?}",
        report.calls,
        report.elapsed.as_secs_f64(),
        report.calls as f64 / report.elapsed.as_secs_f64(),
        report.faults.len()
    );
    println!(
        "    answered exactly once: {} (never: {}, twice: {})",
        report.unanswered == 0 && report.answered_twice.is_empty(),
        report.unanswered,
        report.answered_twice.len()
    );
    println!(
        "    failed during a fault on their host: {}; failed without one: {}",
        report.fault_failures,
        report.innocent_failures.len()
    );
    for failure in report.innocent_failures.iter().take(3) {
        println!("        e.g. {failure}");
    }
    println!(
        "    descriptors / threads / RSS: idle {}/{}/{} KiB, after warm-up {}/{}/{} KiB, after the soak (idle connections closed) {}/{}/{} KiB",
        idle.0, idle.1, idle.2, warmed.0, warmed.1, warmed.2, after.0, after.1, after.2
    );
    c.assert_stdout_all_json();
    drop(fleet);
}
