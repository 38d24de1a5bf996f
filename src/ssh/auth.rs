//! Public-key authentication: ssh-agent first, then identity files (docs/BEHAVIOUR.md §5.3).
//!
//! Every attempt is recorded so that a failure can say exactly what was tried and what to do.

use std::path::{Path, PathBuf};

use ssh2::Session;

use crate::error::Error;
use crate::ssh::config::HostEntry;
use crate::util::base64;

/// Where the agent socket is: `IdentityAgent` from ssh_config (`none` disables the agent,
/// `SSH_AUTH_SOCK` means the environment), else `$SSH_AUTH_SOCK`. An empty value means no agent.
pub(crate) fn agent_socket(host: &HostEntry) -> Option<PathBuf> {
    let from_env = || {
        std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    match host.identity_agent.as_deref() {
        Some(v) if v.eq_ignore_ascii_case("none") => None,
        Some(v) if v == "SSH_AUTH_SOCK" || v == "$SSH_AUTH_SOCK" => from_env(),
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => from_env(),
    }
}

/// The identity files to try: the configured ones, else OpenSSH's defaults that exist.
pub fn identity_files(host: &HostEntry, home: &Path) -> Vec<PathBuf> {
    // `IdentityFile none` (as ssh -G prints it): no files, and no defaults either.
    if host.identity_files.iter().any(|f| f.as_os_str() == "none") {
        return Vec::new();
    }
    if !host.identity_files.is_empty() {
        return host.identity_files.clone();
    }
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .filter(|p| p.exists())
        .collect()
}

/// Authenticates `session` as `host.user` and says which key worked; on failure the error
/// lists every attempt.
pub fn authenticate(session: &Session, host: &HostEntry, home: &Path) -> Result<String, Error> {
    let files = identity_files(host, home);
    let mut tried = Vec::new();
    if let Some(socket) = agent_socket(host) {
        if let Some(key) = try_agent(session, host, &socket, &files, &mut tried) {
            return Ok(format!(
                "publickey as {}: ssh-agent key '{key}' ({})",
                host.user,
                socket.display()
            ));
        }
    }
    for file in &files {
        if try_file(session, &host.user, file, &mut tried) {
            return Ok(format!("publickey as {}: {}", host.user, file.display()));
        }
    }
    let error = auth_failure(host, &tried);
    // A key that only needs its passphrase: loading it into the agent is the fix.
    match files.iter().find(|f| f.exists() && key_is_encrypted(f)) {
        Some(key) => Err(error.with_fix(format!("ssh-add {}", key.display()))),
        None => Err(error),
    }
}

fn try_agent(
    session: &Session,
    host: &HostEntry,
    socket: &Path,
    files: &[PathBuf],
    tried: &mut Vec<String>,
) -> Option<String> {
    let mut agent = match session.agent() {
        Ok(a) => a,
        Err(e) => {
            tried.push(format!("ssh-agent: unavailable ({e})"));
            return None;
        }
    };
    if agent.set_identity_path(socket).is_err() || agent.connect().is_err() {
        tried.push(format!("ssh-agent at {}: cannot connect", socket.display()));
        return None;
    }
    let identities = match agent.list_identities().and_then(|_| agent.identities()) {
        Ok(ids) => ids,
        Err(e) => {
            tried.push(format!("ssh-agent: cannot list keys ({e})"));
            return None;
        }
    };
    // IdentitiesOnly: use only agent keys whose public half is one of the identity files.
    let allowed = host.identities_only.then(|| public_key_blobs(files));
    let mut offered = 0;
    for identity in identities {
        if let Some(allowed) = &allowed {
            if !allowed.iter().any(|b| b.as_slice() == identity.blob()) {
                continue;
            }
        }
        offered += 1;
        if agent.userauth(&host.user, &identity).is_ok() && session.authenticated() {
            let _ = agent.disconnect();
            return Some(identity.comment().to_string());
        }
    }
    let _ = agent.disconnect();
    tried.push(format!(
        "ssh-agent: {offered} key(s) offered, none accepted"
    ));
    None
}

fn try_file(session: &Session, user: &str, key: &Path, tried: &mut Vec<String>) -> bool {
    if !key.exists() {
        tried.push(format!("{}: file not found", key.display()));
        return false;
    }
    if key_is_encrypted(key) {
        tried.push(format!(
            "{}: the key is encrypted with a passphrase, which scout never asks for: load it \
             into ssh-agent with `ssh-add {}`",
            key.display(),
            key.display()
        ));
        return false;
    }
    let public = key.with_file_name(format!(
        "{}.pub",
        key.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let public = public.exists().then_some(public);
    match session.userauth_pubkey_file(user, public.as_deref(), key, None) {
        Ok(()) if session.authenticated() => true,
        Ok(()) => {
            tried.push(format!("{}: not accepted", key.display()));
            false
        }
        Err(e) => {
            tried.push(format!("{}: {}", key.display(), describe_key_error(&e)));
            false
        }
    }
}

/// Whether a private key file is protected by a passphrase: OpenSSH's own format names its
/// cipher (`none` when plain); PEM files say `ENCRYPTED`. Unreadable files count as plain (the
/// attempt then reports the real error).
fn key_is_encrypted(key: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(key) else {
        return false;
    };
    if text.contains("ENCRYPTED") {
        return true;
    }
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let Some(bytes) = base64::decode(body.trim()) else {
        return false;
    };
    // "openssh-key-v1\0", then the cipher name as an SSH string (u32 length + bytes).
    let Some(rest) = bytes.strip_prefix(b"openssh-key-v1\0") else {
        return false;
    };
    let Some(len) = rest
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    else {
        return false;
    };
    rest.get(4..4 + len).is_some_and(|cipher| cipher != b"none")
}

/// libssh2 reports an encrypted key without passphrase as "Unsupported private key format"
/// (-16); say what it really means.
fn describe_key_error(e: &ssh2::Error) -> String {
    match e.code() {
        ssh2::ErrorCode::Session(-16) => {
            "the key is encrypted (or in an unsupported format): load it into ssh-agent with `ssh-add`".into()
        }
        ssh2::ErrorCode::Session(-18) | ssh2::ErrorCode::Session(-19) => "not accepted by the server".into(),
        _ => e.message().to_string(),
    }
}

fn auth_failure(host: &HostEntry, tried: &[String]) -> Error {
    let attempts = if tried.is_empty() {
        "no ssh-agent (SSH_AUTH_SOCK unset) and no identity file (IdentityFile unset, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)".to_string()
    } else {
        tried.join("; ")
    };
    Error::auth(
        host.alias.clone(),
        format!(
            "no key was accepted for {}@{}:{} (tried: {attempts}). Add your public key to the \
             remote ~/.ssh/authorized_keys, set IdentityFile in ssh_config, or load the key into \
             ssh-agent",
            host.user, host.hostname, host.port
        ),
    )
}

/// The key blobs of the `.pub` files next to `files` (for IdentitiesOnly filtering).
fn public_key_blobs(files: &[PathBuf]) -> Vec<Vec<u8>> {
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(format!("{}.pub", f.display())).ok())
        .filter_map(|text| text.split_whitespace().nth(1).and_then(base64::decode))
        .collect()
}
