//! Sessions and the pool against real sshd (docs/BEHAVIOUR.md §5, §6): caps, reuse, retry, reaping,
//! eviction, dead hosts, host keys, authentication.

use crate::common;

use std::io::Write;
use std::time::Duration;

use common::{scout_client, tool_text, Fleet};
use serde_json::{json, Value};

const ACCEPTED: &str = "Accepted publickey";

/// A fresh ed25519 key pair in the fleet's directory; returns the private key's path.
fn keygen(fleet: &Fleet, name: &str) -> std::path::PathBuf {
    let path = fleet.dir.join(name);
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success(), "ssh-keygen failed");
    path
}

#[test]
fn hundred_concurrent_reads_share_at_most_max_sessions_per_host() {
    let fleet = Fleet::start(&["alpha"]);
    let file = fleet.write_remote_file("f.txt", b"pooled\n");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_WORKERS", "16"),
            ("SCOUT_MAX_SESSIONS_PER_HOST", "3"),
        ],
    );
    let ids: Vec<Value> = (0..100)
        .map(|_| c.send_request("tools/call", json!({"name": "scout", "arguments": {"target": format!("alpha:{}", file.display())}})))
        .collect();
    for id in &ids {
        let r = c
            .recv_response(id, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("no answer for {id}"));
        assert_eq!(&r["id"], id);
        assert_eq!(tool_text(&r["result"]), "pooled\n", "{r}");
    }
    let sessions = fleet.hosts[0].1.log_count(ACCEPTED);
    assert!(
        (1..=3).contains(&sessions),
        "{sessions} sessions opened for a cap of 3"
    );
    c.assert_stdout_all_json();
}

#[test]
fn warm_calls_reuse_one_session() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[]);
    for _ in 0..20 {
        let (_, is_error) = c.call_text(json!({"target": "alpha:/", "query": "ls -d ."}));
        assert!(!is_error);
    }
    assert_eq!(fleet.hosts[0].1.log_count(ACCEPTED), 1);
}

#[test]
fn a_dead_host_fails_clearly_and_does_not_block_others() {
    let fleet = Fleet::start(&["alpha"]);
    let closed_port = common::sshd::free_port();
    let mut cfg = std::fs::OpenOptions::new()
        .append(true)
        .open(&fleet.ssh_config)
        .unwrap();
    writeln!(
        cfg,
        "Host dead\n  HostName 127.0.0.1\n  Port {closed_port}\n  User {}",
        fleet.user
    )
    .unwrap();
    let mut c = scout_client(&fleet, &[("SCOUT_CONNECT_TIMEOUT", "3")]);
    let dead = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "dead:/", "query": "ls"}}),
    );
    let live = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": "ls -d /"}}),
    );
    let live = c
        .recv_response(&live, Duration::from_secs(20))
        .expect("live host answered");
    assert_eq!(tool_text(&live["result"]), "/\n");
    let dead = c
        .recv_response(&dead, Duration::from_secs(20))
        .expect("dead host answered");
    let text = tool_text(&dead["result"]);
    assert_eq!(dead["result"]["isError"], true);
    assert!(
        text.contains("dead: cannot connect") && text.contains("refused"),
        "{text}"
    );
}

#[test]
fn a_pooled_session_killed_by_the_server_is_replaced_transparently() {
    let fleet = Fleet::start(&["alpha"]);
    let file = fleet.write_remote_file("f.txt", b"again\n");
    let mut c = scout_client(&fleet, &[]);
    let target = format!("alpha:{}", file.display());
    assert_eq!(c.call_text(json!({"target": target})).0, "again\n");
    fleet.hosts[0].1.drop_connections();
    // The next read finds its pooled session dead, drops it and retries on a fresh one.
    let (text, is_error) = c.call_text(json!({"target": target}));
    assert!(!is_error, "{text}");
    assert_eq!(text, "again\n");
    let (text, is_error) = c.call_text(json!({"target": "alpha:/", "query": "ls -d /"}));
    assert!(!is_error, "{text}");
    assert_eq!(fleet.hosts[0].1.log_count(ACCEPTED), 2);
}

#[test]
fn the_reaper_closes_idle_sessions() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[("SCOUT_IDLE_TIMEOUT", "1")]);
    assert!(!c.call_text(json!({"target": "alpha:/"})).1);
    let sshd = &fleet.hosts[0].1;
    assert!(
        sshd.wait_log_count("scout-mcp closing", 1, Duration::from_secs(10)),
        "no polite disconnect of the idle session:\n{}",
        sshd.log_text()
    );
    // And a later call simply reconnects.
    assert!(!c.call_text(json!({"target": "alpha:/"})).1);
    assert_eq!(sshd.log_count(ACCEPTED), 2);
}

