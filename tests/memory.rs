//! Memory stays bounded whatever a client sends (docs/SECURITY.md, "Bounded memory"): the peak
//! resident set of the real binary (`VmHWM`) stays under 256 MiB through a 16 MiB line, a line
//! of millions of values, a batch of thousands of requests, a 1000-target broadcast of 1 MiB
//! files, and a client that sends 100,000 requests without reading a byte.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{scout_bin, scout_client, Fleet};
use serde_json::{json, Value};

/// The bound docs/SECURITY.md states.
const BOUND: u64 = 256 << 20;

/// Peak resident set of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kb * 1024
}

fn assert_bounded(pid: u32, what: &str) {
    let peak = peak_rss(pid);
    assert!(
        peak < BOUND,
        "{what}: peak RSS {} MiB, over the {} MiB bound",
        peak >> 20,
        BOUND >> 20
    );
    eprintln!("{what}: peak RSS {} MiB", peak >> 20);
}

#[test]
fn huge_lines_and_batches_stay_within_the_bound() {
    let _turn = crate::heavy();
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("small.txt", b"small\n");
    let mut c = scout_client(&fleet, &[]);
    let pid = c.pid();
    let small = format!("alpha:{}", fleet.remote_root.join("small.txt").display());
    // A line just under 16 MiB: one string (a real diff_content), then a line of millions of
    // values (refused before parsing), then one of many small objects.
    let big = "x".repeat((16 << 20) - 512);
    let line = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "scout", "arguments": {"target": small, "diff_content": big}}});
    c.send_raw(&line.to_string());
    let r = c
        .recv_response(&json!(1), Duration::from_secs(120))
        .expect("an answer");
    assert!(r["result"]["content"][0]["text"].is_string(), "{r}");
    for filler in ["0,", "{},"] {
        let n = (16 << 20) / filler.len() - 100;
        c.send_raw(&format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"ping","params":{{"pad":[{}0]}}}}"#,
            filler.repeat(n)
        ));
        let r = c.recv(Duration::from_secs(60)).expect("an answer");
        assert_eq!(r["error"]["code"], -32600, "{r}");
    }
    // A batch of thousands: refused at the newest version, capped at the oldest ones.
    let many: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{},"method":"tools/list"}}"#,
                i + 100
            )
        })
        .collect();
    c.send_raw(&format!("[{}]", many.join(",")));
    let r = c.recv(Duration::from_secs(60)).expect("an answer");
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_eq!(c.request("ping", Value::Null)["result"], json!({}));
    assert_bounded(pid, "16 MiB lines and a batch of 10,000");
}

#[test]
fn a_broadcast_of_1000_targets_of_1_mib_files_stays_within_the_bound() {
    let _turn = crate::heavy();
    let fleet = Fleet::start(&["alpha", "beta"]);
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| b'a' + (i % 26) as u8).collect();
    let file = fleet.write_remote_file("big.txt", &data);
    let mut c = scout_client(&fleet, &[]);
    let pid = c.pid();
    let targets: Vec<String> = (0..1000)
        .map(|i| {
            let host = if i % 2 == 0 { "alpha" } else { "beta" };
            format!("{host}:{}", file.display())
        })
        .collect();
    let r = c.call_tool_timeout(json!({"targets": targets}), Duration::from_secs(300));
    let text = common::tool_text(&r);
    assert_eq!(r["isError"], false, "{}", &text[..text.len().min(2000)]);
    assert!(text.contains("one broadcast keeps"), "the cut is explained");
    assert!(
        text.len() < 32 << 20,
        "the answer is bounded: {} bytes",
        text.len()
    );
    assert_bounded(pid, "a 1000-target broadcast of 1 MiB files");
}

#[test]
fn a_client_that_never_reads_stalls_only_itself() {
    let _turn = crate::heavy();
    let fleet = Fleet::start(&["alpha"]);
    let mut cmd = Command::new(scout_bin());
    cmd.env_remove("SSH_AUTH_SOCK");
    for (k, v) in fleet.env() {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scout-mcp");
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // 100,000 requests: the first 10,000 answered with the tool list (several KiB each, about
    // 90 MiB if the answers piled up), then pings. Written from a thread: the server stops
    // reading when its outbox is full.
    let writer = std::thread::spawn(move || {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}});
        let mut batch = format!("{init}\n");
        let mut sent = 0u64;
        for i in 1..=100_000u64 {
            let method = if i <= 10_000 { "tools/list" } else { "ping" };
            batch.push_str(&format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"{method}\"}}\n"
            ));
            if i % 1000 == 0 {
                if stdin.write_all(batch.as_bytes()).is_err() {
                    return (sent, stdin);
                }
                sent = i;
                batch.clear();
            }
        }
        (sent, stdin)
    });
    // Not a byte read for a while: the writer blocks once the server's outbox is full.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !writer.is_finished(),
        "the server kept reading while nobody read its answers"
    );
    assert_bounded(pid, "100,000 requests, no reads");
    // Now read: every answer arrives, each exactly once, and memory stayed bounded.
    let mut reader = BufReader::new(stdout);
    let mut seen = vec![false; 100_001];
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut count = 0;
    while count < 100_001 && Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        let id = v["id"].as_u64().expect("an id") as usize;
        assert!(!seen[id], "answer {id} twice");
        seen[id] = true;
        count += 1;
    }
    let (sent, stdin) = writer.join().unwrap();
    assert_eq!((count, sent), (100_001, 100_000));
    assert_bounded(pid, "100,000 requests, then read");
    drop(stdin);
    let _ = child.wait();
}
