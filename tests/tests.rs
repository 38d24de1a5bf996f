//! The integration tests: one binary (linked once), one module per subject. Each drives the
//! real `scout-mcp` binary against real OpenSSH `sshd` servers started on 127.0.0.1 by the
//! shared fixture (the `scout-testkit` crate, testkit/), or checks the repository itself.
//! Tests that use the library in this process — where threads, sockets and counters of the
//! process are measured — are in the `library` binary (tests/library/main.rs).

#[macro_use]
extern crate scout_testkit;
use scout_testkit as common;

mod auth;
mod beam;
mod chaos;
mod check;
mod cli;
mod compare_find_broadcast;
mod concurrency;
mod faults;
mod fleet_agent;
mod fleet_pool;
mod host_keys;
mod hostile;
mod http;
mod jump;
mod layers;
mod load;
mod mcp_protocol;
mod memory;
mod no_async_runtime;
mod overlap;
mod properties;
mod resources;
mod secrets;
mod self_contained;
mod sessions;
mod shutdown;
mod ssh_config_vs_openssh;
mod tool_modes;
mod trust_boundary;

/// The tests that load the machine most (thousands of calls, a fleet of sshd, big transfers)
/// and measure a process's growth take turns: side by side, each would make the other's
/// figures noise (more worker threads start on a busy machine, and their stacks count).
fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
