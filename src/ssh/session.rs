//! Connecting: the stages every SSH session goes through — a transport (TCP, or a tunnel
//! through jump hosts), the handshake, the host key check, authentication — each recorded in a
//! [`Trace`] (free when off; `scout-mcp check` turns it on), all within the connect timeout.
//!
//! The result is an [`Established`] session in blocking mode; the connection thread
//! (`mux.rs`) takes it from there.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ssh2::Session;

use crate::error::Error;
use crate::ssh::config::{HostEntry, StrictHostKeyChecking};
use crate::ssh::trace::Trace;
use crate::ssh::transport::Transport;
use crate::ssh::{auth, known_hosts};

/// Everything a connect needs besides the host itself.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Default connect timeout (a host's `ConnectTimeout` wins).
    pub connect_timeout: Duration,
    /// Default keepalive interval (a host's `ServerAliveInterval` wins).
    pub keepalive_interval: Duration,
    /// `SCOUT_KNOWN_HOSTS` when set (overrides the host's `UserKnownHostsFile`).
    pub known_hosts: Option<PathBuf>,
    /// `SCOUT_STRICT_HOST_KEY_CHECKING` when set (overrides the host's `StrictHostKeyChecking`).
    pub strict: Option<StrictHostKeyChecking>,
    /// The local home directory (default identities, `~/.ssh/known_hosts`).
    pub home: PathBuf,
}

/// The connect timeout of `host`: its ssh_config `ConnectTimeout`, else SCOUT_CONNECT_TIMEOUT.
pub(crate) fn connect_limit(host: &HostEntry, opts: &ConnectOptions) -> Duration {
    host.connect_limit(opts.connect_timeout)
}

/// The keepalive interval of `host`: its `ServerAliveInterval`, else SCOUT_KEEPALIVE_INTERVAL.
pub(crate) fn keepalive_interval(host: &HostEntry, opts: &ConnectOptions) -> Duration {
    host.keepalive_interval(opts.keepalive_interval)
}

/// SCOUT_STRICT_HOST_KEY_CHECKING if set, else the host's StrictHostKeyChecking, else `yes`.
pub(crate) fn strict_mode(host: &HostEntry, opts: &ConnectOptions) -> StrictHostKeyChecking {
    opts.strict
        .or(host.strict_host_key_checking)
        .unwrap_or(StrictHostKeyChecking::Yes)
}

/// The known_hosts files to consult: SCOUT_KNOWN_HOSTS, else the host's UserKnownHostsFile,
/// else ~/.ssh/known_hosts.
pub(crate) fn known_hosts_files(host: &HostEntry, opts: &ConnectOptions) -> Vec<PathBuf> {
    if let Some(path) = &opts.known_hosts {
        return vec![path.clone()];
    }
    if host
        .user_known_hosts_files
        .iter()
        .any(|f| f.as_os_str() == "none")
    {
        return Vec::new();
    }
    if !host.user_known_hosts_files.is_empty() {
        return host.user_known_hosts_files.clone();
    }
    vec![opts.home.join(".ssh").join("known_hosts")]
}

/// A session that passed the handshake, the host key check and authentication.
pub struct Established {
    /// The session, authenticated, in blocking mode.
    pub session: Session,
    /// The byte stream under it (kept to poll and to shut down).
    pub socket: Transport,
}

/// The stages after the transport: handshake, host key, authentication, by `deadline`.
pub fn establish_over(
    host: &HostEntry,
    opts: &ConnectOptions,
    socket: Transport,
    deadline: Instant,
    trace: &mut Trace,
) -> Result<Established, Error> {
    let session = trace.step("handshake", || {
        let session = handshake(host, &socket, deadline, connect_limit(host, opts))?;
        let banner = session.banner().unwrap_or("").to_string();
        Ok((session, banner))
    })?;
    let files = known_hosts_files(host, opts);
    let mode = strict_mode(host, opts);
    let policy = known_hosts::HostKeyPolicy {
        alias: &host.alias,
        hostname: &host.hostname,
        port: host.port,
        files: &files,
        mode,
    };
    trace.step("host key", || {
        Ok(((), known_hosts::verify(&session, &policy)?))
    })?;
    session.set_timeout(remaining_ms(deadline));
    trace.step("auth", || {
        let method = auth::authenticate(&session, host, &opts.home).map_err(|e| {
            timeout_or(
                e,
                host,
                deadline,
                connect_limit(host, opts),
                "authentication",
            )
        })?;
        Ok(((), method))
    })?;
    Ok(Established { session, socket })
}

fn handshake(
    host: &HostEntry,
    socket: &Transport,
    deadline: Instant,
    limit: Duration,
) -> Result<Session, Error> {
    let fail = |message: String| Error::connect(host.alias.clone(), message);
    let mut session =
        Session::new().map_err(|e| fail(format!("cannot create an SSH session: {e}")))?;
    let stream = socket
        .try_clone()
        .map_err(|e| fail(format!("socket: {e}")))?;
    session.set_tcp_stream(stream);
    session.set_timeout(remaining_ms(deadline));
    session.handshake().map_err(|e| {
        let failed = fail(format!(
            "SSH handshake failed: {}. The server may only offer algorithms this build lacks \
             (SHA-1 based ones such as ssh-rsa are compiled out): check its sshd_config",
            e.message()
        ));
        timeout_or(failed, host, deadline, limit, "SSH handshake")
    })?;
    Ok(session)
}

/// `e`, or a timeout error naming the connect timeout if the deadline has passed (libssh2 then
/// reports the expiry as whatever call it was in).
fn timeout_or(e: Error, host: &HostEntry, deadline: Instant, limit: Duration, what: &str) -> Error {
    // libssh2's timer counts whole milliseconds (rounded down by `remaining_ms`) and may fire
    // a little before our deadline: a failure that close to it is the timeout.
    if Instant::now() + Duration::from_millis(50) >= deadline {
        Error::timeout(
            host.alias.clone(),
            format!("{what} ({})", host.connect_limit_name()),
            limit,
        )
    } else {
        e
    }
}

/// Milliseconds left until `deadline`, at least 1 (0 would mean "no timeout" to libssh2).
pub fn remaining_ms(deadline: Instant) -> u32 {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .as_millis();
    left.clamp(1, u128::from(u32::MAX)) as u32
}
