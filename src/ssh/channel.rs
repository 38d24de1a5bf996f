//! libssh2's channels, called directly, for the one thread that owns a connection.
//!
//! The `ssh2` crate wraps channels too, but hides the raw channel, and with it the one request
//! scout needs that it does not offer: `signal` (RFC 4254 §6.9), which stops a remote command's
//! whole process group without opening a second channel (OpenSSH answers it with `killpg`).
//! So the connection thread ([`super::mux`]) drives libssh2's public channel API itself, always
//! in non-blocking mode: every call returns at once, [`Step::Again`] meaning "call again, with
//! the same arguments, when the socket is ready" — libssh2 keeps each call's progress in the
//! channel (or, for opens, in the session), so a repeated call continues where it stopped.
//!
//! Invariants the owner keeps (see `mux.rs`):
//! * one thread uses the session and all its channels;
//! * a channel never outlives its session (the owner frees channels first);
//! * a write that returned [`Step::Again`] is repeated with the *same bytes at the same
//!   address* before anything else is sent on the session: libssh2 may hold half a packet of
//!   it and refuses every other packet until that very write completes.
//! * one channel request (`exec`, `subsystem`) at a time awaits its answer on a session
//!   ([`RawChannel::start`] keeps to it): libssh2 waits for the answer by reading packets until
//!   one of type CHANNEL_SUCCESS or CHANNEL_FAILURE comes, and when that one answers another
//!   channel's request it fails the waiting request with -1 (`LIBSSH2_ERROR_SOCKET_NONE`,
//!   "Failed waiting for channel success") and ends that channel's request for good, though
//!   the connection is fine (libssh2/libssh2#671).

use std::cell::RefCell;
use std::ffi::c_char;
use std::ptr::NonNull;

use libssh2_sys as raw;

/// `LIBSSH2_ERROR_EAGAIN`.
const EAGAIN: i32 = raw::LIBSSH2_ERROR_EAGAIN;

/// stderr's stream id (`SSH_EXTENDED_DATA_STDERR`).
pub const STDERR: i32 = 1;

extern "C" {
    // Public libssh2 API (libssh2.h) that libssh2-sys does not bind.
    fn libssh2_channel_signal_ex(
        channel: *mut raw::LIBSSH2_CHANNEL,
        signame: *const c_char,
        signame_len: usize,
    ) -> i32;
}

/// The outcome of one non-blocking call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Done.
    Done(T),
    /// Would block: call again with the same arguments when the socket is ready.
    Again,
}

/// A libssh2 error: its code (`LIBSSH2_ERROR_*`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawError {
    /// The `LIBSSH2_ERROR_*` code.
    pub code: i32,
    /// libssh2's message for it.
    pub message: String,
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl RawError {
    /// The server refused to open a channel (`SSH_MSG_CHANNEL_OPEN_FAILURE`), e.g. because the
    /// connection has `MaxSessions` channels already.
    pub fn is_open_refused(&self) -> bool {
        self.code == raw::LIBSSH2_ERROR_CHANNEL_FAILURE
    }
}

type Result<T> = std::result::Result<Step<T>, RawError>;

/// The raw session of a connection, borrowed from its `ssh2::Session` by the owning thread.
#[derive(Clone, Copy)]
pub struct SessionPtr(NonNull<raw::LIBSSH2_SESSION>);

impl SessionPtr {
    /// The raw session of `session`. The caller keeps `session` alive (and unmoved: the raw
    /// session is heap-allocated by libssh2, so moving the `ssh2::Session` is fine) for as
    /// long as it uses the pointer and every channel opened through it.
    pub fn of(session: &ssh2::Session) -> Option<SessionPtr> {
        let guard = session.raw();
        let ptr = &*guard as *const raw::LIBSSH2_SESSION as *mut raw::LIBSSH2_SESSION;
        NonNull::new(ptr).map(SessionPtr)
    }

    fn get(self) -> *mut raw::LIBSSH2_SESSION {
        self.0.as_ptr()
    }

