//! `ProxyJump`: reaching a host through one or more jump hosts (docs/BEHAVIOUR.md §5.5).
//!
//! libssh2 has no jump support, so a jumped session runs over one end of a Unix socket pair; the
//! other end is relayed into a `direct-tcpip` channel of the jump host's session. One **hub**
//! per jump host (per chain) owns that session on its own thread — libssh2 sessions must never be
//! shared between threads — and relays every tunnel through it, in non-blocking mode, waiting
//! in `poll(2)` on the jump socket and all tunnel ends at once. So ten pooled sessions to hosts
//! behind one bastion cost one bastion session and one thread.
//!
//! A chain `ProxyJump a,b` is what OpenSSH does: `b` is reached through `a`'s hub, the target
//! through `b`'s; `a` is resolved with its own ssh_config (its own `ProxyJump` included), `b`'s
//! own `ProxyJump` is overridden by the chain. A hub closes its jump session when its last
//! tunnel has been gone for the idle timeout (the pool's reaper closes the sessions through it),
//! or at once when the jump session dies; the next connect starts a new hub.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use ssh2::{BlockDirections, Channel, Session};

use crate::error::Error;
use crate::ssh::config::{HostEntry, SshConfig};
use crate::ssh::session::{establish_over, ConnectOptions, Established};
use crate::ssh::trace::Trace;
use crate::ssh::transport::{tcp_connect, Transport};
use crate::sync::lock;

/// Longest chain accepted, counting nested `ProxyJump`s of first hops (catches loops).
const MAX_CHAIN: usize = 8;
/// Bytes moved per read on a tunnel.
const CHUNK: usize = 32 * 1024;
/// How long an open may block the ones queued behind it before they go to a fresh hub.
const OPEN_STALL: Duration = Duration::from_secs(1);
/// How long a finished tunnel's channel may wait for the peer to confirm its close.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The jump hubs of one `Scout`, keyed by chain.
pub struct Jumps {
    config: SshConfig,
    /// For the jump sessions themselves.
    opts: ConnectOptions,
    linger: Duration,
    hubs: Mutex<HashMap<String, Arc<Hub>>>,
    /// One gate per chain: concurrent first connects through a chain wait for one jump session
    /// instead of each opening their own (the only lock held across network I/O, and only by
    /// connects that would otherwise duplicate it).
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

impl std::fmt::Debug for Jumps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jumps({} hubs)", lock(&self.hubs).len())
    }
}

impl Jumps {
    /// Hubs resolve jump hosts in `config`, connect them with `opts`, and close a jump session
    /// `linger` after its last tunnel.
    pub fn new(config: SshConfig, opts: ConnectOptions, linger: Duration) -> Jumps {
        Jumps {
            config,
            opts,
            linger,
            hubs: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
        }
    }

    /// The jump hosts `host` is reached through, in connect order, each resolved as `ssh`
    /// would (ssh_config, then `user@`/`:port` of the hop).
    pub fn chain(&self, host: &HostEntry) -> Result<Vec<HostEntry>, Error> {
        self.chain_at(host, 0)
    }

    fn chain_at(&self, host: &HostEntry, depth: usize) -> Result<Vec<HostEntry>, Error> {
        let Some(spec) = &host.proxy_jump else {
            return Ok(Vec::new());
        };
        let bad = |why: String| {
            Error::config(format!(
                "{}: ProxyJump {spec}: {why}. Fix ProxyJump in ssh_config",
                host.alias
            ))
        };
        if depth >= MAX_CHAIN {
            return Err(bad(format!(
                "jump hosts nest more than {MAX_CHAIN} deep (do two hosts jump through each other?)"
            )));
        }
        let mut chain = Vec::new();
        for (i, hop) in spec
            .hops()
            .map_err(|e| bad(e.to_string()))?
            .iter()
            .enumerate()
        {
            let mut entry = self.config.resolve(&hop.host);
            if let Some(user) = &hop.user {
                entry.user = user.clone();
            }
            if let Some(port) = hop.port {
                entry.port = port;
            }
            if i == 0 {
                chain.extend(self.chain_at(&entry, depth + 1)?);
            }
            entry.proxy_jump = None;
            chain.push(entry);
        }
        if chain.len() > MAX_CHAIN {
            return Err(bad(format!("more than {MAX_CHAIN} jump hosts")));
        }
        Ok(chain)
    }

