//! OpenSSH client configuration (`~/.ssh/config`) resolution.
//!
//! The reference for every rule here is `ssh -G ALIAS -F FILE` from OpenSSH 9.2; the
//! integration test `tests/ssh_config_vs_openssh.rs` checks a corpus of configs against it.
//!
//! # Semantics (as OpenSSH does them)
//!
//! * **Lines.** Leading/trailing whitespace is ignored, `#` starts a comment at the start of a
//!   line or of a word (`Port 22 # x` is fine, `Port 22#x` is not), keywords are
//!   case-insensitive, `Keyword value`, `Keyword=value` and `Keyword = value` all work. Values are
//!   split into words like OpenSSH's `argv_split()`: `"…"` and `'…'` quote (also mid-word), and
//!   `\"`, `\'`, `\\`, `\ ` escape. An unclosed quote is an error.
//! * **Unknown keywords** are ignored silently (OpenSSH refuses them, but a keyword we do not use
//!   must not stop us from reading the user's config). Keywords we use are validated, and a bad
//!   value is a [`ConfigError`] naming the file and line, as OpenSSH refuses such a file too.
//! * **`Host p1 p2 !p3`** starts a block that applies when some positive pattern matches the
//!   alias and no negated one does. `*` and `?` are wildcards; matching is **case-sensitive** and
//!   done on the alias exactly as given (`Host Web` does not apply to `web`). Lines before the
//!   first `Host` apply to every host.
//! * **First value wins** for every keyword, except `IdentityFile`, which accumulates over all
//!   applying lines (exact duplicates dropped). `UserKnownHostsFile` takes several files on one
//!   line; the first applying line wins. `ConnectTimeout none` / `ServerAliveInterval none` do not
//!   count as a value (a later line still applies), while `ProxyJump none` does (it blocks later
//!   `ProxyJump` lines, and resolves to `None`).
//! * **`Include`** takes several paths, each may be a glob (`*`, `?`; hidden files only match a
//!   pattern starting with `.`; results sorted byte-wise). Relative paths are relative to
//!   `~/.ssh`. A path matching nothing is ignored. An included file inherits whether the
//!   enclosing block applies; its own `Host` lines switch blocks within it, and after it the
//!   enclosing block's state is restored. An `Include` inside a block that does not apply is read
//!   but nothing in it applies (OpenSSH's "parse only"). Nesting deeper than 16 is an error, as
//!   is an included file writable by group or others.
//! * **`Match`** is not supported: its block (up to the next `Host`/`Match`) never applies, and a
//!   warning names file and line.
//! * **`HostName`** may use `%h` (the alias) and `%%`; the result is lowercased, as `ssh` does.
//!   Without `HostName` the hostname is the lowercased alias.
//! * **Paths** (`IdentityFile`, `UserKnownHostsFile`, `IdentityAgent`): a leading `~` is the home
//!   directory (`~` alone gives `home/`, `~name` without a slash gives `home/name`, as OpenSSH's
//!   `tilde_expand_filename()`), then the tokens `%d` (home), `%u` (local user), `%h` (resolved
//!   hostname), `%r` (remote user), `%p` (port), `%n` (alias), `%%`, and `${VAR}` from the
//!   environment are expanded. `IdentityAgent none`, `SSH_AUTH_SOCK` and `$VAR` are kept as
//!   written, for the caller to interpret. `IdentityFile none` / `UserKnownHostsFile none` are kept
//!   as the literal path `none`, like `ssh -G` prints them.
//!
//! # Known differences from OpenSSH
//!
//! * `Match` blocks never apply (OpenSSH evaluates them), and an `Include` inside one is read
//!   only for [`SshConfig::aliases`].
//! * OpenSSH expands `~` in `Include` with `$HOME` but `~` and `%d` elsewhere with the home from
//!   the password database; we use [`ParseContext::home`] for both (they differ only when `$HOME`
//!   was changed).
//! * `~name/…` (another user's home) is not looked up: kept as written in paths, and skipped with
//!   a warning in `Include`.
//! * The tokens `%C %L %i %k %l` (OpenSSH accepts them in paths) are kept as written, with a
//!   warning. Unknown tokens and a trailing `%` are a [`ConfigError`] at load time for every block
//!   (OpenSSH fails only when connecting to a host that uses the line). A `${VAR}` that is unset
//!   when resolving leaves the whole value unexpanded (OpenSSH fails).
//! * Globs in `Include` support `*` and `?` but not `[…]` classes (taken literally).
//! * `Port` must be a number: service names (`Port ssh`) are a [`ConfigError`].
//! * `ProxyJump` is returned raw (first word) and not validated.
//! * Included files: the "writable by group or others" check is done, the "owned by root or
//!   the user" check is not (std has no `getuid`). At most 4096 files and 16 MiB per file are
//!   read (OpenSSH has no limits); more is a [`ConfigError`].
//! * The 100-`IdentityFile` limit of OpenSSH is not enforced.
//! * A line whose keyword we do not use is ignored even when OpenSSH would refuse it (unknown
//!   keyword, unclosed quote, missing value); see "Unknown keywords" above.
//! * [`SshConfig::empty`] takes the local user and home from `$USER`/`$LOGNAME` and `$HOME`
//!   (OpenSSH uses the password database); [`SshConfig::load`] and [`SshConfig::parse_str`] use
//!   the given [`ParseContext`].
//! * Invalid UTF-8 in a file is replaced by U+FFFD; text after a NUL byte on a line is ignored
//!   (as in C).

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// OpenSSH's READCONF_MAX_DEPTH.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Guard against include fan-out (a file including itself twice per level is 2^16 reads).
const MAX_FILES: usize = 4096;
/// Guard against `Include /dev/zero` and the like.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// OpenSSH's SSH_MAX_HOSTS_FILES.
const MAX_KNOWN_HOSTS_FILES: usize = 16;
/// OpenSSH parses times and counts into a C `int`.
const INT_MAX: u64 = i32::MAX as u64;
const DEFAULT_PORT: u16 = 22;
/// Tokens OpenSSH accepts in paths that we cannot compute with std alone: kept as written.
const UNSUPPORTED_TOKENS: &[char] = &['C', 'L', 'i', 'k', 'l'];
/// Tokens we expand in paths (values filled in by `resolve`).
const PATH_TOKENS: &[char] = &['d', 'u', 'h', 'r', 'p', 'n'];

/// What the parser needs to know about the local side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseContext {
    /// Local home directory: `~`, `%d`, and the base of relative `Include`s (`home/.ssh`).
    pub home: PathBuf,
    /// Local user name: `%u`, and the `User` when none is configured.
    pub local_user: String,
}

