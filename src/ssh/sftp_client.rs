//! SFTP for the operations: typed requests over a connection's SFTP channel.
//!
//! [`crate::ssh::sftp`] is the protocol itself (no I/O); [`Sftp`] sends requests through the connection's
//! thread ([`crate::ssh::mux`]) and reads the answers as what they answer. Requests go to the
//! connection's shared channel, or to a channel a transfer opened for itself; either way many
//! callers' requests are in flight on one connection at once, each waiting only for its own
//! answer.

use std::collections::VecDeque;

use crate::control::Control;
use crate::error::Error;
use crate::ssh::mux::{Conn, Failure, Pending, SftpChannel};
use crate::ssh::sftp::buffers;
use crate::ssh::sftp::wire::{Attrs, Garbled, Limits, Reply, Request, ServerInfo, Status};

/// An open remote file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle(pub Vec<u8>);

/// One entry of a directory listing: its name and attributes.
pub type Name = (Vec<u8>, Attrs);

/// The bytes of a `READ` answer, still in the packet they came in (no copy).
#[derive(Debug)]
pub struct Data {
    packet: Vec<u8>,
    start: usize,
    len: usize,
}

impl Drop for Data {
    fn drop(&mut self) {
        buffers::give(std::mem::take(&mut self.packet));
    }
}

impl Data {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.packet[self.start..self.start + self.len]
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The packet and where the bytes are in it, to pass on without a copy (give the packet
    /// back to [`buffers`] when done).
    pub fn into_parts(mut self) -> (Vec<u8>, usize, usize) {
        (std::mem::take(&mut self.packet), self.start, self.len)
    }
}

/// SFTP over one channel of one connection, for one call (its cancel flag).
#[derive(Clone, Copy)]
pub struct Sftp<'a> {
    conn: &'a Conn,
    channel: SftpChannel,
    control: &'a Control,
}

