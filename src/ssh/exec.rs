//! Running one command on a checked-out session (SPEC §3.5).
//!
//! The deadline is enforced here, not by a remote `timeout` binary: the channel is read in
//! non-blocking mode and the thread waits in `poll(2)` on the session's socket, waking for data,
//! for the deadline, or every 100 ms to notice a cancellation. stdout and stderr are drained
//! together (they share one channel window: reading only stdout while a command floods stderr
//! would deadlock), each kept up to the output cap and counted beyond it.
//!
//! Stopping a command: sshd does not signal a non-pty command when its channel closes, so a
//! cancelled `sleep 30` would live on. Every command is therefore prefixed with
//! `printf '%s\n' "$$";` — the remote shell's pid, which is also its process group (sshd starts
//! each command with `setsid`). The line is stripped from stdout. On timeout or cancellation a
//! second channel runs `kill -s TERM -- -PID` (then `KILL` two seconds later), the first channel
//! is drained to its close, and the session stays in the pool. If that fails (frozen host,
//! pid not yet known) the session is abandoned instead.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel};

use crate::control::{human_bytes, Control};
use crate::error::Error;
use crate::ssh::pool::Failure;
use crate::ssh::session::{remaining_ms, Connection};

/// How long stopping a timed-out or cancelled command may take before the session is abandoned.
const STOP_WAIT: Duration = Duration::from_secs(2);

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

/// Runs `command` (a shell command line) with stdin closed. A failure to open the channel or
/// start the command may be retried on a fresh session; anything later may not.
pub fn run(
    conn: &mut Connection,
    command: &str,
    limits: &ExecLimits,
    control: &Control,
) -> Result<ExecOutput, Failure> {
    let deadline = Instant::now() + limits.timeout;
    let session = conn.session().clone();
    session.set_blocking(true);
    session.set_timeout(remaining_ms(deadline));
    let mut channel = match session.channel_session() {
        Ok(c) => c,
        Err(e) => {
            return Err(Failure {
                error: conn.fail(&e, "open a channel"),
                retry: true,
            })
        }
    };
    let remote = limits.remote.prefix();
    if let Err(e) = channel.exec(&format!("printf '%s\\n' \"$$\"; {remote}{command}")) {
        return Err(Failure {
            error: conn.fail(&e, "start the command"),
            retry: true,
        });
    }
    if let Err(e) = channel.send_eof() {
        return Err(conn.fail(&e, "close the command's stdin").into());
    }
    let mut streams = Streams::new(limits.max_output);
    session.set_blocking(false);
    let drained = drain(conn, &mut channel, &mut streams, deadline, control);
    session.set_blocking(true);
    let (mut out, pid) = streams.finish();
    match drained.map_err(Failure::from)? {
        Ending::Eof => {}
        stop => {
            out.timed_out = stop == Ending::Deadline;
            out.cancelled = stop == Ending::Cancelled;
            if out.timed_out {
                log::info!(
                    "{}: command timed out after {:?}",
                    conn.alias(),
                    limits.timeout
                );
            }
            stop_remote(conn, channel, pid);
            return Ok(out);
        }
    }
    session.set_timeout(remaining_ms(deadline).max(1000));
    if let Err(e) = channel.wait_close() {
        return Err(conn.fail(&e, "wait for the command to finish").into());
    }
    out.exit_signal = channel.exit_signal().ok().and_then(|s| s.exit_signal);
    if out.exit_signal.is_none() {
        out.exit_code = channel.exit_status().ok();
    }
    out.remote_limit = limits.remote.explain(&out);
    session.set_timeout(0);
    Ok(out)
}

/// Why reading a command's output ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Eof,
    Deadline,
    Cancelled,
}

/// Reads stdout and stderr until EOF, the deadline, or cancellation.
fn drain(
    conn: &mut Connection,
    channel: &mut Channel,
    streams: &mut Streams,
    deadline: Instant,
    control: &Control,
) -> Result<Ending, Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let got = streams.pump(channel, &mut buf).map_err(|e| {
            conn.mark_broken();
            Error::Session {
                host: conn.alias().to_string(),
                message: format!("reading command output: {e}"),
            }
        })?;
        if got == 0 && channel.eof() {
            return Ok(Ending::Eof);
        }
        if control.is_cancelled() {
            return Ok(Ending::Cancelled);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Ending::Deadline);
        }
        let bytes = streams.out.total + streams.err.total;
        if bytes > 0 {
            control.report(bytes, None, || format!("{} of output", human_bytes(bytes)));
        }
        if got == 0 {
            wait_socket(conn, (deadline - now).min(Duration::from_millis(100)));
        }
    }
}

/// One output stream: the bytes kept (up to `cap`) and the bytes seen.
struct Capped {
    keep: Vec<u8>,
    total: u64,
    cap: usize,
}

impl Capped {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.cap.saturating_sub(self.keep.len());
        self.keep.extend_from_slice(&bytes[..bytes.len().min(room)]);
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

