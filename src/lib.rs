//! # scout-mcp
//!
//! Eyes and hands on a fleet of machines over SSH, for AI agents (through MCP) and for Rust
//! programs (through this library). Hosts come from `~/.ssh/config`; files are read and
//! directories listed over a pooled session's SFTP channel; commands run under a command policy
//! with a deadline enforced here.
//!
//! ## Architecture
//!
//! Blocking by conviction — no async runtime:
//!
//! ```text
//! stdin ─► reader thread ─► main loop ──(crossbeam channel)──► worker threads ─► Scout ─► Pools
//!                             │  answers ping, initialize,         │                       │
//!                             │  tools/list at once                 ▼                       ▼
//!                             └──────────────► writer thread ◄── responses      r2d2 pool per host
//!                                               (sole owner of stdout)          ◄── reaper thread
//! ```
//!
//! * `mcp` — JSON-RPC framing and the MCP protocol over stdio or streamable HTTP: the server's
//!   threads and routing.
//! * `tool` — the `scout` tool: arguments in, text (and structured content) out.
//! * [`Scout`] — the library facade: every operation as a blocking method on a [`RemotePath`].
//! * [`fold`] — a broadcast's answers folded by output; [`fold_hosts`] writes host names as
//!   ranges (`web[01-40]`).
//! * `jobs` — background work that outlives a request: ids, progress, output, cancel.
//! * `ops` — the operations themselves: targets, paths, command policy, reads, listings, runs.
//! * `ssh` — ssh_config, sessions (connect, host keys, auth), command execution, the per-host
//!   pools and the reaper.
//!
//! Every module is private: what this page lists is the API. `docs/ARCHITECTURE.md` tells
//! how a request flows through these pieces and which way the layers depend.
//!
//! ## Configuration
//!
//! [`Scout::from_env`] reads the `SCOUT_*` variables like the server does; [`Settings::builder`]
//! configures everything in code instead (ssh_config, known_hosts, host key policy, limits,
//! command policy, read-only mode, allow/block lists), and [`Scout::new`] takes the result.
//! Nothing connects until an operation needs a host.
//!
//! ## Threads
//!
//! Every method blocks. [`Scout`] is `Send + Sync` and cheap to clone; clones share one pool of
//! sessions per host, so call it from as many threads as you like. Dropping the last clone
//! disconnects the idle sessions and stops the reaper thread. `Scout` never installs a
//! logger and never writes to stdout; it logs through the `log` crate.
//!
//! `examples/` has three short programs (`read_all_hosts`, `broadcast`, `threads`);
//! `scripts/with-fleet` runs them against throwaway local sshd servers.
//!
//! ## Example
//!
//! ```no_run
//! // no_run: needs an ssh_config with reachable hosts.
//! let scout = scout_mcp::Scout::from_env()?;
//! let control = scout_mcp::Control::new();
//! for host in scout.aliases() {
//!     let file = scout.read(&scout_mcp::RemotePath::new(&host, "/etc/hostname")?, &control)?;
//!     println!("{host}: {}", file.text().unwrap_or("(binary)").trim());
//! }
//! # Ok::<(), scout_mcp::Error>(())
//! ```
#![deny(clippy::print_stdout)]
#![deny(missing_docs)]
// Every type a public item mentions can be named by a user of the crate.
#![warn(unnameable_types)]

mod cli;
mod control;
mod error;
mod fanout;
mod fdlimit;
mod fold;
mod jobs;
mod local;
mod mcp;
mod ops;
mod ranges;
mod scout;
mod settings;
mod sha256;
mod ssh;
mod sync;
mod tool;
mod util;

pub use control::{Budget, Control, Progress};
pub use error::{Error, ErrorKind, Result};
pub use fold::{fold, AnswerGroup};
pub use jobs::{JobContext, JobReport, JobState, Jobs};
pub use ops::check::HostCheck;
pub use ops::command::{CommandPolicy, PolicyMode, Refusal};
pub use ops::compare::{Comparison, DiffOutcome};
pub use ops::fs::{Entry, EntryKind, FileContent, Listing, View};
pub use ops::hosts::{GroupDef, HostEntry, HostGroup, HostStatus};
pub use ops::local_files::BeamScope;
pub use ops::run::{FindResult, Tree};
pub use ops::target::RemotePath;
pub use ops::transfer::{Direction, Transfer, TransferOptions};
pub use ranges::{expand_ranges, fold_hosts, natural_cmp};
pub use scout::{BroadcastItem, BroadcastOptions, Outcome, Scout};
pub use settings::{Settings, SettingsBuilder, StrictHostKeyChecking};
pub use ssh::config::ProxyJump;
pub use ssh::exec::{ExecOutput, RemoteLimits};
pub use ssh::pool::HostPoolState;
pub use ssh::trace::Stage;

/// Internals this crate's own binary, tests and benches reach: not API, and may change in any
/// release.
#[doc(hidden)]
pub mod __private {
    pub use crate::cli::run;
    pub use crate::mcp::server::serve;
    pub use crate::ops::target::Target;
    pub use crate::ops::transfer::moved;
    pub use crate::ssh::config::{ConfigError, HostEntry, ParseContext, SshConfig};
    pub use crate::ssh::mux::sftp_requests;

    /// Checks a channel of `alias`'s pool out and gives it back (the pool's own latency, for
    /// the benches).
    pub fn checkout_lane(scout: &crate::Scout, alias: &str) -> crate::Result<()> {
        let host = scout.host(alias)?;
        scout.pools().lane(&host, &crate::Control::new()).map(drop)
    }

    /// The cipher table's counters and checks.
    pub mod ciphers {
        pub use crate::ssh::ciphers::{
            chacha_calls, gcm_packets, hardware_aes, preference, status, table_in_effect,
        };
    }

    /// Remote path checks and quoting.
    pub mod remote_path {
        pub use crate::ops::remote_path::{shell_word, validate, PathError};
    }
}

/// The README's Rust examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
