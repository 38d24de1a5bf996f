//! MCP protocol behaviour (SPEC §2) through the real binary over stdio. No SSH host is needed:
//! the server must answer all of this without connecting anywhere.

mod common;

use std::time::Duration;

use common::{scout_bin, McpClient};
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
