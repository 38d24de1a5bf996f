//! The streamable HTTP transport against the real binary and real sshd: sessions and the
//! stateless era, progress on SSE streams, every refusal with its status, the caps, per-key
//! policy through every tool mode and resource, 50 concurrent clients, cancellation in both
//! eras ending the remote command, and garbage that must not take the server down.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::http::{modern_message, raw_exchange, read_to_close, HttpServer, Reply};
use common::{process_running, tool_text, wait_until, Fleet};
use serde_json::{json, Value};

const TRUSTED: &str = "trusted-key-0123456789";
const READER: &str = "reader-key-0123456789ab";
const OPS: &str = "ops-key-0123456789abcdef";

/// The text of a tool result in a reply (JSON or the last event of a stream).
fn text(reply: &Reply) -> String {
    let m = reply.message();
    assert!(m.get("result").is_some(), "not a result: {m}");
    tool_text(&m["result"])
}

fn is_error(reply: &Reply) -> bool {
    reply.message()["result"]["isError"] == true
}

fn error_code(reply: &Reply) -> i64 {
    reply.message()["error"]["code"].as_i64().unwrap_or(0)
}

fn shell(fleet: &Fleet, extra: &[(&str, &str)]) -> HttpServer {
    let mut env = vec![
        ("SCOUT_COMMAND_POLICY", "shell"),
        ("SCOUT_RATE_LIMIT_PER_MINUTE", "0"),
    ];
    env.extend_from_slice(extra);
    HttpServer::start(fleet, &env)
}

#[test]
fn a_session_is_made_by_initialize_used_and_ended_by_delete() {
    let fleet = Fleet::start(&["alpha"]);
    let hello = fleet.write_remote_file("hello.txt", b"hello over http\n");
    let server = shell(&fleet, &[]);
    let c = server.client(None);
    let session = c.initialize("2025-11-25");
    assert_eq!(session.len(), 32, "{session}");

    let r = c.call(Some(&session), json!(1), json!({"target": "hosts"}));
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("alpha"), "{}", text(&r));
    let r = c.call(
        Some(&session),
        json!("two"),
        json!({"target": format!("alpha:{}", hello.display())}),
    );
    assert_eq!(r.message()["id"], "two");
    assert_eq!(text(&r), "hello over http\n");
    let r = c.session_request(
        &session,
        json!(3),
        "resources/read",
        json!({"uri": format!("scout://alpha{}", hello.display())}),
    );
    assert_eq!(
        r.message()["result"]["contents"][0]["text"],
        "hello over http\n"
    );
    // A request in flight keeps its id: the same id twice at once is refused.
    let r = c.session_request(&session, json!(4), "tools/list", Value::Null);
    assert_eq!(r.message()["result"]["tools"][0]["name"], "scout");

    // Without the session, or with one that does not exist: 400 and 404.
    let r = c.post(
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = c.session_request(
        "0123456789abcdef0123456789abcdef",
        json!(6),
        "tools/list",
        Value::Null,
    );
    assert_eq!(r.status, 404);
    // An unknown protocol version header is a 400.
    let r = c.post(
        &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}),
        &[
            ("Mcp-Session-Id", &session),
            ("MCP-Protocol-Version", "1999-01-01"),
        ],
    );
    assert_eq!(r.status, 400);

    let del = c.request(
        "DELETE",
        "/mcp",
        &[("Mcp-Session-Id".into(), session.clone())],
        b"",
    );
    assert_eq!(del.status, 204);
    let r = c.session_request(&session, json!(8), "tools/list", Value::Null);
    assert_eq!(r.status, 404, "an ended session is gone");
    let again = c.request("DELETE", "/mcp", &[("Mcp-Session-Id".into(), session)], b"");
    assert_eq!(again.status, 404);

    assert_eq!(c.request("GET", "/mcp", &[], b"").status, 405);
    let health = c.request("GET", "/health", &[], b"");
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
    assert_eq!(c.request("GET", "/nope", &[], b"").status, 404);
    assert!(server.stdout().is_empty(), "stdout must stay silent");
}

#[test]
fn older_sessions_keep_their_version_rules() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(&fleet, &[]);
    let c = server.client(None);
    // 2025-03-26 has batches: answered as one array.
    let old = c.initialize("2025-03-26");
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "scout", "arguments": {"target": "alpha:/", "query": "echo batched"}}},
    ]);
    let r = c.post(&batch, &[("Mcp-Session-Id", &old)]);
    assert_eq!(r.status, 200);
    let answers = r.json();
    let answers = answers.as_array().expect("an array");
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers
        .iter()
        .any(|a| a["id"] == 2 && tool_text(&a["result"]) == "batched\n"));
    // 2025-06-18 removed them.
    let new = c.initialize("2025-06-18");
    let r = c.post(&batch, &[("Mcp-Session-Id", &new)]);
    assert_eq!(error_code(&r), -32600, "{}", r.text());
}

