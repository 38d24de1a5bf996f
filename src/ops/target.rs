//! Parsing `target` strings: `hosts` or `host:path` (docs/BEHAVIOUR.md §3.1).

use crate::error::Error;
use crate::ops::remote_path;

/// What a `target` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The host list.
    Hosts,
    /// A path on a host.
    Path {
        /// The host alias (before the first `:`).
        host: String,
        /// The path (after the first `:`), validated.
        path: String,
    },
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
        Ok(Target::Path {
            host: host.to_string(),
            path: path.to_string(),
        })
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
            Target::Path {
                host: "web1".into(),
                path: "/var/log/a:b".into()
            }
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
            Target::Path {
                host: "web1".into(),
                path: "/var/log".into()
            }
        );
        assert!(Target::parse("web1").is_err());
    }
}
