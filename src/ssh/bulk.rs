//! Bulk file data over SFTP with large requests: a minimal SFTP v3 client on a raw `sftp`
//! subsystem channel of a pooled session (kept by [`Connection::bulk`] for the session's life),
//! for the data of big transfers and for putting an upload in place (stat, listing and reads
//! stay on libssh2's SFTP channel).
//!
//! [`Connection::bulk`]: crate::ssh::session::Connection::bulk
//!
//! libssh2 splits every read and write into 30,000-byte SFTP requests (a compile-time
//! constant). Each request costs the server a `lseek`, a `read`/`write`, a reply packet and its
//! encryption; at ~2,200 requests per 64 MiB that made sshd, not the link, the limit on a
//! 2-core machine. OpenSSH's own clients ask the server for its limits (`limits@openssh.com`)
//! and send requests of up to ~255 KiB. This does the same:
//!
//! * used only when the server offers `limits@openssh.com` (recent OpenSSH; 9.2 here); otherwise
//!   [`Bulk::start`] answers `None` and the caller keeps libssh2's path;
//! * requests of `min(server limit, 255 KiB)`, [`IN_FLIGHT`] bytes of them outstanding at once
//!   (bounded memory: that many bytes of buffers);
//! * replies are matched by request id; data is written and hashed strictly in file order; a
//!   short read is re-requested for its remainder; the first end-of-file ends the download;
//! * an upload replaces its destination atomically with `posix-rename@openssh.com`, holding the
//!   old file open and closing it with a request whose answer is read later
//!   ([`Bulk::close_later`]): the server frees the old file's blocks (tens of milliseconds for
//!   a big file) after the caller has its answer, as the local side does for downloads.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use ssh2::{Channel, Session};

/// Bytes requested (downloads) or sent (uploads, see [`Bulk::upload`]) and not yet answered.
pub const IN_FLIGHT: usize = 2 << 20;
/// The channel's receive window. libssh2's default (2 MiB, the size of [`IN_FLIGHT`]) is topped
/// up only when it falls below 3/4, so the server kept stopping for a window adjust with every
/// request outstanding; a window well above what is requested never stops it. It costs no
/// memory: the server sends only what was asked for.
const WINDOW: u32 = 8 * IN_FLIGHT as u32;
/// Packet size offered for the channel (libssh2's default; it accepts nothing much larger).
const PACKET: u32 = 32 << 10;
/// The largest request sent, whatever the server allows.
const REQUEST_MAX: usize = 255 << 10;

const FXP_INIT: u8 = 1;
const FXP_VERSION: u8 = 2;
const FXP_OPEN: u8 = 3;
const FXP_CLOSE: u8 = 4;
const FXP_READ: u8 = 5;
const FXP_WRITE: u8 = 6;
const FXP_STATUS: u8 = 101;
const FXP_HANDLE: u8 = 102;
const FXP_DATA: u8 = 103;
const FXP_EXTENDED: u8 = 200;
const FXP_EXTENDED_REPLY: u8 = 201;
const FX_OK: u32 = 0;
const FX_EOF: u32 = 1;

/// `SSH_FXF_*` open flags.
pub const OPEN_READ: u32 = 0x01;
/// Write access.
pub const OPEN_WRITE: u32 = 0x02;
/// Create if missing.
pub const OPEN_CREATE: u32 = 0x08;
/// Fail if it exists.
pub const OPEN_EXCLUSIVE: u32 = 0x20;

/// File data moved over bulk channels by this process (both ways): lets tests and diagnostics
/// see which path a transfer took.
static MOVED: AtomicU64 = AtomicU64::new(0);

/// Bytes of file data moved over bulk channels by this process since it started.
pub fn bytes_moved() -> u64 {
    MOVED.load(Ordering::Relaxed)
}

