//! Calls that overlap (docs/ARCHITECTURE.md, "Connections and channels"): a quick call never
//! waits behind slow ones, many commands share one connection within the server's
//! `MaxSessions`, a restarted host is reconnected before a stale connection is used twice,
//! and a host that goes silent is noticed by keepalives. Timings are the benches' business
//! (`benches/stdio.rs`); these tests check the behaviour.

use crate::common;

use std::time::Duration;

use common::{process_running, scout_client, tool_text, wait_until, Fleet};
use serde_json::{json, Value};

const ACCEPTED: &str = "Accepted publickey";

fn call(args: Value) -> Value {
    json!({"name": "scout", "arguments": args})
}

fn count_running(needle: &str) -> usize {
    std::process::Command::new("pgrep")
        .args(["-fc", needle])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Kills the test's remote commands however the test ends (they run on this machine).
struct KillOnDrop(&'static str);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pkill")
            .args(["-f", self.0])
            .status();
    }
}

#[test]
fn a_quick_read_is_not_held_up_by_sixty_four_slow_commands() {
    let _cleanup = KillOnDrop("sleep 3011");
    let fleet = Fleet::start(&["a", "b", "c"]);
    let file = fleet.write_remote_file("quick.txt", b"quick\n");
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    // Warm every host.
    for host in ["a", "b", "c"] {
        assert!(!c.call_text(json!({"target": format!("{host}:/")})).1);
    }
    // 64 commands that wait for a long time, on the other hosts and on b itself.
    let slow: Vec<Value> = (0..64)
        .map(|i| {
            let host = ["a", "b", "c"][i % 3];
            c.send_request(
                "tools/call",
                call(json!({"target": format!("{host}:/"), "query": "sleep 3011"})),
            )
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(20), || count_running("^sleep 3011")
            >= 64),
        "only {} of the 64 commands started",
        count_running("^sleep 3011")
    );
    // A read of b: answered while every slow command still runs.
    let (text, is_error) = c.call_text(json!({"target": format!("b:{}", file.display())}));
    assert_eq!((text.as_str(), is_error), ("quick\n", false));
    assert_eq!(
        count_running("^sleep 3011"),
        64,
        "a slow command ended early"
    );
    assert!(
        c.stashed().iter().all(|m| !slow.contains(&m["id"])),
        "a slow command was answered"
    );
    // Cancelling them ends them on the hosts.
    for id in &slow {
        c.notify("notifications/cancelled", json!({"requestId": id}));
    }
    assert!(
        wait_until(Duration::from_secs(10), || !process_running("sleep 3011")),
        "cancelled commands kept running"
    );
}

