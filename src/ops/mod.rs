//! The operations of the `scout` tool, independent of MCP.
//!
//! * [`target`] parses `host:/path`; [`remote_path`] validates and quotes remote paths.
//! * [`command`] turns an agent's `query` into a safe shell command line (the command policy).
//! * [`fs`] reads files and lists directories over SFTP; [`run`] runs commands, `find` and trees.
//! * [`diff`] computes unified line diffs; [`compare`] turns two files into a comparison.
//! * [`transfer`] moves files over SFTP (download, upload, host-to-host relay); `writer` is the
//!   thread that writes and hashes a download; [`local_files`] is the local side: the beam
//!   directory, regular-file sources, exclusive temporary files.
//! * [`services`] builds and parses the per-host docker / compose / zfs / syslog resources.
//! * [`hosts`] is the inventory from ssh_config and the reachability check.

pub mod check;
pub mod command;
pub mod compare;
pub mod diff;
pub mod fs;
pub mod hosts;
pub mod local_files;
pub mod remote_path;
pub mod run;
pub mod services;
pub mod target;
pub mod transfer;
mod writer;