/// An SFTP subsystem channel of our own, with the server's request limits.
pub struct Bulk {
    channel: Channel,
    next_id: u32,
    read_max: usize,
    write_max: usize,
    /// The server offers `posix-rename@openssh.com` (a rename that replaces atomically).
    posix_rename: bool,
    /// The server's window for this channel when it was opened (libssh2 does not keep the
    /// initial value, and what remains later depends on adjusts still on their way).
    server_window: usize,
    /// Requests whose answers nobody waits for ([`Bulk::close_later`]): skipped when read.
    unanswered: VecDeque<u32>,
}

/// Where [`Bulk::download`] hands the file's pieces, in order, by value: a sink may pass a
/// buffer on to another thread and give it back later through [`Sink::spare`].
pub trait Sink {
    /// Takes the first `len` bytes of `buf`; `false` stops the download (cancelled).
    fn take(&mut self, buf: Vec<u8>, len: usize) -> io::Result<bool>;
    /// A buffer done with, to reuse for the next request (a new one is allocated otherwise).
    fn spare(&mut self) -> Option<Vec<u8>>;
}

/// A remote file opened on a [`Bulk`] channel.
pub struct Handle(Vec<u8>);

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn put_string(v: &mut Vec<u8>, s: &[u8]) {
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s);
}

