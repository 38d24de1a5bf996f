//! MCP protocol behaviour through the real binary over stdio, in the `initialize` era
//! and in the stateless one (2026-07-28, docs/PROTOCOL.md). No SSH host is needed: the server
//! must answer all of this without connecting anywhere.

use crate::common;

use std::time::Duration;

use common::mcp::{envelope, stamp, MODERN_VERSION};
use common::{scout_bin, Era, McpClient};
use serde_json::{json, Value};

/// A server with an empty host list.
fn bare() -> McpClient {
    let env = vec![
        (
            "SCOUT_SSH_CONFIG".to_string(),
            "/nonexistent/scout-test-config".to_string(),
        ),
        ("SSH_AUTH_SOCK".to_string(), String::new()),
    ];
    McpClient::spawn(&scout_bin(), &[], &env)
}

fn error_code(resp: &Value) -> i64 {
    resp["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {resp}"))
}

#[test]
fn negotiates_every_supported_version_and_falls_back_to_the_newest() {
    for v in ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] {
        let mut c = bare();
        let r = c.initialize_version(v);
        assert_eq!(r["protocolVersion"], v, "{r}");
        assert_eq!(r["serverInfo"]["name"], "scout-mcp");
        assert!(r["capabilities"]["tools"].is_object());
    }
    let mut c = bare();
    let r = c.initialize_version("2099-01-01");
    assert_eq!(r["protocolVersion"], "2025-11-25");
}

#[test]
fn ping_works_before_initialize_but_tools_do_not() {
    let mut c = bare();
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
    let r = c.request("tools/list", Value::Null);
    assert_eq!(error_code(&r), -32600);
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("initialize"));
    c.initialize();
    assert!(c.request("tools/list", Value::Null)["result"]["tools"].is_array());
    c.assert_stdout_all_json();
}

#[test]
fn unknown_methods_get_method_not_found_before_and_after_initialize() {
    let mut c = bare();
    assert_eq!(error_code(&c.request("server/discover", json!({}))), -32601);
    c.initialize();
    for m in [
        "server/discover",
        "logging/setLevel",
        "frobnicate",
        "tools/destroy",
    ] {
        assert_eq!(error_code(&c.request(m, json!({}))), -32601, "{m}");
    }
}

#[test]
fn tool_definition_fields_follow_the_negotiated_version() {
    let mut c = bare();
    c.initialize_version("2024-11-05");
    let tool = c.request("tools/list", Value::Null)["result"]["tools"][0].clone();
    assert_eq!(tool["name"], "scout");
    assert!(tool["inputSchema"]["properties"]["target"].is_object());
    assert!(
        tool.get("annotations").is_none() && tool.get("outputSchema").is_none(),
        "{tool}"
    );

    let mut c = bare();
    c.initialize_version("2025-11-25");
    let tool = c.request("tools/list", Value::Null)["result"]["tools"][0].clone();
    // The tool uploads files and runs commands: it is not read-only, and says so.
    assert_eq!(tool["annotations"]["readOnlyHint"], false, "{tool}");
    assert_eq!(tool["annotations"]["destructiveHint"], true, "{tool}");
    assert_eq!(
        tool["outputSchema"]["oneOf"].as_array().map(Vec::len),
        Some(13),
        "one schema per mode: hosts, check, read, list, tree, find, query, diff, beam, broadcast, job, jobs, error"
    );
    assert!(
        tool["outputSchema"].is_object() && tool["title"].is_string(),
        "{tool}"
    );
}

#[test]
fn read_only_mode_makes_the_tool_read_only() {
    let env = vec![
        ("SCOUT_SSH_CONFIG".to_string(), "/nonexistent/x".to_string()),
        ("SCOUT_READ_ONLY".to_string(), "true".to_string()),
    ];
    let mut c = McpClient::spawn(&scout_bin(), &[], &env);
    c.initialize();
    let tool = c.request("tools/list", Value::Null)["result"]["tools"][0].clone();
    assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
    assert_eq!(tool["annotations"]["destructiveHint"], false, "{tool}");
}