impl ParseContext {
    /// From `$HOME` and `$USER` (else `$LOGNAME`); `/` and `unknown` when unset.
    pub fn from_env() -> ParseContext {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
        let local_user = ["USER", "LOGNAME"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown".to_string());
        ParseContext { home, local_user }
    }
}

/// What one alias resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostEntry {
    /// The alias as given (what `Host` patterns are matched against).
    pub alias: String,
    /// Where to connect: `HostName` with tokens expanded, lowercased; else the alias.
    pub hostname: String,
    /// Remote user: `User`, else the local user.
    pub user: String,
    /// `Port`, else 22.
    pub port: u16,
    /// Empty when none is configured: the caller applies its defaults.
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly`: offer only agent keys matching the identity files.
    pub identities_only: bool,
    /// `IdentityAgent` as written (`none`, `SSH_AUTH_SOCK`, or a path).
    pub identity_agent: Option<String>,
    /// `ProxyJump` (`none` resolves to `None`).
    pub proxy_jump: Option<ProxyJump>,
    /// `ConnectTimeout` in seconds.
    pub connect_timeout: Option<u64>,
    /// `ServerAliveInterval` in seconds.
    pub server_alive_interval: Option<u64>,
    /// `ServerAliveCountMax`: silent keepalive intervals before a connection is given up.
    pub server_alive_count_max: Option<u32>,
    /// `StrictHostKeyChecking`.
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// Empty when unset.
    pub user_known_hosts_files: Vec<PathBuf>,
}

impl HostEntry {
    /// How long a connect to this host may take: its `ConnectTimeout`, else `default`.
    pub fn connect_limit(&self, default: Duration) -> Duration {
        self.connect_timeout
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(default)
    }

    /// Which setting [`HostEntry::connect_limit`] came from, for messages.
    pub fn connect_limit_name(&self) -> &'static str {
        if self.connect_timeout.is_some_and(|s| s > 0) {
            "ConnectTimeout in ssh_config"
        } else {
            "SCOUT_CONNECT_TIMEOUT"
        }
    }

    /// Silence before a keepalive: its `ServerAliveInterval`, else `default`.
    pub fn keepalive_interval(&self, default: Duration) -> Duration {
        self.server_alive_interval
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(default)
    }
}

/// How unknown and changed host keys are treated (`StrictHostKeyChecking`,
/// `SCOUT_STRICT_HOST_KEY_CHECKING`).
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
    /// Parses both scout's and OpenSSH's spellings (`ask` is `yes`: nobody can be asked).
    ///
    /// ```
    /// use scout_mcp::StrictHostKeyChecking;
    /// assert_eq!(StrictHostKeyChecking::parse("accept-new"), Some(StrictHostKeyChecking::AcceptNew));
    /// assert_eq!(StrictHostKeyChecking::parse("ask"), Some(StrictHostKeyChecking::Yes));
    /// assert_eq!(StrictHostKeyChecking::parse("maybe"), None);
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "ask" => Some(Self::Yes),
            "accept-new" => Some(Self::AcceptNew),
            "no" | "false" | "off" => Some(Self::No),
            _ => None,
        }
    }

    /// The value as `SCOUT_STRICT_HOST_KEY_CHECKING` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::AcceptNew => "accept-new",
            Self::No => "no",
        }
    }
}

impl fmt::Display for StrictHostKeyChecking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A config file the user must fix.
#[derive(Debug)]
pub struct ConfigError {
    /// The file that holds the problem.
    pub path: PathBuf,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.path.display(), self.message),
            n => write!(f, "{}:{}: {}", self.path.display(), n, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A parsed config: the lines that matter, in order, with includes inlined per file.
#[derive(Debug, Clone)]
pub struct SshConfig {
    items: Vec<Item>,
    warnings: Vec<String>,
    ctx: ParseContext,
}

#[derive(Debug, Clone)]
enum Item {
    /// Raw patterns, `!` kept.
    Host(Vec<String>),
    Match,
    Set(Setting),
    /// One entry per included file, in OpenSSH's order.
    Include(Vec<Vec<Item>>),
}

/// A validated value. Paths keep their raw text: tokens depend on the resolved host.
#[derive(Debug, Clone)]
enum Setting {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    IdentitiesOnly(bool),
    IdentityAgent(String),
    ProxyJump(String),
    /// `None` is `none`: not a value, a later line may still set one.
    ConnectTimeout(Option<u64>),
    ServerAliveInterval(Option<u64>),
    ServerAliveCountMax(u32),
    StrictHostKeyChecking(StrictHostKeyChecking),
    UserKnownHostsFiles(Vec<String>),
}

impl SshConfig {
    /// No hosts; defaults from [`ParseContext::from_env`].
    pub fn empty() -> SshConfig {
        SshConfig::empty_with(ParseContext::from_env())
    }

    /// No hosts, with the given local context.
    pub fn empty_with(ctx: ParseContext) -> SshConfig {
        SshConfig {
            items: Vec::new(),
            warnings: Vec::new(),
            ctx,
        }
    }

    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path, ctx: &ParseContext) -> Result<SshConfig, ConfigError> {
        match read_text(path) {
            Ok(None) => Ok(SshConfig::empty_with(ctx.clone())),
            Ok(Some(text)) => SshConfig::parse_str(&text, path, ctx),
            Err(e) => Err(ConfigError {
                path: path.to_path_buf(),
                line: 0,
                message: format!(
                    "cannot read the SSH config: {e}; fix its permissions or point to another file"
                ),
            }),
        }
    }

    /// Parses `text` as if read from `origin` (used in messages only).
    pub fn parse_str(
        text: &str,
        origin: &Path,
        ctx: &ParseContext,
    ) -> Result<SshConfig, ConfigError> {
        let mut parser = Parser {
            ctx,
            warnings: Vec::new(),
            files: 1,
        };
        let items = parser.parse_text(text, origin, 0)?;
        Ok(SshConfig {
            items,
            warnings: parser.warnings,
            ctx: ctx.clone(),
        })
    }

    /// Every concrete `Host` pattern (no wildcard, no negation), sorted and de-duplicated.
    pub fn aliases(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_aliases(&self.items, &mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Non-fatal remarks found while parsing, as `file:line: message`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What `ssh ALIAS` would use.
    pub fn resolve(&self, alias: &str) -> HostEntry {
        let mut got = Collected::default();
        let mut active = true;
        walk(&self.items, alias, &mut got, &mut active, false);
        got.into_entry(alias, &self.ctx)
    }
}

fn collect_aliases(items: &[Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Host(patterns) => out.extend(patterns.iter().filter(|p| is_concrete(p)).cloned()),
            Item::Include(files) => files.iter().for_each(|f| collect_aliases(f, out)),
            Item::Match | Item::Set(_) => {}
        }
    }
}

fn is_concrete(pattern: &str) -> bool {
    !pattern.starts_with('!') && !pattern.contains(['*', '?'])
}

// ---------------------------------------------------------------------------------------------
// Resolution

/// Mirrors OpenSSH's `activep` handling; `never` is its SSHCONF_NEVERMATCH (an `Include` read
/// from a block that did not apply).
fn walk(items: &[Item], alias: &str, got: &mut Collected, active: &mut bool, never: bool) {
    for item in items {
        match item {
            Item::Host(patterns) => *active = !never && host_matches(patterns, alias),
            Item::Match => *active = false,
            Item::Set(setting) if *active => got.apply(setting),
            Item::Set(_) => {}
            Item::Include(files) => {
                let outer = *active;
                for file in files {
                    walk(file, alias, got, active, never || !outer);
                    // An included file's `Host` lines must not leak into the including file.
                    *active = outer;
                }
            }
        }
    }
}

/// Whether `alias` matches a list of `Host`-line patterns: one positive pattern (`*`, `?`)
/// matches and no negated one (`!pattern`) does. Also the matcher of the allow/block lists and
/// of broadcast host patterns.
pub(crate) fn host_matches(patterns: &[String], alias: &str) -> bool {
    let mut hit = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard_match(negated.as_bytes(), alias.as_bytes()) {
                return false;
            }
        } else if wildcard_match(pattern.as_bytes(), alias.as_bytes()) {
            hit = true;
        }
    }
    hit
}

