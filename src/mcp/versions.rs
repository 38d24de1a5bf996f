//! The protocol versions this server speaks, in both eras: one list each, that negotiation
//! (`protocol.rs`), the stateless envelope (`modern.rs`) and `server/discover` all read.

/// Versions negotiated by `initialize` (the legacy era), newest first.
pub const LEGACY: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// Versions served statelessly (a `_meta` envelope on every request), newest first.
pub const STATELESS: &[&str] = &["2026-07-28"];

/// Every version, stateless ones first.
pub fn all() -> Vec<&'static str> {
    STATELESS.iter().chain(LEGACY).copied().collect()
}
