//! JSON-RPC 2.0 messages: parsing what arrives, shaping what leaves.

use serde_json::{json, Map, Value};

/// JSON-RPC: the line is not valid JSON (or not UTF-8).
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: valid JSON, but not a request object.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: no such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC: the method exists, its parameters are wrong.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC: the server failed (a bug, or a worker that panicked).
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP up to 2025-11-25: resource not found (2026-07-28 uses [`INVALID_PARAMS`]).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// Most JSON values (objects, arrays, strings, numbers, literals) in one incoming line. A
/// parsed value costs far more memory than its text (`[0,0,0,…]` is ~2 bytes of text and 32+
/// bytes parsed), so a line is counted before it is parsed. The biggest legitimate message, a
/// broadcast of 1000 targets, has a few thousand.
pub const MAX_VALUES: usize = 100_000;

/// Refuses a line with more than [`MAX_VALUES`] JSON values, counted without parsing it (one
/// pass over the bytes, strings skipped).
pub fn check_complexity(text: &str) -> Result<(), String> {
    let mut values = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut in_scalar = false;
    for &b in text.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        let starts = match b {
            b'"' => {
                in_string = true;
                in_scalar = false;
                true
            }
            b'{' | b'[' => {
                in_scalar = false;
                true
            }
            b',' | b':' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' => {
                in_scalar = false;
                false
            }
            _ if in_scalar => false,
            _ => {
                in_scalar = true;
                true
            }
        };
        if starts {
            values += 1;
            if values > MAX_VALUES {
                return Err(format!(
                    "Invalid Request: the message has more than {MAX_VALUES} JSON values; \
                     split it up"
                ));
            }
        }
    }
    Ok(())
}

/// One incoming message, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request: must be answered exactly once, with this id.
    Request {
        /// The id to echo (a string or a number).
        id: Value,
        /// The method name, e.g. `tools/call`.
        method: String,
        /// The `params` member, if present.
        params: Option<Value>,
    },
    /// A notification: never answered.
    Notification {
        /// The method name, e.g. `notifications/cancelled`.
        method: String,
        /// The `params` member, if present.
        params: Option<Value>,
    },
    /// A response from the client (we send no requests, so these are ignored).
    Response,
    /// Not a valid message: answered with this error (id null if unknown).
    Invalid {
        /// The request's id when it could be read, else null.
        id: Value,
        /// [`PARSE_ERROR`] or [`INVALID_REQUEST`].
        code: i64,
        /// What is wrong with the message.
        message: String,
    },
}

/// Classifies one JSON value as a JSON-RPC message.
pub fn classify(value: Value) -> Message {
    let Value::Object(mut obj) = value else {
        return invalid(
            Value::Null,
            "Invalid Request: a message must be a JSON object",
        );
    };
    let id = obj.remove("id");
    let id_ok = matches!(&id, Some(Value::String(_)) | Some(Value::Number(_)));
    let echo_id = if id_ok {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid(echo_id, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => return invalid(echo_id, "Invalid Request: \"method\" must be a string"),
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Message::Response
        }
        None => return invalid(echo_id, "Invalid Request: missing \"method\""),
    };
    let params = obj.remove("params");
    if let Some(p) = &params {
        if !(p.is_object() || p.is_array()) {
            return invalid(
                echo_id,
                "Invalid Request: \"params\" must be an object or an array",
            );
        }
    }
    match id {
        None => Message::Notification { method, params },
        Some(_) if id_ok => Message::Request {
            id: echo_id,
            method,
            params,
        },
        Some(_) => invalid(
            Value::Null,
            "Invalid Request: \"id\" must be a string or a number",
        ),
    }
}

fn invalid(id: Value, message: &str) -> Message {
    Message::Invalid {
        id,
        code: INVALID_REQUEST,
        message: message.to_string(),
    }
}

/// A success response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// An error response.
pub fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// An error response with a `data` member.
pub fn error_with_data(id: &Value, code: i64, message: &str, data: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message, "data": data } })
}

/// A notification from the server.
pub fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// A stable key for an id (string "1" and number 1 are different ids).
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

/// `params` as an object (missing → empty); arrays are not meaningful for MCP methods.
pub fn params_object(params: &Option<Value>) -> Option<&Map<String, Value>> {
    match params {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests_notifications_and_garbage() {
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","id":"a","method":"ping"})),
            Message::Request { id, .. } if id == json!("a")
        ));
        assert!(matches!(
            classify(json!({"jsonrpc":"2.0","method":"notifications/initialized"})),
            Message::Notification { .. }
        ));
        assert_eq!(
            classify(json!({"jsonrpc":"2.0","id":1,"result":{}})),
            Message::Response
        );
        for bad in [
            json!(1),
            json!("x"),
            json!(null),
            json!({"id":1,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":1,"method":5}),
            json!({"jsonrpc":"2.0","id":{},"method":"ping"}),
            json!({"jsonrpc":"2.0","id":null,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":1,"method":"ping","params":3}),
        ] {
            assert!(
                matches!(
                    classify(bad.clone()),
                    Message::Invalid {
                        code: INVALID_REQUEST,
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_requests_echo_a_valid_id() {
        match classify(json!({"jsonrpc":"1.0","id":7,"method":"ping"})) {
            Message::Invalid { id, .. } => assert_eq!(id, json!(7)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn complexity_is_counted_without_parsing() {
        assert!(check_complexity(r#"{"a":[1,2,"x,y:[{"],"b":{"c":null}}"#).is_ok());
        let dense = format!("[{}0]", "0,".repeat(MAX_VALUES));
        assert!(check_complexity(&dense).is_err());
        // Values hidden in strings do not count.
        let string = format!(r#"{{"s":"{}"}}"#, "0,".repeat(MAX_VALUES));
        assert!(check_complexity(&string).is_ok());
        let escaped = format!(r#"{{"s":"\"{}"}}"#, "[".repeat(MAX_VALUES));
        assert!(check_complexity(&escaped).is_ok());
        let exactly = format!("[{}0]", "0,".repeat(MAX_VALUES - 2));
        assert!(check_complexity(&exactly).is_ok());
    }
}
