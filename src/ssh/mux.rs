//! One SSH connection, owned by one thread that multiplexes its channels, as OpenSSH's
//! ControlMaster does.
//!
//! A libssh2 session must be driven by one thread at a time: sharing one between threads
//! corrupted the connection when it was tried (a channel freed without the session's lock),
//! and a blocking read holds the session so every other user stalls. So each connection gets a
//! thread of its own that connects, then owns the session in non-blocking mode and waits in
//! `poll(2)` on its socket and a wake-up descriptor. Callers never touch the session: they send
//! [`Request`]s through a [`Conn`] handle and wait for the answer on a channel of their own,
//! with their own deadline and cancel flag. On that one connection, at the same time:
//!
//! * **commands** ([`Exec`]), each on its own channel, up to the connection's channel limit —
//!   the server's `MaxSessions` (10 in OpenSSH), learned when it refuses an open: the limit is
//!   lowered and the open waits for a channel to close, it does not fail;
//! * **SFTP requests** on one shared SFTP channel (the connection's *control channel*, opened
//!   bare at connect time and turned into SFTP by the first SFTP request), numbered and answered
//!   in any order; and **dedicated SFTP channels** for transfers, so a big transfer never queues
//!   a small read behind its data;
//! * **liveness**: a keepalive (`want-reply`) after `ServerAliveInterval` of silence; no byte
//!   from the server for `ServerAliveInterval × ServerAliveCountMax` (scout's interval, 3 by
//!   default) ends the connection, and every call on it fails with a message naming the host
//!   and the cause. A frozen host costs its own calls only.
//!
//! Nothing here blocks but the connect itself (on this thread, within the connect timeout):
//! a caller that is cancelled stops waiting at once, and its command is stopped here.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::control::Control;
use crate::error::Error;
use crate::ssh::channel::{RawChannel, RawError, SessionPtr, Step};
use crate::ssh::config::HostEntry;
use crate::ssh::connect::Connector;
use crate::ssh::exec::{Exec, ExecJob, ExecLimits, ExecOutput, RemoteLimits, Turn};
pub use crate::ssh::failure::Failure;
use crate::ssh::session;
use crate::ssh::sftp::wire::{self, Framer, Reply, ServerInfo};
use crate::ssh::trace::Trace;
use crate::ssh::transport::Transport;
use crate::sync::lock;

/// Channels a connection may have open at first: OpenSSH's default `MaxSessions`.
pub const DEFAULT_CHANNELS: usize = 10;
/// How long a closed channel may wait for the server's answer before it is freed anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// A refused channel open this soon after a close may be the server still counting the closed
/// channel (see `Thread::drive_open`).
const RECENT_CLOSE: Duration = Duration::from_millis(500);
/// How long to wait before opening again after such a refusal.
const RETRY_OPEN: Duration = Duration::from_millis(20);
/// Receive window of a command's channel: what libssh2 may hold for it unread.
const EXEC_WINDOW: u32 = 512 << 10;
/// Receive window of the shared SFTP channel.
const SFTP_WINDOW: u32 = 2 << 20;
/// Receive window of a transfer's own SFTP channel: well above what is requested at once, so
/// the server never waits for an adjust.
const TRANSFER_WINDOW: u32 = 16 << 20;
/// How often the thread turns while a command waits, to notice a cancel.
const TICK: Duration = Duration::from_millis(100);
/// Bytes read at a time from a command's streams.
const SCRATCH: usize = 64 << 10;

/// SFTP requests handed to connections by this process: tests see what a call costs.
static SFTP_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// SFTP requests handed to connections by this process since it started.
#[doc(hidden)]
pub fn sftp_requests() -> u64 {
    SFTP_REQUESTS.load(Ordering::Relaxed)
}

/// Which SFTP channel a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SftpChannel {
    /// The connection's shared channel (small requests).
    Shared,
    /// A channel opened for one transfer ([`Conn::open_sftp`]).
    Own(u64),
}

type ReplyTo<T> = Sender<Result<T, Failure>>;

/// What callers ask of the connection thread.
enum Request {
    Exec(ExecJob, Instant),
    Sftp {
        channel: SftpChannel,
        request: wire::Request,
        reply: ReplyTo<Reply>,
    },
    Info {
        channel: SftpChannel,
        reply: ReplyTo<ServerInfo>,
    },
    OpenSftp(ReplyTo<SftpChannel>),
    CloseSftp(u64),
    /// Finish what runs, take nothing new, then disconnect.
    Retire,
}

/// What the pool and callers see of a connection: shared with its thread.
pub struct State {
    /// The host alias.
    pub alias: Arc<str>,
    /// Increases with every connection the process opens: "opened before" is `id <`.
    pub id: u64,
    opened: Instant,
    alive: AtomicBool,
    connected: AtomicBool,
    retiring: AtomicBool,
    /// Channels the server lets this connection have (learned; starts at [`DEFAULT_CHANNELS`]).
    channel_limit: AtomicUsize,
    /// Lanes (channel reservations) the pool placed on this connection, idle or in use.
    lanes: AtomicUsize,
    /// Of those, the ones in use by a caller now.
    held: AtomicUsize,
    /// Requests handed over and not answered yet, plus channels of commands and transfers.
    busy: AtomicUsize,
    /// Milliseconds after `opened` of the last request handed over or answered.
    last_used_ms: AtomicU64,
    why: Mutex<Option<Error>>,
    /// The shared SFTP channel's server limits, once a transfer asked.
    pub limits: OnceLock<wire::Limits>,
    /// Released when the connection ends: its place in the pool's global count.
    slot: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("alias", &self.alias)
            .field("id", &self.id)
            .field("alive", &self.is_alive())
            .field("lanes", &self.lanes())
            .field("busy", &self.busy())
            .finish()
    }
}

impl State {
    /// Whether the connection can still take requests.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Whether the connect finished.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Whether the connection takes new work (alive and not retiring).
    pub fn is_open(&self) -> bool {
        self.is_alive() && !self.retiring.load(Ordering::Acquire)
    }

    /// Channels the pool may reserve for commands and transfers: the limit less the control
    /// channel (at least one).
    pub fn lane_limit(&self) -> usize {
        self.channel_limit
            .load(Ordering::Acquire)
            .saturating_sub(1)
            .max(1)
    }

    /// Lanes handed out on this connection now.
    pub fn lanes(&self) -> usize {
        self.lanes.load(Ordering::Acquire)
    }