#[test]
fn stateless_requests_mirror_their_headers_and_errors_map_to_statuses() {
    let fleet = Fleet::start(&["alpha"]);
    let hello = fleet.write_remote_file("hello.txt", b"stateless\n");
    let server = shell(&fleet, &[]);
    let c = server.client(None);

    let r = c.modern_request(json!(1), "server/discover", Value::Null);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.message()["result"]["supportedVersions"],
        json!(["2026-07-28"])
    );
    assert!(
        r.header("mcp-session-id").is_none(),
        "no sessions in 2026-07-28"
    );
    let r = c.call(
        None,
        json!(2),
        json!({"target": format!("alpha:{}", hello.display())}),
    );
    assert_eq!(text(&r), "stateless\n");
    assert_eq!(r.message()["result"]["resultType"], "complete");

    let (body, headers) = modern_message(json!(3), "tools/call", json!({"name": "scout"}));
    let without = |skip: &str| -> Vec<(&str, &str)> {
        headers
            .iter()
            .filter(|(k, _)| *k != skip)
            .map(|(k, v)| (*k, v.as_str()))
            .collect()
    };
    for missing in ["MCP-Protocol-Version", "Mcp-Method", "Mcp-Name"] {
        let r = c.post(&body, &without(missing));
        assert_eq!(
            (r.status, error_code(&r)),
            (400, -32020),
            "{missing}: {}",
            r.text()
        );
    }
    let mut wrong = without("Mcp-Name");
    wrong.push(("Mcp-Name", "other"));
    let r = c.post(&body, &wrong);
    assert_eq!((r.status, error_code(&r)), (400, -32020));
    let mut encoded = without("Mcp-Name");
    encoded.push(("Mcp-Name", "=?base64?c2NvdXQ=?="));
    let r = c.post(&body, &encoded);
    assert_eq!(r.status, 200, "a base64 name is decoded: {}", r.text());
    let mut mismatch = without("MCP-Protocol-Version");
    mismatch.push(("MCP-Protocol-Version", "2025-11-25"));
    let r = c.post(&body, &mismatch);
    assert_eq!((r.status, error_code(&r)), (400, -32020));

    // An unknown version in body and header alike: -32022 naming what is served.
    let mut body99 = body.clone();
    body99["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let mut h99 = without("MCP-Protocol-Version");
    h99.push(("MCP-Protocol-Version", "1999-01-01"));
    let r = c.post(&body99, &h99);
    assert_eq!((r.status, error_code(&r)), (400, -32022));
    assert_eq!(r.message()["error"]["data"]["supported"][0], "2026-07-28");
    // A missing capability object: -32602, before anything else.
    let mut bare = body.clone();
    bare["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    let r = c.post(&bare, &without(""));
    assert_eq!((r.status, error_code(&r)), (400, -32602));
    // The 2026-07-28 header on a body without its envelope: -32602, echoing the id.
    let r = c.post(
        &json!({"jsonrpc": "2.0", "id": 9, "method": "server/discover", "params": {}}),
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "server/discover"),
        ],
    );
    assert_eq!((r.status, error_code(&r)), (400, -32602), "{}", r.text());
    assert_eq!(r.message()["id"], 9);
    // initialize does not exist in 2026-07-28, with or without the envelope.
    let init = json!({"protocolVersion": "2025-11-25", "capabilities": {},
                      "clientInfo": {"name": "t", "version": "0"}});
    let r = c.modern_request(json!(10), "initialize", init.clone());
    assert_eq!((r.status, error_code(&r)), (404, -32601), "{}", r.text());
    let r = c.post(
        &json!({"jsonrpc": "2.0", "id": 11, "method": "initialize", "params": init}),
        &[("MCP-Protocol-Version", "2026-07-28")],
    );
    assert_eq!((r.status, error_code(&r)), (404, -32601), "{}", r.text());
    assert!(r.header("mcp-session-id").is_none());
    // ping does not exist in 2026-07-28: 404 with -32601.
    let r = c.modern_request(json!(4), "ping", Value::Null);
    assert_eq!((r.status, error_code(&r)), (404, -32601));
    // A missing resource: -32602 and 400.
    let r = c.modern_request(
        json!(5),
        "resources/read",
        json!({"uri": "scout://ghost/x"}),
    );
    assert_eq!((r.status, error_code(&r)), (400, -32602));
    // A session header on a stateless request is ignored.
    let (list, mut lh) = modern_message(json!(6), "tools/list", Value::Null);
    lh.push(("Mcp-Session-Id", "whatever".into()));
    let extra: Vec<(&str, &str)> = lh.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(c.post(&list, &extra).status, 200);
    // A notification: 202, no body.
    let n = c.post(
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        &[("MCP-Protocol-Version", "2026-07-28")],
    );
    assert_eq!((n.status, n.body.len()), (202, 0));
    // DELETE without a session from a 2026-07-28 client: nothing to end.
    let d = c.request(
        "DELETE",
        "/mcp",
        &[("MCP-Protocol-Version".into(), "2026-07-28".into())],
        b"",
    );
    assert_eq!(d.status, 405);
}

