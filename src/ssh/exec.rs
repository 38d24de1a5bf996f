//! One command on a connection: started, read, stopped, by the connection's own thread.
//!
//! The connection thread ([`super::mux`]) drives every command of its connection at once, each
//! an [`Exec`] state machine that never blocks: start the channel (`exec`), close its stdin,
//! read stdout and stderr as they come (they share one channel window: reading only stdout
//! while a command floods stderr would deadlock), each kept up to the output cap and counted
//! beyond it; then the exit status. The deadline is enforced here, not by a remote `timeout`
//! binary; cancellation is noticed at the thread's next turn (at most 100 ms later).
//!
//! Stopping a command: sshd does not signal a non-pty command when its channel closes, so a
//! cancelled `sleep 30` would live on. scout sends the channel request `signal TERM` (then
//! `KILL` two seconds later), which OpenSSH delivers to the command's whole process group. For
//! servers that ignore it, every command starts by printing its shell's pid (its process group:
//! sshd starts commands with `setsid`), and a second channel runs `kill -- -PID` when the first
//! has not closed a second after the signal. The line is stripped from stdout. A command that
//! outlives all of that is given up on: its channel is freed, the connection stays.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::control::{human_bytes, Control};
use crate::error::Error;
use crate::ssh::channel::{RawChannel, RawError, Step, STDERR};
use crate::ssh::failure::Failure;

/// How long a stopped command may take to close after `TERM` before `KILL` is sent.
const KILL_AFTER: Duration = Duration::from_secs(2);
/// How long after `TERM` the pid-based kill runs for servers that ignore `signal`.
const KILL_CHANNEL_AFTER: Duration = Duration::from_secs(1);
/// How long after `TERM` a command that has not closed is given up on.
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);
/// How long a finished command may take to confirm its close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Limits of one command run.
#[derive(Debug, Clone)]
pub struct ExecLimits {
    /// How long the command may run before it is stopped (`SCOUT_COMMAND_TIMEOUT`).
    pub timeout: Duration,
    /// Bytes kept of stdout, and separately of stderr.
    pub max_output: usize,
    /// Limits the remote shell sets before the command starts.
    pub remote: RemoteLimits,
}

/// Resource limits set on the remote side, by the remote shell, before an agent's command runs
/// (`ulimit`, soft limits: a stricter limit already in place stays). They bound what an
/// allowed program can take from the host: `sort /dev/zero` would otherwise grow until the
/// command timeout, or the host's OOM killer takes something else. Zero means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteLimits {
    /// Heap memory per process (`ulimit -d`, `SCOUT_REMOTE_MAX_MEMORY`), in bytes. Linux
    /// counts every private writable mapping (brk and anonymous mmap) since 4.7; address space
    /// that threads merely reserve does not count, so multithreaded programs like `rg` work.
    pub memory: u64,
    /// CPU seconds per process (`ulimit -t`, `SCOUT_REMOTE_MAX_CPU`).
    pub cpu_seconds: u64,
    /// Largest file a process may write (`ulimit -f`, `SCOUT_REMOTE_MAX_FILE_SIZE`), in bytes
    /// (rounded to the shell's unit: 512 bytes in POSIX shells, 1024 in bash).
    pub file_size: u64,
}

impl RemoteLimits {
    /// No limits.
    pub const NONE: RemoteLimits = RemoteLimits {
        memory: 0,
        cpu_seconds: 0,
        file_size: 0,
    };

    /// The shell text that sets these limits, to put before a command (empty for none). A
    /// `ulimit` the shell refuses (the host's hard limit is lower already) is passed over.
    pub fn prefix(&self) -> String {
        let mut p = String::new();
        let mut set = |flag: &str, value: u64| {
            if value > 0 {
                p.push_str(&format!("ulimit -S -{flag} {value} 2>/dev/null; "));
            }
        };
        set("d", self.memory.div_ceil(1024));
        set("t", self.cpu_seconds);
        set("f", self.file_size.div_ceil(512));
        p
    }

