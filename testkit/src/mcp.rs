//! A small MCP client that drives a real binary over stdio (newline-delimited JSON-RPC).
//!
//! A reader thread parses every stdout line; lines that are not JSON are recorded (see
//! `raw_stdout_lines` / `invalid_stdout_lines`) and, in strict mode (the default), make the next
//! `recv*`/`request*` call panic, so a stray `println!` in the server cannot go unnoticed.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Protocol version sent by `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// Protocol version of the stateless era, sent in every request's `_meta`.
pub const MODERN_VERSION: &str = "2026-07-28";

/// How a client speaks to the server: the `initialize` handshake (up to 2025-11-25), or
/// stateless requests that each carry the `_meta` envelope (2026-07-28).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// `initialize` first, then plain requests (protocol 2025-11-25 unless told otherwise).
    Legacy,
    /// `server/discover` first, then requests stamped with the 2026-07-28 envelope.
    Modern,
}

impl Era {
    pub const ALL: [Era; 2] = [Era::Legacy, Era::Modern];
}

/// The `_meta` envelope a 2026-07-28 client stamps on every request.
pub fn envelope(version: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "scout-mcp-tests", "version": "0.0.0"},
    })
}

/// Adds the envelope to `params` (an object, or null), keeping any `_meta` it already has.
pub fn stamp(params: Value, version: &str) -> Value {
    let mut params = match params {
        Value::Null => json!({}),
        p => p,
    };
    if let Some(obj) = params.as_object_mut() {
        let meta = obj.entry("_meta").or_insert_with(|| json!({}));
        if let (Some(meta), Value::Object(env)) = (meta.as_object_mut(), envelope(version)) {
            for (k, v) in env {
                meta.entry(k).or_insert(v);
            }
        }
    }
    params
}
/// How long `request`, `call_tool` and friends wait for their response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

enum Line {
    Json(Value),
    /// A stdout line that is not a JSON value (already recorded in `invalid`).
    Invalid(String),
}

#[derive(Default)]
struct Shared {
    /// Requests sent by `send_request*` and not answered yet: id → (method, era), so that
    /// every answer is checked against the era it was asked in.
    sent: Mutex<std::collections::HashMap<String, (String, Era)>>,
    raw: Mutex<Vec<String>>,
    invalid: Mutex<Vec<String>>,
    stderr: Mutex<Vec<u8>>,
    stdout_done: AtomicBool,
    stderr_done: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shortens a possibly huge text for a panic message.
fn preview(s: &str) -> String {
    const MAX: usize = 2000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

/// Concatenated `text` of the `content` items of a tool result (joined with "\n").
pub fn tool_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|c| c["type"] == "text")
                .filter_map(|c| c["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

pub struct McpClient {
    child: Mutex<Child>,
    stdin: Option<ChildStdin>,
    rx: Receiver<Line>,
    stash: VecDeque<Value>,
    shared: Arc<Shared>,
    next_id: u64,
    strict: bool,
    bin: PathBuf,
    era: Era,
}

impl McpClient {
    /// Spawns `bin args…` with the current environment minus `SSH_AUTH_SOCK`, plus `env`.
    pub fn spawn(bin: &Path, args: &[&str], env: &[(String, String)]) -> McpClient {
        let mut cmd = Command::new(bin);
        cmd.args(args).env_remove("SSH_AUTH_SOCK");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("child stdout");
        let mut stderr = child.stderr.take().expect("child stderr");
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel();

        let sh = Arc::clone(&shared);
        thread::Builder::new()
            .name("mcp-stdout".into())
            .spawn(move || {
                let mut reader = BufReader::with_capacity(1 << 20, stdout);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let terminated = buf.last() == Some(&b'\n');
                    let line = if terminated {
                        &buf[..buf.len() - 1]
                    } else {
                        &buf[..]
                    };
                    let text = String::from_utf8_lossy(line).into_owned();
                    lock(&sh.raw).push(text.clone());
                    let msg = match serde_json::from_slice::<Value>(line) {
                        Ok(v) if terminated => Line::Json(v),
                        Ok(_) => {
                            let t = format!("{text} [no trailing newline before EOF]");
                            lock(&sh.invalid).push(t.clone());
                            Line::Invalid(t)
                        }
                        Err(_) => {
                            lock(&sh.invalid).push(text.clone());
                            Line::Invalid(text)
                        }
                    };
                    if tx.send(msg).is_err() {
                        // Client gone: keep draining so the child never blocks on a full pipe.
                        continue;
                    }
                }
                sh.stdout_done.store(true, Ordering::SeqCst);
            })
            .expect("spawn stdout reader");

        let sh = Arc::clone(&shared);
        thread::Builder::new()
            .name("mcp-stderr".into())
            .spawn(move || {
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    match crate::read_some(&mut stderr, &mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => lock(&sh.stderr).extend_from_slice(&chunk[..n]),
                    }
                }
                sh.stderr_done.store(true, Ordering::SeqCst);
            })
            .expect("spawn stderr reader");

        McpClient {
            child: Mutex::new(child),
            stdin,
            rx,
            stash: VecDeque::new(),
            shared,
            next_id: 1,
            strict: true,
            bin: bin.to_path_buf(),
            era: Era::Legacy,
        }
    }

    /// Speaks `era` from now on: in [`Era::Modern`], `request`, `send_request` and `notify`
    /// stamp the 2026-07-28 envelope on what they send, and `initialize` sends `server/discover`.
    pub fn set_era(&mut self, era: Era) {
        self.era = era;
    }

    pub fn era(&self) -> Era {
        self.era
    }

    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Strict (default): a non-JSON stdout line makes the next `recv*`/`request*` panic.
    /// Not strict: such lines are skipped by `recv*` but still recorded.
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// The id the next `request` will use.
    pub fn peek_next_id(&self) -> u64 {
        self.next_id
    }

    /// Writes `line` + "\n" and flushes; panics if the child's stdin is gone.
    pub fn send_raw(&mut self, line: &str) {
        if let Err(e) = self.try_send_raw(line) {
            panic!(
                "cannot write to {} stdin: {e}\n{}",
                self.bin.display(),
                self.context()
            );
        }
    }

    /// Like `send_raw`, returning the error instead of panicking.
    pub fn try_send_raw(&mut self, line: &str) -> io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "stdin already closed"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// Writes raw bytes + "\n" (for invalid UTF-8 and other malformed input).
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(bytes)
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .expect("write stdin");
    }

