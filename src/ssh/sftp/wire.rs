//! SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks):
//! building requests and taking replies apart. No I/O here, so every rule is unit-tested
//! against short, garbled and out-of-order input.
//!
//! A packet is `uint32 length, byte type, uint32 request-id, …` (INIT and VERSION carry a
//! version instead of an id). Requests are built without their id: the connection thread
//! numbers them as it sends them ([`Framer`] reads the replies back, [`Reply`] reads one).

use std::fmt;

/// Packet types.
pub mod kind {
    #![allow(missing_docs)]
    pub const INIT: u8 = 1;
    pub const VERSION: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const CLOSE: u8 = 4;
    pub const READ: u8 = 5;
    pub const WRITE: u8 = 6;
    pub const LSTAT: u8 = 7;
    pub const OPENDIR: u8 = 11;
    pub const READDIR: u8 = 12;
    pub const REMOVE: u8 = 13;
    pub const STAT: u8 = 17;
    pub const RENAME: u8 = 18;
    pub const READLINK: u8 = 19;
    pub const STATUS: u8 = 101;
    pub const HANDLE: u8 = 102;
    pub const DATA: u8 = 103;
    pub const NAME: u8 = 104;
    pub const ATTRS: u8 = 105;
    pub const EXTENDED: u8 = 200;
    pub const EXTENDED_REPLY: u8 = 201;
}

/// `SSH_FX_*` status codes.
pub mod status {
    #![allow(missing_docs)]
    pub const OK: u32 = 0;
    pub const EOF: u32 = 1;
    pub const NO_SUCH_FILE: u32 = 2;
    pub const PERMISSION_DENIED: u32 = 3;
    pub const FAILURE: u32 = 4;
    pub const BAD_MESSAGE: u32 = 5;
    pub const OP_UNSUPPORTED: u32 = 8;
}

/// `SSH_FXF_*` open flags.
pub mod open {
    #![allow(missing_docs)]
    pub const READ: u32 = 0x01;
    pub const WRITE: u32 = 0x02;
    pub const CREATE: u32 = 0x08;
    pub const EXCLUSIVE: u32 = 0x20;
}

const ATTR_SIZE: u32 = 0x1;
const ATTR_UIDGID: u32 = 0x2;
const ATTR_PERMISSIONS: u32 = 0x4;
const ATTR_ACMODTIME: u32 = 0x8;
const ATTR_EXTENDED: u32 = 0x8000_0000;

/// The largest reply accepted: a READ of 255 KiB plus headers (OpenSSH's sftp-server caps
/// packets at 256 KiB). Anything longer is a broken or hostile stream.
pub const MAX_PACKET: usize = 256 * 1024 + 1024;

/// Something in a reply that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garbled(pub String);

impl fmt::Display for Garbled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SFTP protocol error: {}", self.0)
    }
}

fn garbled<T>(what: impl Into<String>) -> Result<T, Garbled> {
    Err(Garbled(what.into()))
}

/// A request: the whole packet, its length and id filled in when it is sent
/// ([`Request::into_packet`]), so the body is never copied on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    packet: Vec<u8>,
}

/// Bytes before the body: length, type, id.
const HEADER: usize = 9;

impl Request {
    fn new(kind: u8) -> Request {
        Request::with_capacity(kind, 64)
    }

    fn with_capacity(kind: u8, capacity: usize) -> Request {
        let mut packet = crate::ssh::sftp::buffers::take(HEADER + capacity);
        packet.extend_from_slice(&[0, 0, 0, 0, kind, 0, 0, 0, 0]);
        Request { packet }
    }

    fn string(mut self, s: &[u8]) -> Request {
        put_string(&mut self.packet, s);
        self
    }

    fn u32(mut self, v: u32) -> Request {
        self.packet.extend_from_slice(&v.to_be_bytes());
        self
    }

