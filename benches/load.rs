//! The long load run of issue 5: 10 hosts, 10,000 mixed calls (read, list, query, find,
//! broadcast) with 64 in flight from one client, through the real binary over stdio. Prints the
//! call rate, RSS and threads after 1,000 and after 10,000 calls, and the most connections any
//! sshd held at once. `tests/load.rs` runs the same driver, smaller, in CI.
//!
//! `cargo bench --bench load` (10,000 calls); `-- --quick` runs 3,000; `--calls N` sets it.

use scout_testkit as common;

use common::load::{rss_and_threads, run};
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
    let hosts: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let fleet = Fleet::start(&names);
    let per_host = 4;
    let mut c = scout_client(&fleet, &[("SCOUT_LOG_LEVEL", "warn")]);

    let first = run(&fleet, &mut c, 1_000, 64);
    let (rss_1k, threads_1k) = rss_and_threads(c.pid());
    let rest = run(&fleet, &mut c, calls.saturating_sub(1_000), 64);
    let (rss_all, threads_all) = rss_and_threads(c.pid());

    let errors = first.errors.len() + rest.errors.len();
    let answered = first.calls + rest.calls;
    let max_conn = first
        .max_connections
        .values()
        .chain(rest.max_connections.values())
        .max()
        .copied()
        .unwrap_or(0);
    let secs = (first.elapsed + rest.elapsed).as_secs_f64();
    println!("load: {answered} calls answered of {calls}, {errors} errors, 64 in flight, 10 hosts");
    println!(
        "  rate                 {:.0} calls/s ({secs:.1} s)",
        answered as f64 / secs
    );
    println!(
        "  RSS after 1,000      {} KiB   threads {threads_1k}",
        rss_1k
    );
    println!(
        "  RSS after {calls:<6}    {} KiB   threads {threads_all}",
        rss_all
    );
    println!(
        "  RSS growth           {} KiB",
        rss_all as i64 - rss_1k as i64
    );
    println!("  max connections/sshd {max_conn} (cap SCOUT_MAX_SESSIONS_PER_HOST={per_host})");
    for e in first.errors.iter().chain(&rest.errors).take(5) {
        println!("  error: {e}");
    }
    if errors > 0 || answered != calls || max_conn > per_host || threads_all != threads_1k {
        std::process::exit(1);
    }
}
