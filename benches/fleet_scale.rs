//! A fleet of hundreds: broadcasts to 50, 200 and 500 hosts, cold and warm, next to the tools a
//! sysadmin reaches for — pdsh and ClusterShell's `clush`, cold and with OpenSSH's ControlMaster
//! as their warm mode — all running `cat hello.txt` on every host, measured in the same run.
//! Then the fan-out width (`sleep 1; cat hello.txt` on 200 warm hosts), and what an idle
//! connection costs here and on the host.
//!
//! Hosts are aliases spread over 16 local sshd servers (one alias = its own connections, as far
//! as any client can tell). scout-mcp runs with default settings, except `SCOUT_COMMAND_POLICY=
//! shell` for the `sleep` scenario. pdsh and clush are installed (apt) when missing and the bench
//! runs as root; otherwise their rows say so.
//!
//! `cargo bench --bench fleet_scale` (50, 200, 500 hosts), `-- --quick` (50, 200).

use scout_testkit as common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::load::rss_and_threads;
use common::{scout_client, Fleet, McpClient};
use serde_json::{json, Value};

const SERVERS: usize = 16;

fn ms(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs pdsh and clustershell when missing and we are root (Debian).
fn ensure_references() {
    if have("pdsh") && have("clush") {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root {
        println!("(pdsh/clush missing and not root: their rows are skipped)");
        return;
    }
    println!("(installing pdsh and clustershell)");
    let _ = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             pdsh clustershell >/dev/null",
        ])
        .status();
}

fn logins(fleet: &Fleet) -> usize {
    fleet
        .hosts
        .iter()
        .map(|(_, s)| s.log_count("Accepted publickey"))
        .sum()
}

/// `n[000-049]`-style host list for pdsh and clush.
fn range(n: usize) -> String {
    format!("n[000-{:03}]", n - 1)
}

/// OpenSSH options both references get: the fleet's config, no prompts, plus `extra`.
fn ssh_options(fleet: &Fleet, extra: &str) -> String {
    format!("-F {} -o BatchMode=yes {extra}", fleet.ssh_config.display())
}

/// Runs a reference tool; its wall time and how many hosts printed `hello`.
fn run_reference(program: &str, args: &[String], env: &[(&str, String)]) -> (Duration, usize) {
    let started = Instant::now();
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output();
    let took = started.elapsed();
    let ok = match out {
        Ok(o) => {
            let ok = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.ends_with("hello"))
                .count();
            if ok == 0 && !args.iter().any(|a| a == "true") {
                let stderr = String::from_utf8_lossy(&o.stderr);
                println!(
                    "    ({program} failed: {})",
                    stderr.lines().next().unwrap_or("")
                );
            }
            ok
        }
        Err(e) => {
            println!("    ({program} did not start: {e})");
            0
        }
    };
    (took, ok)
}

fn pdsh(fleet: &Fleet, n: usize, fanout: usize, extra: &str, cmd: &str) -> (Duration, usize) {
    run_reference(
        "pdsh",
        &[
            "-f".into(),
            fanout.to_string(),
            "-w".into(),
            range(n),
            cmd.into(),
        ],
        &[
            ("PDSH_RCMD_TYPE", "ssh".into()),
            ("PDSH_SSH_ARGS", format!("{} %h", ssh_options(fleet, extra))),
        ],
    )
}

/// clush without `-b`, so that each host's line can be counted like pdsh's.
fn clush(fleet: &Fleet, n: usize, fanout: usize, extra: &str, cmd: &str) -> (Duration, usize) {
    run_reference(
        "clush",
        &[
            "-f".into(),
            fanout.to_string(),
            "-o".into(),
            // clush reads its options through Python's ConfigParser: `%` is doubled.
            ssh_options(fleet, extra).replace('%', "%%"),
            "-w".into(),
            range(n),
            cmd.into(),
        ],
        &[],
    )
}

fn control_master(fleet: &Fleet) -> String {
    format!(
        "-o ControlMaster=auto -o ControlPath={}/cm-%C -o ControlPersist=600",
        fleet.dir.path().display()
    )
}

fn stop_masters(fleet: &Fleet) {
    let _ = Command::new("pkill")
        .args(["-f", &format!("{}/cm-", fleet.dir.path().display())])
        .status();
    std::thread::sleep(Duration::from_millis(300));
}