impl<'a> Sftp<'a> {
    /// Requests on `channel` of `conn`, given up when `control` is cancelled.
    pub fn new(conn: &'a Conn, channel: SftpChannel, control: &'a Control) -> Sftp<'a> {
        Sftp {
            conn,
            channel,
            control,
        }
    }

    /// The connection's host alias.
    pub fn host(&self) -> &str {
        &self.conn.state.alias
    }

    fn call(&self, request: Request) -> Result<Reply, Failure> {
        self.conn.sftp(self.channel, request, self.control)
    }

    /// Sends `request` without waiting: the answer comes through the [`Pending`].
    pub fn send(&self, request: Request) -> Pending<Reply> {
        self.conn.sftp_async(self.channel, request)
    }

    /// Waits for an answer sent with [`Sftp::send`].
    pub fn wait(&self, pending: Pending<Reply>) -> Result<Reply, Failure> {
        pending.wait(self.conn.request_timeout(), self.control, "SFTP request")
    }

    /// The server said no: `cannot DOING: no such file or directory (SFTP status 2)`.
    pub fn refused(&self, doing: &str, status: &Status) -> Failure {
        use crate::error::ErrorKind;
        use crate::ssh::sftp::wire::status::{NO_SUCH_FILE, PERMISSION_DENIED};
        let kind = match status.code {
            NO_SUCH_FILE => ErrorKind::NotFound,
            PERMISSION_DENIED => ErrorKind::PermissionDenied,
            _ => ErrorKind::Remote,
        };
        Failure::from(Error::remote(
            self.host().to_string(),
            kind,
            format!("cannot {doing}: {status}"),
        ))
    }

    fn garbled(&self, doing: &str, g: Garbled) -> Failure {
        Failure::from(Error::session(
            self.host().to_string(),
            format!("cannot {doing}: {g}"),
        ))
    }

    /// Reads a reply with `read`, turning its status and protocol errors into failures.
    fn answer<T>(
        &self,
        doing: &str,
        reply: &Reply,
        read: impl FnOnce(&Reply) -> Result<Result<T, Status>, Garbled>,
    ) -> Result<T, Failure> {
        match read(reply) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(status)) => Err(self.refused(doing, &status)),
            Err(g) => Err(self.garbled(doing, g)),
        }
    }

    fn simple<T>(
        &self,
        doing: &str,
        request: Request,
        read: impl FnOnce(&Reply) -> Result<Result<T, Status>, Garbled>,
    ) -> Result<T, Failure> {
        let reply = self.call(request)?;
        self.answer(doing, &reply, read)
    }

    /// `stat` (follows symlinks).
    pub fn stat(&self, path: &str) -> Result<Attrs, Failure> {
        let doing = format!("stat '{path}'");
        self.simple(&doing, Request::stat(path), Reply::attrs)
    }

    /// `lstat` (does not follow symlinks).
    pub fn lstat(&self, path: &str) -> Result<Attrs, Failure> {
        let doing = format!("stat '{path}'");
        self.simple(&doing, Request::lstat(path), Reply::attrs)
    }

    /// Opens a file; a created one gets permissions `mode`.
    pub fn open(&self, path: &str, flags: u32, mode: Option<u32>) -> Result<Handle, Failure> {
        let doing = format!("open '{path}'");
        self.simple(&doing, Request::open(path, flags, mode), Reply::handle)
            .map(Handle)
    }

    /// Closes a handle and waits for the answer (a written file's close may report an error).
    pub fn close(&self, handle: &Handle) -> Result<(), Failure> {
        self.simple("close a file", Request::close(&handle.0), Reply::ok)
    }

    /// Closes a handle without waiting: the server may take its time (freeing a replaced
    /// file's blocks) after the caller has its answer.
    pub fn close_later(&self, handle: &Handle) {
        drop(self.send(Request::close(&handle.0)));
    }

    /// The bytes of a `READ` answer (`None` at end of file), without copying them.
    pub fn data(&self, doing: &str, reply: Reply) -> Result<Option<Data>, Failure> {
        match reply.data() {
            Ok(Ok(None)) => return Ok(None),
            Ok(Ok(Some(_))) => {}
            Ok(Err(status)) => return Err(self.refused(doing, &status)),
            Err(g) => return Err(self.garbled(doing, g)),
        }
        let (start, len) = reply
            .data_range()
            .ok_or_else(|| self.garbled(doing, Garbled("DATA".into())))?;
        Ok(Some(Data {
            packet: reply.into_packet(),
            start,
            len,
        }))
    }

    /// A `STATUS OK` answer, or the failure it reports.
    pub fn ok(&self, doing: &str, reply: &Reply) -> Result<(), Failure> {
        self.answer(doing, reply, Reply::ok)
    }

    /// The entries of a directory (without `.` and `..`), each handed to `take` as it comes
    /// (the caller decides what to keep); how many there were.
    pub fn read_dir(&self, path: &str, mut take: impl FnMut(Name)) -> Result<usize, Failure> {
        let doing = format!("list '{path}'");
        let handle = self.simple(&doing, Request::opendir(path), Reply::handle)?;
        let mut total = 0usize;
        let result = loop {
            let reply = match self.call(Request::readdir(&handle)) {
                Ok(r) => r,
                Err(f) => break Err(f),
            };
            match self.answer(&doing, &reply, Reply::names) {
                Ok(None) => break Ok(()),
                Ok(Some(batch)) => {
                    // `.` and `..` are not entries of the directory.
                    for name in batch.into_iter().filter(|(n, _)| n != b"." && n != b"..") {
                        total += 1;
                        take(name);
                    }
                }
                Err(f) => break Err(f),
            }
        };
        self.close_later(&Handle(handle));
        result.map(|()| total)
    }

    /// Takes `n` bytes of the call's output budget, waiting up to the request timeout for
    /// other calls to give some back.
    pub fn reserve(&self, n: usize) -> Result<(), Failure> {
        let deadline = std::time::Instant::now() + self.conn.request_timeout();
        if self.control.reserve_wait(n, deadline) {
            return Ok(());
        }
        if self.control.is_cancelled() {
            return Err(Error::cancelled().into());
        }
        Err(Failure::from(Error::timeout(
            self.host().to_string(),
            "waiting for output memory (the answers of other calls hold the server's \
                   output budget; read the answers, or retry)",
            self.conn.request_timeout(),
        )))
    }

    /// Removes a file.
    pub fn remove(&self, path: &str) -> Result<(), Failure> {
        let doing = format!("remove '{path}'");
        self.simple(&doing, Request::remove(path), Reply::ok)
    }

    /// Renames, never replacing an existing `to`.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), Failure> {
        let doing = format!("rename '{from}' to '{to}'");
        self.simple(&doing, Request::rename(from, to), Reply::ok)
    }

    /// Renames, replacing `to` atomically (`posix-rename@openssh.com`).
    pub fn posix_rename(&self, from: &str, to: &str) -> Result<(), Failure> {
        let doing = format!("rename '{from}' to '{to}'");
        self.simple(&doing, Request::posix_rename(from, to), Reply::ok)
    }

    /// What the server offers (its extensions).
    pub fn info(&self) -> Result<ServerInfo, Failure> {
        self.conn.sftp_info(self.channel, self.control)
    }

    /// The largest read and write requests the server takes: asked once per connection when
    /// the server offers `limits@openssh.com`, else the 32 KiB every server takes.
    pub fn limits(&self) -> Result<Limits, Failure> {
        if let Some(limits) = self.conn.state.limits.get() {
            return Ok(*limits);
        }
        let limits = if self.info()?.has("limits@openssh.com") {
            let reply = self.call(Request::limits())?;
            self.answer("ask the server's limits", &reply, Limits::parse)
                .unwrap_or(Limits::BASELINE)
        } else {
            Limits::BASELINE
        };
        Ok(*self.conn.state.limits.get_or_init(|| limits))
    }

    /// Reads `handle` from offset 0 until end of file or `max` bytes, with up to `depth`
    /// requests of `chunk` bytes in flight, handing each piece to `sink` in file order (by
    /// value: no copy). `size_hint` (the file's size by `stat`) puts a request boundary at
    /// the expected end, so a file that did not grow ends with an end-of-file answer in the
    /// same round trip. A short answer is asked again for its remainder before anything
    /// later. Returns the bytes read and whether the end of the file was seen.
    pub fn read_stream(
        &self,
        handle: &Handle,
        max: u64,
        size_hint: Option<u64>,
        (chunk, depth): (usize, usize),
        mut sink: impl FnMut(Data) -> Result<(), Failure>,
    ) -> Result<(u64, bool), Failure> {
        struct Piece {
            offset: u64,
            len: u64,
            answer: Pending<Reply>,
        }
        let chunk = chunk.max(1) as u64;
        let mut queue: VecDeque<Piece> = VecDeque::new();
        let mut next = 0u64;
        let mut done = 0u64;
        loop {
            // Past the expected end only one request at a time: the end-of-file probe (and,
            // should the file have grown, what follows it).
            let past_end = |next: u64| size_hint.is_some_and(|h| next > h);
            while queue.len() < depth.max(1) && next < max && (queue.is_empty() || !past_end(next))
            {
                let boundary = size_hint.filter(|&h| h > next && h - next < chunk);
                let len = boundary.map_or(chunk, |h| h - next).min(max - next);
                let answer = self.send(Request::read(&handle.0, next, len as u32));
                queue.push_back(Piece {
                    offset: next,
                    len,
                    answer,
                });
                next += len;
            }
            let Some(piece) = queue.pop_front() else {
                return Ok((done, false));
            };
            let reply = self.wait(piece.answer)?;
            let Some(bytes) = self.data("read a file", reply)? else {
                // End of file: the answers still on their way are dropped when they come.
                return Ok((done, true));
            };
            let n = bytes.len() as u64;
            if n > piece.len {
                return Err(self.garbled("read a file", Garbled("more data than asked for".into())));
            }
            done += n;
            sink(bytes)?;
            if n < piece.len {
                // A short answer: the rest of this piece comes before every later one.
                let (offset, len) = (piece.offset + n, piece.len - n);
                let answer = self.send(Request::read(&handle.0, offset, len as u32));
                queue.push_front(Piece {
                    offset,
                    len,
                    answer,
                });
            }
        }
    }
}