    fn u64(mut self, v: u64) -> Request {
        self.packet.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Everything after the request id.
    #[cfg(test)]
    pub fn body(&self) -> &[u8] {
        &self.packet[HEADER..]
    }

    /// The body, to append a `WRITE`'s data to (see [`Request::write_with`]).
    pub fn body_mut(&mut self) -> &mut Vec<u8> {
        &mut self.packet
    }

    /// `OPEN path flags attrs`; a created file gets permissions `mode`.
    pub fn open(path: &str, flags: u32, mode: Option<u32>) -> Request {
        let r = Request::new(kind::OPEN).string(path.as_bytes()).u32(flags);
        match mode {
            Some(m) => r.u32(ATTR_PERMISSIONS).u32(m & 0o7777),
            None => r.u32(0),
        }
    }

    /// `CLOSE handle`.
    pub fn close(handle: &[u8]) -> Request {
        Request::new(kind::CLOSE).string(handle)
    }

    /// `READ handle offset len`.
    pub fn read(handle: &[u8], offset: u64, len: u32) -> Request {
        Request::new(kind::READ).string(handle).u64(offset).u32(len)
    }

    /// `WRITE handle offset data`.
    #[cfg(test)]
    pub fn write(handle: &[u8], offset: u64, data: &[u8]) -> Request {
        let mut r = Request::write_with(handle, offset, data.len());
        r.packet.extend_from_slice(data);
        r.finish_write();
        r
    }

    /// A `WRITE` whose data the caller appends to [`Request::body`] (up to `capacity` bytes,
    /// read straight into it: no copy), then [`Request::finish_write`].
    pub fn write_with(handle: &[u8], offset: u64, capacity: usize) -> Request {
        let room = 4 + handle.len() + 8 + 4 + capacity;
        let mut r = Request::with_capacity(kind::WRITE, room)
            .string(handle)
            .u64(offset);
        r.packet.extend_from_slice(&[0, 0, 0, 0]);
        r
    }

    /// Where a `WRITE`'s data length sits in the packet.
    fn write_length_at(&self) -> usize {
        let b = &self.packet[HEADER..];
        let handle_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        HEADER + 4 + handle_len + 8
    }

    /// Sets the data length of a [`Request::write_with`] request to what was appended.
    pub fn finish_write(&mut self) {
        let at = self.write_length_at();
        let len = (self.packet.len() - at - 4) as u32;
        self.packet[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Bytes of data in a `WRITE` built here.
    #[cfg(test)]
    pub fn data_len(&self) -> usize {
        self.packet.len().saturating_sub(self.write_length_at() + 4)
    }

    /// `STAT path` (follows symlinks).
    pub fn stat(path: &str) -> Request {
        Request::new(kind::STAT).string(path.as_bytes())
    }

    /// `LSTAT path` (does not follow symlinks).
    pub fn lstat(path: &str) -> Request {
        Request::new(kind::LSTAT).string(path.as_bytes())
    }

    /// `OPENDIR path`.
    pub fn opendir(path: &str) -> Request {
        Request::new(kind::OPENDIR).string(path.as_bytes())
    }

    /// `READDIR handle`.
    pub fn readdir(handle: &[u8]) -> Request {
        Request::new(kind::READDIR).string(handle)
    }

    /// `READLINK path`.
    pub fn readlink(path: &str) -> Request {
        Request::new(kind::READLINK).string(path.as_bytes())
    }

    /// `REMOVE path`.
    pub fn remove(path: &str) -> Request {
        Request::new(kind::REMOVE).string(path.as_bytes())
    }

    /// `RENAME from to` (never replaces an existing `to`, per the protocol).
    pub fn rename(from: &str, to: &str) -> Request {
        Request::new(kind::RENAME)
            .string(from.as_bytes())
            .string(to.as_bytes())
    }

    /// `posix-rename@openssh.com from to`: `rename(2)`, replacing `to` atomically.
    pub fn posix_rename(from: &str, to: &str) -> Request {
        Request::new(kind::EXTENDED)
            .string(b"posix-rename@openssh.com")
            .string(from.as_bytes())
            .string(to.as_bytes())
    }

    /// `limits@openssh.com`: the server's packet and request size limits.
    pub fn limits() -> Request {
        Request::new(kind::EXTENDED).string(b"limits@openssh.com")
    }

    /// The whole packet with request id `id`.
    #[cfg(test)]
    pub fn packet(&self, id: u32) -> Vec<u8> {
        self.clone().into_packet(id)
    }

    /// The whole packet with request id `id`, its length filled in (no copy).
    pub fn into_packet(mut self, id: u32) -> Vec<u8> {
        let len = (self.packet.len() - 4) as u32;
        self.packet[..4].copy_from_slice(&len.to_be_bytes());
        self.packet[5..9].copy_from_slice(&id.to_be_bytes());
        std::mem::take(&mut self.packet)
    }
}

/// The `INIT` packet (version 3).
pub fn init_packet() -> Vec<u8> {
    vec![0, 0, 0, 5, kind::INIT, 0, 0, 0, 3]
}

fn put_string(v: &mut Vec<u8>, s: &[u8]) {
    v.extend_from_slice(&(s.len() as u32).to_be_bytes());
    v.extend_from_slice(s);
}

/// Reads big-endian fields off a byte slice, refusing to run past its end.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Garbled> {
        if self.bytes.len() < n {
            return garbled(format!("{what} cut short"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// A `uint32`.
    pub fn u32(&mut self, what: &str) -> Result<u32, Garbled> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `uint64`.
    pub fn u64(&mut self, what: &str) -> Result<u64, Garbled> {
        let hi = u64::from(self.u32(what)?);
        let lo = u64::from(self.u32(what)?);
        Ok(hi << 32 | lo)
    }

    /// A `string` (length-prefixed bytes).
    pub fn string(&mut self, what: &str) -> Result<&'a [u8], Garbled> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}

/// File attributes (`ATTRS`): the fields the server sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Size in bytes.
    pub size: Option<u64>,
    /// Owner user and group ids.
    pub uid_gid: Option<(u32, u32)>,
    /// Mode bits: file type and permissions (`st_mode`).
    pub permissions: Option<u32>,
    /// Access and modification times, seconds since the epoch.
    pub atime_mtime: Option<(u32, u32)>,
}

impl Attrs {
    /// Reads an `ATTRS` structure.
    pub fn parse(c: &mut Cursor<'_>) -> Result<Attrs, Garbled> {
        let flags = c.u32("attribute flags")?;
        let mut a = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            a.size = Some(c.u64("size")?);
        }
        if flags & ATTR_UIDGID != 0 {
            a.uid_gid = Some((c.u32("uid")?, c.u32("gid")?));
        }
        if flags & ATTR_PERMISSIONS != 0 {
            a.permissions = Some(c.u32("permissions")?);
        }
        if flags & ATTR_ACMODTIME != 0 {
            a.atime_mtime = Some((c.u32("atime")?, c.u32("mtime")?));
        }
        if flags & ATTR_EXTENDED != 0 {
            let n = c.u32("extended count")?;
            for _ in 0..n {
                c.string("extended name")?;
                c.string("extended value")?;
            }
        }
        Ok(a)
    }

    /// The file type bits (`S_IFMT`), 0 when unknown.
    pub fn file_type(&self) -> u32 {
        self.permissions.unwrap_or(0) & 0o170000
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.file_type() == 0o100000
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == 0o040000
    }

    /// Modification time (0 when unknown).
    pub fn mtime(&self) -> u64 {
        self.atime_mtime.map_or(0, |(_, m)| u64::from(m))
    }
}

/// A status the server answered with: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The `SSH_FX_*` code.
    pub code: u32,
    /// The server's message (may be empty).
    pub message: String,
}

impl Status {
    /// What the code means, for messages.
    pub fn meaning(&self) -> &'static str {
        match self.code {
            status::OK => "ok",
            status::EOF => "end of file",
            status::NO_SUCH_FILE => "no such file or directory",
            status::PERMISSION_DENIED => "permission denied",
            status::FAILURE => "failure",
            status::BAD_MESSAGE => "bad message",
            status::OP_UNSUPPORTED => "operation unsupported by the server",
            _ => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SFTP status {})", self.meaning(), self.code)
    }
}

/// One reply, as the connection thread hands it over: the packet with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    packet: Vec<u8>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        crate::ssh::sftp::buffers::give(std::mem::take(&mut self.packet));
    }
}

