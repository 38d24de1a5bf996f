//! The HTTP transport's settings (`SCOUT_TRANSPORT`, `SCOUT_HTTP_*`, `SCOUT_API_KEYS`,
//! `SCOUT_RATE_LIMIT_*`), validated once at start-up like every other setting: a bad value is a
//! configuration error naming its variable (exit 2), never a surprise later.
//!
//! The rule that matters most: **a server reachable from other machines needs keys**. Binding
//! an address that is not loopback without `SCOUT_API_KEYS` is refused.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ops::command::PolicyMode;
use crate::settings::{bad, parse_number, parse_seconds, var_value};

/// How MCP clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One client that started the server, on stdin/stdout.
    Stdio,
    /// Streamable HTTP on `SCOUT_HTTP_HOST:SCOUT_HTTP_PORT`, path `/mcp`.
    Http,
}

/// Shortest API key accepted: a key is a password that never has to be typed.
pub const MIN_KEY_LEN: usize = 16;
/// Most API keys.
pub const MAX_KEYS: usize = 256;
/// Upper bound of the connection and session caps.
const MAX_CAP: u64 = 100_000;

/// An API key's secret. Its `Debug` never shows it, so no log line or error can.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The key as the client sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What a key may do beyond what the server's own settings allow: only less.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `read-only`: nothing is written anywhere (`SCOUT_READ_ONLY` for this key).
    pub read_only: bool,
    /// `hosts=PAT|PAT`: only the server's hosts matching one of these glob patterns.
    pub hosts: Option<Vec<String>>,
    /// `commands=allowlist|off`: a command policy no wider than the server's.
    pub commands: Option<PolicyMode>,
}

impl Policy {
    /// Whether the key is as free as the server's settings.
    pub fn is_unrestricted(&self) -> bool {
        *self == Policy::default()
    }
}

/// The policy in the words of `SCOUT_API_KEYS` (for logs; never the key).
impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.read_only {
            parts.push("read-only".to_string());
        }
        if let Some(hosts) = &self.hosts {
            parts.push(format!("hosts={}", hosts.join("|")));
        }
        if let Some(mode) = self.commands {
            parts.push(format!("commands={}", mode.name()));
        }
        if parts.is_empty() {
            f.write_str("unrestricted")
        } else {
            f.write_str(&parts.join(":"))
        }
    }
}

/// One entry of `SCOUT_API_KEYS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The key itself.
    pub secret: Secret,
    /// What logs call it: `name=…`, else `key#N` (its place in the list, from 1).
    pub label: String,
    /// Its restrictions.
    pub policy: Policy,
}

/// The transport settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `SCOUT_TRANSPORT`.
    pub transport: Transport,
    /// `SCOUT_HTTP_HOST`, without brackets around an IPv6 address.
    pub host: String,
    /// `SCOUT_HTTP_PORT` (0: any free port).
    pub port: u16,
    /// Whether every address `host` stands for is a loopback one.
    pub loopback: bool,
    /// `SCOUT_API_KEYS`; empty: no authentication (loopback only).
    pub keys: Vec<KeySpec>,
    /// `SCOUT_RATE_LIMIT_PER_MINUTE` (0: off).
    pub rate_per_minute: u32,
    /// `SCOUT_RATE_LIMIT_BURST`.
    pub burst: u32,
    /// `SCOUT_HTTP_ALLOWED_ORIGINS`, normalised (lower case, no trailing slash).
    pub allowed_origins: Vec<String>,
    /// `SCOUT_HTTP_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `SCOUT_HTTP_MAX_SESSIONS`.
    pub max_sessions: usize,
    /// `SCOUT_HTTP_SESSION_TIMEOUT`.
    pub session_timeout: Duration,
    /// `SCOUT_HTTP_TIMEOUT`.
    pub timeout: Duration,
}

