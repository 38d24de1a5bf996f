//! The command line (docs/BEHAVIOUR.md §7): help, version, configuration errors, `hosts`, `call`.

use crate::common;

use std::process::Command;

use common::{scout_bin, Fleet};

fn run(args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let out = Command::new(scout_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("SSH_AUTH_SOCK", "")
        .output()
        .expect("run scout-mcp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("scout-mcp call TARGET [QUERY]") && out.contains("SCOUT_COMMAND_TIMEOUT"),
        "{out}"
    );
    let (code, out, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!("scout-mcp {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let env = vec![("SCOUT_COMMAND_TIMEOUT".to_string(), "abc".to_string())];
    let (code, out, err) = run(&[], &env);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "nothing on stdout: {out}");
    assert!(
        err.contains("SCOUT_COMMAND_TIMEOUT") && err.contains("'abc'"),
        "{err}"
    );
    let (code, _, err) = run(&["--workers", "0", "hosts"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("SCOUT_WORKERS") && err.contains("--workers"),
        "{err}"
    );
    let (code, _, err) = run(&["--frobnicate"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown option"), "{err}");
}

#[test]
fn a_broken_ssh_config_is_a_startup_error() {
    let dir = common::TempDir::new();
    let cfg = dir.join("config");
    std::fs::write(&cfg, "Host web\n  Port notaport\n").unwrap();
    let (code, _, err) = run(&["--ssh-config", &cfg.display().to_string(), "hosts"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ssh_config") && err.contains(":2"), "{err}");
}

#[test]
fn hosts_and_call_against_real_sshd() {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let file = fleet.write_remote_file("motd", b"hello from alpha\n");
    let (code, out, err) = run(&["hosts"], &fleet.env());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("alpha") && out.contains("beta") && out.contains("reachable"),
        "{out}"
    );
    let (code, out, err) = run(
        &["call", &format!("alpha:{}", file.display())],
        &fleet.env(),
    );
    assert_eq!((code, out.as_str()), (0, "hello from alpha\n"), "{err}");
    let (code, out, _) = run(&["call", "beta:/", "ls -d /"], &fleet.env());
    assert_eq!((code, out.as_str()), (0, "/\n"));
    let (code, out, err) = run(&["call", "nowhere:/"], &fleet.env());
    assert_eq!(code, 1);
    assert!(
        out.is_empty() && err.contains("unknown host 'nowhere'"),
        "{err}"
    );
    let (code, _, err) = run(&["--allowlist", "b*", "call", "alpha:/"], &fleet.env());
    assert_eq!(code, 1, "alpha is filtered out by the allowlist");
    assert!(err.contains("Available hosts: beta"), "{err}");
}