impl Reply {
    /// A reply from a complete packet (length, type, id, body); `Garbled` if too short.
    pub fn new(packet: Vec<u8>) -> Result<Reply, Garbled> {
        if packet.len() < 9 {
            return garbled(format!("a packet of {} bytes", packet.len()));
        }
        Ok(Reply { packet })
    }

    /// The packet type.
    pub fn kind(&self) -> u8 {
        self.packet[4]
    }

    /// The request id it answers.
    pub fn id(&self) -> u32 {
        u32::from_be_bytes([
            self.packet[5],
            self.packet[6],
            self.packet[7],
            self.packet[8],
        ])
    }

    fn body(&self) -> Cursor<'_> {
        Cursor::new(&self.packet[9..])
    }

    /// The status, when this is a `STATUS` reply.
    pub fn status(&self) -> Result<Option<Status>, Garbled> {
        if self.kind() != kind::STATUS {
            return Ok(None);
        }
        let mut c = self.body();
        let code = c.u32("status code")?;
        // The message is optional in practice (some servers omit it).
        let message = c
            .string("status message")
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .unwrap_or_default();
        Ok(Some(Status { code, message }))
    }

    /// `Ok` for `STATUS OK`; the status as an error otherwise; `Garbled` for another type.
    pub fn ok(&self) -> Result<Result<(), Status>, Garbled> {
        match self.status()? {
            Some(s) if s.code == status::OK => Ok(Ok(())),
            Some(s) => Ok(Err(s)),
            None => garbled(format!("type {} where a STATUS was due", self.kind())),
        }
    }

    /// Reads the reply as type `want` (`Ok(Ok(cursor over its body))`), or its error status.
    fn expect(&self, want: u8, what: &str) -> Result<Result<Cursor<'_>, Status>, Garbled> {
        if self.kind() == want {
            return Ok(Ok(self.body()));
        }
        match self.status()? {
            Some(s) if s.code != status::OK => Ok(Err(s)),
            _ => garbled(format!("type {} where {what} was due", self.kind())),
        }
    }

    /// A `HANDLE` reply's handle.
    pub fn handle(&self) -> Result<Result<Vec<u8>, Status>, Garbled> {
        Ok(match self.expect(kind::HANDLE, "a HANDLE")? {
            Ok(mut c) => Ok(c.string("handle")?.to_vec()),
            Err(s) => Err(s),
        })
    }

    /// An `ATTRS` reply's attributes.
    pub fn attrs(&self) -> Result<Result<Attrs, Status>, Garbled> {
        Ok(match self.expect(kind::ATTRS, "ATTRS")? {
            Ok(mut c) => Ok(Attrs::parse(&mut c)?),
            Err(s) => Err(s),
        })
    }

    /// A `DATA` reply's bytes (a slice of the packet), or `None` at end of file.
    pub fn data(&self) -> Result<Result<Option<&[u8]>, Status>, Garbled> {
        if let Some(s) = self.status()? {
            return Ok(match s.code {
                status::EOF => Ok(None),
                status::OK => return garbled("STATUS OK where DATA was due"),
                _ => Err(s),
            });
        }
        if self.kind() != kind::DATA {
            return garbled(format!("type {} where DATA was due", self.kind()));
        }
        let mut c = self.body();
        let data = c.string("data")?;
        if data.is_empty() {
            // End of file is a STATUS: an empty DATA would leave a hole in a transfer.
            return garbled("an empty DATA reply");
        }
        Ok(Ok(Some(data)))
    }

    /// Where a `DATA` reply's bytes start in the packet, and how many there are.
    pub fn data_range(&self) -> Option<(usize, usize)> {
        let d = self.data().ok()?.ok()??;
        let start = d.as_ptr() as usize - self.packet.as_ptr() as usize;
        Some((start, d.len()))
    }

    /// The packet, to take a `DATA` reply's bytes without a copy (see [`Reply::data_range`]).
    pub fn into_packet(mut self) -> Vec<u8> {
        std::mem::take(&mut self.packet)
    }

    /// A `NAME` reply's entries: (file name, attributes); `None` at the end of a listing.
    pub fn names(&self) -> Result<Result<Option<Names>, Status>, Garbled> {
        if let Some(s) = self.status()? {
            return Ok(match s.code {
                status::EOF => Ok(None),
                status::OK => return garbled("STATUS OK where NAME was due"),
                _ => Err(s),
            });
        }
        if self.kind() != kind::NAME {
            return garbled(format!("type {} where NAME was due", self.kind()));
        }
        let mut c = self.body();
        let n = c.u32("name count")? as usize;
        // Each entry takes at least 12 bytes: a count beyond that is a lie, not an allocation.
        if n > c.rest().len() / 12 {
            return garbled(format!("{n} names in {} bytes", c.rest().len()));
        }
        let mut names = Vec::with_capacity(n);
        for _ in 0..n {
            let name = c.string("file name")?.to_vec();
            c.string("long name")?;
            names.push((name, Attrs::parse(&mut c)?));
        }
        Ok(Ok(Some(names)))
    }

    /// An `EXTENDED_REPLY`'s body.
    pub fn extended(&self) -> Result<Result<Cursor<'_>, Status>, Garbled> {
        self.expect(kind::EXTENDED_REPLY, "an EXTENDED_REPLY")
    }
}

