//! Moving files over SFTP: download, upload, and host-to-host relay, streamed in bounded
//! memory with a SHA-256 of what was written.
//!
//! * **A channel of its own.** A transfer runs on an SFTP channel of its own (on a lane of its
//!   host's connection), so its data never queues the connection's other SFTP requests; the
//!   connection keeps the channel for its next transfer. Requests are as large as the server
//!   takes (`limits@openssh.com`: 255 KiB with OpenSSH, 32 KiB otherwise), [`IN_FLIGHT`] bytes
//!   of them outstanding: sshd pays per request, so a few big ones beat many small ones.
//! * **Nothing lost.** Data goes to a temporary file next to the destination (hidden, random
//!   name, created exclusively), which is renamed into place only when complete; a failed or
//!   cancelled transfer removes it. Without `overwrite`, an existing destination is refused
//!   before anything is sent (and the final rename refuses to replace one that appeared
//!   meanwhile). A replaced file is swapped in one atomic rename (`posix-rename@openssh.com`
//!   remotely), so readers see the old file or the new one, never neither; the old file is
//!   freed after the answer (held open across the rename, closed without waiting).
//! * **Confinement.** Local paths are resolved and confined to the beam directory, sources
//!   must be regular files, and local temporary files are exclusive and unguessable — see
//!   `ops/local_files.rs`.
//! * **No wider than the source.** A new file gets its source's permission bits (the
//!   receiving side's umask may narrow them further): an upload of a 0600 file stays 0600.

use std::collections::VecDeque;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::control::{human_bytes, Control};
use crate::error::{Error, ErrorKind};
use crate::ops::local_files;
use crate::ops::local_files::local_error;
pub use crate::ops::local_files::LocalPath;
use crate::ops::remote_path;
use crate::ops::writer::FileWriter;
use crate::sha256::Sha256;
use crate::ssh::mux::{Failure, Pending};
use crate::ssh::sftp::wire::{open, Reply, Request};
use crate::ssh::sftp_client::{Handle, Sftp};

/// Bytes of requests outstanding at once on a transfer's channel (bounded memory: that much
/// of buffers).
pub const IN_FLIGHT: usize = 2 << 20;

/// Progress is reported at most every this many bytes (and at the end).
const REPORT_EVERY: u64 = 1 << 20;

/// File data moved by transfers (both ways) since the process started, and in how many
/// requests: tests and diagnostics see the path a transfer took and its request size.
static MOVED: (AtomicU64, AtomicU64) = (AtomicU64::new(0), AtomicU64::new(0));

/// Bytes of file data moved by transfers, and the requests that carried them.
#[doc(hidden)]
pub fn moved() -> (u64, u64) {
    (
        MOVED.0.load(Ordering::Relaxed),
        MOVED.1.load(Ordering::Relaxed),
    )
}

fn count_moved(bytes: u64) {
    MOVED.0.fetch_add(bytes, Ordering::Relaxed);
    MOVED.1.fetch_add(1, Ordering::Relaxed);
}

/// Which way a `beam` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Local file → remote host.
    Upload,
    /// Remote host → local file.
    Download,
}

impl Direction {
    /// `upload` or `download` (any case).
    pub fn parse(s: &str) -> Result<Direction, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "upload" => Ok(Direction::Upload),
            "download" => Ok(Direction::Download),
            _ => Err(Error::invalid_argument(format!(
                "beam_direction must be \"upload\" or \"download\", got '{s}'"
            ))),
        }
    }
}

/// How a transfer ([`Scout::download`](crate::Scout::download), `upload`, `copy`) writes.
///
/// ```
/// let options = scout_mcp::TransferOptions::new().overwrite(true);
/// assert!(options.overwrite);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Replace a file that exists at the destination (default: refuse, and say so).
    pub overwrite: bool,
}

impl TransferOptions {
    /// The defaults: never replace a file.
    pub fn new() -> TransferOptions {
        TransferOptions::default()
    }

    /// Whether to replace a file that exists at the destination.
    pub fn overwrite(mut self, overwrite: bool) -> TransferOptions {
        self.overwrite = overwrite;
        self
    }
}

