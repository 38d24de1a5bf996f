//! scout-mcp serving streamable HTTP, and a small HTTP/1.1 client (std only) that speaks to
//! it the way MCP clients do — and the ways they must not.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::mcp::{envelope, MODERN_VERSION, PROTOCOL_VERSION};
use super::{scout_bin, Fleet};

/// A scout-mcp process serving HTTP on a free loopback port.
pub struct HttpServer {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<Vec<u8>>>,
}

impl HttpServer {
    /// Starts `scout-mcp --transport http --http-port 0` against `fleet` with `env` added.
    pub fn start(fleet: &Fleet, env: &[(&str, &str)]) -> HttpServer {
        let mut all: Vec<(String, String)> = fleet.env();
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start_with(&all, &["--transport", "http", "--http-port", "0"])
            .unwrap_or_else(|(code, err)| panic!("scout-mcp did not start ({code:?}): {err}"))
    }

    /// Starts the binary with `env` and `args`; the exit code and stderr if it ends instead
    /// of serving.
    pub fn start_with(
        env: &[(String, String)],
        args: &[&str],
    ) -> Result<HttpServer, (Option<i32>, String)> {
        let mut cmd = Command::new(scout_bin());
        cmd.args(args).env_remove("SSH_AUTH_SOCK");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn scout-mcp");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(err_pipe);
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                if let Some(url) = line
                    .split_whitespace()
                    .find(|w| w.starts_with("http://") && w.ends_with("/mcp"))
                {
                    let _ = tx.send(url.to_string());
                }
                lock(&sink).push_str(&line);
                line.clear();
            }
        });
        let mut out_pipe = child.stdout.take().expect("stdout");
        let out_sink = stdout.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = crate::read_some(&mut out_pipe, &mut buf) {
                if n == 0 {
                    break;
                }
                lock(&out_sink).extend_from_slice(&buf[..n]);
            }
        });
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(50)) {
                let addr = url
                    .trim_start_matches("http://")
                    .trim_end_matches("/mcp")
                    .parse()
                    .expect("address in the start line");
                return Ok(HttpServer {
                    child,
                    addr,
                    stderr,
                    stdout,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                thread::sleep(Duration::from_millis(100));
                return Err((status.code(), lock(&stderr).clone()));
            }
            if Instant::now() > end {
                let _ = child.kill();
                return Err((None, format!("no start line: {}", lock(&stderr))));
            }
        }
    }

    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    pub fn stdout(&self) -> Vec<u8> {
        lock(&self.stdout).clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client for this server, with `key` as its bearer key.
    pub fn client(&self, key: Option<&str>) -> Client {
        Client {
            addr: self.addr,
            key: key.map(String::from),
        }
    }

    /// SIGTERM, then the exit code (killed after `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body ended as the server meant it to: a chunked body with its last (empty)
    /// chunk, or any other body. False when the connection closed in the middle of a stream.
    pub ended: bool,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: status {} body {:?}", self.status, self.text()))
    }

    pub fn is_sse(&self) -> bool {
        self.header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
    }

    /// The JSON-RPC messages of an SSE body (comments and empty events skipped).
    pub fn events(&self) -> Vec<Value> {
        sse_messages(&self.text())
    }

    /// The final JSON-RPC message: the body, or the last event of a stream.
    pub fn message(&self) -> Value {
        if self.is_sse() {
            self.events().pop().unwrap_or(Value::Null)
        } else {
            self.json()
        }
    }
}

/// The `data:` payloads of an event stream, parsed.
pub fn sse_messages(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            (!data.is_empty() && !data.concat().is_empty())
                .then(|| serde_json::from_str(&data.join("\n")).expect("event data is JSON"))
        })
        .collect()
}

/// An HTTP client of one server; each request on a fresh connection (`Connection: close`).
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub key: Option<String>,
}

