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
//! * **Confinement.** When `SCOUT_BEAM_DIR` is set, local paths are resolved (symlinks
//!   included) and must stay inside it — see [`LocalPath::resolve`].

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ssh2::{OpenFlags, OpenType, RenameFlags};

use crate::control::{human_bytes, Control};
use crate::error::Error;
use crate::ops::fs::with_sftp;
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

/// A local path for a transfer, resolved and checked against `SCOUT_BEAM_DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(pub PathBuf);

impl LocalPath {
    /// Resolves `raw`: relative paths start at the beam directory (or the current directory).
    /// With a beam directory, the existing part of the path is resolved through symlinks and
    /// must stay inside it, and a destination that is itself a symlink is refused.
    pub fn resolve(raw: &str, beam_dir: Option<&Path>) -> Result<LocalPath, Error> {
        if raw.trim().is_empty() || raw.contains('\0') {
            return Err(Error::InvalidArgument(
                "beam needs a local path (no NUL bytes)".into(),
            ));
        }
        let path = Path::new(raw);
        let Some(dir) = beam_dir else {
            return Ok(LocalPath(path.to_path_buf()));
        };
        let root = dir.canonicalize().map_err(|e| {
            Error::Config(format!(
                "SCOUT_BEAM_DIR {} cannot be used: {e}",
                dir.display()
            ))
        })?;
        let joined = if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        };
        let resolved = resolve_existing_prefix(&joined)
            .map_err(|e| Error::InvalidArgument(format!("local path {}: {e}", joined.display())))?;
        if !resolved.starts_with(&root) {
            return Err(Error::Policy(format!(
                "local path {raw} is outside SCOUT_BEAM_DIR ({}); beam only reads and writes there",
                root.display()
            )));
        }
        Ok(LocalPath(resolved))
    }

    /// `dir/name` when this path is an existing directory, else the path itself.
    fn into_dir(self, name: &str) -> LocalPath {
        if self.0.is_dir() {
            LocalPath(self.0.join(name))
        } else {
            self
        }
    }
}