    /// Why `out` probably ended at one of these limits, as a sentence for the result: a signal
    /// for CPU time and file size, a program's own "memory exhausted" message for memory.
    pub fn explain(&self, out: &ExecOutput) -> Option<String> {
        let human = crate::control::human_bytes;
        match out.exit_signal.as_deref() {
            Some("XCPU") if self.cpu_seconds > 0 => {
                return Some(format!(
                    "the command used its {} s of CPU time on the host and was stopped \
                     (SCOUT_REMOTE_MAX_CPU)",
                    self.cpu_seconds
                ))
            }
            Some("XFSZ") if self.file_size > 0 => {
                return Some(format!(
                    "the command tried to write a file larger than {} on the host and was \
                     stopped (SCOUT_REMOTE_MAX_FILE_SIZE)",
                    human(self.file_size)
                ))
            }
            _ => {}
        }
        if self.memory == 0 || out.success() {
            return None;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
        let starved = [
            "memory exhausted",
            "cannot allocate memory",
            "out of memory",
            "memory allocation",
            "failed to allocate",
        ]
        .iter()
        .any(|m| stderr.contains(m));
        starved.then(|| {
            format!(
                "the command ran out of memory: scout limits an agent's commands to {} of \
                 heap on the host (SCOUT_REMOTE_MAX_MEMORY)",
                human(self.memory)
            )
        })
    }
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// What the command wrote to stdout, up to `max_output` bytes.
    pub stdout: Vec<u8>,
    /// What the command wrote to stderr, up to `max_output` bytes.
    pub stderr: Vec<u8>,
    /// Bytes the command wrote to stdout in total (may exceed `stdout.len()`).
    pub stdout_total: u64,
    /// Bytes the command wrote to stderr in total (may exceed `stderr.len()`).
    pub stderr_total: u64,
    /// `None` when the command was stopped (timeout, cancel) or killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal that killed the command, as sshd names it (e.g. `TERM`).
    pub exit_signal: Option<String>,
    /// The command ran past its timeout and was stopped; the output is what came before.
    pub timed_out: bool,
    /// The command was cancelled through its [`Control`] and stopped.
    pub cancelled: bool,
    /// Why the command probably stopped at one of scout's remote limits ([`RemoteLimits`]).
    pub remote_limit: Option<String>,
}

impl ExecOutput {
    /// Whether stdout or stderr was cut at `max_output`.
    ///
    /// ```
    /// let out = scout_mcp::ExecOutput { stdout: b"abc".to_vec(), stdout_total: 10, ..Default::default() };
    /// assert!(out.truncated());
    /// ```
    pub fn truncated(&self) -> bool {
        self.stdout_total > self.stdout.len() as u64 || self.stderr_total > self.stderr.len() as u64
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// A command for a connection thread: what to run, its limits, and where its result goes.
pub struct ExecJob {
    /// The shell command line.
    pub command: String,
    /// Timeout, output cap, remote limits.
    pub limits: ExecLimits,
    /// Cancellation (checked at every turn of the thread) and progress (bytes of output).
    pub control: Control,
    /// Where the output (or the failure) goes; nobody may be listening any more.
    pub reply: Option<Sender<Result<ExecOutput, Failure>>>,
}

/// Why reading a command's output ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Eof,
    Deadline,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `exec` request sent, waiting for the server to accept it.
    Start,
    /// Sending end-of-file on stdin.
    Eof,
    /// Reading output.
    Run,
    /// Stopped (deadline, cancel): signals sent, draining until the channel closes.
    Stop,
    /// Output ended: closing, then the exit status.
    Close,
}

/// What the connection thread does next with an [`Exec`].
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Nothing moved; wait for the socket (or the next tick).
    Idle,
    /// Something moved: drive again.
    Moved,
    /// Run this command on a channel of its own, fire-and-forget (the pid-based kill).
    SideCommand(String),
    /// Finished: the channel can be freed.
    Finished,
    /// A libssh2 call failed (the caller has heard of it): the channel can be freed, and the
    /// connection may be dead (the thread looks at the error).
    Failed(RawError),
}

/// A command in flight on a connection thread.
pub struct Exec {
    job: ExecJob,
    host: std::sync::Arc<str>,
    deadline: Instant,
    channel: RawChannel,
    phase: Phase,
    started: bool,
    streams: Streams,
    ending: Option<Ending>,
    /// When the stop began, and which of its steps were taken.
    stop_since: Option<Instant>,
    kill_sent: bool,
    kill_channel_sent: bool,
    close_since: Option<Instant>,
    /// Output budget taken ahead of reading (see [`Control::reserve`]).
    headroom: usize,
}

impl Exec {
    /// A command whose channel is open; `started` tells when its job was handed over (the
    /// deadline counts from then, queueing included).
    pub fn new(
        job: ExecJob,
        host: std::sync::Arc<str>,
        channel: RawChannel,
        started: Instant,
    ) -> Exec {
        let deadline = started + job.limits.timeout;
        let streams = Streams::new(job.limits.max_output);
        Exec {
            job,
            host,
            deadline,
            channel,
            phase: Phase::Start,
            started: false,
            streams,
            ending: None,
            stop_since: None,
            kill_sent: false,
            kill_channel_sent: false,
            close_since: None,
            headroom: 0,
        }
    }

