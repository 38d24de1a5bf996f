//! Runtime settings: limits, timings, policies and paths.
//!
//! Every setting has an environment variable and a command-line flag with the same meaning; the
//! table [`VARS`] is the single source for both (and for `--help`). Values are validated once at
//! startup: a bad value is a configuration error naming the variable, never a surprise later.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ops::command::{CommandPolicy, PolicyMode};

/// One setting: its environment variable, its flag, an optional legacy variable, a default.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub env: &'static str,
    pub flag: &'static str,
    pub legacy: Option<&'static str>,
    pub default: &'static str,
    pub help: &'static str,
}

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
        "yes | accept-new | no (a changed key is always refused)",
    ),
    var(
        "SCOUT_ALLOWLIST",
        "--allowlist",
        "",
        "comma-separated glob patterns: only these aliases are hosts",
    ),
    var(
        "SCOUT_BLOCKLIST",
        "--blocklist",
        "",
        "comma-separated glob patterns: these aliases are hidden",
    ),
    var(
        "SCOUT_COMMAND_POLICY",
        "--command-policy",
        "allowlist",
        "allowlist | shell | off: what `query` may run",
    ),
    var(
        "SCOUT_ALLOWED_COMMANDS",
        "--allowed-commands",
        "",
        "extra commands for the allowlist policy (comma-separated)",
    ),
    var(
        "SCOUT_READ_ONLY",
        "--read-only",
        "false",
        "refuse uploads and shell-policy commands",
    ),
    var(
        "SCOUT_BEAM_DIR",
        "--beam-dir",
        "",
        "confine local beam paths to this directory",
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
            "60",
            "seconds an idle session is kept",
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
        "100",
        "sessions in total across hosts",
    ),
    var(
        "SCOUT_MAX_SESSIONS_PER_HOST",
        "--max-sessions-per-host",
        "4",
        "sessions per host",
    ),
    var(
        "SCOUT_WORKERS",
        "--workers",
        "8",
        "worker threads serving requests",
    ),
    var(
        "SCOUT_MAX_CONCURRENCY",
        "--max-concurrency",
        "16",
        "targets handled at once in a broadcast",
    ),
    var(
        "SCOUT_LOG_LEVEL",
        "--log-level",
        "warn",
        "error | warn | info | debug | trace (logs go to stderr)",
    ),
];

/// How unknown and changed host keys are treated (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// Unknown or changed key: refuse.
    Yes,
    /// Unknown key: accept and append to known_hosts. Changed key: refuse.
    AcceptNew,
    /// Unknown key: accept without recording (unsafe). Changed key: still refuse.
    No,
}

impl StrictHostKeyChecking {
    /// Parses both scout's and OpenSSH's spellings.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "ask" => Some(Self::Yes),
            "accept-new" => Some(Self::AcceptNew),
            "no" | "false" | "off" => Some(Self::No),
            _ => None,
        }
    }
}

/// All runtime settings, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ssh_config: PathBuf,
    pub known_hosts: Option<PathBuf>,
    /// `None` when SCOUT_STRICT_HOST_KEY_CHECKING is unset: the host's ssh_config value decides,
    /// else `yes`.
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    pub allowlist: Vec<String>,
    pub blocklist: Vec<String>,
    pub command_policy: CommandPolicy,
    pub read_only: bool,
    pub beam_dir: Option<PathBuf>,
    pub max_file_size: u64,
    pub max_output_size: usize,
    pub command_timeout: Duration,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub keepalive_interval: Duration,
    pub max_pool_size: usize,
    pub max_sessions_per_host: u32,
    pub workers: usize,
    pub max_concurrency: usize,
    pub log_level: String,
    /// The local home directory (for `~` in local paths and ssh_config).
    pub home: PathBuf,
    /// The local user name (default remote user, `%u`).
    pub local_user: String,
}

