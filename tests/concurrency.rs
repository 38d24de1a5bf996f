//! Concurrency in the MCP server against real sshd: pings while workers are busy, out-of-order
//! completion with exact ids, cancellation, duplicate ids, shutdown with work in flight.

use crate::common;

use std::time::{Duration, Instant};

use common::{process_running, scout_client_in, tool_text, wait_until, Era, Fleet};
use serde_json::{json, Value};

fn sleep_call(c: &mut common::McpClient, id: Value, seconds: u32) {
    c.send_request_id(
        id,
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": format!("sleep {seconds}; echo slept")}}),
    );
}

/// `ping` in the legacy era; 2026-07-28 removed it, and `server/discover` is its main-loop answer.
fn ping_is_answered_while_every_worker_is_busy(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(
        era,
        &fleet,
        &[("SCOUT_COMMAND_POLICY", "shell"), ("SCOUT_WORKERS", "1")],
    );
    sleep_call(&mut c, json!("slow"), 2);
    std::thread::sleep(Duration::from_millis(300)); // let the only worker pick it up
    let ping = match era {
        Era::Legacy => c.send_request("ping", Value::Null),
        Era::Modern => c.send_request("server/discover", Value::Null),
    };
    let first = c.recv(Duration::from_secs(10)).expect("a message");
    assert_eq!(
        first["id"], ping,
        "ping must not wait for the busy worker: {first}"
    );
    let slow = c
        .recv_response(&json!("slow"), Duration::from_secs(20))
        .expect("slow call finished");
    assert_eq!(tool_text(&slow["result"]), "slept\n");
}

fn requests_queue_for_workers_and_complete_out_of_order_with_exact_ids(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let file = fleet.write_remote_file("f.txt", b"fast\n");
    let mut c = scout_client_in(
        era,
        &fleet,
        &[("SCOUT_COMMAND_POLICY", "shell"), ("SCOUT_WORKERS", "2")],
    );
    sleep_call(&mut c, json!("slow-1"), 2);
    c.send_request_id(
        json!(3.5),
        "tools/call",
        json!({"name": "scout", "arguments": {"target": format!("alpha:{}", file.display())}}),
    );
    let first = c.recv(Duration::from_secs(10)).expect("a response");
    assert_eq!(
        first["id"],
        json!(3.5),
        "the fast read overtakes the slow command: {first}"
    );
    assert_eq!(tool_text(&first["result"]), "fast\n");
    let second = c.recv(Duration::from_secs(10)).expect("the slow one");
    assert_eq!(second["id"], json!("slow-1"));
}

fn a_cancelled_request_gets_no_response_and_stops_early(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(
        era,
        &fleet,
        &[("SCOUT_COMMAND_POLICY", "shell"), ("SCOUT_WORKERS", "1")],
    );
    sleep_call(&mut c, json!(42), 30);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    c.notify(
        "notifications/cancelled",
        json!({"requestId": 42, "reason": "test"}),
    );
    // The single worker is free again soon: a ping is always instant, so use a real call.
    let (text, _) = c.call_text(json!({"target": "alpha:/", "query": "echo after"}));
    assert_eq!(text, "after\n");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the cancelled command kept the worker"
    );
    assert!(
        c.recv_response(&json!(42), Duration::from_millis(500))
            .is_none(),
        "a cancelled request was answered"
    );
    c.assert_stdout_all_json();
}

fn a_duplicate_id_in_flight_is_refused(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    sleep_call(&mut c, json!("dup"), 2);
    sleep_call(&mut c, json!("dup"), 0);
    let first = c.recv(Duration::from_secs(10)).expect("the refusal");
    assert_eq!(first["id"], "dup");
    assert_eq!(first["error"]["code"], -32600, "{first}");
    let second = c.recv(Duration::from_secs(10)).expect("the original");
    assert_eq!(tool_text(&second["result"]), "slept\n");
}

fn stdin_eof_with_a_running_command_exits_zero_within_two_seconds(era: Era) {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    assert!(!c.call_text(json!({"target": "beta:/"})).1);
    sleep_call(&mut c, json!("long"), 30);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    c.close_stdin();
    let status = c.wait_exit(Duration::from_secs(5)).expect("exited");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // The in-flight call was answered (as cancelled), never cut mid-line.
    c.assert_stdout_all_json();
    let beta = &fleet.hosts[1].1;
    assert!(
        beta.wait_log_count("scout-mcp closing", 1, Duration::from_secs(5)),
        "idle session not closed politely"
    );
}

fn a_cancelled_command_ends_on_the_remote_side_and_the_session_is_kept(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    c.send_request_id(
        json!(7),
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": "sleep 3071; echo never"}}),
    );
    assert!(
        wait_until(Duration::from_secs(10), || process_running("sleep 3071")),
        "the remote sleep never started"
    );
    c.notify("notifications/cancelled", json!({"requestId": 7}));
    assert!(
        wait_until(Duration::from_secs(5), || !process_running("sleep 3071")),
        "the cancelled command is still running on the remote host"
    );
    let (text, is_error) = c.call_text(json!({"target": "alpha:/", "query": "echo again"}));
    assert_eq!((text.as_str(), is_error), ("again\n", false));
    let sshd = &fleet.hosts[0].1;
    assert_eq!(
        sshd.log_count("Accepted publickey"),
        1,
        "stopping the command should not cost the session"
    );
}

fn a_timed_out_command_is_killed_remotely_and_returns_its_partial_output(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(
        era,
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_COMMAND_TIMEOUT", "1"),
        ],
    );
    let (text, is_error) = c
        .call_text(json!({"target": "alpha:/", "query": "echo partial; trap '' TERM; sleep 3072"}));
    assert!(!is_error, "{text}");
    assert!(text.starts_with("partial\n"), "{text}");
    assert!(text.contains("[timed out after 1 s"), "{text}");
    // The shell ignores TERM; the KILL that follows two seconds later still ends the group.
    assert!(
        wait_until(Duration::from_secs(6), || !process_running("sleep 3072")),
        "the timed-out command is still running on the remote host"
    );
    let (text, _) = c.call_text(json!({"target": "alpha:/", "query": "echo fine"}));
    assert_eq!(text, "fine\n");
}

in_both_eras!(
    ping_is_answered_while_every_worker_is_busy,
    requests_queue_for_workers_and_complete_out_of_order_with_exact_ids,
    a_cancelled_request_gets_no_response_and_stops_early,
    a_duplicate_id_in_flight_is_refused,
    stdin_eof_with_a_running_command_exits_zero_within_two_seconds,
    a_cancelled_command_ends_on_the_remote_side_and_the_session_is_kept,
    a_timed_out_command_is_killed_remotely_and_returns_its_partial_output,
);
