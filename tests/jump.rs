//! ProxyJump against real sshd (SPEC §5): hosts reached only through jump hosts, one hop and a
//! chain, one shared jump session, reaping, and the errors when the jump host refuses.
//!
//! Every sshd here listens on 127.0.0.1, so the proof that traffic really goes through the jump
//! host is the jump host's `PermitOpen`: with it allowing the target, the call works; with it
//! allowing anything else, the very same call fails with the jump host's refusal.

mod common;

use std::time::Duration;

use common::{scout_client, Fleet};
use serde_json::json;

const ACCEPTED: &str = "Accepted publickey";

/// Adds `ProxyJump spec` to `alias`'s block of the fleet's ssh_config.
fn jump_via(fleet: &Fleet, alias: &str, spec: &str) {
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    let header = format!("Host {alias}\n");
    assert!(config.contains(&header), "{config}");
    let config = config.replace(&header, &format!("{header}  ProxyJump {spec}\n"));
    std::fs::write(&fleet.ssh_config, config).unwrap();
}

/// Restarts `alias`'s sshd allowing `direct-tcpip` only to `targets` (`host:port`).
fn permit_open(fleet: &mut Fleet, alias: &str, targets: &str) {
    let sshd = fleet.sshd(alias);
    let config = std::fs::read_to_string(sshd.config_path()).unwrap();
    std::fs::write(
        sshd.config_path(),
        format!("PermitOpen {targets}\n{config}"),
    )
    .unwrap();
    sshd.restart();
}

#[test]
fn a_host_behind_a_jump_host_is_reached_only_through_it() {
    let mut fleet = Fleet::start(&["bastion", "inner"]);
    let file = fleet.write_remote_file("behind.txt", b"reached through the bastion\n");
    jump_via(&fleet, "inner", "bastion");
    let inner = format!("127.0.0.1:{}", fleet.port("inner"));
    permit_open(&mut fleet, "bastion", &inner);

    let mut c = scout_client(&fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": format!("inner:{}", file.display())}));
    assert!(!is_error, "{text}");
    assert!(text.contains("reached through the bastion"), "{text}");
    assert_eq!(fleet.sshd("bastion").log_count(ACCEPTED), 1);
    assert_eq!(fleet.sshd("inner").log_count(ACCEPTED), 1);
    // The host list probes a jumped host at its jump host, and says so.
    let (text, _) = c.call_text(json!({"target": "hosts"}));
    let line = text
        .lines()
        .find(|l| l.starts_with("inner"))
        .unwrap_or_default();
    assert!(line.contains("reachable via jump host bastion"), "{text}");
    drop(c);

    // The same call with the bastion forbidding that destination: refused by the bastion.
    permit_open(&mut fleet, "bastion", "127.0.0.1:1");
    let mut c = scout_client(&fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": format!("inner:{}", file.display())}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("jump host bastion could not open a connection to 127.0.0.1")
            && text.contains("PermitOpen"),
        "{text}"
    );
    assert_eq!(
        fleet.sshd("inner").log_count(ACCEPTED),
        1,
        "no direct login"
    );
}

#[test]
fn a_chain_of_two_jump_hosts_is_followed_in_order() {
    let mut fleet = Fleet::start(&["edge", "middle", "inner"]);
    let file = fleet.write_remote_file("deep.txt", b"two hops deep\n");
    jump_via(&fleet, "inner", "edge,middle");
    let middle = format!("127.0.0.1:{}", fleet.port("middle"));
    let inner = format!("127.0.0.1:{}", fleet.port("inner"));
    // edge may only reach middle, middle only inner: nothing else can work.
    permit_open(&mut fleet, "edge", &middle);
    permit_open(&mut fleet, "middle", &inner);

    let mut c = scout_client(&fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": format!("inner:{}", file.display())}));
    assert!(!is_error, "{text}");
    assert!(text.contains("two hops deep"), "{text}");
    let (text, is_error) =
        c.call_text(json!({"target": "inner:/", "query": format!("wc -c {}", file.display())}));
    assert!(!is_error && text.contains("14 "), "{text}");
    for alias in ["edge", "middle", "inner"] {
        assert_eq!(fleet.sshd(alias).log_count(ACCEPTED), 1, "{alias}");
    }
}

#[test]
fn hosts_behind_one_jump_host_share_one_jump_session_which_is_reaped_when_idle() {
    let mut fleet = Fleet::start(&["bastion", "web", "db"]);
    let file = fleet.write_remote_file("shared.txt", b"x\n");
    jump_via(&fleet, "web", "bastion");
    jump_via(&fleet, "db", "bastion");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_IDLE_TIMEOUT", "2"),
            ("SCOUT_COMMAND_POLICY", "shell"),
        ],
    );
    // Several sessions to each host at once (a slow command keeps them busy together).
    let ids: Vec<_> = (0..6)
        .map(|i| {
            let host = if i % 2 == 0 { "web" } else { "db" };
            let args = json!({"target": format!("{host}:/"), "query": "sleep 0.5; echo done"});
            c.send_request("tools/call", json!({"name": "scout", "arguments": args}))
        })
        .collect();
    for id in ids {
        let response = c
            .recv_response(&id, Duration::from_secs(30))
            .expect("an answer");
        let text = common::tool_text(&response["result"]);
        assert!(text.contains("done"), "{response}");
    }
    let (text, is_error) = c.call_text(json!({"target": format!("web:{}", file.display())}));
    assert!(!is_error, "{text}");
    assert!(
        fleet.sshd("web").log_count(ACCEPTED) >= 2,
        "web used several sessions"
    );
    assert_eq!(
        fleet.sshd("bastion").log_count(ACCEPTED),
        1,
        "one jump session for all"
    );
    // Idle tunnels cost no CPU: the hub sleeps in poll(2) (a busy loop would burn a core).
    let before = cpu_ticks(c.pid());
    std::thread::sleep(Duration::from_millis(1000));
    let used = cpu_ticks(c.pid()) - before;
    assert!(
        used < 30,
        "scout-mcp used {used} ticks of CPU in 1 s while idle"
    );

    // Idle: the reaper closes web's and db's sessions, then the hub closes the jump session.
    assert!(
        fleet.sshd("bastion").wait_log_count(
            "scout-mcp closing jump session",
            1,
            Duration::from_secs(15)
        ),
        "{}",
        fleet.sshd("bastion").log_text()
    );
    // And a later call opens a new one.
    let (text, is_error) = c.call_text(json!({"target": format!("db:{}", file.display())}));
    assert!(!is_error, "{text}");
    assert_eq!(fleet.sshd("bastion").log_count(ACCEPTED), 2);
}

#[test]
fn a_dead_jump_host_fails_the_host_behind_it_clearly() {
    let mut fleet = Fleet::start(&["bastion", "inner"]);
    jump_via(&fleet, "inner", "bastion");
    fleet.sshd("bastion").stop();
    let mut c = scout_client(&fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": "inner:/"}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("inner: cannot connect: via jump host bastion")
            && text.contains("Is sshd running there"),
        "{text}"
    );
}

/// utime + stime of a process, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}