fn progress_stream(session: Option<&str>, server: &HttpServer, c: &common::http::Client, id: u64) {
    let slow = "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done";
    let args = json!({"target": "alpha:/", "query": slow});
    let params = json!({"name": "scout", "arguments": args, "_meta": {"progressToken": "tok"}});
    let r = match session {
        Some(s) => c.session_request(s, json!(id), "tools/call", params),
        None => c.modern_request(json!(id), "tools/call", params),
    };
    assert!(r.is_sse(), "progress needs a stream: {:?}", r.headers);
    let events = r.events();
    let (last, progress) = events.split_last().expect("events");
    if last["id"] != id {
        // The server's log reaches us through a pipe: give it a moment to arrive.
        std::thread::sleep(std::time::Duration::from_secs(1));
        panic!(
            "the response does not end the stream (the stream {} properly): {events:?}\nserver log:\n{}",
            if r.ended { "ended" } else { "did not end" },
            server.stderr()
        );
    }
    assert!(tool_text(&last["result"]).ends_with("line 6\n"));
    assert!(
        !progress.is_empty(),
        "no progress on the stream: {}",
        r.text()
    );
    let figures: Vec<f64> = progress
        .iter()
        .map(|p| {
            assert_eq!(p["method"], "notifications/progress");
            assert_eq!(p["params"]["progressToken"], "tok");
            p["params"]["progress"].as_f64().unwrap_or(-1.0)
        })
        .collect();
    assert!(figures.windows(2).all(|w| w[0] < w[1]), "{figures:?}");
}

#[test]
fn progress_travels_on_the_response_stream_in_both_eras() {
    let fleet = Fleet::start(&["alpha"]);
    // The log says why, should a stream end without its answer.
    let server = shell(&fleet, &[("SCOUT_LOG_LEVEL", "info")]);
    let c = server.client(None);
    let session = c.initialize("2025-11-25");
    progress_stream(Some(&session), &server, &c, 11);
    progress_stream(None, &server, &c, 12);
    // A client that takes only JSON gets the answer alone.
    let mut headers = c.base_headers();
    headers[1].1 = "application/json".into();
    headers.push(("Mcp-Session-Id".into(), session));
    let body = json!({"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {
        "name": "scout", "_meta": {"progressToken": 1},
        "arguments": {"target": "alpha:/", "query": "sleep 1.5; echo done"}}});
    let r = c.request("POST", "/mcp", &headers, body.to_string().as_bytes());
    assert!(!r.is_sse());
    assert_eq!(text(&r), "done\n");
}

