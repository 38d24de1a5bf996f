//! The pool at fleet scale (docs/ARCHITECTURE.md, "Connections and channels"): many hosts
//! stay warm between broadcasts with default settings, a burst's extra connections are closed
//! sooner than a host's last one, command-only broadcasts start no SFTP server, the open-file
//! limit is raised at start and sizes the pool, and no failure to read known_hosts ever
//! advises weaker host-key checking. Aliases are spread over a few real sshd servers.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::load::established;
use common::mcp::McpClient;
use common::{scout_bin, scout_client, wait_until, Fleet};
use serde_json::{json, Value};

const ACCEPTED: &str = "Accepted publickey";
const SFTP_STARTED: &str = "subsystem 'sftp'";

fn logins(fleet: &Fleet) -> usize {
    fleet.hosts.iter().map(|(_, s)| s.log_count(ACCEPTED)).sum()
}

fn sftp_starts(fleet: &Fleet) -> usize {
    fleet
        .hosts
        .iter()
        .map(|(_, s)| s.log_count(SFTP_STARTED))
        .sum()
}

fn targets(fleet: &Fleet, aliases: &[String]) -> Vec<String> {
    let dir = fleet.remote_root.display().to_string();
    aliases.iter().map(|a| format!("{a}:{dir}")).collect()
}

/// scout-mcp started through `sh -c "SHELL_PREFIX; exec scout-mcp"`, initialized.
fn scout_under_shell(fleet: &Fleet, shell_prefix: &str, extra: &[(&str, &str)]) -> McpClient {
    let mut env = fleet.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let script = format!("{shell_prefix} && exec \"$0\"");
    let bin = scout_bin();
    let bin = bin.to_str().expect("utf-8 binary path");
    let mut client = McpClient::spawn(Path::new("/bin/sh"), &["-c", &script, bin], &env);
    client.initialize();
    client
}

fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line")
        .to_string();
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_string(), fields[4].to_string())
}

fn broadcast(c: &mut McpClient, targets: &[String], query: Option<&str>) -> Value {
    let mut args = json!({ "targets": targets });
    if let Some(q) = query {
        args["query"] = json!(q);
    }
    c.call_tool_timeout(args, Duration::from_secs(120))
}

fn assert_all_succeeded(result: &Value, n: usize) {
    let s = &result["structuredContent"];
    assert_eq!(s["total"], json!(n), "{result}");
    assert_eq!(s["succeeded"], json!(n), "{result}");
}