/// The entries of a `NAME` reply: (file name, attributes).
pub type Names = Vec<(Vec<u8>, Attrs)>;

/// What the server said in its `VERSION`: the protocol version and the extensions offered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// The version the server speaks (3 for OpenSSH).
    pub version: u32,
    /// Extension names offered, e.g. `posix-rename@openssh.com`.
    pub extensions: Vec<String>,
}

impl ServerInfo {
    /// Reads a `VERSION` packet (with its length and type).
    pub fn parse(packet: &[u8]) -> Result<ServerInfo, Garbled> {
        if packet.len() < 9 || packet[4] != kind::VERSION {
            return garbled("the server did not answer INIT with VERSION");
        }
        let mut c = Cursor::new(&packet[5..]);
        let version = c.u32("version")?;
        let mut extensions = Vec::new();
        while !c.rest().is_empty() {
            let name = c.string("extension name")?;
            c.string("extension data")?;
            extensions.push(String::from_utf8_lossy(name).into_owned());
        }
        Ok(ServerInfo {
            version,
            extensions,
        })
    }

    /// Whether the server offers extension `name`.
    pub fn has(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e == name)
    }
}

/// The server's limits (`limits@openssh.com`): the largest read and write requests it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `READ` length answered in full.
    pub read: usize,
    /// Largest `WRITE` length accepted.
    pub write: usize,
}