#[test]
fn without_hosts_only_the_host_list_and_the_generic_template_exist() {
    let mut c = bare();
    c.initialize();
    let resources = c.request("resources/list", json!({}))["result"]["resources"].clone();
    assert_eq!(resources.as_array().map(Vec::len), Some(1), "{resources}");
    assert_eq!(resources[0]["uri"], "hosts://list");
    let templates =
        c.request("resources/templates/list", json!({}))["result"]["resourceTemplates"].clone();
    assert_eq!(templates.as_array().map(Vec::len), Some(1), "{templates}");
    assert_eq!(templates[0]["uriTemplate"], "scout://{host}/{path*}");
    assert_eq!(
        c.request("prompts/list", json!({}))["result"]["prompts"],
        json!([])
    );
    assert_eq!(
        error_code(&c.request("resources/read", json!({"uri": "hosts://nope"}))),
        -32002
    );
}

#[test]
fn unknown_tool_is_invalid_params() {
    let mut c = bare();
    c.initialize();
    let r = c.request("tools/call", json!({"name": "rm_rf", "arguments": {}}));
    assert_eq!(error_code(&r), -32602);
    let r = c.request("tools/call", json!({"arguments": {}}));
    assert_eq!(error_code(&r), -32602);
}

#[test]
fn malformed_input_gets_errors_and_the_server_keeps_serving() {
    let mut c = bare();
    c.initialize();
    let next_error = |c: &mut McpClient| -> Value {
        let m = c.recv(Duration::from_secs(10)).expect("an error response");
        assert!(m["error"].is_object(), "{m}");
        m
    };
    c.send_raw("this is not json");
    assert_eq!(error_code(&next_error(&mut c)), -32700);
    c.send_bytes(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\xff\"}");
    let e = next_error(&mut c);
    assert_eq!(error_code(&e), -32700);
    assert_eq!(e["id"], Value::Null);
    c.send_raw("42");
    assert_eq!(error_code(&next_error(&mut c)), -32600);
    c.send_raw(r#"{"jsonrpc":"2.0","id":"m"}"#);
    let e = next_error(&mut c);
    assert_eq!((error_code(&e), e["id"].clone()), (-32600, json!("m")));
    c.send_raw(r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#);
    assert_eq!(error_code(&next_error(&mut c)), -32600);
    c.send_raw(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
    assert_eq!(error_code(&next_error(&mut c)), -32700);
    c.send_raw("[]");
    assert_eq!(error_code(&next_error(&mut c)), -32600);
    // Still serving, and stdout never carried anything but JSON.
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
    c.assert_stdout_all_json();
}

#[test]
fn a_line_over_the_limit_is_refused_and_the_next_one_served() {
    let mut c = bare();
    c.initialize();
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(20 * 1024 * 1024)
    );
    c.send_raw(&huge);
    let m = c
        .recv(Duration::from_secs(30))
        .expect("an error for the huge line");
    assert_eq!(error_code(&m), -32700);
    assert!(
        m["error"]["message"].as_str().unwrap().contains("too long"),
        "{m}"
    );
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
}

#[test]
fn batches_are_answered_with_one_array_in_order() {
    let mut c = bare();
    // 2025-03-26 is the version whose spec has batches.
    c.initialize_version("2025-03-26");
    c.send_raw(r#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":7,"method":"nope"},{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"scout","arguments":{"target":"hosts"}}}]"#);
    let m = c.recv(Duration::from_secs(10)).expect("batch response");
    let items = m.as_array().unwrap_or_else(|| panic!("not an array: {m}"));
    let ids: Vec<Value> = items.iter().map(|i| i["id"].clone()).collect();
    assert_eq!(ids, vec![json!("a"), json!(7), json!("c")]);
    assert_eq!(items[1]["error"]["code"], -32601);
    assert!(items[2]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("No hosts configured"));
    // Capped: a batch of thousands is refused whole, without queueing any of it.
    let many: Vec<String> = (0..5000)
        .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"scout","arguments":{{"target":"hosts"}}}}}}"#))
        .collect();
    c.send_raw(&format!("[{}]", many.join(",")));
    let m = c
        .recv(Duration::from_secs(10))
        .expect("an error for the batch");
    assert_eq!(error_code(&m), -32600, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 64"),
        "{m}"
    );
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
}

