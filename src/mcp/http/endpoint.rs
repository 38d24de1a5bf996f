//! One connection's requests: `/health`, and `/mcp` with its checks (origin, key, media
//! types, size, rate), its two eras, and the response — one JSON body, or an SSE stream that
//! carries progress and ends with the answer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::guard::{host_allowed, origin_allowed};
use super::wire::{Body, Connection, ReadError, Request, Response};
use super::{NoSession, Server, MAX_BODY};
use crate::mcp::jsonrpc::{
    self, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR,
};
use crate::mcp::modern::{self, Envelope, UNSUPPORTED_PROTOCOL_VERSION};
use crate::mcp::outbox::{Next, Outbox};
use crate::mcp::protocol::{self, SessionState};
use crate::util::base64;

/// MCP 2026-07-28: the HTTP headers disagree with the body, or a required one is missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// Bytes of progress a response stream holds for a client that reads slowly (its final
/// answer always fits).
const STREAM_BYTES: usize = 256 * 1024;
/// How often a waiting response looks at its outbox and at the client's socket.
const TICK: Duration = Duration::from_millis(100);
/// A client that accepts both gets JSON when the answer comes within this, else a stream.
const COMMIT_AFTER: Duration = Duration::from_secs(1);
/// An SSE comment this often keeps a quiet stream alive through proxies.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Answers longer than this are results, never errors: no need to read their code.
const ERROR_SIZE: usize = 64 * 1024;

/// What the client takes back (`Accept`).
#[derive(Debug, Clone, Copy)]
struct Accept {
    json: bool,
    sse: bool,
}

impl Accept {
    fn of(request: &Request) -> Accept {
        let Some(value) = request.header("accept") else {
            return Accept {
                json: true,
                sse: true,
            };
        };
        let types: Vec<String> = value
            .split(',')
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        let has = |wanted: &[&str]| types.iter().any(|t| wanted.contains(&t.as_str()));
        Accept {
            json: has(&["application/json", "application/*", "*/*"]),
            sse: has(&["text/event-stream", "text/*", "*/*"]),
        }
    }
}

/// How a POST's response ends: on a modern request whose stream closes, cancel it.
struct Answer<'a> {
    out: Arc<Outbox>,
    accept: Accept,
    modern: bool,
    /// Scope and id of a stateless request (closing its stream cancels it).
    cancel_on_close: Option<(String, Value)>,
    headers: Vec<(&'static str, String)>,
    batch: bool,
    request: &'a Request,
}

impl Server {
    /// Reads and answers requests on one connection until it ends.
    pub(super) fn connection(&self, stream: std::net::TcpStream, open: super::Open<'_>) {
        let peer = match stream.peer_addr() {
            Ok(p) => p,
            Err(_) => return,
        };
        let Ok(mut conn) = Connection::new(stream, peer, self.config.timeout) else {
            return;
        };
        // Declared after `conn`, so dropped before it: the place is free when the socket closes.
        let _open = open;
        loop {
            let (request, deadline) = match conn.read_head(&self.stopping) {
                Ok(r) => r,
                Err(ReadError::Closed) => return,
                Err(ReadError::Status(status, why)) => {
                    log::debug!("{peer}: {status} {why}");
                    let _ = conn.write_response(&error_response(status, why), false, false);
                    return;
                }
            };
            let keep = catch_unwind(AssertUnwindSafe(|| {
                self.handle(&mut conn, &request, deadline)
            }))
            .unwrap_or_else(|_| {
                log::error!("{peer}: internal error while serving an HTTP request");
                false
            });
            if !keep || !request.keep_alive || self.stopping.load(Ordering::Acquire) {
                return;
            }
        }
    }

    /// Answers one request; whether the connection can carry another.
    fn handle(&self, conn: &mut Connection, request: &Request, deadline: Instant) -> bool {
        let head_only = request.method == "HEAD";
        match request.path.as_str() {
            "/health" => match request.method.as_str() {
                "GET" | "HEAD" => {
                    let body = serde_json::json!({"status": "ok"}).to_string();
                    finish(conn, request, Response::json(200, body), false, head_only)
                }
                _ => finish(
                    conn,
                    request,
                    Response::text(405, "Method Not Allowed").with("Allow", "GET, HEAD"),
                    false,
                    false,
                ),
            },
            "/mcp" => self.mcp(conn, request, deadline),
            _ => finish(
                conn,
                request,
                Response::text(404, "Not Found: the MCP endpoint is /mcp"),
                false,
                head_only,
            ),
        }
    }

