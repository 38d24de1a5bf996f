//! Runtime settings: limits, timings, policies and paths.
//!
//! Every setting has an environment variable and a command-line flag with the same meaning; the
//! table [`VARS`] is the single source for both (and for `--help`). Values are validated once at
//! startup: a bad value is a configuration error naming the variable, never a surprise later.
//!
//! A program that embeds the library does not need the environment: [`Settings::builder`]
//! starts from the documented defaults and [`SettingsBuilder::build`] applies the same bounds.
//!
//! ```
//! use std::time::Duration;
//! use scout_mcp::{PolicyMode, Settings, StrictHostKeyChecking};
//!
//! let settings = Settings::builder()
//!     .ssh_config("/etc/scout/ssh_config")
//!     .known_hosts("/etc/scout/known_hosts")
//!     .strict_host_key_checking(StrictHostKeyChecking::Yes)
//!     .allowlist(["web*", "db1"])
//!     .command_policy(PolicyMode::Allowlist)
//!     .allowed_commands(["uptime"])
//!     .read_only(true)
//!     .command_timeout(Duration::from_secs(10))
//!     .max_sessions_per_host(2)
//!     .build()?;
//! assert_eq!(settings.max_sessions_per_host(), 2);
//! assert!(settings.read_only());
//! // Whatever was not set keeps its documented default.
//! assert_eq!(settings.max_file_size(), 1024 * 1024);
//! # Ok::<(), scout_mcp::Error>(())
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ops::command::{CommandPolicy, PolicyMode};
use crate::ops::hosts::{parse_groups, GroupDef};
pub use crate::ops::local_files::BeamScope;
pub use crate::ssh::exec::RemoteLimits;

/// One setting: its environment variable, its flag, an optional legacy variable, a default.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    /// The environment variable, e.g. `SCOUT_COMMAND_TIMEOUT`.
    pub env: &'static str,
    /// The command-line flag of the same meaning, e.g. `--command-timeout`.
    pub flag: &'static str,
    /// The variable read when `env` is unset (the Python server's `MCP_CAT_*` names).
    pub legacy: Option<&'static str>,
    /// The default as text, as `--help` shows it (empty: no value).
    pub default: &'static str,
    /// One line for `--help` and the README table.
    pub help: &'static str,
}

/// Upper bound of every duration setting: one day. A longer timeout is a typo, not a wish.
const MAX_SECONDS: f64 = 86_400.0;
/// Upper bound of `SCOUT_MAX_POOL_SIZE`.
const MAX_POOL_SIZE: u64 = 100_000;
/// Upper bound of the per-host session cap, the workers and the broadcast concurrency: each is
/// a thread or a socket, and more than this on one machine is a mistake.
const MAX_THREADS: u64 = 1024;

const fn var(
    env: &'static str,
    flag: &'static str,
    default: &'static str,
    help: &'static str,
) -> Var {
    Var {
        env,
        flag,
        legacy: None,
        default,
        help,
    }
}

