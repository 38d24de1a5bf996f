//! The fixture scout-mcp's tests, benches and examples share: throwaway OpenSSH `sshd`
//! servers on 127.0.0.1 (`sshd`), an MCP client for the real binary over stdio (`mcp`) and over
//! HTTP (`http`), a scripted agent (`agent`), load and fault drivers (`load`, `chaos`).
//!
//! A crate of its own (a dev-dependency of scout-mcp) so that every user compiles it once and
//! nothing needs `#[path]` includes or `allow(dead_code)`. It does not depend on scout-mcp: it
//! drives the binary, as a user would.

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

/// The scout-mcp binary: `$SCOUT_BIN` if set, else the one cargo built next to the running
/// test, bench or example (cargo builds the binary before integration tests and benches; they
/// run from `target/<profile>/deps`, examples from `target/<profile>/examples`).
/// `read`, again when a signal interrupted it. A socket read with a timeout (`SO_RCVTIMEO`)
/// fails with `EINTR` whenever a signal arrives, even one whose handler asks for restarts, and a
/// client that took that for the end of the stream closed its connection mid-answer (which the
/// server, in the 2026-07-28 era, rightly treats as a cancel).
pub fn read_some(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

pub fn scout_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SCOUT_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("scout-mcp"))
        .find(|bin| bin.is_file())
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/scout-mcp")
        })
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
                    super::$name($crate::Era::Legacy)
                }
                #[test]
                fn modern() {
                    super::$name($crate::Era::Modern)
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

/// The SHA-256 of a local file as `sha256sum` prints it (an independent check of scout's).
pub fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `len` bytes that are not all alike, so a misplaced chunk changes the hash.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4096) as u8).collect()
}
