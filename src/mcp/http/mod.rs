//! MCP over streamable HTTP (`SCOUT_TRANSPORT=http`): one scout next to a fleet, shared by
//! several agents on other machines.
//!
//! Blocking like the rest of scout, with the standard library's sockets:
//!
//! * **acceptor** (`scout-http-accept`) — accepts connections; beyond
//!   `SCOUT_HTTP_MAX_CONNECTIONS` open at once, a new one is answered `503` and closed.
//! * **connection threads** (`scout-http-N`), one per open connection, so at most
//!   `SCOUT_HTTP_MAX_CONNECTIONS` — read one request at a time (head and body bounded in bytes
//!   and time, [`wire`]), check it ([`guard`]: origin, key, rate), hand its JSON-RPC message to
//!   the same [`Engine`] the stdio transport uses, and write what comes back: one JSON body,
//!   or an SSE stream of progress notifications ending with the response. A connection thread
//!   only waits on the request's own small outbox; the SSH work runs on the engine's workers,
//!   so a client that holds a stream open never holds a worker.
//! * the calling thread waits for the shutdown signal, then stops the engine like stdio does.
//!
//! Eras: a request carrying the 2026-07-28 `_meta` envelope is served statelessly (its
//! headers must mirror its body; closing its response stream cancels it). Any other request
//! belongs to a session made by `initialize` (`Mcp-Session-Id`, ended by `DELETE`), where
//! only `notifications/cancelled` cancels: a dropped connection is not a cancel in those
//! versions. Each key's requests are served by a `Scout` built from the server's settings
//! narrowed by the key's policy ([`config::Policy`]), so no tool mode or resource can exceed it.

pub mod config;
mod endpoint;
pub mod guard;
pub mod wire;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::error::{Error, Result};
use crate::mcp::protocol::SessionState;
use crate::mcp::resources;
use crate::mcp::server::Engine;
use crate::scout::Scout;
use crate::sync::lock;

pub use config::{HttpConfig, Transport};
use config::{KeySpec, Policy};
use guard::{Keys, RateLimit};

/// Largest request body: the biggest legitimate message (a `diff_content` of a large file, a
/// broadcast to a thousand targets) is far smaller.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Who sent a request: a key (or, without keys, every local client), and the `Scout` that
/// serves it.
struct Principal {
    label: String,
    /// What the key may do, in the words of `SCOUT_API_KEYS` (for the log).
    policy: Policy,
    scout: Arc<Scout>,
}

/// The HTTP server's shared state; every connection thread holds it.
struct Server {
    config: HttpConfig,
    engine: Engine,
    keys: Keys,
    principals: Vec<Principal>,
    limits: RateLimit,
    sessions: Sessions,
    connections: AtomicUsize,
    stopping: AtomicBool,
    /// Numbers the scopes of stateless requests and the connection threads.
    counter: AtomicU64,
}