impl HttpConfig {
    /// The transport settings from `lookup` (the environment) and `overrides` (flags).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        overrides: &HashMap<String, String>,
    ) -> Result<HttpConfig> {
        let get = |env: &str| var_value(&lookup, overrides, env);
        let transport = match get("SCOUT_TRANSPORT").to_ascii_lowercase().as_str() {
            "stdio" => Transport::Stdio,
            "http" | "streamable-http" | "streamable_http" => Transport::Http,
            other => return Err(bad("SCOUT_TRANSPORT", other, "stdio or http")),
        };
        let raw_host = get("SCOUT_HTTP_HOST");
        let host = raw_host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&raw_host)
            .to_string();
        if host.is_empty() {
            return Err(bad("SCOUT_HTTP_HOST", &raw_host, "an address or host name"));
        }
        let number = |env: &str, min, max| parse_number(env, &get(env), min, max);
        let seconds = |env: &str| parse_seconds(env, &get(env));
        let port = number("SCOUT_HTTP_PORT", 0, 65_535)? as u16;
        let keys = parse_keys(&get("SCOUT_API_KEYS"))?;
        let rate_per_minute = number("SCOUT_RATE_LIMIT_PER_MINUTE", 0, 1_000_000)? as u32;
        let burst = number("SCOUT_RATE_LIMIT_BURST", 1, 1_000_000)? as u32;
        let allowed_origins = get("SCOUT_HTTP_ALLOWED_ORIGINS")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                let normal = normal_origin(o);
                if normal.starts_with("http://") || normal.starts_with("https://") {
                    Ok(normal)
                } else {
                    Err(bad(
                        "SCOUT_HTTP_ALLOWED_ORIGINS",
                        o,
                        "origins like https://app.example.com, separated by commas",
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let max_connections = number("SCOUT_HTTP_MAX_CONNECTIONS", 1, MAX_CAP)? as usize;
        let max_sessions = number("SCOUT_HTTP_MAX_SESSIONS", 1, MAX_CAP)? as usize;
        let session_timeout = seconds("SCOUT_HTTP_SESSION_TIMEOUT")?;
        let timeout = seconds("SCOUT_HTTP_TIMEOUT")?;
        let mut config = HttpConfig {
            transport,
            host,
            port,
            loopback: false,
            keys,
            rate_per_minute,
            burst,
            allowed_origins,
            max_connections,
            max_sessions,
            session_timeout,
            timeout,
        };
        if transport == Transport::Http {
            config.loopback = binds_loopback(&config.host, config.port)?;
            if !config.loopback && config.keys.is_empty() {
                return Err(Error::config(format!(
                    "SCOUT_HTTP_HOST={} is not a loopback address, and SCOUT_API_KEYS is empty: \
                     anyone who can reach the port could run commands on your hosts. Set \
                     SCOUT_API_KEYS (e.g. to the output of `openssl rand -hex 32`), or listen \
                     on 127.0.0.1 behind a reverse proxy that authenticates",
                    raw_host
                )));
            }
        }
        Ok(config)
    }

    /// The address to listen on, as `bind` takes it.
    pub fn bind_address(&self) -> (String, u16) {
        (self.host.clone(), self.port)
    }
}

/// Whether every address `host` resolves to is a loopback one. A name that does not resolve
/// is a configuration error: the server could not listen on it anyway.
fn binds_loopback(host: &str, port: u16) -> Result<bool> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip.is_loopback());
    }
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::config(format!(
                "SCOUT_HTTP_HOST={host} cannot be resolved ({e}): give an address such as \
                 127.0.0.1"
            ))
        })?
        .collect();
    Ok(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()))
}

/// `SCOUT_API_KEYS`: `KEY[:OPTION]…` entries separated by commas. Options: `read-only`,
/// `hosts=PAT|PAT…`, `commands=allowlist|off|shell`, `name=LABEL`. Errors name the entry by
/// its place, never by the key.
pub fn parse_keys(value: &str) -> Result<Vec<KeySpec>> {
    let mut keys: Vec<KeySpec> = Vec::new();
    let mut seen = HashSet::new();
    let entries: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.len() > MAX_KEYS {
        return Err(keys_error(&format!(
            "{} keys; at most {MAX_KEYS}",
            entries.len()
        )));
    }
    for (i, entry) in entries.iter().enumerate() {
        let n = i + 1;
        let mut parts = entry.split(':');
        let secret = parts.next().unwrap_or_default().trim();
        if secret.len() < MIN_KEY_LEN {
            return Err(keys_error(&format!(
                "entry {n}: a key must have at least {MIN_KEY_LEN} characters (make one with \
                 `openssl rand -hex 32`)"
            )));
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(keys_error(&format!(
                "entry {n}: a key is made of visible ASCII characters (no blanks), as an \
                 Authorization header carries it"
            )));
        }
        if !seen.insert(secret.to_string()) {
            return Err(keys_error(&format!(
                "entry {n}: the same key is listed twice"
            )));
        }
        let mut policy = Policy::default();
        let mut label = format!("key#{n}");
        for option in parts.map(str::trim) {
            let (name, arg) = match option.split_once('=') {
                Some((name, arg)) => (name.trim().to_ascii_lowercase(), Some(arg.trim())),
                None => (option.to_ascii_lowercase(), None),
            };
            match (name.as_str(), arg) {
                ("read-only" | "readonly" | "ro", None) => policy.read_only = true,
                ("hosts", Some(patterns)) => {
                    let patterns: Vec<String> = patterns
                        .split('|')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(String::from)
                        .collect();
                    if patterns.is_empty() {
                        return Err(keys_error(&format!(
                            "entry {n}: hosts= needs at least one alias or glob pattern \
                             (hosts=web*|db1)"
                        )));
                    }
                    policy.hosts = Some(patterns);
                }
                ("commands", Some(mode)) => {
                    policy.commands = Some(mode.parse().map_err(|_| {
                        keys_error(&format!("entry {n}: commands= is allowlist, off or shell"))
                    })?)
                }
                ("name", Some(name))
                    if !name.is_empty()
                        && name.len() <= 64
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
                {
                    label = name.to_string();
                }
                ("name", _) => {
                    return Err(keys_error(&format!(
                        "entry {n}: name= is up to 64 letters, digits, '-', '_' or '.'"
                    )))
                }
                _ => {
                    return Err(keys_error(&format!(
                        "entry {n}: unknown option '{}' (options: read-only, hosts=PAT|PAT, \
                         commands=allowlist|off, name=LABEL)",
                        option.chars().take(40).collect::<String>()
                    )))
                }
            }
        }
        if keys.iter().any(|k| k.label == label) {
            return Err(keys_error(&format!(
                "entry {n}: the name '{label}' is used twice"
            )));
        }
        keys.push(KeySpec {
            secret: Secret(secret.to_string()),
            label,
            policy,
        });
    }
    Ok(keys)
}

