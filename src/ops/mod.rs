//! The operations of the `scout` tool, independent of MCP.
//!
//! * [`target`] parses `host:/path`; [`remote_path`] validates and quotes remote paths.
//! * [`command`] turns an agent's `query` into a safe shell command line (the command policy).
//! * [`fs`] reads files and lists directories over SFTP; [`run`] runs commands and builds trees.
//! * [`hosts`] is the inventory from ssh_config and the reachability check.

pub mod command;
pub mod fs;
pub mod hosts;
pub mod remote_path;
pub mod run;
pub mod target;
