//! [`Scout`]: the blocking library API. The MCP server is one user of it; any Rust program
//! without an async runtime is another.
//!
//! Every method blocks the calling thread until the remote work is done (or its timeout or
//! [`Control`] stops it). For concurrency, call from several threads: a `Scout` is cheap to
//! clone and its clones share one set of session pools. `examples/threads.rs` shows it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, RecvTimeoutError};

use crate::control::Control;
use crate::error::{Error, Result};
use crate::fanout::FanOut;
use crate::jobs::Jobs;
use crate::ops::check::HostCheck;
use crate::ops::command::PolicyMode;
use crate::ops::compare::{self, Comparison};
use crate::ops::fs::{self, FileContent, Listing, View};
use crate::ops::hosts::{is_pattern, HostEntry, HostGroup, HostStatus, Inventory, Reachability};
use crate::ops::remote_path;
use crate::ops::run::{self, FindResult, Tree};
use crate::ops::services::Service;
use crate::ops::target::{RemotePath, Target};
use crate::ops::transfer::{self, LocalPath, Transfer, TransferOptions};
use crate::settings::Settings;
use crate::ssh::config::{ParseContext, SshConfig};
use crate::ssh::connect::Connector;
use crate::ssh::exec::{ExecLimits, ExecOutput, RemoteLimits};
use crate::ssh::jump::Jumps;
use crate::ssh::mux::{Failure, Pending, SftpChannel};
use crate::ssh::pool::{HostPoolState, Lane, PoolLimits, Pools};
use crate::ssh::reaper::Reaper;
use crate::ssh::session::ConnectOptions;
use crate::ssh::sftp::wire::{Reply, Request};
use crate::ssh::sftp_client::Sftp;

/// Entries shown by a listing or a tree before the "more entries" marker.
pub const MAX_ENTRIES: usize = 1000;
/// Matches shown by `find` before the "more results" marker.
pub const MAX_FIND_RESULTS: usize = 100;
/// Targets accepted by one broadcast (after host patterns and groups are expanded).
pub use crate::ops::hosts::MAX_TARGETS;
/// Distinct host patterns in one broadcast (each is matched against every alias).
pub const MAX_PATTERNS: usize = 64;
/// Hosts one `check` takes.
pub const MAX_CHECKS: usize = 256;
/// Bytes of file content and command output one broadcast keeps in all, shared evenly by its
/// targets (each keeps at most `SCOUT_MAX_FILE_SIZE` / `SCOUT_MAX_OUTPUT_SIZE` too, and at
/// least [`MIN_TARGET_OUTPUT`]): 1000 targets of 1 MiB files must not take a GiB.
pub const BROADCAST_OUTPUT: usize = 8 << 20;
/// The least a broadcast target keeps, however many targets share the budget.
pub const MIN_TARGET_OUTPUT: usize = 4096;
/// How long closing waits for the connections to say goodbye to their servers.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
/// How long a host's reachability result is reused.
const REACHABILITY_TTL: Duration = Duration::from_secs(5);

/// A fleet of SSH hosts with pooled sessions. `Send + Sync` and cheap to clone: clones share
/// the same pools, so share it across threads freely. When the last clone is dropped, every
/// idle session is closed and the reaper thread is stopped and joined.
///
/// ```no_run
/// // no_run: needs an ssh_config whose host "web1" is reachable.
/// use scout_mcp::{Control, Scout, Settings};
///
/// let settings = Settings::builder().ssh_config("/etc/scout/ssh_config").build()?;
/// let scout = Scout::new(settings)?;
/// let control = Control::new();
/// let hostname = scout.read(&"web1:/etc/hostname".parse()?, &control)?;
/// let uptime = scout.run(&"web1:/".parse()?, "cat /proc/uptime", &control)?;
/// println!("{:?} up {}", hostname.text(), uptime.stdout_lossy());
/// # Ok::<(), scout_mcp::Error>(())
/// ```
#[derive(Clone)]
pub struct Scout {
    inner: Arc<Inner>,
}

// `Scout` must stay shareable across threads: a compile error here, not a surprise in a user's
// program, if a field ever makes it `!Send` or `!Sync`.
const _: () = {
    const fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Scout>();
};

struct Inner {
    settings: Settings,
    inventory: Inventory,
    /// Shared with the `Scout`s narrowed from this one (an HTTP key's).
    connections: Arc<Connections>,
    fanout: FanOut,
    /// Background jobs (`background: true`), ended by [`Scout::close`].
    jobs: Jobs,
}

/// The connections to the hosts, and what keeps them: one set per [`Scout::new`], shared by
/// the `Scout`s narrowed from it, so a restricted caller reuses the same sessions and the pool's
/// per-host limits hold across all callers.
struct Connections {
    pools: Arc<Pools>,
    /// Jump hubs for hosts behind `ProxyJump`; closed after the pools (their sessions ride on
    /// the hubs' tunnels).
    jumps: Arc<Jumps>,
    reachability: Reachability,
    _reaper: Reaper,
}

impl Drop for Connections {
    // Runs when the last `Scout` sharing them goes. Idle sessions are disconnected here; the
    // fields then drop: `Reaper` stops and joins its thread, which holds the other reference to
    // the pools, so they are freed before this returns. (A `Scout`'s `FanOut` lets its threads
    // exit without joining them: this may run on one of them, when a broadcast task held the
    // last clone.)
    fn drop(&mut self) {
        self.pools.shutdown(CLOSE_WAIT);
        self.jumps.close();
    }
}

/// One target of a broadcast and what happened there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastItem {
    /// The target as given (`host:path`).
    pub target: String,
    /// What was read or run there, or why that target failed.
    pub result: Result<Outcome>,
}

impl BroadcastItem {
    /// The host alias of the target (before the first `:`, trimmed).
    pub fn host(&self) -> &str {
        self.target
            .split_once(':')
            .map_or(self.target.as_str(), |(h, _)| h)
            .trim()
    }

    /// The path of the target (after the first `:`, trimmed).
    pub fn path(&self) -> &str {
        self.target.split_once(':').map_or("", |(_, p)| p).trim()
    }

