//! Pool, scale and footprint figures of issue 6, each printed with median and p95 (and the
//! reference measured in the same run where there is one):
//!
//! * pool: warm checkout latency (library, no network), the same while the reaper runs every
//!   10 ms, 100 concurrent calls to one host (sessions opened), 10 hosts connected in parallel vs
//!   one, stale-session detection and reconnect;
//! * broadcast read to 1, 10 and 50 hosts, warm and cold (through the stdio server);
//! * process start to `initialize` answer; RSS idle, with 10 and with 100 pooled sessions;
//! * ssh_config parse + resolve of 1,000 hosts.
//!
//! `cargo bench --bench fleet` (full) or `-- --quick` (fewer iterations, 20 hosts instead of 50).

use scout_testkit as common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load::rss_and_threads;
use common::{scout_bin, scout_client, Fleet, McpClient};
use scout_mcp::__private::{ParseContext, SshConfig};
use scout_mcp::PolicyMode;
use scout_mcp::{Control, RemotePath, Scout, Settings};
use serde_json::{json, Value};

struct Stats {
    n: usize,
    median: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_unstable();
    let n = s.len().max(1);
    let rank = |p: usize| s[((n * p).div_ceil(100)).clamp(1, n) - 1];
    Stats {
        n: s.len(),
        median: s[n / 2],
        p95: rank(95),
        p99: rank(99),
        max: s[n - 1],
    }
}

fn show(label: &str, samples: &[Duration]) -> Stats {
    let s = stats(samples);
    let f = |d: Duration| {
        if d < Duration::from_millis(1) {
            format!("{:8.2} µs", d.as_secs_f64() * 1e6)
        } else {
            format!("{:8.3} ms", d.as_secs_f64() * 1e3)
        }
    };
    println!(
        "    {label:<52} n={:<6} median {}  p95 {}  p99 {}  max {}",
        s.n,
        f(s.median),
        f(s.p95),
        f(s.p99),
        f(s.max)
    );
    s
}

fn library(
    fleet: &Fleet,
    tweak: impl FnOnce(scout_mcp::SettingsBuilder) -> scout_mcp::SettingsBuilder,
) -> Scout {
    let builder = Settings::builder()
        .ssh_config(&fleet.ssh_config)
        .known_hosts(&fleet.known_hosts)
        .command_policy(PolicyMode::Shell);
    Scout::new(tweak(builder).build().expect("settings")).expect("scout")
}

fn logins(fleet: &Fleet, alias: &str) -> usize {
    fleet
        .hosts
        .iter()
        .find(|(a, _)| a == alias)
        .map(|(_, s)| s.log_count("Accepted publickey"))
        .unwrap_or(0)
}

/// `host:path` for the benches' own hosts and paths.
fn at(host: &str, path: &str) -> RemotePath {
    RemotePath::new(host, path).expect("a valid host:path")
}

fn pool_figures(quick: bool) {
    println!("pool");
    let fleet = Fleet::start(&["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"]);
    let file = fleet.write_remote_file("pool.txt", b"pool\n");
    let path = file.display().to_string();

    // Warm checkout: the pools of a warm host, no network (check out, give back).
    let scout = library(&fleet, |b| b);
    scout
        .read(&at("p0", &path), &Control::new())
        .expect("warm up");
    let n = if quick { 20_000 } else { 200_000 };
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        scout_mcp::__private::checkout_lane(&scout, "p0").expect("lane");
        samples.push(t.elapsed());
    }
    show("warm lane checkout + check-in (library)", &samples);
    drop(scout);

    // The same while the reaper wakes every 10 ms (idle timeout 20 ms): it checks idle
    // sessions out too, so a checkout may meet it.
    let scout = library(&fleet, |b| b.idle_timeout(Duration::from_millis(20)));
    scout
        .read(&at("p0", &path), &Control::new())
        .expect("warm up");
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        scout_mcp::__private::checkout_lane(&scout, "p0").expect("lane");
        samples.push(t.elapsed());
    }
    show("warm checkout while the reaper runs every 10 ms", &samples);
    drop(scout);

    // 100 concurrent calls to one host.
    let scout = Arc::new(library(&fleet, |b| b.workers(100)));
    let before = logins(&fleet, "p1");
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let scout = scout.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let out = scout
                    .run(&at("p1", "/"), "true", &Control::new())
                    .expect("run");
                assert!(out.success());
                t.elapsed()
            })
        })
        .collect();
    let samples: Vec<Duration> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    show("100 concurrent `true` on one host (cold pool)", &samples);
    println!(
        "    sessions opened: {} (SCOUT_MAX_SESSIONS_PER_HOST = {})",
        logins(&fleet, "p1") - before,
        scout.settings().max_sessions_per_host()
    );
    drop(scout);

    // 10 hosts connected in parallel vs one.
    let rounds = if quick { 3 } else { 10 };
    let (mut one, mut ten) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let scout = library(&fleet, |b| b);
        let t = Instant::now();
        scout.read(&at("p2", &path), &Control::new()).expect("read");
        one.push(t.elapsed());
        drop(scout);
        let scout = library(&fleet, |b| b);
        let targets: Vec<String> = fleet
            .aliases()
            .iter()
            .map(|a| format!("{a}:{path}"))
            .collect();
        let t = Instant::now();
        let items = scout
            .broadcast(&targets, None, &Control::new())
            .expect("broadcast");
        ten.push(t.elapsed());
        assert!(items.iter().all(|i| i.succeeded()));
    }
    let a = show("cold connect + read, 1 host", &one);
    let b = show("cold connect + read, 10 hosts in parallel", &ten);
    println!(
        "    ratio 10 hosts / 1 host: {:.2} (10.00 would be sequential)",
        b.median.as_secs_f64() / a.median.as_secs_f64()
    );

    // Stale session: the server drops every connection; the next call finds out and reconnects.
    let mut fleet = fleet;
    let scout = library(&fleet, |b| b);
    let mut stale = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..rounds {
        scout.read(&at("p3", &path), &Control::new()).expect("warm");
        let t = Instant::now();
        scout
            .read(&at("p3", &path), &Control::new())
            .expect("warm read");
        warm.push(t.elapsed());
        fleet.sshd("p3").drop_connections();
        let t = Instant::now();
        scout
            .read(&at("p3", &path), &Control::new())
            .expect("read after the server dropped the session");
        stale.push(t.elapsed());
    }
    show("warm read (reference)", &warm);
    show(
        "read on a session the server killed (detect + reconnect)",
        &stale,
    );
    println!();
}