/// `*` and `?` over bytes, like OpenSSH's `match_pattern()`; iterative so that no pattern can
/// blow the stack or take exponential time.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    backtrack = Some((star, from + 1));
                    p = star + 1;
                    t = from + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// A host's `ProxyJump`: the jump hosts as written, parsed once when the host is resolved. A
/// list that does not parse is kept with its reason, which the host's connect reports (the
/// other hosts are not affected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyJump {
    text: String,
    hops: Result<Vec<Hop>, String>,
}

impl ProxyJump {
    /// `None` for an empty value or `none`.
    fn parse(text: &str) -> Option<ProxyJump> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("none") {
            return None;
        }
        let hops = text.split(',').map(|hop| parse_hop(hop.trim())).collect();
        Some(ProxyJump {
            text: text.to_string(),
            hops,
        })
    }

    /// The value as written in ssh_config.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The hops in order, or why the value cannot be used.
    pub(crate) fn hops(&self) -> Result<&[Hop], &str> {
        match &self.hops {
            Ok(hops) => Ok(hops),
            Err(why) => Err(why),
        }
    }
}

impl std::fmt::Display for ProxyJump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One hop of a `ProxyJump` list: `[ssh://][user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hop {
    pub(crate) user: Option<String>,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
}

fn parse_hop(text: &str) -> Result<Hop, String> {
    let text = text.strip_prefix("ssh://").unwrap_or(text);
    let (user, rest) = match text.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err(format!("'{text}' has an empty user")),
        None => (None, text),
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("'{text}': missing ']'"))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (rest, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("'{text}' has no valid host name"));
    }
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("'{text}': bad port '{p}'"))
        })
        .transpose()?;
    Ok(Hop {
        user,
        host: host.to_string(),
        port,
    })
}

#[derive(Default)]
struct Collected {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    identities_only: Option<bool>,
    identity_agent: Option<String>,
    proxy_jump: Option<String>,
    connect_timeout: Option<u64>,
    server_alive_interval: Option<u64>,
    server_alive_count_max: Option<u32>,
    strict: Option<StrictHostKeyChecking>,
    known_hosts: Option<Vec<String>>,
}

fn first<T: Clone>(slot: &mut Option<T>, value: &T) {
    if slot.is_none() {
        *slot = Some(value.clone());
    }
}

impl Collected {
    fn apply(&mut self, setting: &Setting) {
        match setting {
            Setting::HostName(v) => first(&mut self.hostname, v),
            Setting::User(v) => first(&mut self.user, v),
            Setting::Port(v) => first(&mut self.port, v),
            Setting::IdentityFile(v) => {
                if !self.identity_files.contains(v) {
                    self.identity_files.push(v.clone());
                }
            }
            Setting::IdentitiesOnly(v) => first(&mut self.identities_only, v),
            Setting::IdentityAgent(v) => first(&mut self.identity_agent, v),
            Setting::ProxyJump(v) => first(&mut self.proxy_jump, v),
            Setting::ConnectTimeout(Some(v)) => first(&mut self.connect_timeout, v),
            Setting::ServerAliveInterval(Some(v)) => first(&mut self.server_alive_interval, v),
            Setting::ConnectTimeout(None) | Setting::ServerAliveInterval(None) => {}
            Setting::ServerAliveCountMax(v) => first(&mut self.server_alive_count_max, v),
            Setting::StrictHostKeyChecking(v) => first(&mut self.strict, v),
            Setting::UserKnownHostsFiles(v) => first(&mut self.known_hosts, v),
        }
    }

    fn into_entry(self, alias: &str, ctx: &ParseContext) -> HostEntry {
        let hostname = resolve_hostname(self.hostname.as_deref(), alias);
        let user = self.user.unwrap_or_else(|| ctx.local_user.clone());
        let port = self.port.unwrap_or(DEFAULT_PORT);
        let home = ctx.home.to_string_lossy();
        let port_text = port.to_string();
        let tokens = [
            ('d', home.as_ref()),
            ('u', ctx.local_user.as_str()),
            ('h', hostname.as_str()),
            ('r', user.as_str()),
            ('p', port_text.as_str()),
            ('n', alias),
        ];
        let path = |raw: &String| PathBuf::from(expand_path(raw, &home, &tokens));
        HostEntry {
            identity_files: self.identity_files.iter().map(path).collect(),
            identities_only: self.identities_only.unwrap_or(false),
            identity_agent: self.identity_agent.map(|a| expand_agent(a, &home, &tokens)),
            proxy_jump: self.proxy_jump.as_deref().and_then(ProxyJump::parse),
            connect_timeout: self.connect_timeout,
            server_alive_interval: self.server_alive_interval,
            server_alive_count_max: self.server_alive_count_max,
            strict_host_key_checking: self.strict,
            user_known_hosts_files: self
                .known_hosts
                .unwrap_or_default()
                .iter()
                .map(path)
                .collect(),
            alias: alias.to_string(),
            hostname,
            user,
            port,
        }
    }
}

/// `ssh` expands `%h` in HostName with the alias as typed, then lowercases the result.
fn resolve_hostname(configured: Option<&str>, alias: &str) -> String {
    let name = match configured {
        Some(raw) => expand_tokens(raw, &[('h', alias)], &[], false, &mut Vec::new(), env_var)
            .unwrap_or_else(|_| raw.to_string()),
        None => alias.to_string(),
    };
    name.to_ascii_lowercase()
}

/// `none`, `SSH_AUTH_SOCK` and `$VAR` are instructions for the caller, not paths.
fn expand_agent(raw: String, home: &str, tokens: &[(char, &str)]) -> String {
    let legacy_env = raw.starts_with('$') && !raw.starts_with("${");
    if raw == "none" || raw == "SSH_AUTH_SOCK" || legacy_env {
        return raw;
    }
    expand_path(&raw, home, tokens)
}

/// Tilde first, then tokens, in that order like `ssh`. Only an unset `${VAR}` can fail here
/// (syntax was checked at load); the value is then kept unexpanded rather than guessed.
fn expand_path(raw: &str, home: &str, tokens: &[(char, &str)]) -> String {
    let tilde = expand_tilde(raw, home);
    expand_tokens(
        &tilde,
        tokens,
        UNSUPPORTED_TOKENS,
        true,
        &mut Vec::new(),
        env_var,
    )
    .unwrap_or(tilde)
}

fn env_var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// OpenSSH's `tilde_expand_filename()` for the current user; `~name/…` is kept as written.
fn expand_tilde(raw: &str, home: &str) -> String {
    let Some(rest) = raw.strip_prefix('~') else {
        return raw.to_string();
    };
    if rest.find('/').is_some_and(|slash| slash > 0) {
        return raw.to_string();
    }
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let sep = if home.ends_with('/') { "" } else { "/" };
    format!("{home}{sep}{rest}")
}

/// Expands `%x` tokens (and `${VAR}` when `dollar`). Tokens in `keep` are copied as written and
/// recorded in `kept`. Errors say what is wrong with the text.
fn expand_tokens(
    raw: &str,
    tokens: &[(char, &str)],
    keep: &[char],
    dollar: bool,
    kept: &mut Vec<char>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '$' && dollar && chars.as_str().starts_with('{') {
            let rest = &chars.as_str()[1..];
            let end = rest.find('}').ok_or("unclosed \"${\"; write ${NAME}")?;
            let name = &rest[..end];
            if !is_env_name(name) {
                return Err(format!(
                    "\"${{{name}}}\" is not a valid environment variable name"
                ));
            }
            let value = env(name).ok_or(format!("environment variable {name} is not set"))?;
            out.push_str(&value);
            chars = rest[end + 1..].chars();
            continue;
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => return Err("a lone % ends the value; write %% for a percent sign".into()),
            Some('%') => out.push('%'),
            Some(t) => match tokens.iter().find(|(k, _)| *k == t) {
                Some((_, value)) => out.push_str(value),
                None if keep.contains(&t) => {
                    kept.push(t);
                    out.push('%');
                    out.push(t);
                }
                None => return Err(format!("unknown token %{t}; write %% for a percent sign")),
            },
        }
    }
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// ---------------------------------------------------------------------------------------------
// Parsing

struct Parser<'a> {
    ctx: &'a ParseContext,
    warnings: Vec<String>,
    /// Files read so far, against MAX_FILES.
    files: usize,
}

/// Where a line comes from, to build errors and warnings.
struct Loc<'a> {
    path: &'a Path,
    line: usize,
}

impl Loc<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_path_buf(),
            line: self.line,
            message: message.into(),
        }
    }

    fn note(&self, message: &str) -> String {
        format!("{}:{}: {}", self.path.display(), self.line, message)
    }
}

impl Parser<'_> {
    fn parse_text(
        &mut self,
        text: &str,
        origin: &Path,
        depth: usize,
    ) -> Result<Vec<Item>, ConfigError> {
        let mut items = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let at = Loc {
                path: origin,
                line: index + 1,
            };
            // C stops reading a line at a NUL byte.
            let line = raw.split('\0').next().unwrap_or_default();
            if let Some(item) = self.parse_line(line, &at, depth)? {
                items.push(item);
            }
        }
        Ok(items)
    }

    fn parse_line(
        &mut self,
        line: &str,
        at: &Loc,
        depth: usize,
    ) -> Result<Option<Item>, ConfigError> {
        let Some((keyword, rest)) = split_keyword(line) else {
            return Ok(None);
        };
        let Some(keyword) = canonical(&keyword) else {
            return Ok(None);
        };
        if rest.is_empty() {
            return Err(at.error(format!("{keyword} needs a value")));
        }
        let args = split_args(rest).ok_or_else(|| {
            at.error("unbalanced quotes: close the quote, or escape it with a backslash")
        })?;
        let item = match keyword {
            "Host" => Item::Host(host_patterns(args).map_err(|m| at.error(m))?),
            "Match" => {
                let note = "Match blocks are not supported; skipped";
                self.warnings.push(at.note(note));
                Item::Match
            }
            "Include" => self.include(&args, at, depth)?,
            _ => Item::Set(self.setting(keyword, &args, at)?),
        };
        Ok(Some(item))
    }

    fn setting(
        &mut self,
        keyword: &str,
        args: &[String],
        at: &Loc,
    ) -> Result<Setting, ConfigError> {
        let setting = parse_setting(keyword, args).map_err(|m| at.error(m))?;
        let mut kept = Vec::new();
        check_tokens(&setting, &mut kept).map_err(|m| at.error(format!("{keyword}: {m}")))?;
        for token in kept {
            let note = format!("%{token} in {keyword} is not supported; left as is");
            self.warnings.push(at.note(&note));
        }
        if let Setting::IdentityFile(raw) | Setting::IdentityAgent(raw) = &setting {
            self.warn_other_home(raw, keyword, at);
        }
        if let Setting::UserKnownHostsFiles(files) = &setting {
            files
                .iter()
                .for_each(|f| self.warn_other_home(f, keyword, at));
        }
        Ok(setting)
    }

    fn warn_other_home(&mut self, raw: &str, keyword: &str, at: &Loc) {
        if expand_tilde(raw, "") == raw && raw.starts_with('~') {
            let note = format!("~user in {keyword} is not supported; left as is");
            self.warnings.push(at.note(&note));
        }
    }

    fn include(&mut self, args: &[String], at: &Loc, depth: usize) -> Result<Item, ConfigError> {
        let mut files = Vec::new();
        for arg in args {
            if arg.is_empty() {
                return Err(at.error("Include has an empty path"));
            }
            let Some(pattern) = include_pattern(arg, &self.ctx.home) else {
                let note = format!("Include {arg}: ~user paths are not supported; skipped");
                self.warnings.push(at.note(&note));
                continue;
            };
            for path in glob(&pattern) {
                if let Some(items) = self.read_included(&path, at, depth + 1)? {
                    files.push(items);
                }
            }
        }
        Ok(Item::Include(files))
    }

    fn read_included(
        &mut self,
        path: &Path,
        at: &Loc,
        depth: usize,
    ) -> Result<Option<Vec<Item>>, ConfigError> {
        if depth > MAX_INCLUDE_DEPTH {
            let msg = "Include nested more than 16 deep: a file probably includes itself";
            return Err(at.error(msg));
        }
        self.files += 1;
        if self.files > MAX_FILES {
            return Err(at.error(format!("more than {MAX_FILES} files included")));
        }
        check_permissions(path).map_err(|m| at.error(m))?;
        match read_text(path) {
            Ok(None) => Ok(None),
            Ok(Some(text)) => Ok(Some(self.parse_text(&text, path, depth)?)),
            Err(e) => Err(at.error(format!("cannot read included {}: {e}", path.display()))),
        }
    }
}

/// The keywords we use, spelled as in ssh_config(5) for messages.
const KNOWN: &[&str] = &[
    "Host",
    "Match",
    "Include",
    "HostName",
    "User",
    "Port",
    "IdentityFile",
    "IdentitiesOnly",
    "IdentityAgent",
    "ProxyJump",
    "ConnectTimeout",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "StrictHostKeyChecking",
    "UserKnownHostsFile",
];

fn canonical(keyword: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(keyword))
}

fn host_patterns(args: Vec<String>) -> Result<Vec<String>, String> {
    if args.is_empty() {
        return Err("Host needs at least one pattern".into());
    }
    if args.iter().any(String::is_empty) {
        return Err("Host has an empty pattern".into());
    }
    Ok(args)
}

fn parse_setting(keyword: &str, args: &[String]) -> Result<Setting, String> {
    if keyword == "UserKnownHostsFile" {
        return known_hosts_files(args).map(Setting::UserKnownHostsFiles);
    }
    if keyword == "ProxyJump" {
        // ssh reads ProxyJump from the raw line; the first word is what it uses in practice.
        return first_word(keyword, args).map(|v| Setting::ProxyJump(v.to_string()));
    }
    let value = single(keyword, args)?;
    Ok(match keyword {
        "HostName" => Setting::HostName(value.to_string()),
        "User" => Setting::User(value.to_string()),
        "Port" => Setting::Port(parse_port(value)?),
        "IdentityFile" => Setting::IdentityFile(value.to_string()),
        "IdentitiesOnly" => Setting::IdentitiesOnly(parse_bool(keyword, value)?),
        "IdentityAgent" => Setting::IdentityAgent(check_agent(value)?),
        "ConnectTimeout" => Setting::ConnectTimeout(parse_time_or_none(keyword, value)?),
        "ServerAliveInterval" => Setting::ServerAliveInterval(parse_time_or_none(keyword, value)?),
        "ServerAliveCountMax" => Setting::ServerAliveCountMax(parse_count(keyword, value)?),
        "StrictHostKeyChecking" => Setting::StrictHostKeyChecking(parse_strict(value)?),
        other => return Err(format!("internal: unhandled keyword {other}")),
    })
}

fn first_word<'a>(keyword: &str, args: &'a [String]) -> Result<&'a str, String> {
    match args.first() {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{keyword} needs a value")),
    }
}

fn single<'a>(keyword: &str, args: &'a [String]) -> Result<&'a str, String> {
    let value = first_word(keyword, args)?;
    if args.len() > 1 {
        return Err(format!(
            "{keyword} takes one value but has {}; quote it if it contains spaces",
            args.len()
        ));
    }
    Ok(value)
}

fn known_hosts_files(args: &[String]) -> Result<Vec<String>, String> {
    if args.is_empty() || args.iter().any(String::is_empty) {
        return Err("UserKnownHostsFile has an empty path".into());
    }
    if args.len() > 1 && args.iter().any(|a| a.eq_ignore_ascii_case("none")) {
        return Err("UserKnownHostsFile none must be the only value on its line".into());
    }
    if args.len() > MAX_KNOWN_HOSTS_FILES {
        return Err(format!(
            "UserKnownHostsFile lists {} files; at most {MAX_KNOWN_HOSTS_FILES} are allowed",
            args.len()
        ));
    }
    Ok(args.to_vec())
}

/// Digits with an optional `+`, like C's `strtonum()`; `None` when not a number or above `max`.
fn parse_number(text: &str, max: u64) -> Option<u64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().filter(|n| *n <= max)
}

fn parse_port(value: &str) -> Result<u16, String> {
    parse_number(value, u64::from(u16::MAX))
        .filter(|n| *n >= 1)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("bad port '{value}': Port must be a number from 1 to 65535"))
}

fn parse_bool(keyword: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("{keyword} must be yes or no, not '{value}'")),
    }
}

fn parse_count(keyword: &str, value: &str) -> Result<u32, String> {
    parse_number(value, INT_MAX)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{keyword} must be a whole number, not '{value}'"))
}

fn parse_strict(value: &str) -> Result<StrictHostKeyChecking, String> {
    if let Some(mode) = StrictHostKeyChecking::parse(value) {
        return Ok(mode);
    }
    Err(format!(
        "StrictHostKeyChecking must be one of yes, no, ask, accept-new, off; not '{value}'"
    ))
}

fn parse_time_or_none(keyword: &str, value: &str) -> Result<Option<u64>, String> {
    if value == "none" {
        return Ok(None);
    }
    parse_time(value).map(Some).ok_or_else(|| {
        format!("{keyword} must be seconds or a time like 1m30s (units s m h d w), not '{value}'")
    })
}

/// OpenSSH's `convtime()`: a sum of `<number>[smhdwSMHDW]`, at most INT_MAX seconds.
fn parse_time(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let (mut total, mut number) = (0u64, None::<u64>);
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(u64::from(d))?,
            );
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    total = total.checked_add(number.unwrap_or(0))?;
    (total <= INT_MAX).then_some(total)
}

/// Mirrors ssh's load-time check on IdentityAgent `$NAME`.
fn check_agent(value: &str) -> Result<String, String> {
    if let Some(name) = value.strip_prefix('$').filter(|n| !n.starts_with('{')) {
        if !is_env_name(name) {
            return Err(format!(
                "IdentityAgent: '{name}' is not a valid environment name"
            ));
        }
    }
    Ok(value.to_string())
}

/// Validates token syntax at load time, so a typo is reported with its line.
fn check_tokens(setting: &Setting, kept: &mut Vec<char>) -> Result<(), String> {
    let dummy: Vec<(char, &str)> = PATH_TOKENS.iter().map(|&t| (t, "")).collect();
    let check_path = |raw: &str, kept: &mut Vec<char>| {
        expand_tokens(raw, &dummy, UNSUPPORTED_TOKENS, true, kept, |_| {
            Some(String::new())
        })
    };
    match setting {
        Setting::HostName(raw) => {
            expand_tokens(raw, &[('h', "")], &[], false, kept, |_| None).map(drop)
        }
        Setting::IdentityFile(raw) => check_path(raw, kept).map(drop),
        Setting::IdentityAgent(raw) if raw.starts_with('$') && !raw.starts_with("${") => Ok(()),
        Setting::IdentityAgent(raw) => check_path(raw, kept).map(drop),
        Setting::UserKnownHostsFiles(files) => {
            files.iter().try_for_each(|f| check_path(f, kept).map(drop))
        }
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Lexing (OpenSSH's strdelim() and argv_split())

const WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// The lowercased keyword and the rest of the line (leading whitespace removed); `None` for
/// blank lines, comments, and lines OpenSSH also skips (an unclosed quoted keyword).
fn split_keyword(line: &str) -> Option<(String, &str)> {
    let line = line.trim_end_matches([' ', '\t', '\r', '\n', '\x0c']);
    let (mut keyword, mut rest) = take_keyword(line.trim_start_matches(WHITESPACE))?;
    if keyword.is_empty() {
        // A line starting with `=`: OpenSSH takes the next word as keyword.
        (keyword, rest) = take_keyword(rest)?;
    }
    if keyword.is_empty() || keyword.starts_with('#') {
        return None;
    }
    Some((
        keyword.to_ascii_lowercase(),
        rest.trim_start_matches(WHITESPACE),
    ))
}

/// One `strdelim()` step: a word ended by whitespace or `=` (at most one `=` is eaten), or a
/// double-quoted part.
fn take_keyword(text: &str) -> Option<(String, &str)> {
    let Some(at) = text.find([' ', '\t', '\r', '\n', '"', '=']) else {
        return Some((text.to_string(), ""));
    };
    let (head, tail) = (&text[..at], &text[at + 1..]);
    if text[at..].starts_with('"') {
        let close = tail.find('"')?;
        let rest = tail[close + 1..].trim_start_matches(WHITESPACE);
        return Some((format!("{head}{}", &tail[..close]), rest));
    }
    let rest = tail.trim_start_matches(WHITESPACE);
    let rest = match text[at..].starts_with('=') {
        true => rest,
        false => rest
            .strip_prefix('=')
            .map_or(rest, |r| r.trim_start_matches(WHITESPACE)),
    };
    Some((head.to_string(), rest))
}

/// OpenSSH's `argv_split(…, terminate_on_comment=1)`; `None` on an unclosed quote.
fn split_args(text: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        match chars.peek() {
            None | Some('#') => return Some(args),
            Some(_) => args.push(split_word(&mut chars)?),
        }
    }
}

fn split_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut word = String::new();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next_if(|c| quote.is_some() || (*c != ' ' && *c != '\t')) {
        match (c, quote) {
            ('\\', _) => {
                let escapable =
                    |n: &char| matches!(n, '\'' | '"' | '\\') || (quote.is_none() && *n == ' ');
                word.push(chars.next_if(escapable).unwrap_or('\\'));
            }
            ('"' | '\'', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            (c, _) => word.push(c),
        }
    }
    quote.is_none().then_some(word)
}

// ---------------------------------------------------------------------------------------------
// Files

/// The file's text; `None` when missing or a directory (OpenSSH reads nothing from those).
fn read_text(path: &Path) -> io::Result<Option<String>> {
    if path.is_dir() {
        return Ok(None);
    }
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let msg = format!("larger than {MAX_FILE_BYTES} bytes; this is not an SSH config");
        return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// OpenSSH refuses included files others could write to (they could redirect connections).
#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(path) {
        Ok(meta) if meta.mode() & 0o022 != 0 => Err(format!(
            "{} is writable by group or others; run: chmod go-w {}",
            path.display(),
            path.display()
        )),
        _ => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// The path glob() sees: `~` is the home, relative paths live in `~/.ssh`. `None` for `~name`.
fn include_pattern(arg: &str, home: &Path) -> Option<String> {
    let home = home.to_string_lossy();
    if arg == "~" {
        return Some(home.into_owned());
    }
    if let Some(rest) = arg.strip_prefix("~/") {
        return Some(format!("{home}/{rest}"));
    }
    if arg.starts_with('~') {
        return None;
    }
    if arg.starts_with('/') {
        return Some(arg.to_string());
    }
    Some(format!("{home}/.ssh/{arg}"))
}

/// A small glob(3): `*` and `?` in any path component, hidden names only for a pattern that
/// starts with `.`, existing paths only, sorted byte-wise as glob() does in the C locale.
fn glob(pattern: &str) -> Vec<PathBuf> {
    let root = if pattern.starts_with('/') { "/" } else { "" };
    let mut found = vec![PathBuf::from(root)];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        found = found
            .iter()
            .flat_map(|base| expand_component(base, part))
            .collect();
        if found.is_empty() {
            break;
        }
    }
    found.retain(|p| !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_ok());
    found.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    found
}

fn expand_component(base: &Path, part: &str) -> Vec<PathBuf> {
    if !part.contains(['*', '?']) {
        return vec![base.join(part)];
    }
    let dir = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|name| {
            let name = name.to_string_lossy();
            (part.starts_with('.') || !name.starts_with('.'))
                && wildcard_match(part.as_bytes(), name.as_bytes())
        })
        .map(|name| base.join(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ctx_at(home: &Path) -> ParseContext {
        ParseContext {
            home: home.to_path_buf(),
            local_user: "alice".into(),
        }
    }

    fn ctx() -> ParseContext {
        ctx_at(Path::new("/home/alice"))
    }

    fn parse(text: &str) -> SshConfig {
        match SshConfig::parse_str(text, Path::new("cfg"), &ctx()) {
            Ok(c) => c,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn parse_err(text: &str) -> ConfigError {
        match SshConfig::parse_str(text, Path::new("cfg"), &ctx()) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e,
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let dir =
                std::env::temp_dir().join(format!("sshconfig-unit-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join(".ssh")).expect("create temp dir");
            TempDir(dir)
        }

        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let path = self.0.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("create parent");
            }
            fs::write(&path, text).expect("write file");
            path
        }

        fn load(&self, rel: &str) -> Result<SshConfig, ConfigError> {
            SshConfig::load(&self.0.join(rel), &ctx_at(&self.0))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn defaults_without_config() {
        let e = parse("").resolve("web");
        assert_eq!(e.alias, "web");
        assert_eq!(e.hostname, "web");
        assert_eq!(e.user, "alice");
        assert_eq!(e.port, 22);
        assert!(e.identity_files.is_empty());
        assert!(!e.identities_only);
        assert_eq!(e.identity_agent, None);
        assert_eq!(e.proxy_jump, None);
        assert_eq!(e.connect_timeout, None);
        assert_eq!(e.strict_host_key_checking, None);
        assert!(e.user_known_hosts_files.is_empty());
    }

    #[test]
    fn line_syntax_variants() {
        let c = parse(
            "# comment\n\n  Host web   # trailing comment\n\tPORT=2200\n  user = bob\n HostName =h.example\n",
        );
        let e = c.resolve("web");
        assert_eq!(
            (e.port, e.user.as_str(), e.hostname.as_str()),
            (2200, "bob", "h.example")
        );
        let e = parse("Host web\r\n  \"User\" bob\r\n Port\t7 \x0c\n").resolve("web");
        assert_eq!((e.user.as_str(), e.port), ("bob", 7));
    }

    #[test]
    fn quoting_and_escapes() {
        let e =
            parse("Host a\n User \"b c\"\n IdentityFile 'x y'\n HostName a\"b c\"d\n").resolve("a");
        assert_eq!(e.user, "b c");
        assert_eq!(e.identity_files, vec![PathBuf::from("x y")]);
        assert_eq!(e.hostname, "ab cd");
        let e = parse("Host a\n User a\\ b\n HostName h\\\"x\n").resolve("a");
        assert_eq!((e.user.as_str(), e.hostname.as_str()), ("a b", "h\"x"));
        assert_eq!(
            split_args("x\\q \"#y\" #z"),
            Some(vec!["x\\q".into(), "#y".into()])
        );
    }

    #[test]
    fn comment_needs_word_start() {
        assert_eq!(parse("Port 5 # c\n").resolve("a").port, 5);
        assert!(parse_err("Port 5#c\n").message.contains("bad port"));
    }

    #[test]
    fn unknown_keywords_are_ignored_even_when_odd() {
        let c = parse("Bogus 1\nForwardAgent yes\nWeird \"unclosed\nAlone\nHost a\n Port 3\n");
        assert_eq!(c.resolve("a").port, 3);
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn bad_values_are_errors_with_line() {
        for (text, needle) in [
            ("Port abc", "bad port"),
            ("Port 70000", "bad port"),
            ("Port 0", "bad port"),
            ("Port 22 23", "takes one value"),
            ("Port", "needs a value"),
            ("Port=", "needs a value"),
            ("User \"\"", "needs a value"),
            ("User \"bob", "unbalanced quotes"),
            ("Host", "needs a value"),
            ("Host \"\"", "empty pattern"),
            ("ConnectTimeout 1x", "ConnectTimeout"),
            ("ConnectTimeout 2147483648", "ConnectTimeout"),
            ("ServerAliveCountMax -1", "whole number"),
            ("IdentitiesOnly maybe", "yes or no"),
            ("StrictHostKeyChecking maybe", "StrictHostKeyChecking"),
            ("UserKnownHostsFile a none", "only value"),
            ("HostName %r.x", "unknown token %r"),
            ("IdentityFile ~/k%", "lone %"),
            ("IdentityFile ${X", "unclosed"),
            ("IdentityAgent $1x", "environment name"),
        ] {
            let e = parse_err(&format!("# first\n{text}\n"));
            assert_eq!((e.path.as_path(), e.line), (Path::new("cfg"), 2), "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
            assert!(e.to_string().starts_with("cfg:2: "), "{e}");
        }
    }

    #[test]
    fn ports_and_numbers() {
        assert_eq!(parse("Port 65535").resolve("a").port, 65535);
        assert_eq!(parse("Port 0022").resolve("a").port, 22);
        let e = parse("ConnectTimeout 1h1m1S\nServerAliveInterval 30\nServerAliveCountMax 0\n")
            .resolve("a");
        assert_eq!(e.connect_timeout, Some(3661));
        assert_eq!(e.server_alive_interval, Some(30));
        assert_eq!(e.server_alive_count_max, Some(0));
    }

    #[test]
    fn host_patterns_and_negation() {
        let c = parse("Host *.prod !db.prod\n Port 1\nHost d?\n Port 2\nHost !x *\n Port 3\n");
        assert_eq!(c.resolve("web.prod").port, 1);
        assert_eq!(c.resolve("db.prod").port, 3);
        assert_eq!(c.resolve("d1").port, 2);
        assert_eq!(c.resolve("d12").port, 3);
        assert_eq!(c.resolve("x").port, 22);
        assert_eq!(parse("Host !*\n Port 5\n").resolve("a").port, 22);
    }

    #[test]
    fn host_matching_is_case_sensitive_but_hostname_lowercased() {
        let c = parse("Host Web\n Port 5\n");
        assert_eq!(c.resolve("Web").port, 5);
        assert_eq!(c.resolve("Web").hostname, "web");
        assert_eq!(c.resolve("web").port, 22);
        let e = parse("Host a\n HostName %h.EXAMPLE.com\n").resolve("a");
        assert_eq!(e.hostname, "a.example.com");
        assert_eq!(parse("HostName x%%y").resolve("a").hostname, "x%y");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*", b""));
        assert!(wildcard_match(b"a*b*c", b"aXbYbc"));
        assert!(!wildcard_match(b"a*b", b"abc"));
        assert!(wildcard_match(b"??", b"ab"));
        assert!(!wildcard_match(b"?", b""));
        assert!(wildcard_match(b"**a", b"ba"));
        let long = "*a".repeat(200);
        assert!(!wildcard_match(
            long.as_bytes(),
            "b".repeat(5000).as_bytes()
        ));
    }

    #[test]
    fn first_value_wins_and_global_defaults() {
        let c = parse("User top\nHost a\n User a\n Port 1\nHost *\n Port 2\n User all\n");
        let e = c.resolve("a");
        assert_eq!((e.user.as_str(), e.port), ("top", 1));
        assert_eq!(c.resolve("b").port, 2);
    }

    #[test]
    fn identity_files_accumulate_without_duplicates() {
        let c = parse("Host a\n IdentityFile k1\n IdentityFile k2\n IdentityFile k1\nHost *\n IdentityFile k3\n IdentityFile k2\n");
        let got = c.resolve("a").identity_files;
        assert_eq!(
            got,
            vec![
                PathBuf::from("k1"),
                PathBuf::from("k2"),
                PathBuf::from("k3")
            ]
        );
    }

    #[test]
    fn known_hosts_files_several_first_line_wins() {
        let c = parse("Host a\n UserKnownHostsFile /k1 ~/k2\n UserKnownHostsFile /k3\n");
        let got = c.resolve("a").user_known_hosts_files;
        assert_eq!(
            got,
            vec![PathBuf::from("/k1"), PathBuf::from("/home/alice/k2")]
        );
        let got = parse("UserKnownHostsFile none")
            .resolve("a")
            .user_known_hosts_files;
        assert_eq!(got, vec![PathBuf::from("none")]);
    }

    #[test]
    fn path_tokens() {
        let c = parse(
            "Host Srv\n HostName real.Example\n User bob\n Port 2222\n IdentityFile ~/.ssh/%h_%r_%p_%n_%u_%d_%%\n IdentityAgent %d/agent-%r\n",
        );
        let e = c.resolve("Srv");
        let want = "/home/alice/.ssh/real.example_bob_2222_Srv_alice_/home/alice_%";
        assert_eq!(e.identity_files, vec![PathBuf::from(want)]);
        assert_eq!(e.identity_agent.as_deref(), Some("/home/alice/agent-bob"));
    }

    #[test]
    fn tilde_forms() {
        assert_eq!(expand_tilde("~", "/h"), "/h/");
        assert_eq!(expand_tilde("~/x", "/h"), "/h/x");
        assert_eq!(expand_tilde("~x", "/h"), "/h/x");
        assert_eq!(expand_tilde("~bob/x", "/h"), "~bob/x");
        assert_eq!(expand_tilde("a~", "/h"), "a~");
        let c = parse("IdentityFile ~bob/k\n");
        assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    }

    #[test]
    fn env_and_unsupported_tokens() {
        let path = std::env::var("PATH").unwrap_or_default();
        let e = parse("IdentityFile ${PATH}/k\n").resolve("a");
        assert_eq!(e.identity_files, vec![PathBuf::from(format!("{path}/k"))]);
        let e = parse("IdentityFile ${SCOUT_SURELY_UNSET_VAR}/k\n").resolve("a");
        assert_eq!(
            e.identity_files,
            vec![PathBuf::from("${SCOUT_SURELY_UNSET_VAR}/k")]
        );
        let c = parse("IdentityFile ~/%C\n");
        assert_eq!(
            c.resolve("a").identity_files,
            vec![PathBuf::from("/home/alice/%C")]
        );
        assert!(c.warnings()[0].contains("%C"), "{:?}", c.warnings());
    }

    #[test]
    fn identity_agent_special_values_kept() {
        for v in ["none", "SSH_AUTH_SOCK", "$MY_SOCK"] {
            let e = parse(&format!("IdentityAgent {v}\n")).resolve("a");
            assert_eq!(e.identity_agent.as_deref(), Some(v));
        }
    }

    fn hop(user: Option<&str>, host: &str, port: Option<u16>) -> Hop {
        Hop {
            user: user.map(String::from),
            host: host.to_string(),
            port,
        }
    }

    #[test]
    fn hops_parse_like_openssh() {
        assert_eq!(parse_hop("bastion"), Ok(hop(None, "bastion", None)));
        assert_eq!(
            parse_hop("ops@bastion:2222"),
            Ok(hop(Some("ops"), "bastion", Some(2222)))
        );
        assert_eq!(
            parse_hop("ssh://ops@10.0.0.1:22"),
            Ok(hop(Some("ops"), "10.0.0.1", Some(22)))
        );
        assert_eq!(
            parse_hop("[fe80::1]:2200"),
            Ok(hop(None, "fe80::1", Some(2200)))
        );
        assert_eq!(parse_hop("fe80::1"), Ok(hop(None, "fe80::1", None)));
        assert_eq!(parse_hop("a@b@host"), Ok(hop(Some("a@b"), "host", None)));
        for bad in ["", "@host", "host:", "host:0", "host:99999", "[::1", "a b"] {
            assert!(parse_hop(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn proxy_jump_is_parsed_once_and_keeps_why_it_cannot_be_used() {
        let c = parse("Host a\n  ProxyJump ops@j1:2222,j2\nHost b\n  ProxyJump j1,host:0\n");
        let a = c.resolve("a").proxy_jump.unwrap();
        assert_eq!(a.as_str(), "ops@j1:2222,j2");
        assert_eq!(
            a.hops(),
            Ok(&[hop(Some("ops"), "j1", Some(2222)), hop(None, "j2", None)][..])
        );
        let b = c.resolve("b").proxy_jump.unwrap();
        assert!(b.hops().unwrap_err().contains("bad port"), "{b:?}");
    }

    #[test]
    fn proxy_jump_none_blocks_later_values() {
        let c = parse("Host a\n ProxyJump none\nHost b\n ProxyJump j1,j2\nHost *\n ProxyJump j\n");
        assert_eq!(c.resolve("a").proxy_jump, None);
        let text = |alias: &str| c.resolve(alias).proxy_jump.map(|j| j.to_string());
        assert_eq!(text("b").as_deref(), Some("j1,j2"));
        assert_eq!(text("c").as_deref(), Some("j"));
        assert_eq!(parse("ProxyJump NONE").resolve("a").proxy_jump, None);
    }

    #[test]
    fn timeout_none_does_not_block() {
        let c = parse("Host a\n ConnectTimeout none\n ServerAliveInterval none\nHost *\n ConnectTimeout 5\n ServerAliveInterval 7\n");
        let e = c.resolve("a");
        assert_eq!(
            (e.connect_timeout, e.server_alive_interval),
            (Some(5), Some(7))
        );
    }

    #[test]
    fn strict_and_bools() {
        let c = parse("Host a\n StrictHostKeyChecking Accept-New\n IdentitiesOnly TRUE\nHost b\n StrictHostKeyChecking off\n IdentitiesOnly no\n");
        let a = c.resolve("a");
        assert_eq!(
            (a.strict_host_key_checking, a.identities_only),
            (Some(StrictHostKeyChecking::AcceptNew), true)
        );
        let b = c.resolve("b");
        assert_eq!(
            (b.strict_host_key_checking, b.identities_only),
            (Some(StrictHostKeyChecking::No), false)
        );
    }

    #[test]
    fn match_blocks_are_skipped_with_warning() {
        let c = parse("Host a\n Port 1\nMatch all\n Port 2\n User m\nHost *\n User u\n");
        let e = c.resolve("a");
        assert_eq!((e.port, e.user.as_str()), (1, "u"));
        assert_eq!(c.resolve("b").port, 22);
        assert_eq!(
            c.warnings(),
            ["cfg:3: Match blocks are not supported; skipped"]
        );
    }

    #[test]
    fn aliases_are_concrete_sorted_unique() {
        let c = parse("Host b a *.x !c d?\nHost a e\nMatch host z\nHost *\n");
        assert_eq!(c.aliases(), vec!["a", "b", "e"]);
    }

    #[test]
    fn include_is_scoped_to_its_block() {
        let t = TempDir::new();
        t.write(
            ".ssh/inc",
            "Port 100\nHost y\n Port 101\nHost *\n User inc\n",
        );
        t.write(
            "cfg",
            &format!(
                "Host x\n Include {}/.ssh/inc\n User x\nHost *\n Port 5\n",
                t.0.display()
            ),
        );
        let c = t.load("cfg").expect("load");
        let x = c.resolve("x");
        assert_eq!((x.port, x.user.as_str()), (100, "inc"));
        let y = c.resolve("y");
        assert_eq!((y.port, y.user.as_str()), (5, "alice"));
        assert_eq!(c.aliases(), vec!["x", "y"]);
    }

    #[test]
    fn include_restores_state_after_file() {
        let t = TempDir::new();
        t.write(".ssh/inc", "Host other\n");
        t.write("cfg", "Host x\n Include inc\n Port 7\n");
        assert_eq!(t.load("cfg").expect("load").resolve("x").port, 7);
    }

    #[test]
    fn include_relative_glob_sorted_hidden_skipped() {
        let t = TempDir::new();
        t.write(".ssh/conf.d/b.conf", "Host *\n Port 2\n User b\n");
        t.write(".ssh/conf.d/a.conf", "Host *\n Port 1\n");
        t.write(
            ".ssh/conf.d/.hidden.conf",
            "Host *\n Port 9\n IdentityFile h\n",
        );
        t.write("cfg", "Include conf.d/*.conf missing.conf\n");
        let e = t.load("cfg").expect("load").resolve("z");
        assert_eq!((e.port, e.user.as_str()), (1, "b"));
        assert!(e.identity_files.is_empty());
        t.write("cfg2", "Include ~/.ssh/c?nf.d/*\n");
        assert_eq!(t.load("cfg2").expect("load").resolve("z").port, 1);
    }

    #[test]
    fn include_recursion_is_an_error() {
        let t = TempDir::new();
        t.write(".ssh/loop", "Include loop\n");
        let e = match t.load(".ssh/loop") {
            Ok(_) => panic!("expected recursion error"),
            Err(e) => e,
        };
        assert!(e.message.contains("nested"), "{e}");
        assert_eq!(e.line, 1);
    }

    #[cfg(unix)]
    #[test]
    fn include_writable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = TempDir::new();
        let inc = t.write(".ssh/inc", "Port 1\n");
        fs::set_permissions(&inc, fs::Permissions::from_mode(0o666)).expect("chmod");
        t.write("cfg", "Include inc\n");
        let e = t.load("cfg").expect_err("permission error");
        assert!(e.message.contains("chmod go-w"), "{e}");
    }

    #[test]
    fn load_missing_and_unreadable() {
        let t = TempDir::new();
        let c = t.load("nope").expect("missing file is fine");
        assert!(c.aliases().is_empty());
        assert_eq!(c.resolve("a").user, "alice");
        let bad = t.write("file", "x");
        let e = SshConfig::load(&bad.join("sub"), &ctx()).expect_err("not a dir");
        assert_eq!(e.line, 0);
        assert!(e.to_string().contains("cannot read"), "{e}");
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b" \t\n\r=\"'\\#%~${}!*?abcHostPortIncludeMatchUser0123456789\x00\xff";
        for _ in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..(seed % 200) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(c) = SshConfig::parse_str(&text, Path::new("g"), &ctx()) {
                let _ = c.aliases();
                let _ = c.resolve("abc");
            }
        }
        let huge = format!(
            "Host {}\n User {}\n",
            "a".repeat(1 << 20),
            "\"".repeat(99_999)
        );
        assert!(SshConfig::parse_str(&huge, Path::new("g"), &ctx()).is_err());
    }

    #[test]
    fn empty_uses_environment() {
        let e = SshConfig::empty().resolve("a");
        assert_eq!((e.hostname.as_str(), e.port), ("a", 22));
        assert!(!e.user.is_empty());
    }
}
