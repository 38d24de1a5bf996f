//! One SSH connection: TCP, handshake, host key, authentication, and the SFTP channel it keeps.
//!
//! A [`Connection`] is what the pool hands out. It is used by exactly one worker at a time
//! (libssh2 sessions corrupt when shared across threads — see NOTES-ssh2-r2d2.md), carries a
//! `broken` flag that the pool reads on check-in, and keeps a clone of its socket so a suspect
//! session can be shut down at the TCP level before it is dropped (a libssh2 drop on a frozen
//! link would otherwise block forever).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssh2::{Session, Sftp};

use crate::error::Error;
use crate::settings::StrictHostKeyChecking;
use crate::ssh::bulk::Bulk;
use crate::ssh::config::HostEntry;
use crate::ssh::jump::Jumps;
use crate::ssh::trace::Trace;
use crate::ssh::transport::{tcp_connect, Transport};
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
    /// The jump hubs for hosts with `ProxyJump` (none: ProxyJump is refused with a message).
    pub jumps: Option<Arc<Jumps>>,
}

/// A live, authenticated SSH session with its SFTP channel.
pub struct Connection {
    // Field order matters: the SFTP channels must be dropped before the session.
    sftp: Option<Sftp>,
    bulk: BulkState,
    session: Session,
    socket: Transport,
    alias: Arc<str>,
    broken: bool,
    retired: bool,
    created: Instant,
    last_used: Instant,
    /// How often the reaper sends a keepalive on this idle session (ServerAliveInterval).
    keepalive_every: Duration,
    /// Set by the pool: releases this session's slot in the global count when dropped.
    pub(crate) slot: Option<crate::ssh::pool::SessionSlot>,
}

/// Whether a session has its [`Bulk`] channel.
enum BulkState {
    Untried,
    Unsupported,
    Open(Bulk),
}

impl Connection {
    /// Connects, verifies the host key and authenticates, all within `connect_timeout`.
    pub fn open(host: &HostEntry, opts: &ConnectOptions) -> Result<Connection, Error> {
        Connection::open_traced(host, opts, &mut Trace::off())
    }

    /// [`Connection::open`], recording each stage in `trace` (for `scout-mcp check`).
    pub fn open_traced(
        host: &HostEntry,
        opts: &ConnectOptions,
        trace: &mut Trace,
    ) -> Result<Connection, Error> {
        let Established { session, socket } = establish(host, opts, trace)?;
        session.set_keepalive(
            false,
            keepalive_interval(host, opts)
                .as_secs()
                .clamp(1, u64::from(u32::MAX)) as u32,
        );
        let now = Instant::now();
        let mut conn = Connection {
            sftp: None,
            bulk: BulkState::Untried,
            session,
            socket,
            alias: Arc::from(host.alias.as_str()),
            broken: false,
            retired: false,
            created: now,
            last_used: now,
            keepalive_every: keepalive_interval(host, opts),
            slot: None,
        };
        // The first channel of a session pays sshd's one-time setup (~40 ms): pay it here, on the
        // cold path, rather than on the first warm read.
        let sftp = trace.step("sftp", || {
            conn.sftp()?;
            Ok(((), "subsystem started".to_string()))
        });
        if let Err(e) = sftp {
            log::warn!(
                "{}: SFTP is not available ({e}); reads will fail",
                host.alias
            );
        }
        conn.session.set_timeout(0);
        Ok(conn)
    }

    /// The session, for opening channels. Blocking mode; callers set their own timeouts.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The host alias this connection belongs to.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The SFTP channel, opened on first use and kept for the session's life.
    pub fn sftp(&mut self) -> Result<&Sftp, Error> {
        if self.sftp.is_none() {
            let sftp = self.session.sftp().map_err(|e| {
                let err = self.fail(&e, "open the SFTP channel");
                if matches!(err, Error::Session { .. }) {
                    err
                } else {
                    Error::Remote {
                        host: self.alias.to_string(),
                        message: format!(
                            "the server refused the SFTP subsystem ({e}): enable `Subsystem sftp` in its sshd_config"
                        ),
                    }
                }
            })?;
            self.sftp = Some(sftp);
        }
        self.sftp.as_ref().ok_or_else(|| Error::Session {
            host: self.alias.to_string(),
            message: "SFTP channel unavailable".into(),
        })
    }

