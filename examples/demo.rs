//! The demo behind `scripts/demo`: a real MCP session over stdio against throwaway local sshd
//! servers (two host aliases), printing every request and result; then the same fleet served
//! over streamable HTTP to two API keys, one of them read-only.
//!
//! Run it with `scripts/demo` (which installs what is missing and builds the binary first).

use scout_testkit as common;

use common::http::HttpServer;
use common::{tool_text, Fleet, McpClient};
use serde_json::{json, Value};

fn main() {
    println!("Starting two throwaway sshd servers on 127.0.0.1 (aliases: web, db)...");
    let fleet = Fleet::start(&["web", "db"]);
    let root = fleet.remote_root.display().to_string();
    fleet.write_remote_file(
        "app/config.yaml",
        b"listen: 8080\nworkers: 4\nlog_level: info\n",
    );
    fleet.write_remote_file(
        "app/logs/app.log",
        b"INFO start\nERROR disk almost full\nINFO request ok\nERROR timeout talking to db\n",
    );
    fleet.write_remote_file("app/bin/server", b"\x7fELF\x02\x01\x01\x00\x00\x00binary");
    let canary = fleet.write_remote_file("app/canary", b"untouched\n");
    fleet.write_remote_file(
        "app/config.prod.yaml",
        b"listen: 8080\nworkers: 16\nlog_level: warn\n",
    );
    let local = &fleet.beam;
    let upload = local.join("notes.txt");
    std::fs::write(&upload, b"uploaded by the demo\n").expect("local demo file");

    let env: Vec<(String, String)> = fleet
        .env()
        .into_iter()
        .filter(|(k, _)| k != "SCOUT_LOG_LEVEL")
        .collect();
    let bin = common::scout_bin();
    println!("Starting {} as an MCP server over stdio.\n", bin.display());
    let mut client = McpClient::spawn(&bin, &[], &env);

    let init = client.initialize();
    show_request("initialize", &json!({"protocolVersion": "2025-11-25"}));
    println!(
        "← protocol {}, server {} {}\n",
        init["protocolVersion"], init["serverInfo"]["name"], init["serverInfo"]["version"]
    );
    let tools = client.request("tools/list", Value::Null);
    show_request("tools/list", &json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    println!("← tools: {}\n", names.join(", "));

    let calls = [
        ("List the hosts", json!({"target": "hosts"})),
        (
            "Check a host stage by stage (the doctor)",
            json!({"target": "hosts", "check": "web"}),
        ),
        (
            "Read a file",
            json!({"target": format!("web:{root}/app/config.yaml")}),
        ),
        (
            "List a directory",
            json!({"target": format!("web:{root}/app")}),
        ),
        (
            "A tree, two levels deep",
            json!({"target": format!("db:{root}"), "tree": true, "depth": 2}),
        ),
        (
            "Run an allowed command in a directory",
            json!({"target": format!("web:{root}/app/logs"), "query": "grep -n ERROR app.log"}),
        ),
        (
            "A binary file is described, not dumped",
            json!({"target": format!("web:{root}/app/bin/server")}),
        ),
        (
            "A command the allowlist policy refuses",
            json!({"target": format!("web:{root}/app"), "query": "cat canary; rm canary"}),
        ),
        (
            "An escape through find -exec, refused",
            json!({"target": format!("web:{root}/app"), "query": "find . -name '*.log' -exec rm '{}' ';'"}),
        ),
        (
            "Find files by name",
            json!({"target": format!("web:{root}/app"), "find": "*.yaml"}),
        ),
        (
            "Diff two files on two hosts",
            json!({"target": format!("web:{root}/app/config.yaml"), "diff": format!("db:{root}/app/config.prod.yaml")}),
        ),
        (
            "Diff a file against expected content",
            json!({"target": format!("web:{root}/app/config.yaml"), "diff_content": "listen: 8080\nworkers: 4\nlog_level: info\n"}),
        ),
        (
            "Broadcast a command to both hosts",
            json!({"targets": [format!("web:{root}/app/logs"), format!("db:{root}/app/logs")], "query": "grep -c ERROR app.log"}),
        ),
        (
            "Upload a local file (beam)",
            json!({"target": format!("db:{root}/notes.txt"), "beam": upload, "beam_direction": "upload"}),
        ),
        (
            "Copy it host to host",
            json!({"beam_source": format!("db:{root}/notes.txt"), "beam_target": format!("web:{root}/notes-copy.txt")}),
        ),
        (
            "Download it back (beam)",
            json!({"target": format!("web:{root}/notes-copy.txt"), "beam": local.join("back.txt"), "beam_direction": "download"}),
        ),
        (
            "Uploading again without overwrite is refused",
            json!({"target": format!("db:{root}/notes.txt"), "beam": upload, "beam_direction": "upload"}),
        ),
        ("An unknown host", json!({"target": "mail:/etc/hostname"})),
    ];
    for (title, args) in calls {
        println!("── {title}");
        show_request("tools/call scout", &args);
        let result = client.call_tool(args);
        let marker = if result["isError"] == true {
            " (isError)"
        } else {
            ""
        };
        println!("← result{marker}:");
        for line in tool_text(&result).lines() {
            println!("    {line}");
        }
        println!();
    }
    println!("── Resources");
    let list = client.request("resources/list", json!({}));
    show_request("resources/list", &json!({}));
    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uri"].as_str())
        .collect();
    println!("← {}\n", uris.join(", "));
    let uri = format!("web://{}/app/config.yaml", root.trim_start_matches('/'));
    show_request("resources/read", &json!({"uri": uri}));
    let read = client.request("resources/read", json!({"uri": uri}));
    println!(
        "← {}",
        read["result"]["contents"][0]["text"]
            .as_str()
            .unwrap_or("(no text)")
    );
    let intact = std::fs::read(&canary)
        .map(|c| c == b"untouched\n")
        .unwrap_or(false);
    println!(
        "Canary file after the refused commands: {}",
        if intact { "untouched" } else { "MODIFIED" }
    );
    client.close_stdin();
    let status = client.wait_exit(std::time::Duration::from_secs(5));
    println!("Server exited on stdin EOF: {status:?}.\n");

    let served = http_demo(&env, &root);
    println!("Stopping sshd and removing the temp files.");
    // Before exiting: `exit` runs no destructors, and the fleet's stops the sshd servers.
    drop(fleet);
    if !intact || !served {
        std::process::exit(1);
    }
}

/// The same fleet served over streamable HTTP to two keys: one trusted, one read-only on
/// `web` only, without commands. Whether every answer was the expected one.
fn http_demo(env: &[(String, String)], root: &str) -> bool {
    let trusted = "demo-trusted-key-0123456789abcdef";
    let viewer = "demo-viewer-key-0123456789abcdef";
    let keys =
        format!("{trusted}:name=trusted,{viewer}:name=viewer:read-only:hosts=web:commands=off");
    let mut env = env.to_vec();
    env.push(("SCOUT_API_KEYS".into(), keys));
    let server = match HttpServer::start_with(&env, &["--transport", "http", "--http-port", "0"]) {
        Ok(server) => server,
        Err((code, err)) => {
            println!("scout-mcp --transport http did not start ({code:?}): {err}");
            return false;
        }
    };
    let url = format!("http://{}/mcp", server.addr);
    println!("── Streamable HTTP: scout-mcp --transport http at {url}, keys 'trusted' and 'viewer' (read-only, host web, no commands)");
    let mut ok = true;
    let mut expect = |what: &str, good: bool| {
        println!("   {} {what}", if good { "✓" } else { "✗" });
        ok &= good;
    };

    let health = server.client(None).request("GET", "/health", &[], b"");
    println!("→ GET /health\n← {} {}", health.status, health.text());
    expect("health answers 200", health.status == 200);

    let anonymous = server.client(None);
    let r = anonymous.call(None, json!(1), json!({"target": "hosts"}));
    println!(
        "→ POST /mcp without a key\n← {} {}",
        r.status,
        r.text().trim()
    );
    expect("no key: 401", r.status == 401);

    let admin = server.client(Some(trusted));
    let session = admin.initialize("2025-11-25");
    println!("→ initialize (2025-11-25) with the trusted key\n← Mcp-Session-Id {session}");
    let read = json!({"target": format!("db:{root}/app/config.yaml")});
    show_request("tools/call scout (in the session)", &read);
    let r = admin.call(Some(&session), json!(2), read);
    let text = tool_text(&r.message()["result"]);
    println!("← {}", text.trim_end().replace('\n', "\n    "));
    expect("the trusted key reads db", text.contains("workers: 4"));

    let query = json!({"target": format!("web:{root}/app/logs"), "query": "grep -c ERROR app.log"});
    show_request(
        "tools/call scout (2026-07-28, stateless, no session)",
        &query,
    );
    let r = admin.call(None, json!(3), query.clone());
    let text = tool_text(&r.message()["result"]);
    println!("← {}", text.trim_end());
    expect("a stateless request runs the command", text.trim() == "2");

    let reader = server.client(Some(viewer));
    show_request("tools/call scout with the viewer key", &query);
    let r = reader.call(None, json!(4), query);
    let refused = r.message()["result"]["isError"] == true;
    println!("← {}", tool_text(&r.message()["result"]).trim_end());
    expect("the viewer key may not run commands", refused);
    let other = json!({"target": format!("db:{root}/app/config.yaml")});
    show_request("tools/call scout with the viewer key", &other);
    let r = reader.call(None, json!(5), other);
    let refused = r.message()["result"]["isError"] == true;
    println!("← {}", tool_text(&r.message()["result"]).trim_end());
    expect("the viewer key may not reach db", refused);
    println!();
    ok
}

fn show_request(method: &str, params: &Value) {
    println!("→ {method} {params}");
}