    /// The earliest moment this command needs a turn without the socket saying so.
    pub fn next_deadline(&self) -> Instant {
        match self.phase {
            Phase::Stop => {
                let since = self.stop_since.unwrap_or(self.deadline);
                since + KILL_CHANNEL_AFTER.min(KILL_AFTER)
            }
            Phase::Close => self.close_since.unwrap_or(self.deadline) + CLOSE_WAIT,
            _ => self.deadline,
        }
    }

    /// Whether libssh2 holds received bytes of this command not read yet.
    pub fn queued(&self) -> bool {
        self.channel.queued() > 0
    }

    /// Whether this command watches a cancel flag (the thread must then turn every 100 ms).
    pub fn cancellable(&self) -> bool {
        self.phase != Phase::Stop && self.phase != Phase::Close
    }

    /// Advances the command as far as it goes without blocking. `scratch` is a read buffer.
    pub fn drive(&mut self, now: Instant, scratch: &mut [u8]) -> Turn {
        match self.step(now, scratch) {
            Ok(turn) => turn,
            Err((failure, raw)) => {
                self.reply(Err(failure));
                Turn::Failed(raw)
            }
        }
    }

    fn step(&mut self, now: Instant, scratch: &mut [u8]) -> Result<Turn, (Failure, RawError)> {
        match self.phase {
            Phase::Start => {
                if !self.started {
                    let command = format!(
                        "printf '%s\\n' \"$$\"; {}{}",
                        self.job.limits.remote.prefix(),
                        self.job.command
                    );
                    self.job.command = command;
                    self.started = true;
                }
                match self.channel.start("exec", &self.job.command) {
                    Ok(Step::Again) => Ok(self.check_stop(now).unwrap_or(Turn::Idle)),
                    Ok(Step::Done(())) => {
                        self.phase = Phase::Eof;
                        Ok(Turn::Moved)
                    }
                    // Nothing ran: the command may go to a fresh channel.
                    Err(e) => Err((
                        Failure::retryable(self.session_error(&e, "start the command")),
                        e,
                    )),
                }
            }
            Phase::Eof => match self.channel.send_eof() {
                Ok(Step::Again) => Ok(Turn::Idle),
                Ok(Step::Done(())) => {
                    self.phase = Phase::Run;
                    Ok(Turn::Moved)
                }
                Err(e) => Err((
                    self.session_error(&e, "close the command's stdin").into(),
                    e,
                )),
            },
            Phase::Run => {
                let moved = self.pump(scratch)?;
                if let Some(turn) = self.check_stop(now) {
                    return Ok(turn);
                }
                if !moved && self.channel.eof() {
                    self.ending = Some(Ending::Eof);
                    self.phase = Phase::Close;
                    self.close_since = Some(now);
                    return Ok(Turn::Moved);
                }
                // Reported at every turn, unchanged figures too: a rate-limited sink then
                // delivers the latest state late rather than never.
                let bytes = self.streams.out.total + self.streams.err.total;
                if bytes > 0 {
                    self.job
                        .control
                        .report(bytes, None, || format!("{} of output", human_bytes(bytes)));
                }
                Ok(if moved { Turn::Moved } else { Turn::Idle })
            }
            Phase::Stop => self.stopping(now, scratch),
            Phase::Close => self.closing(now),
        }
    }

