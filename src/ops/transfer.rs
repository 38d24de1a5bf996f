//! Moving files over SFTP (SPEC §3.8): download, upload, and host-to-host relay, streamed in
//! bounded memory with a SHA-256 of what was written.
//!
//! * **Pipelining.** libssh2 turns one large `read`/`write` call into many SFTP requests in
//!   flight, so data moves in [`CHUNK`]-sized calls: a 1 MiB read is ~30 requests on the wire
//!   at once, not one 32 KiB round trip after another. Uploads keep a sliding window of two
//!   chunks so the pipeline never drains between chunks.
//! * **Large requests.** Files of 4 MiB and more move over a second `sftp` channel of
//!   our own with ~255 KiB requests when the server announces its limits (recent OpenSSH): see
//!   `ssh/bulk.rs`. libssh2's 30,000-byte requests made sshd the bottleneck.
//! * **Nothing lost.** Data goes to a temporary file next to the destination, which is renamed
//!   into place only when complete; a failed or cancelled transfer removes it. Without
//!   `overwrite`, an existing destination is refused before anything is sent (and the final
//!   rename refuses to replace one that appeared meanwhile).
//! * **Confinement.** Local paths are resolved and confined to the beam directory, sources
//!   must be regular files, and local temporary files are exclusive and unguessable — see
//!   `ops/local_files.rs`.
//! * **No wider than the source.** A new file gets its source's permission bits (the
//!   receiving side's umask may narrow them further): an upload of a 0600 file stays 0600.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ssh2::{OpenFlags, OpenType, RenameFlags};

use crate::control::{human_bytes, Control};
use crate::error::Error;
use crate::ops::fs::with_sftp;
pub use crate::ops::local_files::LocalPath;
use crate::ops::local_files::{self, Destination};
use crate::ops::remote_path;
use crate::ops::writer::FileWriter;
use crate::sha256::Sha256;
use crate::ssh::bulk::{self, Bulk};
use crate::ssh::pool::Failure;
use crate::ssh::session::Connection;

/// Bytes per read or write call (each pipelined by libssh2 into many requests).
pub const CHUNK: usize = 1 << 20;

/// Files at least this big move over a [`Bulk`] channel (large SFTP requests) when the server
/// offers one; smaller ones are not worth its channel and round trips.
const BULK_MIN: u64 = 4 << 20;

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
            _ => Err(Error::InvalidArgument(format!(
                "beam_direction must be \"upload\" or \"download\", got '{s}'"
            ))),
        }
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

/// The remote file `path` to `local` (a new file unless `overwrite`; into it when it is a
/// directory).
pub fn download(
    conn: &mut Connection,
    remote: &str,
    local: LocalPath,
    overwrite: bool,
    control: &Control,
) -> Result<Transfer, Failure> {
    let started = Instant::now();
    let source = format!("{}:{remote}", conn.alias());
    let local = local.into_dir(file_name(remote));
    let mut dest = local.destination(overwrite)?;
    let sftp_path = remote_path::sftp_path(remote);
    let (mut reader, size, mode) = open_remote_source(conn, remote, &sftp_path)?;
    let alias = conn.alias().to_string();
    let temp = dest.path();
    let done = (|| -> Result<(u64, String), Error> {
        let mut out = dest.create_temp(mode)?;
        match bulk_channel(conn, size) {
            Some(bulk) => {
                drop(reader);
                let moved = bulk_download(bulk, &sftp_path, out, &temp, size, control);
                moved.map_err(|e| {
                    conn.discard_bulk();
                    e.into_error(&alias, remote)
                })
            }
            None => copy(
                &mut reader,
                &mut out,
                size,
                control,
                |e| remote_io_error(conn.alias(), remote, e),
                |e| local_error("write", &temp, e),
            ),
        }
    })()
    .map_err(Failure::from)?;
    // Dropped without a commit (any error above), `dest` removes its temporary file.
    let placed = commit(dest, overwrite)?;
    Ok(finished(
        started,
        source,
        placed.display().to_string(),
        done,
    ))
}

fn commit(dest: Destination, overwrite: bool) -> Result<PathBuf, Failure> {
    dest.commit(overwrite).map_err(Failure::from)
}

/// The local file `local` to `remote` on the session's host.
pub fn upload(
    conn: &mut Connection,
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
    let (remote, exists) = remote_destination(conn, remote, &name)?;
    let destination = format!("{}:{remote}", conn.alias());
    let target = (remote.as_str(), exists, overwrite);
    let mode = meta.permissions().mode() & 0o777;
    let written = write_remote(conn, target, Some(meta.len()), mode, control, |buf| {
        if control.is_cancelled() {
            return Err(Error::Cancelled);
        }
        input.read(buf).map_err(|e| local_error("read", &shown, e))
    })?;
    Ok(finished(
        started,
        shown.display().to_string(),
        destination,
        written,
    ))
}

