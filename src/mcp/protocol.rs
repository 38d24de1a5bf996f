//! What the server says (docs/BEHAVIOUR.md §2): protocol versions, capabilities, the tool
//! definition, and the methods that need no SSH and are answered at once by the main loop.

//!
//! Two eras share one process (docs/PROTOCOL.md). A request whose `_meta` carries
//! `io.modelcontextprotocol/protocolVersion` is served statelessly at that version
//! ([`modern`]); every other request — and `initialize`, whatever it carries — follows the
//! `initialize` handshake and the version it negotiated, exactly as before 2026-07-28.

use serde_json::{json, Value};

use crate::mcp::jsonrpc::{self, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use crate::mcp::modern::{self, Envelope};
use crate::settings::Settings;
use crate::tool;

/// Protocol versions negotiated by `initialize` (the legacy era), newest first.
pub use crate::mcp::versions::LEGACY as VERSIONS;

/// The client's version when supported, else the newest.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| VERSIONS.iter().find(|v| **v == r))
        .copied()
        .unwrap_or(VERSIONS[0])
}

/// Whether `version` accepts JSON-RPC batches: 2025-06-18 removed them.
pub fn allows_batches(version: &str) -> bool {
    !at_least(version, "2025-06-18")
}

/// Whether `version` has the features introduced in `since` (versions are ISO dates).
pub fn at_least(version: &str, since: &str) -> bool {
    version >= since
}

/// How a method is served.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// Answered at once by the main loop with this response (`None` for notifications).
    Now(Option<Value>),
    /// Needs a worker (it may touch SSH); served at this protocol version.
    Worker(&'static str),
}

/// Session state the main loop keeps.
#[derive(Debug, Default, Clone)]
pub struct SessionState {
    /// The negotiated version, once `initialize` was answered.
    pub version: Option<&'static str>,
}

/// Routes one request. `state` is updated by `initialize`; a request of the stateless era
/// neither reads nor changes it.
pub fn route_request(
    state: &mut SessionState,
    settings: &Settings,
    id: &Value,
    method: &str,
    params: &Option<Value>,
) -> Route {
    if method != "initialize" {
        match modern::envelope(id, params) {
            Envelope::Absent => {}
            Envelope::Served(version) => {
                return route_modern(version, settings, id, method, params)
            }
            Envelope::Refused(response) => return Route::Now(Some(response)),
        }
    }
    let reply = |r: Value| Route::Now(Some(jsonrpc::result(id, r)));
    let fail = |code: i64, msg: &str| Route::Now(Some(jsonrpc::error(id, code, msg)));
    match method {
        "ping" => reply(json!({})),
        "initialize" => {
            let requested = jsonrpc::params_object(params)
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str);
            let version = negotiate(requested);
            state.version = Some(version);
            reply(initialize_result(version))
        }
        "tools/list"
        | "tools/call"
        | "resources/list"
        | "resources/templates/list"
        | "resources/read"
        | "completion/complete"
        | "prompts/list" => {
            let Some(version) = state.version else {
                return fail(
                    INVALID_REQUEST,
                    "the session is not initialized: send `initialize` first",
                );
            };
            match method {
                "tools/list" => reply(json!({ "tools": [tool_definition(version, settings)] })),
                "prompts/list" => reply(json!({ "prompts": [] })),
                "tools/call" => tools_call_route(id, params, version),
                // Resources and completions may need SSH: a worker serves them.
                _ => Route::Worker(version),
            }
        }
        _ => fail(
            METHOD_NOT_FOUND,
            &format!("method not found: {}", shorten(method)),
        ),
    }
}

/// Routes a request of the stateless era, served at `version` with no session state.
fn route_modern(
    version: &'static str,
    settings: &Settings,
    id: &Value,
    method: &str,
    params: &Option<Value>,
) -> Route {
    let reply = |r: Value| {
        Route::Now(Some(jsonrpc::result(
            id,
            modern::finish(version, method, r),
        )))
    };
    match method {
        "server/discover" => reply(discover_result()),
        "tools/list" => reply(json!({ "tools": [tool_definition(version, settings)] })),
        "prompts/list" => reply(json!({ "prompts": [] })),
        "tools/call" => tools_call_route(id, params, version),
        "resources/list"
        | "resources/templates/list"
        | "resources/read"
        | "completion/complete" => Route::Worker(version),
        _ => Route::Now(Some(modern::method_not_found(id, version, method))),
    }
}