/// The status line of a raw exchange.
fn status_of_raw(raw: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(raw);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[test]
fn every_refusal_has_its_status() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(
        &fleet,
        &[("SCOUT_API_KEYS", TRUSTED), ("SCOUT_HTTP_TIMEOUT", "2")],
    );
    let good = server.client(Some(TRUSTED));
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    assert_eq!(good.post(&list, &[]).status, 200);

    // 401: no key, a wrong key, another scheme, two keys.
    let none = server.client(None).post(&list, &[]);
    assert_eq!(none.status, 401);
    assert!(none
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    let wrong = server
        .client(Some("trusted-key-0123456780"))
        .post(&list, &[]);
    assert_eq!(wrong.status, 401);
    assert!(wrong
        .header("www-authenticate")
        .is_some_and(|h| h.contains("invalid_token")));
    let basic = server
        .client(None)
        .post(&list, &[("Authorization", &format!("Basic {TRUSTED}"))]);
    assert_eq!(basic.status, 401);
    let twice = good.post(&list, &[("Authorization", "Bearer x")]);
    assert_eq!(twice.status, 401);
    // Unauthenticated GET and DELETE learn nothing either.
    assert_eq!(
        server.client(None).request("GET", "/mcp", &[], b"").status,
        401
    );

    // 403: a browser page of another origin (DNS rebinding); loopback origins pass.
    let evil = good.post(&list, &[("Origin", "http://evil.example.com")]);
    assert_eq!(evil.status, 403);
    let local = good.post(&list, &[("Origin", "http://localhost:6274")]);
    assert_eq!(local.status, 200);
    assert_eq!(
        local.header("access-control-allow-origin"),
        Some("http://localhost:6274")
    );

    // 415 and 406: media types.
    let mut h = good.base_headers();
    h[0].1 = "text/plain".into();
    assert_eq!(
        good.request("POST", "/mcp", &h, list.to_string().as_bytes())
            .status,
        415
    );
    let mut h = good.base_headers();
    h[1].1 = "text/html".into();
    assert_eq!(
        good.request("POST", "/mcp", &h, list.to_string().as_bytes())
            .status,
        406
    );

    // 400: not JSON, empty, not UTF-8, too many values.
    for body in [
        &b"{not json"[..],
        b"",
        b"\xff\xfe",
        "[0,".repeat(200_000).as_bytes(),
    ] {
        let r = good.request("POST", "/mcp", &good.base_headers(), body);
        assert_eq!(
            r.status,
            400,
            "{:?}",
            String::from_utf8_lossy(&body[..body.len().min(20)])
        );
    }

    let auth = format!("Authorization: Bearer {TRUSTED}\r\n");
    let post_head = |extra: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n{extra}\r\n"
        )
    };
    // 413: a body over 4 MiB, announced or chunked.
    let raw = raw_exchange(
        server.addr,
        post_head("Content-Length: 5000000\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    assert_eq!(status_of_raw(&raw), 413);
    let mut chunked = post_head("Transfer-Encoding: chunked\r\n").into_bytes();
    for _ in 0..5 {
        chunked.extend_from_slice(b"100000\r\n");
        chunked.extend(std::iter::repeat_n(b' ', 0x100000));
        chunked.extend_from_slice(b"\r\n");
    }
    let raw = raw_exchange(server.addr, &chunked, Duration::from_secs(10));
    assert_eq!(status_of_raw(&raw), 413);
    // 431: a head over 16 KiB, or too many fields.
    let big = format!(
        "GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(
        status_of_raw(&raw_exchange(
            server.addr,
            big.as_bytes(),
            Duration::from_secs(10)
        )),
        431
    );
    let many = format!("GET /health HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(100));
    assert_eq!(
        status_of_raw(&raw_exchange(
            server.addr,
            many.as_bytes(),
            Duration::from_secs(10)
        )),
        431
    );
    // 400, 501, 505: framing the server will not guess at.
    for (head, status) in [
        (
            post_head("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"),
            400,
        ),
        (post_head("Content-Length: 2\r\nContent-Length: 3\r\n"), 400),
        (post_head("Transfer-Encoding: gzip\r\n"), 501),
        ("GET /health HTTP/2.0\r\n\r\n".to_string(), 505),
        ("NONSENSE\r\n\r\n".to_string(), 400),
        (
            "GET /health HTTP/1.1\r\nBad Header\r\n\r\n".to_string(),
            400,
        ),
    ] {
        let raw = raw_exchange(server.addr, head.as_bytes(), Duration::from_secs(10));
        assert_eq!(status_of_raw(&raw), status, "{head:?}");
    }
    // 408: a head that trickles in (slowloris) is cut off at the request deadline.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(700));
        if slow.write_all(b"X-Slow: 1\r\n").is_err() {
            break;
        }
    }
    let raw = read_to_close(&mut slow, Duration::from_secs(10));
    assert_eq!(status_of_raw(&raw), 408);
    // An idle connection is closed without a word.
    let mut idle = TcpStream::connect(server.addr).unwrap();
    assert!(read_to_close(&mut idle, Duration::from_secs(10)).is_empty());
    let mut buf = [0u8; 1];
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(
        matches!(common::read_some(&mut idle, &mut buf), Ok(0) | Err(_)),
        "still open"
    );

    // Expect: 100-continue is honoured before the body is read.
    let body = list.to_string();
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(
        post_head(&format!(
            "Expect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        ))
        .as_bytes(),
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(body.as_bytes()).unwrap();
    let raw = read_to_close(&mut s, Duration::from_secs(10));
    assert_eq!(status_of_raw(&raw), 200);

    // Keys never reach the log, neither the right one nor a wrong one.
    let log = server.stderr();
    assert!(log.contains("401"), "refusals are logged: {log}");
    assert!(!log.contains(TRUSTED) && !log.contains("trusted-key-0123456780"));
    assert!(server.stdout().is_empty());
}

#[test]
fn over_its_rate_a_key_gets_429_with_retry_after_and_other_keys_do_not() {
    let fleet = Fleet::start(&["alpha"]);
    let server = HttpServer::start(
        &fleet,
        &[
            ("SCOUT_API_KEYS", &format!("{TRUSTED},{OPS}")),
            ("SCOUT_RATE_LIMIT_PER_MINUTE", "1"),
            ("SCOUT_RATE_LIMIT_BURST", "2"),
        ],
    );
    let a = server.client(Some(TRUSTED));
    for id in 0..2 {
        assert_eq!(
            a.modern_request(json!(id), "tools/list", Value::Null)
                .status,
            200
        );
    }
    let r = a.modern_request(json!(2), "tools/list", Value::Null);
    assert_eq!(r.status, 429, "{}", r.text());
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(r.message()["id"], 2);
    // Notifications (cancellations) never wait on the limit.
    let n = a.post(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        &[],
    );
    assert_eq!(n.status, 202);
    let b = server.client(Some(OPS));
    assert_eq!(
        b.modern_request(json!(0), "tools/list", Value::Null).status,
        200
    );
}

#[test]
fn a_batch_pays_for_each_of_its_requests() {
    let fleet = Fleet::start(&["alpha"]);
    let server = HttpServer::start(
        &fleet,
        &[
            ("SCOUT_API_KEYS", TRUSTED),
            ("SCOUT_RATE_LIMIT_PER_MINUTE", "60"),
            ("SCOUT_RATE_LIMIT_BURST", "3"),
        ],
    );
    let c = server.client(Some(TRUSTED));
    let session = c.initialize("2025-03-26");
    let batch = Value::Array(
        (1..=20)
            .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}))
            .collect(),
    );
    let headers = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-03-26"),
    ];
    // Once the bucket is full again, a batch of 20 (more than the burst of 3) goes through…
    let mut served = None;
    assert!(wait_until(Duration::from_secs(20), || {
        let r = c.post(&batch, &headers);
        let done = r.status != 429;
        served = Some(r);
        done
    }));
    let served = served.unwrap();
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.message().as_array().map(Vec::len), Some(20));
    // …and is paid for in full: at one a second, the next request waits out the debt of 17,
    // not a single second as if the batch had cost only a burst.
    let r = c.session_request(&session, json!(99), "tools/list", Value::Null);
    assert_eq!(r.status, 429, "{}", r.text());
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!(wait >= 10, "Retry-After {wait} s after a batch of 20");
}

