//! Everything SSH: configuration, one session, the pools of sessions, and running commands.
//!
//! * [`config`] — OpenSSH client config (`~/.ssh/config`) resolution.
//! * [`session`] — one connection: TCP (`TCP_NODELAY`), handshake, [`known_hosts`] check,
//!   [`auth`], and the SFTP channels it keeps: libssh2's, and a [`bulk`] one of our own with
//!   large requests for big transfers.
//! * [`pool`] — one `r2d2::Pool` per host, the global cap, retry-once; [`reaper`] — the thread
//!   that drops idle and dead sessions.
//! * [`transport`] — TCP, or a tunnel through a [`jump`] host (`ProxyJump`); [`trace`] — stage
//!   timings for `scout-mcp check`.
//! * [`exec`] — a command on a checked-out session, with deadline, caps and cancellation.
//! * [`ciphers`] (with `chacha`) — what libssh2 encrypts with, replaced at link time for
//!   speed: its cipher table (AES-GCM a packet per call), and OpenSSL's ChaCha20/Poly1305. Only
//!   built when `build.rs` could check libssh2's private layout; otherwise `ciphers` reports
//!   libssh2's own ciphers.

pub mod auth;
pub mod bulk;
#[cfg(scout_cipher_table)]
mod chacha;
#[cfg(scout_cipher_table)]
pub mod ciphers;
#[cfg(not(scout_cipher_table))]
#[path = "ciphers_fallback.rs"]
pub mod ciphers;
pub mod config;
pub mod exec;
pub mod jump;
pub mod known_hosts;
pub mod pool;
pub mod reaper;
pub mod session;
pub mod trace;
pub mod transport;