#[test]
fn batches_are_refused_from_2025_06_18_on() {
    for version in ["2025-06-18", "2025-11-25"] {
        let mut c = bare();
        c.initialize_version(version);
        c.send_raw(r#"[{"jsonrpc":"2.0","id":"a","method":"ping"}]"#);
        let m = c
            .recv(Duration::from_secs(10))
            .expect("an error for the batch");
        assert_eq!(error_code(&m), -32600, "{version}: {m}");
        assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
    }
}

#[test]
fn a_line_of_millions_of_values_is_refused_before_it_is_parsed() {
    let mut c = bare();
    c.initialize();
    let dense = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"scout","arguments":{{"targets":[{}0]}}}}}}"#,
        "0,".repeat(4 << 20)
    );
    c.send_raw(&dense);
    let m = c.recv(Duration::from_secs(30)).expect("an error");
    assert_eq!(error_code(&m), -32600, "{m}");
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON values"),
        "{m}"
    );
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
}

#[test]
fn tool_errors_are_results_not_protocol_errors() {
    let mut c = bare();
    c.initialize();
    for args in [
        json!({}),
        json!({"target": "nohost:/etc"}),
        json!({"target": 3}),
        json!({"target": "x"}),
        json!({"bogus": true}),
    ] {
        let r = c.call_tool(args.clone());
        assert_eq!(r["isError"], true, "{args}: {r}");
        assert!(!common::tool_text(&r).is_empty());
    }
    let (text, is_error) = c.call_text(json!({"target": "ghost:/etc"}));
    assert!(is_error && text.contains("unknown host 'ghost'"), "{text}");
}

#[test]
fn structured_content_only_from_2025_06_18() {
    let mut c = bare();
    c.initialize_version("2025-03-26");
    assert!(c
        .call_tool(json!({"target": "hosts"}))
        .get("structuredContent")
        .is_none());
    let mut c = bare();
    c.initialize_version("2025-06-18");
    let r = c.call_tool(json!({"target": "hosts"}));
    assert_eq!(r["structuredContent"]["mode"], "hosts", "{r}");
}

#[test]
fn stdin_eof_exits_zero_promptly() {
    let mut c = bare();
    c.initialize();
    c.close_stdin();
    let status = c
        .wait_exit(Duration::from_secs(5))
        .expect("exited after EOF");
    assert!(status.success(), "{status:?}");
    c.assert_stdout_all_json();
}

#[test]
fn sigterm_exits_zero() {
    let mut c = bare();
    c.initialize();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &c.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = c
        .wait_exit(Duration::from_secs(5))
        .expect("exited after SIGTERM");
    assert!(status.success(), "{status:?}");
}

// ---- The two eras -------------------------------------------------------------------------

/// A server with an empty host list, opened in `era`.
fn bare_in(era: Era) -> McpClient {
    let mut c = bare();
    c.set_era(era);
    c.initialize();
    c
}

/// A request answered by the main loop: `ping` in the legacy era, `server/discover` in the
/// stateless one (which removed `ping`).
fn alive(c: &mut McpClient) {
    let method = match c.era() {
        Era::Legacy => "ping",
        Era::Modern => "server/discover",
    };
    let r = c.request(method, Value::Null);
    assert!(r["result"].is_object(), "{r}");
}

/// Sends one raw request line and returns its response.
fn raw_request(c: &mut McpClient, line: Value) -> Value {
    let id = line["id"].clone();
    c.send(&line);
    c.recv_response(&id, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no response to {line}"))
}

#[test]
fn an_initialize_era_session_is_unchanged_byte_for_byte() {
    // The answers below were recorded from the server before it learned 2026-07-28: a client
    // that opens with `initialize` (or sends no `_meta` envelope) must see the same bytes.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy");
    let input = std::fs::read_to_string(dir.join("session.in.jsonl")).unwrap();
    let expected = std::fs::read_to_string(dir.join("session.out.jsonl"))
        .unwrap()
        .replace("{VERSION}", env!("CARGO_PKG_VERSION"));
    let mut c = bare();
    for line in input.lines() {
        c.send_raw(line);
        let answered = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m.contains_key("id") && m.contains_key("method"),
            _ => true,
        };
        if answered {
            c.recv(Duration::from_secs(10))
                .unwrap_or_else(|| panic!("no answer to {line}"));
        }
    }
    let got = c.raw_stdout_lines();
    let want: Vec<&str> = expected.lines().collect();
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w);
    }
}

