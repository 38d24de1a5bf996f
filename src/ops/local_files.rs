//! The local side of a transfer: which local files beam may touch, and touching them safely.
//!
//! The agent is untrusted, and every local file scout's user can read or write is within reach
//! of a transfer: `~/.ssh/id_ed25519` uploaded to a host, `~/.bashrc` replaced by a download.
//! So local access is closed by default:
//!
//! * **A beam directory.** Without configuration, beam reads and writes only inside
//!   [`BeamScope::default_dir`] (`$XDG_DATA_HOME/scout-mcp/beam`, else
//!   `~/.local/share/scout-mcp/beam`), created with mode 0700 the first time a transfer needs
//!   it. `SCOUT_BEAM_DIR` names another directory, which must exist, be absolute, and neither
//!   contain nor lie inside the places that hold secrets or configuration ([`SENSITIVE`]: the
//!   home directory itself with its rc files, `~/.ssh`, `/etc`, `/proc`, `/sys`, `/dev`, …).
//!   Only the explicit value `unrestricted` opens every local path, and the binary logs a
//!   warning when it starts with it.
//! * **Resolved once, then held.** A path is resolved through symlinks and must stay inside
//!   the directory; then its parent directory is *opened*, and the opened directory is checked
//!   again (`/proc/self/fd`). Every later step works relative to that descriptor (`openat`,
//!   `renameat`, `linkat`) with `O_NOFOLLOW`, so a directory or symlink swapped in after the
//!   check cannot redirect a read or a write.
//! * **Sources are regular files** on a real filesystem: opened non-blocking (a FIFO cannot
//!   stall the call) and refused when they are FIFOs, devices, sockets, or files of the
//!   kernel's pseudo filesystems (`/proc`, `/sys`, …) whose "contents" are live kernel state.
//! * **Temporary files are exclusive**: created with `O_CREAT|O_EXCL|O_NOFOLLOW` under a random
//!   name in the destination's directory, so nothing planted there in advance receives the
//!   data, and the final rename is atomic.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, Metadata};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::Error;

/// Where the agent's transfers may read and write local files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeamScope {
    /// Only inside this directory.
    Dir {
        /// The directory (absolute).
        path: PathBuf,
        /// scout's own default directory: created (mode 0700) on first use.
        default: bool,
    },
    /// Any local path scout's user can reach (`SCOUT_BEAM_DIR=unrestricted`).
    Unrestricted,
}

/// The value of `SCOUT_BEAM_DIR` that lifts the confinement.
pub const UNRESTRICTED: &str = "unrestricted";

/// Places a beam directory may neither contain nor lie inside: relative to the home
/// directory (`""` is the home directory itself, which holds the shell's rc files), or
/// absolute. Credentials, configuration and the kernel's live interfaces.
const SENSITIVE: &[&str] = &[
    "",
    ".ssh",
    ".gnupg",
    ".aws",
    ".kube",
    ".docker",
    ".config",
    ".local/share/keyrings",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/run",
    "/root",
];

impl BeamScope {
    /// scout's default: [`BeamScope::default_dir`], created on first use.
    pub fn default_for(home: &Path) -> BeamScope {
        BeamScope::Dir {
            path: BeamScope::default_dir(home),
            default: true,
        }
    }