/// Every setting scout-mcp reads. Order is the order of `--help` and of the README table.
pub const VARS: &[Var] = &[
    var(
        "SCOUT_SSH_CONFIG",
        "--ssh-config",
        "~/.ssh/config",
        "OpenSSH client config listing the hosts",
    ),
    var(
        "SCOUT_KNOWN_HOSTS",
        "--known-hosts",
        "",
        "known_hosts file (default: the host's UserKnownHostsFile, else ~/.ssh/known_hosts)",
    ),
    var(
        "SCOUT_STRICT_HOST_KEY_CHECKING",
        "--strict-host-key-checking",
        "yes",
        "yes, accept-new or no (a changed key is always refused)",
    ),
    var(
        "SCOUT_ALLOWLIST",
        "--allowlist",
        "",
        "comma-separated glob patterns, `!` excludes (web*,!web13): only these aliases are hosts",
    ),
    var(
        "SCOUT_BLOCKLIST",
        "--blocklist",
        "",
        "comma-separated glob patterns, `!` excludes: these aliases are hidden",
    ),
    var(
        "SCOUT_HOST_GROUPS",
        "--host-groups",
        "",
        "named host groups for targets (@name): `web=web*,!web13; db=db[1-3]`, or the path (/… or ~/…) of a file with one `name = patterns` per line",
    ),
    var(
        "SCOUT_COMMAND_POLICY",
        "--command-policy",
        "allowlist",
        "allowlist, shell or off: what `query` may run",
    ),
    var(
        "SCOUT_ALLOWED_COMMANDS",
        "--allowed-commands",
        "",
        "extra commands for the allowlist policy (separated by commas and/or blanks)",
    ),
    var(
        "SCOUT_READ_ONLY",
        "--read-only",
        "false",
        "nothing is written anywhere: refuse uploads, downloads, copies and shell-policy commands",
    ),
    var(
        "SCOUT_BEAM_DIR",
        "--beam-dir",
        "~/.local/share/scout-mcp/beam",
        "the only local directory beam reads and writes (created on first use when unset); `unrestricted` allows every local path",
    ),
    Var {
        legacy: Some("MCP_CAT_MAX_FILE_SIZE"),
        ..var(
            "SCOUT_MAX_FILE_SIZE",
            "--max-file-size",
            "1048576",
            "bytes of a file shown before truncation",
        )
    },
    var(
        "SCOUT_MAX_OUTPUT_SIZE",
        "--max-output-size",
        "1048576",
        "bytes of command output kept (stdout and stderr each)",
    ),
    Var {
        legacy: Some("MCP_CAT_COMMAND_TIMEOUT"),
        ..var(
            "SCOUT_COMMAND_TIMEOUT",
            "--command-timeout",
            "30",
            "seconds a command may run",
        )
    },
    var(
        "SCOUT_JOB_TIMEOUT",
        "--job-timeout",
        "600",
        "seconds a command may run in a background job (`background: true`)",
    ),
    var(
        "SCOUT_CONNECT_TIMEOUT",
        "--connect-timeout",
        "10",
        "seconds for TCP connect + SSH handshake + auth",
    ),
    Var {
        legacy: Some("MCP_CAT_IDLE_TIMEOUT"),
        ..var(
            "SCOUT_IDLE_TIMEOUT",
            "--idle-timeout",
            "300",
            "seconds a host's last idle connection is kept (its other connections: a tenth of it)",
        )
    },
    var(
        "SCOUT_KEEPALIVE_INTERVAL",
        "--keepalive-interval",
        "15",
        "seconds between keepalives on idle sessions",
    ),
    var(
        "SCOUT_MAX_POOL_SIZE",
        "--max-pool-size",
        "2048",
        "SSH connections in total across hosts (lowered to what the open-file limit allows)",
    ),
    var(
        "SCOUT_MAX_SESSIONS_PER_HOST",
        "--max-sessions-per-host",
        "6",
        "SSH connections per host (each carries up to the server's MaxSessions channels)",
    ),
    var(
        "SCOUT_WORKERS",
        "--workers",
        "256",
        "requests served at once (worker threads, started when needed)",
    ),
    var(
        "SCOUT_MAX_CONCURRENCY",
        "--max-concurrency",
        "16",
        "targets handled at once in a broadcast",
    ),
    var(
        "SCOUT_REMOTE_MAX_MEMORY",
        "--remote-max-memory",
        "256M",
        "heap per process of an agent's allowlisted command on the host (ulimit -d; 0 = no limit)",
    ),
    var(
        "SCOUT_REMOTE_MAX_CPU",
        "--remote-max-cpu",
        "30",
        "CPU seconds per process of an agent's allowlisted command on the host (ulimit -t; 0 = no limit)",
    ),
    var(
        "SCOUT_REMOTE_MAX_FILE_SIZE",
        "--remote-max-file-size",
        "1G",
        "largest file an agent's allowlisted command may write on the host (ulimit -f; 0 = no limit)",
    ),
    var(
        "SCOUT_LOG_LEVEL",
        "--log-level",
        "warn",
        "error, warn, info, debug or trace (logs go to stderr)",
    ),
    // The HTTP transport (src/mcp/http): read by `serve` only, validated there.
    var(
        "SCOUT_TRANSPORT",
        "--transport",
        "stdio",
        "stdio (one client that starts the server) or http (streamable HTTP for shared and remote clients)",
    ),
    var(
        "SCOUT_HTTP_HOST",
        "--http-host",
        "127.0.0.1",
        "address the HTTP transport listens on; anything but loopback needs SCOUT_API_KEYS",
    ),
    var(
        "SCOUT_HTTP_PORT",
        "--http-port",
        "8000",
        "TCP port of the HTTP transport (0: any free port; the address is printed on stderr)",
    ),
    var(
        "SCOUT_API_KEYS",
        "--api-keys",
        "",
        "comma-separated bearer keys for HTTP, each optionally restricted, e.g. `KEY:read-only:hosts=web*:commands=off` (docs/SECURITY.md); prefer the variable: flags show in `ps`",
    ),
    var(
        "SCOUT_RATE_LIMIT_PER_MINUTE",
        "--rate-limit-per-minute",
        "60",
        "MCP requests per minute per API key over HTTP (0 = no limit); over it: 429 with Retry-After",
    ),
    var(
        "SCOUT_RATE_LIMIT_BURST",
        "--rate-limit-burst",
        "10",
        "requests a key may send at once before its per-minute rate applies",
    ),
    var(
        "SCOUT_HTTP_ALLOWED_ORIGINS",
        "--http-allowed-origins",
        "",
        "comma-separated browser origins allowed besides loopback ones (e.g. https://app.example.com); other origins get 403",
    ),
    var(
        "SCOUT_HTTP_MAX_CONNECTIONS",
        "--http-max-connections",
        "128",
        "HTTP connections open at once (a thread each); more are answered 503 and closed",
    ),
    var(
        "SCOUT_HTTP_MAX_SESSIONS",
        "--http-max-sessions",
        "256",
        "MCP sessions (protocol 2025-11-25 and older) held at once, each API key at most its share (this divided by the number of keys); initialize beyond it gets 503",
    ),
    var(
        "SCOUT_HTTP_SESSION_TIMEOUT",
        "--http-session-timeout",
        "3600",
        "seconds an unused MCP session is kept",
    ),
    var(
        "SCOUT_HTTP_TIMEOUT",
        "--http-timeout",
        "30",
        "seconds a client has to send a whole request, an idle connection is kept, and a write may stall",
    ),
];

/// The value of one setting of [`VARS`] as `lookup` (the environment) and `overrides` (flags,
/// keyed by variable) give it, else its default; trimmed. For settings parsed outside
/// [`Settings`] (the HTTP transport's).
pub fn var_value(
    lookup: impl Fn(&str) -> Option<String>,
    overrides: &HashMap<String, String>,
    env: &str,
) -> String {
    Raw {
        lookup: &lookup,
        overrides,
    }
    .get(env)
}

pub use crate::ssh::config::StrictHostKeyChecking;

