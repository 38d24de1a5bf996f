//! MCP resources (docs/BEHAVIOUR.md §4) and `completion/complete`, over the library.
//!
//! * `hosts://list` — the host table.
//! * `scout://{host}/{path*}` — a file (text, or base64 `blob` when binary) or a directory
//!   listing, for any host.
//! * `{host}://{path*}` — the same, for each host whose alias is a valid URI scheme (others are
//!   skipped with a warning), plus that host's docker / compose / zfs / syslog resources
//!   ([`Service`]).
//!
//! Matching order: the static `hosts://list`, then service URIs, then the filesystem templates.
//! Lists are paginated with an opaque cursor.

use serde_json::{json, Value};

use crate::error::{Error, ErrorKind};
use crate::mcp::jsonrpc::{self, INTERNAL_ERROR, INVALID_PARAMS, RESOURCE_NOT_FOUND};
use crate::mcp::modern;
use crate::ops::fs::View;
use crate::ops::services::{Service, KINDS};
use crate::ops::target::RemotePath;
use crate::scout::Scout;
use crate::util::base64;
use crate::{control::Control, tool};

/// Items per page of `resources/list` and `resources/templates/list`.
pub const PAGE_SIZE: usize = 100;
/// Values offered by one completion.
const MAX_COMPLETIONS: usize = 100;

/// A JSON-RPC error for a resource method.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// A JSON-RPC error code, e.g. [`RESOURCE_NOT_FOUND`].
    pub code: i64,
    /// The error message sent to the client.
    pub message: String,
    /// For a resource that does not exist: its URI.
    pub uri: Option<String>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            uri: None,
        }
    }

    fn not_found(uri: &str, message: impl Into<String>) -> RpcError {
        RpcError {
            uri: Some(short(uri)),
            ..RpcError::new(RESOURCE_NOT_FOUND, message)
        }
    }

    /// The error response for request `id` of protocol `version`. A missing resource is
    /// `-32002` up to 2025-11-25; 2026-07-28 answers it with `-32602` and the URI in `data`.
    pub fn response(&self, id: &Value, version: &str) -> Value {
        match &self.uri {
            Some(uri) if self.code == RESOURCE_NOT_FOUND && modern::is_modern(version) => {
                jsonrpc::error_with_data(id, INVALID_PARAMS, &self.message, json!({ "uri": uri }))
            }
            _ => jsonrpc::error(id, self.code, &self.message),
        }
    }
}

type Reply = Result<Value, RpcError>;

/// Serves one resource or completion method (they run on a worker: reads touch SSH).
pub fn handle(scout: &Scout, method: &str, params: &Option<Value>, control: &Control) -> Reply {
    let p = jsonrpc::params_object(params);
    let get = |key: &str| p.and_then(|p| p.get(key));
    match method {
        "resources/list" => page(resources(scout), get("cursor"), "resources"),
        "resources/templates/list" => page(templates(scout), get("cursor"), "resourceTemplates"),
        "resources/read" => match get("uri").and_then(Value::as_str) {
            Some(uri) => read(scout, uri, control),
            None => Err(RpcError::new(
                INVALID_PARAMS,
                "resources/read needs a string \"uri\"",
            )),
        },
        "completion/complete" => complete(scout, get("ref"), get("argument"), get("context")),
        _ => Err(RpcError::new(
            INTERNAL_ERROR,
            format!("not a resource method: {method}"),
        )),
    }
}

/// Aliases usable as a URI scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`),
/// except the schemes this server uses itself.
pub fn scheme_aliases(scout: &Scout) -> Vec<String> {
    scout
        .aliases()
        .into_iter()
        .filter(|a| is_scheme(a))
        .collect()
}

/// Logs, once at startup, the hosts that get no `{host}://` resources.
pub fn warn_unusable_aliases(scout: &Scout) {
    for alias in scout.aliases().into_iter().filter(|a| !is_scheme(a)) {
        log::warn!(
            "host '{alias}' is not a valid URI scheme (or is reserved): no {alias}:// resources; \
             use scout://{alias}/PATH"
        );
    }
}

fn is_scheme(alias: &str) -> bool {
    let mut chars = alias.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !["scout", "hosts"].contains(&alias.to_ascii_lowercase().as_str())
}

fn resources(scout: &Scout) -> Vec<Value> {
    let mut all = vec![json!({
        "uri": "hosts://list", "name": "hosts", "title": "SSH hosts",
        "description": "Every configured host: user@hostname:port and whether it is reachable",
        "mimeType": "text/plain",
    })];
    for host in scheme_aliases(scout) {
        for kind in KINDS.iter().filter(|k| !k.is_template()) {
            all.push(json!({
                "uri": format!("{host}://{}", kind.uri), "name": format!("{host} {}", kind.title),
                "description": kind.description, "mimeType": "text/plain",
            }));
        }
    }
    all
}

