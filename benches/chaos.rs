//! The chaos soak, long: five hosts, 10,000+ mixed calls (read, list, query, find, broadcast)
//! with 64 in flight through the real binary over stdio, while a chaos thread kills and
//! restarts, freezes and thaws each host's sshd, or drops its connections, at random. Prints
//! the calls, the faults, the calls that failed during a fault on their host (expected), any
//! that failed without one (must be 0), and descriptors, threads and RSS before and after.
//! `tests/chaos.rs` runs the same driver, smaller, in CI.
//!
//! `cargo bench --bench chaos` (10,000 calls, a fault every ~300 ms); `-- --quick` runs
//! 3,000; `--calls N` sets it.

use scout_testkit as common;

use std::time::{Duration, Instant};

use common::chaos::{footprint, soak};
use common::{scout_client, Fleet};

/// Waits (up to 45 s) until idle connections are closed and the extra workers have ended
/// (they leave after 30 s idle), then measures. The broadcast pool's threads (16, started by
/// the first broadcast) stay.
fn settle(pid: u32, idle: (usize, u64, u64)) -> (usize, u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let now = footprint(pid);
        if now.0 <= idle.0 + 2 && workers(pid) <= 2 {
            return now;
        }
        if Instant::now() > deadline {
            println!("    not settled after 45 s; threads: {}", thread_names(pid));
            return now;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many worker threads the process has.
fn workers(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|n| n.starts_with("scout-worker"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// The process's threads by name, counted: `scout-worker x12, ...`.
fn thread_names(pid: u32) -> String {
    let mut names = std::collections::BTreeMap::<String, usize>::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            *names.entry(name.trim().to_string()).or_insert(0) += 1;
        }
    }
    names
        .iter()
        .map(|(name, n)| format!("{name} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    // Two soaks in a row: what a leak would add grows with the calls, settling allocators do not.
    let (first, fleet) = soak(
        fleet,
        &mut c,
        calls,
        64,
        Some(Duration::from_millis(300)),
        11,
    );
    let after_first = settle(pid, idle);
    let (report, fleet) = soak(
        fleet,
        &mut c,
        calls,
        64,
        Some(Duration::from_millis(300)),
        12,
    );
    let after = settle(pid, idle);
    let report = first.merge(report);
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
        "    descriptors / threads / RSS: idle {}/{}/{} KiB, after warm-up {}/{}/{} KiB",
        idle.0, idle.1, idle.2, warmed.0, warmed.1, warmed.2
    );
    println!(
        "    settled (idle connections closed, extra workers ended) after soak 1: {}/{}/{} KiB, after soak 2: {}/{}/{} KiB",
        after_first.0, after_first.1, after_first.2, after.0, after.1, after.2
    );
    c.assert_stdout_all_json();
    drop(fleet);
}