/// All runtime settings, validated.
///
/// Build them from the environment ([`Settings::from_env`]), from any lookup plus flag
/// overrides ([`Settings::from_lookup`]), or in code ([`Settings::builder`]); read them with
/// the methods of the same names. They change only through a builder
/// ([`Settings::into_builder`]), whose [`SettingsBuilder::build`] checks every bound: a
/// `Settings` is always a valid one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The OpenSSH client config listing the hosts (`SCOUT_SSH_CONFIG`, default
    /// `~/.ssh/config`).
    pub(crate) ssh_config: PathBuf,
    /// The known_hosts file (`SCOUT_KNOWN_HOSTS`); `None`: each host's `UserKnownHostsFile`,
    /// else `~/.ssh/known_hosts`.
    pub(crate) known_hosts: Option<PathBuf>,
    /// `None` when SCOUT_STRICT_HOST_KEY_CHECKING is unset: the host's ssh_config value decides,
    /// else `yes`.
    pub(crate) strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// Glob patterns on aliases: when not empty, only matching aliases are hosts
    /// (`SCOUT_ALLOWLIST`).
    pub(crate) allowlist: Vec<String>,
    /// Glob patterns on aliases that are hidden (`SCOUT_BLOCKLIST`).
    pub(crate) blocklist: Vec<String>,
    /// Named host groups, used as `@name` in targets (`SCOUT_HOST_GROUPS`).
    pub(crate) host_groups: Vec<GroupDef>,
    /// What `query` may run (`SCOUT_COMMAND_POLICY`, `SCOUT_ALLOWED_COMMANDS`).
    pub(crate) command_policy: CommandPolicy,
    /// Nothing is written anywhere: uploads, downloads, host-to-host copies and the shell
    /// policy are refused (`SCOUT_READ_ONLY`).
    pub(crate) read_only: bool,
    /// Where transfers may read and write local files (`SCOUT_BEAM_DIR`).
    pub(crate) beam: BeamScope,
    /// Bytes of a file read before it is cut (`SCOUT_MAX_FILE_SIZE`).
    pub(crate) max_file_size: u64,
    /// Bytes kept of a command's stdout, and of its stderr (`SCOUT_MAX_OUTPUT_SIZE`).
    pub(crate) max_output_size: usize,
    /// What an agent's command may take on the host (`SCOUT_REMOTE_MAX_MEMORY`,
    /// `SCOUT_REMOTE_MAX_CPU`, `SCOUT_REMOTE_MAX_FILE_SIZE`): set for allowlisted commands,
    /// `find` and `tree`; not for the shell policy, whose agent is trusted.
    pub(crate) remote_limits: RemoteLimits,
    /// How long a command may run before it is stopped (`SCOUT_COMMAND_TIMEOUT`).
    pub(crate) command_timeout: Duration,
    /// How long a command may run in a background job (`SCOUT_JOB_TIMEOUT`).
    pub(crate) job_timeout: Duration,
    /// TCP connect + SSH handshake + authentication (`SCOUT_CONNECT_TIMEOUT`).
    pub(crate) connect_timeout: Duration,
    /// How long a host's last idle connection is kept (`SCOUT_IDLE_TIMEOUT`); its other
    /// connections are closed after a tenth of it.
    pub(crate) idle_timeout: Duration,
    /// Time between keepalives on idle sessions (`SCOUT_KEEPALIVE_INTERVAL`).
    pub(crate) keepalive_interval: Duration,
    /// SSH connections open at once across all hosts (`SCOUT_MAX_POOL_SIZE`); `Scout` lowers
    /// it to what the process's open-file limit allows.
    pub(crate) max_pool_size: usize,
    /// SSH connections open at once to one host (`SCOUT_MAX_SESSIONS_PER_HOST`); each carries
    /// up to the server's `MaxSessions` channels (commands, transfers) at once.
    pub(crate) max_sessions_per_host: u32,
    /// Requests the MCP server serves at once (`SCOUT_WORKERS`; threads started when needed);
    /// the library itself does not use it.
    pub(crate) workers: usize,
    /// Hosts checked at once by [`Scout::hosts`](crate::Scout::hosts) and targets handled at
    /// once by a broadcast (`SCOUT_MAX_CONCURRENCY`).
    pub(crate) max_concurrency: usize,
    /// The binary's log level (`SCOUT_LOG_LEVEL`). The library never installs a logger: it
    /// logs through the `log` crate to whatever logger the program set up.
    pub(crate) log_level: String,
    /// The local home directory (for `~` in local paths and ssh_config).
    pub(crate) home: PathBuf,
    /// The local user name (default remote user, `%u`).
    pub(crate) local_user: String,
    /// What narrowed these settings below the operator's, in words for a refusal: over HTTP,
    /// the API key's policy (`read-only:commands=off`). `None` otherwise.
    pub(crate) narrowed_by: Option<String>,
}

/// Reading the settings (they change only through [`SettingsBuilder`], which checks them).
impl Settings {
    /// The OpenSSH client config listing the hosts (`SCOUT_SSH_CONFIG`, default
    /// `~/.ssh/config`).
    pub fn ssh_config(&self) -> &Path {
        &self.ssh_config
    }

    /// The known_hosts file (`SCOUT_KNOWN_HOSTS`); `None`: each host's `UserKnownHostsFile`,
    /// else `~/.ssh/known_hosts`.
    pub fn known_hosts(&self) -> Option<&Path> {
        self.known_hosts.as_deref()
    }

    /// `None` when SCOUT_STRICT_HOST_KEY_CHECKING is unset: the host's ssh_config value decides,
    /// else `yes`.
    pub fn strict_host_key_checking(&self) -> Option<StrictHostKeyChecking> {
        self.strict_host_key_checking
    }

    /// Glob patterns on aliases: when not empty, only matching aliases are hosts
    /// (`SCOUT_ALLOWLIST`).
    pub fn allowlist(&self) -> &[String] {
        &self.allowlist
    }

    /// Glob patterns on aliases that are hidden (`SCOUT_BLOCKLIST`).
    pub fn blocklist(&self) -> &[String] {
        &self.blocklist
    }

    /// Named host groups, used as `@name` in targets (`SCOUT_HOST_GROUPS`).
    pub fn host_groups(&self) -> &[GroupDef] {
        &self.host_groups
    }

    /// What `query` may run (`SCOUT_COMMAND_POLICY`, `SCOUT_ALLOWED_COMMANDS`).
    pub fn command_policy(&self) -> &CommandPolicy {
        &self.command_policy
    }

    /// Nothing is written anywhere: uploads, downloads, host-to-host copies and the shell
    /// policy are refused (`SCOUT_READ_ONLY`).
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Where transfers may read and write local files (`SCOUT_BEAM_DIR`).
    pub fn beam(&self) -> &BeamScope {
        &self.beam
    }

    /// Bytes of a file read before it is cut (`SCOUT_MAX_FILE_SIZE`).
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// Bytes kept of a command's stdout, and of its stderr (`SCOUT_MAX_OUTPUT_SIZE`).
    pub fn max_output_size(&self) -> usize {
        self.max_output_size
    }

    /// What an agent's command may take on the host (`SCOUT_REMOTE_MAX_MEMORY`,
    /// `SCOUT_REMOTE_MAX_CPU`, `SCOUT_REMOTE_MAX_FILE_SIZE`): set for allowlisted commands,
    /// `find` and `tree`; not for the shell policy, whose agent is trusted.
    pub fn remote_limits(&self) -> RemoteLimits {
        self.remote_limits
    }

    /// How long a command may run before it is stopped (`SCOUT_COMMAND_TIMEOUT`).
    pub fn command_timeout(&self) -> Duration {
        self.command_timeout
    }

    /// How long a command may run in a background job (`SCOUT_JOB_TIMEOUT`).
    pub fn job_timeout(&self) -> Duration {
        self.job_timeout
    }

    /// TCP connect + SSH handshake + authentication (`SCOUT_CONNECT_TIMEOUT`).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How long a host's last idle connection is kept (`SCOUT_IDLE_TIMEOUT`); its other
    /// connections are closed after a tenth of it.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// Time between keepalives on idle sessions (`SCOUT_KEEPALIVE_INTERVAL`).
    pub fn keepalive_interval(&self) -> Duration {
        self.keepalive_interval
    }