    /// The session's last error.
    fn error(self) -> RawError {
        let mut msg: *mut c_char = std::ptr::null_mut();
        let mut len: i32 = 0;
        // SAFETY: a live session (the caller's contract); libssh2 points `msg` at its own
        // buffer (want_buf = 0), valid until the next call, which is copied out below.
        let code = unsafe { raw::libssh2_session_last_error(self.get(), &mut msg, &mut len, 0) };
        let message = if msg.is_null() || len <= 0 {
            String::new()
        } else {
            // SAFETY: libssh2 says `msg` holds `len` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(msg as *const u8, len as usize) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        RawError { code, message }
    }

    /// A call that returned `rc` (negative = error): done, again, or the session's error.
    fn step(self, rc: i64) -> Result<i64> {
        if rc >= 0 {
            Ok(Step::Done(rc))
        } else if rc == i64::from(EAGAIN) {
            Ok(Step::Again)
        } else {
            Err(RawError {
                code: rc as i32,
                ..self.error()
            })
        }
    }

    /// Opens a `session` channel with a receive window of `window` bytes. Only one open can
    /// be under way on a session: repeat this call until it is done before opening another.
    pub fn open_session(self, window: u32) -> Result<RawChannel> {
        let kind = b"session";
        // SAFETY: live session; `kind` outlives the call; no message.
        let ch = unsafe {
            raw::libssh2_channel_open_ex(
                self.get(),
                kind.as_ptr() as *const c_char,
                kind.len() as u32,
                window,
                raw::LIBSSH2_CHANNEL_PACKET_DEFAULT,
                std::ptr::null(),
                0,
            )
        };
        match NonNull::new(ch) {
            Some(ch) => Ok(Step::Done(RawChannel { ch, session: self })),
            None => {
                // SAFETY: live session.
                let errno = unsafe { raw::libssh2_session_last_errno(self.get()) };
                self.step(i64::from(errno)).map(|_| Step::Again)
            }
        }
    }

    /// Which way the session waits: `(read, write)`.
    pub fn block_directions(self) -> (bool, bool) {
        // SAFETY: live session.
        let dirs = unsafe { raw::libssh2_session_block_directions(self.get()) };
        (
            dirs & raw::LIBSSH2_SESSION_BLOCK_INBOUND != 0,
            dirs & raw::LIBSSH2_SESSION_BLOCK_OUTBOUND != 0,
        )
    }
}

/// A channel of a session. Freed (politely, without waiting for the peer) when dropped; the
/// owner drops every channel before the session.
pub struct RawChannel {
    ch: NonNull<raw::LIBSSH2_CHANNEL>,
    session: SessionPtr,
}

impl RawChannel {
    fn get(&self) -> *mut raw::LIBSSH2_CHANNEL {
        self.ch.as_ptr()
    }

    /// Sends a channel request that starts something: `exec` with a command line, or
    /// `subsystem` with its name.
    ///
    /// While another channel of the session awaits the answer to its request, this one waits
    /// (`Again`) without sending: see the module's invariants.
    pub fn start(&mut self, request: &str, message: &str) -> Result<()> {
        let (session, me) = (self.session.get() as usize, self.get() as usize);
        if awaiting(session).is_some_and(|other| other != me) {
            return Ok(Step::Again);
        }
        // SAFETY: live channel; both buffers outlive the call (libssh2 copies them into its
        // packet on the first call and keeps its own state for repeats).
        let rc = unsafe {
            raw::libssh2_channel_process_startup(
                self.get(),
                request.as_ptr() as *const c_char,
                request.len() as u32,
                message.as_ptr() as *const c_char,
                message.len() as u32,
            )
        };
        let step = self.session.step(i64::from(rc)).map(unit);
        if step == Ok(Step::Again) {
            set_awaiting(session, Some(me));
        } else {
            release(session, me);
        }
        step
    }