impl Limits {
    /// Without the extension: the 32 KiB every SFTP server must accept.
    pub const BASELINE: Limits = Limits {
        read: 32 << 10,
        write: 32 << 10,
    };

    /// The largest request scout sends, whatever the server allows.
    pub const MAX: usize = 255 << 10;

    /// Reads a `limits@openssh.com` reply (max packet, read, write, open handles).
    pub fn parse(reply: &Reply) -> Result<Result<Limits, Status>, Garbled> {
        let mut c = match reply.extended()? {
            Ok(c) => c,
            Err(s) => return Ok(Err(s)),
        };
        let _packet = c.u64("max packet length")?;
        let read = c.u64("max read length")?;
        let write = c.u64("max write length")?;
        let pick = |v: u64| {
            if v == 0 {
                Limits::BASELINE.read
            } else {
                (v.min(Limits::MAX as u64) as usize).max(1)
            }
        };
        Ok(Ok(Limits {
            read: pick(read),
            write: pick(write),
        }))
    }
}

/// Cuts a byte stream into packets. Read into [`Framer::buffer`], report what was read with
/// [`Framer::filled`], take complete packets out. A length below 5 or above [`MAX_PACKET`]
/// breaks the stream for good: nothing after it can be trusted to be where a packet starts.
#[derive(Debug, Default)]
pub struct Framer {
    /// The packet being read: its 4-byte length first, then the rest.
    current: Vec<u8>,
    /// Bytes of it read so far.
    have: usize,
    /// Its full length (with the length field) once known.
    want: Option<usize>,
}

impl Framer {
    /// How many bytes the framer wants next, at most.
    fn wanted(&self) -> usize {
        self.want.unwrap_or(4) - self.have
    }

    /// The buffer to read into next (at most what completes the current length or packet, so
    /// a packet's bytes land in its own buffer without a copy).
    pub fn buffer(&mut self) -> &mut [u8] {
        let end = self.have + self.wanted();
        if self.current.len() < end {
            self.current.resize(end, 0);
        }
        &mut self.current[self.have..end]
    }