    pub fn send(&mut self, msg: &Value) {
        let line = serde_json::to_string(msg).expect("serialize message");
        self.send_raw(&line);
    }

    /// Sends a request with the next numeric id and waits (30 s) for the response with that id;
    /// returns the whole response (`result` or `error`). Other messages are stashed for `recv`.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.request_timeout(method, params, REQUEST_TIMEOUT)
    }

    pub fn request_timeout(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let id = self.send_request(method, params);
        match self.recv_response(&id, timeout) {
            Some(resp) => resp,
            None => panic!(
                "no response to {method} (id {id}) within {timeout:?}{}\n{}",
                if self.stdout_closed() {
                    " — server closed stdout"
                } else {
                    ""
                },
                self.context()
            ),
        }
    }

    /// Sends a request without waiting; returns its id (for `recv_response`). In the modern
    /// era the request carries the envelope (except `initialize`, which has none).
    pub fn send_request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send_request_id(id.clone(), method, params);
        id
    }

    /// Like `send_request`, with an id of the caller's choosing.
    pub fn send_request_id(&mut self, id: Value, method: &str, params: Value) {
        let params = match self.era {
            Era::Modern if method != "initialize" => stamp(params, MODERN_VERSION),
            _ => params,
        };
        let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            msg["params"] = params;
        }
        lock(&self.shared.sent).insert(id.to_string(), (method.to_string(), self.era));
        self.send(&msg);
    }

    /// Sends a notification (`params` omitted when null). In the modern era it carries the
    /// envelope too, as the official SDKs do.
    pub fn notify(&mut self, method: &str, params: Value) {
        let params = match self.era {
            Era::Modern => stamp(params, MODERN_VERSION),
            Era::Legacy => params,
        };
        let mut msg = json!({"jsonrpc": "2.0", "method": method});
        if !params.is_null() {
            msg["params"] = params;
        }
        self.send(&msg);
    }

    /// The next message: stashed ones first, then from stdout. None on timeout or closed stdout.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(v) = self.stash.pop_front() {
            return Some(v);
        }
        self.next_message(Instant::now() + timeout)
    }

    /// The response (a message with this `id` and no `method`), from the stash or stdout;
    /// everything else read meanwhile is stashed. None on timeout or closed stdout.
    pub fn recv_response(&mut self, id: &Value, timeout: Duration) -> Option<Value> {
        let is_it = |m: &Value| m.get("id") == Some(id) && m.get("method").is_none();
        if let Some(pos) = self.stash.iter().position(is_it) {
            return self.stash.remove(pos);
        }
        let deadline = Instant::now() + timeout;
        while let Some(m) = self.next_message(deadline) {
            if is_it(&m) {
                return Some(m);
            }
            self.stash.push_back(m);
        }
        None
    }

    /// Messages received but not yet handed out.
    pub fn stashed(&self) -> &VecDeque<Value> {
        &self.stash
    }

    /// Opens the conversation in the client's era and returns the server's answer: legacy,
    /// `initialize` (protocol 2025-11-25) + `notifications/initialized`; modern,
    /// `server/discover` (which must name 2026-07-28).
    pub fn initialize(&mut self) -> Value {
        match self.era {
            Era::Legacy => self.initialize_version(PROTOCOL_VERSION),
            Era::Modern => self.discover(),
        }
    }

    /// `server/discover` with the 2026-07-28 envelope; returns the result.
    pub fn discover(&mut self) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": "server/discover",
            "params": {"_meta": envelope(MODERN_VERSION)}}),
        );
        let resp = match self.recv_response(&id, REQUEST_TIMEOUT) {
            Some(r) => r,
            None => panic!("no response to server/discover\n{}", self.context()),
        };
        let result = self.expect_result(resp, "server/discover");
        assert!(
            result["supportedVersions"]
                .as_array()
                .is_some_and(|v| v.contains(&json!(MODERN_VERSION))),
            "server/discover does not offer {MODERN_VERSION}: {result}"
        );
        result
    }

    pub fn initialize_version(&mut self, protocol_version: &str) -> Value {
        let resp = self.request(
            "initialize",
            json!({
                "protocolVersion": protocol_version,
                "capabilities": {},
                "clientInfo": {"name": "scout-mcp-tests", "version": "0.0.0"}
            }),
        );
        let result = self.expect_result(resp, "initialize");
        self.notify("notifications/initialized", Value::Null);
        result
    }

    /// `tools/call` of the `scout` tool; returns the `result` (panics on a JSON-RPC error).
    pub fn call_tool(&mut self, args: Value) -> Value {
        self.call_tool_timeout(args, REQUEST_TIMEOUT)
    }

    pub fn call_tool_timeout(&mut self, args: Value, timeout: Duration) -> Value {
        let resp = self.request_timeout(
            "tools/call",
            json!({"name": "scout", "arguments": args}),
            timeout,
        );
        self.expect_result(resp, "tools/call")
    }

    /// (text content joined with "\n", isError).
    pub fn call_text(&mut self, args: Value) -> (String, bool) {
        let result = self.call_tool(args);
        let is_error = result["isError"].as_bool().unwrap_or(false);
        (tool_text(&result), is_error)
    }

    /// Closes the child's stdin (EOF: the server should exit).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the child to exit; None on timeout. After exit, waits briefly for the
    /// stdout/stderr readers to reach EOF so `stderr_text`/`raw_stdout_lines` are complete.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let polled = lock(&self.child).try_wait();
            match polled {
                Ok(Some(status)) => {
                    let drained = Instant::now() + Duration::from_secs(2);
                    while !(self.shared.stdout_done.load(Ordering::SeqCst)
                        && self.shared.stderr_done.load(Ordering::SeqCst))
                        && Instant::now() < drained
                    {
                        thread::sleep(Duration::from_millis(5));
                    }
                    return Some(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => return None,
                Err(e) => panic!("wait for {}: {e}", self.bin.display()),
            }
        }
    }

    /// Kills the child (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Waits until the server's stderr (read by a thread of ours, so a moment behind) contains
    /// `needle`; false if it does not within `timeout`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.stderr_text().contains(needle) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.shared.stderr)).into_owned()
    }

    /// Every line ever read from stdout (without its "\n"), valid JSON or not.
    pub fn raw_stdout_lines(&self) -> Vec<String> {
        lock(&self.shared.raw).clone()
    }

    /// The stdout lines that were not JSON.
    pub fn invalid_stdout_lines(&self) -> Vec<String> {
        lock(&self.shared.invalid).clone()
    }

    /// Panics unless every stdout line so far was one JSON value.
    pub fn assert_stdout_all_json(&self) {
        let bad = self.invalid_stdout_lines();
        assert!(
            bad.is_empty(),
            "{} stdout line(s) are not JSON; first: {}\n{}",
            bad.len(),
            preview(&bad[0]),
            self.context()
        );
    }

    /// True once the reader has seen EOF on stdout.
    pub fn stdout_closed(&self) -> bool {
        self.shared.stdout_done.load(Ordering::SeqCst)
    }

    /// The last lines of stderr (for panic messages).
    pub fn stderr_tail(&self) -> String {
        const LINES: usize = 60;
        let text = self.stderr_text();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LINES);
        let tail = lines[start..].join("\n");
        if tail.len() > 16 * 1024 {
            let mut cut = tail.len() - 16 * 1024;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            tail[cut..].to_string()
        } else {
            tail
        }
    }

    fn context(&self) -> String {
        let status = match lock(&self.child).try_wait() {
            Ok(Some(s)) => format!("exited: {s}"),
            Ok(None) => "still running".to_string(),
            Err(e) => format!("wait error: {e}"),
        };
        format!(
            "[{} {status}; {} stashed message(s)]\n--- stderr tail ---\n{}",
            self.bin.display(),
            self.stash.len(),
            self.stderr_tail()
        )
    }

    /// The `result` of a response (panics on an error), checked against the client's era:
    /// a modern result says `resultType: "complete"` and names the server in `_meta`; a legacy
    /// one carries none of the fields 2026-07-28 added.
    fn expect_result(&self, resp: Value, what: &str) -> Value {
        match resp.get("result") {
            Some(r) if resp.get("error").is_none() => r.clone(),
            _ => panic!(
                "{what} failed: {}\n{}",
                preview(&resp.to_string()),
                self.context()
            ),
        }
    }

    /// What every message from the server must be: never a request (the server asks nothing
    /// of the client), and an answer to one of our requests in the shape of its era.
    fn check_message(&self, message: &Value) {
        let items = match message {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        for m in items {
            assert!(
                !(m.get("method").is_some() && m.get("id").is_some()),
                "the server sent a request: {}\n{}",
                preview(&m.to_string()),
                self.context()
            );
            let Some(id) = m.get("id").filter(|_| m.get("method").is_none()) else {
                continue;
            };
            let asked = lock(&self.shared.sent).remove(&id.to_string());
            if let (Some((method, era)), Some(result)) = (asked, m.get("result")) {
                check_era_fields(era, &method, result);
            }
        }
    }

    fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(remaining) {
                Ok(Line::Json(v)) => {
                    self.check_message(&v);
                    return Some(v);
                }
                Ok(Line::Invalid(line)) => {
                    if self.strict {
                        panic!(
                            "{} wrote a stdout line that is not JSON: {}\n{}",
                            self.bin.display(),
                            preview(&line),
                            self.context()
                        );
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }
}

/// Panics unless `result` has exactly the era's result fields (see `expect_result`); `method`
/// decides whether cache hints belong.
pub fn check_era_fields(era: Era, method: &str, result: &Value) {
    let cacheable = matches!(
        method,
        "server/discover"
            | "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    );
    let server = &result["_meta"]["io.modelcontextprotocol/serverInfo"];
    match era {
        Era::Modern => {
            assert_eq!(result["resultType"], "complete", "{method}: {result}");
            assert_eq!(server["name"], "scout-mcp", "{method}: {result}");
            assert!(server["version"].is_string(), "{method}: {result}");
            if cacheable {
                assert!(result["ttlMs"].as_u64().is_some(), "{method}: {result}");
                assert!(
                    matches!(result["cacheScope"].as_str(), Some("public" | "private")),
                    "{method}: {result}"
                );
            } else {
                assert!(
                    result.get("ttlMs").is_none() && result.get("cacheScope").is_none(),
                    "{method}: {result}"
                );
            }
        }
        Era::Legacy => {
            for field in ["resultType", "ttlMs", "cacheScope"] {
                assert!(result.get(field).is_none(), "{method}: {field} in {result}");
            }
            assert!(server.is_null(), "{method}: {result}");
        }
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        self.stdin = None;
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}
