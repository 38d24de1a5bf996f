//! A load driver shared by `tests/load.rs` (CI-sized) and `benches/load.rs` (long run): mixed
//! calls to a fleet with up to N requests in flight from one client, checking that every
//! request is answered exactly once, while a sampler counts the TCP connections each sshd
//! holds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Fleet, McpClient};

/// What a load run saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub calls: usize,
    pub errors: Vec<String>,
    pub elapsed: Duration,
    /// Highest number of established connections seen at once, per sshd port.
    pub max_connections: HashMap<u16, usize>,
}

/// Established TCP connections whose local port is one of `ports` (the server side of every
/// session to those sshds), per port. /proc/net/tcp is not read atomically (a socket can show
/// up twice while the table changes), so sockets are counted once by inode.
pub fn established(ports: &[u16]) -> HashMap<u16, usize> {
    let mut counts: HashMap<u16, usize> = ports.iter().map(|p| (*p, 0)).collect();
    let mut seen = HashSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 || fields[3] != "01" || !seen.insert(fields[9].to_string()) {
                continue;
            }
            let port = fields[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let Some(n) = port.and_then(|p| counts.get_mut(&p)) {
                *n += 1;
            }
        }
    }
    counts
}

/// Anonymous resident memory (`RssAnon`: heap and stacks, where a leak shows) in KiB and
/// `Threads` of a process. Not `VmRSS`: it also counts pages of shared libraries, which grow
/// as new code paths first run (an error path of libssh2 or OpenSSL) and are no leak.
pub fn rss_and_threads(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("Threads:"))
}

/// The arguments of call number `i`: reads, listings, commands and broadcasts over the fleet.
fn mixed_call(fleet: &Fleet, i: usize, file: &str) -> Value {
    let aliases = fleet.aliases();
    let host = &aliases[i % aliases.len()];
    let dir = fleet.remote_root.display();
    match i % 10 {
        0..=3 => json!({"target": format!("{host}:{file}")}),
        4 | 5 => json!({"target": format!("{host}:{dir}")}),
        6 | 7 => json!({"target": format!("{host}:{dir}"), "query": "wc -c load.txt"}),
        8 => {
            let targets: Vec<String> = (0..3)
                .map(|k| format!("{}:{file}", aliases[(i + k) % aliases.len()]))
                .collect();
            json!({"targets": targets})
        }
        _ => json!({"target": format!("{host}:{dir}"), "find": "*.txt", "depth": 1}),
    }
}

/// Sends `calls` mixed tool calls keeping `in_flight` outstanding; checks each response's id
/// was outstanding and answered once, and the result is not an error.
pub fn run(fleet: &Fleet, client: &mut McpClient, calls: usize, in_flight: usize) -> LoadReport {
    let file = fleet.write_remote_file("load.txt", b"load test payload\n");
    let file = file.display().to_string();
    let ports: Vec<u16> = fleet.hosts.iter().map(|(_, s)| s.port).collect();
    let maxima = Arc::new(Mutex::new(HashMap::<u16, usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (maxima, stop, ports) = (maxima.clone(), stop.clone(), ports.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let now = established(&ports);
                let mut m = maxima.lock().unwrap();
                for (port, n) in now {
                    let e = m.entry(port).or_default();
                    *e = (*e).max(n);
                }
                drop(m);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let mut report = LoadReport::default();
    let mut outstanding: HashSet<String> = HashSet::new();
    let mut answered: HashSet<String> = HashSet::new();
    let mut sent = 0;
    while sent < calls || !outstanding.is_empty() {
        while sent < calls && outstanding.len() < in_flight {
            let args = mixed_call(fleet, sent, &file);
            let id = client.send_request("tools/call", json!({"name": "scout", "arguments": args}));
            outstanding.insert(id.to_string());
            sent += 1;
        }
        let Some(msg) = client.recv(Duration::from_secs(60)) else {
            report.errors.push(format!(
                "no message for 60 s; {} outstanding",
                outstanding.len()
            ));
            break;
        };
        if msg.get("method").is_some() {
            continue; // a notification
        }
        let id = msg["id"].to_string();
        if !outstanding.remove(&id) {
            report
                .errors
                .push(format!("response for an id not outstanding: {id}"));
        }
        if !answered.insert(id.clone()) {
            report.errors.push(format!("id {id} answered twice"));
        }
        if msg["result"]["isError"] == json!(true) || msg.get("error").is_some() {
            report.errors.push(format!("{id}: {msg}"));
        }
        report.calls += 1;
    }
    report.elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    report.max_connections = maxima.lock().unwrap().clone();
    report
}