    /// SSH connections open at once across all hosts (`SCOUT_MAX_POOL_SIZE`); `Scout` lowers
    /// it to what the process's open-file limit allows.
    pub fn max_pool_size(&self) -> usize {
        self.max_pool_size
    }

    /// SSH connections open at once to one host (`SCOUT_MAX_SESSIONS_PER_HOST`); each carries
    /// up to the server's `MaxSessions` channels (commands, transfers) at once.
    pub fn max_sessions_per_host(&self) -> u32 {
        self.max_sessions_per_host
    }

    /// Requests the MCP server serves at once (`SCOUT_WORKERS`; threads started when needed);
    /// the library itself does not use it.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hosts checked at once by [`Scout::hosts`](crate::Scout::hosts) and targets handled at
    /// once by a broadcast (`SCOUT_MAX_CONCURRENCY`).
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// The binary's log level (`SCOUT_LOG_LEVEL`). The library never installs a logger: it
    /// logs through the `log` crate to whatever logger the program set up.
    pub fn log_level(&self) -> &str {
        &self.log_level
    }

    /// The local home directory (for `~` in local paths and ssh_config).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The local user name (default remote user, `%u`).
    pub fn local_user(&self) -> &str {
        &self.local_user
    }
}

impl Settings {
    /// Settings from the process environment.
    pub fn from_env() -> Result<Settings> {
        Self::from_lookup(|name| std::env::var(name).ok(), &HashMap::new())
    }

    /// The documented defaults (the same as an empty environment), with the local home
    /// directory and user name filled in.
    ///
    /// ```
    /// let s = scout_mcp::Settings::defaults();
    /// assert_eq!(s.max_sessions_per_host(), 6);
    /// assert_eq!(s.command_timeout(), std::time::Duration::from_secs(30));
    /// assert!(s.ssh_config().ends_with(".ssh/config"));
    /// ```
    pub fn defaults() -> Settings {
        let home = crate::local::home_dir();
        Settings {
            ssh_config: home.join(".ssh/config"),
            known_hosts: None,
            strict_host_key_checking: None,
            allowlist: Vec::new(),
            blocklist: Vec::new(),
            host_groups: Vec::new(),
            command_policy: CommandPolicy::default(),
            read_only: false,
            beam: BeamScope::default_for(&home),
            max_file_size: 1024 * 1024,
            max_output_size: 1024 * 1024,
            remote_limits: RemoteLimits {
                memory: 256 << 20,
                cpu_seconds: 30,
                file_size: 1 << 30,
            },
            command_timeout: Duration::from_secs(30),
            job_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(15),
            max_pool_size: 2048,
            max_sessions_per_host: 6,
            workers: 256,
            max_concurrency: 16,
            log_level: "warn".to_string(),
            local_user: crate::local::user_name(),
            home,
            narrowed_by: None,
        }
    }

    /// A builder starting from [`Settings::defaults`]: configure scout in code, without
    /// environment variables.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder {
            settings: Settings::defaults(),
        }
    }

    /// A builder starting from these settings, e.g. to adjust what came from the environment.
    ///
    /// ```
    /// # fn main() -> scout_mcp::Result<()> {
    /// let base = scout_mcp::Settings::defaults(); // or Settings::from_env()?
    /// let strict = base.into_builder().read_only(true).build()?;
    /// assert!(strict.read_only());
    /// # Ok(()) }
    /// ```
    pub fn into_builder(self) -> SettingsBuilder {
        SettingsBuilder { settings: self }
    }

    /// Settings from `lookup` (the environment), with `overrides` (from flags, keyed by env name)
    /// taking precedence.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        overrides: &HashMap<String, String>,
    ) -> Result<Settings> {
        let raw = Raw {
            lookup: &lookup,
            overrides,
        };
        let home = crate::local::home_dir();
        let policy_mode: PolicyMode = raw.get("SCOUT_COMMAND_POLICY").parse().map_err(|_| {
            bad(
                "SCOUT_COMMAND_POLICY",
                &raw.get("SCOUT_COMMAND_POLICY"),
                "allowlist, shell or off",
            )
        })?;
        let strict = match raw.explicit("SCOUT_STRICT_HOST_KEY_CHECKING") {
            None => None,
            Some(v) => Some(StrictHostKeyChecking::parse(&v).ok_or_else(|| {
                bad(
                    "SCOUT_STRICT_HOST_KEY_CHECKING",
                    &v,
                    "yes, accept-new or no",
                )
            })?),
        };
        let settings = Settings {
            ssh_config: crate::local::expand_tilde(&raw.get("SCOUT_SSH_CONFIG"), &home),
            known_hosts: raw.path("SCOUT_KNOWN_HOSTS", &home),
            strict_host_key_checking: strict,
            allowlist: list(&raw.get("SCOUT_ALLOWLIST")),
            blocklist: list(&raw.get("SCOUT_BLOCKLIST")),
            host_groups: raw.host_groups(&home)?,
            command_policy: CommandPolicy {
                mode: policy_mode,
                extra_allowed: crate::ops::command::parse_allowed_commands(
                    &raw.get("SCOUT_ALLOWED_COMMANDS"),
                ),
            },
            read_only: raw.boolean("SCOUT_READ_ONLY")?,
            beam: raw.beam_scope(&home)?,
            max_file_size: raw.size("SCOUT_MAX_FILE_SIZE", 1, u64::MAX)?,
            max_output_size: raw.size("SCOUT_MAX_OUTPUT_SIZE", 1, usize::MAX as u64)? as usize,
            remote_limits: RemoteLimits {
                memory: raw.size("SCOUT_REMOTE_MAX_MEMORY", 0, u64::MAX)?,
                cpu_seconds: raw.number("SCOUT_REMOTE_MAX_CPU", 0, MAX_SECONDS as u64)?,
                file_size: raw.size("SCOUT_REMOTE_MAX_FILE_SIZE", 0, u64::MAX)?,
            },
            command_timeout: raw.seconds("SCOUT_COMMAND_TIMEOUT")?,
            job_timeout: raw.seconds("SCOUT_JOB_TIMEOUT")?,
            connect_timeout: raw.seconds("SCOUT_CONNECT_TIMEOUT")?,
            idle_timeout: raw.seconds("SCOUT_IDLE_TIMEOUT")?,
            keepalive_interval: raw.seconds("SCOUT_KEEPALIVE_INTERVAL")?,
            max_pool_size: raw.number("SCOUT_MAX_POOL_SIZE", 1, MAX_POOL_SIZE)? as usize,
            max_sessions_per_host: raw.number("SCOUT_MAX_SESSIONS_PER_HOST", 1, MAX_THREADS)?
                as u32,
            workers: raw.number("SCOUT_WORKERS", 1, MAX_THREADS)? as usize,
            max_concurrency: raw.number("SCOUT_MAX_CONCURRENCY", 1, MAX_THREADS)? as usize,
            log_level: raw.log_level()?,
            local_user: crate::local::user_name(),
            home,
            narrowed_by: None,
        };
        Ok(settings)
    }
}

