//! Shutdown with work in progress (issue 5): SIGINT, SIGTERM and stdin EOF while five
//! connections are open (ten commands ran on them at once, two channels each) and a command
//! runs → exit 0 within 2 s, the remote command ended, every stdout line a whole JSON-RPC
//! message, and the pooled connections closed politely.

use crate::common;

use std::time::{Duration, Instant};

use common::{process_running, scout_client, wait_until, Fleet, McpClient};
use serde_json::json;

const HOSTS: [&str; 5] = ["h0", "h1", "h2", "h3", "h4"];

/// Five pooled connections (one per host, each having run two commands at once on two
/// channels), then `marker` running on h0. Returns the client.
fn busy_server(fleet: &Fleet, marker: &str) -> McpClient {
    let mut c = scout_client(fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    let targets: Vec<String> = HOSTS
        .iter()
        .flat_map(|h| [format!("{h}:/"), format!("{h}:/tmp")])
        .collect();
    let (text, is_error) = c.call_text(json!({"targets": targets, "query": "sleep 0.5; echo up"}));
    assert!(!is_error && text.contains("10/10 succeeded"), "{text}");
    let sessions: usize = fleet
        .hosts
        .iter()
        .map(|(_, s)| s.log_count("Accepted publickey"))
        .sum();
    assert_eq!(
        sessions, 5,
        "one connection per host, its channels multiplexed"
    );
    c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "h0:/", "query": format!("{marker}; echo never")}}),
    );
    assert!(
        wait_until(Duration::from_secs(10), || process_running(marker)),
        "{marker} never started"
    );
    c
}

fn shut_down(how: &str, marker: &str) {
    let fleet = Fleet::start(&HOSTS);
    let mut c = busy_server(&fleet, marker);
    let started = Instant::now();
    match how {
        "eof" => c.close_stdin(),
        signal => {
            let ok = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &c.pid().to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }
    let status = c.wait_exit(Duration::from_secs(10)).expect("exited");
    let took = started.elapsed();
    assert!(status.success(), "{how}: {status:?}\n{}", c.stderr_tail());
    assert!(took < Duration::from_secs(2), "{how}: took {took:?}");
    c.assert_stdout_all_json();
    assert!(
        wait_until(Duration::from_secs(3), || !process_running(marker)),
        "{how}: the running command was orphaned on the remote host"
    );
    // Idle connections were closed with a goodbye, not dropped (one per connection opened).
    let polite: usize = fleet
        .hosts
        .iter()
        .map(|(_, s)| s.log_count("scout-mcp closing"))
        .sum();
    assert!(
        polite >= 4,
        "{how}: only {polite} connections closed politely"
    );
}

#[test]
fn sigint_with_five_connections_and_a_running_command() {
    shut_down("INT", "sleep 3091");
}

#[test]
fn sigterm_with_five_connections_and_a_running_command() {
    shut_down("TERM", "sleep 3092");
}

#[test]
fn stdin_eof_with_five_connections_and_a_running_command() {
    shut_down("eof", "sleep 3093");
}