    /// Reads from stdout (`stream` 0) or stderr ([`STDERR`]): `Done(0)` at end of stream.
    pub fn read(&mut self, stream: i32, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: live channel; `buf` is writable for its length.
        let rc = unsafe {
            raw::libssh2_channel_read_ex(self.get(), stream, buf.as_mut_ptr().cast(), buf.len())
        };
        self.session.step(rc as i64).map(|s| map(s, |n| n as usize))
    }

    /// Writes to the channel's stdin; may take fewer bytes than given.
    pub fn write(&mut self, buf: &[u8]) -> Result<usize> {
        // SAFETY: live channel; `buf` is readable for its length.
        let rc =
            unsafe { raw::libssh2_channel_write_ex(self.get(), 0, buf.as_ptr().cast(), buf.len()) };
        self.session.step(rc as i64).map(|s| map(s, |n| n as usize))
    }

    /// Sends end-of-file on stdin.
    pub fn send_eof(&mut self) -> Result<()> {
        // SAFETY: live channel.
        let rc = unsafe { raw::libssh2_channel_send_eof(self.get()) };
        self.session.step(i64::from(rc)).map(unit)
    }

    /// Whether the peer sent end-of-file and nothing is left to read.
    pub fn eof(&self) -> bool {
        // SAFETY: live channel.
        unsafe { raw::libssh2_channel_eof(self.get()) == 1 }
    }

    /// Sends our close.
    pub fn close(&mut self) -> Result<()> {
        // SAFETY: live channel.
        let rc = unsafe { raw::libssh2_channel_close(self.get()) };
        self.session.step(i64::from(rc)).map(unit)
    }

    /// Waits (non-blocking) for the peer's close, after ours.
    pub fn wait_closed(&mut self) -> Result<()> {
        // SAFETY: live channel.
        let rc = unsafe { raw::libssh2_channel_wait_closed(self.get()) };
        self.session.step(i64::from(rc)).map(unit)
    }

    /// Sends the `signal` request (no reply is asked for): OpenSSH signals the command's
    /// process group.
    pub fn signal(&mut self, name: &str) -> Result<()> {
        // SAFETY: live channel; `name` outlives the call (copied into libssh2's packet).
        let rc = unsafe { libssh2_channel_signal_ex(self.get(), name.as_ptr().cast(), name.len()) };
        self.session.step(i64::from(rc)).map(unit)
    }

    /// The exit status the peer reported (0 when none came).
    pub fn exit_status(&self) -> i32 {
        // SAFETY: live channel.
        unsafe { raw::libssh2_channel_get_exit_status(self.get()) }
    }

