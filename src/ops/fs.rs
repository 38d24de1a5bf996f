//! Reading files and listing directories over the session's SFTP channel (SPEC §3.3, §3.4).
//!
//! SFTP needs no remote process: sshd's sftp-server is started once per session and stays, so a
//! warm read is a few packets (stat, open, read, close) instead of a fork and exec per call.
//! `stat` follows symlinks; FIFOs, devices and sockets are refused before anything opens them
//! (opening a FIFO would block until a writer appears).

use std::io::Read;
use std::path::Path;

use ssh2::{FileStat, Sftp};

use crate::control::{human_bytes, Control};
use crate::error::Error;
use crate::ops::remote_path;
use crate::ssh::pool::Failure;
use crate::ssh::session::Connection;
use crate::util::utf8_cut;

/// A file's content as read, possibly truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    /// The path as the caller gave it.
    pub path: String,
    /// The file's size in bytes (at least what was read).
    pub size: u64,
    /// The bytes kept: all of them, or the first `max_file_size` cut on a UTF-8 boundary.
    pub bytes: Vec<u8>,
    /// The file was longer than `max_file_size`: `bytes` holds its beginning only.
    pub truncated: bool,
    /// `Some(kind)` when the file is binary (NUL bytes or invalid UTF-8): `bytes` is then not text.
    pub binary: Option<&'static str>,
}

impl FileContent {
    /// The content as text, `None` for a binary file.
    pub fn text(&self) -> Option<&str> {
        if self.binary.is_some() {
            return None;
        }
        std::str::from_utf8(&self.bytes).ok()
    }
}

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (not followed in listings).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix domain socket.
    Socket,
    /// Anything `stat` reports that is none of the above.
    Other,
}

impl EntryKind {
    fn from_mode(mode: u32) -> EntryKind {
        match mode & 0o170000 {
            0o100000 => EntryKind::File,
            0o040000 => EntryKind::Directory,
            0o120000 => EntryKind::Symlink,
            0o010000 => EntryKind::Fifo,
            0o020000 => EntryKind::CharDevice,
            0o060000 => EntryKind::BlockDevice,
            0o140000 => EntryKind::Socket,
            _ => EntryKind::Other,
        }
    }

    fn letter(self) -> char {
        match self {
            EntryKind::File => '-',
            EntryKind::Directory => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::Fifo => 'p',
            EntryKind::CharDevice => 'c',
            EntryKind::BlockDevice => 'b',
            EntryKind::Socket => 's',
            EntryKind::Other => '?',
        }
    }

    fn name(self) -> &'static str {
        match self {
            EntryKind::File => "regular file",
            EntryKind::Directory => "directory",
            EntryKind::Symlink => "symbolic link",
            EntryKind::Fifo => "FIFO (named pipe)",
            EntryKind::CharDevice => "character device",
            EntryKind::BlockDevice => "block device",
            EntryKind::Socket => "socket",
            EntryKind::Other => "special file",
        }
    }
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (no directory part).
    pub name: String,
    /// File, directory, symlink, ...
    pub kind: EntryKind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Size in bytes, as the SFTP listing reports it (a symlink's own size).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// For symlinks, where they point (when it could be read).
    pub link_target: Option<String>,
}

/// A directory listing, sorted by name, possibly capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The directory, as the caller gave it.
    pub path: String,
    /// The entries shown, sorted by name, at most the cap.
    pub entries: Vec<Entry>,
    /// How many entries the directory has (may exceed `entries.len()`).
    pub total: usize,
}

/// A path seen through `stat`: a file's content or a directory's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// The path is a file (or a symlink to one): its content.
    File(FileContent),
    /// The path is a directory (or a symlink to one): its listing.
    Directory(Listing),
}

/// Symlinks in one listing whose targets are looked up (one round trip each).
const MAX_READLINKS: usize = 200;

/// Stats `path` (following symlinks) and reads the file or lists the directory.
pub fn view(
    conn: &mut Connection,
    path: &str,
    max_file: u64,
    max_entries: usize,
    control: &Control,
) -> Result<View, Failure> {
    let stat = stat(conn, path)?;
    if stat.is_dir() {
        return list_dir(conn, path, max_entries).map(View::Directory);
    }
    read_stat(conn, path, &stat, max_file, control).map(View::File)
}

/// Reads a file (not a directory).
pub fn read_file(
    conn: &mut Connection,
    path: &str,
    max_file: u64,
    control: &Control,
) -> Result<FileContent, Failure> {
    let stat = stat(conn, path)?;
    read_stat(conn, path, &stat, max_file, control)
}