#[test]
fn without_keys_only_requests_to_a_loopback_host_are_served() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(&fleet, &[]);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
    .to_string();
    let post = |host: &str| {
        let raw = format!(
            "POST /mcp HTTP/1.1\r\n{host}Content-Type: application/json\r\nAccept: \
             application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: \
             close\r\n\r\n{body}",
            body.len()
        );
        status_of_raw(&raw_exchange(
            server.addr,
            raw.as_bytes(),
            Duration::from_secs(10),
        ))
    };
    // DNS rebinding without an Origin header: the page's own name arrives as Host.
    let port = server.addr.port();
    assert_eq!(post(&format!("Host: rebind.evil.example:{port}\r\n")), 403);
    assert_eq!(post("Host: 127.0.0.1.nip.io\r\n"), 403);
    assert_eq!(post("Host: localhost\r\nHost: evil.example\r\n"), 400);
    assert_eq!(post(&format!("Host: localhost:{port}\r\n")), 200);
    assert_eq!(post(&format!("Host: 127.0.0.1:{port}\r\n")), 200);
    assert_eq!(post(""), 200, "HTTP/1.0-style clients send no Host");
    assert!(server.stderr().contains("403 for Host"));
}

#[test]
fn connections_and_sessions_are_capped() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(
        &fleet,
        &[
            ("SCOUT_HTTP_MAX_CONNECTIONS", "2"),
            ("SCOUT_HTTP_MAX_SESSIONS", "2"),
            ("SCOUT_HTTP_SESSION_TIMEOUT", "2"),
        ],
    );
    let c = server.client(None);
    let first = TcpStream::connect(server.addr).unwrap();
    let second = TcpStream::connect(server.addr).unwrap();
    // Both are taken by now: a third connection is turned away.
    assert!(wait_until(Duration::from_secs(10), || {
        let raw = raw_exchange(
            server.addr,
            b"GET /health HTTP/1.1\r\n\r\n",
            Duration::from_secs(5),
        );
        raw.starts_with(b"HTTP/1.1 503")
    }));
    // A flood of connections at the cap is refused without flooding the log.
    for _ in 0..200 {
        let _ = raw_exchange(
            server.addr,
            b"GET /health HTTP/1.1\r\n\r\n",
            Duration::from_secs(5),
        );
    }
    let refusals = server.stderr().matches("HTTP connection refused").count();
    assert!(
        (1..50).contains(&refusals),
        "{refusals} log lines for 200 refused connections"
    );
    drop((first, second));
    // Both places come back: one connection held open, and another still gets served.
    assert!(wait_until(Duration::from_secs(10), || {
        let _held = TcpStream::connect(server.addr).unwrap();
        raw_exchange(
            server.addr,
            b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .starts_with(b"HTTP/1.1 200")
    }));

    let one = c.initialize("2025-11-25");
    let _two = c.initialize("2025-11-25");
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let third = c.post(&init, &[]);
    assert_eq!(third.status, 503, "{}", third.text());
    assert!(third.header("retry-after").is_some());
    let del = c.request("DELETE", "/mcp", &[("Mcp-Session-Id".into(), one)], b"");
    assert_eq!(del.status, 204);
    let _three = c.initialize("2025-11-25");
    // An unused session expires.
    let idle = {
        let del = c.request("DELETE", "/mcp", &[("Mcp-Session-Id".into(), _three)], b"");
        assert_eq!(del.status, 204);
        c.initialize("2025-11-25")
    };
    std::thread::sleep(Duration::from_millis(2500));
    let r = c.session_request(&idle, json!(1), "tools/list", Value::Null);
    assert_eq!(r.status, 404, "an expired session is gone");
}

#[test]
fn one_key_cannot_take_every_session() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(
        &fleet,
        &[
            ("SCOUT_API_KEYS", &format!("{TRUSTED},{OPS}")),
            ("SCOUT_HTTP_MAX_SESSIONS", "4"),
        ],
    );
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}});
    let a = server.client(Some(TRUSTED));
    let mine = [a.initialize("2025-11-25"), a.initialize("2025-11-25")];
    // Two keys, four places: the third initialize of one key is refused…
    let third = a.post(&init, &[]);
    assert_eq!(third.status, 503, "{}", third.text());
    assert!(third.text().contains("share"), "{}", third.text());
    assert!(third.header("retry-after").is_some());
    // …and the other key still gets its two.
    let b = server.client(Some(OPS));
    b.initialize("2025-11-25");
    b.initialize("2025-11-25");
    // Ending one of its sessions gives the first key its place back.
    let del = a.request(
        "DELETE",
        "/mcp",
        &[
            ("Mcp-Session-Id".into(), mine[0].clone()),
            ("Authorization".into(), format!("Bearer {TRUSTED}")),
        ],
        b"",
    );
    assert_eq!(del.status, 204);
    a.initialize("2025-11-25");
}