    /// Requests waiting for answers and lanes in use now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire) + self.held.load(Ordering::Acquire)
    }

    /// How long the connection has had nothing to do (zero while busy).
    pub fn idle_for(&self) -> Duration {
        if self.busy() > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_used_ms.load(Ordering::Acquire));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Why the connection ended, if it did.
    pub fn why(&self) -> Option<Error> {
        lock(&self.why).clone()
    }

    /// The error for a request on a connection that ended.
    fn gone(&self) -> Error {
        self.why()
            .unwrap_or_else(|| Error::session(self.alias.to_string(), "the connection closed"))
    }

    fn touch(&self) {
        // Never 0: that means "not used yet".
        let ms = (self.opened.elapsed().as_millis() as u64).max(1);
        self.last_used_ms.store(ms, Ordering::Release);
    }

    /// Whether the connection may be closed to make room for another host's: connected,
    /// nothing to do, and either done with some work or left unused for a while. A connection
    /// still connecting, or just opened for work about to come (a broadcast opens every
    /// host's first), is not.
    pub fn evictable(&self) -> bool {
        self.is_connected()
            && self.busy() == 0
            && (self.last_used_ms.load(Ordering::Acquire) > 0
                || self.idle_for() >= Duration::from_secs(2))
    }

    fn end(&self, why: Error) {
        let mut slot = lock(&self.why);
        if slot.is_none() {
            *slot = Some(why);
        }
        drop(slot);
        self.alive.store(false, Ordering::Release);
        if let Some(release) = lock(&self.slot).take() {
            release();
        }
    }

    /// Gives the connection's place in the global count back now (it is being retired to make
    /// room): its thread finishes in the background.
    pub fn release_slot(&self) {
        if let Some(release) = lock(&self.slot).take() {
            release();
        }
    }
}

/// A reservation of one channel on a connection, held by whoever runs a command or transfer
/// there (the pool's lane). Counted in [`State::lanes`].
#[derive(Debug)]
pub struct LaneCount(Arc<State>);

impl LaneCount {
    /// Counts one more lane on `state`.
    pub fn new(state: &Arc<State>) -> LaneCount {
        state.lanes.fetch_add(1, Ordering::AcqRel);
        LaneCount(state.clone())
    }
}

impl Drop for LaneCount {
    fn drop(&mut self) {
        self.0.lanes.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// A lane in use by a caller (checked out of the pool). Counted in [`State::busy`].
#[derive(Debug)]
pub struct Held(Arc<State>);

impl Held {
    /// Counts one more lane in use on `state`.
    pub fn new(state: &Arc<State>) -> Held {
        state.held.fetch_add(1, Ordering::AcqRel);
        Held(state.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// The handle of a connection: requests go to its thread. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Conn {
    requests: Sender<Request>,
    wake: Arc<Wake>,
    /// What the pool reads.
    pub state: Arc<State>,
    /// Deadline for SFTP requests (the command timeout).
    request_timeout: Duration,
}

/// How a connection is made.
pub struct Spawn {
    /// The host.
    pub host: Arc<HostEntry>,
    /// Connect options (timeouts, known_hosts, jumps).
    pub connector: Arc<Connector>,
    /// Connects running at once across the process; waits for room before connecting.
    pub gate: Arc<Gate>,
    /// The process-wide id of this connection.
    pub id: u64,
    /// Given back when the connection ends (its place in the pool's count).
    pub release: Box<dyn FnOnce() + Send>,
    /// For `check`: the stages of the connect, sent when it is over.
    pub trace: Option<Sender<Trace>>,
    /// How long SFTP requests may wait for their answer.
    pub request_timeout: Duration,
}

impl Conn {
    /// Starts the connection's thread, which connects at once; requests queue until then.
    pub fn spawn(spawn: Spawn) -> Result<Arc<Conn>, Error> {
        let (requests, rx) = crossbeam_channel::unbounded();
        let wake = Arc::new(
            Wake::new()
                .map_err(|e| Error::io(format!("cannot make an eventfd: {e}")).with_source(e))?,
        );
        let state = Arc::new(State {
            alias: Arc::from(spawn.host.alias.as_str()),
            id: spawn.id,
            opened: Instant::now(),
            alive: AtomicBool::new(true),
            connected: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            channel_limit: AtomicUsize::new(DEFAULT_CHANNELS),
            lanes: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            last_used_ms: AtomicU64::new(0),
            why: Mutex::new(None),
            limits: OnceLock::new(),
            slot: Mutex::new(Some(spawn.release)),
        });
        let keepalive = session::keepalive_interval(&spawn.host, &spawn.connector.opts)
            .max(Duration::from_secs(1));
        let count = spawn.host.server_alive_count_max.unwrap_or(3).max(1);
        let (host, connector, gate, trace) =
            (spawn.host.clone(), spawn.connector, spawn.gate, spawn.trace);
        let (thread_state, thread_wake) = (state.clone(), wake.clone());
        let name = format!("scout-ssh-{}", spawn.host.alias);
        std::thread::Builder::new()
            .name(name)
            // Crypto and libssh2 need little stack; a fleet of connections needs many threads.
            .stack_size(256 << 10)
            .spawn(move || {
                // Built here: the session and its channels never leave this thread.
                Thread {
                    host,
                    connector,
                    gate,
                    trace,
                    state: thread_state,
                    rx,
                    wake: thread_wake,
                    session: None,
                    raw: None,
                    socket: None,
                    opening: None,
                    open_queue: VecDeque::new(),
                    open_channels: 0,
                    execs: Vec::new(),
                    control: None,
                    own: HashMap::new(),
                    spare: None,
                    closing: Vec::new(),
                    last_closed: None,
                    open_after: None,
                    next_own: 0,
                    last_heard: Instant::now(),
                    last_keepalive: Instant::now(),
                    keepalive,
                    silence_limit: keepalive * count,
                    retiring: false,
                    scratch: vec![0u8; SCRATCH],
                }
                .run()
            })
            .map_err(|e| {
                Error::io(format!("cannot start a connection thread: {e}")).with_source(e)
            })?;
        Ok(Arc::new(Conn {
            requests,
            wake,
            state,
            request_timeout: spawn.request_timeout,
        }))
    }

    fn send(&self, request: Request) -> bool {
        if self.requests.send(request).is_err() {
            return false;
        }
        self.wake.wake();
        true
    }

    fn ask<T>(&self, make: impl FnOnce(ReplyTo<T>) -> Request) -> Pending<T> {
        let (tx, rx) = bounded(1);
        self.state.busy.fetch_add(1, Ordering::AcqRel);
        self.state.touch();
        if !self.send(make(tx.clone())) {
            let _ = tx.send(Err(Failure::retryable(self.state.gone())));
        }
        Pending {
            rx,
            state: self.state.clone(),
        }
    }

    /// Runs a command; the answer arrives on the returned channel. The connection thread
    /// enforces `limits.timeout` and watches `control` for a cancel.
    pub fn exec_async(
        &self,
        command: String,
        limits: ExecLimits,
        control: Control,
    ) -> Pending<ExecOutput> {
        self.ask(|reply| {
            Request::Exec(
                ExecJob {
                    command,
                    limits,
                    control,
                    reply: Some(reply),
                },
                Instant::now(),
            )
        })
    }

    /// Runs a command and waits for its output (or a cancel: then `Error::cancelled()` at once,
    /// while the connection thread stops the command).
    pub fn exec(
        &self,
        command: &str,
        limits: &ExecLimits,
        control: &Control,
    ) -> Result<ExecOutput, Failure> {
        // The thread answers at the deadline itself; the margin covers a dead connection.
        let wait = limits.timeout + Duration::from_secs(10);
        let pending = self.exec_async(command.to_string(), limits.clone(), control.clone());
        pending.wait(wait, control, "command")
    }

    /// Sends an SFTP request; its answer arrives through the returned [`Pending`].
    pub fn sftp_async(&self, channel: SftpChannel, request: wire::Request) -> Pending<Reply> {
        SFTP_REQUESTS.fetch_add(1, Ordering::Relaxed);
        self.ask(|reply| Request::Sftp {
            channel,
            request,
            reply,
        })
    }

    /// Sends an SFTP request and waits for its answer (within the request timeout).
    pub fn sftp(
        &self,
        channel: SftpChannel,
        request: wire::Request,
        control: &Control,
    ) -> Result<Reply, Failure> {
        self.sftp_async(channel, request)
            .wait(self.request_timeout, control, "SFTP request")
    }

    /// How long SFTP requests may wait for their answer.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// What the SFTP server of `channel` offers (starts the shared channel's SFTP if needed).
    pub fn sftp_info(
        &self,
        channel: SftpChannel,
        control: &Control,
    ) -> Result<ServerInfo, Failure> {
        self.ask(|reply| Request::Info { channel, reply }).wait(
            self.request_timeout,
            control,
            "SFTP start",
        )
    }

    /// Opens an SFTP channel for one transfer (the caller holds a lane for it); closed with
    /// [`Conn::close_sftp`].
    pub fn open_sftp(&self, control: &Control) -> Result<SftpChannel, Failure> {
        let channel =
            self.ask(Request::OpenSftp)
                .wait(self.request_timeout, control, "SFTP channel open")?;
        // The channel itself keeps the connection busy until it is closed.
        self.state.busy.fetch_add(1, Ordering::AcqRel);
        Ok(channel)
    }

    /// Closes a channel from [`Conn::open_sftp`].
    pub fn close_sftp(&self, channel: SftpChannel) {
        if let SftpChannel::Own(id) = channel {
            self.send(Request::CloseSftp(id));
            self.state.busy.fetch_sub(1, Ordering::AcqRel);
            self.state.touch();
        }
    }

    /// Finishes what runs, then disconnects; takes no new work.
    pub fn retire(&self) {
        self.state.retiring.store(true, Ordering::Release);
        self.send(Request::Retire);
    }
}

/// An answer on its way from a connection thread. Counts as work in progress on the
/// connection until it is taken or dropped.
#[derive(Debug)]
pub struct Pending<T> {
    rx: Receiver<Result<T, Failure>>,
    state: Arc<State>,
}

impl<T> Pending<T> {
    /// The answer if it has come.
    pub fn try_take(&self) -> Option<Result<T, Failure>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Some(Err(Failure::retryable(self.state.gone())))
            }
        }
    }

    /// Waits for the answer, at most `wait`; gives up at once when `control` is cancelled
    /// (checked every 100 ms).
    pub fn wait(self, wait: Duration, control: &Control, what: &str) -> Result<T, Failure> {
        let deadline = Instant::now() + wait;
        loop {
            if control.is_cancelled() {
                return Err(Failure::from(Error::cancelled()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Failure::from(Error::timeout(
                    self.state.alias.to_string(),
                    format!("{what} (no answer on the connection)"),
                    wait,
                )));
            }
            match self.rx.recv_timeout((deadline - now).min(TICK)) {
                Ok(result) => return result,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Failure::retryable(self.state.gone()))
                }
            }
        }
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        self.state.busy.fetch_sub(1, Ordering::AcqRel);
        self.state.touch();
    }
}