    fn mcp(&self, conn: &mut Connection, request: &Request, deadline: Instant) -> bool {
        let peer = conn.peer;
        // DNS rebinding: a browser page may reach a loopback port under a name of its own,
        // but its Origin still names it.
        let origin = request.header("origin");
        if let Some(origin) = origin {
            if request.count("origin") > 1 || !origin_allowed(origin, &self.config.allowed_origins)
            {
                log::info!("{peer}: 403 for Origin {origin:?}");
                return finish(
                    conn,
                    request,
                    rpc_error(403, "Forbidden: this Origin may not use the server"),
                    false,
                    false,
                );
            }
        }
        // Without keys, the Host must be this machine too: a page that rebinds its name to
        // 127.0.0.1 is refused even by a client that sends no Origin.
        if !self.keys.required() {
            if let Some(host) = request.header("host") {
                if !host_allowed(host, &self.config.allowed_origins) {
                    log::info!("{peer}: 403 for Host {host:?}");
                    return finish(
                        conn,
                        request,
                        rpc_error(
                            403,
                            "Forbidden: without API keys the server answers only requests \
                             addressed to a loopback host (Host header)",
                        ),
                        false,
                        false,
                    );
                }
            }
        }
        let cors: Vec<(&'static str, String)> = match origin {
            Some(origin) => vec![
                ("Access-Control-Allow-Origin", origin.to_string()),
                ("Vary", "Origin".into()),
                (
                    "Access-Control-Expose-Headers",
                    "Mcp-Session-Id, WWW-Authenticate, Retry-After".into(),
                ),
            ],
            None => Vec::new(),
        };
        if request.method == "OPTIONS" {
            let mut response = Response::empty(204)
                .with("Access-Control-Allow-Methods", "POST, DELETE, OPTIONS")
                .with(
                    "Access-Control-Allow-Headers",
                    "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, \
                     Mcp-Method, Mcp-Name, Last-Event-ID",
                )
                .with("Access-Control-Max-Age", "600");
            response.headers.extend(cors);
            return finish(conn, request, response, false, false);
        }
        let principal = if self.keys.required() {
            let authorization = request.header("authorization");
            match self
                .keys
                .check(authorization)
                .filter(|_| request.count("authorization") == 1)
            {
                Some(i) => i,
                None => {
                    log::info!(
                        "{peer}: 401 ({})",
                        if authorization.is_some() {
                            "a key that is not one of SCOUT_API_KEYS"
                        } else {
                            "no Authorization header"
                        }
                    );
                    let challenge = if authorization.is_some() {
                        "Bearer realm=\"scout-mcp\", error=\"invalid_token\""
                    } else {
                        "Bearer realm=\"scout-mcp\""
                    };
                    let mut response = rpc_error(
                        401,
                        "Unauthorized: send `Authorization: Bearer <key>` with one of the \
                         server's API keys",
                    )
                    .with("WWW-Authenticate", challenge);
                    response.headers.extend(cors);
                    return finish(conn, request, response, false, false);
                }
            }
        } else {
            0
        };
        let mut answer = match request.method.as_str() {
            "POST" => return self.post(conn, request, deadline, principal, cors),
            "DELETE" => self.delete(request, principal),
            // No standalone stream: nothing here is ever sent unasked.
            _ => Response::text(405, "Method Not Allowed: POST a JSON-RPC message")
                .with("Allow", "POST, DELETE"),
        };
        answer.headers.extend(cors);
        finish(conn, request, answer, false, false)
    }

    /// `DELETE /mcp`: ends a session and cancels what it has in flight.
    fn delete(&self, request: &Request, principal: usize) -> Response {
        let Some(id) = request.header("mcp-session-id") else {
            if request
                .header("mcp-protocol-version")
                .is_some_and(modern::is_modern)
            {
                return Response::text(405, "Method Not Allowed: 2026-07-28 has no sessions")
                    .with("Allow", "POST");
            }
            return rpc_error(400, "Bad Request: DELETE needs the Mcp-Session-Id header");
        };
        if request.count("mcp-session-id") > 1 || !self.sessions.remove(id, principal) {
            return rpc_error(404, "Not Found: no such session");
        }
        let cancelled = self.engine.cancel_scope(&session_scope(id));
        log::info!("session ended by the client ({cancelled} request(s) cancelled)");
        Response::empty(204)
    }