/// Copies `src_path` on `src` to `dst_path` on `dst` (`None`: the same session, for a copy
/// within one host) through this process, a chunk at a time.
pub fn relay(
    src: &mut Connection,
    src_path: &str,
    dst: Option<&mut Connection>,
    dst_path: &str,
    overwrite: bool,
    control: &Control,
) -> Result<Transfer, Failure> {
    let started = Instant::now();
    let source = format!("{}:{src_path}", src.alias());
    let src_alias = src.alias().to_string();
    let sftp_src = remote_path::sftp_path(src_path);
    let (mut reader, size, mode) = open_remote_source(src, src_path, &sftp_src)?;
    let dst: &mut Connection = match dst {
        Some(d) => d,
        None => src,
    };
    let (dst_path, exists) = remote_destination(dst, dst_path, file_name(src_path))?;
    let destination = format!("{}:{dst_path}", dst.alias());
    let target = (dst_path.as_str(), exists, overwrite);
    let done = write_remote(dst, target, size, mode, control, |buf| {
        reader
            .read(buf)
            .map_err(|e| remote_io_error(&src_alias, src_path, e))
    })?;
    Ok(finished(started, source, destination, done))
}

/// Size and SHA-256 of a remote file, streamed (for comparing binary files); stops when
/// `control` is cancelled.
pub fn hash_remote(
    conn: &mut Connection,
    path: &str,
    control: &Control,
) -> Result<(u64, String), Failure> {
    let sftp_path = remote_path::sftp_path(path);
    let (mut reader, size, _) = open_remote_source(conn, path, &sftp_path)?;
    let alias = conn.alias().to_string();
    copy(
        &mut reader,
        &mut std::io::sink(),
        size,
        control,
        |e| remote_io_error(&alias, path, e),
        |e| Error::Io(e.to_string()),
    )
    .map_err(Failure::from)
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

/// Opens a remote regular file for reading; returns it, its size and its permission bits
/// (0600 when the server does not say).
fn open_remote_source(
    conn: &mut Connection,
    path: &str,
    sftp_path: &str,
) -> Result<(ssh2::File, Option<u64>, u32), Failure> {
    let stat = crate::ops::fs::stat(conn, path)?;
    if !stat.is_file() {
        return Err(Error::InvalidArgument(format!(
            "'{path}' on {} is not a regular file: beam copies single files",
            conn.alias()
        ))
        .into());
    }
    let file = with_sftp(conn, &format!("open '{path}'"), |sftp| {
        sftp.open(Path::new(sftp_path))
    })?;
    Ok((file, stat.size, stat.perm.map_or(0o600, |p| p & 0o777)))
}

/// Streams `next` (a reader of chunks) into a temporary remote file and renames it to `path`.
/// `target` is the destination path, whether it exists, and whether it may be replaced.
fn write_remote(
    conn: &mut Connection,
    (path, exists, overwrite): (&str, bool, bool),
    size: Option<u64>,
    mode: u32,
    control: &Control,
    mut next: impl FnMut(&mut [u8]) -> Result<usize, Error>,
) -> Result<(u64, String), Failure> {
    let sftp_path = PathBuf::from(remote_path::sftp_path(path));
    if exists && !overwrite {
        return Err(Error::Policy(format!(
            "{}:{path} already exists; pass overwrite: true to replace it",
            conn.alias()
        ))
        .into());
    }
    let temp = temp_sibling(&sftp_path);
    let alias = conn.alias().to_string();
    let creating = format!("create '{}'", temp.display());
    let copied = if let Some(bulk) = bulk_channel(conn, size) {
        let flags = bulk::OPEN_WRITE | bulk::OPEN_CREATE | bulk::OPEN_EXCLUSIVE;
        let moved = match bulk.open(&temp.to_string_lossy(), flags, mode) {
            Ok(handle) => bulk_upload(bulk, handle, &mut next, size, control)
                .map_err(|e| e.into_error(&alias, path)),
            Err(e) => Err(Error::Remote {
                host: alias.clone(),
                message: format!("cannot {creating}: {e}"),
            }),
        };
        if moved.is_err() {
            conn.discard_bulk();
        }
        moved
    } else {
        let mut out = with_sftp(conn, &creating, |sftp| {
            sftp.open_mode(
                &temp,
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                (mode & 0o777) as i32,
                OpenType::File,
            )
        })?;
        let copied = copy_window(&mut next, &mut out, size, control, |e| {
            remote_io_error(&alias, path, e)
        });
        drop(out);
        copied
    };
    let placed = copied.and_then(|done| {
        place_remote(conn, &temp, &sftp_path, overwrite && exists).map_err(|e| Error::Remote {
            host: alias.clone(),
            message: format!("cannot move the upload into place at '{path}': {e}"),
        })?;
        Ok(done)
    });
    if placed.is_err() {
        if let Ok(sftp) = conn.sftp() {
            let _ = sftp.unlink(&temp);
        }
    }
    placed.map_err(Failure::from)
}

/// Moves the finished upload `temp` to `dest`. Without `replace`, a destination that appeared
/// meanwhile is not replaced (SFTP's own rename refuses). Replacing uses the bulk channel's
/// atomic rename when the server offers it; otherwise the old file is removed first, which
/// leaves a moment without either (older servers only).
fn place_remote(
    conn: &mut Connection,
    temp: &Path,
    dest: &Path,
    replace: bool,
) -> Result<(), String> {
    if replace {
        if let Some(replaced) = replace_remote(conn, temp, dest) {
            return replaced.map_err(|e| {
                conn.discard_bulk();
                e.to_string()
            });
        }
        let _ = conn.sftp().map_err(|e| e.to_string())?.unlink(dest);
    }
    let sftp = conn.sftp().map_err(|e| e.to_string())?;
    sftp.rename(temp, dest, Some(RenameFlags::ATOMIC | RenameFlags::NATIVE))
        .map_err(|e| format!("{e} (does it exist already?)"))
}

/// `temp` renamed over `dest` in one step on the bulk channel; `None` without one that can.
/// A regular file being replaced is held open across the rename and closed without waiting
/// (see [`Bulk::close_later`]), so the server frees its blocks after the caller has its
/// answer. Never opens anything but a regular file (a FIFO would block the server's open).
fn replace_remote(conn: &mut Connection, temp: &Path, dest: &Path) -> Option<std::io::Result<()>> {
    if !conn.bulk().is_some_and(|b| b.can_replace()) {
        return None; // before the lstat: no round trip for a server that cannot
    }
    let regular = conn
        .sftp()
        .ok()?
        .lstat(dest)
        .is_ok_and(|st| st.file_type().is_file());
    let bulk = conn.bulk()?;
    let held = if regular {
        bulk.open(&dest.to_string_lossy(), bulk::OPEN_READ, 0).ok()
    } else {
        None
    };
    let replaced = bulk.replace(&temp.to_string_lossy(), &dest.to_string_lossy());
    let closed = held.map_or(Ok(()), |old| bulk.close_later(old));
    Some(replaced.and(closed))
}

/// The session's [`Bulk`] channel for a transfer of `size` bytes, when it is big enough and the
/// server offers one (else libssh2's SFTP channel does the work).
fn bulk_channel(conn: &mut Connection, size: Option<u64>) -> Option<&mut Bulk> {
    if size.unwrap_or(0) < BULK_MIN {
        return None;
    }
    conn.bulk()
}

/// Why a bulk transfer stopped: the remote side, this machine's side (already an [`Error`]),
/// or cancellation.
enum BulkError {
    Remote(std::io::Error),
    Local(Error),
}

impl BulkError {
    fn into_error(self, alias: &str, path: &str) -> Error {
        match self {
            BulkError::Remote(e) => remote_io_error(alias, path, e),
            BulkError::Local(e) => e,
        }
    }
}

/// The stop a sink or source asked for (`Local` error, or cancellation), else the channel's.
fn bulk_outcome<T>(
    result: std::io::Result<T>,
    local: Option<Error>,
    control: &Control,
) -> Result<T, BulkError> {
    match (result, local) {
        (_, Some(e)) => Err(BulkError::Local(e)),
        (Err(_), None) if control.is_cancelled() => Err(BulkError::Local(Error::Cancelled)),
        (Err(e), None) => Err(BulkError::Remote(e)),
        (Ok(v), None) => Ok(v),
    }
}

fn report_progress(control: &Control, done: u64, size: Option<u64>) {
    control.report(done, size, || match size {
        Some(total) => format!("{} of {}", human_bytes(done), human_bytes(total)),
        None => human_bytes(done),
    });
}

/// Downloads `path` over `bulk` into `out`, written and hashed in file order on a thread of
/// its own (see `ops/writer.rs`).
fn bulk_download(
    bulk: &mut Bulk,
    path: &str,
    out: File,
    temp: &Path,
    size: Option<u64>,
    control: &Control,
) -> Result<(u64, String), BulkError> {
    let handle = bulk
        .open(path, bulk::OPEN_READ, 0)
        .map_err(BulkError::Remote)?;
    let writer =
        FileWriter::start(out).map_err(|e| BulkError::Local(local_error("write", temp, e)))?;
    let mut sink = ToFile {
        writer,
        temp,
        failed: None,
        control,
        size,
        done: 0,
        reported: 0,
    };
    let result = bulk.download(&handle, &mut sink);
    let ToFile { writer, failed, .. } = sink;
    // Everything queued is written (or the write error is known) before anything is decided.
    let finished = writer.finish().map_err(|e| local_error("write", temp, e));
    let sha = failed.map_or(finished, Err).map_err(BulkError::Local)?;
    let bytes = bulk_outcome(result, None, control)?;
    bulk.close(handle).map_err(BulkError::Remote)?;
    report_progress(control, bytes, size);
    Ok((bytes, sha))
}

/// The [`bulk::Sink`] of a download: pieces go to the file's writer thread; progress and
/// cancellation are checked as they arrive.
struct ToFile<'a> {
    writer: FileWriter,
    temp: &'a Path,
    /// The writer's error, which stopped the download.
    failed: Option<Error>,
    control: &'a Control,
    size: Option<u64>,
    done: u64,
    reported: u64,
}