#[test]
fn start_up_refuses_what_would_be_unsafe_or_cannot_work() {
    let fleet = Fleet::start(&["alpha"]);
    let env = fleet.env();
    let with = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut e = env.clone();
        e.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        e
    };
    let http = ["--transport", "http", "--http-port", "0"];
    let refused = |extra: &[(&str, &str)], args: &[&str], needle: &str| match HttpServer::start_with(
        &with(extra),
        args,
    ) {
        Err((code, err)) => {
            assert_eq!(code, Some(2), "{err}");
            assert!(err.contains(needle), "{needle}: {err}");
            assert!(!err.contains(TRUSTED), "a key in the message: {err}");
        }
        Ok(_) => panic!("started with {extra:?} {args:?}"),
    };
    let mut public = http.to_vec();
    public.extend(["--http-host", "0.0.0.0"]);
    refused(&[], &public, "SCOUT_API_KEYS");
    refused(&[("SCOUT_HTTP_HOST", "::")], &http, "SCOUT_API_KEYS");
    refused(&[("SCOUT_API_KEYS", "short")], &http, "SCOUT_API_KEYS");
    refused(
        &[("SCOUT_API_KEYS", &format!("{TRUSTED}:hosts=nothing*"))],
        &http,
        "matches none",
    );
    refused(
        &[("SCOUT_API_KEYS", &format!("{TRUSTED}:commands=shell"))],
        &http,
        "only narrow",
    );
    refused(&[("SCOUT_HTTP_TIMEOUT", "0")], &http, "SCOUT_HTTP_TIMEOUT");
    // With a key, any address: it listens (and answers on loopback).
    let server = HttpServer::start_with(&with(&[("SCOUT_API_KEYS", TRUSTED)]), &public)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let c = server.client(Some(TRUSTED));
    let c = common::http::Client {
        addr: ([127, 0, 0, 1], c.addr.port()).into(),
        ..c
    };
    assert_eq!(
        c.modern_request(json!(1), "server/discover", Value::Null)
            .status,
        200
    );
}

#[test]
fn fifty_concurrent_clients_each_get_exactly_their_answer() {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let server = shell(&fleet, &[]);
    let clients = 50;
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|n| {
            let (c, barrier) = (server.client(None), barrier.clone());
            std::thread::spawn(move || {
                let session = (n % 2 == 0).then(|| c.initialize("2025-11-25"));
                barrier.wait();
                let host = if n % 3 == 0 { "beta" } else { "alpha" };
                let r = c.call(
                    session.as_deref(),
                    json!(format!("call-{n}")),
                    json!({"target": format!("{host}:/"), "query": format!("sleep 0.2; echo client-{n}")}),
                );
                let answers: Vec<Value> = if r.is_sse() {
                    r.events().into_iter().filter(|e| e.get("id").is_some()).collect()
                } else {
                    vec![r.json()]
                };
                (n, r.status, answers)
            })
        })
        .collect();
    let mut done = 0;
    for t in threads {
        let (n, status, answers) = t.join().expect("client thread");
        assert_eq!(status, 200, "client {n}");
        assert_eq!(
            answers.len(),
            1,
            "client {n}: exactly one answer: {answers:?}"
        );
        assert_eq!(answers[0]["id"], format!("call-{n}"));
        assert_eq!(tool_text(&answers[0]["result"]), format!("client-{n}\n"));
        done += 1;
    }
    assert_eq!(done, clients);
}

#[test]
fn in_a_session_only_a_cancel_notification_ends_the_remote_command() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(&fleet, &[]);
    let c = server.client(None);
    let session = c.initialize("2025-11-25");
    let call = json!({"jsonrpc": "2.0", "id": 71, "method": "tools/call", "params": {
        "name": "scout", "arguments": {"target": "alpha:/", "query": "sleep 3071; echo never"}}});
    let (stream, head) = c.open_stream(
        &call,
        &[
            ("Mcp-Session-Id", &session),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(wait_until(Duration::from_secs(10), || process_running(
        "sleep 3071"
    )));
    // A dropped connection is not a cancel before 2026-07-28: the command runs on.
    drop(stream);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        process_running("sleep 3071"),
        "a disconnect cancelled the request"
    );
    let n = c.post(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": 71, "reason": "test"}}),
        &[("Mcp-Session-Id", &session)],
    );
    assert_eq!(n.status, 202);
    assert!(
        wait_until(Duration::from_secs(10), || !process_running("sleep 3071")),
        "the cancelled command still runs on the host"
    );
    // Another session cannot cancel it: ids are per session.
    let other = c.initialize("2025-11-25");
    let (stream, _) = c.open_stream(
        &json!({"jsonrpc": "2.0", "id": 72, "method": "tools/call", "params": {
            "name": "scout", "arguments": {"target": "alpha:/", "query": "sleep 3073; echo never"}}}),
        &[("Mcp-Session-Id", &session)],
    );
    assert!(wait_until(Duration::from_secs(10), || process_running(
        "sleep 3073"
    )));
    let n = c.post(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 72}}),
        &[("Mcp-Session-Id", &other)],
    );
    assert_eq!(n.status, 202);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        process_running("sleep 3073"),
        "another session cancelled the request"
    );
    // Ending the session cancels what it has in flight.
    let del = c.request("DELETE", "/mcp", &[("Mcp-Session-Id".into(), session)], b"");
    assert_eq!(del.status, 204);
    assert!(wait_until(Duration::from_secs(10), || !process_running(
        "sleep 3073"
    )));
    drop(stream);
}

