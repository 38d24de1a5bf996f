//! The connection doctor against real sshd: `scout-mcp check [HOST…]` and the `hosts` mode's
//! `check` parameter — every stage timed, the fix named for each kind of failure.

use crate::common;

use std::process::Command;

use common::{scout_bin, scout_client_in, Era, Fleet};
use serde_json::json;

fn check_cli(fleet: &Fleet, args: &[&str], extra: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(scout_bin())
        .arg("check")
        .args(args)
        .envs(fleet.env())
        .envs(extra.iter().copied())
        .output()
        .expect("run scout-mcp check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Adds a `Host` block to the fleet's ssh_config.
fn add_host(fleet: &Fleet, block: &str) {
    let mut config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    config.push_str(block);
    std::fs::write(&fleet.ssh_config, config).unwrap();
}

#[test]
fn a_healthy_host_passes_every_stage_and_a_host_behind_a_jump_host_shows_the_tunnel() {
    let fleet = Fleet::start(&["alpha", "inner"]);
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    std::fs::write(
        &fleet.ssh_config,
        config.replace("Host inner\n", "Host inner\n  ProxyJump alpha\n"),
    )
    .unwrap();

    let (code, out, err) = check_cli(&fleet, &[], &[]);
    assert_eq!(code, 0, "{out}{err}");
    for stage in [
        "resolve",
        "tcp",
        "handshake",
        "host key",
        "auth",
        "sftp",
        "exec",
    ] {
        assert!(out.contains(&format!("ok   {stage} ")), "{stage}: {out}");
    }
    assert!(
        out.contains("alpha: OK") && out.contains("inner: OK"),
        "{out}"
    );
    assert!(out.contains("matches known_hosts"), "{out}");
    assert!(
        out.contains(&format!(
            "publickey as {}: {}",
            fleet.user,
            fleet.client_key.display()
        )),
        "{out}"
    );
    let jump = format!("{}@127.0.0.1:{}", fleet.user, fleet.port("alpha"));
    assert!(
        out.contains(&format!("proxyjump             {jump}")),
        "{out}"
    );
    assert!(
        out.contains("ok   tunnel") && out.contains("via alpha (direct-tcpip"),
        "{out}"
    );
    assert!(
        out.contains("`true` exited 0") && out.contains("2/2 host(s) OK"),
        "{out}"
    );
}

#[test]
fn each_failure_names_its_stage_and_its_fix() {
    let mut fleet = Fleet::start(&["alpha", "stopped"]);
    fleet.sshd("stopped").stop();
    add_host(
        &fleet,
        "Host unresolvable\n  HostName no-such-host.invalid\n\n",
    );
    let stranger = fleet.dir.join("stranger");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(status.success());
    add_host(
        &fleet,
        &format!(
            "Host nokey\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n\n",
            fleet.port("alpha"),
            fleet.user,
            stranger.display(),
            fleet.known_hosts.display()
        ),
    );

    let (code, out, err) = check_cli(&fleet, &["stopped", "unresolvable", "nokey"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    let section = |alias: &str| {
        let start = out
            .find(&format!("{alias}: "))
            .unwrap_or_else(|| panic!("{alias}: {out}"));
        out[start..].split("\n\n").next().unwrap().to_string()
    };
    let stopped = section("stopped");
    assert!(
        stopped.contains("FAILED at tcp") && stopped.contains("fix: start sshd on 127.0.0.1:"),
        "{stopped}"
    );
    let unresolvable = section("unresolvable");
    assert!(
        unresolvable.contains("FAILED at resolve")
            && unresolvable.contains("fix: make 'no-such-host.invalid' resolvable"),
        "{unresolvable}"
    );
    let nokey = section("nokey");
    assert!(
        nokey.contains("ok   host key")
            && nokey.contains("FAILED at auth")
            && nokey.contains("fix: authorize your public key"),
        "{nokey}"
    );
    assert!(out.contains("0/3 host(s) OK"), "{out}");

    // An unknown host key: the fix is the command to record it.
    let empty = fleet.dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let kh = empty.display().to_string();
    let (code, out, _) = check_cli(&fleet, &["alpha"], &[("SCOUT_KNOWN_HOSTS", &kh)]);
    assert_eq!(code, 1);
    assert!(
        out.contains("FAILED at host key") && out.contains("fix: run `ssh-keyscan -p"),
        "{out}"
    );

    let (code, _, err) = check_cli(&fleet, &["nosuch"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown host 'nosuch'"), "{err}");
}

fn agents_get_the_same_check_through_the_hosts_mode(era: Era) {
    let mut fleet = Fleet::start(&["alpha", "beta"]);
    fleet.sshd("beta").stop();
    let mut c = scout_client_in(era, &fleet, &[]);

    let result = c.call_tool(json!({"target": "hosts", "check": true}));
    assert_ne!(result["isError"], json!(true), "{result}");
    let hosts = result["structuredContent"]["hosts"].as_array().unwrap();
    assert_eq!(result["structuredContent"]["mode"], "check");
    assert_eq!(hosts.len(), 2);
    let alpha = &hosts[0];
    assert_eq!(alpha["alias"], "alpha");
    assert_eq!(alpha["ok"], true);
    assert_eq!(alpha["settings"]["port"], fleet.port("alpha").to_string());
    let stages: Vec<&str> = alpha["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "resolve",
            "tcp",
            "handshake",
            "host key",
            "auth",
            "sftp",
            "exec"
        ]
    );
    let beta = &hosts[1];
    assert_eq!(beta["ok"], false);
    assert!(
        beta["fix"].as_str().unwrap().contains("start sshd"),
        "{beta}"
    );

    let (text, is_error) = c.call_text(json!({"target": "hosts", "check": "beta"}));
    assert!(
        !is_error && text.contains("beta: FAILED at tcp") && !text.contains("alpha"),
        "{text}"
    );
    let (text, is_error) = c.call_text(json!({"target": "hosts", "check": 3}));
    assert!(is_error && text.contains("'check' must be true"), "{text}");
    let (text, is_error) = c.call_text(json!({"target": "alpha:/", "check": true}));
    assert!(
        is_error && text.contains("goes with target \"hosts\""),
        "{text}"
    );
    let (text, is_error) = c.call_text(json!({"target": "hosts", "check": ["ghost"]}));
    assert!(is_error && text.contains("unknown host 'ghost'"), "{text}");
}

in_both_eras!(agents_get_the_same_check_through_the_hosts_mode);