/// `t0 t1` (nanoseconds) of each command's start and end.
fn spans(texts: &[String]) -> Vec<(u128, u128)> {
    texts
        .iter()
        .map(|t| {
            let mut it = t.split_whitespace().map(|n| n.parse::<u128>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect()
}

/// Runs `n` timed commands at once on `host`; their outputs.
fn concurrent_commands(
    c: &mut common::McpClient,
    host: &str,
    n: usize,
    sleep: &str,
) -> Vec<String> {
    let query = format!("t0=$(date +%s%N); sleep {sleep}; echo $t0 $(date +%s%N)");
    let ids: Vec<Value> = (0..n)
        .map(|_| {
            c.send_request(
                "tools/call",
                call(json!({"target": format!("{host}:/"), "query": query})),
            )
        })
        .collect();
    ids.iter()
        .map(|id| {
            let r = c
                .recv_response(id, Duration::from_secs(60))
                .expect("an answer");
            let text = tool_text(&r["result"]);
            assert_eq!(r["result"]["isError"], false, "{text}");
            text
        })
        .collect()
}

#[test]
fn fifty_commands_on_one_host_run_at_once_on_six_connections_of_stock_sshd() {
    // OpenSSH's defaults, stated (the fixture's own are higher).
    let fleet = Fleet::start_with_config(&["h"], "MaxSessions 10\nMaxStartups 10:30:100\n");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_MAX_SESSIONS_PER_HOST", "6"),
        ],
    );
    // Two seconds each: all must have started before the first ends (on a loaded CI machine
    // starting 50 shells takes a moment; the bench times the one-second case).
    let outputs = concurrent_commands(&mut c, "h", 50, "2");
    let spans = spans(&outputs);
    let t0 = spans.iter().map(|s| s.0).min().unwrap();
    let mut starts: Vec<u128> = spans.iter().map(|s| (s.0 - t0) / 1_000_000).collect();
    starts.sort();
    let last_start = spans.iter().map(|s| s.0).max().unwrap();
    let first_end = spans.iter().map(|s| s.1).min().unwrap();
    assert!(
        last_start < first_end,
        "the 50 commands did not all run at once: the last started {} ms after the first ended \
         (starts, ms: {starts:?}; log: {})",
        (last_start - first_end) / 1_000_000,
        c.stderr_text()
    );
    let connections = fleet.hosts[0].1.log_count(ACCEPTED);
    assert!((1..=6).contains(&connections), "{connections} connections");
}

#[test]
fn a_server_allowing_fewer_channels_is_learned_and_no_call_fails() {
    let fleet = Fleet::start_with_config(&["h"], "MaxSessions 3\n");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_MAX_SESSIONS_PER_HOST", "2"),
        ],
    );
    // Six at once: more than the two connections' 2 × 3 channels minus their control
    // channels; they queue instead of failing.
    let outputs = concurrent_commands(&mut c, "h", 10, "0.3");
    assert_eq!(outputs.len(), 10);
    let connections = fleet.hosts[0].1.log_count(ACCEPTED);
    assert!((1..=2).contains(&connections), "{connections} connections");
    // Reads go on meanwhile too.
    assert!(!c.call_text(json!({"target": "h:/"})).1);
    // The limit was learned from a refusal, and not below the server's (three channels).
    assert!(
        c.wait_stderr("limiting this connection to 3", Duration::from_secs(10)),
        "{}",
        c.stderr_text()
    );
    let log = c.stderr_text();
    assert!(!log.contains("limiting this connection to 2"), "{log}");
    assert!(!log.contains("limiting this connection to 1"), "{log}");
}

#[test]
fn after_a_restart_no_stale_connection_is_used() {
    let mut fleet = Fleet::start(&["h"]);
    let file = fleet.write_remote_file("after.txt", b"after\n");
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    // Enough commands at once for several pooled connections.
    concurrent_commands(&mut c, "h", 40, "0.3");
    let before = fleet.hosts[0].1.log_count(ACCEPTED);
    assert!(before >= 4, "only {before} connections pooled");
    fleet.sshd("h").restart();
    for i in 0..20 {
        let args = if i % 2 == 0 {
            json!({"target": format!("h:{}", file.display())})
        } else {
            json!({"target": "h:/", "query": "echo fresh"})
        };
        let (text, is_error) = c.call_text(args);
        assert!(!is_error, "call {i} after the restart failed: {text}");
    }
}

#[test]
fn a_silent_host_is_noticed_by_keepalives_and_costs_only_its_own_calls() {
    let mut fleet = Fleet::start(&["alpha", "beta"]);
    let file = fleet.write_remote_file("f.txt", b"fine\n");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_KEEPALIVE_INTERVAL", "1"),
            ("SCOUT_CONNECT_TIMEOUT", "2"),
            ("SCOUT_COMMAND_TIMEOUT", "3"),
        ],
    );
    let read = |c: &mut common::McpClient, host: &str| {
        c.call_text(json!({"target": format!("{host}:{}", file.display())}))
    };
    assert!(!read(&mut c, "alpha").1 && !read(&mut c, "beta").1);
    // Frozen: the socket stays open, nothing answers (as when a network drops packets).
    fleet.sshd("alpha").freeze_all();
    assert!(
        wait_until(Duration::from_secs(10), || c.stderr_text().contains(
            "alpha: connection ended: alpha: SSH session failed: no answer from the server"
        )),
        "the silent connection was not noticed:\n{}",
        c.stderr_text()
    );
    let (text, is_error) = read(&mut c, "alpha");
    assert!(is_error && text.starts_with("Error: alpha:"), "{text}");
    assert_eq!(read(&mut c, "beta"), ("fine\n".to_string(), false));
    fleet.sshd("alpha").thaw_all();
    assert_eq!(read(&mut c, "alpha"), ("fine\n".to_string(), false));
}
