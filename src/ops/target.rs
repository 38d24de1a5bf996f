//! Parsing `target` strings: `hosts` or `host:path` (docs/BEHAVIOUR.md §3.1).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::ops::remote_path;

/// A path on one of the hosts: `host:path` — what every operation of [`Scout`](crate::Scout)
/// takes. Built by [`RemotePath::new`] or parsed from `host:path`; either way the host alias is
/// non-empty and the path passed the path rules (non-empty, no NUL or line break, no `..` that
/// climbs above where the path starts, a length limit), so an operation never sees one that
/// did not.
///
/// ```
/// use scout_mcp::RemotePath;
/// let log: RemotePath = "web1:/var/log/syslog".parse()?;
/// assert_eq!((log.host(), log.path()), ("web1", "/var/log/syslog"));
/// assert_eq!(RemotePath::new("web1", "/var/log/syslog")?, log);
/// assert_eq!(log.to_string(), "web1:/var/log/syslog");
/// assert!(RemotePath::new("web1", "").is_err());
/// # Ok::<(), scout_mcp::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemotePath {
    host: String,
    path: String,
}

impl RemotePath {
    /// The path `path` on the host `host` (an alias of the ssh_config; both trimmed). An empty
    /// host or path, or a path the rules refuse, is an error of kind
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument).
    pub fn new(host: &str, path: &str) -> Result<RemotePath, Error> {
        RemotePath::checked(host, path, &format!("{host}:{path}"))
    }

    /// The host alias.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The path on the host (absolute, or relative to the login directory; `~` is home).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `new` with error messages that quote `target` as the caller wrote it.
    fn checked(host: &str, path: &str, target: &str) -> Result<RemotePath, Error> {
        let (host, path) = (host.trim(), path.trim());
        if host.is_empty() {
            return Err(Error::invalid_argument(format!(
                "invalid target '{}': the host before ':' is empty",
                shorten(target)
            )));
        }
        if path.is_empty() {
            return Err(Error::invalid_argument(format!(
                "invalid target '{}': the path after ':' is empty (use '{host}:~' for the home directory)",
                shorten(target)
            )));
        }
        remote_path::validate(path)
            .map_err(|e| Error::invalid_argument(format!("invalid path in target: {e}")))?;
        Ok(RemotePath {
            host: host.to_string(),
            path: path.to_string(),
        })
    }
}

/// Parses `host:path`, split at the first `:` (so the path may hold more).
impl FromStr for RemotePath {
    type Err = Error;

    fn from_str(target: &str) -> Result<RemotePath, Error> {
        match Target::parse(target)? {
            Target::Path(at) => Ok(at),
            Target::Hosts => Err(Error::invalid_argument(
                "'hosts' names the host list, not a path: expected 'host:/path'",
            )),
        }
    }
}

impl fmt::Display for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.path)
    }
}

/// What a `target` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The host list.
    Hosts,
    /// A path on a host.
    Path(RemotePath),
}

impl Target {
    /// Parses a target: trimmed; `hosts` in any case; else split at the first `:` into a host
    /// alias and a path, both trimmed and non-empty, the path validated.
    pub fn parse(target: &str) -> Result<Target, Error> {
        let target = target.trim();
        if target.eq_ignore_ascii_case("hosts") {
            return Ok(Target::Hosts);
        }
        let Some((host, path)) = target.split_once(':') else {
            return Err(Error::invalid_argument(format!(
                "invalid target '{}': expected 'hosts' or 'host:/path' (e.g. 'web1:/var/log' or 'web1:~')",
                shorten(target)
            )));
        };
        RemotePath::checked(host, path, target).map(Target::Path)
    }
}

/// Keeps error messages readable when an agent sends a huge target.
fn shorten(s: &str) -> String {
    let mut end = s.len().min(200);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end < s.len() {
        format!("{}…", &s[..end])
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_in_any_case() {
        assert_eq!(Target::parse(" HoStS ").unwrap(), Target::Hosts);
    }

    #[test]
    fn splits_at_the_first_colon_and_trims() {
        assert_eq!(
            Target::parse(" web1 : /var/log/a:b ").unwrap(),
            Target::Path(RemotePath::new("web1", "/var/log/a:b").unwrap())
        );
    }

    #[test]
    fn refuses_empty_parts_and_missing_colon() {
        for bad in ["", "web1", ":/etc", "web1:", "web1:   ", "   "] {
            let err = Target::parse(bad).unwrap_err().to_string();
            assert!(err.contains("invalid target"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn refuses_nul_and_newline_in_paths() {
        assert!(Target::parse("web1:/etc/\0passwd").is_err());
        assert!(Target::parse("web1:/etc\n/passwd").is_err());
    }

    #[test]
    fn a_remote_path_is_checked_however_it_is_built() {
        for (host, path) in [
            ("", "/etc"),
            ("web1", " "),
            ("web1", "/etc/\0x"),
            ("web1", "a\nb"),
        ] {
            let err = RemotePath::new(host, path).unwrap_err();
            assert_eq!(
                err.kind(),
                crate::ErrorKind::InvalidArgument,
                "{host:?} {path:?}"
            );
        }
        assert!("hosts".parse::<RemotePath>().is_err());
        assert!("web1".parse::<RemotePath>().is_err());
        let at: RemotePath = " web1 : /a:b ".parse().unwrap();
        assert_eq!((at.host(), at.path()), ("web1", "/a:b"));
        assert_eq!(at.to_string().parse::<RemotePath>().unwrap(), at);
    }

    #[test]
    fn huge_targets_do_not_flood_the_message() {
        let t = "é".repeat(10_000);
        let err = Target::parse(&t).unwrap_err().to_string();
        assert!(err.len() < 600, "{}", err.len());
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_parse() {
        use crate::ops::target::Target;
        assert_eq!(Target::parse(" HOSTS ").unwrap(), Target::Hosts);
        assert_eq!(
            Target::parse("web1:/var/log").unwrap(),
            Target::Path(RemotePath::new("web1", "/var/log").unwrap())
        );
        assert!(Target::parse("web1").is_err());
    }
}
