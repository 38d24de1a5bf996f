//! Faults against real sshd (issue 5): servers killed, frozen or unreachable mid-work, floods of
//! output. Each time the call gets a clear result and scout-mcp keeps serving without a restart.
//!
//! Covered elsewhere: an idle pooled session killed by the server (`sessions.rs`), a host key
//! changed between two calls (`host_keys.rs`), a command that never ends and a stderr flood
//! (`tool_modes.rs`, `concurrency.rs`).

use crate::common;

use std::time::Duration;

use common::{process_running, scout_client, tool_text, wait_until, Fleet};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

fn call_args(args: Value) -> Value {
    json!({"name": "scout", "arguments": args})
}

#[test]
fn sshd_killed_during_a_query_fails_it_and_the_next_call_reconnects() {
    let mut fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    let id = c.send_request(
        "tools/call",
        call_args(json!({"target": "alpha:/", "query": "sleep 3081; echo never"})),
    );
    assert!(wait_until(Duration::from_secs(10), || process_running(
        "sleep 3081"
    )));

    // The whole server dies: the per-connection processes, then the listener.
    fleet.sshd("alpha").drop_connections();
    fleet.sshd("alpha").stop();
    let response = c.recv_response(&id, LONG).expect("an answer");
    let text = tool_text(&response["result"]);
    assert_eq!(response["result"]["isError"], true, "{text}");
    assert!(text.contains("alpha"), "{text}");
    let _ = std::process::Command::new("pkill")
        .args(["-f", "sleep 3081"])
        .status();

    // While it is down: a clear connect error.
    let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
    assert!(is_error && text.contains("alpha: cannot connect"), "{text}");

    // Back up: the same scout-mcp reconnects.
    fleet.sshd("alpha").restart();
    let (text, is_error) = c.call_text(json!({"target": "alpha:/", "query": "echo back"}));
    assert_eq!((text.as_str(), is_error), ("back\n", false));
}

#[test]
fn a_frozen_host_times_out_while_other_hosts_are_served() {
    let mut fleet = Fleet::start(&["alpha", "beta"]);
    let file = fleet.write_remote_file("f.txt", b"fine\n");
    let env = [
        ("SCOUT_COMMAND_TIMEOUT", "2"),
        ("SCOUT_CONNECT_TIMEOUT", "2"),
    ];
    let mut c = scout_client(&fleet, &env);
    assert!(!c.call_text(json!({"target": "alpha:/"})).1, "warm alpha");

    fleet.sshd("alpha").freeze_all();
    let query = c.send_request(
        "tools/call",
        call_args(json!({"target": "alpha:/", "query": "ls -d /"})),
    );
    let read = c.send_request(
        "tools/call",
        call_args(json!({"target": format!("alpha:{}", file.display())})),
    );
    // beta answers while both alpha calls still hang.
    let (text, is_error) = c.call_text(json!({"target": format!("beta:{}", file.display())}));
    assert_eq!((text.as_str(), is_error), ("fine\n", false));
    let alpha_answered = c
        .stashed()
        .iter()
        .any(|m| m.get("id") == Some(&query) || m.get("id") == Some(&read));
    assert!(
        !alpha_answered,
        "alpha answered while frozen? {:?}",
        c.stashed()
    );

    for id in [query, read] {
        let response = c.recv_response(&id, LONG).expect("an answer");
        let text = tool_text(&response["result"]);
        assert_eq!(response["result"]["isError"], true, "{text}");
        assert!(
            text.contains("timed out") || text.contains("did not answer in time"),
            "{text}"
        );
    }
    // A new connection to the frozen host: the connect timeout.
    let mut fresh = scout_client(&fleet, &env);
    let (text, is_error) = fresh.call_text(json!({"target": "alpha:/"}));
    assert!(is_error && text.contains("SCOUT_CONNECT_TIMEOUT"), "{text}");

    fleet.sshd("alpha").thaw_all();
    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{}", file.display())}));
    assert_eq!((text.as_str(), is_error), ("fine\n", false));
}

/// A local address that drops SYNs like a blackholed host: a listener with a backlog of 0 whose
/// accept queue is already full (Linux then ignores new SYNs instead of refusing them). Returns
/// the port and what must stay alive.
fn blackhole() -> (u16, Vec<std::net::TcpStream>, i32) {
    use std::net::TcpStream;
    // SAFETY: plain socket calls on a descriptor we own; `addr` is a valid sockaddr_in.
    let (fd, port) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut blen = len;
        libc::getsockname(fd, (&mut bound as *mut libc::sockaddr_in).cast(), &mut blen);
        (fd, u16::from_be(bound.sin_port))
    };
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300))
        {
            Ok(s) => fillers.push(s),
            Err(_) => return (port, fillers, fd),
        }
    }
    panic!("the accept queue never filled up");
}

#[test]
fn an_unanswered_connect_fails_within_the_connect_timeout() {
    let fleet = Fleet::start(&["alpha"]);
    let (port, _fillers, fd) = blackhole();
    let mut config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    config.push_str(&format!(
        "Host blackhole\n  HostName 127.0.0.1\n  Port {port}\n  User {}\n",
        fleet.user
    ));
    std::fs::write(&fleet.ssh_config, config).unwrap();
    let mut c = scout_client(&fleet, &[("SCOUT_CONNECT_TIMEOUT", "2")]);
    let (text, is_error) = c.call_text(json!({"target": "blackhole:/"}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("blackhole: cannot connect")
            && text.contains("no answer from 127.0.0.1")
            && text.contains("within 2 s (SCOUT_CONNECT_TIMEOUT)"),
        "{text}"
    );
    assert!(!c.call_text(json!({"target": "alpha:/"})).1);
    // SAFETY: closing the listener we opened.
    unsafe { libc::close(fd) };
}

#[test]
fn a_gibibyte_of_output_is_capped_and_the_session_stays_usable() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[]);
    let result = c.call_tool_timeout(
        json!({"target": "alpha:/", "query": "head -c 1073741824 /dev/zero"}),
        LONG,
    );
    let text = tool_text(&result);
    assert!(
        text.contains("[output truncated: kept 1048576 of 1073741824 bytes of stdout"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    assert_eq!(result["structuredContent"]["exit_code"], 0);
    let (text, is_error) = c.call_text(json!({"target": "alpha:/", "query": "ls -d /"}));
    assert_eq!((text.as_str(), is_error), ("/\n", false));
    assert_eq!(fleet.hosts[0].1.log_count("Accepted publickey"), 1);
}