/// Canonicalises the longest existing prefix of `path` (following symlinks) and appends the
/// rest, in which `..` is refused (it could climb out after the check).
fn resolve_existing_prefix(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if fs::symlink_metadata(&existing).is_ok() {
            break;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return Err("no part of it exists".into()),
        }
    }
    if path.components().any(|c| c == Component::ParentDir) && !rest.is_empty() {
        return Err("'..' in a path that does not exist yet is refused".into());
    }
    let mut resolved = existing.canonicalize().map_err(|e| e.to_string())?;
    for part in rest.iter().rev() {
        resolved.push(part);
    }
    Ok(resolved)
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
    refuse_existing_local(&local.0, overwrite)?;
    let sftp_path = remote_path::sftp_path(remote);
    let (mut reader, size) = open_remote_source(conn, remote, &sftp_path)?;
    let temp = temp_sibling(&local.0);
    let alias = conn.alias().to_string();
    let result = (|| -> Result<(u64, String), Error> {
        let mut out = File::create(&temp).map_err(|e| local_error("create", &temp, e))?;
        let (bytes, sha) = match bulk_channel(conn, size) {
            Some(bulk) => {
                drop(reader);
                let moved = bulk_download(bulk, &sftp_path, out, &temp, size, control);
                moved.map_err(|e| {
                    conn.discard_bulk();
                    e.into_error(&alias, remote)
                })?
            }
            None => copy(
                &mut reader,
                &mut out,
                size,
                control,
                |e| remote_io_error(conn.alias(), remote, e),
                |e| local_error("write", &temp, e),
            )?,
        };
        place_local(&temp, &local.0, overwrite)?;
        Ok((bytes, sha))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    let done = result.map_err(Failure::from)?;
    Ok(finished(
        started,
        source,
        local.0.display().to_string(),
        done,
    ))
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
    let mut input = File::open(&local.0).map_err(|e| local_error("open", &local.0, e))?;
    let meta = input
        .metadata()
        .map_err(|e| local_error("stat", &local.0, e))?;
    if !meta.is_file() {
        return Err(Error::InvalidArgument(format!(
            "local path {} is not a regular file: only files can be uploaded",
            local.0.display()
        ))
        .into());
    }
    let name = local
        .0
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (remote, exists) = remote_destination(conn, remote, &name)?;
    let destination = format!("{}:{remote}", conn.alias());
    let target = (remote.as_str(), exists, overwrite);
    let written = write_remote(conn, target, Some(meta.len()), control, |buf| {
        input
            .read(buf)
            .map_err(|e| local_error("read", &local.0, e))
    })?;
    Ok(finished(
        started,
        local.0.display().to_string(),
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
    let (mut reader, size) = open_remote_source(src, src_path, &sftp_src)?;
    let dst: &mut Connection = match dst {
        Some(d) => d,
        None => src,
    };
    let (dst_path, exists) = remote_destination(dst, dst_path, file_name(src_path))?;
    let destination = format!("{}:{dst_path}", dst.alias());
    let target = (dst_path.as_str(), exists, overwrite);
    let done = write_remote(dst, target, size, control, |buf| {
        reader
            .read(buf)
            .map_err(|e| remote_io_error(&src_alias, src_path, e))
    })?;
    Ok(finished(started, source, destination, done))
}

/// Size and SHA-256 of a remote file, streamed (for comparing binary files).
pub fn hash_remote(conn: &mut Connection, path: &str) -> Result<(u64, String), Failure> {
    let sftp_path = remote_path::sftp_path(path);
    let (mut reader, size) = open_remote_source(conn, path, &sftp_path)?;
    let alias = conn.alias().to_string();
    copy(
        &mut reader,
        &mut std::io::sink(),
        size,
        &Control::new(),
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

/// Opens a remote regular file for reading; returns it and its size.
fn open_remote_source(
    conn: &mut Connection,
    path: &str,
    sftp_path: &str,
) -> Result<(ssh2::File, Option<u64>), Failure> {
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
    Ok((file, stat.size))
}

/// Streams `next` (a reader of chunks) into a temporary remote file and renames it to `path`.
/// `target` is the destination path, whether it exists, and whether it may be replaced.
fn write_remote(
    conn: &mut Connection,
    (path, exists, overwrite): (&str, bool, bool),
    size: Option<u64>,
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
        let moved = match bulk.open(&temp.to_string_lossy(), flags) {
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
                0o644,
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
        bulk.open(&dest.to_string_lossy(), bulk::OPEN_READ).ok()
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
        .open(path, bulk::OPEN_READ)
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

fn refuse_existing_local(path: &Path, overwrite: bool) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::Policy(format!(
            "local path {} is a symbolic link: beam does not write through links",
            path.display()
        ))),
        Ok(m) if m.is_dir() => Err(Error::InvalidArgument(format!(
            "local path {} is a directory",
            path.display()
        ))),
        Ok(_) if !overwrite => Err(Error::Policy(format!(
            "local file {} already exists; pass overwrite: true to replace it",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Moves the finished temporary file into place; without `overwrite`, never replaces a file
/// (a hard link fails if the destination appeared meanwhile).
fn place_local(temp: &Path, dest: &Path, overwrite: bool) -> Result<(), Error> {
    if overwrite {
        let replaced = open_replaced(dest);
        fs::rename(temp, dest).map_err(|e| local_error("move into place", dest, e))?;
        if let Some(old) = replaced {
            release_in_background(old);
        }
        Ok(())
    } else {
        fs::hard_link(temp, dest).map_err(|e| local_error("create", dest, e))?;
        let _ = fs::remove_file(temp);
        Ok(())
    }
}

/// A read-only handle on `dest` when it is a regular file, so that the rename does not free it.
/// Never follows a link or blocks (a FIFO waits for a writer; a device may act on open).
fn open_replaced(dest: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if !fs::symlink_metadata(dest).ok()?.is_file() {
        return None;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dest)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// Closes the last handle on a replaced file on a thread of its own. The filesystem frees a
/// file's blocks when its last link and handle go: for 64 MiB on ext4 that is 15–30 ms, which
/// a plain rename would spend inside the call (a fifth of a 64 MiB download). Holding a handle
/// across the rename moves that work to this close, off the response path. If no thread can
/// be started, the closure (and the file in it) is dropped here, so the close happens inline.
fn release_in_background(file: File) {
    let spawned = std::thread::Builder::new()
        .name("scout-release".into())
        .spawn(move || drop(file));
    if let Err(e) = spawned {
        log::debug!("closed a replaced file inline: no thread for it ({e})");
    }
}

/// `dir/.name.scout-PID-N.part`: same directory, so the final rename is atomic.
fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.scout-{}-{n}.part", std::process::id()))
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

    /// A fresh directory under the system temp dir, removed when the test ends.
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("scout-transfer-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    #[test]
    fn directions_parse() {
        assert_eq!(Direction::parse("Upload").unwrap(), Direction::Upload);
        assert_eq!(Direction::parse("download").unwrap(), Direction::Download);
        assert!(Direction::parse("sideways").is_err());
    }

    #[test]
    fn beam_dir_confines_paths_through_dotdot_and_symlinks() {
        let root = temp_dir("confine");
        let outside = temp_dir("outside");
        fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(&*outside, root.join("escape")).unwrap();
        let ok = LocalPath::resolve("sub/new.txt", Some(&root)).unwrap();
        assert_eq!(ok.0, root.canonicalize().unwrap().join("sub/new.txt"));
        assert!(LocalPath::resolve("sub/../new.txt", Some(&root)).is_err());
        for bad in ["../x", "escape/x", "/etc/passwd", "sub/../../x"] {
            let err = LocalPath::resolve(bad, Some(&root)).unwrap_err();
            assert!(
                err.to_string().contains("outside SCOUT_BEAM_DIR")
                    || err.to_string().contains(".."),
                "{bad}: {err}"
            );
        }
        assert!(LocalPath::resolve("", Some(&root)).is_err());
        let free = LocalPath::resolve("../anything", None).unwrap();
        assert_eq!(free.0, PathBuf::from("../anything"));
    }

    #[test]
    fn local_placement_never_clobbers_without_overwrite() {
        let dir = temp_dir("place");
        let dest = dir.join("d.txt");
        fs::write(&dest, "old").unwrap();
        let temp = temp_sibling(&dest);
        fs::write(&temp, "new").unwrap();
        assert!(place_local(&temp, &dest, false).is_err());
        assert_eq!(fs::read_to_string(&dest).unwrap(), "old");
        place_local(&temp, &dest, true).unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new");
        assert!(refuse_existing_local(&dest, false).is_err());
        assert!(refuse_existing_local(&dest, true).is_ok());
    }

    /// Open handles of this process on `path` after it was unlinked or replaced.
    fn handles_on_replaced(path: &Path) -> usize {
        let gone = format!("{} (deleted)", path.display());
        fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy() == gone)
            .count()
    }

    #[test]
    fn a_replaced_file_is_released_not_leaked() {
        let dir = temp_dir("release");
        let dest = dir.join("d.bin");
        fs::write(&dest, vec![1u8; 1 << 20]).unwrap();
        let temp = temp_sibling(&dest);
        fs::write(&temp, "new").unwrap();
        place_local(&temp, &dest, true).unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new");
        let deadline = Instant::now() + Duration::from_secs(10);
        while handles_on_replaced(&dest) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            handles_on_replaced(&dest),
            0,
            "the replaced file is never closed"
        );
    }

    #[test]
    fn replacing_a_fifo_does_not_wait_for_a_writer() {
        let dir = temp_dir("fifo");
        let dest = dir.join("pipe");
        let c = std::ffi::CString::new(dest.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(open_replaced(&dest).is_none());
        let temp = temp_sibling(&dest);
        fs::write(&temp, "new").unwrap();
        place_local(&temp, &dest, true).unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new");
    }

    #[test]
    fn copy_hashes_and_reports_progress() {
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
    }
}