    /// The signal that killed the command, as the peer names it (`TERM`), if any.
    pub fn exit_signal(&self) -> Option<String> {
        let mut name: *mut c_char = std::ptr::null_mut();
        let mut len: usize = 0;
        // SAFETY: live channel; libssh2 allocates `name` with the session's allocator (or
        // leaves it null); it is copied and freed with libssh2_free below.
        unsafe {
            raw::libssh2_channel_get_exit_signal(
                self.get(),
                &mut name,
                &mut len,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            if name.is_null() {
                return None;
            }
            let text = String::from_utf8_lossy(std::slice::from_raw_parts(name as *const u8, len))
                .into_owned();
            raw::libssh2_free(self.session.get(), name.cast());
            Some(text).filter(|s| !s.is_empty())
        }
    }

    /// Bytes received and not read yet: data libssh2 took off the socket while serving
    /// another channel, which `poll(2)` cannot see.
    pub fn queued(&self) -> u64 {
        let mut avail: std::ffi::c_ulong = 0;
        // SAFETY: live channel; `avail` is written, the initial window pointer may be null.
        unsafe {
            raw::libssh2_channel_window_read_ex(self.get(), &mut avail, std::ptr::null_mut());
        }
        avail as u64
    }
}

impl Drop for RawChannel {
    fn drop(&mut self) {
        // A request given up unanswered (a command stopped while starting) lets the next one go.
        release(self.session.get() as usize, self.get() as usize);
        // Free sends our close if it was not sent and never waits for the peer's. A close that
        // cannot be sent now (EAGAIN) is given a few more tries; the session is non-blocking,
        // so each returns at once, and after that libssh2 frees the channel anyway when the
        // session goes.
        for _ in 0..4 {
            // SAFETY: live channel, freed exactly once (on success nothing touches it again).
            let rc = unsafe { raw::libssh2_channel_free(self.get()) };
            if rc != EAGAIN {
                return;
            }
        }
        log::debug!("a channel could not be freed now; libssh2 frees it with its session");
    }
}

thread_local! {
    /// Per session of this thread (all of a session's calls are made on one thread), the
    /// channel whose request awaits its answer; both by address.
    static AWAITING: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

fn awaiting(session: usize) -> Option<usize> {
    AWAITING.with_borrow(|list| {
        list.iter()
            .find(|(s, _)| *s == session)
            .map(|(_, channel)| *channel)
    })
}

fn set_awaiting(session: usize, channel: Option<usize>) {
    AWAITING.with_borrow_mut(|list| {
        list.retain(|(s, _)| *s != session);
        if let Some(channel) = channel {
            list.push((session, channel));
        }
    })
}

/// `channel` no longer awaits an answer on `session`.
fn release(session: usize, channel: usize) {
    if awaiting(session) == Some(channel) {
        set_awaiting(session, None);
    }
}

fn unit<T>(s: Step<T>) -> Step<()> {
    map(s, |_| ())
}

fn map<T, U>(s: Step<T>, f: impl FnOnce(T) -> U) -> Step<U> {
    match s {
        Step::Done(v) => Step::Done(f(v)),
        Step::Again => Step::Again,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scout_testkit::Fleet;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    /// Repeats `call` until it is done or fails (5 s at most).
    fn settle<T>(mut call: impl FnMut() -> Result<T>) -> std::result::Result<T, RawError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match call()? {
                Step::Done(v) => return Ok(v),
                Step::Again if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Step::Again => panic!("no answer in 5 s"),
            }
        }
    }

    /// Two channels start at once (a command and SFTP, as the connection thread does): the
    /// answer to the first request must not fail the second (libssh2 would with -1, "Failed
    /// waiting for channel success", when it reads the first answer while waiting for the
    /// second), and both start.
    #[test]
    fn two_channels_starting_at_once_both_start() {
        let fleet = Fleet::start(&["alpha"]);
        let tcp = TcpStream::connect(("127.0.0.1", fleet.port("alpha"))).unwrap();
        let mut session = ssh2::Session::new().unwrap();
        session.set_tcp_stream(tcp);
        session.handshake().unwrap();
        session
            .userauth_pubkey_file(&fleet.user, None, &fleet.client_key, None)
            .unwrap();
        session.set_blocking(false);
        let ptr = SessionPtr::of(&session).unwrap();
        let mut exec = settle(|| ptr.open_session(1 << 20)).unwrap();
        let mut sftp = settle(|| ptr.open_session(1 << 20)).unwrap();
        // Both asked before either answer is in.
        let first = exec.start("exec", "true");
        let second = sftp.start("subsystem", "sftp");
        // Neither answer can be in yet (were the first, nothing could collide this run).
        assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
        // Both answers arrive, the command's first; then each channel is driven to the end.
        std::thread::sleep(Duration::from_millis(500));
        // A start that is done must not be repeated (libssh2: "Channel can not be reused").
        let (mut exec_done, mut sftp_done) =
            (first == Ok(Step::Done(())), second == Ok(Step::Done(())));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(exec_done && sftp_done) && Instant::now() < deadline {
            if !sftp_done {
                sftp_done = sftp.start("subsystem", "sftp").unwrap() == Step::Done(());
            }
            if !exec_done {
                exec_done = exec.start("exec", "true").unwrap() == Step::Done(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(exec_done && sftp_done, "exec {exec_done}, sftp {sftp_done}");
    }
}