fn templates(scout: &Scout) -> Vec<Value> {
    let mut all = vec![json!({
        "uriTemplate": "scout://{host}/{path*}", "name": "remote path",
        "description": "A file (text, or base64 blob if binary) or a directory listing on any host; paths are absolute, or start with ~",
    })];
    for host in scheme_aliases(scout) {
        all.push(json!({
            "uriTemplate": format!("{host}://{{path*}}"), "name": format!("{host} path"),
            "description": format!("A file or directory on {host}"),
        }));
        for kind in KINDS.iter().filter(|k| k.is_template()) {
            all.push(json!({
                "uriTemplate": format!("{host}://{}", kind.uri), "name": format!("{host} {}", kind.title),
                "description": kind.description, "mimeType": "text/plain",
            }));
        }
    }
    all
}

/// One page of `items` under `key`, with `nextCursor` when more remain.
fn page(items: Vec<Value>, cursor: Option<&Value>, key: &str) -> Reply {
    let start = match cursor {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| RpcError::new(INVALID_PARAMS, format!("invalid cursor '{c}'")))?,
        Some(_) => return Err(RpcError::new(INVALID_PARAMS, "the cursor must be a string")),
    };
    let end = (start + PAGE_SIZE).min(items.len());
    let mut result = json!({ key: items[start..end].to_vec() });
    if end < items.len() {
        result["nextCursor"] = json!(end.to_string());
    }
    Ok(result)
}

/// Where a URI points.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    Hosts,
    Path { host: String, path: String },
    Service { host: String, service: Service },
}

fn locate(scout: &Scout, uri: &str) -> Result<Location, RpcError> {
    if uri == "hosts://list" {
        return Ok(Location::Hosts);
    }
    let not_found = || RpcError::not_found(uri, format!("resource not found: {}", short(uri)));
    let (scheme, rest) = uri.split_once("://").ok_or_else(not_found)?;
    if scheme == "scout" {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        return Ok(Location::Path {
            host: decode(host)?,
            path: remote_path(&decode(path)?),
        });
    }
    if !is_scheme(scheme) || scout.host(scheme).is_err() {
        return Err(not_found());
    }
    let host = scheme.to_string();
    match Service::parse(rest) {
        Some(Ok(service)) => Ok(Location::Service { host, service }),
        Some(Err(message)) => Err(RpcError::new(INVALID_PARAMS, message)),
        None => Ok(Location::Path {
            host,
            path: remote_path(&decode(rest)?),
        }),
    }
}

/// URI path → remote path: absolute unless it starts with `~`.
fn remote_path(p: &str) -> String {
    if p.starts_with('~') {
        p.to_string()
    } else {
        format!("/{}", p.trim_start_matches('/'))
    }
}

fn read(scout: &Scout, uri: &str, control: &Control) -> Reply {
    let text = |t: String| {
        Ok(json!({ "contents": [{ "uri": uri, "mimeType": "text/plain", "text": t }] }))
    };
    match locate(scout, uri)? {
        Location::Hosts => text(crate::ops::hosts::format_with_groups(
            &scout.hosts(),
            scout.groups(),
        )),
        Location::Service { host, service } => {
            text(scout.service(&host, &service, control).map_err(|e| rpc_error(uri, e))?)
        }
        Location::Path { host, path } => match RemotePath::new(&host, &path)
            .and_then(|at| scout.view(&at, control))
            .map_err(|e| rpc_error(uri, e))?
        {
            View::Directory(listing) => text(tool::format::listing(&host, &listing).text),
            View::File(file) if file.binary.is_some() && file.truncated => Err(RpcError::new(
                INVALID_PARAMS,
                format!(
                    "{host}:{path} is a binary file of {} bytes, larger than SCOUT_MAX_FILE_SIZE: download it with the scout tool's beam mode",
                    file.size
                ),
            )),
            View::File(file) => {
                let mime = mime_type(&path, file.binary);
                let mut content = json!({ "uri": uri, "mimeType": mime });
                match file.text() {
                    // The text, with the truncation marker when the file was cut.
                    Some(_) => content["text"] = json!(tool::format::file(&host, &file).text),
                    None => content["blob"] = json!(base64::encode(&file.bytes)),
                }
                Ok(json!({ "contents": [content] }))
            }
        },
    }
}

fn rpc_error(uri: &str, e: Error) -> RpcError {
    let code = match e.kind() {
        ErrorKind::UnknownHost | ErrorKind::NotFound => RESOURCE_NOT_FOUND,
        ErrorKind::InvalidArgument | ErrorKind::Policy => INVALID_PARAMS,
        _ => INTERNAL_ERROR,
    };
    if code == RESOURCE_NOT_FOUND {
        return RpcError::not_found(uri, e.to_string());
    }
    RpcError::new(code, e.to_string())
}