    /// Records that `n` bytes were read into the last [`Framer::buffer`]; a whole packet
    /// (length, type, id, body) when one is complete.
    pub fn filled(&mut self, n: usize) -> Result<Option<Vec<u8>>, Garbled> {
        self.have += n.min(self.wanted());
        match self.want {
            None if self.have == 4 => {
                let b = &self.current;
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                if !(5..=MAX_PACKET).contains(&len) {
                    return garbled(format!("a packet length of {len}"));
                }
                self.want = Some(len + 4);
                if self.current.len() < len + 4 {
                    // Big answers (file data) reuse buffers instead of a fresh allocation each.
                    let mut buf = crate::ssh::sftp::buffers::take_filled(len + 4);
                    buf[..4].copy_from_slice(&self.current[..4]);
                    self.current = buf;
                }
                Ok(None)
            }
            Some(want) if self.have == want => {
                let mut packet = std::mem::take(&mut self.current);
                packet.truncate(want);
                self.have = 0;
                self.want = None;
                Ok(Some(packet))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(kind: u8, id: u32, body: &[u8]) -> Reply {
        let mut p = Vec::new();
        p.extend_from_slice(&((body.len() + 5) as u32).to_be_bytes());
        p.push(kind);
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(body);
        Reply::new(p).unwrap()
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put_string(&mut v, s);
        v
    }

    fn status_body(code: u32, msg: &str) -> Vec<u8> {
        let mut b = code.to_be_bytes().to_vec();
        b.extend(string(msg.as_bytes()));
        b.extend(string(b"en"));
        b
    }

    /// Feeds `bytes` through a framer in chunks of `step`; the packets it gives.
    fn frame(bytes: &[u8], step: usize) -> Result<Vec<Vec<u8>>, Garbled> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let buf = f.buffer();
            let n = buf.len().min(step).min(bytes.len() - at);
            buf[..n].copy_from_slice(&bytes[at..at + n]);
            at += n;
            if let Some(p) = f.filled(n)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    #[test]
    fn requests_have_length_type_id_and_body() {
        let p = Request::read(b"h1", 7, 4096).packet(42);
        assert_eq!(
            p,
            [
                &[0, 0, 0, 23, kind::READ, 0, 0, 0, 42, 0, 0, 0, 2, b'h', b'1'][..],
                &7u64.to_be_bytes(),
                &4096u32.to_be_bytes()
            ]
            .concat()
        );
        let open = Request::open("/a", open::WRITE | open::CREATE, Some(0o100600));
        let body = open.body();
        assert_eq!(body[body.len() - 8..], [0, 0, 0, 4, 0, 0, 0x01, 0x80]);
        let mut w = Request::write_with(b"hh", 3, 10);
        w.body_mut().extend_from_slice(b"data");
        w.finish_write();
        assert_eq!(w.data_len(), 4);
        assert_eq!(w, Request::write(b"hh", 3, b"data"));
    }

    #[test]
    fn the_framer_cuts_packets_at_any_chunking() {
        let mut stream = Vec::new();
        let a = reply(kind::HANDLE, 1, &string(b"h")).into_packet();
        let b = reply(kind::DATA, 2, &string(&[7u8; 1000])).into_packet();
        stream.extend(&a);
        stream.extend(&b);
        for step in [1, 3, 4, 5, 9, 100, 4096] {
            assert_eq!(
                frame(&stream, step).unwrap(),
                vec![a.clone(), b.clone()],
                "{step}"
            );
        }
        // A packet cut short is simply not complete yet.
        assert_eq!(frame(&stream[..stream.len() - 1], 7).unwrap(), vec![a]);
    }

    #[test]
    fn lengths_out_of_bounds_break_the_stream() {
        for len in [0u32, 4, (MAX_PACKET + 1) as u32, u32::MAX] {
            let err = frame(&len.to_be_bytes(), 4).unwrap_err();
            assert!(err.0.contains("packet length"), "{len}: {err}");
        }
    }

    #[test]
    fn short_and_garbled_replies_are_errors_not_panics() {
        assert!(Reply::new(vec![0, 0, 0, 5, 101, 0, 0]).is_err());
        // STATUS without its code.
        assert!(reply(kind::STATUS, 1, &[]).status().is_err());
        // STATUS without a message is accepted.
        let s = reply(kind::STATUS, 1, &2u32.to_be_bytes())
            .status()
            .unwrap()
            .unwrap();
        assert_eq!(s.code, status::NO_SUCH_FILE);
        // A HANDLE whose string runs past the end.
        assert!(reply(kind::HANDLE, 1, &[0, 0, 0, 9, b'x'])
            .handle()
            .is_err());
        // DATA shorter than 9 bytes in all: the length prefix cut short.
        assert!(reply(kind::DATA, 1, &[0, 0]).data().is_err());
        // DATA claiming more bytes than it carries.
        assert!(reply(kind::DATA, 1, &[0, 0, 1, 0, 1, 2]).data().is_err());
        assert!(
            reply(kind::DATA, 1, &string(b"")).data().is_err(),
            "empty DATA"
        );
        // ATTRS with flags promising fields that are not there.
        assert!(reply(kind::ATTRS, 1, &[0, 0, 0, 0x0f]).attrs().is_err());
        // A NAME count that cannot fit: refused before any allocation.
        let mut huge = u32::MAX.to_be_bytes().to_vec();
        huge.extend([0u8; 20]);
        assert!(reply(kind::NAME, 1, &huge).names().is_err());
        // The wrong type for the request.
        assert!(reply(kind::DATA, 1, &string(b"x")).handle().is_err());
        assert!(reply(kind::HANDLE, 1, &string(b"x")).ok().is_err());
    }

    #[test]
    fn replies_read_as_what_they_answer() {
        assert_eq!(
            reply(kind::HANDLE, 3, &string(b"abc")).handle(),
            Ok(Ok(b"abc".to_vec()))
        );
        let data = reply(kind::DATA, 4, &string(b"hello"));
        assert_eq!(data.data(), Ok(Ok(Some(&b"hello"[..]))));
        assert_eq!(data.data_range(), Some((13, 5)));
        let eof = reply(kind::STATUS, 4, &status_body(status::EOF, "eof"));
        assert_eq!(eof.data(), Ok(Ok(None)));
        let denied = reply(
            kind::STATUS,
            4,
            &status_body(status::PERMISSION_DENIED, "no"),
        );
        assert_eq!(
            denied.data().unwrap().unwrap_err().code,
            status::PERMISSION_DENIED
        );
        assert_eq!(denied.handle().unwrap().unwrap_err().message, "no");
        let mut attrs = (ATTR_SIZE | ATTR_PERMISSIONS | ATTR_ACMODTIME)
            .to_be_bytes()
            .to_vec();
        attrs.extend(10u64.to_be_bytes());
        attrs.extend(0o100644u32.to_be_bytes());
        attrs.extend([0, 0, 0, 1, 0, 0, 0, 2]);
        let a = reply(kind::ATTRS, 5, &attrs).attrs().unwrap().unwrap();
        assert!(a.is_file() && !a.is_dir());
        assert_eq!((a.size, a.mtime()), (Some(10), 2));
        let mut names = 1u32.to_be_bytes().to_vec();
        names.extend(string(b"f"));
        names.extend(string(b"-rw-r--r-- f"));
        names.extend(&attrs);
        let n = reply(kind::NAME, 6, &names)
            .names()
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(n, vec![(b"f".to_vec(), a)]);
    }

    #[test]
    fn version_and_limits_parse() {
        let mut v = vec![0, 0, 0, 0, kind::VERSION, 0, 0, 0, 3];
        v.extend(string(b"posix-rename@openssh.com"));
        v.extend(string(b"1"));
        v.extend(string(b"limits@openssh.com"));
        v.extend(string(b"1"));
        let info = ServerInfo::parse(&v).unwrap();
        assert_eq!(info.version, 3);
        assert!(info.has("posix-rename@openssh.com") && info.has("limits@openssh.com"));
        assert!(ServerInfo::parse(&[0, 0, 0, 5, kind::HANDLE, 0, 0, 0, 3]).is_err());
        let mut v = v.clone();
        v.extend([0, 0, 0]);
        assert!(ServerInfo::parse(&v).is_err(), "an extension cut short");
        let mut l = Vec::new();
        for x in [262_144u64, 261_120, 0, 64] {
            l.extend(x.to_be_bytes());
        }
        let limits = Limits::parse(&reply(kind::EXTENDED_REPLY, 1, &l))
            .unwrap()
            .unwrap();
        assert_eq!(
            limits,
            Limits {
                read: Limits::MAX,
                write: 32 << 10
            }
        );
    }
}