    /// `$XDG_DATA_HOME/scout-mcp/beam` when `XDG_DATA_HOME` is an absolute path, else
    /// `HOME/.local/share/scout-mcp/beam`.
    pub fn default_dir(home: &Path) -> PathBuf {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".local/share"));
        data.join("scout-mcp").join("beam")
    }

    /// Parses a `SCOUT_BEAM_DIR` value (after `~` expansion): `unrestricted`, or an existing
    /// absolute directory that passes [`BeamScope::check`]. Blank and relative values are
    /// refused: a typo must not silently widen or move the jail.
    pub fn parse(value: &str, home: &Path) -> Result<BeamScope, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err(format!(
                "it is blank. Leave it unset for the default beam directory ({}), name an \
                 existing directory, or set it to '{UNRESTRICTED}' to allow every local path",
                BeamScope::default_dir(home).display()
            ));
        }
        if value == UNRESTRICTED {
            return Ok(BeamScope::Unrestricted);
        }
        let path = crate::local::expand_tilde(value, home);
        let scope = BeamScope::Dir {
            path,
            default: false,
        };
        scope.check(home)?;
        Ok(scope)
    }

    /// Whether this scope is usable: an explicit directory must be absolute, exist, and hold
    /// no secrets (see `SENSITIVE`); the default directory may not exist yet.
    pub fn check(&self, home: &Path) -> Result<(), String> {
        let BeamScope::Dir { path, default } = self else {
            return Ok(());
        };
        if !path.is_absolute() {
            return Err(format!(
                "'{}' is a relative path: give an absolute directory",
                path.display()
            ));
        }
        let resolved = match path.canonicalize() {
            Ok(p) => p,
            Err(_) if *default => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "'{}' cannot be used ({e}): create the directory first",
                    path.display()
                ))
            }
        };
        if !resolved.is_dir() {
            return Err(format!("'{}' is not a directory", path.display()));
        }
        if let Some(why) = sensitive(&resolved, home) {
            return Err(format!(
                "'{}' {why}: an agent could read or replace what is there. Use a dedicated \
                 directory, or '{UNRESTRICTED}' if every local path is really meant",
                path.display()
            ));
        }
        Ok(())
    }

    /// The directory transfers are confined to, `None` when unrestricted.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            BeamScope::Dir { path, .. } => Some(path),
            BeamScope::Unrestricted => None,
        }
    }

    /// The canonical jail root, creating scout's default directory (0700) if needed.
    fn root(&self) -> Result<Option<PathBuf>, Error> {
        let BeamScope::Dir { path, default } = self else {
            return Ok(None);
        };
        if *default && !path.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(|e| local_error("create the beam directory", path, e))?;
        }
        path.canonicalize().map(Some).map_err(|e| {
            Error::config(format!(
                "the beam directory {} cannot be used: {e}. Set SCOUT_BEAM_DIR to an existing \
                 directory",
                path.display()
            ))
        })
    }

    /// A sentence for errors and docs: where beam may read and write.
    pub fn describe(&self) -> String {
        match self {
            BeamScope::Dir { path, .. } => format!("inside {}", path.display()),
            BeamScope::Unrestricted => "anywhere (SCOUT_BEAM_DIR=unrestricted)".into(),
        }
    }
}

/// Why `dir` (canonical) may not be a beam directory, if it may not.
fn sensitive(dir: &Path, home: &Path) -> Option<String> {
    let home = home.canonicalize().unwrap_or_else(|_| home.to_path_buf());
    for entry in SENSITIVE {
        let place = if entry.starts_with('/') {
            PathBuf::from(entry)
        } else if entry.is_empty() {
            home.clone()
        } else {
            home.join(entry)
        };
        let place = place.canonicalize().unwrap_or(place);
        if place == dir {
            return Some(format!("is {}", place.display()));
        }
        if place.starts_with(dir) {
            return Some(format!("contains {}", place.display()));
        }
        // The home directory itself is fine to live under; its secret corners are not.
        if !entry.is_empty() && dir.starts_with(&place) {
            return Some(format!("is inside {}", place.display()));
        }
    }
    None
}

/// A local path for a transfer: resolved, checked against the [`BeamScope`], and split into
/// its (canonical, existing) directory and its file name. Only [`LocalPath::resolve`] makes
/// one, so holding one proves the check was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath {
    dir: PathBuf,
    name: OsString,
    /// The jail root the directory was checked against (`None`: unrestricted).
    root: Option<PathBuf>,
}