/// Settings in code: chainable setters over [`Settings::defaults`], checked by
/// [`build`](SettingsBuilder::build) against the same bounds as the environment variables.
///
/// Paths starting with `~/` are expanded against the local home directory, as in the
/// environment variables.
///
/// ```
/// use std::time::Duration;
/// let scout_settings = scout_mcp::Settings::builder()
///     .connect_timeout(Duration::from_secs(3))
///     .max_pool_size(20)
///     .build()?;
/// assert_eq!(scout_settings.max_pool_size(), 20);
///
/// // Out-of-range values are refused when building, naming the setting and its variable.
/// let err = scout_mcp::Settings::builder().max_sessions_per_host(0).build().unwrap_err();
/// assert!(err.to_string().contains("max_sessions_per_host (SCOUT_MAX_SESSIONS_PER_HOST)"));
/// # Ok::<(), scout_mcp::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a SettingsBuilder does nothing until .build() is called"]
pub struct SettingsBuilder {
    settings: Settings,
}

impl SettingsBuilder {
    /// The OpenSSH client config listing the hosts (`SCOUT_SSH_CONFIG`).
    pub fn ssh_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.ssh_config = self.expand(path.into());
        self
    }

    /// The known_hosts file for every host (`SCOUT_KNOWN_HOSTS`). Unset: each host's
    /// `UserKnownHostsFile`, else `~/.ssh/known_hosts`.
    pub fn known_hosts(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.known_hosts = Some(self.expand(path.into()));
        self
    }

    /// How unknown and changed host keys are treated (`SCOUT_STRICT_HOST_KEY_CHECKING`).
    /// Unset: each host's `StrictHostKeyChecking`, else [`StrictHostKeyChecking::Yes`].
    pub fn strict_host_key_checking(mut self, mode: StrictHostKeyChecking) -> Self {
        self.settings.strict_host_key_checking = Some(mode);
        self
    }

    /// Only aliases matching one of these glob patterns are hosts (`SCOUT_ALLOWLIST`).
    pub fn allowlist<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.settings.allowlist = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Aliases matching one of these glob patterns are hidden (`SCOUT_BLOCKLIST`).
    pub fn blocklist<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.settings.blocklist = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// Named host groups for targets (`SCOUT_HOST_GROUPS`), used as `@name`; see
    /// `parse_groups` for the text form.
    pub fn host_groups(mut self, groups: impl IntoIterator<Item = GroupDef>) -> Self {
        self.settings.host_groups = groups.into_iter().collect();
        self
    }

    /// What `run` and broadcast queries may run (`SCOUT_COMMAND_POLICY`).
    pub fn command_policy(mut self, mode: PolicyMode) -> Self {
        self.settings.command_policy.mode = mode;
        self
    }

    /// Extra commands for the allowlist policy (`SCOUT_ALLOWED_COMMANDS`). They get no
    /// argument checks: the caller vouches for them.
    pub fn allowed_commands<S: Into<String>>(
        mut self,
        commands: impl IntoIterator<Item = S>,
    ) -> Self {
        self.settings.command_policy.extra_allowed = commands.into_iter().map(Into::into).collect();
        self
    }

    /// Nothing is written anywhere: refuse uploads, downloads, host-to-host copies and the
    /// shell policy (`SCOUT_READ_ONLY`).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.settings.read_only = read_only;
        self
    }

    /// Confine local transfer paths to this directory (`SCOUT_BEAM_DIR`). It must exist and
    /// hold no secrets (not the home directory, `~/.ssh`, `/etc`, …): checked by
    /// [`build`](SettingsBuilder::build).
    pub fn beam_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.beam = BeamScope::Dir {
            path: self.expand(dir.into()),
            default: false,
        };
        self
    }

    /// Let transfers read and write any local path this user can (`SCOUT_BEAM_DIR=unrestricted`):
    /// an agent can then upload `~/.ssh` keys or replace shell rc files. Only for agents
    /// trusted with the local account.
    pub fn beam_unrestricted(mut self) -> Self {
        self.settings.beam = BeamScope::Unrestricted;
        self
    }

    /// Bytes of a file read before it is cut (`SCOUT_MAX_FILE_SIZE`, at least 1).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.settings.max_file_size = bytes;
        self
    }

    /// Bytes kept of a command's stdout, and of its stderr (`SCOUT_MAX_OUTPUT_SIZE`, at
    /// least 1).
    pub fn max_output_size(mut self, bytes: usize) -> Self {
        self.settings.max_output_size = bytes;
        self
    }

    /// What an agent's allowlisted command, `find` and `tree` may take on the host
    /// (`SCOUT_REMOTE_MAX_MEMORY`, `SCOUT_REMOTE_MAX_CPU`, `SCOUT_REMOTE_MAX_FILE_SIZE`; zero
    /// fields mean no limit).
    pub fn remote_limits(mut self, limits: RemoteLimits) -> Self {
        self.settings.remote_limits = limits;
        self
    }

    /// How long a command may run (`SCOUT_COMMAND_TIMEOUT`, more than 0, at most a day).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// How long a command may run in a background job (`SCOUT_JOB_TIMEOUT`, more than 0, at
    /// most a day).
    pub fn job_timeout(mut self, timeout: Duration) -> Self {
        self.settings.job_timeout = timeout;
        self
    }

    /// TCP connect + SSH handshake + authentication (`SCOUT_CONNECT_TIMEOUT`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long a host's last idle connection is kept (`SCOUT_IDLE_TIMEOUT`); its other
    /// connections are closed after a tenth of it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// Time between keepalives on idle sessions (`SCOUT_KEEPALIVE_INTERVAL`).
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.settings.keepalive_interval = interval;
        self
    }

    /// Sessions open at once across all hosts (`SCOUT_MAX_POOL_SIZE`, 1 to 100000).
    pub fn max_pool_size(mut self, sessions: usize) -> Self {
        self.settings.max_pool_size = sessions;
        self
    }

    /// Sessions open at once to one host (`SCOUT_MAX_SESSIONS_PER_HOST`, 1 to 1024).
    pub fn max_sessions_per_host(mut self, sessions: u32) -> Self {
        self.settings.max_sessions_per_host = sessions;
        self
    }

    /// Worker threads of the MCP server (`SCOUT_WORKERS`, 1 to 1024).
    pub fn workers(mut self, threads: usize) -> Self {
        self.settings.workers = threads;
        self
    }

    /// Hosts checked, and broadcast targets handled, at once (`SCOUT_MAX_CONCURRENCY`, 1 to
    /// 1024).
    pub fn max_concurrency(mut self, threads: usize) -> Self {
        self.settings.max_concurrency = threads;
        self
    }

    /// Says what narrowed the settings (an API key's policy), for refusals to name.
    pub(crate) fn narrowed_by(mut self, who: String) -> Self {
        self.settings.narrowed_by = Some(who);
        self
    }

    /// The settings, or an error of kind [`ErrorKind::Config`](crate::ErrorKind::Config) naming the first value out of bounds.
    pub fn build(self) -> Result<Settings> {
        let s = &self.settings;
        check_count("max_file_size", s.max_file_size, 1, u64::MAX)?;
        check_count("max_output_size", s.max_output_size as u64, 1, u64::MAX)?;
        check_duration("command_timeout", s.command_timeout)?;
        check_duration("job_timeout", s.job_timeout)?;
        check_duration("connect_timeout", s.connect_timeout)?;
        check_duration("idle_timeout", s.idle_timeout)?;
        check_duration("keepalive_interval", s.keepalive_interval)?;
        check_count("max_pool_size", s.max_pool_size as u64, 1, MAX_POOL_SIZE)?;
        let per_host = u64::from(s.max_sessions_per_host);
        check_count("max_sessions_per_host", per_host, 1, MAX_THREADS)?;
        check_count("workers", s.workers as u64, 1, MAX_THREADS)?;
        check_count("max_concurrency", s.max_concurrency as u64, 1, MAX_THREADS)?;
        s.beam
            .check(&s.home)
            .map_err(|why| Error::config(format!("invalid beam_dir (SCOUT_BEAM_DIR): {why}")))?;
        Ok(self.settings)
    }

    fn expand(&self, path: PathBuf) -> PathBuf {
        match path.to_str() {
            Some(text) => crate::local::expand_tilde(text, &self.settings.home),
            None => path,
        }
    }
}