    fn post(
        &self,
        conn: &mut Connection,
        request: &Request,
        deadline: Instant,
        principal: usize,
        cors: Vec<(&'static str, String)>,
    ) -> bool {
        let refuse = |conn: &mut Connection, mut response: Response, body_read: bool| {
            response.headers.extend(cors.iter().cloned());
            finish(conn, request, response, body_read, false)
        };
        let media = request
            .header("content-type")
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if media.as_deref() != Some("application/json") {
            return refuse(
                conn,
                rpc_error(415, "Unsupported Media Type: POST application/json"),
                false,
            );
        }
        let accept = Accept::of(request);
        if !accept.json && !accept.sse {
            return refuse(
                conn,
                rpc_error(
                    406,
                    "Not Acceptable: accept application/json and text/event-stream",
                ),
                false,
            );
        }
        if let Body::Length(n) = request.body {
            if n > MAX_BODY as u64 {
                return refuse(
                    conn,
                    rpc_error(
                        413,
                        &format!("Content Too Large: at most {MAX_BODY} bytes per message"),
                    ),
                    false,
                );
            }
        }
        if request.expects_continue && request.has_body() && conn.write_continue().is_err() {
            return false;
        }
        let body = match conn.read_body(request, MAX_BODY, deadline) {
            Ok(body) => body,
            Err(ReadError::Closed) => return false,
            Err(ReadError::Status(status, why)) => {
                return refuse(conn, rpc_error(status, why), false)
            }
        };
        let size = body.len();
        let value = match parse(&body) {
            Ok(v) => v,
            Err(response) => return refuse(conn, response, true),
        };
        let requests = count_requests(&value);
        if requests > 0 {
            if let Err(wait) = self.limits.take(principal, requests, Instant::now()) {
                let seconds = wait
                    .as_secs()
                    .saturating_add(u64::from(wait.subsec_nanos() > 0));
                log::info!(
                    "{}: 429 for key {} (SCOUT_RATE_LIMIT_PER_MINUTE)",
                    conn.peer,
                    self.principals[principal].label
                );
                let response = Response::json(
                    429,
                    jsonrpc::error(
                        &single_id(&value),
                        INTERNAL_ERROR,
                        &format!(
                            "Too Many Requests: this key may send {} requests a minute \
                             ({} at once); retry in {seconds} s",
                            self.config.rate_per_minute, self.config.burst
                        ),
                    )
                    .to_string(),
                )
                .with("Retry-After", seconds.max(1).to_string());
                return refuse(conn, response, true);
            }
        }
        // A request that names 2026-07-28 in its header but carries no envelope in its body
        // is a stateless request gone wrong, not a session's.
        let header_modern = request
            .header("mcp-protocol-version")
            .is_some_and(modern::is_modern);
        if header_modern
            && value.is_object()
            && !modern::carries_envelope(&value)
            && count_requests(&value) == 1
        {
            let id = single_id(&value);
            let response = if value.get("method").and_then(Value::as_str) == Some("initialize") {
                Response::json(
                    404,
                    jsonrpc::error(
                        &id,
                        METHOD_NOT_FOUND,
                        "method not found: initialize does not exist in protocol version \
                         2026-07-28 (send requests with the _meta envelope, or initialize \
                         without the 2026-07-28 MCP-Protocol-Version header)",
                    )
                    .to_string(),
                )
            } else {
                Response::json(
                    400,
                    jsonrpc::error(
                        &id,
                        INVALID_PARAMS,
                        &format!(
                            "Invalid params: a 2026-07-28 request carries \"{}\" and \"{}\" in \
                             params._meta",
                            modern::PROTOCOL_VERSION,
                            modern::CLIENT_CAPABILITIES
                        ),
                    )
                    .to_string(),
                )
            };
            return refuse(conn, response, true);
        }
        let modern = value.is_object() && modern::carries_envelope(&value);
        let post = Post {
            request,
            principal,
            value,
            size,
            accept,
            headers: cors,
        };
        if modern {
            self.post_modern(conn, post)
        } else {
            self.post_legacy(conn, post)
        }
    }

    /// A request of the stateless era: its headers must mirror its body; no session.
    fn post_modern(&self, conn: &mut Connection, post: Post<'_>) -> bool {
        let Post {
            request,
            principal,
            value,
            size,
            accept,
            headers,
        } = post;
        let refuse =
            |conn: &mut Connection, response| refuse_with(conn, request, &headers, response);
        let Some(id) = value.get("id").cloned() else {
            // A notification: this era defines none over HTTP (closing a stream cancels).
            return refuse(conn, Response::empty(202));
        };
        if value.get("method").and_then(Value::as_str) == Some("initialize") {
            // Over HTTP the envelope (and the header) say which era the client speaks, and
            // 2026-07-28 has no handshake. (On stdio an initialize is always the handshake.)
            let error = modern::method_not_found(&id, modern::VERSIONS[0], "initialize");
            return refuse(conn, Response::json(404, error.to_string()));
        }
        let params = value.get("params").cloned();
        if let Envelope::Refused(error) = modern::envelope(&id, &params) {
            if error["error"]["code"] == INVALID_PARAMS {
                return refuse(conn, Response::json(400, error.to_string()));
            }
        }
        if let Err(why) = check_mirrored_headers(request, &value) {
            let error = jsonrpc::error(&id, HEADER_MISMATCH, &format!("Header mismatch: {why}"));
            return refuse(conn, Response::json(400, error.to_string()));
        }
        let scope = format!("r{}", self.counter.fetch_add(1, Ordering::Relaxed));
        let out = Outbox::new(STREAM_BYTES);
        let scout = &self.principals[principal].scout;
        let mut state = SessionState::default();
        self.engine
            .handle_value(scout, &mut state, &scope, value, &out, true, size);
        self.answer(
            conn,
            Answer {
                out,
                accept,
                modern: true,
                cancel_on_close: Some((scope, id)),
                headers,
                batch: false,
                request,
            },
        )
    }

    /// A message of the `initialize` era: `initialize` makes a session, everything else
    /// belongs to one.
    fn post_legacy(&self, conn: &mut Connection, post: Post<'_>) -> bool {
        let Post {
            request,
            principal,
            value,
            size,
            accept,
            mut headers,
        } = post;
        let refuse =
            |conn: &mut Connection, response| refuse_with(conn, request, &headers, response);
        let initialize = value.get("method").and_then(Value::as_str) == Some("initialize")
            && value.get("id").is_some();
        let batch = value.is_array();
        if initialize {
            let session = match self.sessions.create(principal) {
                Ok(id) => id,
                Err(NoSession::Full) => {
                    log::warn!(
                        "initialize refused: SCOUT_HTTP_MAX_SESSIONS ({}) sessions are open",
                        self.config.max_sessions
                    );
                    return refuse(
                        conn,
                        rpc_error(
                            503,
                            "Service Unavailable: too many open sessions; retry later",
                        )
                        .with("Retry-After", "5"),
                    );
                }
                Err(NoSession::KeyFull(share)) => {
                    log::warn!(
                        "initialize refused: key {} holds its share of sessions ({share} of \
                         SCOUT_HTTP_MAX_SESSIONS)",
                        self.principals[principal].label
                    );
                    return refuse(
                        conn,
                        rpc_error(
                            503,
                            &format!(
                                "Service Unavailable: this key holds {share} open sessions, \
                                 its share; end one with DELETE, or retry when one expires"
                            ),
                        )
                        .with("Retry-After", "5"),
                    );
                }
                Err(NoSession::NoRandomness) => {
                    return refuse(
                        conn,
                        rpc_error(500, "no randomness for a session id; see the server log"),
                    )
                }
            };
            let scope = session_scope(&session);
            let out = Outbox::new(STREAM_BYTES);
            let scout = &self.principals[principal].scout;
            let mut state = SessionState::default();
            self.engine
                .handle_value(scout, &mut state, &scope, value, &out, true, size);
            self.sessions.set_state(&session, state);
            headers.push(("Mcp-Session-Id", session));
            return self.answer(
                conn,
                Answer {
                    out,
                    accept,
                    modern: false,
                    cancel_on_close: None,
                    headers,
                    batch,
                    request,
                },
            );
        }
        // Notifications and responses need no answer; requests (and what cannot be read as
        // anything) do.
        let answered = count_requests(&value) > 0 || has_invalid(&value);
        if let Some(version) = request.header("mcp-protocol-version").filter(|_| answered) {
            if request.count("mcp-protocol-version") > 1 || !protocol::VERSIONS.contains(&version) {
                return refuse(
                    conn,
                    rpc_error(
                        400,
                        &format!(
                            "Bad Request: MCP-Protocol-Version {} is not one a session \
                             speaks ({}); a 2026-07-28 request carries its version in \
                             params._meta",
                            version.chars().take(40).collect::<String>(),
                            protocol::VERSIONS.join(", ")
                        ),
                    ),
                );
            }
        }
        let Some(session) = request.header("mcp-session-id") else {
            if !answered {
                // Notifications and responses without a session: nothing they could act on.
                return refuse(conn, Response::empty(202));
            }
            return refuse(
                conn,
                rpc_error(
                    400,
                    "Bad Request: Mcp-Session-Id header required: send initialize first (or \
                     a 2026-07-28 request with its _meta envelope)",
                ),
            );
        };
        let state = (request.count("mcp-session-id") == 1)
            .then(|| self.sessions.get(session, principal))
            .flatten();
        let Some(mut state) = state else {
            return refuse(
                conn,
                rpc_error(
                    404,
                    "Not Found: no such session (it ended or expired): initialize a new one",
                ),
            );
        };
        let before = state.clone();
        let scope = session_scope(session);
        let out = Outbox::new(STREAM_BYTES);
        let scout = &self.principals[principal].scout;
        self.engine
            .handle_value(scout, &mut state, &scope, value, &out, true, size);
        if state.version != before.version {
            self.sessions.set_state(session, state);
        }
        self.answer(
            conn,
            Answer {
                out,
                accept,
                modern: false,
                cancel_on_close: None,
                headers,
                batch,
                request,
            },
        )
    }

    /// Writes what the engine answers: nothing (`202`), one JSON body, or an event stream
    /// of progress ending with the answer. Whether the connection can be kept.
    fn answer(&self, conn: &mut Connection, answer: Answer<'_>) -> bool {
        let Answer {
            out,
            accept,
            modern,
            cancel_on_close,
            headers,
            batch,
            request,
        } = answer;
        let streams = accept.sse && !batch;
        let started = Instant::now();
        let mut streaming = false;
        let mut last_write = started;
        let gone = |why: &str| {
            // The stateless era: a closed stream cancels its request. Before it, a dropped
            // connection is not a cancel; the request runs on, its answer discarded.
            if let Some((scope, id)) = &cancel_on_close {
                if self.engine.cancel_id(scope, id) {
                    log::info!("request {id} cancelled: its response stream closed ({why})");
                }
            }
            out.close();
            false
        };
        loop {
            match out.next_timeout(TICK) {
                Next::Message(message, last) => {
                    if !streaming {
                        if last {
                            let status = status_of(&message, modern);
                            let mut response = Response::json(status, message);
                            response.headers.extend(headers);
                            return finish(conn, request, response, true, false);
                        }
                        if !streams {
                            continue; // a JSON-only client: progress has nowhere to go
                        }
                        if conn.start_events(&headers, request.http10).is_err() {
                            return gone("write failed");
                        }
                        streaming = true;
                    }
                    if conn.write_event(&message).is_err() {
                        return gone("write failed");
                    }
                    last_write = Instant::now();
                    if last {
                        return conn.end_events().is_ok() && !request.http10;
                    }
                }
                Next::Closed => {
                    if streaming {
                        return conn.end_events().is_ok() && !request.http10;
                    }
                    // No answer: notifications only, or a request cancelled meanwhile.
                    let mut response = Response::empty(202);
                    response.headers.extend(headers);
                    return finish(conn, request, response, true, false);
                }
                Next::Timeout => {
                    if conn.peer_closed() {
                        return gone("the client closed the connection");
                    }
                    let now = Instant::now();
                    if !streaming && streams && now.duration_since(started) >= COMMIT_AFTER {
                        if conn.start_events(&headers, request.http10).is_err()
                            || conn.write_comment().is_err()
                        {
                            return gone("write failed");
                        }
                        streaming = true;
                        last_write = now;
                    } else if streaming && now.duration_since(last_write) >= KEEPALIVE {
                        if conn.write_comment().is_err() {
                            return gone("write failed");
                        }
                        last_write = now;
                    }
                }
            }
        }
    }
}

/// A POST whose body parsed, as either era's handler takes it.
struct Post<'r> {
    request: &'r Request,
    /// Index of the caller's key (its policy and its sessions).
    principal: usize,
    value: Value,
    /// The body's size, counted against the engine's input budget.
    size: usize,
    accept: Accept,
    /// The CORS headers every response to it carries.
    headers: Vec<(&'static str, String)>,
}

fn session_scope(session: &str) -> String {
    format!("s{session}")
}

/// Writes `response`; whether the connection can carry another request (it cannot when the
/// client asked to close, or when a body was left unread).
/// Writes `response`, which answers a request whose body was read, with `headers` (CORS).
fn refuse_with(
    conn: &mut Connection,
    request: &Request,
    headers: &[(&'static str, String)],
    mut response: Response,
) -> bool {
    response.headers.extend(headers.iter().cloned());
    finish(conn, request, response, true, false)
}

fn finish(
    conn: &mut Connection,
    request: &Request,
    response: Response,
    body_read: bool,
    head_only: bool,
) -> bool {
    let keep = request.keep_alive && (body_read || !request.has_body());
    conn.write_response(&response, keep, head_only).is_ok() && keep
}

/// A response whose body is a JSON-RPC error without an id (as the spec allows for
/// transport-level refusals).
fn rpc_error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        jsonrpc::error(&Value::Null, INVALID_REQUEST, message).to_string(),
    )
}

fn error_response(status: u16, why: &str) -> Response {
    rpc_error(status, &format!("{}: {why}", super::wire::reason(status)))
}

/// The body as one JSON value, or the `400` that says why not.
fn parse(body: &[u8]) -> Result<Value, Response> {
    let parse_error = |message: String| {
        Response::json(
            400,
            jsonrpc::error(&Value::Null, PARSE_ERROR, &message).to_string(),
        )
    };
    let text = std::str::from_utf8(body)
        .map_err(|_| parse_error("Parse error: the body is not valid UTF-8".into()))?;
    if text.trim().is_empty() {
        return Err(parse_error("Parse error: the body is empty".into()));
    }
    jsonrpc::check_complexity(text).map_err(|why| {
        Response::json(
            400,
            jsonrpc::error(&Value::Null, INVALID_REQUEST, &why).to_string(),
        )
    })?;
    serde_json::from_str(text).map_err(|e| parse_error(format!("Parse error: {e}")))
}

/// Requests (messages with an id and a method) in a message or batch.
fn count_requests(value: &Value) -> u32 {
    let is_request = |v: &Value| v.get("id").is_some() && v.get("method").is_some();
    match value {
        Value::Array(items) => items.iter().filter(|v| is_request(v)).count() as u32,
        v => u32::from(is_request(v)),
    }
}

/// Whether the message (or a batch member) is neither a request, a notification nor a
/// response: it is answered with an error, so it needs a session's stream like a request.
fn has_invalid(value: &Value) -> bool {
    let invalid = |v: &Value| {
        !matches!(
            jsonrpc::classify(v.clone()),
            jsonrpc::Message::Notification { .. } | jsonrpc::Message::Response
        )
    };
    match value {
        Value::Array(items) => items.is_empty() || items.iter().any(invalid),
        v => invalid(v),
    }
}

/// The id of a single request, for an error about it (null for batches and notifications).
fn single_id(value: &Value) -> Value {
    match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    }
}