impl Client {
    /// Request headers every MCP POST carries (key, content type, accept).
    pub fn base_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            (
                "Accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
        ];
        if let Some(key) = &self.key {
            h.push(("Authorization".into(), format!("Bearer {key}")));
        }
        h
    }

    /// `POST /mcp` with `body` and the base headers plus `extra`.
    pub fn post(&self, body: &Value, extra: &[(&str, &str)]) -> Reply {
        let mut headers = self.base_headers();
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.request("POST", "/mcp", &headers, body.to_string().as_bytes())
    }

    /// Any request, its headers exactly as given.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        let raw = raw_exchange(self.addr, &bytes, Duration::from_secs(60));
        parse_reply(&raw).unwrap_or_else(|| panic!("unparsable reply: {:?}", lossy(&raw)))
    }

    /// `initialize` at `version`; the session id.
    pub fn initialize(&self, version: &str) -> String {
        let r = self.post(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": version, "capabilities": {},
                "clientInfo": {"name": "scout-http-tests", "version": "0"}}}),
            &[],
        );
        assert_eq!(r.status, 200, "initialize: {}", r.text());
        let session = r
            .header("mcp-session-id")
            .unwrap_or_else(|| panic!("no session id: {:?}", r.headers))
            .to_string();
        let note = self.post(
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            &[
                ("Mcp-Session-Id", &session),
                ("MCP-Protocol-Version", PROTOCOL_VERSION),
            ],
        );
        assert_eq!(note.status, 202, "{}", note.text());
        session
    }

    /// A request in `session` (legacy era).
    pub fn session_request(&self, session: &str, id: Value, method: &str, params: Value) -> Reply {
        let mut body = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            body["params"] = params;
        }
        self.post(
            &body,
            &[
                ("Mcp-Session-Id", session),
                ("MCP-Protocol-Version", PROTOCOL_VERSION),
            ],
        )
    }

    /// A stateless 2026-07-28 request with every header it must carry.
    pub fn modern_request(&self, id: Value, method: &str, params: Value) -> Reply {
        let (body, headers) = modern_message(id, method, params);
        let extra: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(&body, &extra)
    }

    /// A `tools/call` of the `scout` tool in the given era (`session`: legacy, else modern).
    pub fn call(&self, session: Option<&str>, id: Value, args: Value) -> Reply {
        let params = json!({"name": "scout", "arguments": args});
        match session {
            Some(s) => self.session_request(s, id, "tools/call", params),
            None => self.modern_request(id, "tools/call", params),
        }
    }

    /// Sends `request` on a connection of its own and returns it once the response head
    /// arrived (the body still streaming): the test decides when to close it.
    pub fn open_stream(&self, body: &Value, extra: &[(&str, &str)]) -> (TcpStream, String) {
        let mut headers = self.base_headers();
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let body = body.to_string();
        let mut head = format!("POST /mcp HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let mut s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        s.write_all(head.as_bytes()).expect("send");
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            match crate::read_some(&mut s, &mut byte) {
                Ok(1) => got.push(byte[0]),
                _ => panic!("no response head: {:?}", lossy(&got)),
            }
        }
        (s, lossy(&got))
    }
}

/// The body and the mirrored headers of a 2026-07-28 request.
pub fn modern_message(
    id: Value,
    method: &str,
    params: Value,
) -> (Value, Vec<(&'static str, String)>) {
    let mut params = match params {
        Value::Null => json!({}),
        p => p,
    };
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(String::from);
    let mut meta = envelope(MODERN_VERSION);
    if let (Some(meta), Some(Value::Object(given))) = (meta.as_object_mut(), params.get("_meta")) {
        for (k, v) in given {
            meta.insert(k.clone(), v.clone());
        }
    }
    params["_meta"] = meta;
    let mut headers = vec![
        ("MCP-Protocol-Version", MODERN_VERSION.to_string()),
        ("Mcp-Method", method.to_string()),
    ];
    if let (Some(name), true) = (
        name,
        matches!(method, "tools/call" | "resources/read" | "prompts/get"),
    ) {
        headers.push(("Mcp-Name", name));
    }
    (
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        headers,
    )
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes `bytes` (ignoring a refused write: the server may answer and close before all is
/// sent) and reads until the server closes or `timeout` passes.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
    let _ = s.write_all(bytes);
    read_to_close(&mut s, timeout)
}

/// Reads until EOF, an error, or `timeout`.
pub fn read_to_close(s: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
    let end = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < end {
        match crate::read_some(s, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    out
}

/// Parses a whole response (chunked bodies decoded).
pub fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let (body, ended) = if chunked {
        dechunk(rest)
    } else {
        (rest.to_vec(), true)
    };
    Some(Reply {
        status,
        headers,
        body,
        ended,
    })
}

/// The body of a chunked message, and whether its last (empty) chunk arrived.
fn dechunk(mut data: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap_or("0"), 16)
            .unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 {
            return (out, true);
        }
        if data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    (out, false)
}