/// A counting semaphore: connects under way across the process (a burst to 500 hosts must
/// not start 500 handshakes at once; sshd drops connections beyond `MaxStartups`).
#[derive(Debug)]
pub struct Gate {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Gate {
    /// `n` connects at once.
    pub fn new(n: usize) -> Arc<Gate> {
        Arc::new(Gate {
            free: Mutex::new(n.max(1)),
            freed: std::sync::Condvar::new(),
        })
    }

    /// Waits for room until `deadline`; the returned guard gives it back.
    fn enter(&self, deadline: Instant) -> Option<GatePass<'_>> {
        let mut free = lock(&self.free);
        while *free == 0 {
            let left = deadline.checked_duration_since(Instant::now())?;
            free = self
                .freed
                .wait_timeout(free, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        *free -= 1;
        Some(GatePass(self))
    }
}

struct GatePass<'a>(&'a Gate);

impl Drop for GatePass<'_> {
    fn drop(&mut self) {
        *lock(&self.0.free) += 1;
        self.0.freed.notify_one();
    }
}

/// An eventfd: written by callers after queueing a request, polled by the thread.
#[derive(Debug)]
struct Wake(OwnedFd);

impl Wake {
    fn new() -> std::io::Result<Wake> {
        // SAFETY: eventfd with valid flags; the descriptor is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: just created, owned by nobody else.
        Ok(Wake(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd (non-blocking; a full counter
        // only means a wake-up is pending already).
        unsafe {
            libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    fn clear(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 (non-blocking).
        unsafe {
            libc::read(self.0.as_raw_fd(), (&mut n as *mut u64).cast(), 8);
        }
    }
}

/// Why a channel is being opened. libssh2 opens one channel at a time per session.
enum Purpose {
    Control,
    Exec(ExecJob, Instant),
    OwnSftp(u64, ReplyTo<SftpChannel>),
    /// A fire-and-forget command (the pid-based kill of a stopped command).
    Side(String),
}

impl Purpose {
    fn window(&self) -> u32 {
        match self {
            Purpose::Control => SFTP_WINDOW,
            Purpose::OwnSftp(..) => TRANSFER_WINDOW,
            Purpose::Exec(..) | Purpose::Side(_) => EXEC_WINDOW,
        }
    }

    /// The connection could not open the channel: the caller hears why.
    fn fail(self, failure: Failure) {
        match self {
            Purpose::Exec(mut job, _) => {
                if let Some(reply) = job.reply.take() {
                    let _ = reply.try_send(Err(failure));
                }
            }
            Purpose::OwnSftp(_, reply) => {
                let _ = reply.try_send(Err(failure));
            }
            Purpose::Control | Purpose::Side(_) => {}
        }
    }
}

/// An SFTP channel: its stream of requests out and replies in.
struct SftpChan {
    channel: Option<RawChannel>,
    phase: SftpPhase,
    out: Outgoing,
    framer: Framer,
    next_id: u32,
    pending: HashMap<u32, ReplyTo<Reply>>,
    /// Requests waiting for the channel to be ready.
    queued: VecDeque<(wire::Request, ReplyTo<Reply>)>,
    info: Option<ServerInfo>,
    info_waiters: Vec<ReplyTo<ServerInfo>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SftpPhase {
    /// A bare session channel (the control channel before any SFTP request).
    Bare,
    /// `subsystem sftp` sent.
    Subsystem,
    /// `INIT` sent, waiting for `VERSION`.
    Init,
    Ready,
}

impl SftpChan {
    fn new(channel: RawChannel, phase: SftpPhase) -> SftpChan {
        SftpChan {
            channel: Some(channel),
            phase,
            out: Outgoing::default(),
            framer: Framer::default(),
            next_id: 0,
            pending: HashMap::new(),
            queued: VecDeque::new(),
            info: None,
            info_waiters: Vec::new(),
        }
    }

    fn wants_sftp(&self) -> bool {
        !self.queued.is_empty() || !self.info_waiters.is_empty()
    }

    fn is_busy(&self) -> bool {
        self.wants_sftp() || !self.pending.is_empty() || !self.out.is_empty()
    }

    /// Fails every request waiting on this channel.
    fn fail_all(&mut self, failure: &Failure, unsent_retry: bool) {
        for (_, reply) in self.pending.drain() {
            let _ = reply.try_send(Err(failure.clone()));
        }
        let unsent = Failure {
            retry: unsent_retry,
            ..failure.clone()
        };
        for (_, reply) in self.queued.drain(..) {
            let _ = reply.try_send(Err(unsent.clone()));
        }
        for reply in self.info_waiters.drain(..) {
            let _ = reply.try_send(Err(unsent.clone()));
        }
    }

    /// Advances the channel: start SFTP if asked, send what is queued, route replies.
    /// `Err` breaks the channel (its stream can no longer be trusted).
    ///
    /// `pump`: no other channel is being read this turn, so this one must be, for libssh2 to
    /// take the session's packets (keepalive answers) off the socket. Otherwise a channel with
    /// nothing asked of it is not read: a read that finds nothing still costs a system call.
    fn drive(&mut self, pump: bool) -> Result<bool, ChanError> {
        let wants_sftp = self.wants_sftp();
        let asked = self.is_busy();
        let Some(channel) = self.channel.as_mut() else {
            return Ok(false);
        };
        let mut moved = false;
        if self.phase == SftpPhase::Bare {
            if !wants_sftp {
                if !pump {
                    return Ok(false);
                }
                // Nothing ever comes on the bare control channel.
                return match channel.read(0, &mut [0u8; 64]) {
                    Ok(_) => Ok(false),
                    Err(e) => Err(ChanError::Raw(e)),
                };
            }
            self.phase = SftpPhase::Subsystem;
        }
        if self.phase == SftpPhase::Ready && !pump && !asked {
            return Ok(false);
        }
        if self.phase == SftpPhase::Subsystem {
            match channel.start("subsystem", "sftp").map_err(ChanError::Raw)? {
                Step::Again => return Ok(false),
                Step::Done(()) => {
                    self.out.push(wire::init_packet());
                    self.phase = SftpPhase::Init;
                    moved = true;
                }
            }
        }
        if self.phase == SftpPhase::Ready {
            while let Some((request, reply)) = self.queued.pop_front() {
                self.next_id = self.next_id.wrapping_add(1);
                self.out.push(request.into_packet(self.next_id));
                self.pending.insert(self.next_id, reply);
                moved = true;
            }
        }
        moved |= self.out.flush(channel).map_err(ChanError::Raw)?;
        moved |= self.receive()?;
        Ok(moved)
    }

    fn receive(&mut self) -> Result<bool, ChanError> {
        let mut moved = false;
        loop {
            let Some(channel) = self.channel.as_mut() else {
                return Ok(moved);
            };
            let buf = self.framer.buffer();
            let n = match channel.read(0, buf).map_err(ChanError::Raw)? {
                Step::Again => 0,
                Step::Done(n) => n,
            };
            let packet = self.framer.filled(n).map_err(|g| ChanError::Garbled(g.0))?;
            if n == 0 {
                if channel.eof() {
                    return Err(ChanError::Closed);
                }
                return Ok(moved);
            }
            moved = true;
            if let Some(packet) = packet {
                self.route(packet)?;
            }
        }
    }

    fn route(&mut self, packet: Vec<u8>) -> Result<(), ChanError> {
        if self.phase == SftpPhase::Init {
            let info = ServerInfo::parse(&packet).map_err(|g| ChanError::Garbled(g.0))?;
            for reply in self.info_waiters.drain(..) {
                let _ = reply.try_send(Ok(info.clone()));
            }
            self.info = Some(info);
            self.phase = SftpPhase::Ready;
            return Ok(());
        }
        let reply = Reply::new(packet).map_err(|g| ChanError::Garbled(g.0))?;
        match self.pending.remove(&reply.id()) {
            // The caller may have stopped waiting (a close whose answer nobody needs).
            Some(to) => {
                let _ = to.try_send(Ok(reply));
                Ok(())
            }
            None => Err(ChanError::Garbled(format!(
                "an answer to request {} that was never sent (or answered twice)",
                reply.id()
            ))),
        }
    }
}

/// Why an SFTP channel broke.
enum ChanError {
    Raw(RawError),
    Garbled(String),
    Closed,
}

/// Packets to send on a channel, in order. A write that would block is repeated with the
/// very same bytes at the same address before anything else: the packet at the front never
/// moves or grows until it is sent; new packets join at the back (small ones coalesce there,
/// so a burst of small requests leaves in few SSH packets).
#[derive(Default)]
struct Outgoing {
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front packet already sent.
    start: usize,
}

/// Small packets join the last queued one up to this size.
const COALESCE: usize = 32 << 10;

impl Outgoing {
    fn push(&mut self, packet: Vec<u8>) {
        if self.queue.len() >= 2 {
            if let Some(back) = self.queue.back_mut() {
                if back.len() + packet.len() <= COALESCE {
                    back.extend_from_slice(&packet);
                    crate::ssh::sftp::buffers::give(packet);
                    return;
                }
            }
        }
        self.queue.push_back(packet);
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Writes what the channel takes; true if anything went.
    fn flush(&mut self, channel: &mut RawChannel) -> Result<bool, RawError> {
        let mut moved = false;
        while let Some(front) = self.queue.front() {
            match channel.write(&front[self.start..])? {
                Step::Again => return Ok(moved),
                Step::Done(n) => {
                    moved = true;
                    self.start += n;
                    if self.start == front.len() {
                        self.start = 0;
                        if let Some(sent) = self.queue.pop_front() {
                            crate::ssh::sftp::buffers::give(sent);
                        }
                    }
                }
            }
        }
        Ok(moved)
    }
}

/// libssh2 error codes that mean the connection itself is gone (not just one channel).
fn is_transport_error(e: &RawError) -> bool {
    use libssh2_sys as raw;
    ![
        raw::LIBSSH2_ERROR_CHANNEL_OUTOFORDER,
        raw::LIBSSH2_ERROR_CHANNEL_FAILURE,
        raw::LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED,
        raw::LIBSSH2_ERROR_CHANNEL_UNKNOWN,
        raw::LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED,
        raw::LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED,
        raw::LIBSSH2_ERROR_CHANNEL_CLOSED,
        raw::LIBSSH2_ERROR_CHANNEL_EOF_SENT,
        raw::LIBSSH2_ERROR_CHANNEL_WINDOW_FULL,
        raw::LIBSSH2_ERROR_BAD_USE,
        raw::LIBSSH2_ERROR_ALLOC,
    ]
    .contains(&e.code)
}

/// The connection's thread.
struct Thread {
    host: Arc<HostEntry>,
    connector: Arc<Connector>,
    gate: Arc<Gate>,
    trace: Option<Sender<Trace>>,
    state: Arc<State>,
    rx: Receiver<Request>,
    wake: Arc<Wake>,
    // Field order matters on drop: channels before the session (see `finish`).
    session: Option<ssh2::Session>,
    raw: Option<SessionPtr>,
    socket: Option<Transport>,
    opening: Option<Purpose>,
    open_queue: VecDeque<Purpose>,
    /// Channels open now, the control channel included (not counting one being opened).
    open_channels: usize,
    execs: Vec<Exec>,
    control: Option<SftpChan>,
    own: HashMap<u64, SftpChan>,
    /// A transfer channel kept after its transfer, for the next one (no open, no SFTP start).
    spare: Option<SftpChan>,
    /// Channels being closed (see `free_channel`).
    closing: Vec<(RawChannel, Instant)>,
    /// When a close last finished: the server may still count that channel for a moment.
    last_closed: Option<Instant>,
    /// No channel open is tried before this (after a refusal that was the server catching up).
    open_after: Option<Instant>,
    next_own: u64,
    last_heard: Instant,
    last_keepalive: Instant,
    keepalive: Duration,
    silence_limit: Duration,
    retiring: bool,
    scratch: Vec<u8>,
}

impl Thread {
    fn run(mut self) {
        if let Err(e) = self.connect() {
            self.die(e);
            return;
        }
        self.state.connected.store(true, Ordering::Release);
        self.queue_open(Purpose::Control);
        let why = self.serve();
        self.finish(why);
    }

    /// Transport, handshake, host key, auth — blocking, within the connect timeout — then the
    /// session goes non-blocking.
    fn connect(&mut self) -> Result<(), Error> {
        let limit = session::connect_limit(&self.host, &self.connector.opts);
        let deadline = Instant::now() + limit;
        let mut trace = if self.trace.is_some() {
            Trace::on()
        } else {
            Trace::off()
        };
        let result = match self.gate.enter(deadline) {
            None => Err(Error::timeout(
                self.host.alias.clone(),
                format!(
                    "waiting to connect (too many connects under way; {})",
                    self.host.connect_limit_name()
                ),
                limit,
            )),
            Some(_pass) => self.connector.establish(&self.host, &mut trace),
        };
        if let Some(to) = self.trace.take() {
            let _ = to.send(trace);
        }
        let established = result?;
        let raw = SessionPtr::of(&established.session)
            .ok_or_else(|| Error::session(self.host.alias.clone(), "libssh2 gave no session"))?;
        established.session.set_blocking(false);
        // want-reply: the server answers, so silence can be told from an idle connection.
        established
            .session
            .set_keepalive(true, self.keepalive.as_secs().clamp(1, 3600) as u32);
        self.raw = Some(raw);
        self.socket = Some(established.socket);
        self.session = Some(established.session);
        self.last_heard = Instant::now();
        Ok(())
    }

    /// The loop: requests in, channels driven, then `poll(2)`. Returns why it stopped.
    fn serve(&mut self) -> Option<Error> {
        let mut spins = 0;
        loop {
            if let Some(why) = self.take_requests() {
                return Some(why);
            }
            let now = Instant::now();
            let moved = match self.drive(now) {
                Ok(moved) => moved,
                Err(why) => return Some(why),
            };
            if self.retiring && self.is_idle() {
                return None;
            }
            if moved {
                self.last_heard = self.last_heard.max(now);
                spins = 0;
                continue;
            }
            // Data for one channel may have been taken off the socket while serving another:
            // it waits in libssh2 where poll cannot see it.
            if spins < 2 && self.data_queued() {
                spins += 1;
                continue;
            }
            spins = 0;
            if let Some(why) = self.liveness(now) {
                return Some(why);
            }
            if let Err(why) = self.wait(self.next_wake(now)) {
                return Some(why);
            }
        }
    }

    fn take_requests(&mut self) -> Option<Error> {
        self.wake.clear();
        while let Ok(request) = self.rx.try_recv() {
            match request {
                Request::Exec(job, at) => {
                    if self.retiring {
                        Purpose::Exec(job, at).fail(Failure::retryable(self.closing_error()));
                    } else {
                        self.queue_open(Purpose::Exec(job, at));
                    }
                }
                Request::Sftp {
                    channel,
                    request,
                    reply,
                } => self.sftp_request(channel, request, reply),
                Request::Info { channel, reply } => self.info_request(channel, reply),
                Request::OpenSftp(reply) => {
                    self.next_own += 1;
                    let id = self.next_own;
                    match self.spare.take() {
                        Some(chan) if reply.try_send(Ok(SftpChannel::Own(id))).is_ok() => {
                            self.own.insert(id, chan);
                        }
                        Some(chan) => self.spare = Some(chan),
                        None => self.queue_open(Purpose::OwnSftp(id, reply)),
                    }
                }
                Request::CloseSftp(id) => {
                    if let Some(mut chan) = self.own.remove(&id) {
                        // A healthy channel is kept for the next transfer. Answers still due
                        // (a close nobody waits for) go to their own requests: ids never repeat.
                        let healthy = chan.phase == SftpPhase::Ready;
                        if healthy && self.spare.is_none() && !self.retiring {
                            self.spare = Some(chan);
                        } else {
                            let failure = Failure::from(self.closing_error());
                            chan.fail_all(&failure, false);
                            self.free_channel(chan.channel.take());
                        }
                    }
                }
                Request::Retire => self.retiring = true,
            }
        }
        None
    }

    fn closing_error(&self) -> Error {
        Error::session(self.host.alias.clone(), "the connection is closing")
    }

    fn sftp_request(
        &mut self,
        channel: SftpChannel,
        request: wire::Request,
        reply: ReplyTo<Reply>,
    ) {
        match self.sftp_chan(channel) {
            Some(chan) => chan.queued.push_back((request, reply)),
            None => {
                let _ = reply.try_send(Err(self.no_channel(channel)));
            }
        }
    }

    fn info_request(&mut self, channel: SftpChannel, reply: ReplyTo<ServerInfo>) {
        let failure = self.no_channel(channel);
        match self.sftp_chan(channel) {
            Some(chan) => match &chan.info {
                Some(info) => {
                    let _ = reply.try_send(Ok(info.clone()));
                }
                None => chan.info_waiters.push(reply),
            },
            None => {
                let _ = reply.try_send(Err(failure));
            }
        }
    }

    fn no_channel(&self, channel: SftpChannel) -> Failure {
        Failure::retryable(Error::session(
            self.host.alias.clone(),
            format!("no SFTP channel {channel:?} on this connection"),
        ))
    }

    /// The SFTP channel a request goes to; for the shared one, opening a new control channel
    /// if the last one broke.
    fn sftp_chan(&mut self, channel: SftpChannel) -> Option<&mut SftpChan> {
        match channel {
            SftpChannel::Own(id) => self.own.get_mut(&id),
            SftpChannel::Shared => {
                if self.control.is_none() && !self.control_opening() {
                    self.queue_open(Purpose::Control);
                }
                if self.control.is_none() {
                    // Requests wait in a placeholder until the channel is open.
                    self.control = Some(SftpChan {
                        channel: None,
                        phase: SftpPhase::Bare,
                        ..SftpChan::placeholder()
                    });
                }
                self.control.as_mut()
            }
        }
    }

    fn control_opening(&self) -> bool {
        matches!(self.opening, Some(Purpose::Control))
            || self
                .open_queue
                .iter()
                .any(|p| matches!(p, Purpose::Control))
    }

    fn queue_open(&mut self, purpose: Purpose) {
        // The control channel goes first: SFTP requests wait for it.
        if matches!(purpose, Purpose::Control) {
            self.open_queue.push_front(purpose);
        } else {
            self.open_queue.push_back(purpose);
        }
    }

    /// One pass over everything: channel opens, the SFTP channels, the commands.
    fn drive(&mut self, now: Instant) -> Result<bool, Error> {
        let mut moved = self.drive_closing(now);
        moved |= self.drive_open(now)?;
        let mut broken: Option<(SftpChannel, ChanError)> = None;
        // Someone must read for the session: the commands and transfers do when there are any.
        let others = !self.execs.is_empty() || !self.own.is_empty();
        if let Some(chan) = self.control.as_mut() {
            match chan.drive(!others) {
                Ok(m) => moved |= m,
                Err(e) => broken = Some((SftpChannel::Shared, e)),
            }
        }
        if let Some(chan) = self.spare.as_mut() {
            if chan.drive(false).is_err() {
                let chan = self.spare.take();
                self.free_channel(chan.and_then(|mut c| c.channel.take()));
                moved = true;
            }
        }
        if broken.is_none() {
            for (id, chan) in self.own.iter_mut() {
                match chan.drive(true) {
                    Ok(m) => moved |= m,
                    Err(e) => {
                        broken = Some((SftpChannel::Own(*id), e));
                        break;
                    }
                }
            }
        }
        if let Some((which, e)) = broken {
            self.break_sftp(which, e)?;
            moved = true;
        }
        moved |= self.drive_execs(now)?;
        Ok(moved)
    }

    fn break_sftp(&mut self, which: SftpChannel, e: ChanError) -> Result<(), Error> {
        let chan = match which {
            SftpChannel::Shared => self.control.take(),
            SftpChannel::Own(id) => self.own.remove(&id),
        };
        let message = match &e {
            ChanError::Raw(raw) => format!("SFTP channel failed: {}", raw.message),
            ChanError::Garbled(what) => format!("SFTP protocol error: {what}"),
            ChanError::Closed => "the server closed the SFTP channel".into(),
        };
        match &e {
            // The libssh2 code tells a read error from a decrypt or protocol error.
            ChanError::Raw(raw) => {
                log::info!(
                    "{}: {message} (libssh2 error {})",
                    self.host.alias,
                    raw.code
                )
            }
            _ => log::info!("{}: {message}", self.host.alias),
        }
        let error = Error::session(self.host.alias.clone(), message.clone());
        // A transport error ends the connection: the requests on the channel died with it.
        let lost = matches!(&e, ChanError::Raw(raw) if is_transport_error(raw));
        if let Some(mut chan) = chan {
            let failure = Failure::from(error.clone());
            chan.fail_all(&if lost { failure.lost() } else { failure }, false);
            self.free_channel(chan.channel.take());
        }
        if which == SftpChannel::Shared && !self.control_opening() {
            // The control channel is what takes the server's packets off the socket when
            // nothing else runs: there must always be one.
            self.queue_open(Purpose::Control);
        }
        match e {
            ChanError::Raw(raw) if is_transport_error(&raw) => Err(error),
            _ => Ok(()),
        }
    }

    /// Advances the channel open under way, or starts the next one when there is room.
    fn drive_open(&mut self, now: Instant) -> Result<bool, Error> {
        let Some(raw) = self.raw else {
            return Ok(false);
        };
        if self.opening.is_none() {
            if self.open_after.is_some_and(|t| now < t) {
                return Ok(false);
            }
            self.open_after = None;
            let limit = self.state.channel_limit.load(Ordering::Acquire);
            if self.open_channels >= limit && !self.open_queue.is_empty() {
                // The kept transfer channel gives its place to work that needs one.
                if let Some(mut spare) = self.spare.take() {
                    self.free_channel(spare.channel.take());
                }
            }
            if self.open_channels >= limit || self.open_queue.is_empty() {
                return Ok(false);
            }
            self.opening = self.open_queue.pop_front();
        }
        let Some(purpose) = self.opening.as_ref() else {
            return Ok(false);
        };
        if let Purpose::Exec(job, _) = purpose {
            if job.control.is_cancelled() {
                // Cancelled while queued (its caller stopped waiting): never opened.
                self.opening = None;
                return Ok(true);
            }
        }
        match raw.open_session(purpose.window()) {
            Ok(Step::Again) => Ok(false),
            Ok(Step::Done(channel)) => {
                self.open_channels += 1;
                let purpose = self.opening.take();
                self.opened(purpose, channel, now);
                Ok(true)
            }
            Err(e) if e.is_open_refused() && self.open_channels > 0 => {
                if self
                    .last_closed
                    .is_some_and(|t| now.duration_since(t) < RECENT_CLOSE)
                {
                    // sshd frees a closed channel's session only after the packets that came
                    // with our close, an open among them: its refusal then says nothing about
                    // its limit. Try again in a moment.
                    self.open_after = Some(now + RETRY_OPEN);
                } else {
                    // The server's MaxSessions: this many channels is the connection's limit.
                    // The open waits for one to close; the pool moves new work elsewhere.
                    self.state
                        .channel_limit
                        .store(self.open_channels, Ordering::Release);
                    log::info!(
                        "{}: the server refused channel {}; limiting this connection to {}",
                        self.host.alias,
                        self.open_channels + 1,
                        self.open_channels
                    );
                    if self.open_channels < 2 {
                        // Only the control channel: the refusal may have outlived
                        // `RECENT_CLOSE`; keep trying, slowly, rather than wait for a close
                        // that cannot come.
                        self.open_after = Some(now + RETRY_OPEN * 5);
                        self.state.channel_limit.store(2, Ordering::Release);
                    }
                }
                if let Some(purpose) = self.opening.take() {
                    self.open_queue.push_front(purpose);
                }
                Ok(true)
            }
            Err(e) => {
                let error = Error::session(
                    self.host.alias.clone(),
                    format!("cannot open a channel: {}", e.message),
                );
                if let Some(purpose) = self.opening.take() {
                    if matches!(purpose, Purpose::Control) {
                        if let Some(mut chan) = self.control.take() {
                            chan.fail_all(&Failure::retryable(error.clone()), true);
                        }
                    }
                    purpose.fail(Failure::retryable(error.clone()));
                }
                if is_transport_error(&e) {
                    return Err(error);
                }
                Ok(true)
            }
        }
    }

    fn opened(&mut self, purpose: Option<Purpose>, channel: RawChannel, now: Instant) {
        match purpose {
            Some(Purpose::Control) => {
                let mut chan = SftpChan::new(channel, SftpPhase::Bare);
                if let Some(waiting) = self.control.take() {
                    chan.queued = waiting.queued;
                    chan.info_waiters = waiting.info_waiters;
                }
                self.control = Some(chan);
            }
            Some(Purpose::Exec(job, at)) => {
                self.execs
                    .push(Exec::new(job, self.state.alias.clone(), channel, at));
            }
            Some(Purpose::OwnSftp(id, reply)) => {
                if reply.try_send(Ok(SftpChannel::Own(id))).is_ok() {
                    self.own
                        .insert(id, SftpChan::new(channel, SftpPhase::Subsystem));
                } else {
                    self.free_channel(Some(channel));
                }
            }
            Some(Purpose::Side(command)) => {
                let job = ExecJob {
                    command,
                    limits: ExecLimits {
                        timeout: Duration::from_secs(10),
                        max_output: 0,
                        remote: RemoteLimits::NONE,
                    },
                    control: Control::new(),
                    reply: None,
                };
                self.execs
                    .push(Exec::new(job, self.state.alias.clone(), channel, now));
            }
            None => self.free_channel(Some(channel)),
        }
    }

    fn drive_execs(&mut self, now: Instant) -> Result<bool, Error> {
        let mut moved = false;
        let mut i = 0;
        let mut dead: Option<Error> = None;
        while i < self.execs.len() {
            let turn = self.execs[i].drive(now, &mut self.scratch);
            match turn {
                Turn::Idle => i += 1,
                Turn::Moved => {
                    moved = true;
                    i += 1;
                }
                Turn::SideCommand(command) => {
                    moved = true;
                    self.queue_open(Purpose::Side(command));
                    i += 1;
                }
                Turn::Finished | Turn::Failed(_) => {
                    moved = true;
                    let exec = self.execs.swap_remove(i);
                    if let Turn::Failed(e) = &turn {
                        if is_transport_error(e) {
                            dead = Some(Error::session(
                                self.host.alias.clone(),
                                format!("connection lost: {}", e.message),
                            ));
                        }
                    }
                    self.free_channel(Some(exec.into_channel()));
                    self.state.touch();
                }
            }
        }
        match dead {
            Some(e) => Err(e),
            None => Ok(moved),
        }
    }

    /// Closes a channel without waiting: it stays counted (the server counts it until its
    /// close is answered) and is freed once the close is through, or after [`CLOSE_WAIT`].
    fn free_channel(&mut self, channel: Option<RawChannel>) {
        if let Some(channel) = channel {
            self.closing.push((channel, Instant::now() + CLOSE_WAIT));
        }
    }

    /// Advances the closes under way; true if one finished.
    fn drive_closing(&mut self, now: Instant) -> bool {
        let before = self.closing.len();
        self.closing.retain_mut(|(channel, give_up)| {
            let done = !matches!(channel.close(), Ok(Step::Again));
            // A close the server never answers must not be waited for forever: the channel is
            // freed anyway (libssh2 ignores its late answer).
            !done && now < *give_up
        });
        let freed = before - self.closing.len();
        self.open_channels = self.open_channels.saturating_sub(freed);
        if freed > 0 {
            self.last_closed = Some(now);
        }
        freed > 0
    }

    fn is_idle(&self) -> bool {
        self.closing.is_empty()
            && self.execs.is_empty()
            && self.opening.is_none()
            && self
                .open_queue
                .iter()
                .all(|p| matches!(p, Purpose::Control))
            && self.own.is_empty()
            && self.control.as_ref().is_none_or(|c| !c.is_busy())
    }

    fn data_queued(&self) -> bool {
        let queued = |c: &Option<RawChannel>| c.as_ref().is_some_and(|c| c.queued() > 0);
        self.control.as_ref().is_some_and(|c| queued(&c.channel))
            || self.spare.as_ref().is_some_and(|c| queued(&c.channel))
            || self.own.values().any(|c| queued(&c.channel))
            || self.execs.iter().any(Exec::queued)
    }

    /// Keepalives after silence; the end of the connection after too much of it.
    fn liveness(&mut self, now: Instant) -> Option<Error> {
        let silent = now.saturating_duration_since(self.last_heard);
        if silent >= self.silence_limit {
            return Some(Error::session(
                self.host.alias.clone(),
                format!(
                    "no answer from the server for {} s (ServerAliveInterval {} s × \
                     ServerAliveCountMax {}): the host or the network is down",
                    silent.as_secs(),
                    self.keepalive.as_secs(),
                    (self.silence_limit.as_secs() / self.keepalive.as_secs().max(1)).max(1)
                ),
            ));
        }
        if silent >= self.keepalive && now.duration_since(self.last_keepalive) >= self.keepalive {
            self.last_keepalive = now;
            // Only on a writable socket: a keepalive cut halfway by a full socket would hold
            // up every later packet.
            if self.socket_writable() {
                if let Some(session) = &self.session {
                    let _ = session.keepalive_send();
                }
            }
        }
        None
    }

    fn socket_writable(&self) -> bool {
        let Some(fd) = self.socket_fd() else {
            return false;
        };
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd; poll writes only `revents`; zero timeout.
        unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLOUT != 0 }
    }

    fn socket_fd(&self) -> Option<RawFd> {
        self.socket.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// When the thread must turn next without the socket or a request waking it.
    fn next_wake(&self, now: Instant) -> Duration {
        let mut wake = now + self.keepalive.min(self.silence_limit);
        if self.last_heard + self.silence_limit > now {
            wake = wake.min(self.last_heard + self.silence_limit);
        }
        for exec in &self.execs {
            wake = wake.min(exec.next_deadline());
            if exec.cancellable() {
                wake = wake.min(now + TICK);
            }
        }
        if let Some(Purpose::Exec(..)) | Some(Purpose::OwnSftp(..)) = &self.opening {
            wake = wake.min(now + TICK);
        }
        if let Some(at) = self.open_after {
            wake = wake.min(at);
        }
        if !self.open_queue.is_empty() {
            wake = wake.min(now + TICK);
        }
        wake.saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    /// Waits for the socket, the wake-up descriptor, or `timeout`.
    fn wait(&mut self, timeout: Duration) -> Result<(), Error> {
        let Some(fd) = self.socket_fd() else {
            return Ok(());
        };
        let (read, write) = self.raw.map_or((true, false), SessionPtr::block_directions);
        // Read unless only a write is blocked; the server's packets must be taken in.
        let mut events = libc::POLLIN;
        if write && !read {
            events = libc::POLLIN | libc::POLLOUT;
        } else if write {
            events |= libc::POLLOUT;
        }
        let mut fds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.wake.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = timeout.as_millis().clamp(1, 60_000) as libc::c_int;
        // SAFETY: `fds` is a live array of two pollfds; poll writes only `revents`.
        unsafe {
            libc::poll(fds.as_mut_ptr(), 2, ms);
        }
        let revents = fds[0].revents;
        if revents & libc::POLLIN != 0 {
            self.last_heard = Instant::now();
        }
        if revents & (libc::POLLERR | libc::POLLNVAL) != 0
            || (revents & libc::POLLHUP != 0 && revents & libc::POLLIN == 0)
        {
            return Err(Error::session(
                self.host.alias.clone(),
                "the connection was closed by the server or the network",
            ));
        }
        Ok(())
    }

    /// Ends the connection: every caller hears `why`; the session is closed (politely when
    /// it is healthy, by shutting the socket down when not).
    fn finish(mut self, why: Option<Error>) {
        let healthy = why.is_none();
        let error = why.unwrap_or_else(|| self.closing_error());
        if !healthy {
            log::info!("{}: connection ended: {error}", self.host.alias);
            // Every libssh2 call below fails at once instead of waiting on a dead peer.
            if let Some(socket) = &self.socket {
                socket.shutdown();
            }
        }
        self.retiring = true;
        self.fail_everything(&error);
        if healthy {
            if let Some(session) = &self.session {
                // The goodbye closes every channel on the server's side; freeing them below
                // then sends nothing more.
                session.set_blocking(true);
                session.set_timeout(1000);
                let _ = session.disconnect(None, "scout-mcp closing", None);
            }
        }
        // Channels go before the session.
        self.execs.clear();
        self.control = None;
        self.own.clear();
        self.spare = None;
        self.closing.clear();
        drop(self.session.take());
        // Ended only now: whoever waits for the connection to close knows it said goodbye.
        self.state.end(error);
        log::debug!("{}: connection closed", self.host.alias);
    }

    /// The connect failed: callers waiting hear why.
    fn die(mut self, why: Error) {
        log::info!("{}: {why}", self.host.alias);
        self.state.end(why.clone());
        self.fail_everything(&why);
    }

    fn fail_everything(&mut self, why: &Error) {
        // Whatever had not reached the server may go elsewhere; whatever was under way died
        // with the connection.
        let unsent = Failure::retryable(why.clone()).lost();
        let sent = Failure::from(why.clone()).lost();
        if let Some(purpose) = self.opening.take() {
            purpose.fail(unsent.clone());
        }
        for purpose in self.open_queue.drain(..) {
            purpose.fail(unsent.clone());
        }
        for exec in self.execs.drain(..) {
            exec.fail(sent.clone());
        }
        if let Some(chan) = self.control.as_mut() {
            chan.fail_all(&sent, true);
        }
        for chan in self.own.values_mut() {
            chan.fail_all(&sent, true);
        }
        while let Ok(request) = self.rx.try_recv() {
            match request {
                Request::Exec(job, at) => Purpose::Exec(job, at).fail(unsent.clone()),
                Request::Sftp { reply, .. } => {
                    let _ = reply.try_send(Err(unsent.clone()));
                }
                Request::Info { reply, .. } => {
                    let _ = reply.try_send(Err(unsent.clone()));
                }
                Request::OpenSftp(reply) => {
                    let _ = reply.try_send(Err(unsent.clone()));
                }
                Request::CloseSftp(_) | Request::Retire => {}
            }
        }
    }
}

impl SftpChan {
    fn placeholder() -> SftpChan {
        SftpChan {
            channel: None,
            phase: SftpPhase::Bare,
            out: Outgoing::default(),
            framer: Framer::default(),
            next_id: 0,
            pending: HashMap::new(),
            queued: VecDeque::new(),
            info: None,
            info_waiters: Vec::new(),
        }
    }
}
