//! [`Scout`]: the blocking library API. The MCP server is one user of it; any Rust program
//! without an async runtime is another.

use std::sync::Arc;
use std::time::Duration;

use crate::control::Control;
use crate::error::{Error, Result};
use crate::ops::command::PolicyMode;
use crate::ops::fs::{self, FileContent, Listing, View};
use crate::ops::hosts::{HostEntry, HostStatus, Inventory, Reachability};
use crate::ops::run::{self, Tree};
use crate::settings::Settings;
use crate::ssh::exec::{ExecLimits, ExecOutput};
use crate::ssh::pool::{HostPoolState, PoolLimits, Pools};
use crate::ssh::reaper::Reaper;
use crate::ssh::session::ConnectOptions;

/// Entries shown by a listing or a tree before the "more entries" marker.
pub const MAX_ENTRIES: usize = 1000;
/// How long a host's reachability result is reused.
const REACHABILITY_TTL: Duration = Duration::from_secs(5);

/// A fleet of SSH hosts with pooled sessions. `Send + Sync`: share it (e.g. in an `Arc`) across
/// threads; they share its sessions. Dropping it closes every idle session.
pub struct Scout {
    settings: Settings,
    inventory: Inventory,
    pools: Arc<Pools>,
    reachability: Reachability,
    _reaper: Reaper,
}

impl Scout {
    /// A `Scout` configured from the environment (`SCOUT_*` variables, `~/.ssh/config`).
    pub fn from_env() -> Result<Scout> {
        Scout::new(Settings::from_env()?)
    }

    /// A `Scout` with explicit settings. Reads the ssh_config; connects to nothing yet.
    pub fn new(settings: Settings) -> Result<Scout> {
        let inventory = Inventory::load(&settings)?;
        for warning in inventory.warnings() {
            log::warn!("ssh_config: {warning}");
        }
        let limits = PoolLimits {
            max_total: settings.max_pool_size,
            per_host: settings.max_sessions_per_host,
            idle_timeout: settings.idle_timeout,
            keepalive_interval: settings.keepalive_interval,
            checkout_wait: settings.command_timeout + settings.connect_timeout,
        };
        let opts = ConnectOptions {
            connect_timeout: settings.connect_timeout,
            keepalive_interval: settings.keepalive_interval,
            known_hosts: settings.known_hosts.clone(),
            strict: settings.strict_host_key_checking,
            home: settings.home.clone(),
        };
        let pools = Arc::new(Pools::new(limits, opts));
        let reaper = Reaper::start(pools.clone())
            .map_err(|e| Error::Io(format!("cannot start the reaper thread: {e}")))?;
        Ok(Scout {
            settings,
            inventory,
            pools,
            reachability: Reachability::new(REACHABILITY_TTL),
            _reaper: reaper,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Configured host aliases, sorted.
    pub fn aliases(&self) -> Vec<String> {
        self.inventory.aliases()
    }

    /// The resolved configuration of one host.
    pub fn host(&self, alias: &str) -> Result<Arc<HostEntry>> {
        self.inventory.get(alias)
    }

    /// Every host with its reachability (TCP connect, in parallel, cached for a few seconds).
    pub fn hosts(&self) -> Vec<HostStatus> {
        let entries: Vec<Arc<HostEntry>> = self.inventory.entries().cloned().collect();
        let timeout = self.settings.connect_timeout.min(Duration::from_secs(2));
        self.reachability
            .check(&entries, timeout, self.settings.max_concurrency)
    }

    /// Reads a file, or lists a directory, at `path` on `host` (symlinks followed).
    pub fn view(&self, host: &str, path: &str) -> Result<View> {
        let host = self.target_host(host, path)?;
        let max = self.settings.max_file_size;
        self.pools
            .with_session(&host, |conn| fs::view(conn, path, max, MAX_ENTRIES))
    }

    /// Reads a file (up to `SCOUT_MAX_FILE_SIZE`, cut on a UTF-8 boundary).
    pub fn read(&self, host: &str, path: &str) -> Result<FileContent> {
        let host = self.target_host(host, path)?;
        let max = self.settings.max_file_size;
        self.pools
            .with_session(&host, |conn| fs::read_file(conn, path, max))
    }

    /// Lists a directory (at most [`MAX_ENTRIES`] entries, sorted by name).
    pub fn list(&self, host: &str, path: &str) -> Result<Listing> {
        let host = self.target_host(host, path)?;
        self.pools
            .with_session(&host, |conn| fs::list_dir(conn, path, MAX_ENTRIES))
    }

    /// A directory tree to `depth` levels (1–10).
    pub fn tree(&self, host: &str, path: &str, depth: u32, cancel: &Control) -> Result<Tree> {
        check_depth(depth)?;
        let host = self.target_host(host, path)?;
        let limits = self.exec_limits();
        self.pools.with_session(&host, |conn| {
            run::tree(conn, path, depth, MAX_ENTRIES, &limits, cancel)
        })
    }

    /// Runs `query` in directory `dir` under the command policy. A non-zero exit is a result,
    /// not an error; a timeout returns the partial output with `timed_out` set.
    pub fn run(&self, host: &str, dir: &str, query: &str, cancel: &Control) -> Result<ExecOutput> {
        let command = self.vet_command(query)?;
        let host = self.target_host(host, dir)?;
        let limits = self.exec_limits();
        self.pools.with_session(&host, |conn| {
            run::query(conn, dir, &command, &limits, cancel)
        })
    }

    /// Sessions open across all hosts.
    pub fn live_sessions(&self) -> usize {
        self.pools.live_sessions()
    }

    /// The pool of one host (`None` before its first use).
    pub fn pool_state(&self, alias: &str) -> Option<HostPoolState> {
        self.pools.host_state(alias)
    }

    fn exec_limits(&self) -> ExecLimits {
        ExecLimits {
            timeout: self.settings.command_timeout,
            max_output: self.settings.max_output_size,
        }
    }

    /// Applies the command policy (and read-only mode) to a query.
    fn vet_command(&self, query: &str) -> Result<String> {
        let policy = &self.settings.command_policy;
        if self.settings.read_only && policy.mode == PolicyMode::Shell {
            return Err(Error::Policy(
                "query is refused: SCOUT_READ_ONLY=true forbids the shell command policy. Use \
                 SCOUT_COMMAND_POLICY=allowlist or turn read-only mode off"
                    .into(),
            ));
        }
        policy.build(query).map_err(|r| Error::Policy(r.0))
    }

    fn target_host(&self, alias: &str, path: &str) -> Result<Arc<HostEntry>> {
        crate::ops::remote_path::validate(path)
            .map_err(|e| Error::InvalidArgument(format!("invalid path: {e}")))?;
        self.inventory.get(alias)
    }
}

impl Scout {
    /// Closes every idle session now (sessions in use close when their call returns). Calls
    /// after this reconnect as needed. Dropping the `Scout` does the same.
    pub fn close(&self) {
        self.pools.shutdown();
    }
}

impl Drop for Scout {
    fn drop(&mut self) {
        self.pools.shutdown();
    }
}

/// `depth` must be 1–10 (SPEC §3.6).
pub fn check_depth(depth: u32) -> Result<()> {
    if (1..=10).contains(&depth) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "depth must be from 1 to 10 (got {depth})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scout_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Scout>();
    }

    #[test]
    fn depth_must_be_one_to_ten() {
        assert!(check_depth(1).is_ok() && check_depth(10).is_ok());
        assert!(check_depth(0).is_err() && check_depth(11).is_err());
    }
}