    /// Reads what both streams have now; true if anything came. While output is kept, room
    /// for it is taken from the call's output budget first; when there is none, reading waits
    /// (the command then blocks on its own output: SSH flow control).
    fn pump(&mut self, scratch: &mut [u8]) -> Result<bool, (Failure, RawError)> {
        let mut moved = false;
        for stream in [0, STDERR] {
            loop {
                // Room for what this read may keep, taken ahead: no more than the stream may
                // still keep under its cap (a broadcast's command keeps a few KiB, and 500 of
                // them must not each hold a whole read buffer of the call's budget).
                let want = scratch.len().min(self.streams.room(stream));
                if want > 0 && self.headroom < want {
                    if !self.job.control.reserve(want) {
                        return Ok(moved);
                    }
                    self.headroom += want;
                }
                match self.channel.read(stream, scratch) {
                    Ok(Step::Done(0)) | Ok(Step::Again) => break,
                    Ok(Step::Done(n)) => {
                        moved = true;
                        let kept = if stream == 0 {
                            self.streams.stdout(&scratch[..n], &self.job.control)
                        } else {
                            self.job.control.tap_output(true, &scratch[..n]);
                            self.streams.err.push(&scratch[..n])
                        };
                        self.headroom = self.headroom.saturating_sub(kept);
                    }
                    Err(e) => {
                        let error = self.session_error(&e, "read the command's output");
                        return Err((error.into(), e));
                    }
                }
            }
        }
        Ok(moved)
    }

    /// Starts the stop when the command is cancelled or past its deadline.
    fn check_stop(&mut self, now: Instant) -> Option<Turn> {
        let ending = if self.job.control.is_cancelled() {
            Ending::Cancelled
        } else if now >= self.deadline {
            Ending::Deadline
        } else {
            return None;
        };
        if ending == Ending::Deadline {
            log::info!(
                "{}: command timed out after {:?}",
                self.host,
                self.job.limits.timeout
            );
        }
        self.ending = Some(ending);
        // The caller has its answer now (partial output); stopping goes on in the background.
        let out = self.output();
        self.reply(Ok(out));
        if self.phase == Phase::Start {
            // Nothing runs yet: freeing the channel is all there is to do.
            return Some(Turn::Finished);
        }
        self.stop_since = Some(now);
        self.phase = Phase::Stop;
        let _ = self.channel.signal("TERM");
        Some(Turn::Moved)
    }

    fn stopping(&mut self, now: Instant, scratch: &mut [u8]) -> Result<Turn, (Failure, RawError)> {
        // Output still in flight is drained (and dropped) until the command is gone.
        let moved = self.pump(scratch).unwrap_or(false);
        if self.channel.eof() {
            self.phase = Phase::Close;
            self.close_since = Some(now);
            return Ok(Turn::Moved);
        }
        let since = self.stop_since.unwrap_or(now);
        if !self.kill_channel_sent && now >= since + KILL_CHANNEL_AFTER {
            self.kill_channel_sent = true;
            if let Some(pid) = self.streams.pid.filter(|&p| p > 1) {
                return Ok(Turn::SideCommand(format!(
                    "kill -s TERM -- -{pid} 2>/dev/null; kill -s CONT -- -{pid} 2>/dev/null; \
                     (sleep 2; kill -s KILL -- -{pid}) </dev/null >/dev/null 2>&1 &"
                )));
            }
        }
        if !self.kill_sent && now >= since + KILL_AFTER {
            self.kill_sent = true;
            let _ = self.channel.signal("KILL");
        }
        if now >= since + GIVE_UP_AFTER {
            log::warn!(
                "{}: a stopped command did not end within {} s; its channel is given up (the \
                 process may still run on the host)",
                self.host,
                GIVE_UP_AFTER.as_secs()
            );
            return Ok(Turn::Finished);
        }
        Ok(if moved { Turn::Moved } else { Turn::Idle })
    }