    /// A stream connected to `host`'s sshd through its jump chain, ready for a handshake.
    pub fn tunnel(&self, host: &HostEntry, deadline: Instant) -> Result<UnixStream, Error> {
        let chain = self.chain(host)?;
        self.open_through(&chain, host, deadline)
    }

    /// Closes every hub (and with it every tunnel and jump session).
    pub fn close(&self) {
        for (_, hub) in lock(&self.hubs).drain() {
            hub.shutdown();
        }
    }

    fn open_through(
        &self,
        chain: &[HostEntry],
        dest: &HostEntry,
        deadline: Instant,
    ) -> Result<UnixStream, Error> {
        // A hub may close between our lookup and our request (its last tunnel just ended):
        // then one fresh hub is started.
        for _ in 0..2 {
            let hub = self.hub(chain, dest, deadline)?;
            match hub.open(
                dest,
                deadline,
                dest.connect_limit(self.opts.connect_timeout),
            ) {
                Err(OpenError::HubGone) => continue,
                Err(OpenError::Failed(e)) => return Err(e),
                Ok(stream) => return Ok(stream),
            }
        }
        Err(Error::connect(
            dest.alias.clone(),
            "the jump host session closed while opening a tunnel; retry",
        ))
    }

    fn hub(
        &self,
        chain: &[HostEntry],
        dest: &HostEntry,
        deadline: Instant,
    ) -> Result<Arc<Hub>, Error> {
        let Some((jump, before)) = chain.split_last() else {
            return Err(Error::config(format!(
                "{}: empty ProxyJump chain",
                dest.alias
            )));
        };
        // The alias too: two aliases for one endpoint may differ in keys and host key policy.
        let key = chain
            .iter()
            .map(|h| format!("{}={}@{}:{}", h.alias, h.user, h.hostname, h.port))
            .collect::<Vec<_>>()
            .join(",");
        let live =
            |hubs: &HashMap<String, Arc<Hub>>| hubs.get(&key).filter(|h| h.is_alive()).cloned();
        if let Some(hub) = live(&lock(&self.hubs)) {
            return Ok(hub);
        }
        let gate = lock(&self.gates).entry(key.clone()).or_default().clone();
        let _connecting = gate.enter(deadline).ok_or_else(|| {
            Error::timeout(
                dest.alias.clone(),
                format!(
                    "waiting for the connection to jump host {} ({})",
                    jump.alias,
                    dest.connect_limit_name()
                ),
                dest.connect_limit(self.opts.connect_timeout),
            )
        })?;
        if let Some(hub) = live(&lock(&self.hubs)) {
            return Ok(hub);
        }
        let established = self
            .connect_jump(jump, before, deadline)
            .map_err(|e| via_jump(e, &dest.alias))?;
        let hub = Arc::new(Hub::start(jump, established, &self.opts, self.linger)?);
        lock(&self.hubs).insert(key, hub.clone());
        Ok(hub)
    }

    fn connect_jump(
        &self,
        jump: &HostEntry,
        before: &[HostEntry],
        deadline: Instant,
    ) -> Result<Established, Error> {
        let mut trace = Trace::off();
        let socket = if before.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            tcp_connect(jump, left.max(Duration::from_millis(1)), &mut trace)?
        } else {
            Transport::Tunnel(self.open_through(before, jump, deadline)?)
        };
        establish_over(jump, &self.opts, socket, deadline, &mut trace)
    }
}

/// Lets one thread at a time connect a chain's jump session; the others wait, until their
/// own deadline at most.
#[derive(Default)]
struct Gate {
    busy: Mutex<bool>,
    free: std::sync::Condvar,
}

/// Holding the gate; dropping it lets the next thread in.
struct GatePass<'a>(&'a Gate);

impl Gate {
    fn enter(&self, deadline: Instant) -> Option<GatePass<'_>> {
        let mut busy = lock(&self.busy);
        while *busy {
            let left = deadline.checked_duration_since(Instant::now())?;
            busy = self
                .free
                .wait_timeout(busy, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        *busy = true;
        Some(GatePass(self))
    }
}

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        *lock(&self.0.busy) = false;
        self.0.free.notify_one();
    }
}

