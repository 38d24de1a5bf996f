//! A warm read over streamable HTTP next to the same read over stdio, in the same run, against
//! the same sshd (the integration-test fixture):
//!
//! 0. the floor of each transport: `ping` in a stdio session, `server/discover` over HTTP
//!    (answered without a worker or SSH);
//! 1. a warm 1 KiB file read (`tools/call` scout `{"target": "alpha:/…/file"}`) over stdio,
//!    over HTTP on one kept-alive connection (what MCP clients' HTTP libraries do), and over
//!    HTTP with a new connection per request (`Connection: close`), both eras over HTTP.
//!
//! Samples of the transports are interleaved, so machine noise falls on all of them alike.
//! `cargo bench --bench http` (200 iterations each); `-- --quick` runs 30.

use scout_testkit as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::http::{modern_message, HttpServer};
use common::{tool_text, Fleet, McpClient};

struct Stats {
    median: Duration,
    p95: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_unstable();
    let n = s.len();
    Stats {
        median: s[n / 2],
        p95: s[((n * 95).div_ceil(100)).max(1) - 1],
    }
}

/// A client on one kept-alive HTTP/1.1 connection, reading `Content-Length` answers.
struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    fn connect(server: &HttpServer) -> KeepAlive {
        let stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        KeepAlive {
            stream,
            buf: Vec::new(),
        }
    }

    /// POSTs `body` with `headers`; the answer's body.
    fn post(&mut self, body: &Value, headers: &[(&str, String)]) -> Value {
        let body = body.to_string();
        let mut req = String::from(
            "POST /mcp HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\n",
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.stream.write_all(req.as_bytes()).expect("send");
        let (head_end, length) = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .expect("a JSON answer with Content-Length");
                break (end + 4, length);
            }
            self.fill();
        };
        while self.buf.len() < head_end + length {
            self.fill();
        }
        let answer: Vec<u8> = self.buf.drain(..head_end + length).skip(head_end).collect();
        serde_json::from_slice(&answer).expect("JSON answer")
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

fn main() {
    let iterations = if std::env::args().any(|a| a == "--quick") {
        30
    } else {
        200
    };
    let fleet = Fleet::start(&["alpha"]);
    let file = fleet.write_remote_file("bench.txt", &vec![b'x'; 1024]);
    let target = json!({"target": format!("alpha:{}", file.display())});
    let quiet = [
        ("SCOUT_LOG_LEVEL", "warn"),
        ("SCOUT_RATE_LIMIT_PER_MINUTE", "0"),
    ];
    let mut stdio: McpClient = common::scout_client(&fleet, &quiet);
    let server = HttpServer::start(&fleet, &quiet);
    let mut legacy = KeepAlive::connect(&server);
    let mut modern = KeepAlive::connect(&server);
    let fresh = server.client(None);
    let session = fresh.initialize("2025-11-25");
    let session_headers = vec![
        ("Mcp-Session-Id", session.clone()),
        ("MCP-Protocol-Version", "2025-11-25".to_string()),
    ];

    let call = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "scout", "arguments": target.clone()}})
    };
    let (discover, discover_headers) = modern_message(json!(0), "server/discover", Value::Null);
    let (modern_call, modern_headers) = modern_message(
        json!(0),
        "tools/call",
        json!({"name": "scout", "arguments": target.clone()}),
    );
    let ok = |answer: &Value| {
        let text = tool_text(&answer["result"]);
        assert_eq!(text.len(), 1024, "unexpected answer: {answer}");
    };

    let names = [
        "0  stdio ping",
        "0  HTTP server/discover (kept-alive connection)",
        "1  stdio read, 2025-11-25 session",
        "1  HTTP read, 2025-11-25 session, kept-alive connection",
        "1  HTTP read, 2026-07-28 stateless, kept-alive connection",
        "1  HTTP read, 2025-11-25 session, new connection each",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    for i in 0..iterations + 5 {
        let mut timed: Vec<Duration> = Vec::new();
        let t = Instant::now();
        stdio.request("ping", Value::Null);
        timed.push(t.elapsed());
        let t = Instant::now();
        let a = legacy.post(&discover, &discover_headers);
        timed.push(t.elapsed());
        assert!(a.get("result").is_some(), "{a}");
        let t = Instant::now();
        let a = stdio.request(
            "tools/call",
            json!({"name": "scout", "arguments": target.clone()}),
        );
        timed.push(t.elapsed());
        ok(&a);
        let t = Instant::now();
        let a = legacy.post(&call(i as u64), &session_headers);
        timed.push(t.elapsed());
        ok(&a);
        let t = Instant::now();
        let a = modern.post(&modern_call, &modern_headers);
        timed.push(t.elapsed());
        ok(&a);
        let t = Instant::now();
        let r = fresh.call(Some(&session), json!(i), target.clone());
        timed.push(t.elapsed());
        ok(&r.message());
        // The first rounds warm the pool, the page cache and the threads: not counted.
        if i >= 5 {
            for (s, t) in samples.iter_mut().zip(timed) {
                s.push(t);
            }
        }
    }
    println!("scout-mcp: a warm read over HTTP next to stdio ({iterations} iterations each, interleaved)");
    for (name, s) in names.iter().zip(&samples) {
        let st = stats(s);
        println!(
            "    {name:<58} median {:7.3} ms  p95 {:7.3} ms",
            st.median.as_secs_f64() * 1e3,
            st.p95.as_secs_f64() * 1e3
        );
    }
    let median = |i: usize| stats(&samples[i]).median.as_secs_f64();
    println!(
        "    HTTP kept-alive / stdio (read): {:.2}x; new connection / stdio: {:.2}x",
        median(3) / median(2),
        median(5) / median(2)
    );
}
