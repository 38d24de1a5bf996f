//! A chaos soak shared by `tests/chaos.rs` (CI-sized) and `benches/chaos.rs` (10,000+ calls):
//! mixed calls with N in flight over a fleet while a chaos thread kills, restarts, freezes and
//! thaws the hosts' sshd at random. Every call must be answered exactly once, and every call
//! that did not overlap a fault on its own host must succeed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{Fleet, McpClient};

/// A fault on one host, from its start until the host was fully back.
#[derive(Debug, Clone)]
pub struct Fault {
    pub host: String,
    pub kind: &'static str,
    pub from: Instant,
    pub to: Instant,
}

/// What a soak saw.
#[derive(Debug, Default)]
pub struct Soak {
    pub calls: usize,
    pub answered_twice: Vec<String>,
    pub unanswered: usize,
    /// Calls that failed without overlapping a fault on their host.
    pub innocent_failures: Vec<String>,
    /// Calls that failed while their host had a fault (expected).
    pub fault_failures: usize,
    pub faults: Vec<Fault>,
    pub elapsed: Duration,
}

impl Soak {
    /// The two soaks' findings as one.
    pub fn merge(mut self, other: Soak) -> Soak {
        self.calls += other.calls;
        self.answered_twice.extend(other.answered_twice);
        self.unanswered += other.unanswered;
        self.innocent_failures.extend(other.innocent_failures);
        self.fault_failures += other.fault_failures;
        self.faults.extend(other.faults);
        self.elapsed += other.elapsed;
        self
    }
}

/// A small deterministic generator (xorshift), seeded per run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// One call: its arguments and the hosts it touches.
fn mixed_call(aliases: &[String], dir: &str, i: usize, rng: &mut Rng) -> (Value, Vec<String>) {
    let host = aliases[rng.below(aliases.len() as u64) as usize].clone();
    let args = match i % 8 {
        0..=2 => json!({"target": format!("{host}:{dir}/chaos.txt")}),
        3 => json!({"target": format!("{host}:{dir}")}),
        4 | 5 => json!({"target": format!("{host}:{dir}"), "query": "wc -c chaos.txt"}),
        6 => json!({"target": format!("{host}:{dir}"), "find": "*.txt", "depth": 1}),
        _ => {
            let other = aliases[(i / 8) % aliases.len()].clone();
            let targets = vec![
                format!("{host}:{dir}/chaos.txt"),
                format!("{other}:{dir}/chaos.txt"),
            ];
            return (json!({"targets": targets}), vec![host, other]);
        }
    };
    (args, vec![host])
}

/// Runs `calls` calls with `in_flight` outstanding while faults hit the fleet every
/// `fault_every` (on average; `None`: no faults). The fleet is taken (the chaos thread owns
/// it) and given back.
pub fn soak(
    fleet: Fleet,
    client: &mut McpClient,
    calls: usize,
    in_flight: usize,
    fault_every: Option<Duration>,
    seed: u64,
) -> (Soak, Fleet) {
    let aliases = fleet.aliases();
    let dir = fleet.remote_root.display().to_string();
    fleet.write_remote_file("chaos.txt", b"chaos soak payload\n");
    let faults = Arc::new(Mutex::new(Vec::<Fault>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (faults, stop) = (faults.clone(), stop.clone());
        thread::spawn(move || {
            let mut fleet = fleet;
            let mut rng = Rng::new(seed ^ 0x9e37_79b9);
            let names = fleet.aliases();
            let Some(fault_every) = fault_every else {
                while !stop.load(Ordering::Acquire) {
                    thread::sleep(Duration::from_millis(20));
                }
                return fleet;
            };
            while !stop.load(Ordering::Acquire) {
                let pause = fault_every.as_millis() as u64;
                thread::sleep(Duration::from_millis(pause / 2 + rng.below(pause.max(1))));
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let host = names[rng.below(names.len() as u64) as usize].clone();
                let from = Instant::now();
                let kind = match rng.below(3) {
                    0 => {
                        fleet.sshd(&host).restart();
                        "kill and restart"
                    }
                    1 => {
                        fleet.sshd(&host).freeze_all();
                        thread::sleep(Duration::from_millis(200 + rng.below(600)));
                        fleet.sshd(&host).thaw_all();
                        "freeze and thaw"
                    }
                    _ => {
                        fleet.sshd(&host).drop_connections();
                        "connections dropped"
                    }
                };
                faults.lock().unwrap().push(Fault {
                    host,
                    kind,
                    from,
                    to: Instant::now(),
                });
            }
            fleet
        })
    };

    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut report = Soak::default();
    // id → (hosts, sent at)
    let mut outstanding: HashMap<String, (Vec<String>, Instant)> = HashMap::new();
    let mut answered: HashSet<String> = HashSet::new();
    let mut finished: Vec<(Vec<String>, Instant, Instant, Option<String>)> = Vec::new();
    let mut sent = 0;
    while sent < calls || !outstanding.is_empty() {
        while sent < calls && outstanding.len() < in_flight {
            let (args, hosts) = mixed_call(&aliases, &dir, sent, &mut rng);
            let id = client.send_request("tools/call", json!({"name": "scout", "arguments": args}));
            outstanding.insert(id.to_string(), (hosts, Instant::now()));
            sent += 1;
        }
        let Some(msg) = client.recv(Duration::from_secs(60)) else {
            report.unanswered = outstanding.len();
            break;
        };
        if msg.get("method").is_some() {
            continue;
        }
        let id = msg["id"].to_string();
        if !answered.insert(id.clone()) {
            report.answered_twice.push(id.clone());
        }
        let Some((hosts, at)) = outstanding.remove(&id) else {
            continue;
        };
        report.calls += 1;
        let structured = &msg["result"]["structuredContent"];
        let broadcast_failed =
            structured["mode"] == "broadcast" && structured["succeeded"] != structured["total"];
        let failed = msg["result"]["isError"] == json!(true)
            || msg.get("error").is_some()
            || broadcast_failed;
        let text = failed.then(|| msg.to_string());
        finished.push((hosts, at, Instant::now(), text));
    }
    report.elapsed = started.elapsed();
    stop.store(true, Ordering::Release);
    let fleet = chaos.join().expect("the chaos thread");
    report.faults = faults.lock().unwrap().clone();
    // A fault reaches a little past its end: a connection broken by it is noticed at its
    // next use, and a freeze's missed keepalive answers are counted for a moment.
    let reach = Duration::from_secs(1);
    for (hosts, from, to, failure) in finished {
        let Some(text) = failure else { continue };
        let overlaps = report
            .faults
            .iter()
            .any(|f| hosts.contains(&f.host) && f.from <= to && from <= f.to + reach);
        if overlaps {
            report.fault_failures += 1;
        } else {
            report.innocent_failures.push(text);
        }
    }
    (report, fleet)
}

/// Open descriptors, threads and anonymous resident memory (KiB) of a process.
pub fn footprint(pid: u32) -> (usize, u64, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let (rss, threads) = super::load::rss_and_threads(pid);
    (fds, threads, rss)
}