fn scout_broadcast(
    c: &mut McpClient,
    targets: &[String],
    query: Option<&str>,
) -> (Duration, Value) {
    let mut args = json!({ "targets": targets });
    if let Some(q) = query {
        args["query"] = json!(q);
    }
    let started = Instant::now();
    let result = c.call_tool_timeout(args, Duration::from_secs(600));
    (started.elapsed(), result)
}

fn succeeded(result: &Value) -> String {
    let s = &result["structuredContent"];
    format!("{}/{}", s["succeeded"], s["total"])
}

fn row(label: &str, took: Duration, ok: String, note: &str) {
    println!("    {label:<46} {:>8}  {ok:>9} ok  {note}", ms(took));
}

/// sshd processes serving `fleet`'s connections (children and grandchildren of its sshds), and
/// their total proportional set size in KiB.
fn host_side(fleet: &Fleet) -> (usize, u64) {
    let parents: Vec<u32> = fleet.hosts.iter().filter_map(|(_, s)| s.pid()).collect();
    let mut procs: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        procs.push((pid, ppid));
    }
    let mut ours: Vec<u32> = Vec::new();
    let mut frontier = parents.clone();
    while !frontier.is_empty() {
        let next: Vec<u32> = procs
            .iter()
            .filter(|(_, pp)| frontier.contains(pp))
            .map(|(p, _)| *p)
            .collect();
        ours.extend(&next);
        frontier = next;
    }
    let pss = ours
        .iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    (ours.len(), pss)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn scale(fleet: &Fleet, dir: &str, n: usize, pdsh_ok: bool, clush_ok: bool) {
    println!("{n} hosts: `cat hello.txt` on every host");
    let aliases: Vec<String> = (0..n).map(|i| format!("n{i:03}")).collect();
    let targets: Vec<String> = aliases.iter().map(|a| format!("{a}:{dir}")).collect();
    let files: Vec<String> = aliases
        .iter()
        .map(|a| format!("{a}:{dir}/hello.txt"))
        .collect();

    let before = logins(fleet);
    let mut c = scout_client(fleet, &[("SCOUT_LOG_LEVEL", "warn")]);
    let (cold, r) = scout_broadcast(&mut c, &targets, Some("cat hello.txt"));
    let opened = logins(fleet) - before;
    row(
        "scout-mcp, cold",
        cold,
        succeeded(&r),
        &format!("{opened} connections opened"),
    );
    let before = logins(fleet);
    let (warm, r) = scout_broadcast(&mut c, &targets, Some("cat hello.txt"));
    let reopened = logins(fleet) - before;
    let answer = serde_json::to_string(&r).map(|s| s.len()).unwrap_or(0);
    let text = r["content"][0]["text"].as_str().map_or(0, str::len);
    row(
        "scout-mcp, warm (second broadcast)",
        warm,
        succeeded(&r),
        &format!("{reopened} new connections; answer {text} B of text, {answer} B in all"),
    );
    let (read, r) = scout_broadcast(&mut c, &files, None);
    row(
        "scout-mcp, warm SFTP read of the file",
        read,
        succeeded(&r),
        "",
    );

    let (rss_kib, threads) = rss_and_threads(c.pid());
    let (procs, pss) = host_side(fleet);
    println!(
        "    idle after: scout-mcp RSS {rss_kib} KiB, {threads} threads, {} descriptors; \
         the hosts: {procs} sshd processes, {} KiB PSS",
        fds(c.pid()),
        pss
    );
    c.close_stdin();
    c.wait_exit(Duration::from_secs(30));

    // The references start in the login directory: they get the file's full path.
    let cat = format!("cat {dir}/hello.txt");
    let cat = cat.as_str();
    let mut warm_reference = None;
    if pdsh_ok {
        let (t, ok) = pdsh(fleet, n, 32, "", cat);
        row(
            "pdsh -f 32, cold (OpenSSH default KEX)",
            t,
            format!("{ok}/{n}"),
            "",
        );
        let (t, ok) = pdsh(fleet, n, 32, "-o KexAlgorithms=curve25519-sha256", cat);
        row(
            "pdsh -f 32, cold, curve25519 KEX",
            t,
            format!("{ok}/{n}"),
            "",
        );
        let cm = control_master(fleet);
        let _ = pdsh(fleet, n, 32, &cm, "true");
        let (t, ok) = pdsh(fleet, n, 32, &cm, cat);
        row(
            "pdsh -f 32 + ControlMaster, warm",
            t,
            format!("{ok}/{n}"),
            "",
        );
        warm_reference = Some(t);
        stop_masters(fleet);
    }
    if clush_ok {
        let (t, ok) = clush(fleet, n, 32, "", cat);
        row("clush -f 32, cold", t, format!("{ok}/{n}"), "");
        let cm = control_master(fleet);
        let _ = clush(fleet, n, 32, &cm, "true");
        let (t, ok) = clush(fleet, n, 32, &cm, cat);
        row(
            "clush -f 32 + ControlMaster, warm",
            t,
            format!("{ok}/{n}"),
            "",
        );
        stop_masters(fleet);
    }
    if let Some(reference) = warm_reference {
        let ratio = warm.as_secs_f64() / reference.as_secs_f64();
        println!(
            "    goal: warm broadcast opens no connection and takes <= 1/3 of pdsh + ControlMaster: \
             {reopened} opened, {ratio:.2} of it: {}",
            if reopened == 0 && ratio <= 1.0 / 3.0 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    println!();
}

fn width(fleet: &Fleet, dir: &str, pdsh_ok: bool) {
    let n = 200;
    println!("{n} warm hosts: `sleep 1; cat hello.txt` (fan-out width)");
    let targets: Vec<String> = (0..n).map(|i| format!("n{i:03}:{dir}")).collect();
    let mut c = scout_client(
        fleet,
        &[
            ("SCOUT_LOG_LEVEL", "warn"),
            ("SCOUT_COMMAND_POLICY", "shell"),
        ],
    );
    let _ = scout_broadcast(&mut c, &targets, Some("true"));
    let (t, r) = scout_broadcast(&mut c, &targets, Some("sleep 1; cat hello.txt"));
    row("scout-mcp, default settings", t, succeeded(&r), "");
    println!(
        "    goal: <= 2.5 s: {}",
        if t <= Duration::from_millis(2500) {
            "met"
        } else {
            "NOT met"
        }
    );
    c.close_stdin();
    c.wait_exit(Duration::from_secs(30));
    if pdsh_ok {
        let cm = control_master(fleet);
        let _ = pdsh(fleet, n, 64, &cm, "true");
        for fanout in [32, 64] {
            let (t, ok) = pdsh(
                fleet,
                n,
                fanout,
                &cm,
                &format!("sleep 1; cat {dir}/hello.txt"),
            );
            row(
                &format!("pdsh -f {fanout} + ControlMaster, warm"),
                t,
                format!("{ok}/{n}"),
                "",
            );
        }
        stop_masters(fleet);
    }
    println!();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    ensure_references();
    let (pdsh_ok, clush_ok) = (have("pdsh"), have("clush"));
    let names: Vec<String> = (0..SERVERS).map(|i| format!("s{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let fleet = Fleet::start(&refs);
    fleet.write_remote_file("hello.txt", b"hello\n");
    let dir = fleet.remote_root.display().to_string();
    let max = if quick { 200 } else { 500 };
    fleet.add_aliases("n", max);
    let ssh_version = Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_default();
    let kex = Command::new("ssh")
        .args(["-G", "-F", &fleet.ssh_config.display().to_string(), "n000"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.starts_with("kexalgorithms "))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|l| l.split(',').next())
                .unwrap_or("?")
                .to_string()
        })
        .unwrap_or_default();
    println!(
        "scout-mcp fleet scale{}: {SERVERS} sshd, aliases spread over them; {ssh_version} \
         (first KEX {kex}); scout-mcp: libssh2's curve25519-sha256, pool defaults \
         (SCOUT_MAX_POOL_SIZE 2048 within the open-file limit, SCOUT_IDLE_TIMEOUT 300 s); \
         pdsh and clush fan-out 32",
        if quick { " (quick)" } else { "" }
    );
    println!();
    let sizes: &[usize] = if quick { &[50, 200] } else { &[50, 200, 500] };
    for &n in sizes {
        scale(&fleet, &dir, n, pdsh_ok, clush_ok);
    }
    width(&fleet, &dir, pdsh_ok);
}