/// An error of a jump host's own connect, reported for the host behind it.
fn via_jump(e: Error, target: &str) -> Error {
    use crate::error::ErrorKind;
    let Some(host) = e.host().map(str::to_string) else {
        return e;
    };
    match e.kind() {
        ErrorKind::Connect | ErrorKind::Session => {
            let message = format!("via jump host {host}: {}", e.message());
            e.rehost(target, ErrorKind::Connect, message)
        }
        ErrorKind::HostKey | ErrorKind::Auth => {
            let (kind, message) = (e.kind(), format!("jump host {host}: {}", e.message()));
            e.rehost(target, kind, message)
        }
        ErrorKind::Timeout => {
            let message = e.message().replacen(
                " timed out after",
                &format!(" of jump host {host} timed out after"),
                1,
            );
            e.rehost(target, ErrorKind::Timeout, message)
        }
        _ => e,
    }
}

enum OpenError {
    /// The hub closed; a new one may succeed.
    HubGone,
    Failed(Error),
}

/// "Open a tunnel to `host:port`" (for the host `alias`), answered on `reply`.
struct OpenRequest {
    host: String,
    port: u16,
    alias: String,
    reply: Sender<Result<UnixStream, OpenError>>,
}

enum Request {
    Open(OpenRequest),
    Shutdown,
}

/// The handle of a hub thread.
struct Hub {
    requests: Sender<Request>,
    /// Written to wake the hub's `poll` after a request.
    wake: UnixStream,
    alive: Arc<AtomicBool>,
}

impl Hub {
    fn start(
        jump: &HostEntry,
        established: Established,
        opts: &ConnectOptions,
        linger: Duration,
    ) -> Result<Hub, Error> {
        let io =
            |e: std::io::Error| Error::io(format!("cannot start a jump relay: {e}")).with_source(e);
        let (wake, wake_rx) = UnixStream::pair().map_err(io)?;
        wake.set_nonblocking(true).map_err(io)?;
        wake_rx.set_nonblocking(true).map_err(io)?;
        let (requests, rx) = crossbeam_channel::unbounded();
        let alive = Arc::new(AtomicBool::new(true));
        let keepalive = jump
            .keepalive_interval(opts.keepalive_interval)
            .max(Duration::from_secs(1));
        // want_reply: the server answers each keepalive, so a silent jump host is noticed.
        established.session.set_keepalive(
            true,
            keepalive.as_secs().clamp(1, u64::from(u32::MAX)) as u32,
        );
        let relay = Relay {
            alias: jump.alias.clone(),
            session: established.session,
            socket: established.socket,
            rx,
            wake_rx,
            alive: alive.clone(),
            tunnels: Vec::new(),
            closing: Vec::new(),
            last_heard: Instant::now(),
            pending: VecDeque::new(),
            front_since: None,
            linger,
            keepalive,
        };
        std::thread::Builder::new()
            .name(format!("scout-jump-{}", jump.alias))
            .spawn(move || relay.run())
            .map_err(io)?;
        Ok(Hub {
            requests,
            wake,
            alive,
        })
    }

    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn open(
        &self,
        dest: &HostEntry,
        deadline: Instant,
        limit: Duration,
    ) -> Result<UnixStream, OpenError> {
        if !self.is_alive() {
            return Err(OpenError::HubGone);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        let request = Request::Open(OpenRequest {
            host: dest.hostname.clone(),
            port: dest.port,
            alias: dest.alias.clone(),
            reply,
        });
        self.requests
            .send(request)
            .map_err(|_| OpenError::HubGone)?;
        let _ = (&self.wake).write(&[1]);
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(result) => result,
            Err(RecvTimeoutError::Disconnected) => Err(OpenError::HubGone),
            Err(RecvTimeoutError::Timeout) => {
                // The jump session is hung, or an open ahead of ours is stuck on an unreachable
                // destination (libssh2 opens one channel at a time): either way, new tunnels go
                // to a fresh hub; this one keeps serving its tunnels and ends when they do.
                self.alive.store(false, Ordering::Release);
                Err(OpenError::Failed(Error::timeout(
                    dest.alias.clone(),
                    format!(
                        "opening the tunnel through the jump host ({})",
                        dest.connect_limit_name()
                    ),
                    limit,
                )))
            }
        }
    }

    fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown);
        let _ = (&self.wake).write(&[1]);
    }
}

/// The hub thread: owns the jump session and relays every tunnel through it.
struct Relay {
    alias: String,
    session: Session,
    socket: Transport,
    rx: Receiver<Request>,
    wake_rx: UnixStream,
    alive: Arc<AtomicBool>,
    tunnels: Vec<Tunnel>,
    /// Channels of finished tunnels, closed politely without blocking, until a deadline.
    closing: Vec<(Channel, Instant)>,
    /// When the jump socket last had something to read.
    last_heard: Instant,
    pending: VecDeque<OpenRequest>,
    /// When the open at the front of `pending` was first tried.
    front_since: Option<Instant>,
    linger: Duration,
    keepalive: Duration,
}

impl Relay {
    fn run(mut self) {
        self.session.set_blocking(false);
        let mut idle_since = Instant::now();
        let mut next_keepalive = Instant::now() + self.keepalive;
        let mut spins = 0;
        let mut shutdown_by: Option<Instant> = None;
        log::debug!("jump hub {} started", self.alias);
        loop {
            if shutdown_by.is_none() && !self.take_requests() {
                // Relay what is in flight (polite disconnects of the sessions through us)
                // for a moment, then stop.
                shutdown_by = Some(Instant::now() + Duration::from_millis(300));
                self.alive.store(false, Ordering::Release);
            }
            let opened = match self.open_pending() {
                Ok(p) => p,
                Err(e) => {
                    log::info!("jump host {}: session lost ({e})", self.alias);
                    break;
                }
            };
            let progress = opened | self.pump_all() | self.close_finished();
            if shutdown_by.is_some_and(|t| Instant::now() >= t || self.is_idle()) {
                break;
            }
            if progress {
                // Bytes moved: the link is alive (a frozen peer stops progress within a window).
                self.last_heard = Instant::now();
                spins = 0;
                continue;
            }
            if self.is_idle() {
                // Nothing is expected from the jump host while idle.
                self.last_heard = Instant::now();
                // A hub that stopped taking requests has nothing left to do.
                if !self.alive.load(Ordering::Acquire) || idle_since.elapsed() >= self.linger {
                    break;
                }
            } else {
                idle_since = Instant::now();
            }
            // Data for one tunnel may have been read off the socket while serving another:
            // it waits in libssh2's queue where poll cannot see it.
            if spins < 2 && self.data_queued() {
                spins += 1;
                continue;
            }
            spins = 0;
            if Instant::now() >= next_keepalive {
                // With want_reply set (Hub::start), the server answers: silence is noticed.
                let _ = self.session.keepalive_send();
                next_keepalive = Instant::now() + self.keepalive;
            }
            if self.silent_for() > self.keepalive * 3 {
                log::info!(
                    "jump host {}: no answer for {} s; closing the jump session",
                    self.alias,
                    self.silent_for().as_secs()
                );
                break;
            }
            let wait = if self.is_idle() {
                self.linger.saturating_sub(idle_since.elapsed())
            } else {
                // A safety net for queued data nobody saw; normally poll wakes first.
                Duration::from_millis(200)
            };
            if !self.wait(wait.min(self.keepalive)) {
                log::info!("jump host {}: connection closed", self.alias);
                break;
            }
        }
        self.finish();
    }

    /// How long the jump host has said nothing while we were waiting for it to speak.
    fn silent_for(&self) -> Duration {
        if self.is_idle() {
            Duration::ZERO
        } else {
            self.last_heard.elapsed()
        }
    }

    /// Queues new open requests. False on shutdown.
    fn take_requests(&mut self) -> bool {
        let mut buf = [0u8; 64];
        while matches!((&self.wake_rx).read(&mut buf), Ok(n) if n > 0) {}
        while let Ok(request) = self.rx.try_recv() {
            match request {
                Request::Open(open) => self.pending.push_back(open),
                Request::Shutdown => return false,
            }
        }
        true
    }