impl Settings {
    /// Settings from the process environment.
    pub fn from_env() -> Result<Settings> {
        Self::from_lookup(|name| std::env::var(name).ok(), &HashMap::new())
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
        let policy_mode = match raw
            .get("SCOUT_COMMAND_POLICY")
            .to_ascii_lowercase()
            .as_str()
        {
            "allowlist" => PolicyMode::Allowlist,
            "shell" => PolicyMode::Shell,
            "off" => PolicyMode::Off,
            other => {
                return Err(bad(
                    "SCOUT_COMMAND_POLICY",
                    other,
                    "allowlist, shell or off",
                ))
            }
        };
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
            ssh_config: expand_tilde(&raw.get("SCOUT_SSH_CONFIG"), &home),
            known_hosts: raw.path("SCOUT_KNOWN_HOSTS", &home),
            strict_host_key_checking: strict,
            allowlist: list(&raw.get("SCOUT_ALLOWLIST")),
            blocklist: list(&raw.get("SCOUT_BLOCKLIST")),
            command_policy: CommandPolicy {
                mode: policy_mode,
                extra_allowed: list(&raw.get("SCOUT_ALLOWED_COMMANDS")),
            },
            read_only: raw.boolean("SCOUT_READ_ONLY")?,
            beam_dir: raw.path("SCOUT_BEAM_DIR", &home),
            max_file_size: raw.number("SCOUT_MAX_FILE_SIZE", 1, u64::MAX)?,
            max_output_size: raw.number("SCOUT_MAX_OUTPUT_SIZE", 1, usize::MAX as u64)? as usize,
            command_timeout: raw.seconds("SCOUT_COMMAND_TIMEOUT")?,
            connect_timeout: raw.seconds("SCOUT_CONNECT_TIMEOUT")?,
            idle_timeout: raw.seconds("SCOUT_IDLE_TIMEOUT")?,
            keepalive_interval: raw.seconds("SCOUT_KEEPALIVE_INTERVAL")?,
            max_pool_size: raw.number("SCOUT_MAX_POOL_SIZE", 1, 100_000)? as usize,
            max_sessions_per_host: raw.number("SCOUT_MAX_SESSIONS_PER_HOST", 1, 1024)? as u32,
            workers: raw.number("SCOUT_WORKERS", 1, 1024)? as usize,
            max_concurrency: raw.number("SCOUT_MAX_CONCURRENCY", 1, 1024)? as usize,
            log_level: raw.log_level()?,
            local_user: crate::local::user_name(),
            home,
        };
        Ok(settings)
    }
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
        self.explicit(env).map(|v| expand_tilde(v.trim(), home))
    }

    fn boolean(&self, env: &str) -> Result<bool> {
        let v = self.get(env);
        parse_bool(&v).ok_or_else(|| bad(env, &v, "one of 1/true/yes/on or 0/false/no/off"))
    }

    fn number(&self, env: &str, min: u64, max: u64) -> Result<u64> {
        let v = self.get(env);
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(bad(env, &v, &format!("a whole number from {min} to {max}"))),
        }
    }

    fn seconds(&self, env: &str) -> Result<Duration> {
        let v = self.get(env);
        match v.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            _ => Err(bad(
                env,
                &v,
                "a number of seconds greater than 0 (at most 86400)",
            )),
        }
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

fn bad(env: &str, value: &str, expected: &str) -> Error {
    let flag = VARS
        .iter()
        .find(|v| v.env == env)
        .map(|v| v.flag)
        .unwrap_or("");
    Error::Config(format!(
        "invalid value '{value}' for {env} ({flag}): expected {expected}"
    ))
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

/// Expands a leading `~` or `~/` against the local home directory.
pub fn expand_tilde(path: &str, home: &std::path::Path) -> PathBuf {
    if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned(), &HashMap::new())
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.max_file_size, 1_048_576);
        assert_eq!(s.max_output_size, 1_048_576);
        assert_eq!(s.command_timeout, Duration::from_secs(30));
        assert_eq!(s.connect_timeout, Duration::from_secs(10));
        assert_eq!(s.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.keepalive_interval, Duration::from_secs(15));
        assert_eq!(s.max_pool_size, 100);
        assert_eq!(s.max_sessions_per_host, 4);
        assert_eq!(s.workers, 8);
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