/// The HTTP status of a whole JSON answer. In the stateless era a JSON-RPC error maps to the
/// status the transport names (400 for malformed or mismatched requests and unsupported
/// versions, 404 for unknown methods); before it, only a message that could not be read is a
/// 400.
fn status_of(message: &str, modern: bool) -> u16 {
    if message.len() > ERROR_SIZE || message.starts_with('[') {
        return 200;
    }
    let Ok(value) = serde_json::from_str::<Value>(message) else {
        return 200;
    };
    let Some(code) = value
        .get("error")
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64)
    else {
        return 200;
    };
    if modern {
        match code {
            PARSE_ERROR
            | INVALID_REQUEST
            | INVALID_PARAMS
            | HEADER_MISMATCH
            | UNSUPPORTED_PROTOCOL_VERSION => 400,
            METHOD_NOT_FOUND => 404,
            _ => 200,
        }
    } else if value.get("id").is_some_and(Value::is_null)
        && matches!(code, PARSE_ERROR | INVALID_REQUEST)
    {
        400
    } else {
        200
    }
}

/// The 2026-07-28 request headers must say what the body says: `MCP-Protocol-Version`,
/// `Mcp-Method`, and `Mcp-Name` for the methods that name something. Each at most once.
fn check_mirrored_headers(request: &Request, value: &Value) -> Result<(), String> {
    for name in ["mcp-protocol-version", "mcp-method", "mcp-name"] {
        if request.count(name) > 1 {
            return Err(format!("the {name} header is given more than once"));
        }
    }
    let body_version = value
        .get("params")
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(modern::PROTOCOL_VERSION))
        .and_then(Value::as_str);
    match request.header("mcp-protocol-version") {
        None => return Err("the MCP-Protocol-Version header is missing".into()),
        Some(v) if Some(v) != body_version => {
            return Err(format!(
                "MCP-Protocol-Version header value '{}' does not match the body's \
                 protocolVersion",
                v.chars().take(40).collect::<String>()
            ))
        }
        Some(_) => {}
    }
    let method = value.get("method").and_then(Value::as_str);
    match request.header("mcp-method") {
        None => return Err("the Mcp-Method header is missing".into()),
        Some(m) if Some(m) != method => {
            return Err(format!(
                "Mcp-Method header value '{}' does not match the body's method",
                m.chars().take(60).collect::<String>()
            ))
        }
        Some(_) => {}
    }
    let named = match method {
        Some("tools/call" | "prompts/get") => Some("name"),
        Some("resources/read") => Some("uri"),
        _ => None,
    };
    let body_name = named.and_then(|key| {
        value
            .get("params")
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
    });
    if let Some(body_name) = body_name {
        let header = request
            .header("mcp-name")
            .ok_or("the Mcp-Name header is missing")?;
        let decoded = decode_header_value(header)
            .ok_or("the Mcp-Name header is not valid =?base64?…?= encoding")?;
        if decoded != body_name {
            return Err("Mcp-Name header value does not match the body's name".into());
        }
    }
    Ok(())
}

