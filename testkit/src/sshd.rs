//! Real OpenSSH servers on 127.0.0.1 for integration tests.
//!
//! Every `Fleet` lives in its own temporary directory with its own host keys, client key,
//! `authorized_keys`, `ssh_config` and `known_hosts`, and every `Sshd` listens on its own free
//! port, so tests can run in parallel threads and several test binaries can run at once.
//! Nothing here reads or writes the developer's `~/.ssh`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The OpenSSH server binary, always by absolute path.
pub const SSHD_BIN: &str = "/usr/sbin/sshd";

/// How long one sshd may take to start listening and answer its banner.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports `Sshd::launch` tries when the chosen one is taken meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// How long `Sshd::restart` keeps trying to bind the same port again.
const RESTART_WINDOW: Duration = Duration::from_secs(3);

static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------------------------
// TempDir
// ---------------------------------------------------------------------------------------------

/// A fresh directory `$TMPDIR/scout-test-<pid>-<counter>-<nanos>`, removed recursively on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        let base = std::env::temp_dir();
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::SeqCst);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = base.join(format!("scout-test-{}-{}-{}", std::process::id(), n, nanos));
            match fs::create_dir(&path) {
                Ok(()) => {
                    // 0755: sshd (possibly running as root) and the session user read it.
                    let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o755));
                    return TempDir { path };
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create temp dir {}: {e}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Small process helpers (std only: signals go through kill(1) / the shell builtin)
// ---------------------------------------------------------------------------------------------

/// Sends `sig` (e.g. "STOP", "CONT", "KILL") to each pid; pids that are gone are ignored.
fn signal(sig: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let direct = quiet(Command::new("kill").arg("-s").arg(sig).args(&pids));
    if direct.is_err() {
        // No kill(1) on PATH: the shell builtin does the same.
        let _ = quiet(
            Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("kill -s {sig} \"$@\""))
                .arg("sh")
                .args(&pids),
        );
    }
}

/// All live descendants of `root` (not `root` itself), found through /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                if !out.contains(&k) {
                    out.push(k);
                    todo.push(k);
                }
            }
        }
    }
    out
}

/// Stops every descendant of `root` (repeating, so freshly forked ones are caught too) and returns
/// them. `root` itself is left alone.
fn stop_tree_below(root: u32) -> Vec<u32> {
    let mut all: Vec<u32> = Vec::new();
    for _ in 0..4 {
        let found: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|p| !all.contains(p))
            .collect();
        if found.is_empty() {
            break;
        }
        signal("STOP", &found);
        all.extend(found);
    }
    all
}

fn run_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}): {text}", out.status))
    }
}

/// `ssh-keygen -q -t ed25519 -N '' -f PATH` (PATH and PATH.pub must not exist yet).
fn keygen(path: &Path, comment: &str) -> Result<(), String> {
    run_output(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path),
    )
    .map(|_| ())
}