/// `tools/call` goes to a worker once its name is known to be ours.
fn tools_call_route(id: &Value, params: &Option<Value>, version: &'static str) -> Route {
    let Some(p) = jsonrpc::params_object(params) else {
        return Route::Now(Some(jsonrpc::error(
            id,
            INVALID_PARAMS,
            "tools/call needs params {\"name\", \"arguments\"}",
        )));
    };
    match p.get("name").and_then(Value::as_str) {
        Some(tool::NAME) => Route::Worker(version),
        Some(other) => Route::Now(Some(jsonrpc::error(
            id,
            INVALID_PARAMS,
            &format!(
                "unknown tool '{}': this server has one tool, 'scout'",
                shorten(other)
            ),
        ))),
        None => Route::Now(Some(jsonrpc::error(
            id,
            INVALID_PARAMS,
            "tools/call needs a string \"name\"",
        ))),
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(100).collect()
}

/// What the server offers; the same in both eras.
fn capabilities() -> Value {
    json!({
        "tools": { "listChanged": false },
        "resources": { "subscribe": false, "listChanged": false },
        "completions": {},
        "prompts": { "listChanged": false },
    })
}

/// Guidance for the model, sent by `initialize` and `server/discover`.
const INSTRUCTIONS: &str = "Use the `scout` tool: target \"hosts\" lists the SSH hosts; \"host:/path\" reads a file or lists a directory; add `query` to run a command there.";

fn initialize_result(version: &str) -> Value {
    let mut server_info = json!({ "name": "scout-mcp", "version": env!("CARGO_PKG_VERSION") });
    if at_least(version, "2025-06-18") {
        server_info["title"] = json!("Scout: SSH fleet access");
    }
    json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info,
        "instructions": INSTRUCTIONS,
    })
}

/// `server/discover`: the stateless versions, capabilities and instructions (the identity and
/// cache hints are added by [`modern::finish`]).
fn discover_result() -> Value {
    json!({
        "supportedVersions": modern::VERSIONS,
        "capabilities": capabilities(),
        "instructions": INSTRUCTIONS,
    })
}

/// The `scout` tool as `tools/list` shows it, with only the fields the version knows.
pub fn tool_definition(version: &str, settings: &Settings) -> Value {
    let mut def = json!({
        "name": tool::NAME,
        "description": tool::description(),
        "inputSchema": tool::input_schema(),
    });
    if at_least(version, "2025-03-26") {
        // Truthful hints: the tool uploads files and runs commands, so it can change a host —
        // unless read-only mode is on (no uploads, no copies, no shell policy).
        let read_only = settings.read_only;
        def["annotations"] = json!({
            "title": "Scout",
            "readOnlyHint": read_only,
            "destructiveHint": !read_only,
            "idempotentHint": false,
            "openWorldHint": true,
        });
    }
    if at_least(version, "2025-06-18") {
        def["title"] = json!("Scout");
        def["outputSchema"] = tool::output_schema();
    }
    def
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_supported_versions_and_falls_back_to_the_newest() {
        for v in VERSIONS {
            assert_eq!(negotiate(Some(v)), *v);
        }
        assert_eq!(negotiate(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
    }

    #[test]
    fn the_envelope_decides_the_version_a_request_is_served_at() {
        let s = Settings::from_lookup(|_| None, &Default::default()).unwrap();
        let id = json!(1);
        let call = |meta: Value| {
            Some(json!({"name": "scout", "arguments": {"target": "hosts"}, "_meta": meta}))
        };
        let modern = call(json!({
            modern::PROTOCOL_VERSION: "2026-07-28", modern::CLIENT_CAPABILITIES: {}
        }));
        let mut state = SessionState::default();
        // Before initialize: the stateless request is served, the plain one is not.
        assert_eq!(
            route_request(&mut state, &s, &id, "tools/call", &modern),
            Route::Worker("2026-07-28")
        );
        assert!(matches!(
            route_request(&mut state, &s, &id, "tools/call", &call(json!({}))),
            Route::Now(Some(r)) if r["error"]["code"] == INVALID_REQUEST
        ));
        assert_eq!(
            state.version, None,
            "a stateless request initializes nothing"
        );
        let init = Some(json!({"protocolVersion": "2025-03-26", "_meta": {
            modern::PROTOCOL_VERSION: "2026-07-28", modern::CLIENT_CAPABILITIES: {}
        }}));
        route_request(&mut state, &s, &id, "initialize", &init);
        assert_eq!(
            state.version,
            Some("2025-03-26"),
            "initialize is the handshake"
        );
        assert_eq!(
            route_request(
                &mut state,
                &s,
                &id,
                "tools/call",
                &call(json!({"progressToken": 1}))
            ),
            Route::Worker("2025-03-26")
        );
        assert_eq!(
            route_request(&mut state, &s, &id, "tools/call", &modern),
            Route::Worker("2026-07-28")
        );
    }

    #[test]
    fn tool_fields_follow_the_version() {
        let s = Settings::from_lookup(|_| None, &Default::default()).unwrap();
        let old = tool_definition("2024-11-05", &s);
        assert!(
            old.get("annotations").is_none()
                && old.get("outputSchema").is_none()
                && old.get("title").is_none()
        );
        let mid = tool_definition("2025-03-26", &s);
        assert!(mid.get("annotations").is_some() && mid.get("outputSchema").is_none());
        let new = tool_definition("2025-11-25", &s);
        assert!(new.get("outputSchema").is_some() && new.get("title").is_some());
    }
}