fn call(c: &mut McpClient, args: Value) -> Duration {
    let t = Instant::now();
    let r = c.call_tool_timeout(args, Duration::from_secs(120));
    let took = t.elapsed();
    assert_ne!(r["isError"], json!(true), "{r}");
    took
}

fn broadcast_figures(quick: bool) {
    let big = if quick { 20 } else { 50 };
    println!("broadcast read (stdio server)");
    let names: Vec<String> = (0..big).map(|i| format!("b{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let fleet = Fleet::start(&refs);
    let file = fleet.write_remote_file("b.txt", b"broadcast\n");
    let rounds = if quick { 3 } else { 10 };
    for n in [1, 10, big] {
        let targets: Vec<String> = names[..n]
            .iter()
            .map(|a| format!("{a}:{}", file.display()))
            .collect();
        let args = json!({"targets": targets});
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let mut c = scout_client(
                &fleet,
                &[("SCOUT_LOG_LEVEL", "warn"), ("SCOUT_MAX_CONCURRENCY", "64")],
            );
            cold.push(call(&mut c, args.clone()));
            for _ in 0..5 {
                warm.push(call(&mut c, args.clone()));
            }
        }
        show(&format!("{n} host(s), cold (connect + read)"), &cold);
        show(&format!("{n} host(s), warm"), &warm);
    }
    println!();
}

fn footprint(quick: bool) {
    println!("process");
    let rounds = if quick { 10 } else { 50 };
    let mut start = Vec::new();
    let mut idle = (0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut c = McpClient::spawn(&scout_bin(), &[], &[]);
        c.initialize();
        start.push(t.elapsed());
        idle = rss_and_threads(c.pid());
        c.close_stdin();
        c.wait_exit(Duration::from_secs(5));
    }
    show("spawn to `initialize` answer", &start);
    println!(
        "    RSS idle after initialize, default settings          {} KiB ({} threads)",
        idle.0, idle.1
    );

    let names: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let fleet = Fleet::start(&refs);
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_LOG_LEVEL", "warn"),
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_MAX_SESSIONS_PER_HOST", "10"),
            ("SCOUT_WORKERS", "100"),
            ("SCOUT_MAX_CONCURRENCY", "100"),
        ],
    );
    let (idle, threads) = rss_and_threads(c.pid());
    println!(
        "    RSS idle, 100 workers configured                     {idle} KiB ({threads} threads)"
    );
    let one_each: Vec<String> = names.iter().map(|a| format!("{a}:/")).collect();
    call(&mut c, json!({"targets": one_each, "query": "true"}));
    let (ten, _) = rss_and_threads(c.pid());
    println!("    RSS with 10 pooled sessions                          {ten} KiB");
    // 100 sessions: 10 concurrent sleeps on each of the 10 hosts.
    let many: Vec<String> = names
        .iter()
        .flat_map(|a| std::iter::repeat_n(format!("{a}:/"), 10))
        .collect();
    call(&mut c, json!({"targets": many, "query": "sleep 1"}));
    let sessions: usize = fleet
        .hosts
        .iter()
        .map(|(_, s)| s.log_count("Accepted publickey"))
        .sum();
    let (hundred, _) = rss_and_threads(c.pid());
    println!("    RSS with {sessions} pooled sessions                         {hundred} KiB");
    println!();
}

fn config_parse(quick: bool) {
    println!("ssh_config");
    let mut text =
        String::from("Host *\n  ServerAliveInterval 30\n  IdentityFile ~/.ssh/id_ed25519\n\n");
    for i in 0..1000 {
        text.push_str(&format!(
            "Host web{i} web{i}.example.org\n  HostName 10.0.{}.{}\n  User deploy\n  Port {}\n  IdentityFile ~/.ssh/%h.key\n\n",
            i / 250,
            i % 250,
            2200 + i % 7
        ));
    }
    let ctx = ParseContext {
        home: "/home/me".into(),
        local_user: "me".into(),
    };
    let rounds = if quick { 10 } else { 50 };
    let mut samples = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let config =
            SshConfig::parse_str(&text, std::path::Path::new("bench"), &ctx).expect("parse");
        let aliases = config.aliases();
        let resolved: Vec<_> = aliases.iter().map(|a| config.resolve(a)).collect();
        samples.push(t.elapsed());
        assert_eq!(resolved.len(), 2000);
    }
    show(
        "parse + resolve 1,000 Host blocks (2,000 aliases)",
        &samples,
    );
    println!();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "scout-mcp fleet benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    config_parse(quick);
    footprint(quick);
    pool_figures(quick);
    broadcast_figures(quick);
}
