//! The demo behind `scripts/demo`: a real MCP session over stdio against throwaway local sshd
//! servers (two host aliases), printing every request and result.
//!
//! Run it with `scripts/demo` (which installs what is missing and builds the binary first).

use scout_testkit as common;

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
    println!("Server exited on stdin EOF: {status:?}. Stopping sshd and removing the temp files.");
    if !intact {
        std::process::exit(1);
    }
}

fn show_request(method: &str, params: &Value) {
    println!("→ {method} {params}");
}