impl LocalPath {
    /// Resolves `raw`: relative paths start at the beam directory (or, unrestricted, the
    /// current directory); the existing part is resolved through symlinks and, with a beam
    /// directory, must stay inside it; `..` in the part that does not exist yet is refused.
    pub fn resolve(raw: &str, scope: &BeamScope) -> Result<LocalPath, Error> {
        if raw.trim().is_empty() || raw.contains('\0') {
            return Err(Error::invalid_argument(
                "beam needs a local path (no NUL bytes)",
            ));
        }
        let root = scope.root()?;
        let path = Path::new(raw);
        let joined = match (&root, path.is_absolute()) {
            (_, true) => path.to_path_buf(),
            (Some(root), false) => root.join(path),
            (None, false) => std::env::current_dir()
                .map_err(|e| Error::io(format!("no current directory: {e}")).with_source(e))?
                .join(path),
        };
        let resolved = resolve_existing_prefix(&joined)
            .map_err(|e| Error::invalid_argument(format!("local path {raw}: {e}")))?;
        if let Some(root) = &root {
            if !resolved.starts_with(root) {
                return Err(outside(raw, root));
            }
        }
        let (dir, name) = match (resolved.parent(), resolved.file_name()) {
            (Some(dir), Some(name)) => (dir.to_path_buf(), name.to_os_string()),
            _ => {
                return Err(Error::invalid_argument(format!(
                    "local path {raw} names no file"
                )))
            }
        };
        if root.as_deref() == Some(resolved.as_path()) {
            // The beam directory itself: a destination directory, never a file to replace.
            return Ok(LocalPath {
                dir: resolved,
                name: OsString::new(),
                root,
            });
        }
        Ok(LocalPath { dir, name, root })
    }

    /// The full path.
    pub fn path(&self) -> PathBuf {
        if self.name.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(&self.name)
        }
    }

    /// `self/name` when this path is an existing directory, else this path.
    pub fn into_dir(self, name: &str) -> LocalPath {
        let path = self.path();
        if path.is_dir() && !name.is_empty() {
            return LocalPath {
                dir: path,
                name: OsString::from(name),
                root: self.root,
            };
        }
        self
    }

    /// Whether this is an existing regular file (the direction rule of `beam`).
    pub fn is_file(&self) -> bool {
        !self.name.is_empty()
            && std::fs::symlink_metadata(self.path()).is_ok_and(|m| m.file_type().is_file())
    }

    /// Opens the directory and checks, on the open descriptor, that it is still the one that
    /// was resolved inside the jail.
    fn open_dir(&self) -> Result<Dir, Error> {
        let c = cstring(self.dir.as_os_str())?;
        // SAFETY: a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(local_error(
                "open the directory",
                &self.dir,
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if let Some(root) = &self.root {
            // Where the descriptor really points; a component swapped for a symlink between
            // the resolution and the open shows here.
            if let Ok(actual) = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())) {
                if !actual.starts_with(root) {
                    return Err(outside(&self.path().display().to_string(), root));
                }
            }
        }
        Ok(Dir {
            fd,
            path: self.dir.clone(),
        })
    }

    /// Opens the file to upload: a regular file on a real filesystem, never following a
    /// symlink at its name, never blocking on a FIFO.
    pub fn open_source(&self) -> Result<(File, Metadata), Error> {
        if self.name.is_empty() {
            return Err(not_a_file(&self.path(), "a directory"));
        }
        let dir = self.open_dir()?;
        let path = self.path();
        let name = cstring(&self.name)?;
        // SAFETY: `dir.fd` is an open directory and `name` a valid C string.
        let fd = unsafe {
            libc::openat(
                dir.fd.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ELOOP) {
                return Err(Error::policy(format!(
                    "local path {} is a symbolic link: beam does not read through links",
                    path.display()
                )));
            }
            return Err(local_error("open", &path, e));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let meta = file.metadata().map_err(|e| local_error("stat", &path, e))?;
        let kind = meta.file_type();
        if !kind.is_file() {
            let what = if kind.is_dir() {
                "a directory"
            } else {
                "a FIFO, socket or device"
            };
            return Err(not_a_file(&path, what));
        }
        if let Some(fs) = pseudo_filesystem(&file) {
            return Err(not_a_file(&path, &format!("a file of {fs}")));
        }
        set_blocking(&file);
        Ok((file, meta))
    }

    /// Prepares a download to this path: refuses a symlink or directory there, and an
    /// existing file unless `overwrite`.
    pub fn destination(&self, overwrite: bool) -> Result<Destination, Error> {
        let path = self.path();
        if self.name.is_empty() {
            return Err(Error::invalid_argument(format!(
                "local path {} is a directory",
                path.display()
            )));
        }
        let dir = self.open_dir()?;
        match dir.lstat(&self.name) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                return Err(Error::policy(format!(
                    "local path {} is a symbolic link: beam does not write through links",
                    path.display()
                )))
            }
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                return Err(Error::invalid_argument(format!(
                    "local path {} is a directory",
                    path.display()
                )))
            }
            Ok(_) if !overwrite => {
                return Err(Error::policy(format!(
                    "local file {} already exists; pass overwrite: true to replace it",
                    path.display()
                )))
            }
            _ => {}
        }
        Ok(Destination {
            dir,
            name: self.name.clone(),
            temp: None,
        })
    }
}