/// What a transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Where the data came from (`host:path` or a local path).
    pub source: String,
    /// Where it was written.
    pub destination: String,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time of the transfer.
    pub elapsed: Duration,
    /// SHA-256 of the bytes written, in hex.
    pub sha256: String,
}

impl Transfer {
    /// Bytes per second.
    pub fn rate(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }
}
/// The remote file `remote` (read over `src`) to `local`: a new file unless `overwrite`; into
/// it when it is a directory.
pub fn download(
    src: &Sftp<'_>,
    remote: &str,
    local: LocalPath,
    overwrite: bool,
    control: &Control,
) -> Result<Transfer, Failure> {
    let started = Instant::now();
    let source = format!("{}:{remote}", src.host());
    let local = local.into_dir(file_name(remote));
    let mut dest = local.destination(overwrite)?;
    let (size, mode) = remote_source(src, remote)?;
    let temp = dest.path();
    let out = dest.create_temp(mode)?;
    let writer = FileWriter::start(out).map_err(|e| local_error("write", &temp, e))?;
    // Dropped without a commit (any error), `dest` removes its temporary file.
    let done = receive(src, remote, size, writer, &temp, control)?;
    let placed = dest.commit(overwrite)?;
    Ok(finished(
        started,
        source,
        placed.display().to_string(),
        done,
    ))
}

/// Streams `remote` into `writer`, which writes and hashes on a thread of its own while the
/// next pieces arrive.
fn receive(
    src: &Sftp<'_>,
    remote: &str,
    size: Option<u64>,
    mut writer: FileWriter,
    temp: &Path,
    control: &Control,
) -> Result<(u64, String), Failure> {
    let chunk = src.limits()?.read;
    // Requests in flight, and the pieces queued for the writer thread.
    src.reserve(IN_FLIGHT + 4 * chunk)?;
    let handle = src.open(&remote_path::sftp_path(remote), open::READ, None)?;
    let mut progress = Progress::new(control, size);
    let mut write_failed = None;
    let streamed = src.read_stream(
        &handle,
        u64::MAX,
        size,
        (chunk, (IN_FLIGHT / chunk).max(2)),
        |piece| {
            if control.is_cancelled() {
                return Err(Error::cancelled().into());
            }
            let (packet, start, len) = piece.into_parts();
            if let Err(e) = writer.write(packet, start, len) {
                let failure = local_error("write", temp, e);
                write_failed = Some(failure.clone());
                return Err(failure.into());
            }
            progress.add(len as u64);
            count_moved(len as u64);
            Ok(())
        },
    );
    src.close_later(&handle);
    // Everything queued is written (or the write error is known) before anything is decided.
    let finished = writer.finish().map_err(|e| local_error("write", temp, e));
    if let Some(e) = write_failed {
        return Err(e.into());
    }
    let (bytes, _) = streamed?;
    let sha = finished?;
    progress.end(bytes);
    Ok((bytes, sha))
}

/// The local file `local` to `remote` (written over `dst`).
pub fn upload(
    dst: &Sftp<'_>,
    local: LocalPath,
    remote: &str,
    overwrite: bool,
    control: &Control,
) -> Result<Transfer, Failure> {
    let started = Instant::now();
    let shown = local.path();
    let (mut input, meta) = local.open_source()?;
    let name = shown
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (remote, exists) = remote_destination(dst, remote, &name)?;
    let destination = format!("{}:{remote}", dst.host());
    let mode = meta.permissions().mode() & 0o777;
    let target = Target {
        path: &remote,
        exists,
        overwrite,
        mode,
    };
    let written = send(dst, &target, Some(meta.len()), control, |buf| {
        input.read(buf).map_err(|e| local_error("read", &shown, e))
    })?;
    Ok(finished(
        started,
        shown.display().to_string(),
        destination,
        written,
    ))
}