/// A fitting MIME type: from the binary content's kind, else from the extension.
fn mime_type(path: &str, binary: Option<&str>) -> &'static str {
    if let Some(kind) = binary {
        return match kind {
            "PNG image" => "image/png",
            "JPEG image" => "image/jpeg",
            "GIF image" => "image/gif",
            "PDF document" => "application/pdf",
            "gzip archive" => "application/gzip",
            "zip archive" => "application/zip",
            "SQLite database" => "application/vnd.sqlite3",
            "WebAssembly module" => "application/wasm",
            _ => "application/octet-stream",
        };
    }
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "md" => "text/markdown",
        "html" | "htm" => "text/plain", // never served as HTML (docs/BEHAVIOUR.md §4.1)
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "xml" => "application/xml",
        "csv" => "text/csv",
        "sh" => "application/x-sh",
        _ => "text/plain",
    }
}

/// `completion/complete`: host names for `{host}`, remote paths for `{path}`.
fn complete(
    scout: &Scout,
    reference: Option<&Value>,
    argument: Option<&Value>,
    context: Option<&Value>,
) -> Reply {
    let name = argument.and_then(|a| a.get("name")).and_then(Value::as_str);
    let value = argument
        .and_then(|a| a.get("value"))
        .and_then(Value::as_str);
    let (Some(name), Some(value)) = (name, value) else {
        return Err(RpcError::new(
            INVALID_PARAMS,
            "completion/complete needs argument {\"name\", \"value\"}",
        ));
    };
    let template = reference
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("ref/resource"))
        .and_then(|r| r.get("uri"))
        .and_then(Value::as_str);
    let values = match (template, name) {
        (Some(_), "host") => scout
            .aliases()
            .into_iter()
            .filter(|a| a.starts_with(value))
            .collect(),
        (Some(t), "path") => {
            let host = t
                .split_once("://")
                .map(|(scheme, _)| scheme)
                .filter(|s| *s != "scout")
                .map(str::to_string)
                .or_else(|| {
                    context
                        .and_then(|c| c.get("arguments"))
                        .and_then(|a| a.get("host"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            match host {
                Some(h) => complete_path(scout, &h, value),
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let total = values.len();
    let shown: Vec<String> = values.into_iter().take(MAX_COMPLETIONS).collect();
    Ok(
        json!({ "completion": { "values": shown, "total": total, "hasMore": total > MAX_COMPLETIONS } }),
    )
}

/// `{path*}` values are written without the leading `/` (`scout://web/etc/ho` → `etc/ho`).
fn complete_path(scout: &Scout, host: &str, value: &str) -> Vec<String> {
    let absolute = remote_path(value);
    match scout.complete_path(host, &absolute, MAX_COMPLETIONS + 1) {
        Ok(paths) if value.starts_with('~') => paths,
        Ok(paths) => paths
            .into_iter()
            .map(|p| p.trim_start_matches('/').to_string())
            .collect(),
        Err(e) => {
            log::debug!("completion on {host}: {e}");
            Vec::new()
        }
    }
}

/// Percent-decoding of a URI part; invalid escapes or non-UTF-8 results are refused.
fn decode(s: &str) -> Result<String, RpcError> {
    let bad = || {
        RpcError::new(
            INVALID_PARAMS,
            format!("invalid percent-encoding in '{}'", short(s)),
        )
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_valid_uri_schemes_become_host_schemes() {
        for ok in ["web1", "db.prod", "a+b-c"] {
            assert!(is_scheme(ok), "{ok}");
        }
        for bad in ["1web", "web_1", "", "scout", "HOSTS", "we b", "wéb"] {
            assert!(!is_scheme(bad), "{bad}");
        }
    }

    #[test]
    fn pages_carry_a_cursor_until_the_end() {
        let items: Vec<Value> = (0..250).map(|i| json!(i)).collect();
        let first = page(items.clone(), None, "k").unwrap();
        assert_eq!(first["k"].as_array().unwrap().len(), 100);
        assert_eq!(first["nextCursor"], "100");
        let last = page(items.clone(), Some(&json!("200")), "k").unwrap();
        assert_eq!(last["k"].as_array().unwrap().len(), 50);
        assert!(last.get("nextCursor").is_none());
        assert_eq!(
            page(items.clone(), Some(&json!("x")), "k")
                .unwrap_err()
                .code,
            INVALID_PARAMS
        );
        assert_eq!(
            page(items, Some(&json!("999")), "k").unwrap_err().code,
            INVALID_PARAMS
        );
    }

    #[test]
    fn uris_decode_and_map_to_remote_paths() {
        assert_eq!(decode("etc/my%20file").unwrap(), "etc/my file");
        assert!(decode("bad%zz").is_err() && decode("cut%2").is_err() && decode("%ff").is_err());
        assert_eq!(remote_path("etc/hosts"), "/etc/hosts");
        assert_eq!(remote_path("~/x"), "~/x");
        assert_eq!(remote_path(""), "/");
    }

    #[test]
    fn mime_types_fit_the_content() {
        assert_eq!(mime_type("/a/b.json", None), "application/json");
        assert_eq!(mime_type("/a/index.html", None), "text/plain");
        assert_eq!(mime_type("/x", Some("PNG image")), "image/png");
        assert_eq!(
            mime_type("/x.txt", Some("binary data")),
            "application/octet-stream"
        );
    }
}