fn protocol(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A `SSH_FXP_STATUS` body (after the id) as an error, or `Ok` for `SSH_FX_OK`.
fn status(body: &[u8]) -> io::Result<u32> {
    let code = body
        .get(..4)
        .map(be32)
        .ok_or_else(|| protocol("short STATUS"))?;
    if code == FX_OK || code == FX_EOF {
        return Ok(code);
    }
    let message = body
        .get(4..8)
        .map(|l| be32(l) as usize)
        .and_then(|n| body.get(8..8 + n))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    let kind = match code {
        2 => io::ErrorKind::NotFound,
        3 => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    Err(io::Error::new(
        kind,
        format!("SFTP error {code}: {message}"),
    ))
}

/// One reply: its type, id, and the rest of its body (for `SSH_FXP_DATA`, only the length
/// prefix has been read: the caller reads the data itself).
struct Reply {
    kind: u8,
    id: u32,
    body: Vec<u8>,
}

impl Bulk {
    /// Opens the channel and learns the server's limits; `Ok(None)` when the server does not
    /// offer `limits@openssh.com`.
    pub fn start(session: &Session) -> io::Result<Option<Bulk>> {
        let mut channel = session.channel_open("session", WINDOW, PACKET, None)?;
        channel.subsystem("sftp")?;
        channel.write_all(&[0, 0, 0, 5, FXP_INIT, 0, 0, 0, 3])?;
        let mut head = [0u8; 5];
        channel.read_exact(&mut head)?;
        let len = be32(&head) as usize;
        if head[4] != FXP_VERSION || !(5..=1 << 20).contains(&len) {
            return Err(protocol("no SFTP VERSION"));
        }
        let mut body = vec![0u8; len - 1];
        channel.read_exact(&mut body)?;
        let (mut limits, mut posix_rename) = (false, false);
        let mut at = 4; // after the version
        while at + 4 <= body.len() {
            let n = be32(&body[at..]) as usize;
            let name = body.get(at + 4..at + 4 + n).unwrap_or_default();
            limits |= name == b"limits@openssh.com";
            posix_rename |= name == b"posix-rename@openssh.com";
            at += 4 + n;
            let m = body.get(at..at + 4).map(be32).unwrap_or(0) as usize;
            at += 4 + m;
        }
        let mut bulk = Bulk {
            // Only the INIT has been sent yet: what remains stands for the whole window.
            server_window: channel.write_window().remaining as usize,
            channel,
            next_id: 0,
            read_max: 0,
            write_max: 0,
            posix_rename,
            unanswered: VecDeque::new(),
        };
        if !limits {
            return Ok(None);
        }
        let mut b = Vec::new();
        put_string(&mut b, b"limits@openssh.com");
        let id = bulk.send(FXP_EXTENDED, &b)?;
        let r = bulk.reply()?;
        if r.kind != FXP_EXTENDED_REPLY || r.id != id || r.body.len() < 32 {
            return Ok(None);
        }
        // max-packet-length, max-read-length, max-write-length (0: no limit given).
        let limit = |v: u64| {
            if v == 0 {
                32 << 10
            } else {
                (v as usize).min(REQUEST_MAX)
            }
        };
        bulk.read_max = limit(be64(&r.body[8..]));
        bulk.write_max = limit(be64(&r.body[16..]));
        Ok(Some(bulk))
    }

    /// Sends a READ of `len` bytes at `offset` of `handle`; its request id.
    fn send_read(&mut self, handle: &Handle, offset: u64, len: usize) -> io::Result<u32> {
        let mut b = Vec::with_capacity(handle.0.len() + 16);
        put_string(&mut b, &handle.0);
        b.extend_from_slice(&offset.to_be_bytes());
        b.extend_from_slice(&(len as u32).to_be_bytes());
        self.send(FXP_READ, &b)
    }

    fn send(&mut self, kind: u8, body: &[u8]) -> io::Result<u32> {
        self.next_id = self.next_id.wrapping_add(1);
        let mut v = Vec::with_capacity(9 + body.len());
        v.extend_from_slice(&((body.len() + 5) as u32).to_be_bytes());
        v.push(kind);
        v.extend_from_slice(&self.next_id.to_be_bytes());
        v.extend_from_slice(body);
        self.channel.write_all(&v)?;
        Ok(self.next_id)
    }

    /// Reads the next reply someone waits for, skipping answers to [`Bulk::close_later`]; for
    /// `SSH_FXP_DATA` the body is the 4-byte data length only.
    fn reply(&mut self) -> io::Result<Reply> {
        loop {
            let r = self.any_reply()?;
            match self.unanswered.iter().position(|&id| id == r.id) {
                Some(i) if r.kind == FXP_STATUS => {
                    self.unanswered.remove(i);
                    if let Err(e) = status(&r.body) {
                        log::debug!("a deferred SFTP request failed: {e}");
                    }
                }
                _ => return Ok(r),
            }
        }
    }

    /// Reads one reply; for `SSH_FXP_DATA` the body is the 4-byte data length only.
    fn any_reply(&mut self) -> io::Result<Reply> {
        let mut head = [0u8; 9];
        self.channel.read_exact(&mut head)?;
        let len = be32(&head) as usize;
        if len < 5 || len > (self.read_max.max(32 << 10)) + 1024 {
            return Err(protocol(format!("SFTP reply of {len} bytes")));
        }
        let rest = if head[4] == FXP_DATA { 4 } else { len - 5 };
        let mut body = vec![0u8; rest];
        self.channel.read_exact(&mut body)?;
        Ok(Reply {
            kind: head[4],
            id: be32(&head[5..]),
            body,
        })
    }

    /// Opens `path` with `flags` (`OPEN_*`); a new file gets permissions `mode` (the server's
    /// umask applies).
    pub fn open(&mut self, path: &str, flags: u32, mode: u32) -> io::Result<Handle> {
        let mut b = Vec::new();
        put_string(&mut b, path.as_bytes());
        b.extend_from_slice(&flags.to_be_bytes());
        b.extend_from_slice(&4u32.to_be_bytes()); // attributes: permissions only
        b.extend_from_slice(&(mode & 0o777).to_be_bytes());
        let id = self.send(FXP_OPEN, &b)?;
        let r = self.reply()?;
        match r.kind {
            _ if r.id != id => Err(protocol("OPEN answered out of turn")),
            FXP_HANDLE => {
                let n = r.body.get(..4).map(be32).unwrap_or(0) as usize;
                let h = r
                    .body
                    .get(4..4 + n)
                    .ok_or_else(|| protocol("short HANDLE"))?;
                Ok(Handle(h.to_vec()))
            }
            FXP_STATUS => Err(status(&r.body)
                .err()
                .unwrap_or_else(|| protocol("OPEN answered OK without a handle"))),
            k => Err(protocol(format!("OPEN answered with type {k}"))),
        }
    }

    /// Closes `handle` (for a written file: the server's `close` may report a write error).
    pub fn close(&mut self, handle: Handle) -> io::Result<()> {
        let mut b = Vec::new();
        put_string(&mut b, &handle.0);
        let id = self.send(FXP_CLOSE, &b)?;
        let r = self.reply()?;
        if r.kind != FXP_STATUS || r.id != id {
            return Err(protocol("CLOSE not answered with a STATUS"));
        }
        status(&r.body).map(|_| ())
    }

    /// Sends a close for `handle` without waiting for the answer, which a later request reads
    /// and discards. The server may take a while over it: closing the last handle on a
    /// replaced file frees its blocks.
    pub fn close_later(&mut self, handle: Handle) -> io::Result<()> {
        let mut b = Vec::new();
        put_string(&mut b, &handle.0);
        let id = self.send(FXP_CLOSE, &b)?;
        self.unanswered.push_back(id);
        Ok(())
    }

    /// Whether [`Bulk::replace`] is available (`posix-rename@openssh.com`).
    pub fn can_replace(&self) -> bool {
        self.posix_rename
    }

    /// Renames `from` to `to`, replacing `to` atomically if it exists (POSIX `rename(2)`).
    pub fn replace(&mut self, from: &str, to: &str) -> io::Result<()> {
        if !self.posix_rename {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the server has no posix-rename@openssh.com",
            ));
        }
        let mut b = Vec::new();
        put_string(&mut b, b"posix-rename@openssh.com");
        put_string(&mut b, from.as_bytes());
        put_string(&mut b, to.as_bytes());
        let id = self.send(FXP_EXTENDED, &b)?;
        let r = self.reply()?;
        if r.kind != FXP_STATUS || r.id != id {
            return Err(protocol("RENAME not answered with a STATUS"));
        }
        status(&r.body).map(|_| ())
    }

    /// Reads the whole file from offset 0 to its end, handing each piece to `sink` in file
    /// order (`sink` returns `false` to stop: cancelled). Returns the bytes read.
    pub fn download(&mut self, handle: &Handle, sink: &mut impl Sink) -> io::Result<u64> {
        struct Piece {
            id: u32,
            offset: u64,
            len: usize,
            /// Some(bytes received) once answered.
            got: Option<usize>,
            buf: Vec<u8>,
        }
        let req = self.read_max;
        let depth = (IN_FLIGHT / req).max(2);
        let buffer = |sink: &mut dyn Sink| {
            sink.spare()
                .filter(|b| b.len() >= req)
                .unwrap_or_else(|| vec![0u8; req])
        };
        let mut pieces: VecDeque<Piece> = VecDeque::new();
        let mut next_offset: u64 = 0;
        let mut end: Option<u64> = None; // offset of the first EOF answer
        let mut done: u64 = 0;
        let mut stopped = false;
        loop {
            // Keep `depth` requests outstanding until the end of the file is known.
            while end.is_none() && !stopped && pieces.len() < depth {
                let id = self.send_read(handle, next_offset, req)?;
                let buf = buffer(sink);
                pieces.push_back(Piece {
                    id,
                    offset: next_offset,
                    len: req,
                    got: None,
                    buf,
                });
                next_offset += req as u64;
            }
            // Hand over the answered pieces at the front, in order.
            while pieces.front().is_some_and(|p| p.got.is_some()) {
                let Some(p) = pieces.pop_front() else { break };
                let n = p.got.unwrap_or(0);
                if !stopped && end.is_none_or(|e| p.offset < e) && n > 0 {
                    done += n as u64;
                    MOVED.fetch_add(n as u64, Ordering::Relaxed);
                    stopped = !sink.take(p.buf, n)?;
                }
            }
            if pieces.is_empty() {
                return if stopped {
                    Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"))
                } else {
                    Ok(done)
                };
            }
            let r = self.reply()?;
            let i = pieces
                .iter()
                .position(|p| p.id == r.id && p.got.is_none())
                .ok_or_else(|| protocol(format!("answer to unknown request {}", r.id)))?;
            match r.kind {
                FXP_DATA => {
                    let n = be32(&r.body) as usize;
                    let p = &mut pieces[i];
                    if n > p.len {
                        return Err(protocol("more data than asked for"));
                    }
                    if n == 0 {
                        // End of file is a STATUS; empty data would leave a hole in the file.
                        return Err(protocol("an empty DATA reply"));
                    }
                    self.channel.read_exact(&mut p.buf[..n])?;
                    p.got = Some(n);
                    if n < p.len {
                        // A short read: ask for the rest right after it, before later pieces.
                        let (offset, len) = (p.offset + n as u64, p.len - n);
                        p.len = n;
                        let id = self.send_read(handle, offset, len)?;
                        let buf = buffer(sink);
                        pieces.insert(
                            i + 1,
                            Piece {
                                id,
                                offset,
                                len,
                                got: None,
                                buf,
                            },
                        );
                    }
                }
                FXP_STATUS => {
                    status(&r.body)?; // an error ends the transfer
                    let offset = pieces[i].offset;
                    pieces[i].got = Some(0);
                    end = Some(end.map_or(offset, |e| e.min(offset)));
                }
                k => return Err(protocol(format!("READ answered with type {k}"))),
            }
        }
    }

    /// Writes everything `next` produces (it fills the buffer it is given; 0 = end) to the
    /// file from offset 0, up to half the server's channel window (at most [`IN_FLIGHT`])
    /// outstanding; `acked` hears of each acknowledged
    /// write (and returns `false` to stop: cancelled). Returns the bytes written.
    pub fn upload(
        &mut self,
        handle: &Handle,
        mut next: impl FnMut(&mut [u8]) -> io::Result<usize>,
        mut acked: impl FnMut(u64) -> bool,
    ) -> io::Result<u64> {
        let req = self.write_max;
        let head = 4 + 1 + 4 + 4 + handle.0.len() + 8 + 4;
        let mut buf = vec![0u8; head + req];
        let mut outstanding: VecDeque<(u32, usize)> = VecDeque::new();
        let (mut offset, mut done) = (0u64, 0u64);
        let mut eof = false;
        // At most half the server's channel window outstanding: sshd tops the window up when
        // half of it is used, so the adjust arrives before the sender runs dry. (With a kept
        // channel, 1 to 8 MiB in flight measured the same within noise: docs/PERFORMANCE.md.)
        let in_flight = (self.server_window / 2).clamp(req, IN_FLIGHT);
        loop {
            if !eof && outstanding.len() * req < in_flight {
                let mut n = 0;
                while n < req {
                    let k = next(&mut buf[head + n..head + req])?;
                    if k == 0 {
                        eof = true;
                        break;
                    }
                    n += k;
                }
                if n > 0 {
                    self.next_id = self.next_id.wrapping_add(1);
                    let id = self.next_id;
                    let mut h = Vec::with_capacity(head);
                    h.extend_from_slice(&((head - 4 + n) as u32).to_be_bytes());
                    h.push(FXP_WRITE);
                    h.extend_from_slice(&id.to_be_bytes());
                    put_string(&mut h, &handle.0);
                    h.extend_from_slice(&offset.to_be_bytes());
                    h.extend_from_slice(&(n as u32).to_be_bytes());
                    buf[..head].copy_from_slice(&h);
                    // One write: header and data leave in the same SSH packets.
                    self.channel.write_all(&buf[..head + n])?;
                    outstanding.push_back((id, n));
                    offset += n as u64;
                }
                continue;
            }
            let Some((id, n)) = outstanding.pop_front() else {
                return Ok(done);
            };
            let r = self.reply()?;
            if r.kind != FXP_STATUS || r.id != id {
                return Err(protocol("WRITE not answered in turn with a STATUS"));
            }
            status(&r.body)?;
            done += n as u64;
            MOVED.fetch_add(n as u64, Ordering::Relaxed);
            if !acked(done) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
        }
    }
}