impl bulk::Sink for ToFile<'_> {
    fn take(&mut self, buf: Vec<u8>, len: usize) -> std::io::Result<bool> {
        if let Err(e) = self.writer.write(buf, len) {
            self.failed = Some(local_error("write", self.temp, e));
            return Ok(false);
        }
        self.done += len as u64;
        if self.done - self.reported >= CHUNK as u64 {
            self.reported = self.done;
            report_progress(self.control, self.done, self.size);
        }
        Ok(!self.control.is_cancelled())
    }

    fn spare(&mut self) -> Option<Vec<u8>> {
        self.writer.spare()
    }
}

/// Uploads what `next` produces into the open remote file `handle` over `bulk`.
fn bulk_upload(
    bulk: &mut Bulk,
    handle: bulk::Handle,
    next: &mut impl FnMut(&mut [u8]) -> Result<usize, Error>,
    size: Option<u64>,
    control: &Control,
) -> Result<(u64, String), BulkError> {
    let mut hash = Sha256::new();
    let mut local = None;
    let mut reported = 0u64;
    let result = bulk.upload(
        &handle,
        |buf| match next(buf) {
            Ok(n) => {
                hash.update(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                local = Some(e);
                Err(std::io::Error::other("local read failed"))
            }
        },
        |done| {
            if done - reported >= CHUNK as u64 {
                reported = done;
                report_progress(control, done, size);
            }
            !control.is_cancelled()
        },
    );
    let bytes = bulk_outcome(result, local, control)?;
    // The server reports a failed write (disk full) at the latest when the file is closed.
    bulk.close(handle).map_err(BulkError::Remote)?;
    report_progress(control, bytes, size);
    Ok((bytes, hash.finish_hex()))
}

/// Copies `reader` to `writer` in [`CHUNK`]s, hashing and reporting progress.
fn copy(
    reader: &mut impl Read,
    writer: &mut impl Write,
    size: Option<u64>,
    control: &Control,
    read_error: impl Fn(std::io::Error) -> Error,
    write_error: impl Fn(std::io::Error) -> Error,
) -> Result<(u64, String), Error> {
    let mut next = |buf: &mut [u8]| reader.read(buf).map_err(&read_error);
    copy_from(&mut next, writer, size, control, write_error)
}

fn copy_from(
    next: &mut impl FnMut(&mut [u8]) -> Result<usize, Error>,
    writer: &mut impl Write,
    size: Option<u64>,
    control: &Control,
    write_error: impl Fn(std::io::Error) -> Error,
) -> Result<(u64, String), Error> {
    let mut buf = vec![0u8; CHUNK];
    let mut hash = Sha256::new();
    let mut done: u64 = 0;
    loop {
        if control.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let n = next(&mut buf)?;
        if n == 0 {
            return Ok((done, hash.finish_hex()));
        }
        writer.write_all(&buf[..n]).map_err(&write_error)?;
        hash.update(&buf[..n]);
        done += n as u64;
        report_progress(control, done, size);
    }
}

/// Streams `next` into an SFTP file through a sliding window of two [`CHUNK`]s.
///
/// libssh2's `write` sends everything it is given as pipelined requests and returns as soon as
/// the first is acknowledged; the caller passes the unacknowledged rest again (it is not sent
/// twice). Writing one chunk at a time with `write_all` therefore drains the pipeline at every
/// chunk boundary and the link idles while the next chunk is read and hashed. Here the window
/// is refilled whenever less than a chunk is in flight, so requests keep flowing: bounded
/// memory (2 MiB), one thread.
fn copy_window(
    next: &mut impl FnMut(&mut [u8]) -> Result<usize, Error>,
    out: &mut ssh2::File,
    size: Option<u64>,
    control: &Control,
    write_error: impl Fn(std::io::Error) -> Error,
) -> Result<(u64, String), Error> {
    let mut buf = vec![0u8; 2 * CHUNK];
    let (mut start, mut end, mut eof) = (0usize, 0usize, false);
    let mut hash = Sha256::new();
    let mut done: u64 = 0;
    let mut reported: u64 = 0;
    loop {
        if control.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if !eof && end - start < CHUNK {
            // Unacknowledged bytes move to the front: libssh2 expects them again, first.
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            while end < buf.len() {
                let n = next(&mut buf[end..])?;
                if n == 0 {
                    eof = true;
                    break;
                }
                hash.update(&buf[end..end + n]);
                end += n;
            }
        }
        if start == end {
            return Ok((done, hash.finish_hex()));
        }
        let n = out.write(&buf[start..end]).map_err(&write_error)?;
        if n == 0 {
            return Err(write_error(std::io::ErrorKind::WriteZero.into()));
        }
        start += n;
        done += n as u64;
        if done - reported >= CHUNK as u64 || (eof && start == end) {
            reported = done;
            report_progress(control, done, size);
        }
    }
}

/// The remote destination — `path`, or `path/name` when `path` is an existing directory — and
/// whether something already exists there. One `stat` in the common case; a second only for a
/// directory.
fn remote_destination(
    conn: &mut Connection,
    path: &str,
    name: &str,
) -> Result<(String, bool), Failure> {
    let sftp = conn.sftp().map_err(Failure::from)?;
    match sftp.stat(Path::new(&remote_path::sftp_path(path))) {
        Ok(st) if st.is_dir() && !name.is_empty() => {
            let inside = format!("{}/{name}", path.trim_end_matches('/'));
            let exists = sftp
                .lstat(Path::new(&remote_path::sftp_path(&inside)))
                .is_ok();
            Ok((inside, exists))
        }
        Ok(_) => Ok((path.to_string(), true)),
        Err(_) => Ok((path.to_string(), false)),
    }
}

/// A hidden, unguessable sibling of `path` on the remote side (created exclusively, so nothing
/// planted there in advance receives the data), in the same directory so the final rename is
/// atomic.
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_else(|| "file".as_ref());
    path.with_file_name(local_files::temp_name(name))
}

