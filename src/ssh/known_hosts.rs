//! Host key verification against OpenSSH known_hosts files (docs/BEHAVIOUR.md §5.4).
//!
//! libssh2 stops reading a known_hosts file at the first line it cannot parse and ignores
//! `@revoked`, so the files are read here line by line: markers are handled by us, comments and
//! unparseable lines are skipped (with a debug log), every other line is handed to libssh2, which
//! understands hashed (`|1|…`) and `[host]:port` entries.

use std::io::Write;
use std::path::{Path, PathBuf};

use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};

use crate::error::Error;
use crate::ssh::config::StrictHostKeyChecking;
use crate::util::base64;

/// What a connection needs to decide about a host key.
pub struct HostKeyPolicy<'a> {
    /// The host alias (for messages).
    pub alias: &'a str,
    /// The host name the entries are looked up by.
    pub hostname: &'a str,
    /// The port (`[host]:port` entries when not 22).
    pub port: u16,
    /// Files to consult, in order; the first one is where `accept-new` appends.
    pub files: &'a [PathBuf],
    /// What to do with an unknown key.
    pub mode: StrictHostKeyChecking,
}

/// Verifies the server's host key after the handshake. `Ok` means the key may be trusted, and
/// says why (for `scout-mcp check`).
pub fn verify(session: &Session, policy: &HostKeyPolicy) -> Result<String, Error> {
    let refuse = |message: String| Error::host_key(policy.alias.to_string(), message);
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| refuse("the server sent no host key".into()))?;
    let fingerprint = fingerprint(session);
    let entry_name = entry_name(policy.hostname, policy.port);
    let mut known = session
        .known_hosts()
        .map_err(|e| refuse(format!("cannot use known_hosts: {e}")))?;
    let mut revoked = Vec::new();
    for file in policy.files {
        // A file that cannot be read is not an empty file: the key it may hold (a changed
        // one, a revoked one) is unknown, so nothing can be trusted, in any mode.
        load_file(&mut known, file, &mut revoked).map_err(|e| {
            refuse(format!(
                "cannot read known_hosts file {}: {e}. The host key cannot be checked until                  it can be read: fix the file (its permissions, or a directory in its place){}",
                file.display(),
                if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE)
                {
                    ", or raise the open-file limit (ulimit -n)"
                } else {
                    ""
                }
            ))
        })?;
    }
    let key_b64 = base64::encode(key);
    if revoked.iter().any(|r| r == &key_b64) {
        return Err(refuse(format!(
            "the key presented by {entry_name} ({fingerprint}) is marked @revoked in known_hosts. \
             Do not connect; ask the host's administrator for a new key"
        )));
    }
    match known.check_port(policy.hostname, policy.port, key) {
        CheckResult::Match => Ok(format!("{fingerprint} matches known_hosts")),
        CheckResult::Mismatch => Err(refuse(changed_message(policy, &entry_name, &fingerprint))
            .with_fix(format!(
                "ssh-keygen -R '{entry_name}' -f {}",
                first_file(policy)
            ))),
        CheckResult::Failure => Err(refuse(format!(
            "the key of {entry_name} ({fingerprint}) could not be checked against known_hosts \
             (libssh2 failed to compare it). Check that the known_hosts files are readable and \
             well-formed"
        ))),
        CheckResult::NotFound => match policy.mode {
            StrictHostKeyChecking::Yes => {
                Err(refuse(unknown_message(policy, &entry_name, &fingerprint))
                    .with_fix(keyscan(policy)))
            }
            StrictHostKeyChecking::No => {
                log::warn!(
                    "{}: accepting unknown host key {fingerprint} (strict checking is off)",
                    policy.alias
                );
                Ok(format!(
                    "{fingerprint} is NOT in known_hosts; accepted because strict checking is off"
                ))
            }
            StrictHostKeyChecking::AcceptNew => {
                append(policy, &entry_name, key_type_name(key_type), &key_b64)
                    .map_err(|e| refuse(format!("cannot record the new key: {e}")))?;
                log::warn!(
                    "{}: accepted new host key {fingerprint} for {entry_name}",
                    policy.alias
                );
                Ok(format!(
                    "{fingerprint} was new; recorded in {} (accept-new)",
                    first_file(policy)
                ))
            }
        },
    }
}

