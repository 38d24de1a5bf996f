//! Running one command on a checked-out session (SPEC §3.5).
//!
//! The deadline is enforced here, not by a remote `timeout` binary: the channel is read in
//! non-blocking mode and the thread waits in `poll(2)` on the session's socket, waking for data,
//! for the deadline, or every 100 ms to notice a cancellation. stdout and stderr are drained
//! together (they share one channel window: reading only stdout while a command floods stderr
//! would deadlock), each kept up to the output cap and counted beyond it.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel};

use crate::cancel::Cancel;
use crate::error::Error;
use crate::ssh::pool::Failure;
use crate::ssh::session::{remaining_ms, Connection};

/// Limits of one command run.
#[derive(Debug, Clone)]
pub struct ExecLimits {
    pub timeout: Duration,
    /// Bytes kept of stdout, and separately of stderr.
    pub max_output: usize,
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes the command wrote to stdout in total (may exceed `stdout.len()`).
    pub stdout_total: u64,
    pub stderr_total: u64,
    /// `None` when the command was stopped (timeout, cancel) or killed by a signal.
    pub exit_code: Option<i32>,
    pub exit_signal: Option<String>,
    pub timed_out: bool,
    pub cancelled: bool,
}

impl ExecOutput {
    pub fn truncated(&self) -> bool {
        self.stdout_total > self.stdout.len() as u64 || self.stderr_total > self.stderr.len() as u64
    }
}

/// Runs `command` (a shell command line) with stdin closed. A failure to open the channel or
/// start the command may be retried on a fresh session; anything later may not.
pub fn run(
    conn: &mut Connection,
    command: &str,
    limits: &ExecLimits,
    cancel: &Cancel,
) -> Result<ExecOutput, Failure> {
    let started = Instant::now();
    let deadline = started + limits.timeout;
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
    if let Err(e) = channel.exec(command) {
        return Err(Failure {
            error: conn.fail(&e, "start the command"),
            retry: true,
        });
    }
    if let Err(e) = channel.send_eof() {
        return Err(conn.fail(&e, "close the command's stdin").into());
    }
    let mut out = ExecOutput::default();
    session.set_blocking(false);
    let drained = drain(conn, &mut channel, &mut out, limits, deadline, cancel);
    session.set_blocking(true);
    drained.map_err(Failure::from)?;
    if out.timed_out || out.cancelled {
        // sshd confirms a channel close only once the command exits (maybe never), and
        // libssh2 waits for that confirmation when the channel is freed: abandon the session
        // instead (socket shut down at once); the pool replaces it.
        conn.abandon();
        if out.timed_out {
            log::info!(
                "{}: command timed out after {:?}",
                conn.alias(),
                limits.timeout
            );
        }
        return Ok(out);
    }
    session.set_timeout(remaining_ms(deadline).max(1000));
    if let Err(e) = channel.wait_close() {
        return Err(conn.fail(&e, "wait for the command to finish").into());
    }
    out.exit_signal = channel.exit_signal().ok().and_then(|s| s.exit_signal);
    if out.exit_signal.is_none() {
        out.exit_code = channel.exit_status().ok();
    }
    session.set_timeout(0);
    Ok(out)
}

/// Reads stdout and stderr until EOF, the deadline, or cancellation.
fn drain(
    conn: &mut Connection,
    channel: &mut Channel,
    out: &mut ExecOutput,
    limits: &ExecLimits,
    deadline: Instant,
    cancel: &Cancel,
) -> Result<(), Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let got_out = pump(
            channel,
            0,
            &mut buf,
            &mut out.stdout,
            &mut out.stdout_total,
            limits.max_output,
        );
        let got_err = pump(
            channel,
            1,
            &mut buf,
            &mut out.stderr,
            &mut out.stderr_total,
            limits.max_output,
        );
        let (got_out, got_err) = match (got_out, got_err) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                conn.mark_broken();
                return Err(Error::Session {
                    host: conn.alias().to_string(),
                    message: format!("reading command output: {e}"),
                });
            }
        };
        if got_out == 0 && got_err == 0 && channel.eof() {
            return Ok(());
        }
        if cancel.is_cancelled() {
            out.cancelled = true;
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            out.timed_out = true;
            return Ok(());
        }
        if got_out == 0 && got_err == 0 {
            let wait = (deadline - now).min(Duration::from_millis(100));
            wait_socket(conn, wait);
        }
    }
}

/// Reads everything available now from one stream (0 = stdout, 1 = stderr). Returns the bytes
/// read; bytes past `cap` are counted and discarded.
fn pump(
    channel: &mut Channel,
    stream: i32,
    buf: &mut [u8],
    keep: &mut Vec<u8>,
    total: &mut u64,
    cap: usize,
) -> std::io::Result<usize> {
    let mut read = 0;
    let mut s = channel.stream(stream);
    loop {
        match s.read(buf) {
            Ok(0) => return Ok(read),
            Ok(n) => {
                read += n;
                *total += n as u64;
                let room = cap.saturating_sub(keep.len());
                keep.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(read),
            Err(e) => return Err(e),
        }
    }
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