#[test]
fn the_global_cap_evicts_the_least_recently_used_idle_session() {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let mut c = scout_client(&fleet, &[("SCOUT_MAX_POOL_SIZE", "1")]);
    assert!(!c.call_text(json!({"target": "alpha:/"})).1);
    assert!(!c.call_text(json!({"target": "beta:/"})).1);
    let alpha = &fleet.hosts[0].1;
    assert!(
        alpha.wait_log_count("scout-mcp closing", 1, Duration::from_secs(5)),
        "alpha's idle session was not evicted:\n{}",
        alpha.log_text()
    );
}

#[test]
fn unknown_host_keys_are_refused_with_the_fix_and_accept_new_records_them() {
    let fleet = Fleet::start(&["alpha"]);
    let empty = fleet.dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let kh = empty.display().to_string();
    let mut c = scout_client(&fleet, &[("SCOUT_KNOWN_HOSTS", &kh)]);
    let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("not in known_hosts")
            && text.contains("ssh-keyscan -p")
            && text.contains("SHA256:"),
        "{text}"
    );

    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_KNOWN_HOSTS", &kh),
            ("SCOUT_STRICT_HOST_KEY_CHECKING", "accept-new"),
        ],
    );
    assert!(!c.call_text(json!({"target": "alpha:/"})).1);
    let recorded = std::fs::read_to_string(&empty).unwrap();
    assert!(
        recorded.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", fleet.port("alpha"))),
        "{recorded}"
    );
    // Recorded once: a second connection matches and appends nothing.
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_KNOWN_HOSTS", &kh),
            ("SCOUT_STRICT_HOST_KEY_CHECKING", "yes"),
        ],
    );
    assert!(!c.call_text(json!({"target": "alpha:/"})).1);
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), recorded);
}

#[test]
fn a_changed_host_key_is_always_refused() {
    let fleet = Fleet::start(&["alpha"]);
    let other = keygen(&fleet, "other_key");
    let pubkey = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key: Vec<&str> = pubkey.split_whitespace().take(2).collect();
    let wrong = fleet.dir.join("wrong_known_hosts");
    std::fs::write(
        &wrong,
        format!(
            "[127.0.0.1]:{} {} {}\n",
            fleet.port("alpha"),
            key[0],
            key[1]
        ),
    )
    .unwrap();
    for mode in ["yes", "accept-new", "no"] {
        let mut c = scout_client(
            &fleet,
            &[
                ("SCOUT_KNOWN_HOSTS", &wrong.display().to_string()),
                ("SCOUT_STRICT_HOST_KEY_CHECKING", mode),
            ],
        );
        let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
        assert!(is_error, "{mode}: {text}");
        assert!(
            text.contains("HOST KEY CHANGED") && text.contains("ssh-keygen -R"),
            "{mode}: {text}"
        );
    }
}

#[test]
fn a_rejected_key_names_the_host_and_what_to_do() {
    let fleet = Fleet::start(&["alpha"]);
    let stranger = keygen(&fleet, "stranger");
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    let swapped = config.replace(
        &fleet.client_key.display().to_string(),
        &stranger.display().to_string(),
    );
    std::fs::write(&fleet.ssh_config, swapped).unwrap();
    let mut c = scout_client(&fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("alpha: authentication failed") && text.contains("authorized_keys"),
        "{text}"
    );
}

#[test]
fn a_hosts_connect_timeout_in_ssh_config_wins_over_the_default() {
    let mut fleet = Fleet::start(&["alpha"]);
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    std::fs::write(
        &fleet.ssh_config,
        config.replace("Host alpha\n", "Host alpha\n  ConnectTimeout 1\n"),
    )
    .unwrap();
    // Frozen: the kernel still accepts the TCP connection, the SSH handshake never answers.
    fleet.sshd("alpha").freeze();
    let mut c = scout_client(&fleet, &[("SCOUT_CONNECT_TIMEOUT", "60")]);
    let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
    fleet.sshd("alpha").thaw();
    assert!(is_error, "{text}");
    assert!(
        text.contains("(ConnectTimeout in ssh_config)") && text.contains("1.0 s"),
        "{text}"
    );
}
