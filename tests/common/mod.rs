//! Shared integration-test fixture: real sshd servers (`sshd`) and a stdio MCP client (`mcp`).
//! Each test binary includes it with `mod common;`; not every test uses every helper.
#![allow(dead_code)]
#![allow(unused_imports)]

pub mod agent;
pub mod chaos;
pub mod http;
pub mod load;
pub mod mcp;
pub mod sshd;

pub use agent::Agent;
pub use mcp::{tool_text, Era, McpClient};
pub use sshd::{Fleet, Sshd, TempDir};

use std::path::{Path, PathBuf};

/// The scout-mcp binary: `$SCOUT_BIN` if set, else the one cargo built for this test run
/// (examples and benches, which cargo gives no such variable, fall back to target/debug).
pub fn scout_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SCOUT_BIN") {
        return PathBuf::from(bin);
    }
    match option_env!("CARGO_BIN_EXE_scout-mcp") {
        Some(bin) => PathBuf::from(bin),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/scout-mcp"),
    }
}

/// scout-mcp started against `fleet` (its `env()` plus `extra_env`), already initialized
/// (the legacy era, protocol 2025-11-25).
pub fn scout_client(fleet: &Fleet, extra_env: &[(&str, &str)]) -> McpClient {
    scout_client_in(Era::Legacy, fleet, extra_env)
}

/// scout-mcp started against `fleet`, opened in `era`: after `initialize`, or after
/// `server/discover` with every later request carrying the 2026-07-28 envelope.
pub fn scout_client_in(era: Era, fleet: &Fleet, extra_env: &[(&str, &str)]) -> McpClient {
    let mut env = fleet.env();
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut client = McpClient::spawn(&scout_bin(), &[], &env);
    client.set_era(era);
    client.initialize();
    client
}

/// Runs each named scenario, a `fn NAME(era: Era)` of the test file, once per protocol era:
/// as the tests `NAME::legacy` and `NAME::modern`.
#[macro_export]
macro_rules! in_both_eras {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn legacy() {
                    super::$name($crate::common::Era::Legacy)
                }
                #[test]
                fn modern() {
                    super::$name($crate::common::Era::Modern)
                }
            }
        )*
    };
}

/// Whether a process whose command line contains `needle` is running on this machine (the
/// test sshd is local, so remote processes are visible here).
pub fn process_running(needle: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", needle])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes; its last answer.
pub fn wait_until(timeout: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cond()
}

/// A key pair `dir/name` (ed25519 unless `extra` says otherwise, e.g. `-t ecdsa -m PEM`),
/// encrypted with `passphrase` if it is not empty.
pub fn keygen(dir: &Path, name: &str, passphrase: &str, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut args = vec!["-q", "-C", name, "-N", passphrase];
    if !extra.contains(&"-t") {
        args.extend(["-t", "ed25519"]);
    }
    args.extend_from_slice(extra);
    let ok = std::process::Command::new("ssh-keygen")
        .args(&args)
        .arg("-f")
        .arg(&path)
        .status()
        .unwrap();
    assert!(ok.success(), "ssh-keygen {args:?}");
    path
}

/// Authorizes `key` on every host of `fleet` (in addition to the fleet's client key).
pub fn authorize(fleet: &Fleet, key: &Path) {
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let file = fleet.dir.join("authorized_keys");
    let mut keys = std::fs::read_to_string(&file).unwrap();
    keys.push_str(&public);
    std::fs::write(&file, keys).unwrap();
}

/// `host:path` as the library takes it (`path` may be a `Path::display()`).
pub fn at(host: &str, path: impl std::fmt::Display) -> scout_mcp::RemotePath {
    match scout_mcp::RemotePath::new(host, &path.to_string()) {
        Ok(at) => at,
        Err(e) => panic!("{host}:{path}: {e}"),
    }
}