    /// The [`Bulk`] SFTP channel (large requests), opened on first use and kept for the
    /// session's life; `None` when the server does not offer it (then libssh2's channel does
    /// the work). Asked once per session.
    pub fn bulk(&mut self) -> Option<&mut Bulk> {
        if matches!(self.bulk, BulkState::Untried) {
            self.bulk = match Bulk::start(&self.session) {
                Ok(Some(bulk)) => BulkState::Open(bulk),
                Ok(None) => BulkState::Unsupported,
                Err(e) => {
                    log::debug!(
                        "{}: no bulk SFTP channel ({e}); using libssh2's",
                        self.alias
                    );
                    BulkState::Unsupported
                }
            };
        }
        match &mut self.bulk {
            BulkState::Open(bulk) => Some(bulk),
            _ => None,
        }
    }

    /// Closes the bulk channel after a failed or cancelled transfer: its stream may stop in the
    /// middle of answers. The next [`Connection::bulk`] opens a fresh one.
    pub fn discard_bulk(&mut self) {
        if matches!(self.bulk, BulkState::Open(_)) {
            self.bulk = BulkState::Untried;
        }
    }

    /// The raw socket descriptor, for `poll(2)` in non-blocking reads.
    pub fn socket_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    /// Marks the session unusable: the pool drops it at check-in instead of reusing it.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Whether the session was marked broken.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Gives the session up now: shuts its socket down, so every later libssh2 call on it (and
    /// the drop of its channels) fails at once instead of waiting on the peer.
    pub fn abandon(&mut self) {
        self.broken = true;
        self.socket.shutdown();
    }

    /// Takes a healthy session out of service (idle too long, evicted): the pool drops it at
    /// check-in and it says goodbye to the server politely.
    pub fn retire(&mut self) {
        self.retired = true;
    }

    /// Whether the pool may hand this session out again.
    pub fn is_reusable(&self) -> bool {
        !self.broken && !self.retired
    }

    /// Records use by a request (the reaper's idle clock).
    pub fn touch(&mut self) {
        self.last_used = Instant::now();
    }

    /// Time since the session was last used.
    pub fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// Idle time after which the reaper sends a keepalive.
    pub fn keepalive_every(&self) -> Duration {
        self.keepalive_every
    }

    /// Time since the session was opened.
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// Sends a keepalive if one is due. Write-only: it cannot prove the peer alive, but it fails
    /// at once on a connection the peer has reset, and keeps NAT and firewall state warm.
    pub fn keepalive(&mut self) -> bool {
        self.session.set_timeout(1000);
        let ok = self.session.keepalive_send().is_ok();
        self.session.set_timeout(0);
        if !ok {
            self.broken = true;
        }
        ok
    }

    /// Turns an ssh2 error into ours. Transport-level errors mean the session is dead: it is
    /// marked broken so that the pool drops it. SFTP status codes are the remote's answer.
    pub fn fail(&mut self, e: &ssh2::Error, doing: &str) -> Error {
        let host = self.alias.to_string();
        match e.code() {
            ssh2::ErrorCode::SFTP(code) => Error::Remote {
                host,
                message: sftp_status(code, doing),
            },
            ssh2::ErrorCode::Session(-9) | ssh2::ErrorCode::Session(-30) => {
                self.broken = true;
                Error::Session {
                    host,
                    message: format!("cannot {doing}: the server did not answer in time"),
                }
            }
            ssh2::ErrorCode::Session(_) => {
                self.broken = true;
                Error::Session {
                    host,
                    message: format!("cannot {doing}: {}", e.message()),
                }
            }
        }
    }
}