/// Copies `src_path` (read over `src`) to `dst_path` (written over `dst`) through this process,
/// in constant memory: the reads and the writes are both pipelined.
pub fn relay(
    src: &Sftp<'_>,
    src_path: &str,
    dst: &Sftp<'_>,
    dst_path: &str,
    overwrite: bool,
    control: &Control,
) -> Result<Transfer, Failure> {
    let started = Instant::now();
    let source = format!("{}:{src_path}", src.host());
    let (size, mode) = remote_source(src, src_path)?;
    let (dst_path, exists) = remote_destination(dst, dst_path, file_name(src_path))?;
    let destination = format!("{}:{dst_path}", dst.host());
    let chunk = src.limits()?.read;
    src.reserve(IN_FLIGHT + chunk)?;
    let handle = src.open(&remote_path::sftp_path(src_path), open::READ, None)?;
    let mut reader = RemoteReader::new(src, &handle, size, chunk);
    let target = Target {
        path: &dst_path,
        exists,
        overwrite,
        mode,
    };
    let done = send(dst, &target, size, control, |buf| reader.read(buf));
    src.close_later(&handle);
    Ok(finished(started, source, destination, done?))
}

/// Size and SHA-256 of a remote file, streamed (for comparing binary files); stops when
/// `control` is cancelled.
pub fn hash_remote(
    sftp: &Sftp<'_>,
    path: &str,
    control: &Control,
) -> Result<(u64, String), Failure> {
    let (size, _) = remote_source(sftp, path)?;
    let chunk = sftp.limits()?.read;
    sftp.reserve(IN_FLIGHT)?;
    let handle = sftp.open(&remote_path::sftp_path(path), open::READ, None)?;
    let mut hash = Sha256::new();
    let streamed = sftp.read_stream(
        &handle,
        u64::MAX,
        size,
        (chunk, (IN_FLIGHT / chunk).max(2)),
        |piece| {
            if control.is_cancelled() {
                return Err(Error::cancelled().into());
            }
            hash.update(piece.bytes());
            Ok(())
        },
    );
    sftp.close_later(&handle);
    let (bytes, _) = streamed?;
    Ok((bytes, hash.finish_hex()))
}

fn finished(
    started: Instant,
    source: String,
    destination: String,
    (bytes, sha256): (u64, String),
) -> Transfer {
    Transfer {
        source,
        destination,
        bytes,
        elapsed: started.elapsed(),
        sha256,
    }
}

/// A remote regular file's size and permission bits (0600 when the server does not say).
fn remote_source(sftp: &Sftp<'_>, path: &str) -> Result<(Option<u64>, u32), Failure> {
    let stat = sftp.stat(&remote_path::sftp_path(path))?;
    if !stat.is_file() {
        return Err(Error::invalid_argument(format!(
            "'{path}' on {} is not a regular file: beam copies single files",
            sftp.host()
        ))
        .into());
    }
    Ok((stat.size, stat.permissions.map_or(0o600, |p| p & 0o777)))
}

/// Where an upload or copy goes.
struct Target<'a> {
    /// The destination path (after "into a directory").
    path: &'a str,
    /// Something exists there already.
    exists: bool,
    /// It may be replaced.
    overwrite: bool,
    /// Permission bits of the new file.
    mode: u32,
}

/// Streams what `next` produces (it fills the buffer it is given; 0 = end) into a temporary
/// remote file, then renames it into place.
fn send(
    dst: &Sftp<'_>,
    target: &Target<'_>,
    size: Option<u64>,
    control: &Control,
    next: impl FnMut(&mut [u8]) -> Result<usize, Error>,
) -> Result<(u64, String), Failure> {
    if target.exists && !target.overwrite {
        return Err(Error::policy(format!(
            "{}:{} already exists; pass overwrite: true to replace it",
            dst.host(),
            target.path
        ))
        .into());
    }
    let dest = remote_path::sftp_path(target.path);
    let temp = temp_sibling(&dest);
    let flags = open::WRITE | open::CREATE | open::EXCLUSIVE;
    let handle = dst.open(&temp, flags, Some(target.mode))?;
    let written = write_all(dst, &handle, size, control, next);
    // The server reports a failed write (disk full) at the latest when the file is closed.
    let closed = dst.close(&handle);
    let placed = written.and_then(|done| {
        closed?;
        place_remote(dst, &temp, &dest, target.overwrite && target.exists)?;
        Ok(done)
    });
    if placed.is_err() {
        let _ = dst.remove(&temp);
    }
    placed
}