#[test]
fn discover_is_answered_before_and_without_initialize() {
    let mut c = bare();
    let init_caps = {
        let mut l = bare();
        l.initialize()
    };
    c.set_era(Era::Modern);
    let d = c.discover();
    assert_eq!(d["supportedVersions"], json!([MODERN_VERSION]), "{d}");
    assert_eq!(d["capabilities"], init_caps["capabilities"], "{d}");
    assert_eq!(d["instructions"], init_caps["instructions"], "{d}");
    let info = &d["_meta"]["io.modelcontextprotocol/serverInfo"];
    assert_eq!(info["name"], "scout-mcp");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["cacheScope"], "public");
    assert!(d["ttlMs"].as_u64().is_some_and(|t| t > 0), "{d}");
    // Stateless: discovering twice, or not at all, changes nothing.
    assert_eq!(c.discover(), d);
    let mut fresh = bare();
    fresh.set_era(Era::Modern);
    let r = fresh.request("tools/list", Value::Null);
    assert_eq!(r["result"]["tools"][0]["name"], "scout", "{r}");
    c.assert_stdout_all_json();
}

#[test]
fn a_malformed_envelope_is_invalid_params() {
    let mut c = bare();
    let version = "io.modelcontextprotocol/protocolVersion";
    let caps = "io.modelcontextprotocol/clientCapabilities";
    for meta in [
        json!({ version: MODERN_VERSION }),
        json!({ version: MODERN_VERSION, caps: "all" }),
        json!({ version: 20260728, caps: {} }),
        json!({ version: MODERN_VERSION, caps: {}, "io.modelcontextprotocol/logLevel": "loud" }),
        // Missing fields are found before the version is looked at.
        json!({ version: "1900-01-01" }),
    ] {
        for method in [
            "server/discover",
            "tools/list",
            "tools/call",
            "resources/read",
        ] {
            let r = raw_request(
                &mut c,
                json!({"jsonrpc": "2.0", "id": "m", "method": method, "params": {"_meta": meta}}),
            );
            assert_eq!(r["error"]["code"], -32602, "{method} {meta}: {r}");
            assert_eq!(r["id"], "m");
        }
    }
    // A valid log level is accepted (the server sends no log messages in either era).
    let mut meta = envelope(MODERN_VERSION);
    meta["io.modelcontextprotocol/logLevel"] = json!("debug");
    let r = raw_request(
        &mut c,
        json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/list", "params": {"_meta": meta}}),
    );
    assert_eq!(r["result"]["prompts"], json!([]), "{r}");
    c.assert_stdout_all_json();
}

#[test]
fn an_unsupported_version_is_refused_with_the_versions_served() {
    let mut c = bare();
    for requested in ["1900-01-01", "2027-01-01", "2025-11-25", "2024-11-05"] {
        for method in ["server/discover", "tools/call", "frobnicate"] {
            let r = raw_request(
                &mut c,
                json!({"jsonrpc": "2.0", "id": 9, "method": method,
                    "params": {"name": "scout", "arguments": {"target": "hosts"}, "_meta": envelope(requested)}}),
            );
            assert_eq!(r["error"]["code"], -32022, "{requested} {method}: {r}");
            let data = &r["error"]["data"];
            assert_eq!(data["requested"], requested, "{r}");
            assert_eq!(
                data["supported"],
                json!([
                    MODERN_VERSION,
                    "2025-11-25",
                    "2025-06-18",
                    "2025-03-26",
                    "2024-11-05"
                ]),
                "the stateless version first, then those reached through initialize: {r}"
            );
        }
    }
}

#[test]
fn methods_removed_in_2026_07_28_are_not_found_there_and_kept_in_the_initialize_era() {
    let mut c = bare_in(Era::Modern);
    for method in [
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "notifications/initialized",
        "frobnicate",
        // Nothing here ever changes (every listChanged and subscribe is false): no stream to
        // offer.
        "subscriptions/listen",
    ] {
        let r = c.request(method, json!({"level": "debug", "uri": "hosts://list"}));
        assert_eq!(error_code(&r), -32601, "{method}: {r}");
    }
    let r = c.request("ping", Value::Null);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-07-28"),
        "{r}"
    );
    // The same process still answers a plain ping, as the legacy era has it.
    c.set_era(Era::Legacy);
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
}

