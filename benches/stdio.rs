//! End-to-end latency of scout-mcp through its stdio MCP interface, each figure next to the
//! OpenSSH client doing the same work against the same sshd, measured in the same run.
//!
//! Scenarios (see docs/PERFORMANCE.md for results and how to read them):
//! 1. warm 1 KiB file read (`tools/call` scout `{"target": "alpha:/…/file"}` on a pooled session)
//!    vs a multiplexed `ssh alpha cat FILE` (ControlMaster already running);
//!    and 1b. warm listing of a 100-entry directory vs a multiplexed `ssh alpha ls -la DIR`;
//! 2. warm `query` of `true` (`SCOUT_COMMAND_POLICY=shell`) vs a multiplexed `ssh alpha true`;
//! 3. cold first call: the read on a fresh scout-mcp process (connect + auth + read; spawn and
//!    `initialize` are not timed) vs a fresh non-multiplexed `ssh alpha cat FILE`.
//!
//! 4. 64 MiB transfers on a warm session: download and upload (`beam`) vs `scp` and `sftp`
//!    through the same ControlMaster, and a host-to-host copy vs `scp -3`; then download and
//!    upload vs `scp` through a second ControlMaster that uses scout's cipher (4e, 4f).
//!
//! 5. broadcast read (`targets`) of one file on 10 hosts vs on 1 host, warm sessions.
//!
//! 6. overlap: a warm read of host b idle and while 64 slow commands run on a, b and c (6a),
//!    and 50 concurrent `sleep 1` on one host of stock sshd settings (6b), each next to
//!    OpenSSH's ControlMaster doing the same.
//!
//! Run with `cargo bench --bench stdio`; `cargo bench --bench stdio -- --quick` is a short run
//! (30 warm / 5 cold / 3 transfer iterations instead of 200 / 20 / 10). `--warm N`, `--cold N`
//! and `--bulk N` set the counts explicitly. Other arguments (cargo passes `--bench`) are
//! ignored.
//!
//! The sshd is the test fixture (`testkit/`): a real OpenSSH server on 127.0.0.1.
//! Run as root, it logs in the user `scouttest`, whose shell is a plain /bin/sh.

use scout_testkit as common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{Fleet, McpClient};

const DEFAULT_WARM: usize = 200;
const DEFAULT_COLD: usize = 20;
const QUICK_WARM: usize = 30;
const QUICK_COLD: usize = 5;
const DEFAULT_BULK: usize = 10;
const QUICK_BULK: usize = 3;
/// Size of the transfer scenarios.
const BULK_BYTES: usize = 64 << 20;
/// Untimed pause after every transfer run (see `settle`).
const QUIET: Duration = Duration::from_millis(100);
/// Untimed iterations before each warm scenario (fills caches, settles the pool and the mux).
const WARM_UP: usize = 5;
/// scout-mcp logs at this level during the bench (the fixture's env asks for `debug`).
const LOG_LEVEL: &str = "warn";
/// How long one timed request may take before the bench gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

struct Options {
    warm: usize,
    cold: usize,
    bulk: usize,
}

impl Options {
    fn parse() -> Options {
        let mut opts = Options {
            warm: DEFAULT_WARM,
            cold: DEFAULT_COLD,
            bulk: DEFAULT_BULK,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    opts.warm = QUICK_WARM;
                    opts.cold = QUICK_COLD;
                    opts.bulk = QUICK_BULK;
                }
                "--warm" => opts.warm = count(&arg, args.next()),
                "--cold" => opts.cold = count(&arg, args.next()),
                "--bulk" => opts.bulk = count(&arg, args.next()),
                // cargo passes `--bench` (and possibly a filter): not ours, ignored.
                _ => {}
            }
        }
        opts
    }
}

fn count(flag: &str, value: Option<String>) -> usize {
    value
        .as_deref()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| panic!("{flag} needs a positive number of iterations"))
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

struct Stats {
    n: usize,
    median: Duration,
    p95: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut s = samples.to_vec();
        s.sort_unstable();
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2
        };
        // Nearest-rank percentile.
        let rank = (n * 95).div_ceil(100).max(1);
        Stats {
            n,
            median,
            p95: s[rank - 1],
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:8.3} ms", d.as_secs_f64() * 1e3)
}

