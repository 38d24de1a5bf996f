//! The MCP server: JSON-RPC 2.0 over stdio (one JSON message per line) or streamable HTTP.
//!
//! * [`jsonrpc`] — parsing incoming lines into messages, building responses and error objects.
//! * [`protocol`] — what the server says: version negotiation, capabilities, the tool list, and
//!   the methods answered without touching SSH, in either era.
//! * [`versions`] — the protocol versions of both eras, one list each.
//! * [`modern`] — the stateless era (2026-07-28): the per-request `_meta` envelope,
//!   `server/discover`, and what its results carry.
//! * [`progress`] — `notifications/progress`: rate-limited, strictly increasing.
//! * [`outbox`] — the bounded outgoing queue and the intake limit: memory stays bounded
//!   whatever a client sends or fails to read.
//! * [`resources`] — `resources/*` and `completion/complete` over the library.
//! * [`server`] — the threads: stdin reader, main loop, workers, stdout writer; cancellation,
//!   batches and shutdown; the [`server::Engine`] both transports share.
//! * [`http`] — the streamable HTTP transport: connections, keys, limits, sessions, SSE.

pub mod http;
pub mod jsonrpc;
pub mod modern;
pub mod outbox;
pub mod progress;
pub mod protocol;
pub mod resources;
pub mod server;
pub mod versions;