    /// Advances the oldest open request (libssh2 opens one channel at a time). Err when the
    /// jump session itself failed.
    fn open_pending(&mut self) -> Result<bool, ssh2::Error> {
        let Some(OpenRequest {
            host, port, alias, ..
        }) = self.pending.front()
        else {
            return Ok(false);
        };
        let result = self.session.channel_direct_tcpip(host, *port, None);
        let answer = match result {
            Err(e) if e.code() == ssh2::ErrorCode::Session(libssh2_eagain()) => {
                let since = *self.front_since.get_or_insert_with(Instant::now);
                if since.elapsed() > OPEN_STALL && self.pending.len() > 1 {
                    self.hand_back_queued();
                }
                return Ok(false);
            }
            Ok(channel) => match new_tunnel(channel) {
                Ok((tunnel, theirs)) => {
                    self.tunnels.push(tunnel);
                    Ok(theirs)
                }
                Err(e) => Err(OpenError::Failed(
                    Error::io(format!("tunnel socket: {e}")).with_source(e),
                )),
            },
            // SSH_MSG_CHANNEL_OPEN_FAILURE: the jump host refused or could not connect.
            Err(e) if e.code() == ssh2::ErrorCode::Session(-21) => {
                Err(OpenError::Failed(Error::connect(
                    alias.clone(),
                    format!(
                        "jump host {} could not open a connection to {host}:{port} ({}). Check \
                         that {host}:{port} is reachable from {} and that its sshd_config allows \
                         forwarding there (AllowTcpForwarding, PermitOpen)",
                        self.alias,
                        e.message(),
                        self.alias
                    ),
                )))
            }
            Err(e) => return Err(e),
        };
        self.front_since = None;
        if let Some(open) = self.pending.pop_front() {
            let _ = open.reply.send(answer);
        }
        Ok(true)
    }

    /// The open at the front is stuck (the jump host is still trying to reach an unanswering
    /// destination) and libssh2 opens one channel at a time: the requests queued behind it are
    /// handed back, to be retried on a fresh hub, and this hub takes no new ones.
    fn hand_back_queued(&mut self) {
        self.alive.store(false, Ordering::Release);
        log::info!(
            "jump host {}: an open is stuck; {} queued request(s) moved to a new jump session",
            self.alias,
            self.pending.len() - 1
        );
        for open in self.pending.drain(1..) {
            let _ = open.reply.send(Err(OpenError::HubGone));
        }
    }

    /// Moves data on every tunnel; true if any byte moved or any state changed.
    fn pump_all(&mut self) -> bool {
        let mut progress = false;
        for tunnel in &mut self.tunnels {
            match tunnel.pump() {
                Ok(p) => progress |= p,
                Err(e) => {
                    log::debug!("jump host {}: tunnel ended: {e}", self.alias);
                    tunnel.failed = true;
                    progress = true;
                }
            }
        }
        progress
    }

    /// Moves finished tunnels' channels to `closing` and advances their close. True if
    /// anything changed (a close may have read packets that other tunnels are waiting for).
    fn close_finished(&mut self) -> bool {
        let (done, open): (Vec<Tunnel>, Vec<Tunnel>) =
            self.tunnels.drain(..).partition(Tunnel::is_done);
        self.tunnels = open;
        let before = self.closing.len() + done.len();
        let now = Instant::now();
        self.closing
            .extend(done.into_iter().map(|t| (t.channel, now + CLOSE_WAIT)));
        self.closing.retain_mut(|(channel, give_up)| {
            let waiting = matches!(channel.close(), Err(e) if e.code() == ssh2::ErrorCode::Session(libssh2_eagain()));
            // A close the peer never confirms must not keep the hub busy forever; dropping
            // the channel then costs a little memory in libssh2, nothing else.
            waiting && Instant::now() < *give_up
        });
        before != self.closing.len()
    }

    fn is_idle(&self) -> bool {
        self.tunnels.is_empty() && self.pending.is_empty() && self.closing.is_empty()
    }

    fn data_queued(&self) -> bool {
        self.tunnels
            .iter()
            .any(|t| t.down.is_empty() && !t.remote_eof && t.channel.read_window().available > 0)
    }