#[test]
fn in_the_stateless_era_a_closed_stream_ends_the_remote_command() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(&fleet, &[]);
    let c = server.client(None);
    let (body, headers) = modern_message(
        json!(81),
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": "sleep 3081; echo never"}}),
    );
    let extra: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (stream, head) = c.open_stream(&body, &extra);
    assert!(head.contains("text/event-stream"), "{head}");
    assert!(wait_until(Duration::from_secs(10), || process_running(
        "sleep 3081"
    )));
    drop(stream);
    assert!(
        wait_until(Duration::from_secs(10), || !process_running("sleep 3081")),
        "closing the stream did not stop the command"
    );
    let r = c.call(
        None,
        json!(82),
        json!({"target": "alpha:/", "query": "echo after"}),
    );
    assert_eq!(text(&r), "after\n");
}

#[test]
fn a_restricted_key_cannot_exceed_its_policy_in_any_mode_or_resource() {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let a = fleet.write_remote_file("a.txt", b"alpha file\n");
    let path = a.display().to_string();
    let keys = format!(
        "{TRUSTED}:name=trusted,{READER}:read-only:hosts=alph*:commands=off:name=reader,{OPS}:hosts=beta"
    );
    let server = shell(&fleet, &[("SCOUT_API_KEYS", &keys)]);
    let trusted = server.client(Some(TRUSTED));
    let reader = server.client(Some(READER));
    let ops = server.client(Some(OPS));

    for session in [None, Some(reader.initialize("2025-11-25"))] {
        let s = session.as_deref();
        let call = |id: u64, args: Value| reader.call(s, json!(id), args);
        let hosts = call(1, json!({"target": "hosts"}));
        assert!(text(&hosts).contains("alpha") && !text(&hosts).contains("beta"));
        assert_eq!(
            text(&call(2, json!({"target": format!("alpha:{path}")}))),
            "alpha file\n"
        );
        let refused = [
            json!({"target": format!("beta:{path}")}),
            json!({"target": "beta:/", "tree": true}),
            json!({"target": "beta:/", "find": "*.txt"}),
            json!({"target": "alpha:/", "query": "uptime"}),
            json!({"target": "alpha:/", "query": "cat /etc/hostname"}),
            json!({"targets": [format!("beta:{path}")]}),
            json!({"targets": [format!("alpha:{path}"), format!("beta:{path}")], "query": "uptime"}),
            json!({"target": format!("alpha:{path}"), "diff": format!("beta:{path}")}),
            json!({"beam_source": format!("beta:{path}"), "beam_target": "alpha:/tmp/x"}),
            json!({"beam_source": format!("alpha:{path}"), "beam_target": "alpha:/tmp/copy"}),
            json!({"target": "alpha:/tmp/up.txt", "beam": "up.txt", "beam_direction": "upload"}),
            json!({"target": format!("alpha:{path}"), "beam": "down.txt", "beam_direction": "download"}),
            json!({"target": "hosts", "check": ["beta"]}),
        ];
        for (i, args) in refused.iter().enumerate() {
            let r = call(100 + i as u64, args.clone());
            let broadcast_failed = r.message()["result"]["structuredContent"]["mode"]
                == "broadcast"
                && text(&r).contains("beta")
                && !text(&r).contains("2/2 succeeded");
            assert!(is_error(&r) || broadcast_failed, "{args}: {}", text(&r));
        }
        // A refusal says the limit is the key's, not the server's settings it names.
        let r = call(150, json!({"target": "alpha:/", "query": "uptime"}));
        assert!(
            text(&r).contains("this API key's policy, read-only:hosts=alph*:commands=off"),
            "{}",
            text(&r)
        );
        let request = |id: u64, method: &str, params: Value| match s {
            Some(s) => reader.session_request(s, json!(id), method, params),
            None => reader.modern_request(json!(id), method, params),
        };
        let list = request(200, "resources/list", Value::Null).message();
        let uris = list["result"]["resources"].to_string();
        assert!(uris.contains("alpha") && !uris.contains("beta"), "{uris}");
        let read = request(
            201,
            "resources/read",
            json!({"uri": format!("scout://beta{path}")}),
        );
        assert!(read.message().get("error").is_some(), "{}", read.text());
        let read = request(202, "resources/read", json!({"uri": "beta://docker"}));
        assert!(read.message().get("error").is_some(), "{}", read.text());
        let done = request(
            203,
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "scout://{host}/{path*}"},
                   "argument": {"name": "host", "value": ""}}),
        )
        .message();
        assert_eq!(
            done["result"]["completion"]["values"],
            json!(["alpha"]),
            "{done}"
        );
        let tools = request(204, "tools/list", Value::Null).message();
        assert_eq!(
            tools["result"]["tools"][0]["annotations"]["readOnlyHint"],
            true
        );
    }
    // The trusted key has the server's full reach; the ops key its one host, with the shell.
    let r = trusted.call(
        None,
        json!(1),
        json!({"target": "beta:/", "query": "echo $((6*7))"}),
    );
    assert_eq!(text(&r), "42\n");
    let tools = trusted
        .modern_request(json!(2), "tools/list", Value::Null)
        .message();
    assert_eq!(
        tools["result"]["tools"][0]["annotations"]["readOnlyHint"],
        false
    );
    let r = ops.call(
        None,
        json!(3),
        json!({"target": "beta:/", "query": "echo $((6*7))"}),
    );
    assert_eq!(text(&r), "42\n");
    assert!(is_error(&ops.call(
        None,
        json!(4),
        json!({"target": format!("alpha:{path}")})
    )));
    // A session belongs to its key.
    let session = trusted.initialize("2025-11-25");
    let stolen = reader.session_request(&session, json!(5), "tools/list", Value::Null);
    assert_eq!(stolen.status, 404);
    let del = reader.request(
        "DELETE",
        "/mcp",
        &[
            ("Mcp-Session-Id".into(), session.clone()),
            ("Authorization".into(), format!("Bearer {READER}")),
        ],
        b"",
    );
    assert_eq!(del.status, 404);
    assert_eq!(
        trusted
            .session_request(&session, json!(6), "tools/list", Value::Null)
            .status,
        200
    );
}

