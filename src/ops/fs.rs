//! Reading files and listing directories over a connection's shared SFTP channel.
//!
//! SFTP needs no remote process: sshd's sftp-server is started once per connection and stays,
//! so a warm read is three round trips (stat; open; the reads, with the end-of-file answer in
//! the same round trip; the close is not waited for) instead of a fork and exec per call.
//! `stat` follows symlinks; FIFOs, devices and sockets are refused before anything opens them
//! (opening a FIFO would block sftp-server until a writer appears).

use std::collections::BinaryHeap;

use crate::control::{human_bytes, Control};
use crate::error::Error;
use crate::ops::remote_path;
use crate::ssh::mux::Failure;
use crate::ssh::sftp::wire::{open, Attrs, Request};
use crate::ssh::sftp_client::Sftp;
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

/// An entry ordered by its name, for keeping the first ones of a big directory.
struct ByName(Entry);

impl PartialEq for ByName {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ByName {}

impl Ord for ByName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.name.cmp(&other.0.name)
    }
}

impl PartialOrd for ByName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
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
    sftp: &Sftp<'_>,
    path: &str,
    max_file: u64,
    max_entries: usize,
    control: &Control,
) -> Result<View, Failure> {
    let stat = stat(sftp, path)?;
    if stat.is_dir() {
        return list_dir(sftp, path, max_entries).map(View::Directory);
    }
    read_stat(sftp, path, &stat, max_file, control).map(View::File)
}

/// Reads a file (not a directory).
pub fn read_file(
    sftp: &Sftp<'_>,
    path: &str,
    max_file: u64,
    control: &Control,
) -> Result<FileContent, Failure> {
    let stat = stat(sftp, path)?;
    read_stat(sftp, path, &stat, max_file, control)
}

/// `stat` through SFTP, following symlinks.
pub fn stat(sftp: &Sftp<'_>, path: &str) -> Result<Attrs, Failure> {
    sftp.stat(&remote_path::sftp_path(path))
}

fn read_stat(
    sftp: &Sftp<'_>,
    path: &str,
    stat: &Attrs,
    max_file: u64,
    control: &Control,
) -> Result<FileContent, Failure> {
    let kind = EntryKind::from_mode(stat.permissions.unwrap_or(0));
    match kind {
        EntryKind::File => {}
        EntryKind::Directory => {
            return Err(Error::invalid_argument(format!(
                "'{path}' is a directory: list it instead of reading it"
            ))
            .into())
        }
        other => {
            return Err(Error::remote(
                sftp.host().to_string(),
                crate::error::ErrorKind::Remote,
                format!(
                    "'{path}' is a {}, not a regular file: refusing to read it",
                    other.name()
                ),
            )
            .into())
        }
    }
    let size = stat.size.unwrap_or(0);
    let (mut bytes, read_all) = read_bytes(sftp, path, max_file, size, control)?;
    let size = size.max(bytes.len() as u64);
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

/// Bytes per read request of a file shown (small enough for every server; pipelined).
const READ_CHUNK: usize = 64 << 10;
/// Read requests in flight at once.
const READ_DEPTH: usize = 16;

/// Reads up to `max + 1` bytes (the extra byte tells whether there was more). Returns the bytes
/// and whether the end of the file was reached.
fn read_bytes(
    sftp: &Sftp<'_>,
    path: &str,
    max: u64,
    size_hint: u64,
    control: &Control,
) -> Result<(Vec<u8>, bool), Failure> {
    let handle = sftp.open(&remote_path::sftp_path(path), open::READ, None)?;
    let limit = max.saturating_add(1);
    let total = size_hint.min(max);
    let mut bytes = Vec::with_capacity(total.min(1 << 20) as usize + 1);
    let result = sftp.read_stream(
        &handle,
        limit,
        Some(size_hint),
        (READ_CHUNK, READ_DEPTH),
        |piece| {
            if control.is_cancelled() {
                return Err(Error::cancelled().into());
            }
            sftp.reserve(piece.len())?;
            bytes.extend_from_slice(piece.bytes());
            let done = bytes.len() as u64;
            control.report(done, Some(total), || {
                format!("read {} of {}", human_bytes(done), human_bytes(total))
            });
            Ok(())
        },
    );
    sftp.close_later(&handle);
    let (_, eof) = result?;
    Ok((bytes, eof))
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

/// Lists a directory, sorted by name, keeping at most `max_entries` (the first ones by name;
/// a directory of millions of entries is counted, never held whole).
pub fn list_dir(sftp: &Sftp<'_>, path: &str, max_entries: usize) -> Result<Listing, Failure> {
    let sftp_path = remote_path::sftp_path(path);
    // The `max_entries` smallest names seen so far, the largest on top.
    let mut kept: BinaryHeap<ByName> = BinaryHeap::new();
    let total = sftp.read_dir(&sftp_path, |(name, st)| {
        let entry = Entry {
            name: String::from_utf8_lossy(&name).into_owned(),
            kind: EntryKind::from_mode(st.permissions.unwrap_or(0)),
            mode: st.permissions.unwrap_or(0) & 0o7777,
            size: st.size.unwrap_or(0),
            mtime: st.mtime(),
            link_target: None,
        };
        if kept.len() < max_entries {
            kept.push(ByName(entry));
        } else if kept.peek().is_some_and(|top| entry.name < top.0.name) {
            kept.pop();
            kept.push(ByName(entry));
        }
    })?;
    let mut entries: Vec<Entry> = kept.into_sorted_vec().into_iter().map(|e| e.0).collect();
    sftp.reserve(entries.iter().map(|e| e.name.len() + 64).sum())?;
    resolve_links(sftp, &sftp_path, &mut entries);
    Ok(Listing {
        path: path.to_string(),
        entries,
        total,
    })
}

/// Reads the targets of the listing's symlinks, every request in flight at once.
fn resolve_links(sftp: &Sftp<'_>, dir: &str, entries: &mut [Entry]) {
    let asked: Vec<_> = entries
        .iter_mut()
        .filter(|e| e.kind == EntryKind::Symlink)
        .take(MAX_READLINKS)
        .map(|e| {
            let path = format!("{}/{}", dir.trim_end_matches('/'), e.name);
            let answer = sftp.send(Request::readlink(&path));
            (e, answer)
        })
        .collect();
    for (entry, answer) in asked {
        let Ok(reply) = sftp.wait(answer) else {
            continue;
        };
        if let Ok(Ok(Some(names))) = reply.names() {
            if let Some((target, _)) = names.into_iter().next() {
                entry.link_target = Some(String::from_utf8_lossy(&target).into_owned());
            }
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