    /// Read fine, or the command ran to completion with exit code 0.
    pub fn succeeded(&self) -> bool {
        match &self.result {
            Ok(Outcome::View(_)) => true,
            Ok(Outcome::Command(out)) => out.success() && !out.timed_out,
            Err(_) => false,
        }
    }
}

/// What a broadcast did on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A file read or a directory listed.
    View(View),
    /// A command's output.
    Command(ExecOutput),
}

impl Scout {
    /// A `Scout` configured from the environment (`SCOUT_*` variables, `~/.ssh/config`).
    /// Connects to nothing yet.
    pub fn from_env() -> Result<Scout> {
        Scout::new(Settings::from_env()?)
    }

    /// A `Scout` with explicit settings (see [`Settings::builder`]). Reads the ssh_config and
    /// starts the reaper thread; connects to nothing yet. Fails with an error of kind [`ErrorKind::Config`](crate::ErrorKind::Config) when the
    /// ssh_config cannot be read.
    pub fn new(settings: Settings) -> Result<Scout> {
        let inventory = inventory(&settings)?;
        for warning in inventory.warnings() {
            log::warn!("ssh_config: {warning}");
        }
        for warning in inventory.group_warnings() {
            log::warn!("SCOUT_HOST_GROUPS: {warning}");
        }
        if settings.beam == crate::settings::BeamScope::Unrestricted {
            log::warn!(
                "SCOUT_BEAM_DIR=unrestricted: transfers may read and write every local file this \
                 user can (~/.ssh keys, shell rc files); the agent is not confined"
            );
        }
        // Each connection holds descriptors: never plan for more than the limit allows.
        let room = usize::try_from(crate::fdlimit::connection_room()).unwrap_or(usize::MAX);
        if settings.max_pool_size > room {
            log::warn!(
                "SCOUT_MAX_POOL_SIZE={} lowered to {room}: that is what the open-file limit \
                 (ulimit -n) leaves room for; raise the hard limit to keep more connections",
                settings.max_pool_size
            );
        }
        let limits = PoolLimits {
            max_total: settings.max_pool_size.min(room).max(1),
            per_host: settings.max_sessions_per_host,
            idle_timeout: settings.idle_timeout,
            checkout_wait: settings.command_timeout + settings.connect_timeout,
            request_timeout: settings.command_timeout + settings.connect_timeout,
            connects_at_once: settings.max_concurrency.max(16),
        };
        let opts = ConnectOptions {
            connect_timeout: settings.connect_timeout,
            keepalive_interval: settings.keepalive_interval,
            known_hosts: settings.known_hosts.clone(),
            strict: settings.strict_host_key_checking,
            home: settings.home.clone(),
        };
        let jumps = Arc::new(Jumps::new(
            inventory.config(),
            opts.clone(),
            settings.idle_timeout,
        ));
        let connector = Connector {
            opts,
            jumps: Some(jumps.clone()),
        };
        let pools = Arc::new(Pools::new(limits, connector));
        let reaper = Reaper::start(pools.clone()).map_err(|e| {
            Error::io(format!("cannot start the reaper thread: {e}")).with_source(e)
        })?;
        let fanout = FanOut::new(settings.max_concurrency);
        Ok(Scout {
            inner: Arc::new(Inner {
                settings,
                inventory,
                connections: Arc::new(Connections {
                    pools,
                    jumps,
                    reachability: Reachability::new(REACHABILITY_TTL),
                    _reaper: reaper,
                }),
                fanout,
                jobs: Jobs::new(),
            }),
        })
    }

    /// A `Scout` with `settings` that shares this one's connections: for a caller allowed less
    /// (an HTTP key that is read-only, confined to some hosts, or to a narrower command
    /// policy). `settings` must be this `Scout`'s narrowed in what they allow — the connection
    /// settings (timeouts, known_hosts, pool limits) are this `Scout`'s. Its own background jobs
    /// and fan-out threads; [`Scout::close`] on either closes the shared connections.
    pub(crate) fn narrowed(&self, settings: Settings) -> Result<Scout> {
        let inventory = inventory(&settings)?;
        Ok(Scout {
            inner: Arc::new(Inner {
                fanout: FanOut::new(settings.max_concurrency),
                settings,
                inventory,
                connections: self.inner.connections.clone(),
                jobs: Jobs::new(),
            }),
        })
    }

    /// The settings this `Scout` was built with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Configured host aliases, sorted.
    pub fn aliases(&self) -> Vec<String> {
        self.inner.inventory.aliases()
    }

    /// The aliases matching `patterns` as an ssh_config `Host` line does (`*`, `?`, `!` to
    /// exclude), sorted.
    pub(crate) fn aliases_matching(&self, patterns: &[String]) -> Vec<String> {
        let mut aliases = self.aliases();
        aliases.retain(|alias| crate::ssh::config::host_matches(patterns, alias));
        aliases
    }

    /// The operator's host groups (`SCOUT_HOST_GROUPS`), resolved against the hosts.
    pub fn groups(&self) -> &[HostGroup] {
        self.inner.inventory.groups()
    }

    /// What is odd about the groups: a member that is not a host, a group that names none.
    pub fn group_warnings(&self) -> &[String] {
        self.inner.inventory.group_warnings()
    }