    fn closing(&mut self, now: Instant) -> Result<Turn, (Failure, RawError)> {
        match self.channel.close().and_then(|s| match s {
            Step::Done(()) => self.channel.wait_closed(),
            Step::Again => Ok(Step::Again),
        }) {
            Ok(Step::Again) if now < self.close_since.unwrap_or(now) + CLOSE_WAIT => Ok(Turn::Idle),
            Ok(Step::Again) | Ok(Step::Done(())) => {
                if self.ending == Some(Ending::Eof) {
                    let mut out = self.output();
                    out.exit_signal = self.channel.exit_signal();
                    if out.exit_signal.is_none() {
                        out.exit_code = Some(self.channel.exit_status());
                    }
                    out.remote_limit = self.job.limits.remote.explain(&out);
                    self.reply(Ok(out));
                }
                Ok(Turn::Finished)
            }
            Err(e) if self.ending == Some(Ending::Eof) => {
                let error = self.session_error(&e, "wait for the command to finish");
                Err((error.into(), e))
            }
            Err(e) => Ok(Turn::Failed(e)),
        }
    }

    /// The output so far, marked timed out or cancelled as the case may be.
    fn output(&mut self) -> ExecOutput {
        let mut out = self.streams.snapshot();
        out.timed_out = self.ending == Some(Ending::Deadline);
        out.cancelled = self.ending == Some(Ending::Cancelled);
        out
    }

    fn reply(&mut self, result: Result<ExecOutput, Failure>) {
        if let Some(reply) = self.job.reply.take() {
            let _ = reply.try_send(result);
        }
    }

    /// The channel, to close and free once the command is finished.
    pub fn into_channel(self) -> RawChannel {
        self.channel
    }

    /// The connection failed under this command: its caller hears of it.
    pub fn fail(mut self, failure: Failure) {
        self.reply(Err(failure));
    }

    fn session_error(&self, e: &RawError, doing: &str) -> Error {
        Error::session(
            self.host.to_string(),
            format!("cannot {doing}: {}", e.message),
        )
    }
}

/// One output stream: the bytes kept (up to `cap`) and the bytes seen.
struct Capped {
    keep: Vec<u8>,
    total: u64,
    cap: usize,
}

impl Capped {
    /// Counts `bytes` and keeps what fits under the cap; how many were kept.
    fn push(&mut self, bytes: &[u8]) -> usize {
        self.total += bytes.len() as u64;
        let room = self.cap.saturating_sub(self.keep.len());
        let kept = bytes.len().min(room);
        self.keep.extend_from_slice(&bytes[..kept]);
        kept
    }
}

/// stdout and stderr of a command, with the pid line still to be split off stdout.
struct Streams {
    out: Capped,
    err: Capped,
    /// The first stdout line until its newline arrives; `None` once it has.
    pid_line: Option<Vec<u8>>,
    pid: Option<u32>,
}

impl Streams {
    fn new(cap: usize) -> Streams {
        let capped = || Capped {
            keep: Vec::new(),
            total: 0,
            cap,
        };
        Streams {
            out: capped(),
            err: capped(),
            pid_line: Some(Vec::new()),
            pid: None,
        }
    }

    /// Bytes `stream` may still keep under its cap (0: only counted from now on).
    fn room(&self, stream: i32) -> usize {
        let capped = if stream == STDERR {
            &self.err
        } else {
            &self.out
        };
        capped.cap.saturating_sub(capped.keep.len())
    }

