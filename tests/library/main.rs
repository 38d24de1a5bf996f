//! Tests of the library API in this process: threads sharing a `Scout`, what a call sends on
//! the wire, the cipher table and the SFTP request counters. They look at the process itself
//! (its threads, its sockets, counters of the whole process), so they take turns ([`serial`])
//! and live in a binary of their own, apart from the integration tests (tests/tests.rs).

use scout_testkit as common;

mod ciphers;
mod library_threads;
mod round_trips;
mod transfers;

use std::sync::{Mutex, MutexGuard};

/// One test at a time: each measures the whole process, so another test's `Scout` (its
/// threads, its sockets, its transfers) must not run meanwhile.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `host:path` as the library takes it (`path` may be a `Path::display()`).
fn at(host: &str, path: impl std::fmt::Display) -> scout_mcp::RemotePath {
    match scout_mcp::RemotePath::new(host, &path.to_string()) {
        Ok(at) => at,
        Err(e) => panic!("{host}:{path}: {e}"),
    }
}