/// Prints one scenario: both sides, the ratio of the medians (scout / reference), the goal.
fn report(title: &str, scout: (&str, &[Duration]), reference: (&str, &[Duration]), goal: f64) {
    let a = Stats::of(scout.1);
    let b = Stats::of(reference.1);
    let ratio = a.median.as_secs_f64() / b.median.as_secs_f64();
    println!("{title}");
    for (label, s) in [(scout.0, &a), (reference.0, &b)] {
        println!(
            "    {label:<48} n={:<4} median {}  p95 {}",
            s.n,
            ms(s.median),
            ms(s.p95)
        );
    }
    println!(
        "    ratio of medians {ratio:.3}   goal <= {goal:.2}: {}",
        if ratio <= goal { "met" } else { "NOT met" }
    );
    println!();
}

// ---------------------------------------------------------------------------------------------
// OpenSSH reference
// ---------------------------------------------------------------------------------------------

/// The system `ssh` with the fleet's config, never prompting, without the developer's agent.
fn ssh(fleet: &Fleet, options: &[String]) -> Command {
    let mut c = Command::new("ssh");
    c.arg("-F")
        .arg(&fleet.ssh_config)
        .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]);
    for o in options {
        c.arg("-o").arg(o);
    }
    c.env_remove("SSH_AUTH_SOCK").stdin(Stdio::null());
    c
}

/// Runs `ssh … alpha REMOTE…` to completion and returns how long the process took. Panics
/// (with stderr) if it fails or its stdout differs from `expect`.
fn time_ssh(fleet: &Fleet, options: &[String], remote: &[&str], expect: &[u8]) -> Duration {
    time_ssh_on(fleet, options, "alpha", remote, expect)
}

/// [`time_ssh`] on another host.
fn time_ssh_on(
    fleet: &Fleet,
    options: &[String],
    host: &str,
    remote: &[&str],
    expect: &[u8],
) -> Duration {
    let mut cmd = ssh(fleet, options);
    cmd.arg(host).args(remote);
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh (is openssh-client installed?): {e}"));
    let took = started.elapsed();
    assert!(
        out.status.success() && out.stdout == expect,
        "{cmd:?} failed ({}), stdout {} bytes (expected {}), stderr:\n{}",
        out.status,
        out.stdout.len(),
        expect.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Like [`time_ssh`] for output that is not known in advance: only success is checked.
fn time_ssh_ok(fleet: &Fleet, options: &[String], remote: &[&str]) -> Duration {
    let mut cmd = ssh(fleet, options);
    cmd.arg("alpha").args(remote);
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh: {e}"));
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// A running ControlMaster for one host; `ssh -O exit` on drop.
struct Multiplexer<'a> {
    fleet: &'a Fleet,
    host: String,
    options: Vec<String>,
}

impl<'a> Multiplexer<'a> {
    /// A master for `alpha` on `control_path`; `extra` options (e.g. `Ciphers=…`) shape its
    /// connection.
    fn start(fleet: &'a Fleet, control_path: &Path, extra: &[String]) -> Multiplexer<'a> {
        Multiplexer::start_for(fleet, "alpha", control_path, extra)
    }

    fn start_for(
        fleet: &'a Fleet,
        host: &str,
        control_path: &Path,
        extra: &[String],
    ) -> Multiplexer<'a> {
        let mut options = vec![
            "ControlMaster=auto".to_string(),
            format!("ControlPath={}", control_path.display()),
            "ControlPersist=60".to_string(),
        ];
        options.extend_from_slice(extra);
        // -f -N: authenticate, then go to the background as the master; stdio to /dev/null so
        // the persisting master holds none of our pipes.
        let status = ssh(fleet, &options)
            .args(["-f", "-N", host])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run ssh: {e}"));
        assert!(
            status.success(),
            "starting the ssh ControlMaster failed: {status}"
        );
        let mux = Multiplexer {
            fleet,
            host: host.to_string(),
            options,
        };
        let check = mux.control(&["-O", "check"]);
        assert!(
            check.status.success(),
            "ssh ControlMaster is not answering (`ssh -O check`): {}",
            String::from_utf8_lossy(&check.stderr)
        );
        mux
    }

    fn control(&self, args: &[&str]) -> std::process::Output {
        ssh(self.fleet, &self.options)
            .args(args)
            .arg(&self.host)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ssh: {e}"))
    }
}

impl Drop for Multiplexer<'_> {
    fn drop(&mut self) {
        let _ = self.control(&["-O", "exit"]);
    }
}

// ---------------------------------------------------------------------------------------------
// scout-mcp
// ---------------------------------------------------------------------------------------------

/// scout-mcp against `fleet`, initialized, logging at `LOG_LEVEL`.
fn scout(fleet: &Fleet, extra_env: &[(&str, &str)]) -> McpClient {
    let mut env = vec![("SCOUT_LOG_LEVEL", LOG_LEVEL)];
    env.extend_from_slice(extra_env);
    common::scout_client(fleet, &env)
}

/// One timed `tools/call`; panics unless the call succeeded and `check` accepts the result.
fn time_call(client: &mut McpClient, args: &Value, check: impl Fn(&Value) -> bool) -> Duration {
    let params = json!({"name": "scout", "arguments": args});
    let started = Instant::now();
    let resp = client.request_timeout("tools/call", params, REQUEST_TIMEOUT);
    let took = started.elapsed();
    let result = &resp["result"];
    assert!(
        resp.get("error").is_none() && result["isError"] != json!(true) && check(result),
        "scout-mcp call {args} gave an unexpected answer: {resp}\n--- stderr ---\n{}",
        client.stderr_tail()
    );
    took
}

/// One timed `ping`: the stdio + JSON path alone (answered by the main loop, no worker, no SSH).
fn time_ping(client: &mut McpClient) -> Duration {
    let started = Instant::now();
    let resp = client.request_timeout("ping", Value::Null, REQUEST_TIMEOUT);
    let took = started.elapsed();
    assert!(
        resp.get("result").is_some(),
        "scout-mcp ping gave an unexpected answer: {resp}"
    );
    took
}

fn read_ok(content: &str) -> impl Fn(&Value) -> bool + '_ {
    move |result| common::tool_text(result).contains(content)
}