#[test]
fn every_result_of_the_stateless_era_says_what_it_is_and_how_long_to_keep_it() {
    let mut c = bare_in(Era::Modern);
    let hints = |c: &mut McpClient, method: &str, params: Value| {
        let r = c.request(method, params)["result"].clone();
        assert_eq!(r["resultType"], "complete", "{method}: {r}");
        (
            r["ttlMs"].as_u64(),
            r["cacheScope"].as_str().map(str::to_string),
        )
    };
    let public = Some("public".to_string());
    let private = Some("private".to_string());
    assert_eq!(
        hints(&mut c, "tools/list", json!({})),
        (Some(3_600_000), public.clone())
    );
    assert_eq!(
        hints(&mut c, "prompts/list", json!({})),
        (Some(3_600_000), public)
    );
    // The host list is the user's own: private, and fixed while the process runs.
    assert_eq!(
        hints(&mut c, "resources/list", json!({})),
        (Some(300_000), private.clone())
    );
    assert_eq!(
        hints(&mut c, "resources/templates/list", json!({})),
        (Some(300_000), private.clone())
    );
    // Remote contents change at any time: stale at once.
    assert_eq!(
        hints(&mut c, "resources/read", json!({"uri": "hosts://list"})),
        (Some(0), private)
    );
    // Neither a tool call nor a completion is cacheable.
    assert_eq!(
        hints(
            &mut c,
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "scout://{host}/{path*}"},
                "argument": {"name": "host", "value": ""}})
        ),
        (None, None)
    );
    assert_eq!(
        hints(
            &mut c,
            "tools/call",
            json!({"name": "scout", "arguments": {"target": "hosts"}})
        ),
        (None, None)
    );
}

#[test]
fn both_eras_are_served_by_one_process_each_at_its_own_version() {
    let mut c = bare();
    c.initialize_version("2025-03-26");
    let call = json!({"name": "scout", "arguments": {"target": "hosts"}});
    // Legacy requests: the negotiated 2025-03-26 shapes.
    let tool = c.request("tools/list", Value::Null)["result"]["tools"][0].clone();
    assert!(tool.get("outputSchema").is_none(), "{tool}");
    let r = c.request("tools/call", call.clone());
    assert!(r["result"].get("structuredContent").is_none(), "{r}");
    // Stateless requests in the same process: 2026-07-28, whatever initialize said.
    c.set_era(Era::Modern);
    let modern_tool = c.request("tools/list", Value::Null)["result"]["tools"][0].clone();
    assert!(modern_tool["outputSchema"].is_object(), "{modern_tool}");
    let r = c.request("tools/call", call.clone());
    assert_eq!(r["result"]["structuredContent"]["mode"], "hosts", "{r}");
    // And back: the legacy session is untouched by them.
    c.set_era(Era::Legacy);
    let r = c.request("tools/call", call);
    assert!(r["result"].get("structuredContent").is_none(), "{r}");

    // The tool is defined the same way at 2025-11-25 and at 2026-07-28.
    let mut l = bare_in(Era::Legacy);
    let legacy_tool = l.request("tools/list", Value::Null)["result"]["tools"][0].clone();
    assert_eq!(legacy_tool, modern_tool);
}

#[test]
fn stateless_requests_do_not_initialize_the_legacy_session() {
    let mut c = bare_in(Era::Modern);
    assert!(c.request("tools/list", Value::Null)["result"].is_object());
    c.set_era(Era::Legacy);
    let r = c.request("tools/list", Value::Null);
    assert_eq!(error_code(&r), -32600, "{r}");
}

#[test]
fn initialize_is_the_handshake_even_with_the_envelope() {
    let mut c = bare();
    let r = c.request(
        "initialize",
        stamp(
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"}}),
            MODERN_VERSION,
        ),
    );
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18", "{r}");
    assert!(r["result"].get("resultType").is_none(), "{r}");
    assert!(c.request("tools/list", Value::Null)["result"].is_object());
}