#[test]
fn garbage_never_takes_the_server_down() {
    let fleet = Fleet::start(&["alpha"]);
    let server = shell(&fleet, &[("SCOUT_HTTP_TIMEOUT", "1")]);
    let pieces: [&[u8]; 12] = [
        b"POST /mcp HTTP/1.1\r\n",
        b"Content-Length: 10\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"\r\n",
        b"{\"jsonrpc\":\"2.0\"",
        b"ffffffff\r\n",
        b"\x00\xff\xfe",
        b"Content-Type: application/json\r\n",
        b"GET / HTTP/1.1\r\n",
        b"Expect: 100-continue\r\n",
        b"0\r\n\r\n",
        b"[[[[[[[[",
    ];
    // 150 garbled exchanges from 10 clients at once (an incomplete one waits out its read
    // timeout, so one after another would take most of a minute).
    let addr = server.addr;
    std::thread::scope(|scope| {
        for client in 0..10u64 {
            scope.spawn(move || {
                let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ (client.wrapping_mul(0x9e37_79b9));
                for _ in 0..15 {
                    let mut bytes = Vec::new();
                    for _ in 0..(x % 9) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        bytes.extend_from_slice(pieces[(x % pieces.len() as u64) as usize]);
                    }
                    let _ = raw_exchange(addr, &bytes, Duration::from_millis(300));
                }
            });
        }
    });
    // Deep JSON, a huge id, odd messages: answered, not crashed on.
    let c = server.client(None);
    for body in [
        json!(null),
        json!([]),
        json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}),
        json!({"jsonrpc": "2.0", "id": "x".repeat(100_000), "method": "initialize"}),
        serde_json::from_str(&format!("{}1{}", "[".repeat(120), "]".repeat(120)))
            .unwrap_or(json!(1)),
    ] {
        let r = c.post(&body, &[]);
        assert!((200..500).contains(&r.status), "{}", r.status);
    }
    let health = c.request("GET", "/health", &[], b"");
    assert_eq!(health.status, 200);
    let r = c.call(
        None,
        json!(1),
        json!({"target": "alpha:/", "query": "echo alive"}),
    );
    assert_eq!(text(&r), "alive\n");
}

#[test]
fn sigterm_with_a_command_running_exits_zero_and_stops_it() {
    let fleet = Fleet::start(&["alpha"]);
    let mut server = shell(&fleet, &[]);
    let c = server.client(None);
    let (body, headers) = modern_message(
        json!(91),
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": "sleep 3091"}}),
    );
    let extra: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_stream, _) = c.open_stream(&body, &extra);
    assert!(wait_until(Duration::from_secs(10), || process_running(
        "sleep 3091"
    )));
    assert_eq!(server.terminate(Duration::from_secs(10)), Some(0));
    assert!(wait_until(Duration::from_secs(10), || !process_running(
        "sleep 3091"
    )));
}

#[test]
fn keys_with_different_policies_share_the_servers_connections() {
    let fleet = Fleet::start(&["alpha"]);
    let a = fleet.write_remote_file("a.txt", b"shared\n");
    let target = format!("alpha:{}", a.display());
    let keys = format!("{TRUSTED}:name=trusted,{READER}:read-only:commands=off:name=reader");
    let server = shell(&fleet, &[("SCOUT_API_KEYS", &keys)]);
    let port = fleet.port("alpha");
    for (i, key) in [READER, TRUSTED, READER].into_iter().enumerate() {
        let c = server.client(Some(key));
        let r = c.call(None, json!(i), json!({ "target": target }));
        assert_eq!(text(&r), "shared\n");
    }
    // One connection for both keys: a restricted key narrows what may be done, not where the
    // sessions come from, so the pool's per-host limits hold across keys.
    assert_eq!(common::load::established(&[port])[&port], 1);
}