/// An open directory; every file operation below is relative to it.
struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Dir {
    fn lstat(&self, name: &OsStr) -> std::io::Result<libc::stat> {
        let c = cstring(name).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        // SAFETY: `st` is plain data that fstatat fills; the fd and name are valid.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstatat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            ) == 0
            {
                Ok(st)
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    }
}

/// A download's place: the destination's directory (open), its name, and the temporary file
/// the data goes to until [`Destination::commit`].
pub struct Destination {
    dir: Dir,
    name: OsString,
    temp: Option<OsString>,
}

impl Destination {
    /// The destination's full path, for messages and results.
    pub fn path(&self) -> PathBuf {
        self.dir.path.join(&self.name)
    }

    /// Creates the temporary file (exclusive, random name, not following links) with `mode`
    /// (the umask applies).
    pub fn create_temp(&mut self, mode: u32) -> Result<File, Error> {
        for _ in 0..8 {
            let temp = temp_name(&self.name);
            let c = cstring(&temp)?;
            // SAFETY: open directory fd, valid C string; the descriptor is owned below.
            let fd = unsafe {
                libc::openat(
                    self.dir.fd.as_raw_fd(),
                    c.as_ptr(),
                    libc::O_WRONLY
                        | libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_NOFOLLOW
                        | libc::O_CLOEXEC,
                    (mode & 0o777) as libc::c_uint,
                )
            };
            if fd >= 0 {
                self.temp = Some(temp);
                // SAFETY: just opened, owned by nobody else.
                return Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(local_error("create a temporary file in", &self.dir.path, e));
            }
        }
        Err(Error::io(format!(
            "cannot create a temporary file in {}: every name tried exists",
            self.dir.path.display()
        )))
    }

    /// Moves the finished temporary file to the destination. With `overwrite`, an existing
    /// file is replaced in one atomic rename (its last handle is closed off the response
    /// path, see [`release_in_background`]); without, a file that appeared meanwhile is never
    /// replaced (a hard link fails if the name exists).
    pub fn commit(mut self, overwrite: bool) -> Result<PathBuf, Error> {
        let path = self.path();
        let Some(temp) = self.temp.take() else {
            return Err(Error::io("internal error: no temporary file to commit"));
        };
        let (t, n) = (cstring(&temp)?, cstring(&self.name)?);
        let fd = self.dir.fd.as_raw_fd();
        let result = if overwrite {
            let replaced = self.open_replaced();
            // SAFETY: both names are valid C strings relative to the same open directory.
            let rc = unsafe { libc::renameat(fd, t.as_ptr(), fd, n.as_ptr()) };
            if rc == 0 {
                if let Some(old) = replaced {
                    release_in_background(old);
                }
                Ok(path)
            } else {
                Err(std::io::Error::last_os_error())
            }
        } else {
            // SAFETY: as above; flags 0: the temp name is not a symlink (we created it).
            let rc = unsafe { libc::linkat(fd, t.as_ptr(), fd, n.as_ptr(), 0) };
            if rc == 0 {
                unlink_at(fd, &t);
                Ok(path)
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        result.map_err(|e| {
            unlink_at(fd, &t);
            local_error("move into place", &self.path(), e)
        })
    }

    /// A read-only handle on the destination when it is a regular file, so that the rename
    /// does not free it inline. Never follows a link or blocks (a FIFO waits for a writer).
    fn open_replaced(&self) -> Option<File> {
        let c = cstring(&self.name).ok()?;
        // SAFETY: open directory fd, valid C string; the descriptor is owned below.
        let fd = unsafe {
            libc::openat(
                self.dir.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: just opened, owned by nobody else.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        file.metadata().ok()?.is_file().then_some(file)
    }
}

impl Drop for Destination {
    /// A transfer that did not commit leaves nothing behind.
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            if let Ok(c) = cstring(&temp) {
                unlink_at(self.dir.fd.as_raw_fd(), &c);
            }
        }
    }
}

fn unlink_at(dir: RawFd, name: &CString) {
    // SAFETY: valid directory fd and C string; failure is ignored (best-effort cleanup).
    unsafe {
        libc::unlinkat(dir, name.as_ptr(), 0);
    }
}

/// Closes the last handle on a replaced file on a thread of its own. The filesystem frees a
/// file's blocks when its last link and handle go: for 64 MiB on ext4 that is 15–30 ms, which
/// a plain rename would spend inside the call. If no thread can be started, the file is
/// closed inline.
fn release_in_background(file: File) {
    let spawned = std::thread::Builder::new()
        .name("scout-release".into())
        .spawn(move || drop(file));
    if let Err(e) = spawned {
        log::debug!("closed a replaced file inline: no thread for it ({e})");
    }
}

/// `.NAME.scout-RANDOM.part`: hidden, in the destination's own directory (so the final rename
/// is atomic), and not guessable in advance.
pub fn temp_name(name: &OsStr) -> OsString {
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(format!(".scout-{}.part", random_hex()));
    temp
}

/// 64 random bits as hex, from the kernel's generator.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // Never expected on Linux ≥ 3.17; still unpredictable enough to another user.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        bytes = (nanos ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The kernel pseudo filesystem `file` lives on, if any: its regular files are live kernel
/// state (`/proc/self/environ`, `/sys/…`), not data to copy.
fn pseudo_filesystem(file: &File) -> Option<&'static str> {
    // SAFETY: `st` is plain data that fstatfs fills; the fd is open.
    let kind = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::fstatfs(file.as_raw_fd(), &mut st) != 0 {
            return None;
        }
        st.f_type as i64
    };
    Some(match kind {
        0x9fa0 => "/proc (procfs)",
        0x6265_6572 => "/sys (sysfs)",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0x0027_e0eb | 0x6367_7270 => "cgroupfs",
        0x1cd1 => "devpts",
        0xcafe_4a11 => "bpffs",
        0xde5e_81e4 => "efivarfs",
        0x4249_4e4d => "binfmt_misc",
        _ => return None,
    })
}

/// Clears `O_NONBLOCK` (set to open without blocking on a FIFO) once the file is known to be
/// regular.
fn set_blocking(file: &File) {
    // SAFETY: fcntl on an open descriptor with integer flags.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// Canonicalises the longest existing prefix of `path` (following symlinks) and appends the
/// rest, in which `..` is refused (it could climb out after the check).
fn resolve_existing_prefix(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<OsString> = Vec::new();
    loop {
        if std::fs::symlink_metadata(&existing).is_ok() {
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

fn cstring(s: &OsStr) -> Result<CString, Error> {
    CString::new(s.as_bytes())
        .map_err(|_| Error::invalid_argument("a local path contains a NUL byte"))
}

fn outside(raw: &str, root: &Path) -> Error {
    Error::policy(format!(
        "local path {raw} is outside the beam directory {} (SCOUT_BEAM_DIR); beam only reads \
         and writes there",
        root.display()
    ))
}

fn not_a_file(path: &Path, what: &str) -> Error {
    Error::invalid_argument(format!(
        "local path {} is {what}: only regular files can be uploaded",
        path.display()
    ))
}

/// A local I/O failure while `doing` something with `path`, its source kept.
pub(crate) fn local_error(doing: &str, path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("cannot {doing} {}: {e}", path.display())).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::{Read, Write};

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

    fn scratch(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("scout-local-{name}-{}", random_hex()));
        fs::create_dir_all(&d).unwrap();
        Scratch(d.canonicalize().unwrap())
    }

    fn jail(dir: &Path) -> BeamScope {
        BeamScope::Dir {
            path: dir.to_path_buf(),
            default: false,
        }
    }

    #[test]
    fn beam_dir_confines_paths_through_dotdot_and_symlinks() {
        let root = scratch("confine");
        let outside_dir = scratch("outside");
        fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(&*outside_dir, root.join("escape")).unwrap();
        let ok = LocalPath::resolve("sub/new.txt", &jail(&root)).unwrap();
        assert_eq!(ok.path(), root.join("sub/new.txt"));
        assert!(LocalPath::resolve("sub/../new.txt", &jail(&root)).is_err());
        for bad in ["../x", "escape/x", "/etc/passwd", "sub/../../x"] {
            let err = LocalPath::resolve(bad, &jail(&root)).unwrap_err();
            assert!(
                err.to_string().contains("outside the beam directory")
                    || err.to_string().contains(".."),
                "{bad}: {err}"
            );
        }
        assert!(LocalPath::resolve("", &jail(&root)).is_err());
    }

    #[test]
    fn sensitive_directories_are_refused_as_beam_dirs() {
        let home = scratch("home");
        fs::create_dir_all(home.join(".ssh")).unwrap();
        fs::create_dir_all(home.join("work/beam")).unwrap();
        for bad in ["/", "/etc", "/etc/ssl", "/proc", "/dev", "/sys/kernel"] {
            let err = BeamScope::parse(bad, &home).unwrap_err();
            assert!(err.contains("unrestricted"), "{bad}: {err}");
        }
        let home_text = home.display().to_string();
        for bad in [home_text.clone(), format!("{home_text}/.ssh"), "~".into()] {
            let err = BeamScope::parse(&bad, &home).unwrap_err();
            assert!(
                err.contains("contains") || err.contains("is "),
                "{bad}: {err}"
            );
        }
        assert!(BeamScope::parse("~/work/beam", &home).is_ok());
        assert_eq!(
            BeamScope::parse(" unrestricted ", &home),
            Ok(BeamScope::Unrestricted)
        );
        for bad in ["", "   ", "relative/dir", "/no/such/dir/anywhere"] {
            assert!(BeamScope::parse(bad, &home).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_directory_is_created_private_on_first_use() {
        let home = scratch("defhome");
        let scope = BeamScope::Dir {
            path: home.join("data/scout-mcp/beam"),
            default: true,
        };
        assert!(scope.check(&home).is_ok());
        let p = LocalPath::resolve("file.txt", &scope).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(home.join("data/scout-mcp/beam"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(p.path(), home.join("data/scout-mcp/beam/file.txt"));
    }

    #[test]
    fn sources_must_be_regular_files_on_a_real_filesystem() {
        let root = scratch("sources");
        fs::write(root.join("ok.txt"), "data").unwrap();
        let (mut f, meta) = LocalPath::resolve("ok.txt", &jail(&root))
            .unwrap()
            .open_source()
            .unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!((s.as_str(), meta.len()), ("data", 4));
        let fifo = root.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let err = LocalPath::resolve("fifo", &jail(&root))
            .unwrap()
            .open_source()
            .unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        for pseudo in ["/proc/self/environ", "/proc/self/status"] {
            let err = LocalPath::resolve(pseudo, &BeamScope::Unrestricted)
                .unwrap()
                .open_source()
                .unwrap_err();
            assert!(err.to_string().contains("procfs"), "{pseudo}: {err}");
        }
        let err = LocalPath::resolve("/dev/zero", &BeamScope::Unrestricted)
            .unwrap()
            .open_source()
            .unwrap_err();
        assert!(err.to_string().contains("device"), "{err}");
    }

    #[test]
    fn a_planted_symlink_at_a_temp_or_destination_name_receives_nothing() {
        let root = scratch("planted");
        let victim_dir = scratch("victim");
        let victim = victim_dir.join("bashrc");
        fs::write(&victim, "original").unwrap();
        // A symlink at the destination name pointing out of the jail is refused.
        std::os::unix::fs::symlink(&victim, root.join("dest")).unwrap();
        assert!(LocalPath::resolve("dest", &jail(&root)).is_err());
        // One swapped in after the path was resolved is refused too (no write through it).
        let p = LocalPath::resolve("later", &jail(&root)).unwrap();
        std::os::unix::fs::symlink(&victim, root.join("later")).unwrap();
        assert!(p.destination(true).is_err());
        // Temp names are random: a symlink planted at a guess is never opened, and even a
        // name collision would fail (O_EXCL) rather than follow it.
        let p = LocalPath::resolve("new", &jail(&root)).unwrap();
        std::os::unix::fs::symlink(&victim, root.join(".new.scout-0000000000000000.part")).unwrap();
        let mut dest = p.destination(false).unwrap();
        let mut file = dest.create_temp(0o600).unwrap();
        file.write_all(b"downloaded").unwrap();
        drop(file);
        let placed = dest.commit(false).unwrap();
        assert_eq!(fs::read_to_string(placed).unwrap(), "downloaded");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "original");
        let a = temp_name(OsStr::new("x"));
        let b = temp_name(OsStr::new("x"));
        assert_ne!(a, b, "temporary names must not be predictable");
    }

    #[test]
    fn commit_never_clobbers_without_overwrite_and_cleans_up_on_drop() {
        let root = scratch("commit");
        fs::write(root.join("d.txt"), "old").unwrap();
        let p = LocalPath::resolve("d.txt", &jail(&root)).unwrap();
        assert!(p.destination(false).is_err());
        let mut dest = p.destination(true).unwrap();
        dest.create_temp(0o644).unwrap().write_all(b"new").unwrap();
        // A file appearing under the name meanwhile is not replaced without overwrite.
        let mut racing = LocalPath::resolve("e.txt", &jail(&root))
            .unwrap()
            .destination(false)
            .unwrap();
        racing
            .create_temp(0o644)
            .unwrap()
            .write_all(b"mine")
            .unwrap();
        fs::write(root.join("e.txt"), "theirs").unwrap();
        assert!(racing.commit(false).is_err());
        assert_eq!(fs::read_to_string(root.join("e.txt")).unwrap(), "theirs");
        dest.commit(true).unwrap();
        assert_eq!(fs::read_to_string(root.join("d.txt")).unwrap(), "new");
        // An abandoned destination removes its temporary file.
        let mut abandoned = LocalPath::resolve("f.txt", &jail(&root))
            .unwrap()
            .destination(false)
            .unwrap();
        abandoned.create_temp(0o644).unwrap();
        drop(abandoned);
        let left: Vec<_> = fs::read_dir(&*root)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".part"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
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

    fn replace_with(root: &Path, name: &str, contents: &[u8]) {
        let mut dest = LocalPath::resolve(name, &jail(root))
            .unwrap()
            .destination(true)
            .unwrap();
        dest.create_temp(0o644)
            .unwrap()
            .write_all(contents)
            .unwrap();
        dest.commit(true).unwrap();
    }

    #[test]
    fn a_replaced_file_is_released_not_leaked() {
        let root = scratch("release");
        let dest = root.join("d.bin");
        fs::write(&dest, vec![1u8; 1 << 20]).unwrap();
        replace_with(&root, "d.bin", b"new");
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while handles_on_replaced(&dest) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            handles_on_replaced(&dest),
            0,
            "the replaced file is never closed"
        );
    }

    #[test]
    fn replacing_a_fifo_does_not_wait_for_a_writer() {
        let root = scratch("fifo-dest");
        let c = CString::new(root.join("pipe").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        replace_with(&root, "pipe", b"new");
        assert_eq!(fs::read_to_string(root.join("pipe")).unwrap(), "new");
    }
}