impl Connection {
    /// An I/O failure while streaming (SFTP file reads and writes report `io::Error`): the
    /// session can no longer be trusted.
    pub fn fail_io(&mut self, e: &std::io::Error, doing: &str) -> Error {
        self.broken = true;
        Error::Session {
            host: self.alias.to_string(),
            message: format!("cannot {doing}: {e}"),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.broken {
            // Make every libssh2 call below fail at once instead of waiting on a dead peer.
            self.socket.shutdown();
        } else {
            self.session.set_timeout(1000);
            self.sftp = None;
            let _ = self.session.disconnect(None, "scout-mcp closing", None);
        }
    }
}

/// The connect timeout of `host`: its ssh_config `ConnectTimeout`, else SCOUT_CONNECT_TIMEOUT.
pub(crate) fn connect_limit(host: &HostEntry, opts: &ConnectOptions) -> Duration {
    host.connect_timeout
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(opts.connect_timeout)
}

/// Which setting [`connect_limit`] came from, for messages.
pub(crate) fn connect_limit_name(host: &HostEntry) -> &'static str {
    if host.connect_timeout.is_some_and(|s| s > 0) {
        "ConnectTimeout in ssh_config"
    } else {
        "SCOUT_CONNECT_TIMEOUT"
    }
}

/// The keepalive interval of `host`: its `ServerAliveInterval`, else SCOUT_KEEPALIVE_INTERVAL.
pub(crate) fn keepalive_interval(host: &HostEntry, opts: &ConnectOptions) -> Duration {
    host.server_alive_interval
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .unwrap_or(opts.keepalive_interval)
}

/// SCOUT_STRICT_HOST_KEY_CHECKING if set, else the host's StrictHostKeyChecking, else `yes`.
pub(crate) fn strict_mode(host: &HostEntry, opts: &ConnectOptions) -> StrictHostKeyChecking {
    opts.strict
        .or_else(|| {
            host.strict_host_key_checking
                .as_deref()
                .and_then(StrictHostKeyChecking::parse)
        })
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
pub(crate) struct Established {
    pub session: Session,
    pub socket: Transport,
}

/// Transport (TCP or a jump tunnel), handshake, host key, authentication: the stages every
/// session goes through, each recorded in `trace`, all within the connect timeout.
pub(crate) fn establish(
    host: &HostEntry,
    opts: &ConnectOptions,
    trace: &mut Trace,
) -> Result<Established, Error> {
    let limit = connect_limit(host, opts);
    let deadline = Instant::now() + limit;
    let socket = match crate::ssh::jump::hops(host) {
        None => tcp_connect(host, limit, trace)?,
        Some(hops) => {
            let jumps = opts.jumps.as_ref().ok_or_else(|| {
                Error::Config(format!(
                    "{}: ProxyJump {hops} is not available in this context",
                    host.alias
                ))
            })?;
            trace.step("tunnel", || {
                let stream = jumps.tunnel(host, deadline)?;
                Ok((
                    Transport::Tunnel(stream),
                    format!(
                        "via {hops} (direct-tcpip to {}:{})",
                        host.hostname, host.port
                    ),
                ))
            })?
        }
    };
    establish_over(host, opts, socket, deadline, trace)
}

/// The stages after the transport: handshake, host key, authentication, by `deadline`.
pub(crate) fn establish_over(
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
    let fail = |message: String| Error::Connect {
        host: host.alias.clone(),
        message,
    };
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
        Error::Timeout {
            host: host.alias.clone(),
            what: format!("{what} ({})", connect_limit_name(host)),
            after: limit,
        }
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

fn sftp_status(code: i32, doing: &str) -> String {
    let what = match code {
        2 => "no such file or directory",
        3 => "permission denied",
        4 => "failure",
        5 => "bad message",
        8 => "operation unsupported by the server",
        _ => "error",
    };
    format!("cannot {doing}: {what} (SFTP status {code})")
}