    /// The hosts a host pattern names (`web*`, `web[01-40]`, `@group`, `!…`; see
    /// `Inventory::select`), or the one alias given: aliases in natural order.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>> {
        Ok(self
            .inner
            .inventory
            .select(pattern)?
            .iter()
            .map(|h| h.alias.clone())
            .collect())
    }

    /// Background jobs: started by the MCP tool's `background: true`, or by a program with
    /// [`Jobs::start`]. [`Scout::close`] ends them.
    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The resolved configuration of one host.
    pub fn host(&self, alias: &str) -> Result<Arc<HostEntry>> {
        self.inner.inventory.get(alias)
    }

    /// Every host with its reachability (TCP connect, in parallel, cached for a few seconds).
    pub fn hosts(&self) -> Vec<HostStatus> {
        let entries: Vec<Arc<HostEntry>> = self.inner.inventory.entries().cloned().collect();
        let timeout = self.settings().connect_timeout.min(Duration::from_secs(2));
        let first_hop = |h: &HostEntry| {
            let chain = self
                .inner
                .connections
                .jumps
                .chain(h)
                .map_err(|e| e.to_string())?;
            Ok(chain
                .into_iter()
                .next()
                .map(|first| (first.alias, first.hostname, first.port)))
        };
        self.inner.connections.reachability.check(
            &entries,
            &first_hop,
            timeout,
            self.settings().max_concurrency,
        )
    }

    /// Checks each of `aliases` (every host when empty; host patterns and `@group`s expanded;
    /// each host once, at most `MAX_CHECKS`) like `scout-mcp check`: opens a fresh connection
    /// stage by stage (resolve, TCP or tunnel, handshake, host key, auth, SFTP, exec), timing
    /// each, and names the fix for a failure. Hosts are checked in parallel (`SCOUT_MAX_CONCURRENCY` at once),
    /// within the session caps; `control` stops it.
    pub fn check(&self, aliases: &[String], control: &Control) -> Result<Vec<HostCheck>> {
        let mut hosts: Vec<Arc<HostEntry>> = if aliases.is_empty() {
            self.inner.inventory.entries().cloned().collect()
        } else {
            let mut hosts = Vec::new();
            for a in aliases {
                hosts.extend(self.inner.inventory.select(a)?);
                if hosts.len() > MAX_CHECKS {
                    break;
                }
            }
            hosts
        };
        let mut seen = std::collections::HashSet::new();
        hosts.retain(|h| seen.insert(h.alias.clone()));
        if hosts.len() > MAX_CHECKS {
            return Err(Error::invalid_argument(format!(
                "{} hosts to check; at most {MAX_CHECKS} at a time",
                hosts.len()
            )));
        }
        let (tx, rx) = unbounded::<(usize, HostCheck)>();
        for (i, host) in hosts.iter().enumerate() {
            let (scout, tx, part, host) = (self.clone(), tx.clone(), control.part(), host.clone());
            self.inner.fanout.spawn(move || {
                let chain = scout
                    .inner
                    .connections
                    .jumps
                    .chain(&host)
                    .map_err(|e| e.to_string());
                let check = crate::ops::check::check(scout.pools(), &host, chain, &part);
                drop(scout);
                let _ = tx.send((i, check));
            })?;
        }
        drop(tx);
        let mut checks: Vec<Option<HostCheck>> = vec![None; hosts.len()];
        let mut done = 0;
        while done < hosts.len() {
            if control.is_cancelled() {
                return Err(Error::cancelled());
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((i, check)) => {
                    checks[i] = Some(check);
                    done += 1;
                    let total = hosts.len();
                    control.report(done as u64, Some(total as u64), || {
                        format!("{done}/{total} hosts checked")
                    });
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(hosts
            .iter()
            .zip(checks)
            .map(|(h, c)| {
                c.unwrap_or_else(|| HostCheck {
                    alias: h.alias.clone(),
                    settings: Vec::new(),
                    stages: Vec::new(),
                    fix: Some("internal error: the check crashed; see the log".into()),
                })
            })
            .collect())
    }

    /// Reads a file, or lists a directory, at `at` (symlinks followed); `control` cancels it
    /// and sees the bytes of a large file as they are read.
    pub fn view(&self, at: &RemotePath, control: &Control) -> Result<View> {
        let max = self.settings().max_file_size;
        self.with_sftp(at, control, |sftp| {
            fs::view(sftp, at.path(), max, MAX_ENTRIES, control)
        })
    }

    /// Reads a file (up to `SCOUT_MAX_FILE_SIZE`, cut on a UTF-8 boundary).
    ///
    /// ```no_run
    /// // no_run: needs a reachable host "web1".
    /// use scout_mcp::{Control, RemotePath, Scout};
    /// let scout = Scout::from_env()?;
    /// let file = scout.read(&"web1:/etc/hostname".parse()?, &Control::new())?;
    /// println!("{}", file.text().unwrap_or("(binary)").trim());
    /// # Ok::<(), scout_mcp::Error>(())
    /// ```
    pub fn read(&self, at: &RemotePath, control: &Control) -> Result<FileContent> {
        let max = self.settings().max_file_size;
        self.with_sftp(at, control, |sftp| {
            fs::read_file(sftp, at.path(), max, control)
        })
    }

    /// Lists a directory (at most `MAX_ENTRIES` entries, sorted by name).
    pub fn list(&self, at: &RemotePath, control: &Control) -> Result<Listing> {
        self.with_sftp(at, control, |sftp| {
            fs::list_dir(sftp, at.path(), MAX_ENTRIES)
        })
    }

    /// A directory tree to `depth` levels (1–10).
    pub fn tree(&self, at: &RemotePath, depth: u32, control: &Control) -> Result<Tree> {
        check_depth(depth)?;
        let host = self.host_of(at)?;
        let limits = self.exec_limits();
        self.pools().with_lane(&host, control, |lane| {
            run::tree(lane, at.path(), depth, MAX_ENTRIES, &limits, control)
        })
    }

    /// Files and directories under `at` whose name matches the glob `pattern`, to `depth`
    /// levels (1–10), at most `MAX_FIND_RESULTS` (sorted; `total` tells how many matched).
    pub fn find(
        &self,
        at: &RemotePath,
        pattern: &str,
        depth: u32,
        control: &Control,
    ) -> Result<FindResult> {
        check_depth(depth)?;
        let host = self.host_of(at)?;
        let limits = self.exec_limits();
        self.pools().with_lane(&host, control, |lane| {
            run::find(
                lane,
                at.path(),
                pattern,
                depth,
                MAX_FIND_RESULTS,
                &limits,
                control,
            )
        })
    }

    /// Runs `query` in the directory `dir` under the command policy. A non-zero exit is a
    /// result, not an error; a timeout returns the partial output with `timed_out` set.
    ///
    /// ```no_run
    /// // no_run: needs a reachable host "web1".
    /// # let scout = scout_mcp::Scout::from_env()?;
    /// let control = scout_mcp::Control::new();
    /// let logs = "web1:/var/log".parse()?;
    /// let out = scout.run(&logs, "grep -c error syslog", &control)?;
    /// match out.exit_code {
    ///     Some(0) => println!("{} errors", out.stdout_lossy().trim()),
    ///     Some(1) => println!("no errors"), // grep found nothing: a result, not an Err
    ///     other => println!("grep failed ({other:?}): {}", out.stderr_lossy()),
    /// }
    /// # Ok::<(), scout_mcp::Error>(())
    /// ```
    pub fn run(&self, dir: &RemotePath, query: &str, control: &Control) -> Result<ExecOutput> {
        self.run_for(dir, query, self.settings().command_timeout, control)
    }

    /// [`Scout::run`] with its own timeout instead of `SCOUT_COMMAND_TIMEOUT` (background jobs
    /// use `SCOUT_JOB_TIMEOUT`).
    pub(crate) fn run_for(
        &self,
        dir: &RemotePath,
        query: &str,
        timeout: Duration,
        control: &Control,
    ) -> Result<ExecOutput> {
        let command = self.vet_command(query)?;
        let host = self.host_of(dir)?;
        let limits = ExecLimits {
            timeout,
            ..self.query_limits()
        };
        self.pools().with_lane(&host, control, |lane| {
            run::query(lane, dir.path(), &command, &limits, control)
        })
    }

    /// Whether the command policy (and read-only mode) lets `query` run, without running it.
    pub(crate) fn vet_query(&self, query: &str) -> Result<()> {
        self.vet_command(query).map(drop)
    }

    /// Compares two remote files (read with the read rules): identical, a unified diff with
    /// `host:path` headers, or — for binary files — sizes and SHA-256 sums (hashing stops
    /// when `control` is cancelled).
    pub fn diff(
        &self,
        left: &RemotePath,
        right: &RemotePath,
        control: &Control,
    ) -> Result<Comparison> {
        let left_file = self.read(left, control)?;
        let right_file = self.read(right, control)?;
        let (l, r) = (left.to_string(), right.to_string());
        if left_file.binary.is_none() && right_file.binary.is_none() {
            let max = self.settings().max_output_size;
            return Ok(compare::texts(&l, &left_file, &r, &right_file, max));
        }
        let left_sum = self.sum(left, &left_file, control)?;
        let right_sum = self.sum(right, &right_file, control)?;
        Ok(compare::binaries(&l, left_sum, &r, right_sum))
    }

    /// Compares a remote file with `expected` content.
    pub fn diff_content(
        &self,
        at: &RemotePath,
        expected: &str,
        control: &Control,
    ) -> Result<Comparison> {
        let actual = self.read(at, control)?;
        let label = at.to_string();
        if actual.binary.is_some() {
            let sum = self.sum(at, &actual, control)?;
            let expected_sum = (
                expected.len() as u64,
                crate::sha256::hex(expected.as_bytes()),
            );
            return Ok(compare::binaries(
                &label,
                sum,
                "expected content",
                expected_sum,
            ));
        }
        let max = self.settings().max_output_size;
        Ok(compare::with_expected(&label, &actual, expected, max))
    }

    /// Size and SHA-256 of a file already read: from its bytes when it was read whole, else
    /// streamed again (it was cut at `SCOUT_MAX_FILE_SIZE`).
    fn sum(&self, at: &RemotePath, file: &FileContent, control: &Control) -> Result<(u64, String)> {
        if file.truncated {
            return self.hash(at, control);
        }
        Ok((file.bytes.len() as u64, crate::sha256::hex(&file.bytes)))
    }

    /// Size and SHA-256 of a remote file (streamed, any size; stops when `control` is
    /// cancelled).
    pub fn hash(&self, at: &RemotePath, control: &Control) -> Result<(u64, String)> {
        let host = self.host_of(at)?;
        self.with_transfer(&host, control, |sftp| {
            transfer::hash_remote(sftp, at.path(), control)
        })
    }

    /// Copies the remote file `from` to the local path `to` (into it, if it is a directory),
    /// which must lie in the transfer directory (`SCOUT_BEAM_DIR`). Refuses to replace an
    /// existing file unless [`TransferOptions::overwrite`].
    ///
    /// ```no_run
    /// // no_run: needs a reachable host "web1".
    /// use scout_mcp::{Control, Scout, TransferOptions};
    /// let scout = Scout::from_env()?;
    /// let done = scout.download(
    ///     &"web1:/etc/hosts".parse()?,
    ///     "hosts.web1",
    ///     &TransferOptions::new().overwrite(true),
    ///     &Control::new(),
    /// )?;
    /// println!("{} bytes, sha256 {}", done.bytes, done.sha256);
    /// # Ok::<(), scout_mcp::Error>(())
    /// ```
    pub fn download(
        &self,
        from: &RemotePath,
        to: &str,
        options: &TransferOptions,
        control: &Control,
    ) -> Result<Transfer> {
        self.check_writable("a download (it writes a local file)")?;
        let host = self.host_of(from)?;
        let local = LocalPath::resolve(to, &self.settings().beam)?;
        self.with_transfer(&host, control, |sftp| {
            transfer::download(sftp, from.path(), local.clone(), options.overwrite, control)
        })
    }

    /// Copies the local file `from` (in the transfer directory, `SCOUT_BEAM_DIR`) to the remote
    /// path `to` (into it, if it is a directory). Refused in read-only mode; refuses to replace
    /// an existing file unless [`TransferOptions::overwrite`].
    pub fn upload(
        &self,
        from: &str,
        to: &RemotePath,
        options: &TransferOptions,
        control: &Control,
    ) -> Result<Transfer> {
        self.check_writable("upload")?;
        let host = self.host_of(to)?;
        let local = LocalPath::resolve(from, &self.settings().beam)?;
        self.with_transfer(&host, control, |sftp| {
            transfer::upload(sftp, local.clone(), to.path(), options.overwrite, control)
        })
    }

    /// Copies the remote file `from` to the remote path `to`, streamed through this process in
    /// constant memory. The same host on both sides works (a channel for each side).
    pub fn copy(
        &self,
        from: &RemotePath,
        to: &RemotePath,
        options: &TransferOptions,
        control: &Control,
    ) -> Result<Transfer> {
        self.check_writable("a host-to-host copy")?;
        let src = self.host_of(from)?;
        let dst = self.host_of(to)?;
        self.with_transfer(&src, control, |source| {
            self.with_transfer(&dst, control, |destination| {
                transfer::relay(
                    source,
                    from.path(),
                    destination,
                    to.path(),
                    options.overwrite,
                    control,
                )
            })
            .map_err(Failure::from)
        })
    }

    /// Runs `op` over the shared SFTP channel of one of `host`'s connections (read-only
    /// operations: retried once on another connection if the first died under it).
    fn with_sftp<T>(
        &self,
        at: &RemotePath,
        control: &Control,
        op: impl Fn(&Sftp<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let host = self.host_of(at)?;
        self.pools().with_conn(&host, true, |conn| {
            op(&Sftp::new(conn, SftpChannel::Shared, control))
        })
    }

    /// Runs `op` over an SFTP channel of its own on one of `host`'s connections (a lane).
    fn with_transfer<T>(
        &self,
        host: &Arc<HostEntry>,
        control: &Control,
        mut op: impl FnMut(&Sftp<'_>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        self.pools().with_lane(host, control, |lane| {
            let channel = lane.open_sftp(control)?;
            let result = op(&Sftp::new(lane, channel, control));
            lane.close_sftp(channel);
            result
        })
    }

    /// Reads (or, with `query`, runs a command in) every `host:path` target concurrently —
    /// at most `SCOUT_MAX_CONCURRENCY` at once — and returns one item per target, in the order
    /// given. A failed target is a failed item, not an error of the whole call; progress is
    /// reported as targets finish. The host part of a target may be a pattern
    /// (`web*:/etc/hostname`, `web[01-40]:/`, `@group:/`, `web*,!web13:/`): see
    /// `Scout::expand_targets`. [`fold`](crate::fold::fold) groups the items by answer.
    ///
    /// ```no_run
    /// // no_run: needs reachable hosts "web1" and "web2".
    /// # let scout = scout_mcp::Scout::from_env()?;
    /// let targets = ["web1:/", "web2:/"].map(String::from);
    /// for item in scout.broadcast(&targets, Some("df -h ."), &scout_mcp::Control::new())? {
    ///     match &item.result {
    ///         Ok(scout_mcp::Outcome::Command(out)) => println!("{}: {}", item.target, out.stdout_lossy()),
    ///         Ok(other) => println!("{}: {other:?}", item.target),
    ///         Err(e) => println!("{}: {e}", item.target),
    ///     }
    /// }
    /// # Ok::<(), scout_mcp::Error>(())
    /// ```
    pub fn broadcast(
        &self,
        targets: &[String],
        query: Option<&str>,
        control: &Control,
    ) -> Result<Vec<BroadcastItem>> {
        let options = BroadcastOptions::default();
        self.broadcast_with(targets, query, &options, control, &mut |_, _| {})
    }

    /// [`Scout::broadcast`] with options, handing each item to `on_item` (with its position)
    /// as soon as it is done, on the calling thread.
    pub fn broadcast_with(
        &self,
        targets: &[String],
        query: Option<&str>,
        options: &BroadcastOptions,
        control: &Control,
        on_item: &mut dyn FnMut(usize, &BroadcastItem),
    ) -> Result<Vec<BroadcastItem>> {
        let targets = self.expand_targets(targets)?;
        let command = query.map(|q| self.vet_command(q)).transpose()?;
        let share = Share::of(self.settings(), targets.len());
        let parsed: Vec<ParsedTarget> = targets
            .into_iter()
            .map(|t| {
                let parsed = self.broadcast_target(&t);
                (t, parsed)
            })
            .collect();
        // Every host's connection starts now, all at once (within the connect gate), rather
        // than as each target's turn comes.
        let mut hosts: Vec<&Arc<HostEntry>> = parsed
            .iter()
            .filter_map(|(_, p)| p.as_ref().ok())
            .map(|(h, _)| h)
            .collect();
        hosts.sort_by(|a, b| a.alias.cmp(&b.alias));
        hosts.dedup_by(|a, b| a.alias == b.alias);
        for host in hosts {
            self.pools().prepare(host);
        }
        match command {
            Some(command) => {
                let timeout = options.timeout.unwrap_or(self.settings().command_timeout);
                self.run_everywhere(&parsed, &command, timeout, share, control, on_item)
            }
            None => self.read_everywhere(&parsed, share, control, on_item),
        }
    }

    /// The targets of a broadcast with their host patterns expanded: a target whose host part
    /// is a pattern (`web*`, `db?`, `web[01-40,42]`, `@group`, lists with `!` exclusions; see
    /// [`Inventory::select`]) becomes one `alias:path` target per host it names, in natural
    /// order; other targets stay as given (an unknown alias fails that target only). A pattern
    /// that names no host is an error naming the known hosts and groups; so is a total over
    /// [`MAX_TARGETS`], or more than [`MAX_PATTERNS`] distinct patterns.
    pub(crate) fn expand_targets(&self, targets: &[String]) -> Result<Vec<String>> {
        if targets.is_empty() {
            return Err(Error::invalid_argument(
                "'targets' is empty: give one or more \"host:/path\" strings",
            ));
        }
        if targets.len() > MAX_TARGETS {
            return Err(Error::invalid_argument(format!(
                "{} targets given; at most {MAX_TARGETS} per broadcast",
                targets.len()
            )));
        }
        let mut out: Vec<String> = Vec::with_capacity(targets.len());
        let mut patterns: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for target in targets {
            // A target that does not parse fails on its own, as does an unknown alias.
            let Ok(Target::Path(at)) = Target::parse(target) else {
                out.push(target.clone());
                continue;
            };
            let (host, path) = (at.host(), at.path());
            if !is_pattern(host) || self.inner.inventory.get(host).is_ok() {
                out.push(target.clone());
                continue;
            }
            if !patterns.contains_key(host) {
                if patterns.len() >= MAX_PATTERNS {
                    return Err(Error::invalid_argument(format!(
                        "more than {MAX_PATTERNS} different host patterns in one broadcast; \
                         combine them into one list (e.g. \"web*,db*:/path\")"
                    )));
                }
                let selected = self.select(host)?;
                patterns.insert(host.to_string(), selected);
            }
            let hosts = patterns.get(host).map(Vec::as_slice).unwrap_or_default();
            if out.len() + hosts.len() > MAX_TARGETS {
                return Err(Error::invalid_argument(format!(
                    "the targets name more than {MAX_TARGETS} hosts ('{}' alone names {}); at \
                     most {MAX_TARGETS} per broadcast: narrow the patterns",
                    shorten(host, 200),
                    hosts.len()
                )));
            }
            out.extend(hosts.iter().map(|alias| format!("{alias}:{path}")));
        }
        Ok(out)
    }

    fn broadcast_target(&self, target: &str) -> Result<(Arc<HostEntry>, String)> {
        match Target::parse(target)? {
            Target::Hosts => Err(Error::invalid_argument(
                "'hosts' cannot be a broadcast target; use \"host:/path\"",
            )),
            Target::Path(at) => Ok((self.host_of(&at)?, at.path().to_string())),
        }
    }

    /// Reads every target on the fan-out threads (`SCOUT_MAX_CONCURRENCY` at once): each read
    /// is a few quick SFTP round trips.
    fn read_everywhere(
        &self,
        targets: &[ParsedTarget],
        share: Share,
        control: &Control,
        on_item: &mut dyn FnMut(usize, &BroadcastItem),
    ) -> Result<Vec<BroadcastItem>> {
        let total = targets.len();
        let mut results: Vec<Option<BroadcastItem>> = vec![None; total];
        let mut finish =
            |results: &mut Vec<Option<BroadcastItem>>, i: usize, r: Result<Outcome>| {
                let item = BroadcastItem {
                    target: targets[i].0.clone(),
                    result: r,
                };
                on_item(i, &item);
                results[i] = Some(item);
            };
        let (tx, rx) = unbounded::<(usize, Result<Outcome>)>();
        for (i, (_, target)) in targets.iter().enumerate() {
            let (host, path) = match target {
                Ok(t) => t.clone(),
                Err(e) => {
                    finish(&mut results, i, Err(e.clone()));
                    continue;
                }
            };
            let (scout, tx, part) = (self.clone(), tx.clone(), control.part());
            self.inner.fanout.spawn(move || {
                let result = scout
                    .pools()
                    .with_conn(&host, true, |conn| {
                        let sftp = Sftp::new(conn, SftpChannel::Shared, &part);
                        fs::view(&sftp, &path, share.file, share.entries, &part)
                    })
                    .map(Outcome::View);
                // Let go of the Scout before the result goes: once the caller has every
                // result, no task holds a clone, so the caller's drop is the last one (and
                // joins the reaper) rather than a task's, a moment later on this thread.
                drop(scout);
                let _ = tx.send((i, result));
            })?;
        }
        drop(tx);
        let mut done = results.iter().filter(|r| r.is_some()).count();
        while done < total {
            if control.is_cancelled() {
                return Err(Error::cancelled());
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((i, result)) => {
                    finish(&mut results, i, result);
                    done += 1;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            control.report(done as u64, Some(total as u64), || {
                format!("{done}/{total} hosts done")
            });
        }
        Ok(finish_items(targets, results))
    }

    /// Runs the command on every target at once, without a thread per target: each target is
    /// a small state machine (a channel, the directory check, the command) whose steps are
    /// answers from the connection threads, polled here.
    fn run_everywhere(
        &self,
        targets: &[ParsedTarget],
        command: &str,
        timeout: Duration,
        share: Share,
        control: &Control,
        on_item: &mut dyn FnMut(usize, &BroadcastItem),
    ) -> Result<Vec<BroadcastItem>> {
        // No SFTP unless the shell could not enter the directory: a command-only broadcast
        // does not start an SFTP server on every host (see `run::query`).
        enum Step {
            /// Waiting for a channel; when a lane was last asked for.
            Lane(Option<Instant>),
            Exec(Lane, Pending<ExecOutput>),
            Explain(Lane, Pending<Reply>),
            Done,
        }
        let limits = ExecLimits {
            max_output: share.output,
            timeout,
            ..self.query_limits()
        };
        let total = targets.len();
        let mut results: Vec<Option<BroadcastItem>> = vec![None; total];
        let mut finish =
            |results: &mut Vec<Option<BroadcastItem>>, i: usize, r: Result<Outcome>| {
                let item = BroadcastItem {
                    target: targets[i].0.clone(),
                    result: r,
                };
                on_item(i, &item);
                results[i] = Some(item);
            };
        let mut steps: Vec<(Step, u32)> = Vec::with_capacity(total);
        for (i, (_, target)) in targets.iter().enumerate() {
            match target {
                Ok(_) => steps.push((Step::Lane(None), 0)),
                Err(e) => {
                    finish(&mut results, i, Err(e.clone()));
                    steps.push((Step::Done, 0));
                }
            }
        }
        let part = control.part();
        let (started, lane_wait) = (Instant::now(), self.pools().limits().checkout_wait);
        // A target waiting for a channel asks the pool for one this often (see `try_lane`).
        const ASK_AGAIN: Duration = Duration::from_millis(100);
        let mut done = results.iter().filter(|r| r.is_some()).count();
        while done < total {
            if control.is_cancelled() {
                // Dropping the steps lets go of the lanes; the connection threads stop the
                // commands (they watch the same cancel flag).
                return Err(Error::cancelled());
            }
            let mut moved = false;
            for (i, (step, attempts)) in steps.iter_mut().enumerate() {
                let Ok((host, path)) = &targets[i].1 else {
                    continue;
                };
                let outcome: Option<Result<Outcome>>;
                (*step, outcome) = match std::mem::replace(step, Step::Done) {
                    Step::Lane(asked) => match self
                        .pools()
                        .try_lane(host, asked.is_none_or(|t| t.elapsed() >= ASK_AGAIN))
                    {
                        Ok(Some(lane)) => {
                            let full = run::in_dir(path, command);
                            let exec = lane.exec_async(full, limits.clone(), part.clone());
                            (Step::Exec(lane, exec), None)
                        }
                        Ok(None) if started.elapsed() >= lane_wait => (
                            Step::Done,
                            Some(Err(Error::timeout(
                                host.alias.clone(),
                                "waiting for a free channel or connection (the host's \
                                       channels, or SCOUT_MAX_POOL_SIZE, are in use)",
                                lane_wait,
                            ))),
                        ),
                        Ok(None) => (
                            Step::Lane(match asked {
                                Some(t) if t.elapsed() < ASK_AGAIN => Some(t),
                                _ => Some(Instant::now()),
                            }),
                            None,
                        ),
                        Err(e) => (Step::Done, Some(Err(e))),
                    },
                    Step::Exec(lane, exec) => match exec.try_take() {
                        None => (Step::Exec(lane, exec), None),
                        Some(Ok(out)) if run::could_not_enter(&out) => {
                            let sftp = Sftp::new(&lane, SftpChannel::Shared, &part);
                            let stat = sftp.send(Request::stat(&remote_path::sftp_path(path)));
                            (Step::Explain(lane, stat), None)
                        }
                        Some(Ok(out)) => (Step::Done, Some(Ok(Outcome::Command(out)))),
                        Some(Err(f)) if f.retry && *attempts == 0 => {
                            *attempts += 1;
                            (Step::Lane(None), None)
                        }
                        Some(Err(f)) => (Step::Done, Some(Err(f.error))),
                    },
                    Step::Explain(lane, stat) => match stat.try_take() {
                        None => (Step::Explain(lane, stat), None),
                        Some(answer) => {
                            let sftp = Sftp::new(&lane, SftpChannel::Shared, &part);
                            let why = match answer.and_then(|r| match r.attrs() {
                                Ok(Ok(a)) => Ok(a),
                                Ok(Err(s)) => Err(sftp.refused(&format!("stat '{path}'"), &s)),
                                Err(g) => Err(Failure::from(Error::session(
                                    host.alias.clone(),
                                    g.to_string(),
                                ))),
                            }) {
                                Ok(a) => run::cd_error(path, a.is_dir()),
                                Err(f) => f.error,
                            };
                            (Step::Done, Some(Err(why)))
                        }
                    },
                    Step::Done => (Step::Done, None),
                };
                if let Some(result) = outcome {
                    finish(&mut results, i, result);
                    done += 1;
                    moved = true;
                }
            }
            control.report(done as u64, Some(total as u64), || {
                format!("{done}/{total} hosts done")
            });
            if !moved {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(finish_items(targets, results))
    }

    /// A per-host service resource (docker, compose, zfs, syslog): one fixed command, its
    /// output rendered as text. A host without the tool answers with a sentence saying so.
    pub(crate) fn service(
        &self,
        host: &str,
        service: &Service,
        control: &Control,
    ) -> Result<String> {
        let entry = self.host(host)?;
        let limits = self.service_limits();
        let command = service.command();
        let out = self.pools().with_lane(&entry, control, |lane| {
            lane.exec(&command, &limits, control)
        })?;
        if out.cancelled {
            return Err(Error::cancelled());
        }
        if out.timed_out {
            return Err(Error::timeout(
                host.to_string(),
                format!("reading {host}://{}", service.uri()),
                limits.timeout,
            ));
        }
        service
            .render(host, &out.stdout, &out.stderr, out.exit_code)
            .map_err(|message| {
                Error::remote(host.to_string(), crate::error::ErrorKind::Remote, message)
            })
    }

    /// Completions for a partly typed remote path: the entries of its directory whose names
    /// start with what follows the last `/` (directories end in `/`), sorted, at most `max`.
    pub(crate) fn complete_path(
        &self,
        host: &str,
        partial: &str,
        max: usize,
    ) -> Result<Vec<String>> {
        let (dir, prefix) = match partial.rfind('/') {
            Some(i) => (&partial[..=i], &partial[i + 1..]),
            None => ("", partial),
        };
        let list_dir = if dir.is_empty() { "." } else { dir };
        let listing = self.list(&RemotePath::new(host, list_dir)?, &Control::new())?;
        Ok(listing
            .entries
            .iter()
            .filter(|e| e.name.starts_with(prefix) && e.name != "." && e.name != "..")
            .take(max)
            .map(|e| {
                let slash = if e.kind == crate::ops::fs::EntryKind::Directory {
                    "/"
                } else {
                    ""
                };
                format!("{dir}{}{slash}", e.name)
            })
            .collect())
    }

    /// Sessions open across all hosts.
    pub fn live_sessions(&self) -> usize {
        self.pools().live_sessions()
    }

    /// The pool of one host (`None` before its first use).
    pub fn pool_state(&self, alias: &str) -> Option<HostPoolState> {
        self.pools().host_state(alias)
    }

    /// Ends every background job (their remote commands are stopped) and closes every
    /// connection now (those in use once their calls return; this waits a second at most).
    /// Calls after this reconnect as needed. Dropping the last clone closes the connections
    /// too (a running job holds a clone until it ends).
    pub fn close(&self) {
        self.inner.jobs.cancel_all(CLOSE_WAIT);
        self.pools().shutdown(CLOSE_WAIT);
        self.inner.connections.jumps.close();
    }

    /// The session pools: for programs that need a raw session (`Pools::checkout`) and for
    /// the pool benchmarks.
    pub(crate) fn pools(&self) -> &Pools {
        &self.inner.connections.pools
    }

    /// Limits for scout's own commands run for the agent (`find`, `tree`): the remote limits
    /// apply.
    fn exec_limits(&self) -> ExecLimits {
        ExecLimits {
            timeout: self.settings().command_timeout,
            max_output: self.settings().max_output_size,
            remote: self.settings().remote_limits,
        }
    }

    /// Limits for an agent's `query`: the remote limits apply unless the shell policy (a
    /// trusted agent) is configured.
    fn query_limits(&self) -> ExecLimits {
        let mut limits = self.exec_limits();
        if self.settings().command_policy.mode == PolicyMode::Shell {
            limits.remote = RemoteLimits::NONE;
        }
        limits
    }

    /// Limits for scout's fixed commands (service resources): no remote limits.
    fn service_limits(&self) -> ExecLimits {
        ExecLimits {
            remote: RemoteLimits::NONE,
            ..self.exec_limits()
        }
    }

    fn check_writable(&self, what: &str) -> Result<()> {
        if self.settings().read_only {
            return Err(Error::policy(format!(
                "{what} is refused: SCOUT_READ_ONLY=true, so nothing is written anywhere. Reads, \
                 listings and allowlisted commands still work"
            )));
        }
        Ok(())
    }

    /// Applies the command policy (and read-only mode) to a query.
    fn vet_command(&self, query: &str) -> Result<String> {
        let policy = &self.settings().command_policy;
        if self.settings().read_only && policy.mode == PolicyMode::Shell {
            return Err(Error::policy(
                "query is refused: SCOUT_READ_ONLY=true forbids the shell command policy. Use \
                 SCOUT_COMMAND_POLICY=allowlist or turn read-only mode off",
            ));
        }
        policy.build(query).map_err(|r| Error::policy(r.0))
    }

    /// The ssh_config entry of `at`'s host (an error of kind `UnknownHost` when there is none).
    fn host_of(&self, at: &RemotePath) -> Result<Arc<HostEntry>> {
        self.inner.inventory.get(at.host())
    }
}

/// Whether a local path is an existing regular file, resolved like a transfer would resolve it
/// (the `beam` fallback rule: an existing local file means upload).
pub fn local_is_file(local: &str, scope: &crate::settings::BeamScope) -> bool {
    LocalPath::resolve(local, scope).is_ok_and(|p| p.is_file())
}

/// The hosts of the ssh_config the settings name, filtered by their allow and block lists,
/// with their groups. A missing file is an empty inventory.
fn inventory(settings: &Settings) -> Result<Inventory> {
    let ctx = ParseContext {
        home: settings.home.clone(),
        local_user: settings.local_user.clone(),
    };
    let config = SshConfig::load(&settings.ssh_config, &ctx).map_err(|e| {
        Error::config(format!(
            "cannot use ssh_config: {e}. Fix the file or point SCOUT_SSH_CONFIG elsewhere"
        ))
    })?;
    Inventory::from_config(&config, &settings.allowlist, &settings.blocklist)
        .with_groups(&settings.host_groups)
}

/// The items of a broadcast, every target with a result.
fn finish_items<T>(
    targets: &[(String, T)],
    results: Vec<Option<BroadcastItem>>,
) -> Vec<BroadcastItem> {
    results
        .into_iter()
        .zip(targets)
        .map(|(r, (target, _))| {
            r.unwrap_or_else(|| BroadcastItem {
                target: target.clone(),
                result: Err(Error::io("internal error: this target never finished")),
            })
        })
        .collect()
}

/// Cuts a text for an error message.
fn shorten(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A broadcast target as given, and its host and path (or why it cannot run).
type ParsedTarget = (String, Result<(Arc<HostEntry>, String)>);

/// How a broadcast runs ([`Scout::broadcast_with`]).
#[derive(Debug, Clone, Default)]
pub struct BroadcastOptions {
    /// How long each command may run (default `SCOUT_COMMAND_TIMEOUT`).
    pub timeout: Option<Duration>,
}

/// What one target of a broadcast may keep: its share of [`BROADCAST_OUTPUT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Bytes of a file.
    pub file: u64,
    /// Bytes of stdout, and of stderr.
    pub output: usize,
    /// Entries of a directory listing (about 64 bytes each once formatted).
    pub entries: usize,
}

impl Share {
    /// The share of each of `targets` targets.
    pub fn of(settings: &Settings, targets: usize) -> Share {
        let each = (BROADCAST_OUTPUT / targets.max(1)).max(MIN_TARGET_OUTPUT);
        Share {
            file: settings.max_file_size.min(each as u64),
            output: settings.max_output_size.min(each / 2),
            entries: MAX_ENTRIES.min(each / 64).max(10),
        }
    }
}

/// `depth` must be 1–10 (docs/BEHAVIOUR.md §3.4, §3.6).
pub fn check_depth(depth: u32) -> Result<()> {
    if (1..=10).contains(&depth) {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "depth must be from 1 to 10 (got {depth})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scout_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Scout>();
    }

    /// A `Scout` over a one-host ssh_config in a fresh temporary directory (no sshd needed:
    /// nothing connects until an operation runs).
    fn offline_scout(reaper_period_ms: u64) -> (Scout, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "scout-unit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("ssh_config");
        std::fs::write(&config, "Host alpha\n  HostName 127.0.0.1\n").unwrap();
        let settings = Settings::builder()
            .ssh_config(&config)
            // The reaper wakes every idle/2: keep it busy while the test drops the Scout.
            .idle_timeout(Duration::from_millis(2 * reaper_period_ms))
            .build()
            .unwrap();
        (Scout::new(settings).unwrap(), dir)
    }

    #[test]
    fn dropping_the_last_clone_stops_the_reaper_and_frees_the_pools() {
        let (scout, dir) = offline_scout(10);
        let pools = Arc::downgrade(&scout.inner.connections.pools);
        let clone = scout.clone();
        let from_thread = std::thread::spawn(move || clone.aliases()).join().unwrap();
        assert_eq!(from_thread, vec!["alpha"]);
        assert!(pools.upgrade().is_some());
        std::thread::sleep(Duration::from_millis(30)); // let the reaper run a few passes
        drop(scout);
        // The reaper thread holds the other reference to the pools: it is gone only when the
        // thread has ended (Reaper's Drop joins it).
        assert!(
            pools.upgrade().is_none(),
            "the pools outlived the last Scout: the reaper thread is still running"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_broadcast_shares_one_output_budget() {
        let s = Settings::defaults();
        let one = Share::of(&s, 1);
        assert_eq!(
            (one.file, one.output, one.entries),
            (1 << 20, 1 << 20, MAX_ENTRIES)
        );
        let many = Share::of(&s, MAX_TARGETS);
        assert!(many.file as usize * MAX_TARGETS <= BROADCAST_OUTPUT + MAX_TARGETS);
        assert!(many.output * 2 * MAX_TARGETS <= BROADCAST_OUTPUT + MAX_TARGETS);
        assert!(many.file as usize >= MIN_TARGET_OUTPUT.min(BROADCAST_OUTPUT / MAX_TARGETS));
    }

    #[test]
    fn depth_must_be_one_to_ten() {
        assert!(check_depth(1).is_ok() && check_depth(10).is_ok());
        assert!(check_depth(0).is_err() && check_depth(11).is_err());
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_check_depth() {
        assert!(crate::scout::check_depth(10).is_ok());
        assert!(crate::scout::check_depth(0).is_err());
    }
}