/// `stat` through SFTP, following symlinks.
pub fn stat(conn: &mut Connection, path: &str) -> Result<FileStat, Failure> {
    let sftp_path = remote_path::sftp_path(path);
    with_sftp(conn, &format!("stat '{path}'"), |sftp| {
        sftp.stat(Path::new(&sftp_path))
    })
}

/// Runs one SFTP call; a failure that broke the session may be retried (SFTP calls made here
/// only read).
pub(crate) fn with_sftp<T>(
    conn: &mut Connection,
    doing: &str,
    call: impl FnOnce(&Sftp) -> Result<T, ssh2::Error>,
) -> Result<T, Failure> {
    let result = match conn.sftp() {
        Ok(sftp) => call(sftp),
        Err(e) => return Err(Failure::idempotent(e, conn)),
    };
    result.map_err(|e| {
        let err = conn.fail(&e, doing);
        Failure::idempotent(err, conn)
    })
}

fn read_stat(
    conn: &mut Connection,
    path: &str,
    stat: &FileStat,
    max_file: u64,
    control: &Control,
) -> Result<FileContent, Failure> {
    let kind = EntryKind::from_mode(stat.perm.unwrap_or(0));
    match kind {
        EntryKind::File => {}
        EntryKind::Directory => {
            return Err(Error::InvalidArgument(format!(
                "'{path}' is a directory: list it instead of reading it"
            ))
            .into())
        }
        other => {
            return Err(Error::Remote {
                host: conn.alias().to_string(),
                message: format!(
                    "'{path}' is a {}, not a regular file: refusing to read it",
                    other.name()
                ),
            }
            .into())
        }
    }
    let (mut bytes, read_all) = read_bytes(conn, path, max_file, stat.size.unwrap_or(0), control)?;
    let size = stat.size.unwrap_or(0).max(bytes.len() as u64);
    let truncated = !read_all || bytes.len() as u64 > max_file;
    if truncated {
        let keep = utf8_cut(&bytes, max_file as usize);
        bytes.truncate(keep);
    }
    let binary = classify(&bytes, truncated);
    Ok(FileContent {
        path: path.to_string(),
        size,
        bytes,
        truncated,
        binary,
    })
}

/// Reads up to `max + 1` bytes (the extra byte tells whether there was more). Returns the bytes
/// and whether EOF was reached. One large read call lets libssh2 pipeline its SFTP requests.
fn read_bytes(
    conn: &mut Connection,
    path: &str,
    max: u64,
    size_hint: u64,
    control: &Control,
) -> Result<(Vec<u8>, bool), Failure> {
    let sftp_path = remote_path::sftp_path(path);
    let mut file = with_sftp(conn, &format!("open '{path}'"), |sftp| {
        sftp.open(Path::new(&sftp_path))
    })?;
    let limit = max.saturating_add(1).min(usize::MAX as u64) as usize;
    let mut bytes = Vec::with_capacity(limit.min(1 << 20));
    // libssh2 sends read-ahead requests for the whole buffer of one read call: sized from the
    // stat size, a small file costs one request instead of ~140 (1 MiB in 30 KB packets), and a
    // large one still gets 1 MiB of pipelining. Reading goes on until EOF whatever the hint.
    let chunk_size = (size_hint.saturating_add(1) as usize)
        .clamp(4096, 1 << 20)
        .min(limit.max(1));
    let mut chunk = vec![0u8; chunk_size];
    loop {
        let want = (limit - bytes.len()).min(chunk.len());
        if want == 0 {
            return Ok((bytes, false));
        }
        match file.read(&mut chunk[..want]) {
            Ok(0) => return Ok((bytes, true)),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if control.is_cancelled() {
                    return Err(Error::Cancelled.into());
                }
                let (done, total) = (bytes.len() as u64, size_hint.min(max));
                control.report(done, Some(total), || {
                    format!("read {} of {}", human_bytes(done), human_bytes(total))
                });
            }
            Err(e) => {
                let err = conn.fail_io(&e, &format!("read '{path}'"));
                return Err(Failure::idempotent(err, conn));
            }
        }
    }
}

/// `None` for text; for binary content, a short name of its type. A file cut at the size cap may
/// end inside a UTF-8 sequence: that alone does not make it binary.
pub fn classify(bytes: &[u8], truncated: bool) -> Option<&'static str> {
    if bytes.contains(&0) {
        return Some(magic_kind(bytes));
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => None,
        Err(e) if truncated && e.error_len().is_none() => None,
        Err(_) => Some(magic_kind(bytes)),
    }
}