/// A header value, decoded if it uses the `=?base64?…?=` form.
fn decode_header_value(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(base64::decode(encoded)?).ok(),
        None => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_follow_the_era() {
        let err = |code: i64| jsonrpc::error(&json!(1), code, "x").to_string();
        assert_eq!(status_of(&err(METHOD_NOT_FOUND), true), 404);
        assert_eq!(status_of(&err(INVALID_PARAMS), true), 400);
        assert_eq!(status_of(&err(UNSUPPORTED_PROTOCOL_VERSION), true), 400);
        assert_eq!(status_of(&err(INTERNAL_ERROR), true), 200);
        assert_eq!(status_of(&err(METHOD_NOT_FOUND), false), 200);
        let unreadable = jsonrpc::error(&Value::Null, INVALID_REQUEST, "x").to_string();
        assert_eq!(status_of(&unreadable, false), 400);
        assert_eq!(
            status_of(&jsonrpc::result(&json!(1), json!({})).to_string(), true),
            200
        );
    }

    #[test]
    fn mirrored_headers_are_checked() {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "scout", "_meta": {modern::PROTOCOL_VERSION: "2026-07-28"}}});
        let request = |headers: &[(&str, &str)]| Request {
            method: "POST".into(),
            path: "/mcp".into(),
            http10: false,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Body::Empty,
            expects_continue: false,
            keep_alive: true,
        };
        let good = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "scout"),
        ];
        assert!(check_mirrored_headers(&request(&good), &body).is_ok());
        let encoded = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?c2NvdXQ=?="),
        ];
        assert!(check_mirrored_headers(&request(&encoded), &body).is_ok());
        for bad in [
            &good[1..],
            &[good[0], good[2]][..],
            &good[..2],
            &[good[0], good[1], ("mcp-name", "other")][..],
            &[("mcp-protocol-version", "2025-11-25"), good[1], good[2]][..],
            &[good[0], ("mcp-method", "tools/list"), good[2]][..],
            &[good[0], good[1], good[2], good[2]][..],
            &[good[0], good[1], ("mcp-name", "=?base64?!!?=")][..],
        ] {
            assert!(
                check_mirrored_headers(&request(bad), &body).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn accept_headers_are_read_by_media_type() {
        let with = |accept: &str| {
            Accept::of(&Request {
                method: "POST".into(),
                path: "/mcp".into(),
                http10: false,
                headers: vec![("accept".into(), accept.into())],
                body: Body::Empty,
                expects_continue: false,
                keep_alive: true,
            })
        };
        let a = with("application/json, text/event-stream");
        assert!(a.json && a.sse);
        let a = with("Application/JSON;q=0.9");
        assert!(a.json && !a.sse);
        let a = with("*/*");
        assert!(a.json && a.sse);
        let a = with("text/html");
        assert!(!a.json && !a.sse);
    }
}