#[test]
fn batches_of_stateless_requests_are_refused_even_before_initialize() {
    let mut c = bare();
    let member = |id: u32| json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {"_meta": envelope(MODERN_VERSION)}});
    for batch in [
        json!([member(1)]),
        json!([member(1), member(2)]),
        // One modern member is enough to refuse the whole batch.
        json!([{"jsonrpc": "2.0", "id": 3, "method": "ping"}, member(4)]),
    ] {
        c.send(&batch);
        let m = c
            .recv(Duration::from_secs(10))
            .expect("an error for the batch");
        assert_eq!(error_code(&m), -32600, "{m}");
        assert!(
            m["error"]["message"]
                .as_str()
                .unwrap()
                .contains("2026-07-28"),
            "{m}"
        );
    }
    // A legacy batch before initialize is still answered, as it always was.
    c.send_raw(r#"[{"jsonrpc":"2.0","id":"a","method":"ping"}]"#);
    let m = c.recv(Duration::from_secs(10)).expect("the batch's answer");
    assert_eq!(m, json!([{"jsonrpc": "2.0", "id": "a", "result": {}}]));
}

fn tool_errors_are_results_in_either_era(era: Era) {
    let mut c = bare_in(era);
    for args in [json!({}), json!({"target": 3}), json!({"bogus": true})] {
        let r = c.call_tool(args.clone());
        assert_eq!(r["isError"], true, "{args}: {r}");
        assert_eq!(r["structuredContent"]["mode"], "error", "{r}");
    }
    let r = c.request("tools/call", json!({"name": "rm_rf", "arguments": {}}));
    assert_eq!(error_code(&r), -32602);
}

fn resources_without_hosts_in_either_era(era: Era) {
    let mut c = bare_in(era);
    let list = c.request("resources/list", json!({}))["result"]["resources"].clone();
    assert_eq!(list[0]["uri"], "hosts://list", "{list}");
    let r = c.request("resources/read", json!({"uri": "hosts://list"}));
    assert!(r["result"]["contents"][0]["text"]
        .as_str()
        .unwrap()
        .contains("No hosts configured"));
    let r = c.request("resources/read", json!({"uri": "hosts://nope"}));
    match era {
        Era::Legacy => assert_eq!(
            r["error"],
            json!({"code": -32002, "message": "resource not found: hosts://nope"})
        ),
        Era::Modern => assert_eq!(
            r["error"],
            json!({"code": -32602, "message": "resource not found: hosts://nope", "data": {"uri": "hosts://nope"}})
        ),
    }
    let r = c.request("resources/list", json!({"cursor": "x"}));
    assert_eq!(error_code(&r), -32602);
}

fn malformed_lines_are_answered_and_serving_goes_on_in_either_era(era: Era) {
    let mut c = bare_in(era);
    c.send_raw("this is not json");
    let m = c.recv(Duration::from_secs(10)).expect("a parse error");
    assert_eq!(error_code(&m), -32700);
    c.send_raw(r#"{"jsonrpc":"2.0","id":"m"}"#);
    let m = c.recv(Duration::from_secs(10)).expect("an invalid request");
    assert_eq!((error_code(&m), m["id"].clone()), (-32600, json!("m")));
    alive(&mut c);
    c.assert_stdout_all_json();
}

fn cancelling_an_unknown_request_is_ignored_in_either_era(era: Era) {
    let mut c = bare_in(era);
    c.notify("notifications/cancelled", json!({"requestId": 12345}));
    c.notify("notifications/cancelled", json!({}));
    alive(&mut c);
    assert!(c.stashed().is_empty(), "{:?}", c.stashed());
}

fn stdin_eof_exits_zero_in_either_era(era: Era) {
    let mut c = bare_in(era);
    alive(&mut c);
    c.close_stdin();
    let status = c
        .wait_exit(Duration::from_secs(5))
        .expect("exited after EOF");
    assert!(status.success(), "{status:?}");
    c.assert_stdout_all_json();
}

in_both_eras!(
    tool_errors_are_results_in_either_era,
    resources_without_hosts_in_either_era,
    malformed_lines_are_answered_and_serving_goes_on_in_either_era,
    cancelling_an_unknown_request_is_ignored_in_either_era,
    stdin_eof_exits_zero_in_either_era,
);