/// A human name for binary content from its first bytes.
fn magic_kind(bytes: &[u8]) -> &'static str {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x7fELF", "ELF executable or library"),
        (b"\x1f\x8b", "gzip archive"),
        (b"PK\x03\x04", "zip archive"),
        (b"\x89PNG", "PNG image"),
        (b"\xff\xd8\xff", "JPEG image"),
        (b"GIF8", "GIF image"),
        (b"%PDF", "PDF document"),
        (b"BZh", "bzip2 archive"),
        (b"\xfd7zXZ\x00", "xz archive"),
        (b"\x28\xb5\x2f\xfd", "zstd archive"),
        (b"SQLite format 3\x00", "SQLite database"),
        (b"\x00asm", "WebAssembly module"),
        (b"\xca\xfe\xba\xbe", "Java class or Mach-O binary"),
    ];
    MAGIC
        .iter()
        .find(|(m, _)| bytes.starts_with(m))
        .map(|(_, k)| *k)
        .unwrap_or_else(|| {
            if bytes.len() > 262 && &bytes[257..262] == b"ustar" {
                "tar archive"
            } else {
                "binary data"
            }
        })
}

/// Lists a directory, sorted by name, keeping at most `max_entries`.
pub fn list_dir(conn: &mut Connection, path: &str, max_entries: usize) -> Result<Listing, Failure> {
    let sftp_path = remote_path::sftp_path(path);
    let raw = with_sftp(conn, &format!("list '{path}'"), |sftp| {
        sftp.readdir(Path::new(&sftp_path))
    })?;
    let mut entries: Vec<Entry> = raw
        .into_iter()
        .map(|(p, st)| Entry {
            name: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kind: EntryKind::from_mode(st.perm.unwrap_or(0)),
            mode: st.perm.unwrap_or(0) & 0o7777,
            size: st.size.unwrap_or(0),
            mtime: st.mtime.unwrap_or(0),
            link_target: None,
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let total = entries.len();
    entries.truncate(max_entries);
    resolve_links(conn, &sftp_path, &mut entries);
    Ok(Listing {
        path: path.to_string(),
        entries,
        total,
    })
}

fn resolve_links(conn: &mut Connection, dir: &str, entries: &mut [Entry]) {
    let Ok(sftp) = conn.sftp() else { return };
    for entry in entries
        .iter_mut()
        .filter(|e| e.kind == EntryKind::Symlink)
        .take(MAX_READLINKS)
    {
        if let Ok(target) = sftp.readlink(&Path::new(dir).join(&entry.name)) {
            entry.link_target = Some(target.to_string_lossy().into_owned());
        }
    }
}

/// `drwxr-xr-x`-style mode string.
pub fn mode_string(kind: EntryKind, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(kind.letter());
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (bit, c) in bits {
        s.push(if mode & bit != 0 { c } else { '-' });
    }
    // setuid/setgid/sticky replace the x positions, as ls shows them.
    let mut chars: Vec<char> = s.chars().collect();
    for (flag, pos, on, off) in [
        (0o4000, 3, 's', 'S'),
        (0o2000, 6, 's', 'S'),
        (0o1000, 9, 't', 'T'),
    ] {
        if mode & flag != 0 {
            chars[pos] = if chars[pos] == 'x' { on } else { off };
        }
    }
    chars.into_iter().collect()
}

/// `YYYY-MM-DD HH:MM` in UTC for seconds since the epoch (negative: before 1970).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_strings_match_ls() {
        assert_eq!(mode_string(EntryKind::Directory, 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(EntryKind::File, 0o644), "-rw-r--r--");
        assert_eq!(mode_string(EntryKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(EntryKind::Directory, 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(EntryKind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(EntryKind::Symlink, 0o777), "lrwxrwxrwx");
    }

    #[test]
    fn times_format_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_time(1_795_000_000), "2026-11-18 11:06");
    }

    #[test]
    fn binary_detection() {
        assert_eq!(classify(b"hello\n", false), None);
        assert_eq!(
            classify(b"\x7fELF\x02\x01\x00", false),
            Some("ELF executable or library")
        );
        assert_eq!(classify(b"abc\xff", false), Some("binary data"));
        // A cut in the middle of a multi-byte character is not binary.
        assert_eq!(classify("aé".as_bytes().split_at(2).0, true), None);
        assert_eq!(
            classify("aé".as_bytes().split_at(2).0, false),
            Some("binary data")
        );
    }
}
