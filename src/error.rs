//! The one error type of the library.
//!
//! An [`Error`] is data plus a sentence: its [`ErrorKind`] (what to react to), the host it
//! concerns where there is one, a message that says what went wrong and what to do, a command
//! that fixes it when there is one (`ssh-keygen -R …`, `ssh-add …`), and the error it came
//! from ([`std::error::Error::source`]). Code reacts to the kind, never to the text. The MCP
//! adapter turns errors into `isError` tool results, never protocol errors.
//!
//! ```
//! use std::time::Duration;
//! use scout_mcp::{Error, ErrorKind};
//!
//! let e = Error::unknown_host("web3", vec!["web1".into(), "web2".into()]);
//! assert_eq!(e.to_string(), "unknown host 'web3'. Available hosts: web1, web2");
//! assert_eq!(e.kind(), ErrorKind::UnknownHost);
//!
//! let e = Error::timeout("db", "command", Duration::from_secs(30));
//! assert_eq!(e.to_string(), "db: command timed out after 30.0 s");
//! assert_eq!((e.kind(), e.host()), (ErrorKind::Timeout, Some("db")));
//!
//! let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
//! let e = Error::io("cannot open /tmp/x").with_source(io);
//! assert!(std::error::Error::source(&e).is_some());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// What kind of failure an [`Error`] is: what a caller reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The alias is not a host of the ssh_config (or the allow/block lists hide it).
    UnknownHost,
    /// A tool argument is malformed (bad target, bad path, wrong type, out-of-range value).
    InvalidArgument,
    /// The configuration (environment, flags, ssh_config) is unusable.
    Config,
    /// DNS or TCP connect failed, or the SSH handshake did not complete.
    Connect,
    /// The host key is unknown, changed, revoked or could not be verified.
    HostKey,
    /// No authentication method was accepted.
    Auth,
    /// An operation ran past its deadline.
    Timeout,
    /// The command policy (or read-only mode) refused a command.
    Policy,
    /// The remote file or directory does not exist.
    NotFound,
    /// The remote side refused access.
    PermissionDenied,
    /// Any other failure the remote side answered with.
    Remote,
    /// The SSH connection failed while in use (connection lost, protocol error).
    Session,
    /// A local I/O failure.
    Io,
    /// The request was cancelled by the client or by shutdown.
    Cancelled,
}

/// Everything that can go wrong in a scout operation. See the module documentation.
#[derive(Clone)]
pub struct Error(Box<Inner>);