fn query_ok(result: &Value) -> bool {
    result["structuredContent"]["exit_code"] == json!(0)
}

/// Ends a scout-mcp process the way MCP clients do (stdin EOF), so it disconnects cleanly.
fn close(mut client: McpClient) {
    client.close_stdin();
    if client.wait_exit(Duration::from_secs(5)).is_none() {
        client.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------------------------

/// Runs an OpenSSH file tool (`scp`, `sftp`) with the fleet's config and the multiplexer.
fn time_tool(
    fleet: &Fleet,
    tool: &str,
    options: &[String],
    args: &[String],
    stdin: Option<&str>,
) -> Duration {
    let mut c = Command::new(tool);
    c.arg("-F")
        .arg(&fleet.ssh_config)
        .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]);
    for o in options {
        c.arg("-o").arg(o);
    }
    c.args(args).env_remove("SSH_AUTH_SOCK");
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(input.as_bytes()).expect("sftp batch");
    }
    let out = child.wait_with_output().expect("wait");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Lets the machine go quiet before the next timed run (untimed): scout-mcp answers a transfer
/// that replaced a file before the old file is freed (a background close here, a deferred
/// close on the server), and that freeing must not slow whatever runs next. Waits until the
/// server has no `scout-release` thread left (at most 2 s), then a fixed pause that covers the
/// server-side close, then writes dirty pages back; every run, scout's and the reference's, is
/// followed by the same.
fn settle(client: &McpClient) {
    let tasks = format!("/proc/{}/task", client.pid());
    let releasing = || {
        std::fs::read_dir(&tasks)
            .map(|dir| {
                dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .any(|comm| comm.trim() == "scout-release")
            })
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while releasing() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(QUIET);
    // Every run writes 64 MiB; the kernel writes dirty pages back 30 s later, in the middle of
    // some other run. Writing them back now starts each run with a clean page cache.
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// Prints both sides' medians and rates, the ratio of medians, and the paired ratios; `goal`
/// says whether the issue sets "at least as fast" against this reference.
fn report_rate(
    title: &str,
    scout: (&str, &[Duration]),
    reference: (&str, &[Duration]),
    goal: bool,
) {
    let mib = BULK_BYTES as f64 / (1 << 20) as f64;
    println!("{title}");
    for (label, samples) in [scout, reference] {
        let s = Stats::of(samples);
        println!(
            "    {label:<48} n={:<4} median {}  ({:.0} MiB/s)",
            s.n,
            ms(s.median),
            mib / s.median.as_secs_f64()
        );
    }
    let ratio =
        Stats::of(scout.1).median.as_secs_f64() / Stats::of(reference.1).median.as_secs_f64();
    // Run i of each side ran back to back: the ratio within each pair cancels drift over the
    // run (other load, page cache, CPU frequency), which the two medians do not.
    let mut paired: Vec<f64> = scout
        .1
        .iter()
        .zip(reference.1)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    paired.sort_by(f64::total_cmp);
    let wins = paired.iter().filter(|r| **r <= 1.0).count();
    if goal {
        println!(
            "    ratio of medians {ratio:.3}   goal <= 1.00: {}",
            if ratio <= 1.0 { "met" } else { "NOT met" }
        );
    } else {
        println!("    ratio of medians {ratio:.3}   (for comparison, no goal)");
    }
    println!(
        "    paired runs: median ratio {:.3}, scout as fast or faster in {wins} of {}",
        paired[paired.len() / 2],
        paired.len()
    );
    println!();
}

/// 64 MiB download, upload and host-to-host copy: scout-mcp (warm pooled session) vs scp/sftp
/// through the warm ControlMaster, interleaved. OpenSSH negotiates chacha20-poly1305 by default
/// and scout AES-GCM where the CPU has AES instructions, so scp also runs through a second
/// master that uses scout's cipher (`same_cipher`): the default is what users get, the second
/// isolates what is scout's own.
fn bulk(fleet: &Fleet, mux: &[String], same_cipher: (&str, &[String]), n: usize) {
    let data: Vec<u8> = (0..BULK_BYTES)
        .map(|i| ((i * 2_654_435_761usize) >> 13) as u8)
        .collect();
    let remote = fleet
        .write_remote_file("bench/bulk.bin", &data)
        .display()
        .to_string();
    let local_dir = &fleet.beam;
    let local = local_dir.join("bulk.bin");
    std::fs::write(&local, &data).expect("local bulk file");
    let local = local.display().to_string();
    let (down, up, copy) = (
        local_dir.join("down.bin").display().to_string(),
        // The remote root is writable by the login user; directories the bench creates are not.
        fleet.remote_root.join("bulk.up").display().to_string(),
        fleet.remote_root.join("bulk.copy").display().to_string(),
    );
    let mut client = scout(fleet, &[]);
    let ok = |r: &Value| r["structuredContent"]["bytes"] == json!(BULK_BYTES);
    let dl = json!({"target": format!("alpha:{remote}"), "beam": down, "beam_direction": "download", "overwrite": true});
    let ul = json!({"target": format!("alpha:{up}"), "beam": local, "beam_direction": "upload", "overwrite": true});
    let cp = json!({"beam_source": format!("alpha:{remote}"), "beam_target": format!("alpha:{copy}"), "overwrite": true});
    let (mut sd, mut su, mut sc, mut rd, mut rs, mut ru, mut rc) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut rd_same, mut ru_same) = (vec![], vec![]);
    let (cipher, same_mux) = same_cipher;
    time_call(&mut client, &dl, ok); // warm-up
    for _ in 0..n {
        sd.push(time_call(&mut client, &dl, ok));
        settle(&client);
        rd.push(time_tool(
            fleet,
            "scp",
            mux,
            &[format!("alpha:{remote}"), down.clone()],
            None,
        ));
        settle(&client);
        rd_same.push(time_tool(
            fleet,
            "scp",
            same_mux,
            &[format!("alpha:{remote}"), down.clone()],
            None,
        ));
        settle(&client);
        rs.push(time_tool(
            fleet,
            "sftp",
            mux,
            &["-b".into(), "-".into(), "alpha".into()],
            Some(&format!("get {remote} {down}\n")),
        ));
        settle(&client);
        su.push(time_call(&mut client, &ul, ok));
        settle(&client);
        ru.push(time_tool(
            fleet,
            "scp",
            mux,
            &[local.clone(), format!("alpha:{up}")],
            None,
        ));
        settle(&client);
        ru_same.push(time_tool(
            fleet,
            "scp",
            same_mux,
            &[local.clone(), format!("alpha:{up}")],
            None,
        ));
        settle(&client);
        sc.push(time_call(&mut client, &cp, ok));
        settle(&client);
        rc.push(time_tool(
            fleet,
            "scp",
            mux,
            &[
                "-3".into(),
                format!("alpha:{remote}"),
                format!("alpha:{copy}"),
            ],
            None,
        ));
        settle(&client);
    }
    close(client);
    report_rate(
        "4a. 64 MiB download",
        ("scout-mcp beam download", &sd),
        ("scp (ControlMaster) alpha:FILE LOCAL", &rd),
        true,
    );
    report_rate(
        "4b. 64 MiB download",
        ("scout-mcp beam download", &sd),
        ("sftp (ControlMaster) get FILE LOCAL", &rs),
        true,
    );
    report_rate(
        "4c. 64 MiB upload",
        ("scout-mcp beam upload", &su),
        ("scp (ControlMaster) LOCAL alpha:FILE", &ru),
        true,
    );
    report_rate(
        "4d. 64 MiB host-to-host copy",
        ("scout-mcp beam_source -> beam_target", &sc),
        ("scp -3 alpha:FILE alpha:COPY", &rc),
        true,
    );
    let same = format!("scp -o Ciphers={cipher}");
    report_rate(
        &format!("4e. 64 MiB download, both on {cipher}"),
        ("scout-mcp beam download", &sd),
        (&format!("{same} alpha:FILE LOCAL"), &rd_same),
        false,
    );
    report_rate(
        &format!("4f. 64 MiB upload, both on {cipher}"),
        ("scout-mcp beam upload", &su),
        (&format!("{same} LOCAL alpha:FILE"), &ru_same),
        false,
    );
}

// ---------------------------------------------------------------------------------------------
// Machine
// ---------------------------------------------------------------------------------------------

/// The 1-, 5- and 15-minute load averages (other work on the machine skews every figure).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let ssh_version = Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_else(|_| "ssh not found".into());
    format!("{cpus} CPUs, {model}; {ssh_version}")
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

fn main() {
    let opts = Options::parse();
    let bin = common::scout_bin();
    assert!(
        bin.exists(),
        "scout-mcp binary not found at {} (run through `cargo bench`)",
        bin.display()
    );
    println!("scout-mcp stdio benchmark");
    println!("    binary   {}", bin.display());
    println!("    machine  {}", machine());
    println!(
        "    iterations: {} warm, {} cold (untimed warm-up: {WARM_UP}); scout log level {LOG_LEVEL}",
        opts.warm, opts.cold
    );

    let fleet = Fleet::start(&["alpha"]);
    println!(
        "    sshd     127.0.0.1:{} (OpenSSH server from the test fixture), login user {}",
        fleet.port("alpha"),
        fleet.user
    );
    println!("    load average at start: {}", load_average());
    println!();

    // 1 KiB of text, 16 lines of 64 bytes; the marker line proves the content came back.
    let marker = "scout-bench-marker";
    let mut content = String::new();
    for i in 0..16 {
        let line = format!("{marker} line {i:02} ");
        content.push_str(&line);
        content.push_str(&"x".repeat(63 - line.len()));
        content.push('\n');
    }
    assert_eq!(content.len(), 1024);
    let file = fleet.write_remote_file("bench/file-1k.txt", content.as_bytes());
    let dir = file
        .parent()
        .expect("the bench file has a parent directory")
        .to_path_buf();
    let file_str = file.display().to_string();
    let read_args = json!({"target": format!("alpha:{file_str}")});
    let query_args = json!({"target": format!("alpha:{}", dir.display()), "query": "true"});

    let control_path = fleet.dir.join("cm-%C");
    let mux = Multiplexer::start(&fleet, &control_path, &[]);
    let mux_opts = mux.options.clone();

    // 1. Warm 1 KiB read.
    {
        let mut client = scout(&fleet, &[]);
        let check = read_ok(marker);
        for _ in 0..WARM_UP {
            time_call(&mut client, &read_args, &check);
            time_ssh(&fleet, &mux_opts, &["cat", &file_str], content.as_bytes());
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Interleaved, so drift on the machine affects both sides alike.
        for _ in 0..opts.warm {
            a.push(time_call(&mut client, &read_args, &check));
            b.push(time_ssh(
                &fleet,
                &mux_opts,
                &["cat", &file_str],
                content.as_bytes(),
            ));
        }
        let mut p = Vec::new();
        for _ in 0..opts.warm {
            p.push(time_ping(&mut client));
        }
        close(client);
        let floor = Stats::of(&p);
        println!("0. floor: MCP `ping` over stdio (JSON + threads, no SSH)");
        println!(
            "    {:<48} n={:<4} median {}  p95 {}",
            "scout-mcp ping",
            floor.n,
            ms(floor.median),
            ms(floor.p95)
        );
        println!();
        report(
            "1. warm 1 KiB file read",
            ("scout-mcp tools/call {target: alpha:FILE}", &a),
            ("ssh (ControlMaster, warm) alpha cat FILE", &b),
            1.0,
        );
    }

    // 1b. Warm listing of a directory with 100 entries.
    {
        for i in 0..100 {
            fleet.write_remote_file(&format!("bench/dir100/entry-{i:03}.txt"), b"x\n");
        }
        let dir100 = fleet.remote_root.join("bench/dir100").display().to_string();
        let list_args = json!({"target": format!("alpha:{dir100}")});
        let list_ok = |r: &Value| r["structuredContent"]["total"] == json!(100);
        let mut client = scout(&fleet, &[]);
        for _ in 0..WARM_UP {
            time_call(&mut client, &list_args, list_ok);
            time_ssh_ok(&fleet, &mux_opts, &["ls", "-la", &dir100]);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..opts.warm {
            a.push(time_call(&mut client, &list_args, list_ok));
            b.push(time_ssh_ok(&fleet, &mux_opts, &["ls", "-la", &dir100]));
        }
        close(client);
        report(
            "1b. warm listing of 100 entries",
            ("scout-mcp tools/call {target: alpha:DIR}", &a),
            ("ssh (ControlMaster, warm) alpha ls -la DIR", &b),
            1.0,
        );
    }

    // 2. Warm query `true`.
    {
        let mut client = scout(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
        for _ in 0..WARM_UP {
            time_call(&mut client, &query_args, query_ok);
            time_ssh(&fleet, &mux_opts, &["true"], b"");
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..opts.warm {
            a.push(time_call(&mut client, &query_args, query_ok));
            b.push(time_ssh(&fleet, &mux_opts, &["true"], b""));
        }
        close(client);
        report(
            "2. warm query `true`",
            ("scout-mcp tools/call {target: alpha:DIR, query}", &a),
            ("ssh (ControlMaster, warm) alpha true", &b),
            0.5,
        );
    }
    // 4. 64 MiB transfers, against OpenSSH with its default cipher and with scout's.
    let cipher = scout_mcp::__private::ciphers::preference().remove(0);
    let same_cipher = Multiplexer::start(
        &fleet,
        &fleet.dir.join("cm-cipher-%C"),
        &[format!("Ciphers={cipher}")],
    );
    bulk(
        &fleet,
        &mux_opts,
        (&cipher, &same_cipher.options),
        opts.bulk,
    );
    drop(same_cipher);
    drop(mux);

    // 3. Cold first call.
    {
        let fresh = vec![
            "ControlMaster=no".to_string(),
            "ControlPath=none".to_string(),
        ];
        let check = read_ok(marker);
        // One untimed round of each: page cache, sshd's first fork.
        close({
            let mut c = scout(&fleet, &[]);
            time_call(&mut c, &read_args, &check);
            c
        });
        time_ssh(&fleet, &fresh, &["cat", &file_str], content.as_bytes());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..opts.cold {
            let mut client = scout(&fleet, &[]);
            a.push(time_call(&mut client, &read_args, &check));
            close(client);
            b.push(time_ssh(
                &fleet,
                &fresh,
                &["cat", &file_str],
                content.as_bytes(),
            ));
        }
        report(
            "3. cold first call (fresh process; scout: the read only, after initialize)",
            ("scout-mcp first tools/call (connect+auth+read)", &a),
            ("ssh -o ControlPath=none alpha cat FILE", &b),
            0.5,
        );
    }
    // 5. Broadcast to 10 hosts vs 1.
    broadcast(opts.warm);
    // 6. Calls that overlap.
    quick_under_slow(opts.warm.min(50));
    many_on_one_host(if opts.warm >= DEFAULT_WARM { 5 } else { 2 });
    println!("load average at end: {}", load_average());
}

/// `ssh` through the fleet's config with `options`, `host`, `remote`: the child, not waited.
fn spawn_ssh(fleet: &Fleet, options: &[String], host: &str, remote: &str) -> std::process::Child {
    let mut c = ssh(fleet, options);
    c.arg(host)
        .arg(remote)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run ssh: {e}"))
}

/// 6a. A warm read of host b, idle and while 64 slow commands run on a, b and c; OpenSSH's
/// ControlMaster doing the same (`cat` through b's master while 64 `sleep` run through the
/// masters of a, b and c).
fn quick_under_slow(n: usize) {
    let fleet = Fleet::start(&["a", "b", "c"]);
    let file = fleet.write_remote_file("bench/quick.txt", b"quick read\n");
    let path = file.display().to_string();
    let args = json!({"target": format!("b:{path}")});
    let check = read_ok("quick read");
    let masters: Vec<Multiplexer> = ["a", "b", "c"]
        .iter()
        .map(|h| Multiplexer::start_for(&fleet, h, &fleet.dir.join(format!("cm-{h}-%C")), &[]))
        .collect();
    let mux_b = masters[1].options.clone();
    let mut client = scout(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    for h in ["a", "b", "c"] {
        let warm = json!({"target": format!("{h}:/")});
        time_call(&mut client, &warm, |_| true);
    }
    let timed = |client: &mut McpClient| {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..WARM_UP {
            time_call(client, &args, &check);
            time_ssh_on(&fleet, &mux_b, "b", &["cat", &path], b"quick read\n");
        }
        for _ in 0..n {
            a.push(time_call(client, &args, &check));
            b.push(time_ssh_on(
                &fleet,
                &mux_b,
                "b",
                &["cat", &path],
                b"quick read\n",
            ));
        }
        (a, b)
    };
    let (idle_scout, idle_ssh) = timed(&mut client);
    // 64 slow commands through scout, and 64 through the masters.
    let slow: Vec<Value> = (0..64)
        .map(|i| {
            let host = ["a", "b", "c"][i % 3];
            client.send_request(
                "tools/call",
                json!({"name": "scout", "arguments": {"target": format!("{host}:/"), "query": "sleep 3021"}}),
            )
        })
        .collect();
    let mut children: Vec<std::process::Child> = (0..64)
        .map(|i| {
            spawn_ssh(
                &fleet,
                &masters[i % 3].options,
                ["a", "b", "c"][i % 3],
                "sleep 3022",
            )
        })
        .collect();
    let running = |needle: &str| {
        Command::new("pgrep")
            .args(["-fc", needle])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while (running("^sleep 3021") < 64 || running("^sleep 3022") < 30) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (scout_started, ssh_started) = (running("^sleep 3021"), running("^sleep 3022"));
    let (busy_scout, busy_ssh) = timed(&mut client);
    for id in &slow {
        client.notify("notifications/cancelled", json!({"requestId": id}));
    }
    for child in children.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = Command::new("pkill").args(["-f", "sleep 302[12]"]).status();
    close(client);
    drop(masters);
    let median = |v: &[Duration]| Stats::of(v).median;
    println!("6a. warm read of b, idle and under 64 slow commands on a, b, c");
    println!(
        "    scout-mcp: idle {}, busy {} ({} of 64 slow commands running): {:.2}x idle   goal <= 3x (or idle + 2 ms): {}",
        ms(median(&idle_scout)),
        ms(median(&busy_scout)),
        scout_started,
        median(&busy_scout).as_secs_f64() / median(&idle_scout).as_secs_f64(),
        if median(&busy_scout) <= (median(&idle_scout) * 3).max(median(&idle_scout) + Duration::from_millis(2)) {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "    ssh (ControlMaster): idle {}, busy {} ({} of 64 `sleep` sessions running: the masters allow MaxSessions each): {:.2}x idle",
        ms(median(&idle_ssh)),
        ms(median(&busy_ssh)),
        ssh_started,
        median(&busy_ssh).as_secs_f64() / median(&idle_ssh).as_secs_f64()
    );
    println!();
}

/// 6b. 50 `sleep 1` at once on one host of stock sshd settings (`MaxSessions 10`,
/// `MaxStartups 10:30:100`), scout with `SCOUT_MAX_SESSIONS_PER_HOST=6`; OpenSSH's
/// ControlMaster running the same 50 through one master.
fn many_on_one_host(rounds: usize) {
    let fleet = Fleet::start_with_config(&["h"], "MaxSessions 10\nMaxStartups 10:30:100\n");
    let master = Multiplexer::start_for(&fleet, "h", &fleet.dir.join("cm-h-%C"), &[]);
    let mut client = scout(
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_MAX_SESSIONS_PER_HOST", "6"),
        ],
    );
    let mut walls = Vec::new();
    let mut ssh_walls = Vec::new();
    let mut ssh_failed = 0;
    let mut failed = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let ids: Vec<Value> = (0..50)
            .map(|_| {
                client.send_request(
                    "tools/call",
                    json!({"name": "scout", "arguments": {"target": "h:/", "query": "sleep 1"}}),
                )
            })
            .collect();
        for id in &ids {
            let r = client
                .recv_response(id, REQUEST_TIMEOUT)
                .expect("an answer");
            if r["result"]["structuredContent"]["exit_code"] != json!(0) {
                failed += 1;
            }
        }
        walls.push(started.elapsed());
    }
    // Counted before the reference runs: ssh's refused channels make it open connections of its own.
    let connections = fleet.hosts[0].1.log_count("Accepted publickey") - 1; // the master's
    for _ in 0..rounds {
        let started = Instant::now();
        let children: Vec<std::process::Child> = (0..50)
            .map(|_| spawn_ssh(&fleet, &master.options, "h", "sleep 1"))
            .collect();
        for mut child in children {
            if !child.wait().map(|s| s.success()).unwrap_or(false) {
                ssh_failed += 1;
            }
        }
        ssh_walls.push(started.elapsed());
    }
    close(client);
    drop(master);
    println!("6b. 50 concurrent `sleep 1` on one host (MaxSessions 10, MaxStartups 10:30:100), {rounds} rounds");
    println!(
        "    scout-mcp (SCOUT_MAX_SESSIONS_PER_HOST=6): wall median {}, {failed} failed, {connections} connections   goal <= 1.5 s, 0 failed, <= 6: {}",
        ms(Stats::of(&walls).median),
        if Stats::of(&walls).median <= Duration::from_millis(1500) && failed == 0 && connections <= 6 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "    ssh (one ControlMaster): wall median {}, {} of {} failed (channels past MaxSessions are refused; ssh then opens connections of its own)",
        ms(Stats::of(&ssh_walls).median),
        ssh_failed,
        50 * rounds
    );
    println!();
}

/// Wall time of a warm broadcast read to 10 hosts next to the same broadcast to one host.
fn broadcast(n: usize) {
    const HOSTS: usize = 10;
    let aliases: Vec<String> = (0..HOSTS).map(|i| format!("h{i}")).collect();
    let names: Vec<&str> = aliases.iter().map(String::as_str).collect();
    let fleet = Fleet::start(&names);
    let file = fleet.write_remote_file("bench/motd", b"hello from the fleet\n");
    let targets: Vec<String> = aliases
        .iter()
        .map(|a| format!("{a}:{}", file.display()))
        .collect();
    let one = json!({"targets": [targets[0].clone()]});
    let all = json!({"targets": targets});
    let mut client = scout(&fleet, &[]);
    let ok = |k: usize| move |r: &Value| r["structuredContent"]["succeeded"] == json!(k);
    time_call(&mut client, &all, ok(HOSTS)); // connect every host
    for _ in 0..WARM_UP {
        time_call(&mut client, &one, ok(1));
        time_call(&mut client, &all, ok(HOSTS));
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..n {
        a.push(time_call(&mut client, &all, ok(HOSTS)));
        b.push(time_call(&mut client, &one, ok(1)));
    }
    close(client);
    report(
        "5. warm broadcast read, 10 hosts vs 1 host (goal: at most half of 10 reads one after another)",
        ("scout-mcp targets: 10 x host:FILE", &a),
        ("scout-mcp targets: 1 x host:FILE", &b),
        5.0,
    );
}
