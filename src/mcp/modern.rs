//! The stateless era of MCP (protocol 2026-07-28 and later): no `initialize`; every request
//! carries its protocol version and the client's capabilities in `params._meta`.
//!
//! The server is dual-era (docs/PROTOCOL.md): a request whose `_meta` holds
//! [`PROTOCOL_VERSION`] is served here, at that version, whatever else the process serves; any
//! other request (and `initialize`, whatever it carries) follows the handshake of the legacy
//! era, unchanged. This module knows what differs: the envelope and its errors, `server/discover`,
//! and the fields every result gains (`resultType`, the server's identity, cache hints).

use serde_json::{json, Map, Value};

use crate::mcp::jsonrpc::{self, INVALID_PARAMS};

/// Protocol versions served statelessly, newest first.
pub use crate::mcp::versions::STATELESS as VERSIONS;

/// `_meta` key: the protocol version of this request (required).
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: the client's capabilities for this request (required).
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: the least severe log level the client wants as `notifications/message`.
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key of a result: the server's name and version.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// MCP: the request's protocol version is not served here (`data.supported` lists those
/// that are).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Methods of the legacy era that 2026-07-28 removed; named in their `-32601`.
pub const REMOVED: &[&str] = &[
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// The syslog levels `io.modelcontextprotocol/logLevel` may name.
const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Whether `version` is one of the stateless era's.
pub fn is_modern(version: &str) -> bool {
    VERSIONS.contains(&version)
}

/// What a request's `_meta` says about its era.
#[derive(Debug, PartialEq)]
pub enum Envelope {
    /// No `io.modelcontextprotocol/protocolVersion`: a request of the legacy era.
    Absent,
    /// A well-formed envelope of a version served here.
    Served(&'static str),
    /// An envelope that must be refused with this error response (`-32602` or `-32022`).
    Refused(Value),
}

/// Reads the envelope of a request (`id` is echoed in a refusal). The checks follow the
/// revision's order: the required fields first (`-32602`), then the version (`-32022`).
pub fn envelope(id: &Value, params: &Option<Value>) -> Envelope {
    let Some(meta) = jsonrpc::params_object(params)
        .and_then(|p| p.get("_meta"))
        .and_then(Value::as_object)
    else {
        return Envelope::Absent;
    };
    let Some(requested) = meta.get(PROTOCOL_VERSION) else {
        return Envelope::Absent;
    };
    let invalid = |message: &str| Envelope::Refused(jsonrpc::error(id, INVALID_PARAMS, message));
    match meta.get(CLIENT_CAPABILITIES) {
        None => {
            return invalid(&format!(
                "Invalid params: _meta lacks \"{CLIENT_CAPABILITIES}\", which every request of \
                 protocol version 2026-07-28 carries (an empty object declares no capability)"
            ))
        }
        Some(Value::Object(_)) => {}
        Some(_) => {
            return invalid(&format!(
                "Invalid params: _meta \"{CLIENT_CAPABILITIES}\" must be an object"
            ))
        }
    }
    if let Some(level) = meta.get(LOG_LEVEL) {
        if !level.as_str().is_some_and(|l| LOG_LEVELS.contains(&l)) {
            return invalid(&format!(
                "Invalid params: _meta \"{LOG_LEVEL}\" must be one of {}",
                LOG_LEVELS.join(", ")
            ));
        }
    }
    let Some(requested) = requested.as_str() else {
        return invalid(&format!(
            "Invalid params: _meta \"{PROTOCOL_VERSION}\" must be a string"
        ));
    };
    match VERSIONS.iter().find(|v| **v == requested) {
        Some(version) => Envelope::Served(version),
        None => Envelope::Refused(jsonrpc::error_with_data(
            id,
            UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            json!({ "supported": supported_versions(), "requested": shorten(requested) }),
        )),
    }
}

/// Every version this server speaks, stateless ones first (the `supported` list of a
/// `-32022`: the legacy ones are reached through `initialize`).
pub fn supported_versions() -> Vec<&'static str> {
    crate::mcp::versions::all()
}

/// Whether a message (a member of a batch) is a request of the stateless era.
pub fn carries_envelope(message: &Value) -> bool {
    message
        .get("params")
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(PROTOCOL_VERSION))
        .is_some()
}

/// How long (ms) a client may keep a result, and who may share it.
fn cache_hints(method: &str) -> Option<(u64, &'static str)> {
    const HOUR: u64 = 3_600_000;
    match method {
        // Fixed for the life of the process and the same for every user of it.
        "server/discover" | "tools/list" | "prompts/list" => Some((HOUR, "public")),
        // The host aliases of the user's ssh_config: fixed while the process runs, but theirs.
        "resources/list" | "resources/templates/list" => Some((300_000, "private")),
        // Remote files, directories and services change under us at any time.
        "resources/read" => Some((0, "private")),
        _ => None,
    }
}

/// The server's identity, as results of this era carry it in `_meta`.
pub fn server_info() -> Value {
    json!({
        "name": "scout-mcp",
        "title": "Scout: SSH fleet access",
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Completes the result of `method` for a request of `version`: for the stateless era it gains
/// `resultType`, the server's identity in `_meta`, and cache hints where the revision asks for
/// them. Results of the legacy era are returned as they are.
pub fn finish(version: &str, method: &str, result: Value) -> Value {
    if !is_modern(version) {
        return result;
    }
    // Every MCP result is an object; anything else is left as it is.
    let Value::Object(mut result) = result else {
        return result;
    };
    result.insert("resultType".into(), json!("complete"));
    let meta = result
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(SERVER_INFO.into(), server_info());
    }
    if let Some((ttl, scope)) = cache_hints(method) {
        result.insert("ttlMs".into(), json!(ttl));
        result.insert("cacheScope".into(), json!(scope));
    }
    Value::Object(result)
}

/// The `-32601` answer to a method the stateless era does not have.
pub fn method_not_found(id: &Value, version: &str, method: &str) -> Value {
    let method = shorten(method);
    let message = if REMOVED.contains(&method.as_str()) {
        format!("method not found: {method} does not exist in protocol version {version}")
    } else {
        format!("method not found: {method}")
    };
    jsonrpc::error(id, jsonrpc::METHOD_NOT_FOUND, &message)
}

fn shorten(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(meta: Value) -> Envelope {
        envelope(&json!(1), &Some(json!({ "_meta": meta })))
    }

    fn code(e: Envelope) -> i64 {
        match e {
            Envelope::Refused(r) => r["error"]["code"].as_i64().unwrap_or(0),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_version_key_alone_decides_the_era() {
        assert_eq!(envelope(&json!(1), &None), Envelope::Absent);
        assert_eq!(env(json!({"progressToken": 3})), Envelope::Absent);
        assert_eq!(
            env(json!({PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: {}})),
            Envelope::Served("2026-07-28")
        );
    }

    #[test]
    fn malformed_envelopes_are_invalid_params_and_unknown_versions_name_the_served_ones() {
        assert_eq!(code(env(json!({PROTOCOL_VERSION: "2026-07-28"}))), -32602);
        assert_eq!(
            code(env(
                json!({PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: []})
            )),
            -32602
        );
        assert_eq!(
            code(env(
                json!({PROTOCOL_VERSION: 2026, CLIENT_CAPABILITIES: {}})
            )),
            -32602
        );
        assert_eq!(
            code(env(
                json!({PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: {}, LOG_LEVEL: "loud"})
            )),
            -32602
        );
        // Missing fields are reported before the version is looked at.
        assert_eq!(code(env(json!({PROTOCOL_VERSION: "1900-01-01"}))), -32602);
        let Envelope::Refused(r) =
            env(json!({PROTOCOL_VERSION: "2025-11-25", CLIENT_CAPABILITIES: {}}))
        else {
            panic!("a legacy version in the envelope is not served statelessly")
        };
        assert_eq!(r["error"]["code"], -32022);
        assert_eq!(r["error"]["data"]["requested"], "2025-11-25");
        assert_eq!(r["error"]["data"]["supported"][0], "2026-07-28");
        assert!(r["error"]["data"]["supported"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("2024-11-05"))));
    }

    #[test]
    fn results_gain_the_fields_of_the_era_and_legacy_ones_stay_as_they_were() {
        let legacy = finish("2025-11-25", "tools/list", json!({"tools": []}));
        assert_eq!(legacy, json!({"tools": []}));
        let list = finish("2026-07-28", "resources/read", json!({"contents": []}));
        assert_eq!(list["resultType"], "complete");
        assert_eq!(
            (list["ttlMs"].clone(), list["cacheScope"].clone()),
            (json!(0), json!("private"))
        );
        assert_eq!(list["_meta"][SERVER_INFO]["name"], "scout-mcp");
        let call = finish(
            "2026-07-28",
            "tools/call",
            json!({"content": [], "_meta": {"x": 1}}),
        );
        assert!(
            call.get("ttlMs").is_none() && call["_meta"]["x"] == 1,
            "{call}"
        );
    }
}