fn is_root() -> bool {
    // /proc/self is owned by the effective uid of the process looking at it.
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The user the test sshd servers log in as. As root this is `scouttest` (created on demand
/// with /bin/sh as shell): sshd runs every command through the login shell, and root's shell on
/// these machines sources a ~/.bashrc that runs `pyenv init`, which stalls for 60 s on a lock when
/// several shells start at once. As a normal user, sshd can only log in that user.
pub fn login_user() -> String {
    if !is_root() {
        return current_user();
    }
    const USER: &str = "scouttest";
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !exists {
        // Parallel test binaries may race here: "already exists" is fine.
        let _ = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", USER])
            .output();
    }
    // A fresh account's password is locked ('!'), which sshd refuses with UsePAM no.
    let _ = Command::new("usermod").args(["-p", "*", USER]).output();
    USER.to_string()
}

fn current_user() -> String {
    if let Ok(out) = Command::new("id").arg("-un").output() {
        let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !name.is_empty() {
            return name;
        }
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .expect("cannot determine the current user name (`id -un` failed and $USER is unset)")
}

/// (major, minor) of the installed sshd, e.g. (9, 2); None when it cannot be told.
fn sshd_version() -> Option<(u32, u32)> {
    static VERSION: OnceLock<Option<(u32, u32)>> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let out = Command::new(SSHD_BIN)
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v = &text[text.find("OpenSSH_")? + "OpenSSH_".len()..];
        let mut nums = v.split(|c: char| !c.is_ascii_digit());
        let major = nums.next()?.parse().ok()?;
        let minor = nums.next()?.parse().ok()?;
        Some((major, minor))
    })
}

/// A path as an ssh_config / sshd_config value (quoted when it holds whitespace).
fn cfg_path(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars().any(char::is_whitespace) {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read, close). Racy by nature: callers
/// retry when sshd then cannot bind it.
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Connects to 127.0.0.1:port and reads the SSH identification string.
fn banner_ok(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    while buf.len() < 8 {
        match crate::read_some(&mut s, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    // Be polite so sshd logs a clean close rather than a protocol error.
    let _ = s.write_all(b"SSH-2.0-scout-test-probe\r\n");
    buf.starts_with(b"SSH-2.0-")
}

// ---------------------------------------------------------------------------------------------
// Sshd
// ---------------------------------------------------------------------------------------------

enum StartError {
    /// The port was taken by someone else: try another one (or again later).
    PortInUse(String),
    /// Anything else: give up with this explanation.
    Failed(String),
}

/// One `sshd -D -e -f CONFIG` process listening on `127.0.0.1:port`.
pub struct Sshd {
    pub port: u16,
    /// sshd's stderr (appended across restarts).
    pub log: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Sshd {
    /// Writes `dir/sshd_config` (using `host_key` and `authorized_keys`) and starts sshd on a free
    /// port, trying a new port when the chosen one is taken meanwhile.
    /// `extra_config` lines go first, so they override the defaults (sshd keeps the first value).
    pub fn launch(
        dir: &Path,
        host_key: &Path,
        authorized_keys: &Path,
        extra_config: &str,
    ) -> Result<Sshd, String> {
        let config = dir.join("sshd_config");
        let log = dir.join("sshd.log");
        let pid_file = dir.join("sshd.pid");
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            fs::write(
                &config,
                sshd_config(port, host_key, authorized_keys, &pid_file, extra_config),
            )
            .map_err(|e| format!("write {}: {e}", config.display()))?;
            let mut sshd = Sshd {
                port,
                log: log.clone(),
                config: config.clone(),
                child: None,
            };
            match sshd.spawn_and_wait() {
                Ok(()) => return Ok(sshd),
                Err(StartError::PortInUse(msg)) => last = msg,
                Err(StartError::Failed(msg)) => return Err(msg),
            }
        }
        Err(format!(
            "sshd could not get a free port in {PORT_ATTEMPTS} attempts; last attempt:\n{last}"
        ))
    }

    /// Pid of the listening sshd, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Kills the listener and every process below it (the per-connection sshd processes and the
    /// user's commands), so established SSH connections break as when a host goes down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            if matches!(child.try_wait(), Ok(None)) {
                // Freeze the listener so it forks nothing new, then freeze and kill the tree.
                signal("STOP", &[pid]);
                let mut tree = stop_tree_below(pid);
                tree.push(pid);
                signal("KILL", &tree);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP to the listener only: new connections hang in the kernel backlog (no banner);
    /// established connections keep working.
    pub fn freeze(&self) {
        if let Some(pid) = self.pid() {
            signal("STOP", &[pid]);
        }
    }

    /// SIGCONT to the listener.
    pub fn thaw(&self) {
        if let Some(pid) = self.pid() {
            signal("CONT", &[pid]);
        }
    }

    /// SIGSTOP to the listener and every process below it: established connections hang too
    /// (socket open, nothing answered) — for keepalive / timeout tests. Undo with `thaw_all`.
    pub fn freeze_all(&self) {
        if let Some(pid) = self.pid() {
            signal("STOP", &[pid]);
            stop_tree_below(pid);
        }
    }

    /// SIGCONT to the listener and every process below it.
    pub fn thaw_all(&self) {
        if let Some(pid) = self.pid() {
            let mut all = descendants(pid);
            all.push(pid);
            signal("CONT", &all);
        }
    }

    /// Kills every established connection (all processes below the listener) but keeps
    /// listening: the next connect succeeds.
    pub fn drop_connections(&self) {
        if let Some(pid) = self.pid() {
            signal("STOP", &[pid]);
            let tree = stop_tree_below(pid);
            signal("KILL", &tree);
            signal("CONT", &[pid]);
        }
    }

    /// Starts sshd again on the same port with the same config (after `stop`, or stopping it
    /// first). Retries for ~3 s while the port is still taken; panics with the log otherwise.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + RESTART_WINDOW;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(StartError::PortInUse(_)) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(StartError::PortInUse(msg)) | Err(StartError::Failed(msg)) => {
                    panic!("sshd restart on port {} failed:\n{msg}", self.port)
                }
            }
        }
    }

    /// The whole log so far (lossy UTF-8).
    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// How many log lines contain `needle` (e.g. "Accepted publickey" = authenticated
    /// connections, "Starting session:" = exec/shell/subsystem channels).
    pub fn log_count(&self, needle: &str) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until the log holds at least `n` lines containing `needle`.
    pub fn wait_log_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_count(needle) >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let offset = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| StartError::Failed(format!("open {}: {e}", self.log.display())))?;
        let child = Command::new(SSHD_BIN)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| StartError::Failed(format!("cannot spawn {SSHD_BIN}: {e}")))?;
        self.child = Some(child);
        match self.wait_ready(offset) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stop();
                Err(match e {
                    StartError::PortInUse(m) => StartError::PortInUse(m),
                    StartError::Failed(m) => StartError::Failed(format!(
                        "{m}\n--- sshd -t -f {} ---\n{}\n--- config ---\n{}",
                        self.config.display(),
                        check_config(&self.config),
                        fs::read_to_string(&self.config).unwrap_or_default()
                    )),
                })
            }
        }
    }

    fn new_log_since(&self, offset: u64) -> String {
        let bytes = fs::read(&self.log).unwrap_or_default();
        let start = (offset as usize).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Ready = sshd logged "Server listening on 127.0.0.1 port N" (so the port is really ours,
    /// not someone else's), is still alive, and the port answers "SSH-2.0-".
    fn wait_ready(&mut self, offset: u64) -> Result<(), StartError> {
        let listening = format!("Server listening on 127.0.0.1 port {}", self.port);
        let deadline = Instant::now() + START_TIMEOUT;
        let mut seen_listening = false;
        loop {
            let exited = match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(None)) => None,
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                None => Some("not started".to_string()),
            };
            let log = self.new_log_since(offset);
            if let Some(status) = exited {
                // Give the log a moment to be complete.
                let log = if log.is_empty() {
                    thread::sleep(Duration::from_millis(50));
                    self.new_log_since(offset)
                } else {
                    log
                };
                let msg = format!(
                    "sshd on port {} exited ({status}); log {}:\n{log}",
                    self.port,
                    self.log.display()
                );
                return Err(
                    if log.contains("Address already in use") || log.contains("Cannot bind any") {
                        StartError::PortInUse(msg)
                    } else {
                        StartError::Failed(msg)
                    },
                );
            }
            if !seen_listening && log.contains(&listening) {
                seen_listening = true;
            }
            if seen_listening && banner_ok(self.port) && self.is_running() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StartError::Failed(format!(
                    "sshd on port {} not ready after {:?}; log {}:\n{log}",
                    self.port,
                    START_TIMEOUT,
                    self.log.display()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn check_config(config: &Path) -> String {
    match Command::new(SSHD_BIN)
        .arg("-t")
        .arg("-f")
        .arg(config)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => format!(
            "{} {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run {SSHD_BIN} -t: {e}"),
    }
}

fn sshd_config(
    port: u16,
    host_key: &Path,
    authorized_keys: &Path,
    pid_file: &Path,
    extra: &str,
) -> String {
    let mut c = String::new();
    if !extra.trim().is_empty() {
        c.push_str("# extra (first value wins in sshd_config)\n");
        c.push_str(extra.trim_end());
        c.push('\n');
    }
    c.push_str(&format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {}\n\
         AuthorizedKeysFile {}\n\
         PidFile {}\n\
         UsePAM no\n\
         StrictModes no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         MaxSessions 64\n\
         MaxStartups 100:30:200\n\
         AllowTcpForwarding yes\n\
         PermitUserEnvironment no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         UseDNS no\n\
         LogLevel VERBOSE\n",
        cfg_path(host_key),
        cfg_path(authorized_keys),
        cfg_path(pid_file),
    ));
    // sshd refuses a second definition of a subsystem: an extra one replaces this one.
    if !extra.contains("Subsystem sftp") {
        c.push_str("Subsystem sftp internal-sftp\n");
    }
    // OpenSSH >= 9.8 penalises sources whose connections fail authentication or crash, which
    // would lock 127.0.0.1 out during fault-injection tests.
    if sshd_version().is_some_and(|v| v >= (9, 8)) {
        c.push_str("PerSourcePenalties no\n");
    }
    c
}

// ---------------------------------------------------------------------------------------------
// Fleet
// ---------------------------------------------------------------------------------------------

/// Several sshds (one per alias) plus the client side: key, ssh_config, known_hosts.
pub struct Fleet {
    pub dir: TempDir,
    /// The local directory transfers may use (`SCOUT_BEAM_DIR` in [`Fleet::env`]).
    pub beam: TempDir,
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    pub client_key: PathBuf,
    pub user: String,
    pub hosts: Vec<(String, Sshd)>,
    pub remote_root: PathBuf,
}

impl Fleet {
    /// One sshd per alias, started in parallel. Panics (with the sshd log) if one fails to start.
    pub fn start(aliases: &[&str]) -> Fleet {
        Fleet::start_with_config(aliases, "")
    }

    /// Like `start`, with `extra_sshd_config` lines placed at the top of every sshd_config
    /// (they override the defaults, since sshd keeps the first value; no `Match` blocks).
    pub fn start_with_config(aliases: &[&str], extra_sshd_config: &str) -> Fleet {
        if !Path::new(SSHD_BIN).exists() {
            panic!(
                "{SSHD_BIN} not found: install openssh-server (scripts/test does it when run as root)"
            );
        }
        for (i, a) in aliases.iter().enumerate() {
            assert!(
                !a.is_empty() && !a.contains(|c: char| c.is_whitespace() || "*?!,\"".contains(c)),
                "bad alias {a:?}"
            );
            assert!(!aliases[..i].contains(a), "duplicate alias {a:?}");
        }
        if is_root() {
            // Privilege separation directory, needed only when sshd runs as root.
            let _ = fs::create_dir_all("/run/sshd");
            let _ = fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755));
        }
        let user = login_user();
        let dir = TempDir::new();

        let client_key = dir.join("client_ed25519");
        keygen(&client_key, "scout-test-client").unwrap_or_else(|e| panic!("{e}"));
        let _ = fs::set_permissions(&client_key, fs::Permissions::from_mode(0o600));
        let authorized_keys = dir.join("authorized_keys");
        fs::copy(client_key.with_extension("pub"), &authorized_keys)
            .expect("write authorized_keys");
        fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o644))
            .expect("chmod authorized_keys");

        let results: Vec<Result<Sshd, String>> = thread::scope(|s| {
            let handles: Vec<_> = aliases
                .iter()
                .enumerate()
                .map(|(i, alias)| {
                    let sub = dir.join(format!("sshd-{i}-{alias}"));
                    let authorized_keys = &authorized_keys;
                    s.spawn(move || -> Result<Sshd, String> {
                        fs::create_dir(&sub)
                            .map_err(|e| format!("mkdir {}: {e}", sub.display()))?;
                        let host_key = sub.join("host_ed25519");
                        keygen(&host_key, "scout-test-host")?;
                        Sshd::launch(&sub, &host_key, authorized_keys, extra_sshd_config)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("sshd start thread panicked".into()))
                })
                .collect()
        });
        let mut hosts = Vec::new();
        let mut errors = Vec::new();
        for (alias, r) in aliases.iter().zip(results) {
            match r {
                Ok(sshd) => hosts.push((alias.to_string(), sshd)),
                Err(e) => errors.push(format!("[{alias}] {e}")),
            }
        }
        if !errors.is_empty() {
            drop(hosts); // kills the ones that did start
            panic!("could not start sshd:\n{}", errors.join("\n\n"));
        }

        let known_hosts = dir.join("known_hosts");
        let ssh_config = dir.join("ssh_config");
        let mut kh = String::new();
        let mut cfg = String::new();
        for (i, (alias, sshd)) in hosts.iter().enumerate() {
            let pubkey = fs::read_to_string(dir.join(format!("sshd-{i}-{alias}/host_ed25519.pub")))
                .expect("read host public key");
            let mut parts = pubkey.split_whitespace();
            let (kt, kb) = (parts.next().unwrap(), parts.next().unwrap());
            kh.push_str(&format!("[127.0.0.1]:{} {kt} {kb}\n", sshd.port));
            cfg.push_str(&format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {user}\n  \
                 IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n\n",
                sshd.port,
                cfg_path(&client_key),
                cfg_path(&known_hosts),
            ));
        }
        fs::write(&known_hosts, kh).expect("write known_hosts");
        fs::write(&ssh_config, cfg).expect("write ssh_config");
        let remote_root = dir.join("remote");
        fs::create_dir(&remote_root).expect("mkdir remote root");
        // The login user may differ from the test process's user (scouttest when root).
        fs::set_permissions(&remote_root, fs::Permissions::from_mode(0o777))
            .expect("chmod remote root");

        Fleet {
            dir,
            beam: TempDir::new(),
            ssh_config,
            known_hosts,
            client_key,
            user,
            hosts,
            remote_root,
        }
    }

    /// Adds `n` aliases `{prefix}{i:03}` to the ssh_config, spread round-robin over the
    /// fleet's sshds: many "hosts" (each its own connections, as far as scout can tell) on a
    /// few servers. Returns them.
    pub fn add_aliases(&self, prefix: &str, n: usize) -> Vec<String> {
        let aliases: Vec<String> = (0..n).map(|i| format!("{prefix}{i:03}")).collect();
        self.add_named_aliases(&aliases);
        aliases
    }

    /// Appends a `Host` block for each of `aliases` to the fleet's ssh_config, spread round-robin
    /// over the fleet's sshd servers.
    pub fn add_named_aliases(&self, aliases: &[String]) {
        let user = &self.user;
        let mut cfg = String::new();
        for (i, alias) in aliases.iter().enumerate() {
            let (_, sshd) = &self.hosts[i % self.hosts.len()];
            cfg.push_str(&format!(
                "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {user}\n  \
                 IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n\n",
                sshd.port,
                cfg_path(&self.client_key),
                cfg_path(&self.known_hosts),
            ));
        }
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&self.ssh_config)
            .expect("open ssh_config");
        f.write_all(cfg.as_bytes()).expect("append to ssh_config");
    }

    pub fn port(&self, alias: &str) -> u16 {
        match self.hosts.iter().find(|(a, _)| a == alias) {
            Some((_, s)) => s.port,
            None => panic!("no host {alias:?} in fleet {:?}", self.aliases()),
        }
    }

    pub fn sshd(&mut self, alias: &str) -> &mut Sshd {
        let aliases = self.aliases();
        match self.hosts.iter_mut().find(|(a, _)| a == alias) {
            Some((_, s)) => s,
            None => panic!("no host {alias:?} in fleet {aliases:?}"),
        }
    }

    pub fn aliases(&self) -> Vec<String> {
        self.hosts.iter().map(|(a, _)| a.clone()).collect()
    }

    /// Environment for scout-mcp (binary or library).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "SCOUT_SSH_CONFIG".into(),
                self.ssh_config.display().to_string(),
            ),
            (
                "SCOUT_KNOWN_HOSTS".into(),
                self.known_hosts.display().to_string(),
            ),
            ("SSH_AUTH_SOCK".into(), String::new()),
            ("SCOUT_LOG_LEVEL".into(), "debug".into()),
            // Local files of transfers live in the fleet's own beam directory; the default
            // one (under $HOME) is tested on its own.
            (
                "SCOUT_BEAM_DIR".into(),
                self.beam.path().display().to_string(),
            ),
        ]
    }

    /// Writes `contents` to `remote_root/rel` (creating parent directories); returns the
    /// absolute path.
    pub fn write_remote_file(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let path = self.remote_root.join(rel.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        let mut f = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f.write_all(contents)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }

    /// The system OpenSSH client set up for this fleet: `ssh -F ssh_config -o BatchMode=yes
    /// ALIAS`, without the developer's agent. Add the remote command with `.arg(..)`.
    pub fn ssh(&self, alias: &str) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F")
            .arg(&self.ssh_config)
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
            .arg(alias)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // Stop the servers before `dir` (declared first) is removed.
        for (_, sshd) in self.hosts.iter_mut() {
            sshd.stop();
        }
    }
}