/// Writes everything `next` produces to `handle` from offset 0, [`IN_FLIGHT`] bytes of
/// requests outstanding, hashing as it goes.
fn write_all(
    dst: &Sftp<'_>,
    handle: &Handle,
    size: Option<u64>,
    control: &Control,
    mut next: impl FnMut(&mut [u8]) -> Result<usize, Error>,
) -> Result<(u64, String), Failure> {
    let chunk = dst.limits()?.write;
    let depth = (IN_FLIGHT / chunk).max(2);
    dst.reserve(depth * chunk)?;
    let mut hash = Sha256::new();
    let mut outstanding: VecDeque<(Pending<Reply>, usize)> = VecDeque::new();
    let mut progress = Progress::new(control, size);
    let (mut offset, mut acked) = (0u64, 0u64);
    let mut eof = false;
    loop {
        if control.is_cancelled() {
            return Err(Error::cancelled().into());
        }
        if !eof && outstanding.len() < depth {
            // The data is read straight into the request: no copy.
            let mut request = Request::write_with(&handle.0, offset, chunk);
            let packet = request.body_mut();
            let start = packet.len();
            packet.resize(start + chunk, 0);
            let mut n = 0;
            while n < chunk {
                let k = next(&mut packet[start + n..])?;
                if k == 0 {
                    eof = true;
                    break;
                }
                n += k;
            }
            packet.truncate(start + n);
            if n > 0 {
                hash.update(&packet[start..]);
                request.finish_write();
                outstanding.push_back((dst.send(request), n));
                offset += n as u64;
            }
            continue;
        }
        let Some((answer, n)) = outstanding.pop_front() else {
            progress.end(acked);
            return Ok((acked, hash.finish_hex()));
        };
        let reply = dst.wait(answer)?;
        dst.ok("write the file", &reply)?;
        acked += n as u64;
        progress.add(n as u64);
        count_moved(n as u64);
    }
}

/// Reads a remote file in order for a relay, requests pipelined ahead of what is taken.
struct RemoteReader<'a> {
    sftp: &'a Sftp<'a>,
    handle: &'a Handle,
    size: Option<u64>,
    chunk: usize,
    next: u64,
    queue: VecDeque<(u64, usize, Pending<Reply>)>,
    /// Bytes received and not taken yet.
    held: Option<(Vec<u8>, usize, usize)>,
    eof: bool,
}