/// The builder's bound check: the message names the setter and its environment variable.
fn check_count(name: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(out_of_bounds(
        name,
        &value.to_string(),
        &format!("a whole number from {min} to {max}"),
    ))
}

fn check_duration(name: &str, value: Duration) -> Result<()> {
    let secs = value.as_secs_f64();
    if secs > 0.0 && secs <= MAX_SECONDS {
        return Ok(());
    }
    Err(out_of_bounds(
        name,
        &format!("{value:?}"),
        "more than 0 s and at most 86400 s",
    ))
}

fn out_of_bounds(name: &str, value: &str, expected: &str) -> Error {
    let env = format!("SCOUT_{}", name.to_ascii_uppercase());
    Error::config(format!(
        "invalid {name} ({env}): {value}; expected {expected}"
    ))
}

/// Looks a setting up: flag override, then the variable, then its legacy name, then the default.
struct Raw<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    overrides: &'a HashMap<String, String>,
}

impl Raw<'_> {
    fn explicit(&self, env: &str) -> Option<String> {
        if let Some(v) = self.overrides.get(env) {
            return Some(v.clone());
        }
        let legacy = VARS.iter().find(|v| v.env == env).and_then(|v| v.legacy);
        (self.lookup)(env)
            .or_else(|| legacy.and_then(|l| (self.lookup)(l)))
            .filter(|v| !v.trim().is_empty())
    }

    fn get(&self, env: &str) -> String {
        self.explicit(env)
            .or_else(|| {
                VARS.iter()
                    .find(|v| v.env == env)
                    .map(|v| v.default.to_string())
            })
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn path(&self, env: &str, home: &std::path::Path) -> Option<PathBuf> {
        self.explicit(env)
            .map(|v| crate::local::expand_tilde(v.trim(), home))
    }

    /// `SCOUT_HOST_GROUPS`: inline definitions, or the path of a file of them.
    fn host_groups(&self, home: &std::path::Path) -> Result<Vec<GroupDef>> {
        const ENV: &str = "SCOUT_HOST_GROUPS";
        let Some(value) = self.explicit(ENV) else {
            return Ok(Vec::new());
        };
        let value = value.trim();
        let (text, source) = if value.starts_with('/') || value.starts_with('~') {
            let path = crate::local::expand_tilde(value, home);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::config(format!(
                    "{ENV} (--host-groups): cannot read the groups file {}: {e}",
                    path.display()
                ))
            })?;
            (text, format!(" (file {})", path.display()))
        } else {
            (value.to_string(), String::new())
        };
        parse_groups(&text)
            .map_err(|why| Error::config(format!("invalid {ENV} (--host-groups){source}: {why}")))
    }

    /// `SCOUT_BEAM_DIR`: unlike other settings, a blank value is an error, not "unset" (a
    /// blank jail must never mean no jail).
    fn beam_scope(&self, home: &std::path::Path) -> Result<BeamScope> {
        const ENV: &str = "SCOUT_BEAM_DIR";
        let value = match self.overrides.get(ENV) {
            Some(v) => Some(v.clone()),
            None => (self.lookup)(ENV),
        };
        match value {
            None => Ok(BeamScope::default_for(home)),
            Some(v) => BeamScope::parse(&v, home).map_err(|why| {
                Error::config(format!("invalid value '{v}' for {ENV} (--beam-dir): {why}"))
            }),
        }
    }

    fn boolean(&self, env: &str) -> Result<bool> {
        let v = self.get(env);
        parse_bool(&v).ok_or_else(|| bad(env, &v, "one of 1/true/yes/on or 0/false/no/off"))
    }

    /// A byte count: a whole number, optionally with a binary suffix (`K`, `M`, `G`, `T`, with
    /// or without `iB`/`B`: `256M` is 256 MiB).
    fn size(&self, env: &str, min: u64, max: u64) -> Result<u64> {
        let v = self.get(env);
        match parse_size(&v) {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(bad(
                env,
                &v,
                &format!("a byte count from {min} (suffixes K, M, G, T allowed, e.g. 256M)"),
            )),
        }
    }

    fn number(&self, env: &str, min: u64, max: u64) -> Result<u64> {
        parse_number(env, &self.get(env), min, max)
    }

    fn seconds(&self, env: &str) -> Result<Duration> {
        parse_seconds(env, &self.get(env))
    }

    fn log_level(&self) -> Result<String> {
        let v = self.get("SCOUT_LOG_LEVEL").to_ascii_lowercase();
        match v.as_str() {
            "off" | "error" | "warn" | "info" | "debug" | "trace" => Ok(v),
            _ => Err(bad(
                "SCOUT_LOG_LEVEL",
                &v,
                "off, error, warn, info, debug or trace",
            )),
        }
    }
}