#[test]
fn a_second_broadcast_to_150_hosts_opens_no_connection_and_starts_no_sftp_server() {
    let fleet = Fleet::start(&["s0", "s1", "s2"]);
    fleet.write_remote_file("hello.txt", b"hello\n");
    let aliases = fleet.add_aliases("web", 150);
    let targets = targets(&fleet, &aliases);
    let mut c = scout_client(&fleet, &[]);
    let first = broadcast(&mut c, &targets, Some("cat hello.txt"));
    assert_all_succeeded(&first, 150);
    let after_first = logins(&fleet);
    let why = || {
        c.stderr_text()
            .lines()
            .filter(|l| {
                !l.contains("connection closed") && !l.contains("DEBUG scout_mcp::ssh::mux")
            })
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(after_first, 150, "one connection per host\n{}", why());
    let second = broadcast(&mut c, &targets, Some("cat hello.txt"));
    assert_all_succeeded(&second, 150);
    assert_eq!(
        logins(&fleet),
        after_first,
        "the second broadcast connected again"
    );
    assert_eq!(
        sftp_starts(&fleet),
        0,
        "a command-only broadcast started SFTP servers"
    );
    // A directory that is not there is still a clear error, explained over SFTP.
    let missing = format!("web000:{}/nowhere", fleet.remote_root.display());
    let (text, _) = c.call_text(json!({"targets": [missing], "query": "ls"}));
    assert!(
        text.to_lowercase().contains("no such file"),
        "not explained: {text}"
    );
    let file = format!("web001:{}/hello.txt", fleet.remote_root.display());
    let (text, _) = c.call_text(json!({"targets": [file], "query": "ls"}));
    assert!(text.contains("not a directory"), "{text}");
}

#[test]
fn a_bursts_extra_connections_close_early_and_the_last_one_stays_warm() {
    let fleet = Fleet::start(&["h"]);
    let port = fleet.port("h");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_IDLE_TIMEOUT", "20"),
        ],
    );
    let dir = format!("h:{}", fleet.remote_root.display());
    // 24 commands at once need more channels than one connection carries (MaxSessions 10).
    let ids: Vec<Value> = (0..24)
        .map(|_| {
            c.send_request(
                "tools/call",
                json!({"name": "scout", "arguments": {"target": dir, "query": "sleep 1"}}),
            )
        })
        .collect();
    for id in &ids {
        let r = c
            .recv_response(id, Duration::from_secs(60))
            .expect("an answer");
        assert_eq!(
            r["result"]["structuredContent"]["exit_code"],
            json!(0),
            "{r}"
        );
    }
    let burst = established(&[port])[&port];
    assert!(burst >= 2, "the burst used {burst} connections");
    // Extra connections close after a tenth of the idle timeout (2 s; the reaper looks every 5 s).
    let idle_since = Instant::now();
    assert!(
        wait_until(Duration::from_secs(12), || established(&[port])[&port] == 1),
        "still {} connections",
        established(&[port])[&port]
    );
    // The last one stays for the idle timeout itself.
    let until = idle_since + Duration::from_secs(14);
    while Instant::now() < until {
        assert_eq!(
            established(&[port])[&port],
            1,
            "the last connection closed early"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let before = fleet.hosts[0].1.log_count(ACCEPTED);
    let (text, is_error) = c.call_text(json!({"target": dir, "query": "true"}));
    assert!(!is_error, "{text}");
    assert_eq!(fleet.hosts[0].1.log_count(ACCEPTED), before, "not warm");
}

#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
    let fleet = Fleet::start(&["h"]);
    let (_, hard) = open_file_limits(std::process::id());
    if hard == "256" {
        panic!("this test needs a hard open-file limit above 256");
    }
    let c = scout_under_shell(&fleet, "ulimit -S -n 256", &[]);
    let (soft, hard_then) = open_file_limits(c.pid());
    assert_eq!(soft, hard_then, "soft limit not raised");
    assert_ne!(soft, "256");
}

#[test]
fn a_low_open_file_limit_shrinks_the_pool_and_every_host_still_answers() {
    let fleet = Fleet::start(&["s0", "s1"]);
    fleet.write_remote_file("hello.txt", b"hello\n");
    let aliases = fleet.add_aliases("db", 40);
    let targets = targets(&fleet, &aliases);
    // 200 descriptors leave room for (200 - 128) / 4 = 18 connections.
    let mut c = scout_under_shell(&fleet, "ulimit -n 200", &[]);
    let result = broadcast(&mut c, &targets, Some("cat hello.txt"));
    assert_all_succeeded(&result, 40);
    let files: Vec<String> = targets.iter().map(|t| format!("{t}/hello.txt")).collect();
    let result = broadcast(&mut c, &files, None);
    assert_all_succeeded(&result, 40);
    let text = result.to_string();
    assert!(!text.contains("accept-new"), "{text}");
    assert!(
        c.wait_stderr("lowered to 18", Duration::from_secs(10)),
        "{}",
        c.stderr_tail()
    );
}

#[test]
fn a_known_hosts_file_that_cannot_be_read_refuses_without_advising_accept_new() {
    let fleet = Fleet::start(&["h"]);
    let unreadable = fleet.dir.join("known_hosts_is_a_directory");
    std::fs::create_dir(&unreadable).unwrap();
    let path = unreadable.display().to_string();
    for mode in ["yes", "accept-new", "no"] {
        let mut c = scout_client(
            &fleet,
            &[
                ("SCOUT_KNOWN_HOSTS", &path),
                ("SCOUT_STRICT_HOST_KEY_CHECKING", mode),
            ],
        );
        let (text, is_error) =
            c.call_text(json!({"target": format!("h:{}", fleet.remote_root.display())}));
        assert!(is_error, "{mode}: {text}");
        assert!(text.contains("cannot read known_hosts"), "{mode}: {text}");
        assert!(!text.contains("accept-new"), "{mode}: {text}");
    }
    assert_eq!(std::fs::read_dir(&unreadable).unwrap().count(), 0);
}