/// Serves MCP over HTTP with `base` (and, for restricted keys, `Scout`s narrowed from it)
/// until a message arrives on `shutdown`. A configuration the server cannot start with (a key
/// policy that matches no host, an address it cannot listen on) is an [`Error::Config`].
pub fn serve(base: Arc<Scout>, config: HttpConfig, shutdown: Receiver<()>) -> Result<()> {
    let principals = principals(&base, &config.keys)?;
    let (host, port) = config.bind_address();
    let listener = TcpListener::bind((host.as_str(), port)).map_err(|e| {
        Error::config(format!(
            "cannot listen on {host}:{port} (SCOUT_HTTP_HOST, SCOUT_HTTP_PORT): {e}"
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io(format!("cannot read the listening address: {e}")))?;
    resources::warn_unusable_aliases(&base);
    for p in &principals {
        log::info!(
            "HTTP key {}: {} (hosts: {})",
            p.label,
            p.policy,
            p.scout.aliases().join(", ")
        );
    }
    let limits = RateLimit::new(config.rate_per_minute, config.burst, principals.len());
    let server = Arc::new(Server {
        engine: Engine::new(base.settings().workers),
        keys: Keys::new(&config.keys),
        limits,
        sessions: Sessions::new(
            config.max_sessions,
            principals.len(),
            config.session_timeout,
        ),
        principals,
        connections: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
        counter: AtomicU64::new(0),
        config,
    });
    // The one line that says where to connect (stderr: stdout stays silent in every mode).
    eprintln!(
        "scout-mcp: serving MCP over streamable HTTP at http://{local}/mcp ({})",
        if server.keys.required() {
            format!("{} API key(s)", server.config.keys.len())
        } else {
            "no API keys: loopback only".into()
        }
    );
    let acceptor = server.clone();
    std::thread::Builder::new()
        .name("scout-http-accept".into())
        .spawn(move || acceptor.accept(listener))
        .map_err(|e| Error::io(format!("cannot start the HTTP acceptor: {e}")))?;

    let _ = shutdown.recv();
    log::info!("signal received: shutting down");
    server.stopping.store(true, Ordering::Release);
    let mut scouts: Vec<&Arc<Scout>> = Vec::new();
    for p in &server.principals {
        if !scouts.iter().any(|s| Arc::ptr_eq(s, &p.scout)) {
            scouts.push(&p.scout);
        }
    }
    if !scouts.iter().any(|s| Arc::ptr_eq(s, &base)) {
        scouts.push(&base);
    }
    let scouts: Vec<&Scout> = scouts.into_iter().map(|s| s.as_ref()).collect();
    server.engine.finish(&scouts, None);
    Ok(())
}

/// One principal per key (keys with the same policy share a `Scout`); without keys, one for
/// every client.
fn principals(base: &Arc<Scout>, keys: &[KeySpec]) -> Result<Vec<Principal>> {
    if keys.is_empty() {
        return Ok(vec![Principal {
            label: "anonymous".into(),
            policy: Policy::default(),
            scout: base.clone(),
        }]);
    }
    let mut by_policy: Vec<(&Policy, Arc<Scout>)> = Vec::new();
    let mut out = Vec::new();
    for key in keys {
        let scout = if key.policy.is_unrestricted() {
            base.clone()
        } else if let Some((_, scout)) = by_policy.iter().find(|(p, _)| **p == key.policy) {
            scout.clone()
        } else {
            let scout = Arc::new(restricted(base, &key.policy, &key.label)?);
            by_policy.push((&key.policy, scout.clone()));
            scout
        };
        out.push(Principal {
            label: key.label.clone(),
            policy: key.policy.clone(),
            scout,
        });
    }
    Ok(out)
}

/// A `Scout` whose settings are the server's narrowed by `policy`: read-only added, the
/// command policy lowered, the hosts cut down to the server's hosts that match the key's
/// patterns. Every operation checks these settings, so the key cannot reach past them; the
/// connections are the server's, shared.
fn restricted(base: &Scout, policy: &Policy, label: &str) -> Result<Scout> {
    let settings = base.settings().clone();
    let server_mode = settings.command_policy.mode;
    let mut builder = settings.into_builder();
    if policy.read_only {
        builder = builder.read_only(true);
    }
    if let Some(mode) = policy.commands {
        if mode > server_mode {
            return Err(Error::config(format!(
                "SCOUT_API_KEYS, key {label}: commands={} would allow more than the server's \
                 SCOUT_COMMAND_POLICY={}; a key can only narrow it",
                mode.name(),
                server_mode.name()
            )));
        }
        builder = builder.command_policy(mode);
    }
    let allowed: Option<Vec<String>> = policy
        .hosts
        .as_ref()
        .map(|patterns| base.aliases_matching(patterns));
    if let (Some(allowed), Some(patterns)) = (&allowed, &policy.hosts) {
        if allowed.is_empty() {
            return Err(Error::config(format!(
                "SCOUT_API_KEYS, key {label}: hosts={} matches none of the server's hosts ({})",
                patterns.join("|"),
                base.aliases().join(", ")
            )));
        }
        builder = builder.allowlist(allowed.iter().cloned());
    }
    // Keys of one policy share this Scout: the words name the policy, not the key.
    let builder = builder.narrowed_by(policy.to_string());
    let scout = base.narrowed(builder.build()?)?;
    if let Some(allowed) = &allowed {
        // The aliases became an allowlist of patterns: one with a glob character must not
        // have let in more than it names.
        if let Some(extra) = scout.aliases().iter().find(|a| !allowed.contains(a)) {
            return Err(Error::config(format!(
                "SCOUT_API_KEYS, key {label}: cannot confine the key to its hosts (alias \
                 '{extra}' slipped in); rename hosts whose alias has '*' or '?'"
            )));
        }
    }
    Ok(scout)
}

impl Server {
    /// The acceptor's loop: a thread per connection, up to the cap.
    fn accept(self: Arc<Self>, listener: TcpListener) {
        // Refusals are logged at most once a second (with how many there were since), so a
        // flood of connections at the cap cannot flood the log.
        let mut warned: Option<Instant> = None;
        let mut unlogged = 0u64;
        for incoming in listener.incoming() {
            let stream = match incoming {
                Ok(stream) => stream,
                Err(e) => {
                    // Out of descriptors, most likely: let connections end before trying again.
                    log::warn!("accepting an HTTP connection: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            if self.stopping.load(Ordering::Acquire) {
                refuse(stream, "the server is shutting down");
                continue;
            }
            let open = self.connections.fetch_add(1, Ordering::AcqRel);
            if open >= self.config.max_connections {
                self.connections.fetch_sub(1, Ordering::AcqRel);
                unlogged += 1;
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    log::warn!(
                        "HTTP connection refused: {open} open, SCOUT_HTTP_MAX_CONNECTIONS is {} \
                         ({unlogged} refused since the last such line)",
                        self.config.max_connections
                    );
                    warned = Some(Instant::now());
                    unlogged = 0;
                }
                refuse(stream, "too many connections");
                continue;
            }
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let server = self.clone();
            let started = std::thread::Builder::new()
                .name(format!("scout-http-{n}"))
                .spawn(move || {
                    let open = Open(&server.connections);
                    server.connection(stream, open);
                });
            if let Err(e) = started {
                self.connections.fetch_sub(1, Ordering::AcqRel);
                log::warn!("cannot start an HTTP connection thread: {e}");
            }
        }
    }
}

/// Counts a connection as open while it lives (a panicking thread gives its place back too).
/// Dropped before the socket closes, so a client that saw its connection end can open the next
/// one at once.
struct Open<'a>(&'a AtomicUsize);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `503` to a connection that cannot be served, without waiting on the client.
fn refuse(stream: TcpStream, why: &str) {
    use std::io::Write;
    let body = format!("{why}\n");
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; \
         charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = stream;
    if stream.set_nonblocking(true).is_ok() {
        let _ = stream.write_all(response.as_bytes());
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Sessions of the `initialize` era: each bound to the key that made it, dropped when unused
/// for `SCOUT_HTTP_SESSION_TIMEOUT`, at most `SCOUT_HTTP_MAX_SESSIONS` at once, and each key
/// at most its share of them, so one key cannot take every place from the others.
struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    max: usize,
    per_key: usize,
    idle: Duration,
}

struct Session {
    owner: usize,
    state: SessionState,
    used: Instant,
}

/// Why no session was made.
enum NoSession {
    Full,
    /// The key holds its share (the number).
    KeyFull(usize),
    NoRandomness,
}

impl Sessions {
    /// `max` sessions shared by `keys` keys (each may hold `max / keys`, at least one).
    fn new(max: usize, keys: usize, idle: Duration) -> Sessions {
        Sessions {
            map: Mutex::default(),
            max,
            per_key: (max / keys.max(1)).max(1),
            idle,
        }
    }

    fn create(&self, owner: usize) -> std::result::Result<String, NoSession> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.retain(|_, s| now.duration_since(s.used) < self.idle);
        if map.values().filter(|s| s.owner == owner).count() >= self.per_key {
            return Err(NoSession::KeyFull(self.per_key));
        }
        if map.len() >= self.max {
            return Err(NoSession::Full);
        }
        let id = guard::session_id().ok_or(NoSession::NoRandomness)?;
        map.insert(
            id.clone(),
            Session {
                owner,
                state: SessionState::default(),
                used: now,
            },
        );
        Ok(id)
    }

    /// The state of session `id` if `owner` made it and it has not expired (which it then
    /// will not for another timeout).
    fn get(&self, id: &str, owner: usize) -> Option<SessionState> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        let session = map.get_mut(id)?;
        if now.duration_since(session.used) >= self.idle {
            map.remove(id);
            return None;
        }
        if session.owner != owner {
            return None;
        }
        session.used = now;
        Some(session.state.clone())
    }

    fn set_state(&self, id: &str, state: SessionState) {
        if let Some(session) = lock(&self.map).get_mut(id) {
            session.state = state;
        }
    }

    fn remove(&self, id: &str, owner: usize) -> bool {
        let mut map = lock(&self.map);
        match map.get(id) {
            Some(s) if s.owner == owner => map.remove(id).is_some(),
            _ => false,
        }
    }
}
