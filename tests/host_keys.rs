//! Host key verification against real sshd (docs/BEHAVIOUR.md §5.4), beyond the unknown/changed
//! cases of `sessions.rs`: hashed known_hosts entries, `@revoked`, `StrictHostKeyChecking no`, the
//! ssh_config's own `StrictHostKeyChecking`/`UserKnownHostsFile`, and a key that changes between
//! two calls of one running server.

use crate::common;

use std::path::PathBuf;

use common::{scout_client, Fleet};
use serde_json::json;

/// The fleet's known_hosts line for `alias`, e.g. `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
fn known_line(fleet: &Fleet, alias: &str) -> String {
    let port = fleet.port(alias);
    std::fs::read_to_string(&fleet.known_hosts)
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("[127.0.0.1]:{port} ")))
        .expect("fleet known_hosts has the host")
        .to_string()
}

fn write(fleet: &Fleet, name: &str, text: &str) -> PathBuf {
    let path = fleet.dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn read_root(fleet: &Fleet, env: &[(&str, &str)]) -> (String, bool) {
    let mut c = scout_client(fleet, env);
    c.call_text(json!({"target": "alpha:/"}))
}

#[test]
fn hashed_known_hosts_entries_are_understood() {
    let fleet = Fleet::start(&["alpha"]);
    let file = write(
        &fleet,
        "hashed",
        &format!("{}\n", known_line(&fleet, "alpha")),
    );
    let out = std::process::Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let hashed = std::fs::read_to_string(&file).unwrap();
    assert!(
        hashed.starts_with("|1|") && !hashed.contains("127.0.0.1"),
        "{hashed}"
    );

    let path = file.display().to_string();
    let (text, is_error) = read_root(&fleet, &[("SCOUT_KNOWN_HOSTS", &path)]);
    assert!(!is_error, "{text}");
}

#[test]
fn a_revoked_key_is_refused_even_when_also_listed_as_known() {
    let fleet = Fleet::start(&["alpha"]);
    let line = known_line(&fleet, "alpha");
    let file = write(&fleet, "revoked", &format!("{line}\n@revoked {line}\n"));
    let path = file.display().to_string();
    for mode in ["yes", "accept-new", "no"] {
        let (text, is_error) = read_root(
            &fleet,
            &[
                ("SCOUT_KNOWN_HOSTS", &path),
                ("SCOUT_STRICT_HOST_KEY_CHECKING", mode),
            ],
        );
        assert!(is_error, "{mode}: {text}");
        assert!(text.contains("marked @revoked"), "{mode}: {text}");
    }
}

#[test]
fn strict_checking_off_accepts_an_unknown_key_without_recording_it() {
    let fleet = Fleet::start(&["alpha"]);
    let empty = write(&fleet, "empty", "");
    let path = empty.display().to_string();
    let (text, is_error) = read_root(
        &fleet,
        &[
            ("SCOUT_KNOWN_HOSTS", &path),
            ("SCOUT_STRICT_HOST_KEY_CHECKING", "no"),
        ],
    );
    assert!(!is_error, "{text}");
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");
}

#[test]
fn ssh_config_decides_known_hosts_and_strictness_when_scout_variables_are_unset() {
    let fleet = Fleet::start(&["alpha"]);
    let recorded = fleet.dir.join("from-config-known-hosts");
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    let config = config.replace(
        &format!("UserKnownHostsFile {}", fleet.known_hosts.display()),
        &format!(
            "UserKnownHostsFile {}\n  StrictHostKeyChecking accept-new",
            recorded.display()
        ),
    );
    std::fs::write(&fleet.ssh_config, config).unwrap();
    // fleet.env() sets SCOUT_KNOWN_HOSTS; an empty value means unset.
    let (text, is_error) = read_root(&fleet, &[("SCOUT_KNOWN_HOSTS", "")]);
    assert!(!is_error, "{text}");
    let written = std::fs::read_to_string(&recorded).expect("accept-new wrote the file");
    assert!(
        written.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", fleet.port("alpha"))),
        "{written}"
    );
}

#[test]
fn a_host_key_that_changes_between_two_calls_is_refused_with_the_fix() {
    let mut fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
    assert!(!is_error, "{text}");

    // The host is "reinstalled": a new host key, sshd restarted (its sessions die with it).
    let key = fleet.dir.join("sshd-0-alpha/host_ed25519");
    std::fs::remove_file(&key).unwrap();
    std::fs::remove_file(key.with_extension("pub")).unwrap();
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    fleet.sshd("alpha").restart();

    let (text, is_error) = c.call_text(json!({"target": "alpha:/"}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("HOST KEY CHANGED")
            && text.contains(&format!(
                "ssh-keygen -R '[127.0.0.1]:{}' -f {}",
                fleet.port("alpha"),
                fleet.known_hosts.display()
            )),
        "{text}"
    );
}
