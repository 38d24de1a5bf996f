//! The one error type of the library.
//!
//! Every variant renders as a sentence an operator or an agent can act on: it names the host and
//! says what to do. The MCP adapter turns these into `isError` tool results, never protocol errors.
//!
//! ```
//! use std::time::Duration;
//! use scout_mcp::Error;
//!
//! let e = Error::UnknownHost { alias: "web3".into(), available: vec!["web1".into(), "web2".into()] };
//! assert_eq!(e.to_string(), "unknown host 'web3'. Available hosts: web1, web2");
//!
//! let e = Error::Timeout { host: "db".into(), what: "command".into(), after: Duration::from_secs(30) };
//! assert_eq!(e.to_string(), "db: command timed out after 30.0 s");
//!
//! // Match on the variant to react; print it to tell a human.
//! assert!(matches!(Error::Cancelled, Error::Cancelled));
//! ```

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong in a scout operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The alias is not a host of the ssh_config (or it is filtered by the allow/block lists).
    UnknownHost {
        /// The alias asked for.
        alias: String,
        /// The aliases that are hosts, sorted (empty: none is configured).
        available: Vec<String>,
    },
    /// A tool argument is malformed (bad target, bad path, wrong type, out-of-range value).
    InvalidArgument(String),
    /// The configuration (environment, flags, ssh_config) is unusable.
    Config(String),
    /// DNS or TCP connect failed, or the SSH handshake did not complete.
    Connect {
        /// The host alias.
        host: String,
        /// What failed and, where known, what to do.
        message: String,
    },
    /// The host key is unknown, changed, revoked or could not be verified.
    HostKey {
        /// The host alias.
        host: String,
        /// What is wrong with the key and the command that fixes it.
        message: String,
    },
    /// No authentication method was accepted.
    Auth {
        /// The host alias.
        host: String,
        /// What was tried (agent, identity files) and what to check.
        message: String,
    },
    /// An operation ran past its deadline.
    Timeout {
        /// The host alias.
        host: String,
        /// What timed out, e.g. "command" or "waiting for a session".
        what: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The command policy refused a command.
    Policy(String),
    /// The remote side answered with a failure (no such file, permission denied, ...).
    Remote {
        /// The host alias.
        host: String,
        /// The remote failure, e.g. "/etc/x: no such file or directory".
        message: String,
    },
    /// The SSH session failed while in use (connection lost, protocol error).
    Session {
        /// The host alias.
        host: String,
        /// What the session was doing when it failed.
        message: String,
    },
    /// A local I/O failure.
    Io(String),
    /// The request was cancelled by the client or by shutdown.
    Cancelled,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownHost { alias, available } if available.is_empty() => write!(
                f,
                "unknown host '{alias}': no hosts are configured. Add a `Host {alias}` block to \
                 your ssh_config (SCOUT_SSH_CONFIG / --ssh-config, default ~/.ssh/config) or \
                 check SCOUT_ALLOWLIST / SCOUT_BLOCKLIST"
            ),
            Error::UnknownHost { alias, available } => write!(
                f,
                "unknown host '{alias}'. Available hosts: {}",
                available.join(", ")
            ),
            Error::InvalidArgument(m) | Error::Config(m) | Error::Policy(m) => f.write_str(m),
            Error::Connect { host, message } => write!(f, "{host}: cannot connect: {message}"),
            Error::HostKey { host, message } => write!(f, "{host}: host key: {message}"),
            Error::Auth { host, message } => write!(f, "{host}: authentication failed: {message}"),
            Error::Timeout { host, what, after } => write!(
                f,
                "{host}: {what} timed out after {:.1} s",
                after.as_secs_f64()
            ),
            Error::Remote { host, message } => write!(f, "{host}: {message}"),
            Error::Session { host, message } => write!(f, "{host}: SSH session failed: {message}"),
            Error::Io(m) => write!(f, "local I/O error: {m}"),
            Error::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for Error {}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
