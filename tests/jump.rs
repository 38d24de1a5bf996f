//! ProxyJump against real sshd (docs/BEHAVIOUR.md §5.5): hosts reached only through jump hosts, one
//! hop and a chain, one shared jump session, reaping, and the errors when the jump host refuses.
//!
//! Every sshd here listens on 127.0.0.1, so the proof that traffic really goes through the jump
//! host is the jump host's `PermitOpen`: with it allowing the target, the call works; with it
//! allowing anything else, the very same call fails with the jump host's refusal.

use crate::common;

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
    // Several commands on each host at once (a slow command keeps them busy together): they
    // share each host's connection (channels), and both connections share one jump session.
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
    for host in ["web", "db"] {
        assert!(
            fleet.sshd(host).log_count(ACCEPTED) >= 1,
            "{host} was reached"
        );
    }
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

/// Bytes that differ per position, so a reordered or dropped chunk shows.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4096 + seed) as u8).collect()
}

#[test]
fn concurrent_transfers_both_ways_through_one_jump_session_arrive_intact() {
    let mut fleet = Fleet::start(&["bastion", "inner"]);
    jump_via(&fleet, "inner", "bastion");
    let n = 8 << 20;
    let downs: Vec<_> = (0..2)
        .map(|i| fleet.write_remote_file(&format!("down{i}.bin"), &pattern(n, i)))
        .collect();
    let up = fleet.beam.join("up.bin");
    std::fs::write(&up, pattern(n, 9)).unwrap();
    let mut c = scout_client(&fleet, &[]);
    let mut ids = Vec::new();
    for (i, remote) in downs.iter().enumerate() {
        let local = fleet.beam.join(format!("got{i}.bin"));
        let args = json!({"target": format!("inner:{}", remote.display()),
                          "beam": local.display().to_string(), "beam_direction": "download"});
        ids.push(c.send_request("tools/call", json!({"name": "scout", "arguments": args})));
    }
    let landed = fleet.remote_root.join("landed.bin");
    let args = json!({"target": format!("inner:{}", landed.display()),
                      "beam": up.display().to_string(), "beam_direction": "upload"});
    ids.push(c.send_request("tools/call", json!({"name": "scout", "arguments": args})));
    for id in ids {
        let r = c
            .recv_response(&id, Duration::from_secs(120))
            .expect("an answer");
        assert_ne!(r["result"]["isError"], json!(true), "{r}");
    }
    for (i, remote) in downs.iter().enumerate() {
        let got = std::fs::read(fleet.beam.join(format!("got{i}.bin"))).unwrap();
        assert!(
            got == std::fs::read(remote).unwrap(),
            "download {i} differs"
        );
    }
    assert!(
        std::fs::read(&landed).unwrap() == std::fs::read(&up).unwrap(),
        "upload differs"
    );
    assert_eq!(fleet.sshd("bastion").log_count(ACCEPTED), 1);
}

#[test]
fn a_killed_jump_session_is_noticed_without_spinning_and_replaced() {
    let mut fleet = Fleet::start(&["bastion", "inner"]);
    jump_via(&fleet, "inner", "bastion");
    let mut c = scout_client(&fleet, &[("SCOUT_CONNECT_TIMEOUT", "3")]);
    assert!(!c.call_text(json!({"target": "inner:/"})).1);
    fleet.sshd("bastion").drop_connections();
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks(c.pid());
    std::thread::sleep(Duration::from_millis(1000));
    let used = cpu_ticks(c.pid()) - before;
    assert!(
        used < 30,
        "{used} ticks of CPU in 1 s after the jump session died"
    );
    let (text, is_error) = c.call_text(json!({"target": "inner:/"}));
    assert!(
        !is_error,
        "the next call reconnects through a new jump session: {text}"
    );
    assert_eq!(fleet.sshd("bastion").log_count(ACCEPTED), 2);
}

