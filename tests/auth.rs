//! Authentication against real sshd and a real ssh-agent (docs/BEHAVIOUR.md §5.3): agent first
//! (`SSH_AUTH_SOCK`, `IdentityAgent`), identity files in order, `IdentitiesOnly`, default
//! identities, and an encrypted key without an agent.
//!
//! Every scout here runs with `HOME` set to an empty directory, so no key of the machine's own
//! `~/.ssh` can make a test pass by accident.

use crate::common;

use common::{authorize, keygen, scout_client, Agent, Fleet, TempDir};
use serde_json::json;

const ACCEPTED: &str = "Accepted publickey";

/// Replaces the identity lines of every host block of the fleet's ssh_config with `lines`.
fn set_identity(fleet: &Fleet, lines: &[String]) {
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    let mut out = String::new();
    for line in config.lines() {
        let key = line.trim_start();
        if key.starts_with("IdentityFile") || key.starts_with("IdentitiesOnly") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Host ") {
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    std::fs::write(&fleet.ssh_config, out).unwrap();
}

/// (text, isError) of reading `/` on alpha with `env` (HOME is an empty directory).
fn try_login(fleet: &Fleet, home: &TempDir, env: &[(&str, &str)]) -> (String, bool) {
    let home = home.path().display().to_string();
    let mut all = vec![("HOME", home.as_str())];
    all.extend_from_slice(env);
    let mut c = scout_client(fleet, &all);
    c.call_text(json!({"target": "alpha:/"}))
}

#[test]
fn the_agent_from_ssh_auth_sock_is_used_when_no_key_file_is_configured() {
    let fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    set_identity(&fleet, &[]);
    let (text, is_error) = try_login(&fleet, &home, &[]);
    assert!(is_error, "{text}");
    assert!(
        text.contains("no ssh-agent (SSH_AUTH_SOCK unset)") && text.contains("id_ed25519"),
        "{text}"
    );

    let agent = Agent::start();
    agent.add(&fleet.client_key, None);
    let (text, is_error) = try_login(&fleet, &home, &[("SSH_AUTH_SOCK", &agent.socket_str())]);
    assert!(!is_error, "{text}");
}

#[test]
fn identity_agent_in_ssh_config_overrides_the_environment() {
    let mut fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    let agent = Agent::start();
    agent.add(&fleet.client_key, None);

    set_identity(&fleet, &[format!("IdentityAgent {}", agent.socket_str())]);
    let (text, is_error) = try_login(&fleet, &home, &[]);
    assert!(
        !is_error,
        "IdentityAgent socket, SSH_AUTH_SOCK empty: {text}"
    );

    set_identity(&fleet, &["IdentityAgent none".to_string()]);
    let (text, is_error) = try_login(&fleet, &home, &[("SSH_AUTH_SOCK", &agent.socket_str())]);
    assert!(
        is_error,
        "IdentityAgent none must ignore SSH_AUTH_SOCK: {text}"
    );
    assert_eq!(fleet.sshd("alpha").log_count(ACCEPTED), 1);
}

#[test]
fn identities_only_keeps_agent_keys_that_are_not_configured_out() {
    let fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    let stranger = keygen(home.path(), "stranger", "", &[]);
    let agent = Agent::start();
    agent.add(&fleet.client_key, None);
    let sock = agent.socket_str();
    let file = format!("IdentityFile {}", stranger.display());

    // Without IdentitiesOnly the agent's (authorized) key is offered and accepted.
    set_identity(&fleet, std::slice::from_ref(&file));
    let (text, is_error) = try_login(&fleet, &home, &[("SSH_AUTH_SOCK", &sock)]);
    assert!(!is_error, "{text}");

    // With it, only the configured (unauthorized) key may be used.
    set_identity(&fleet, &[file.clone(), "IdentitiesOnly yes".into()]);
    let (text, is_error) = try_login(&fleet, &home, &[("SSH_AUTH_SOCK", &sock)]);
    assert!(is_error, "{text}");
    assert!(
        text.contains("ssh-agent: 0 key(s) offered") && text.contains("stranger: not accepted"),
        "{text}"
    );

    // The configured key is in the agent too: then the agent may offer it.
    authorize(&fleet, &stranger);
    let (text, is_error) = try_login(&fleet, &home, &[("SSH_AUTH_SOCK", &sock)]);
    assert!(!is_error, "{text}");
}

#[test]
fn identity_files_are_tried_in_order_and_defaults_apply_when_none_is_configured() {
    let fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    let stranger = keygen(home.path(), "stranger", "", &[]);
    set_identity(
        &fleet,
        &[
            format!("IdentityFile {}", stranger.display()),
            format!("IdentityFile {}", fleet.client_key.display()),
        ],
    );
    let (text, is_error) = try_login(&fleet, &home, &[]);
    assert!(
        !is_error,
        "the second file is tried after the first: {text}"
    );

    // No IdentityFile: ~/.ssh/id_ed25519 of HOME is the default.
    set_identity(&fleet, &[]);
    std::fs::create_dir(home.join(".ssh")).unwrap();
    std::fs::copy(&fleet.client_key, home.join(".ssh/id_ed25519")).unwrap();
    let (text, is_error) = try_login(&fleet, &home, &[]);
    assert!(!is_error, "default identity: {text}");
}

#[test]
fn an_encrypted_key_without_an_agent_says_to_load_it_and_works_from_the_agent() {
    let fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    let locked = keygen(home.path(), "locked", "correct horse", &[]);
    authorize(&fleet, &locked);
    set_identity(&fleet, &[format!("IdentityFile {}", locked.display())]);

    let (text, is_error) = try_login(&fleet, &home, &[]);
    assert!(is_error, "{text}");
    assert!(
        text.contains("locked: the key is encrypted with a passphrase") && text.contains("ssh-add"),
        "{text}"
    );
    assert!(!text.contains("correct horse"));

    let agent = Agent::start();
    agent.add(&locked, Some("correct horse"));
    let (text, is_error) = try_login(&fleet, &home, &[("SSH_AUTH_SOCK", &agent.socket_str())]);
    assert!(!is_error, "{text}");
}