/// Boxed: errors travel in `Result`s on hot paths, which stay one word wide on the error side.
#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    host: Option<String>,
    message: String,
    fix: Option<String>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    fn new(kind: ErrorKind, host: Option<String>, message: String) -> Error {
        Error(Box::new(Inner {
            kind,
            host,
            message,
            fix: None,
            source: None,
        }))
    }

    /// `alias` is not a host; `available` are the ones that are (sorted; empty: none is
    /// configured).
    pub fn unknown_host(alias: impl Into<String>, available: Vec<String>) -> Error {
        let alias = alias.into();
        let message = if available.is_empty() {
            format!(
                "unknown host '{alias}': no hosts are configured. Add a `Host {alias}` block to \
                 your ssh_config (SCOUT_SSH_CONFIG / --ssh-config, default ~/.ssh/config) or \
                 check SCOUT_ALLOWLIST / SCOUT_BLOCKLIST"
            )
        } else {
            format!(
                "unknown host '{alias}'. Available hosts: {}",
                available.join(", ")
            )
        };
        Error::new(ErrorKind::UnknownHost, Some(alias), message)
    }

    /// A malformed argument; `message` says which and what is expected.
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, None, message.into())
    }

    /// An unusable configuration; `message` names the setting.
    pub fn config(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Config, None, message.into())
    }

    /// A command the policy refused; `message` says why and what is allowed.
    pub fn policy(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Policy, None, message.into())
    }

    /// Connecting to `host` failed.
    pub fn connect(host: impl Into<String>, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Connect, Some(host.into()), message.into())
    }

    /// `host`'s key cannot be trusted.
    pub fn host_key(host: impl Into<String>, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::HostKey, Some(host.into()), message.into())
    }

    /// No authentication `host` accepts.
    pub fn auth(host: impl Into<String>, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Auth, Some(host.into()), message.into())
    }

    /// `what` on `host` ran past `after`.
    pub fn timeout(host: impl Into<String>, what: impl fmt::Display, after: Duration) -> Error {
        Error::new(
            ErrorKind::Timeout,
            Some(host.into()),
            format!("{what} timed out after {:.1} s", after.as_secs_f64()),
        )
    }

    /// The remote side of `host` answered with a failure of `kind` ([`ErrorKind::NotFound`],
    /// [`ErrorKind::PermissionDenied`] or [`ErrorKind::Remote`]).
    pub fn remote(host: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Error {
        let kind = match kind {
            ErrorKind::NotFound | ErrorKind::PermissionDenied => kind,
            _ => ErrorKind::Remote,
        };
        Error::new(kind, Some(host.into()), message.into())
    }

    /// The connection to `host` failed while in use.
    pub fn session(host: impl Into<String>, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Session, Some(host.into()), message.into())
    }

    /// A local I/O failure (add the `std::io::Error` with [`Error::with_source`]).
    pub fn io(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Io, None, message.into())
    }

    /// The request was cancelled.
    pub fn cancelled() -> Error {
        Error::new(ErrorKind::Cancelled, None, "cancelled".into())
    }

    /// The same error, caused by `source`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// The same error, with `command` as the one thing to run to fix it (also in the message).
    pub fn with_fix(mut self, command: impl Into<String>) -> Error {
        self.0.fix = Some(command.into());
        self
    }

    /// The same failure told for another host (a jump host's failure, for the host behind
    /// it): the fix and the source stay.
    pub(crate) fn rehost(mut self, host: &str, kind: ErrorKind, message: String) -> Error {
        self.0.kind = kind;
        self.0.host = Some(host.to_string());
        self.0.message = message;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The host it concerns (for an unknown host, the alias asked for).
    pub fn host(&self) -> Option<&str> {
        self.0.host.as_deref()
    }

    /// What went wrong and what to do, without the host.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// A command that fixes it, when there is one (`ssh-keygen -R …`, `ssh-add …`).
    pub fn fix(&self) -> Option<&str> {
        self.0.fix.as_deref()
    }

    /// Whether this is [`ErrorKind::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.0.kind == ErrorKind::Cancelled
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.0.host.as_deref().unwrap_or("?");
        match self.0.kind {
            ErrorKind::Connect => write!(f, "{host}: cannot connect: {}", self.0.message),
            ErrorKind::HostKey => write!(f, "{host}: host key: {}", self.0.message),
            ErrorKind::Auth => write!(f, "{host}: authentication failed: {}", self.0.message),
            ErrorKind::Session => write!(f, "{host}: SSH session failed: {}", self.0.message),
            ErrorKind::Timeout
            | ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::Remote => write!(f, "{host}: {}", self.0.message),
            ErrorKind::Io => write!(f, "local I/O error: {}", self.0.message),
            ErrorKind::UnknownHost
            | ErrorKind::InvalidArgument
            | ErrorKind::Config
            | ErrorKind::Policy
            | ErrorKind::Cancelled => f.write_str(&self.0.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind);
        if let Some(host) = &self.0.host {
            d.field("host", host);
        }
        d.field("message", &self.0.message);
        if let Some(fix) = &self.0.fix {
            d.field("fix", fix);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        d.finish()
    }
}

/// Equal when kind, host and message are (the source is not compared).
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.0.kind == other.0.kind
            && self.0.host == other.0.host
            && self.0.message == other.0.message
    }
}

impl Eq for Error {}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_renders_as_before_with_its_host() {
        let cases = [
            (Error::connect("h", "refused"), "h: cannot connect: refused"),
            (Error::host_key("h", "changed"), "h: host key: changed"),
            (
                Error::auth("h", "no key"),
                "h: authentication failed: no key",
            ),
            (Error::session("h", "lost"), "h: SSH session failed: lost"),
            (
                Error::remote("h", ErrorKind::NotFound, "/x: no such file"),
                "h: /x: no such file",
            ),
            (Error::io("disk full"), "local I/O error: disk full"),
            (Error::invalid_argument("bad"), "bad"),
            (Error::cancelled(), "cancelled"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
        assert_eq!(
            Error::remote("h", ErrorKind::Config, "x").kind(),
            ErrorKind::Remote
        );
        assert!(Error::unknown_host("x", vec![])
            .to_string()
            .contains("no hosts are configured"));
    }
}