impl<'a> RemoteReader<'a> {
    fn new(sftp: &'a Sftp<'a>, handle: &'a Handle, size: Option<u64>, chunk: usize) -> Self {
        RemoteReader {
            sftp,
            handle,
            size,
            chunk,
            next: 0,
            queue: VecDeque::new(),
            held: None,
            eof: false,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        loop {
            if let Some((packet, start, len)) = self.held.as_mut() {
                let n = (*len).min(buf.len());
                buf[..n].copy_from_slice(&packet[*start..*start + n]);
                *start += n;
                *len -= n;
                if *len == 0 {
                    self.held = None;
                }
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            let depth = (IN_FLIGHT / self.chunk).max(2);
            while self.queue.len() < depth {
                let len = match self.size {
                    // Past the expected end, one probe for the end of file is enough.
                    Some(size) if self.next >= size && !self.queue.is_empty() => break,
                    _ => self.chunk,
                };
                let answer = self
                    .sftp
                    .send(Request::read(&self.handle.0, self.next, len as u32));
                self.queue.push_back((self.next, len, answer));
                self.next += len as u64;
            }
            let Some((offset, asked, answer)) = self.queue.pop_front() else {
                return Ok(0);
            };
            let reply = self.sftp.wait(answer).map_err(|f| f.error)?;
            match self
                .sftp
                .data("read the source", reply)
                .map_err(|f| f.error)?
            {
                None => self.eof = true,
                Some(data) => {
                    let got = data.len();
                    if got > asked {
                        return Err(Error::session(
                            self.sftp.host().to_string(),
                            "the source answered with more data than asked for",
                        ));
                    }
                    if got < asked {
                        // A short answer: what was asked after it is re-asked in order.
                        self.queue.clear();
                        self.next = offset + got as u64;
                    }
                    self.held = Some(data.into_parts());
                }
            }
        }
    }
}

/// Moves the finished upload `temp` to `dest`. Without `replace`, a destination that appeared
/// meanwhile is not replaced (SFTP's own rename refuses). Replacing uses
/// `posix-rename@openssh.com` when the server offers it, holding a regular file being
/// replaced open across the rename and closing it without waiting (the server frees its
/// blocks after the caller has its answer); otherwise the old file is removed first, which
/// leaves a moment without either (older servers only). Never opens anything but a regular
/// file (a FIFO would block the server's open).
fn place_remote(sftp: &Sftp<'_>, temp: &str, dest: &str, replace: bool) -> Result<(), Failure> {
    if !replace {
        return sftp.rename(temp, dest);
    }
    if sftp.info()?.has("posix-rename@openssh.com") {
        let regular = sftp.lstat(dest).is_ok_and(|st| st.is_file());
        let held = if regular {
            sftp.open(dest, open::READ, None).ok()
        } else {
            None
        };
        let renamed = sftp.posix_rename(temp, dest);
        if let Some(old) = held {
            sftp.close_later(&old);
        }
        return renamed;
    }
    let _ = sftp.remove(dest);
    sftp.rename(temp, dest)
}

/// The remote destination — `path`, or `path/name` when `path` is an existing directory — and
/// whether something already exists there. One `stat` in the common case; a second only for a
/// directory.
fn remote_destination(sftp: &Sftp<'_>, path: &str, name: &str) -> Result<(String, bool), Failure> {
    match sftp.stat(&remote_path::sftp_path(path)) {
        Ok(st) if st.is_dir() && !name.is_empty() => {
            let inside = format!("{}/{name}", path.trim_end_matches('/'));
            let exists = sftp.lstat(&remote_path::sftp_path(&inside)).is_ok();
            Ok((inside, exists))
        }
        Ok(_) => Ok((path.to_string(), true)),
        Err(f) if f.error.kind() == ErrorKind::NotFound => Ok((path.to_string(), false)),
        Err(f) => Err(f),
    }
}

/// A hidden, unguessable sibling of `path` on the remote side (created exclusively, so nothing
/// planted there in advance receives the data), in the same directory so the final rename is
/// atomic.
fn temp_sibling(path: &str) -> String {
    let p = Path::new(path);
    let name = p.file_name().unwrap_or_else(|| "file".as_ref());
    p.with_file_name(local_files::temp_name(name))
        .to_string_lossy()
        .into_owned()
}

/// Progress of one transfer: reported at most every [`REPORT_EVERY`] bytes.
struct Progress<'a> {
    control: &'a Control,
    size: Option<u64>,
    done: u64,
    reported: u64,
}

impl<'a> Progress<'a> {
    fn new(control: &'a Control, size: Option<u64>) -> Self {
        Progress {
            control,
            size,
            done: 0,
            reported: 0,
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if self.done - self.reported >= REPORT_EVERY {
            self.reported = self.done;
            self.report();
        }
    }

    fn end(&mut self, total: u64) {
        self.done = total;
        self.report();
    }

    fn report(&self) {
        let (done, size) = (self.done, self.size);
        self.control.report(done, size, || match size {
            Some(total) => format!("{} of {}", human_bytes(done), human_bytes(total)),
            None => human_bytes(done),
        });
    }
}

fn file_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_parse() {
        assert_eq!(Direction::parse("Upload").unwrap(), Direction::Upload);
        assert_eq!(Direction::parse("download").unwrap(), Direction::Download);
        assert!(Direction::parse("sideways").is_err());
    }

    #[test]
    fn remote_temporary_names_are_hidden_siblings_and_unguessable() {
        let a = temp_sibling("/srv/app/conf.yml");
        let b = temp_sibling("/srv/app/conf.yml");
        assert!(a.starts_with("/srv/app/.conf.yml.scout-"), "{a}");
        assert_ne!(a, b);
        assert!(temp_sibling("notes.txt").starts_with(".notes.txt.scout-"));
    }
}