fn keys_error(why: &str) -> Error {
    Error::config(format!("invalid SCOUT_API_KEYS (--api-keys): {why}"))
}

/// An origin as browsers send it, for comparison: lower case, no trailing slash.
pub fn normal_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<HttpConfig> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HttpConfig::from_lookup(|k| map.get(k).cloned(), &HashMap::new())
    }

    const KEY: &str = "0123456789abcdef0123";

    #[test]
    fn defaults_are_stdio_and_loopback_port_8000() {
        let c = config(&[]).unwrap();
        assert_eq!(c.transport, Transport::Stdio);
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8000));
        assert_eq!((c.rate_per_minute, c.burst), (60, 10));
        assert!(c.keys.is_empty());
        let c = config(&[("SCOUT_TRANSPORT", "http")]).unwrap();
        assert!(c.loopback);
    }

    #[test]
    fn a_non_loopback_address_without_keys_is_refused() {
        for host in ["0.0.0.0", "::", "192.0.2.1"] {
            let err = config(&[("SCOUT_TRANSPORT", "http"), ("SCOUT_HTTP_HOST", host)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("SCOUT_API_KEYS"), "{host}: {err}");
        }
        let c = config(&[
            ("SCOUT_TRANSPORT", "http"),
            ("SCOUT_HTTP_HOST", "0.0.0.0"),
            ("SCOUT_API_KEYS", KEY),
        ])
        .unwrap();
        assert!(!c.loopback);
        for host in ["127.0.0.1", "::1", "[::1]", "127.1.2.3", "localhost"] {
            let c = config(&[("SCOUT_TRANSPORT", "http"), ("SCOUT_HTTP_HOST", host)]).unwrap();
            assert!(c.loopback, "{host}");
        }
        // stdio never listens: its HTTP host is not checked.
        assert!(config(&[("SCOUT_HTTP_HOST", "0.0.0.0")]).is_ok());
    }

    #[test]
    fn keys_carry_policies_and_errors_never_show_a_key() {
        let keys = parse_keys(&format!(
            "{KEY}, {KEY}x:read-only:hosts=web*|db1:commands=off:name=ci ,{KEY}y:commands=allowlist"
        ))
        .unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0].label, "key#1");
        assert!(keys[0].policy.is_unrestricted());
        assert_eq!(keys[1].label, "ci");
        assert_eq!(
            keys[1].policy,
            Policy {
                read_only: true,
                hosts: Some(vec!["web*".into(), "db1".into()]),
                commands: Some(PolicyMode::Off),
            }
        );
        assert_eq!(
            keys[1].policy.to_string(),
            "read-only:hosts=web*|db1:commands=off"
        );
        assert_eq!(keys[2].policy.commands, Some(PolicyMode::Allowlist));
        assert!(!format!("{keys:?}").contains(KEY), "Debug shows no key");
        for bad in [
            "short".to_string(),
            format!("{KEY}:bogus"),
            format!("{KEY}:hosts="),
            format!("{KEY}:commands=yes"),
            format!("{KEY}:name=a b"),
            format!("{KEY},{KEY}"),
            format!("{KEY}:name=x,{KEY}z:name=x"),
            "0123456789abcdef\u{7f}0123".to_string(),
        ] {
            let err = parse_keys(&bad).unwrap_err().to_string();
            assert!(err.contains("SCOUT_API_KEYS"), "{bad}: {err}");
            assert!(!err.contains(KEY), "the error shows the key: {err}");
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (k, v) in [
            ("SCOUT_TRANSPORT", "carrier-pigeon"),
            ("SCOUT_HTTP_PORT", "65536"),
            ("SCOUT_HTTP_PORT", "x"),
            ("SCOUT_RATE_LIMIT_PER_MINUTE", "-1"),
            ("SCOUT_RATE_LIMIT_BURST", "0"),
            ("SCOUT_HTTP_ALLOWED_ORIGINS", "example.com"),
            ("SCOUT_HTTP_MAX_CONNECTIONS", "0"),
            ("SCOUT_HTTP_MAX_SESSIONS", "0"),
            ("SCOUT_HTTP_SESSION_TIMEOUT", "0"),
            ("SCOUT_HTTP_TIMEOUT", "forever"),
        ] {
            let err = config(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(k), "{k}: {err}");
        }
        let c = config(&[("SCOUT_HTTP_ALLOWED_ORIGINS", "https://App.example.com/ ,")]).unwrap();
        assert_eq!(c.allowed_origins, vec!["https://app.example.com"]);
    }
}