    /// Takes stdout bytes (splitting off the pid line first); how many were kept. What is
    /// output (not the pid line) also goes to `control`'s tap.
    fn stdout(&mut self, bytes: &[u8], control: &Control) -> usize {
        let Some(line) = &mut self.pid_line else {
            control.tap_output(false, bytes);
            return self.out.push(bytes);
        };
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&bytes[..i]);
                self.pid = std::str::from_utf8(line).ok().and_then(|s| s.parse().ok());
                self.pid_line = None;
                control.tap_output(false, &bytes[i + 1..]);
                self.out.push(&bytes[i + 1..])
            }
            // A shell that printed something else first: give up on the pid, lose nothing.
            None if line.len() + bytes.len() > 16 => {
                let mut early = std::mem::take(line);
                early.extend_from_slice(bytes);
                self.pid_line = None;
                control.tap_output(false, &early);
                self.out.push(&early)
            }
            None => {
                line.extend_from_slice(bytes);
                0
            }
        }
    }

    /// The output kept so far (the buffers are moved out: later bytes are only counted).
    fn snapshot(&mut self) -> ExecOutput {
        let out = ExecOutput {
            stdout: std::mem::take(&mut self.out.keep),
            stderr: std::mem::take(&mut self.err.keep),
            stdout_total: self.out.total,
            stderr_total: self.err.total,
            ..ExecOutput::default()
        };
        self.out.cap = 0;
        self.err.cap = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]]) -> (ExecOutput, Option<u32>) {
        let mut s = Streams::new(1024);
        for c in chunks {
            s.stdout(c, &Control::new());
        }
        let pid = s.pid;
        (s.snapshot(), pid)
    }

    #[test]
    fn the_pid_line_is_split_off_stdout_even_across_reads() {
        let (out, pid) = feed(&[
            b"12",
            b"34
hello
",
            b"world",
        ]);
        assert_eq!(pid, Some(1234));
        assert_eq!(out.stdout, b"hello\nworld");
        assert_eq!(out.stdout_total, 11);
    }

    #[test]
    fn output_without_a_pid_line_is_kept_whole() {
        let (out, pid) = feed(&[b"this is not a pid line at all", b"!"]);
        assert_eq!(pid, None);
        assert_eq!(out.stdout, b"this is not a pid line at all!");
    }

    #[test]
    fn remote_limits_become_ulimits_and_explain_themselves() {
        let limits = RemoteLimits {
            memory: 256 << 20,
            cpu_seconds: 30,
            file_size: 1 << 30,
        };
        assert_eq!(
            limits.prefix(),
            "ulimit -S -d 262144 2>/dev/null; ulimit -S -t 30 2>/dev/null; \
             ulimit -S -f 2097152 2>/dev/null; "
        );
        assert_eq!(RemoteLimits::NONE.prefix(), "");
        let starved = ExecOutput {
            stderr: b"sort: memory exhausted\n".to_vec(),
            exit_code: Some(2),
            ..Default::default()
        };
        assert!(limits.explain(&starved).unwrap().contains("256.0 MiB"));
        assert_eq!(RemoteLimits::NONE.explain(&starved), None);
        let xcpu = ExecOutput {
            exit_signal: Some("XCPU".into()),
            ..Default::default()
        };
        assert!(limits.explain(&xcpu).unwrap().contains("CPU"));
        let fine = ExecOutput {
            exit_code: Some(0),
            ..Default::default()
        };
        assert_eq!(limits.explain(&fine), None);
    }

    #[test]
    fn output_is_capped_but_counted_and_the_tap_sees_all_of_it() {
        let tapped = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = tapped.clone();
        let control = Control::new().with_output_tap(move |stderr, bytes| {
            assert!(!stderr);
            seen.lock().unwrap().extend_from_slice(bytes);
        });
        let mut s = Streams::new(4);
        s.stdout(b"7\nabcdefgh", &control);
        s.err.push(b"xyz");
        let out = s.snapshot();
        assert_eq!((out.stdout.as_slice(), out.stdout_total), (&b"abcd"[..], 8));
        // The pid line is not output; everything after it is, past the cap too.
        assert_eq!(tapped.lock().unwrap().as_slice(), b"abcdefgh");
        assert!(out.truncated());
        assert_eq!(out.stderr, b"xyz");
    }
}