    /// Reads everything available now from both streams; returns the bytes read.
    fn pump(&mut self, channel: &mut Channel, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut read = 0;
        for stream in [0, 1] {
            let mut s = channel.stream(stream);
            loop {
                match s.read(buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        read += n;
                        if stream == 0 {
                            self.stdout(&buf[..n]);
                        } else {
                            self.err.push(&buf[..n]);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(read)
    }

    fn stdout(&mut self, bytes: &[u8]) {
        let Some(line) = &mut self.pid_line else {
            return self.out.push(bytes);
        };
        match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&bytes[..i]);
                self.pid = std::str::from_utf8(line).ok().and_then(|s| s.parse().ok());
                self.pid_line = None;
                self.out.push(&bytes[i + 1..]);
            }
            // A shell that printed something else first: give up on the pid, lose nothing.
            None if line.len() + bytes.len() > 16 => {
                let mut early = std::mem::take(line);
                early.extend_from_slice(bytes);
                self.pid_line = None;
                self.out.push(&early);
            }
            None => line.extend_from_slice(bytes),
        }
    }

    fn finish(self) -> (ExecOutput, Option<u32>) {
        let out = ExecOutput {
            stdout: self.out.keep,
            stderr: self.err.keep,
            stdout_total: self.out.total,
            stderr_total: self.err.total,
            ..ExecOutput::default()
        };
        (out, self.pid)
    }
}

/// Ends a command that is still running: kills its process group through a second channel and
/// waits for the first to close, so the session can be reused. Abandons the session when that
/// is not possible within [`STOP_WAIT`].
fn stop_remote(conn: &mut Connection, mut channel: Channel, pid: Option<u32>) {
    let stopped = match pid.filter(|&p| p > 1) {
        Some(pid) => kill_group(conn, pid).is_ok() && wait_closed(conn, &mut channel),
        None => false,
    };
    if stopped {
        conn.session().set_timeout(0);
        return;
    }
    // sshd confirms a channel close only once the command exits (maybe never), and libssh2
    // waits for that confirmation when the channel is freed: abandon the session instead
    // (socket shut down at once); the pool replaces it.
    log::warn!(
        "{}: could not stop the remote command cleanly; dropping the session",
        conn.alias()
    );
    conn.abandon();
}

fn kill_group(conn: &Connection, pid: u32) -> Result<(), ssh2::Error> {
    let session = conn.session();
    session.set_blocking(true);
    session.set_timeout(STOP_WAIT.as_millis() as u32);
    let mut killer = session.channel_session()?;
    killer.exec(&format!(
        "kill -s TERM -- -{pid} 2>/dev/null; kill -s CONT -- -{pid} 2>/dev/null; \
         (sleep 2; kill -s KILL -- -{pid}) </dev/null >/dev/null 2>&1 &"
    ))?;
    killer.send_eof()?;
    let mut sink = Vec::new();
    let _ = killer.read_to_end(&mut sink);
    killer.wait_close()
}

/// Discards what the stopped command still had in flight until its channel closes.
fn wait_closed(conn: &Connection, channel: &mut Channel) -> bool {
    let deadline = Instant::now() + STOP_WAIT;
    let session = conn.session();
    session.set_blocking(false);
    let mut streams = Streams::new(0);
    streams.pid_line = None;
    let mut buf = vec![0u8; 64 * 1024];
    let eof = loop {
        let got = match streams.pump(channel, &mut buf) {
            Ok(0) if channel.eof() => break true,
            Ok(n) => n,
            Err(_) => break false,
        };
        let now = Instant::now();
        if now >= deadline {
            break false;
        }
        if got == 0 {
            wait_socket(conn, (deadline - now).min(Duration::from_millis(100)));
        }
    };
    session.set_blocking(true);
    session.set_timeout(remaining_ms(deadline).max(1));
    eof && channel.wait_close().is_ok()
}

/// Waits until the session's socket is ready in the direction libssh2 is blocked on, or `wait`.
fn wait_socket(conn: &Connection, wait: Duration) {
    let events = match conn.session().block_directions() {
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
    };
    let mut fd = libc::pollfd {
        fd: conn.socket_fd(),
        events,
        revents: 0,
    };
    let ms = wait.as_millis().clamp(1, 1000) as libc::c_int;
    // SAFETY: one valid pollfd on our own socket; poll only writes `revents`.
    unsafe {
        libc::poll(&mut fd, 1, ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]]) -> (ExecOutput, Option<u32>) {
        let mut s = Streams::new(1024);
        for c in chunks {
            s.stdout(c);
        }
        s.finish()
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
    fn output_is_capped_but_counted() {
        let mut s = Streams::new(4);
        s.stdout(b"7\nabcdefgh");
        s.err.push(b"xyz");
        let (out, _) = s.finish();
        assert_eq!((out.stdout.as_slice(), out.stdout_total), (&b"abcd"[..], 8));
        assert!(out.truncated());
        assert_eq!(out.stderr, b"xyz");
    }
}