/// `SHA256:…` as OpenSSH prints it (unpadded base64).
pub fn fingerprint(session: &Session) -> String {
    match session.host_key_hash(HashType::Sha256) {
        Some(hash) => format!("SHA256:{}", base64::encode(hash).trim_end_matches('=')),
        None => "an unknown fingerprint".to_string(),
    }
}

/// The name a known_hosts entry uses: `host` for port 22, `[host]:port` otherwise.
pub fn entry_name(hostname: &str, port: u16) -> String {
    if port == 22 {
        hostname.to_string()
    } else {
        format!("[{hostname}]:{port}")
    }
}

/// Adds `file`'s entries to `known` and its `@revoked` keys to `revoked`. A file that does not
/// exist has no entries (as for OpenSSH); any other failure to read it is an error.
fn load_file(
    known: &mut ssh2::KnownHosts,
    file: &Path,
    revoked: &mut Vec<String>,
) -> std::io::Result<()> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log::debug!("known_hosts {}: {e}", file.display());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    // A line that is not UTF-8 cannot be a valid entry; the others still count.
    let text = String::from_utf8_lossy(&bytes);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("@revoked") {
            // "@revoked hosts keytype base64": keep the key whatever the hosts are.
            if let Some(key) = rest.split_whitespace().nth(2) {
                revoked.push(key.to_string());
            }
            continue;
        }
        if line.starts_with('@') {
            log::debug!(
                "{}:{}: marker not supported, line skipped",
                file.display(),
                n + 1
            );
            continue;
        }
        if known.read_str(line, KnownHostFileKind::OpenSSH).is_err() {
            log::debug!(
                "{}:{}: unparseable known_hosts line skipped",
                file.display(),
                n + 1
            );
        }
    }
    Ok(())
}

/// The command that records the host's key: `ssh-keyscan [-p PORT] HOST >> FILE`.
fn keyscan(policy: &HostKeyPolicy) -> String {
    let port = if policy.port == 22 {
        String::new()
    } else {
        format!("-p {} ", policy.port)
    };
    format!(
        "ssh-keyscan {port}{} >> {}",
        policy.hostname,
        first_file(policy)
    )
}

fn unknown_message(policy: &HostKeyPolicy, entry: &str, fingerprint: &str) -> String {
    format!(
        "{entry} is not in known_hosts ({file}); its key is {fingerprint}. Verify the fingerprint, \
         then add it: `{keyscan}` (or connect once with `ssh {alias}`), \
         or set SCOUT_STRICT_HOST_KEY_CHECKING=accept-new to trust new hosts on first use",
        file = first_file(policy),
        keyscan = keyscan(policy),
        alias = policy.alias,
    )
}

fn changed_message(policy: &HostKeyPolicy, entry: &str, fingerprint: &str) -> String {
    let file = first_file(policy);
    format!(
        "HOST KEY CHANGED for {entry}: it now presents {fingerprint}, which does not match \
         known_hosts ({file}). This can be an attack (man in the middle) and is always refused. \
         If the change is expected (host reinstalled), remove the old key with \
         `ssh-keygen -R '{entry}' -f {file}` and verify the new one"
    )
}

fn first_file(policy: &HostKeyPolicy) -> String {
    policy
        .files
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.ssh/known_hosts".into())
}

fn append(
    policy: &HostKeyPolicy,
    entry: &str,
    key_type: &str,
    key_b64: &str,
) -> std::io::Result<()> {
    let file = policy
        .files
        .first()
        .ok_or_else(|| std::io::Error::other("no known_hosts file configured"))?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    writeln!(f, "{entry} {key_type} {key_b64}")
}

fn key_type_name(kind: ssh2::HostKeyType) -> &'static str {
    use ssh2::HostKeyType::*;
    match kind {
        Rsa => "ssh-rsa",
        Dss => "ssh-dss",
        Ecdsa256 => "ecdsa-sha2-nistp256",
        Ecdsa384 => "ecdsa-sha2-nistp384",
        Ecdsa521 => "ecdsa-sha2-nistp521",
        Ed25519 => "ssh-ed25519",
        Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_names_follow_openssh() {
        assert_eq!(super::entry_name("example.org", 22), "example.org");
        assert_eq!(super::entry_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }
}
