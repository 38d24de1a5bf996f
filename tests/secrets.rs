//! Secrets stay secret (issue 5): at the most verbose log level, neither key material, nor a
//! passphrase, nor a secret from the environment appears in the log (stderr) or in any result;
//! file contents, uploads and expected contents are not logged either.

use crate::common;

use common::{scout_client, Agent, Fleet};
use serde_json::json;

const ENV_SECRET: &str = "env-secret-7f3a9c1e55d2";
const PASSPHRASE: &str = "passphrase-b81d27e4c6";
const FILE_MARKER: &str = "file-contents-e5c0a47b93";

/// The base64 lines of an OpenSSH private key file (the key material).
fn key_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_string)
        .collect()
}

#[test]
fn nothing_secret_reaches_the_log_or_the_results_even_at_trace_level() {
    let fleet = Fleet::start(&["alpha", "locked"]);
    // "locked" authenticates with a passphrase-protected key held by an agent.
    let locked_key = fleet.dir.join("locked_key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", PASSPHRASE, "-f"])
        .arg(&locked_key)
        .status()
        .unwrap();
    assert!(ok.success());
    let mut keys = std::fs::read_to_string(fleet.dir.join("authorized_keys")).unwrap();
    keys.push_str(&std::fs::read_to_string(locked_key.with_extension("pub")).unwrap());
    std::fs::write(fleet.dir.join("authorized_keys"), keys).unwrap();
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    let (before, after) = config.split_at(config.find("Host locked").unwrap());
    let after = after.replace(
        &fleet.client_key.display().to_string(),
        &locked_key.display().to_string(),
    );
    std::fs::write(&fleet.ssh_config, format!("{before}{after}")).unwrap();
    let agent = Agent::start();
    agent.add(&locked_key, Some(PASSPHRASE));

    let file = fleet.write_remote_file("secret.txt", format!("{FILE_MARKER}\n").as_bytes());
    let local = fleet.beam.join("upload.txt");
    std::fs::write(&local, format!("{FILE_MARKER}\n")).unwrap();
    let socket = agent.socket_str();
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_LOG_LEVEL", "trace"),
            ("SSH_AUTH_SOCK", &socket),
            ("API_TOKEN", ENV_SECRET),
            ("SCOUT_COMMAND_POLICY", "shell"),
        ],
    );
    let mut results = String::new();
    let calls = [
        json!({"target": format!("alpha:{}", file.display())}),
        json!({"target": format!("locked:{}", file.display())}),
        json!({"target": "alpha:/", "query": format!("cat {}", file.display())}),
        json!({"target": "alpha:/", "query": "env"}),
        json!({"target": format!("alpha:{}", file.display()), "diff_content": format!("{FILE_MARKER}\n")}),
        json!({"target": format!("alpha:{}/up.txt", fleet.remote_root.display()),
               "beam": local.display().to_string(), "beam_direction": "upload"}),
        json!({"target": "hosts", "check": true}),
    ];
    for args in calls {
        let result = c.call_tool(args.clone());
        assert_ne!(result["isError"], json!(true), "{args}: {result}");
        results.push_str(&result.to_string());
    }
    c.close_stdin();
    c.wait_exit(std::time::Duration::from_secs(10))
        .expect("exit");
    let log = c.stderr_text();
    // Default is `warn`: an INFO line proves the verbose level took effect.
    assert!(log.contains(" INFO "), "verbose logging was on: {log}");

    for line in key_lines(&fleet.client_key)
        .iter()
        .chain(&key_lines(&locked_key))
    {
        assert!(!log.contains(line.as_str()), "key material in the log");
        assert!(!results.contains(line.as_str()), "key material in a result");
    }
    for secret in [ENV_SECRET, PASSPHRASE] {
        assert!(!log.contains(secret), "{secret} in the log");
        assert!(!results.contains(secret), "{secret} in a result");
    }
    // The remote environment does not carry scout's: `env` ran remotely without API_TOKEN.
    assert!(
        !results.contains("API_TOKEN"),
        "local environment leaked to the host"
    );
    assert!(!log.contains(FILE_MARKER), "file contents in the log");
}