    /// Waits for the jump socket, a tunnel end or a request. False if the jump socket died.
    fn wait(&mut self, timeout: Duration) -> bool {
        // Read the jump socket unless every tunnel is only waiting for its local end to drain
        // (then the packets can wait in the kernel: that is the flow control).
        let wants_read = !self.pending.is_empty()
            || !self.closing.is_empty()
            || self
                .tunnels
                .iter()
                .any(|t| t.down.is_empty() || !t.up.is_empty());
        if !wants_read {
            self.last_heard = Instant::now();
        }
        let mut socket_events = 0;
        if wants_read {
            socket_events |= libc::POLLIN;
        }
        if matches!(
            self.session.block_directions(),
            BlockDirections::Outbound | BlockDirections::Both
        ) {
            socket_events |= libc::POLLOUT;
        }
        let mut fds = vec![
            pollfd(self.socket.as_raw_fd(), socket_events),
            pollfd(self.wake_rx.as_raw_fd(), libc::POLLIN),
        ];
        fds.extend(self.tunnels.iter().map(Tunnel::pollfd));
        let ms = timeout.as_millis().clamp(1, 60_000) as libc::c_int;
        // SAFETY: `fds` is a live, correctly sized array of pollfd; poll writes only `revents`.
        unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms);
        }
        let revents = fds[0].revents;
        if revents & libc::POLLIN != 0 {
            self.last_heard = Instant::now();
        }
        // POLLHUP too: after the error has been consumed, a dead socket reports only that,
        // and ignoring it would spin here.
        revents & (libc::POLLERR | libc::POLLNVAL | libc::POLLHUP) == 0
    }

    fn finish(mut self) {
        self.alive.store(false, Ordering::Release);
        for open in self.pending.drain(..) {
            let _ = open.reply.send(Err(OpenError::HubGone));
        }
        while let Ok(Request::Open(open)) = self.rx.try_recv() {
            let _ = open.reply.send(Err(OpenError::HubGone));
        }
        // Dropping the tunnel ends makes the sessions through them fail at once.
        self.tunnels.clear();
        self.closing.clear();
        self.session.set_blocking(true);
        self.session.set_timeout(1000);
        let _ = self
            .session
            .disconnect(None, "scout-mcp closing jump session", None);
        log::debug!("jump hub {} closed", self.alias);
    }
}