#[test]
fn a_frozen_jump_session_is_given_up_and_replaced() {
    let mut fleet = Fleet::start(&["bastion", "inner"]);
    jump_via(&fleet, "inner", "bastion");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_CONNECT_TIMEOUT", "2"),
            ("SCOUT_COMMAND_TIMEOUT", "3"),
            ("SCOUT_KEEPALIVE_INTERVAL", "1"),
        ],
    );
    assert!(!c.call_text(json!({"target": "inner:/"})).1);
    // The jump session's connection hangs (its sshd process frozen) while the bastion still
    // accepts new connections.
    fleet.sshd("bastion").freeze_all();
    fleet.sshd("bastion").thaw();
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        let (text, is_error) = c.call_text(json!({"target": "inner:/"}));
        outcomes.push((is_error, text.lines().next().unwrap_or("").to_string()));
        if !is_error {
            break;
        }
    }
    fleet.sshd("bastion").thaw_all();
    assert!(
        outcomes.last().is_some_and(|(e, _)| !e),
        "never recovered: {outcomes:?}"
    );
    assert!(
        outcomes.len() <= 3,
        "took too many failed calls: {outcomes:?}"
    );
    // At least one new jump session (on a loaded machine a 2 s connect may need a second try).
    assert!(
        fleet.sshd("bastion").log_count(ACCEPTED) >= 2,
        "a new jump session"
    );
}

/// A local address that drops SYNs (a listener with a full backlog of 0): the jump host's
/// connect to it hangs like one to a firewalled host.
fn black_hole() -> (std::net::TcpListener, Vec<std::net::TcpStream>, u16) {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) again with backlog 0 on our own socket.
    unsafe { libc::listen(listener.as_raw_fd(), 0) };
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    (listener, held, addr.port())
}

#[test]
fn an_unanswering_host_behind_a_bastion_does_not_block_the_others() {
    let fleet = Fleet::start(&["bastion", "inner"]);
    jump_via(&fleet, "inner", "bastion");
    let (_listener, _held, port) = black_hole();
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    // `inner2`: the same sshd as inner under another alias, not connected yet.
    let inner = config
        .split("\n\n")
        .find(|b| b.starts_with("Host inner\n"))
        .unwrap()
        .replace("Host inner\n", "Host inner2\n");
    std::fs::write(
        &fleet.ssh_config,
        format!(
            "{config}\n{inner}\n\nHost hole\n  HostName 127.0.0.1\n  Port {port}\n  User {}\n  ProxyJump bastion\n",
            fleet.user
        ),
    )
    .unwrap();
    let mut c = scout_client(&fleet, &[("SCOUT_CONNECT_TIMEOUT", "6")]);
    assert!(!c.call_text(json!({"target": "inner:/"})).1);
    let hole = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "hole:/"}}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let (text, is_error) = c.call_text(json!({"target": "inner2:/"}));
    assert!(!is_error, "inner2 waited behind the hung open: {text}");
    let hole = c
        .recv_response(&hole, Duration::from_secs(30))
        .expect("an answer");
    assert_eq!(hole["result"]["isError"], true, "{hole}");
}

#[test]
fn a_looping_proxyjump_is_reported_not_probed_or_connected() {
    let fleet = Fleet::start(&["alpha"]);
    let mut config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    config.push_str("Host loop1\n  ProxyJump loop2\nHost loop2\n  ProxyJump loop1\n");
    std::fs::write(&fleet.ssh_config, config).unwrap();
    let mut c = scout_client(&fleet, &[]);
    let (text, _) = c.call_text(json!({"target": "hosts"}));
    let line = text
        .lines()
        .find(|l| l.starts_with("loop1"))
        .unwrap_or_default();
    assert!(
        line.contains("unreachable") && line.contains("nest more than"),
        "{text}"
    );
    let (text, is_error) = c.call_text(json!({"target": "loop1:/"}));
    assert!(
        is_error && text.contains("Fix ProxyJump in ssh_config"),
        "{text}"
    );
}

#[test]
fn a_lingering_jump_session_idle_for_many_keepalives_is_reused() {
    let mut fleet = Fleet::start(&["bastion", "inner"]);
    jump_via(&fleet, "inner", "bastion");
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_IDLE_TIMEOUT", "8"),
            ("SCOUT_KEEPALIVE_INTERVAL", "1"),
        ],
    );
    assert!(!c.call_text(json!({"target": "inner:/"})).1);
    // The reaper closes inner's session; the jump session then lingers without tunnels.
    assert!(fleet
        .sshd("inner")
        .wait_log_count("scout-mcp closing", 1, Duration::from_secs(20)));
    // Longer than three keepalive intervals, shorter than the linger.
    std::thread::sleep(Duration::from_millis(4000));
    let (text, is_error) = c.call_text(json!({"target": "inner:/"}));
    assert!(!is_error, "{text}");
    assert_eq!(
        fleet.sshd("bastion").log_count(ACCEPTED),
        1,
        "the idle jump session was reused, not mistaken for a silent one"
    );
}
