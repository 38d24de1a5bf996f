//! Everything SSH: configuration, connecting, the connections and their channels, the pools.
//!
//! * [`config`] — OpenSSH client config (`~/.ssh/config`) resolution.
//! * [`session`] — the connect layer, over any byte stream ([`transport`]: TCP with
//!   `TCP_NODELAY`, or a tunnel): handshake, [`known_hosts`] check, [`auth`]; [`trace`] times
//!   each stage for `scout-mcp check`.
//! * [`jump`] — tunnels through jump hosts (its hops are sessions of the layer below);
//!   [`connect`] — the one place that picks TCP or a tunnel for a host.
//! * [`mux`] — one connection, owned by one thread that multiplexes its channels ([`channel`]
//!   is libssh2's channel API, non-blocking): commands ([`exec`]), SFTP ([`sftp`] the protocol, [`sftp_client`] the requests).
//! * [`pool`] — every host's connections, the lanes (channel reservations) in its `r2d2::Pool`,
//!   the global cap, retry-once; [`reaper`] — the thread that closes idle connections.
//! * [`ciphers`] (with `chacha`) — what libssh2 encrypts with, replaced at link time for
//!   speed: its cipher table (AES-GCM a packet per call), and OpenSSL's ChaCha20/Poly1305. Only
//!   built when `build.rs` could check libssh2's private layout; otherwise `ciphers` reports
//!   libssh2's own ciphers.

pub mod auth;
#[cfg(scout_cipher_table)]
mod chacha;
pub mod channel;
#[cfg(scout_cipher_table)]
pub mod ciphers;
#[cfg(not(scout_cipher_table))]
#[path = "ciphers_fallback.rs"]
pub mod ciphers;
pub mod config;
pub mod connect;
pub mod exec;
pub mod failure;
pub mod jump;
pub mod known_hosts;
pub mod mux;
pub mod pool;
pub mod reaper;
pub mod session;
pub mod sftp;
pub mod sftp_client;
pub mod trace;
pub mod transport;