/// The value of variable `env`: a whole number from `min` to `max`.
pub(crate) fn parse_number(env: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(
            env,
            value,
            &format!("a whole number from {min} to {max}"),
        )),
    }
}

/// The value of variable `env`: seconds, fractions allowed, more than 0 and at most a day.
pub(crate) fn parse_seconds(env: &str, value: &str) -> Result<Duration> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= MAX_SECONDS => Ok(Duration::from_secs_f64(s)),
        _ => Err(bad(
            env,
            value,
            "a number of seconds greater than 0 (at most 86400)",
        )),
    }
}

/// The error for a variable's invalid value: the variable, its flag and what it takes.
pub(crate) fn bad(env: &str, value: &str, expected: &str) -> Error {
    let flag = VARS
        .iter()
        .find(|v| v.env == env)
        .map(|v| v.flag)
        .unwrap_or("");
    Error::config(format!(
        "invalid value '{value}' for {env} ({flag}): expected {expected}"
    ))
}

/// A byte count with an optional binary suffix: `1048576`, `1M`, `1MiB`, `512k`, `2G`.
pub fn parse_size(value: &str) -> Option<u64> {
    let v = value.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

/// `1/true/yes/on` and `0/false/no/off`, any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {

    /// The README's configuration table is this table: a setting added, renamed or given a new
    /// default here must be changed there too.
    #[test]
    fn the_readme_table_lists_every_setting_as_help_does() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        for var in VARS {
            let default = if var.default.is_empty() {
                String::new()
            } else {
                format!("`{}`", var.default)
            };
            let legacy = var
                .legacy
                .map(|l| format!(" (legacy `{l}`)"))
                .unwrap_or_default();
            let row = format!(
                "| `{}` | `{}` | {} | {}{} |",
                var.env, var.flag, default, var.help, legacy
            );
            assert!(readme.contains(&row), "README.md lacks the row\n{row}");
        }
    }
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned(), &HashMap::new())
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.max_file_size, 1_048_576);
        assert_eq!(s.max_output_size, 1_048_576);
        assert_eq!(s.command_timeout, Duration::from_secs(30));
        assert_eq!(s.job_timeout, Duration::from_secs(600));
        assert!(s.host_groups.is_empty());
        assert_eq!(s.connect_timeout, Duration::from_secs(10));
        assert_eq!(s.idle_timeout, Duration::from_secs(300));
        assert_eq!(s.keepalive_interval, Duration::from_secs(15));
        assert_eq!(s.max_pool_size, 2048);
        assert_eq!(s.max_sessions_per_host, 6);
        assert_eq!(s.workers, 256);
        assert_eq!(s.max_concurrency, 16);
        assert_eq!(s.command_policy.mode, PolicyMode::Allowlist);
        assert!(!s.read_only);
        assert_eq!(s.strict_host_key_checking, None);
        assert!(s.ssh_config.ends_with(".ssh/config"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("SCOUT_COMMAND_TIMEOUT", "abc")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SCOUT_COMMAND_TIMEOUT"), "{err}");
        assert!(err.contains("'abc'"), "{err}");
        for (k, v) in [
            ("SCOUT_READ_ONLY", "maybe"),
            ("SCOUT_MAX_SESSIONS_PER_HOST", "0"),
            ("SCOUT_COMMAND_POLICY", "yolo"),
            ("SCOUT_CONNECT_TIMEOUT", "-1"),
            ("SCOUT_STRICT_HOST_KEY_CHECKING", "sometimes"),
            ("SCOUT_LOG_LEVEL", "loud"),
            ("SCOUT_JOB_TIMEOUT", "0"),
            ("SCOUT_HOST_GROUPS", "web"),
            ("SCOUT_HOST_GROUPS", "/no/such/groups/file"),
        ] {
            let err = settings(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(k), "{k}: {err}");
        }
    }

    #[test]
    fn legacy_names_apply_only_when_the_new_name_is_unset() {
        let s = settings(&[("MCP_CAT_MAX_FILE_SIZE", "10")]).unwrap();
        assert_eq!(s.max_file_size, 10);
        let s = settings(&[
            ("MCP_CAT_MAX_FILE_SIZE", "10"),
            ("SCOUT_MAX_FILE_SIZE", "20"),
        ])
        .unwrap();
        assert_eq!(s.max_file_size, 20);
    }

    #[test]
    fn flags_override_the_environment() {
        let env: HashMap<String, String> = [("SCOUT_WORKERS".to_string(), "3".to_string())].into();
        let flags: HashMap<String, String> =
            [("SCOUT_WORKERS".to_string(), "5".to_string())].into();
        let s = Settings::from_lookup(|k| env.get(k).cloned(), &flags).unwrap();
        assert_eq!(s.workers, 5);
    }

    #[test]
    fn booleans_accept_every_documented_spelling() {
        for v in ["1", "true", "YES", "on"] {
            assert_eq!(parse_bool(v), Some(true), "{v}");
        }
        for v in ["0", "false", "No", "OFF"] {
            assert_eq!(parse_bool(v), Some(false), "{v}");
        }
        assert_eq!(parse_bool("2"), None);
    }

    #[test]
    fn defaults_equal_an_empty_environment() {
        // Settings::defaults() spells the defaults out; VARS has them as text for --help and
        // the environment. They must not drift apart.
        assert_eq!(Settings::defaults(), settings(&[]).unwrap());
        assert_eq!(Settings::builder().build().unwrap(), Settings::defaults());
    }

    #[test]
    fn the_builder_sets_every_field_it_names() {
        let home = Settings::defaults().home;
        let beam = std::env::temp_dir().canonicalize().unwrap();
        let s = Settings::builder()
            .ssh_config("~/fleet/ssh_config")
            .known_hosts("/k")
            .strict_host_key_checking(StrictHostKeyChecking::AcceptNew)
            .allowlist(["web*"])
            .blocklist(vec!["web9".to_string()])
            .host_groups(parse_groups("w=web*").unwrap())
            .job_timeout(Duration::from_secs(9))
            .command_policy(PolicyMode::Shell)
            .allowed_commands(["uptime"])
            .read_only(true)
            .beam_dir(&beam)
            .max_file_size(10)
            .max_output_size(20)
            .command_timeout(Duration::from_millis(1500))
            .connect_timeout(Duration::from_secs(2))
            .idle_timeout(Duration::from_secs(3))
            .keepalive_interval(Duration::from_secs(4))
            .max_pool_size(5)
            .max_sessions_per_host(6)
            .workers(7)
            .max_concurrency(8)
            .build()
            .unwrap();
        assert_eq!(s.ssh_config, home.join("fleet/ssh_config"));
        assert_eq!(s.known_hosts, Some(PathBuf::from("/k")));
        assert_eq!(
            s.strict_host_key_checking,
            Some(StrictHostKeyChecking::AcceptNew)
        );
        assert_eq!(
            (s.allowlist, s.blocklist),
            (vec!["web*".into()], vec!["web9".into()])
        );
        assert_eq!(s.command_policy.mode, PolicyMode::Shell);
        assert_eq!(s.command_policy.extra_allowed, vec!["uptime"]);
        assert!(s.read_only);
        assert_eq!(s.beam.dir(), Some(beam.as_path()));
        assert_eq!((s.max_file_size, s.max_output_size), (10, 20));
        assert_eq!(s.command_timeout, Duration::from_millis(1500));
        assert_eq!(s.host_groups[0].name, "w");
        assert_eq!(s.job_timeout, Duration::from_secs(9));
        assert_eq!(s.connect_timeout, Duration::from_secs(2));
        assert_eq!(s.idle_timeout, Duration::from_secs(3));
        assert_eq!(s.keepalive_interval, Duration::from_secs(4));
        assert_eq!(s.max_pool_size, 5);
        assert_eq!(s.max_sessions_per_host, 6);
        assert_eq!((s.workers, s.max_concurrency), (7, 8));
    }

    #[test]
    fn the_builder_refuses_what_the_environment_refuses() {
        let cases: Vec<(SettingsBuilder, &str)> = vec![
            (Settings::builder().max_file_size(0), "SCOUT_MAX_FILE_SIZE"),
            (
                Settings::builder().max_output_size(0),
                "SCOUT_MAX_OUTPUT_SIZE",
            ),
            (
                Settings::builder().command_timeout(Duration::ZERO),
                "SCOUT_COMMAND_TIMEOUT",
            ),
            (
                Settings::builder().job_timeout(Duration::ZERO),
                "SCOUT_JOB_TIMEOUT",
            ),
            (
                Settings::builder().connect_timeout(Duration::from_secs(86_401)),
                "SCOUT_CONNECT_TIMEOUT",
            ),
            (
                Settings::builder().idle_timeout(Duration::ZERO),
                "SCOUT_IDLE_TIMEOUT",
            ),
            (
                Settings::builder().keepalive_interval(Duration::ZERO),
                "SCOUT_KEEPALIVE_INTERVAL",
            ),
            (Settings::builder().max_pool_size(0), "SCOUT_MAX_POOL_SIZE"),
            (
                Settings::builder().max_sessions_per_host(1025),
                "SCOUT_MAX_SESSIONS_PER_HOST",
            ),
            (Settings::builder().workers(0), "SCOUT_WORKERS"),
            (
                Settings::builder().max_concurrency(0),
                "SCOUT_MAX_CONCURRENCY",
            ),
            (Settings::builder().beam_dir("/"), "SCOUT_BEAM_DIR"),
            (Settings::builder().beam_dir("~"), "SCOUT_BEAM_DIR"),
            (
                Settings::builder().beam_dir("/no/such/dir"),
                "SCOUT_BEAM_DIR",
            ),
        ];
        for (builder, env) in cases {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(env), "{env}: {err}");
            // The message points at a variable that really exists.
            assert!(VARS.iter().any(|v| v.env == env), "{env} is not a variable");
        }
    }

    #[test]
    fn into_builder_keeps_what_was_configured() {
        let s = settings(&[("SCOUT_WORKERS", "3")]).unwrap();
        let s = s.into_builder().read_only(true).build().unwrap();
        assert_eq!(s.workers, 3);
        assert!(s.read_only);
    }

    #[test]
    fn beam_dir_is_closed_by_default_and_never_silently_open() {
        let s = settings(&[]).unwrap();
        assert!(matches!(s.beam, BeamScope::Dir { default: true, .. }));
        for bad in [
            "", "  ", "relative", "/", "/etc", "/proc", "~", "~/.ssh", "/nope/x",
        ] {
            let err = settings(&[("SCOUT_BEAM_DIR", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("SCOUT_BEAM_DIR"), "{bad:?}: {err}");
        }
        let open = settings(&[("SCOUT_BEAM_DIR", "unrestricted")]).unwrap();
        assert_eq!(open.beam, BeamScope::Unrestricted);
    }

    #[test]
    fn host_groups_come_inline_or_from_a_file() {
        let s = settings(&[("SCOUT_HOST_GROUPS", "web=web*,!web13; db=db[1-3]")]).unwrap();
        assert_eq!(s.host_groups.len(), 2);
        assert_eq!(s.host_groups[0].patterns, ["web*", "!web13"]);
        let file = std::env::temp_dir().join(format!("scout-groups-{}", std::process::id()));
        std::fs::write(&file, "# groups\nweb = web*\ndb: db1, db2\n").unwrap();
        let s = settings(&[("SCOUT_HOST_GROUPS", file.to_str().unwrap())]).unwrap();
        assert_eq!(s.host_groups[1].patterns, ["db1", "db2"]);
        std::fs::write(&file, "web = web[\n").unwrap();
        let err = settings(&[("SCOUT_HOST_GROUPS", file.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("SCOUT_HOST_GROUPS") && err.contains("(file "),
            "{err}"
        );
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn lists_and_fractional_seconds() {
        let s = settings(&[
            ("SCOUT_ALLOWLIST", " web*, db ,,"),
            ("SCOUT_COMMAND_TIMEOUT", "0.5"),
        ])
        .unwrap();
        assert_eq!(s.allowlist, vec!["web*", "db"]);
        assert_eq!(s.command_timeout, Duration::from_millis(500));
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_parse_size() {
        use crate::settings::parse_size;
        assert_eq!(parse_size("256M"), Some(256 << 20));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5G"), None);
    }
}