fn pollfd(fd: std::os::fd::RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn libssh2_eagain() -> i32 {
    // LIBSSH2_ERROR_EAGAIN
    -37
}

/// A socket pair for a new channel: our end (non-blocking) in the tunnel, theirs returned.
fn new_tunnel(channel: Channel) -> std::io::Result<(Tunnel, UnixStream)> {
    let (ours, theirs) = UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    Ok((
        Tunnel {
            channel,
            local: ours,
            up: Vec::new(),
            down: Vec::new(),
            local_eof: false,
            eof_sent: false,
            remote_eof: false,
            write_blocked: false,
            local_gone: false,
            failed: false,
        },
        theirs,
    ))
}

/// One relayed connection: a local socket end and its `direct-tcpip` channel.
struct Tunnel {
    channel: Channel,
    local: UnixStream,
    /// Read from the local end, not yet accepted by the channel.
    up: Vec<u8>,
    /// Read from the channel, not yet written to the local end.
    down: Vec<u8>,
    local_eof: bool,
    eof_sent: bool,
    remote_eof: bool,
    /// The last channel write returned EAGAIN: libssh2 may hold half a packet of it, and
    /// accepts no other packet until that very write is repeated.
    write_blocked: bool,
    /// The local end failed; the pending write is being finished before the close.
    local_gone: bool,
    failed: bool,
}

impl Tunnel {
    /// Moves what can be moved without blocking, both ways. A failure of the local end is
    /// not returned while a channel write is half done: that write is finished first.
    fn pump(&mut self) -> std::io::Result<bool> {
        if self.local_gone {
            return self.finish_write();
        }
        match self.move_bytes() {
            Err(e) if self.write_blocked && !self.up.is_empty() => {
                log::debug!("tunnel end failed ({e}); finishing the pending channel write");
                self.local_gone = true;
                Ok(true)
            }
            other => other,
        }
    }

    fn finish_write(&mut self) -> std::io::Result<bool> {
        match self.channel.write(&self.up) {
            Ok(n) => {
                self.up.drain(..n);
                self.write_blocked = false;
                if self.up.is_empty() {
                    self.failed = true;
                }
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn move_bytes(&mut self) -> std::io::Result<bool> {
        let mut progress = false;
        let mut buf = [0u8; CHUNK];
        if self.up.is_empty() && !self.local_eof {
            match self.local.read(&mut buf) {
                Ok(0) => {
                    self.local_eof = true;
                    progress = true;
                }
                Ok(n) => {
                    self.up.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if !self.up.is_empty() {
            match self.channel.write(&self.up) {
                Ok(n) => {
                    self.up.drain(..n);
                    self.write_blocked = false;
                    progress |= n > 0;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.write_blocked = true,
                Err(e) => return Err(e),
            }
        }
        if self.local_eof && self.up.is_empty() && !self.eof_sent {
            match self.channel.send_eof() {
                Ok(()) => {
                    self.eof_sent = true;
                    progress = true;
                }
                Err(e) if e.code() == ssh2::ErrorCode::Session(libssh2_eagain()) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
        }
        if self.down.is_empty() && !self.remote_eof {
            match self.channel.read(&mut buf) {
                Ok(0) => {
                    self.remote_eof = self.channel.eof();
                    progress |= self.remote_eof;
                    if self.remote_eof {
                        let _ = self.local.shutdown(std::net::Shutdown::Write);
                    }
                }
                Ok(n) => {
                    self.down.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if !self.down.is_empty() {
            match self.local.write(&self.down) {
                Ok(n) => {
                    self.down.drain(..n);
                    progress |= n > 0;
                    if self.down.is_empty() && self.remote_eof {
                        let _ = self.local.shutdown(std::net::Shutdown::Write);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(progress)
    }

    fn is_done(&self) -> bool {
        self.failed || (self.eof_sent && self.remote_eof && self.down.is_empty())
    }

    fn pollfd(&self) -> libc::pollfd {
        let mut events = 0;
        if self.local_gone {
            return pollfd(-1, 0);
        }
        if self.up.is_empty() && !self.local_eof {
            events |= libc::POLLIN;
        }
        if !self.down.is_empty() {
            events |= libc::POLLOUT;
        }
        pollfd(self.local.as_raw_fd(), events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> SshConfig {
        let ctx = crate::ssh::config::ParseContext {
            home: "/home/me".into(),
            local_user: "me".into(),
        };
        SshConfig::parse_str(text, std::path::Path::new("test"), &ctx).expect("config parses")
    }

    fn jumps(text: &str) -> Jumps {
        let opts = ConnectOptions {
            connect_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(15),
            known_hosts: None,
            strict: None,
            home: "/home/me".into(),
        };
        Jumps::new(config(text), opts, Duration::from_secs(1))
    }

    fn names(chain: &[HostEntry]) -> Vec<String> {
        chain
            .iter()
            .map(|h| format!("{}@{}:{}", h.user, h.hostname, h.port))
            .collect()
    }

    #[test]
    fn chains_follow_first_hops_own_proxyjump_and_override_later_ones() {
        let j = jumps(
            "Host target\n  ProxyJump b1,ops@b2:2200\n\
             Host b1\n  HostName 10.0.0.1\n  ProxyJump edge\n\
             Host b2\n  HostName 10.0.0.2\n  ProxyJump ignored-because-chained\n\
             Host edge\n  User gate\n",
        );
        let target = j.config.resolve("target");
        let chain = j.chain(&target).expect("chain");
        assert_eq!(
            names(&chain),
            ["gate@edge:22", "me@10.0.0.1:22", "ops@10.0.0.2:2200"]
        );
        assert!(chain.iter().all(|h| h.proxy_jump.is_none()));
    }

    #[test]
    fn loops_and_bad_hops_are_config_errors_not_hangs() {
        let j = jumps("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\nHost c\n  ProxyJump x:port\n");
        let err = j.chain(&j.config.resolve("a")).expect_err("loop");
        assert!(err.to_string().contains("nest more than"), "{err}");
        let err = j.chain(&j.config.resolve("c")).expect_err("bad port");
        assert!(err.to_string().contains("bad port"), "{err}");
        let none = jumps("Host d\n  ProxyJump none\n");
        assert!(none
            .chain(&none.config.resolve("d"))
            .expect("none")
            .is_empty());
    }
}