fn file_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn local_error(doing: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("cannot {doing} {}: {e}", path.display()))
}

fn remote_io_error(alias: &str, path: &str, e: std::io::Error) -> Error {
    Error::Session {
        host: alias.to_string(),
        message: format!("transferring '{path}': {e}"),
    }
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
        let a = temp_sibling(Path::new("/srv/app/conf.yml"));
        let b = temp_sibling(Path::new("/srv/app/conf.yml"));
        assert_eq!(a.parent(), Some(Path::new("/srv/app")));
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".conf.yml.scout-"));
        assert_ne!(a, b);
    }

    #[test]
    fn copy_hashes_reports_progress_and_stops_when_cancelled() {
        let data = vec![7u8; CHUNK * 2 + 5];
        let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reports.clone();
        let control = Control::new().with_progress(move |p| seen.lock().unwrap().push(p.done));
        let mut out = Vec::new();
        let (n, sha) = copy(
            &mut &data[..],
            &mut out,
            Some(data.len() as u64),
            &control,
            |e| Error::Io(e.to_string()),
            |e| Error::Io(e.to_string()),
        )
        .unwrap();
        assert_eq!((n, out.len()), (data.len() as u64, data.len()));
        assert_eq!(sha, crate::sha256::hex(&data));
        let r = reports.lock().unwrap();
        assert!(
            r.windows(2).all(|w| w[0] < w[1]) && r.last() == Some(&n),
            "{r:?}"
        );
        // An endless source (a 64 GiB sparse file, /dev/zero) stops at the next chunk.
        control.cancel();
        let mut endless = std::io::repeat(0);
        let stopped = copy(
            &mut endless,
            &mut std::io::sink(),
            None,
            &control,
            |e| Error::Io(e.to_string()),
            |e| Error::Io(e.to_string()),
        );
        assert_eq!(stopped, Err(Error::Cancelled));
    }
}
