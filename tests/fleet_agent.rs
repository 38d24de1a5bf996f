//! The agent-facing side of a fleet of hundreds (issue 20, items 3–5), through the real binary
//! against real sshd: broadcast answers folded by output with host ranges (500 hosts, answer
//! sizes measured), host patterns and groups within the allow/block lists and the target cap,
//! and background jobs (progress, output from an offset, cancel, caps, shutdown).

use crate::common;

use std::time::{Duration, Instant};

use common::{process_running, scout_bin, scout_client, tool_text, wait_until, Fleet, McpClient};
use serde_json::{json, Value};

/// Adds one `Host` block per name to the fleet's ssh_config, each pointing at one of the
/// fleet's sshd (round robin): many aliases, few servers.
fn names(prefix: &str, range: std::ops::RangeInclusive<usize>, width: usize) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:0width$}")).collect()
}

/// The length of the JSON-RPC line that answered request `id`, as the server wrote it.
fn answer_line_len(c: &McpClient, id: u64) -> usize {
    c.raw_stdout_lines()
        .iter()
        .rev()
        .find(|line| {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|v| v["id"] == json!(id) && v.get("result").is_some())
        })
        .map(String::len)
        .expect("the answer line")
}

/// A tool call; returns (result, length of the whole JSON-RPC answer line).
fn call_measured(c: &mut McpClient, args: Value, timeout: Duration) -> (Value, usize) {
    let id = c.peek_next_id();
    let result = c.call_tool_timeout(args, timeout);
    (result, answer_line_len(c, id))
}

fn headers(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("═══")).collect()
}

#[test]
fn five_hundred_hosts_with_one_answer_fold_into_one_small_block() {
    let fleet = Fleet::start(&["s1", "s2", "s3", "s4"]);
    let hosts = names("h", 1..=500, 3);
    fleet.add_named_aliases(&hosts);
    let dir = fleet.remote_root.display().to_string();
    fleet.write_remote_file("hello.txt", b"hello\n");
    fleet.write_remote_file("one/answer.txt", b"one\n");
    fleet.write_remote_file("two/answer.txt", b"two\n");
    // Generous timeouts: 500 handshakes in a debug build on a busy machine take a while; the
    // connections stay for the later broadcasts.
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_MAX_POOL_SIZE", "1000"),
            ("SCOUT_IDLE_TIMEOUT", "600"),
            ("SCOUT_CONNECT_TIMEOUT", "120"),
            ("SCOUT_COMMAND_TIMEOUT", "120"),
        ],
    );
    let long = Duration::from_secs(600);

    // 500 hosts read the same file over SFTP: one block, text under 2 KB, the answer under
    // 8 KB. (This first broadcast also opens the 500 connections.)
    let (r, line) = call_measured(
        &mut c,
        json!({"targets": [format!("h*:{dir}/hello.txt")]}),
        long,
    );
    let text = tool_text(&r);
    eprintln!(
        "500 identical (read): text {} bytes, JSON-RPC answer {line} bytes",
        text.len()
    );
    assert_eq!(headers(&text).len(), 1, "{text}");
    assert!(text.len() < 2048 && line < 8192, "{} / {line}", text.len());

    // The same with a command on each.
    let (r, line) = call_measured(
        &mut c,
        json!({"targets": [format!("h*:{dir}")], "query": "cat hello.txt"}),
        long,
    );
    let text = tool_text(&r);
    eprintln!(
        "500 identical (query): text {} bytes, JSON-RPC answer {line} bytes",
        text.len()
    );
    assert_eq!(
        headers(&text),
        [format!("═══ h[001-500]:{dir} (500) ═══")],
        "{text}"
    );
    assert!(text.contains("\nhello\n"), "{text}");
    assert!(text.contains("─── 500/500 succeeded ───"), "{text}");
    assert!(text.len() < 2048, "{} bytes of text", text.len());
    assert!(line < 8192, "a {line}-byte answer");
    let s = &r["structuredContent"];
    assert_eq!(
        (s["folded"].clone(), s["distinct"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(s["groups"][0]["count"], 500);
    assert_eq!(s["groups"][0]["targets"][0]["hosts"], "h[001-500]");
    assert_eq!(s["groups"][0]["result"]["stdout"], "hello\n");

    // Two distinct answers: two blocks, the rarer first; each names its hosts.
    let (r, line) = call_measured(
        &mut c,
        json!({"targets": [
            format!("h[001-300]:{dir}/one/answer.txt"),
            format!("h[301-500]:{dir}/two/answer.txt"),
        ]}),
        long,
    );
    let text = tool_text(&r);
    eprintln!(
        "500, two answers: text {} bytes, JSON-RPC answer {line} bytes",
        text.len()
    );
    assert_eq!(
        headers(&text),
        [
            format!("═══ h[301-500]:{dir}/two/answer.txt (200) ═══"),
            format!("═══ h[001-300]:{dir}/one/answer.txt (300) ═══"),
        ],
        "{text}"
    );
    assert!(
        text.contains("─── 500/500 succeeded, 2 distinct outputs ───"),
        "{text}"
    );
    assert!(text.len() < 2048 && line < 8192, "{} / {line}", text.len());

    // Failures first, with the failing hosts named and the common error shown once.
    let (r, _) = call_measured(
        &mut c,
        json!({"targets": [
            format!("h[001-490]:{dir}/hello.txt"),
            format!("h[491-500]:{dir}/missing.txt"),
        ]}),
        long,
    );
    let text = tool_text(&r);
    let h = headers(&text);
    assert_eq!(h.len(), 2, "{text}");
    assert_eq!(
        h[0],
        format!("═══ h[491-500]:{dir}/missing.txt (10) ═══ [FAILED]"),
        "{text}"
    );
    assert_eq!(
        text.matches("missing.txt").count(),
        2,
        "the error once: {text}"
    );
    assert!(
        text.contains("─── 490/500 succeeded, 2 distinct outputs ───"),
        "{text}"
    );

    // The per-host view stays: one block per target, in the order given.
    let (r, line) = call_measured(
        &mut c,
        json!({"targets": [format!("h*:{dir}/hello.txt")], "fold": false}),
        long,
    );
    let text = tool_text(&r);
    eprintln!(
        "500 identical, per-host view: text {} bytes, JSON-RPC answer {line} bytes",
        text.len()
    );
    let h = headers(&text);
    assert_eq!(h.len(), 500);
    assert_eq!(h[0], format!("═══ h001:{dir}/hello.txt ═══"));
    assert_eq!(h[499], format!("═══ h500:{dir}/hello.txt ═══"));
    assert_eq!(
        r["structuredContent"]["results"].as_array().unwrap().len(),
        500
    );
    assert!(
        text.contains("\n─── 500/500 succeeded ───\n(each target kept"),
        "{text}"
    );
}

#[test]
fn patterns_and_groups_expand_within_the_lists_and_the_cap() {
    let fleet = Fleet::start(&["s1", "s2"]);
    let mut all = names("web", 1..=5, 2);
    all.extend(["db1", "db2", "secret1"].map(String::from));
    fleet.add_named_aliases(&all);
    // Many aliases that are never contacted: the cap is checked before anything connects.
    fleet.add_named_aliases(&names("x", 1..=1001, 4));
    let dir = fleet.remote_root.display().to_string();
    fleet.write_remote_file("motd", b"hi\n");
    let motd = format!("{dir}/motd");
    let groups = "web = web*,!web03; db = db[1-2]; all = @web,@db,secret1";
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_BLOCKLIST", "secret*"),
            ("SCOUT_HOST_GROUPS", groups),
        ],
    );
    let per_host = |c: &mut McpClient, target: &str| -> Vec<String> {
        let (text, is_error) =
            c.call_text(json!({"targets": [format!("{target}:{motd}")], "fold": false}));
        assert!(!is_error, "{target}: {text}");
        headers(&text)
            .iter()
            .map(|h| {
                h.trim_start_matches("═══ ")
                    .split(':')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        per_host(&mut c, "web*,!web03"),
        ["web01", "web02", "web04", "web05"]
    );
    assert_eq!(
        per_host(&mut c, "@web"),
        ["web01", "web02", "web04", "web05"]
    );
    assert_eq!(per_host(&mut c, "@db"), ["db1", "db2"]);
    assert_eq!(
        per_host(&mut c, "web0[4-5],db?"),
        ["db1", "db2", "web04", "web05"]
    );
    // The group's blocked member is left out; the folded answer names the rest.
    let (text, _) = c.call_text(json!({"targets": [format!("@all:{motd}")]}));
    assert_eq!(
        headers(&text),
        [format!("═══ db[1-2],web[01-02,04-05]:{motd} (6) ═══")],
        "{text}"
    );

    // What names nothing is an error naming the known hosts (never a hidden one).
    for (target, needle) in [
        ("mail*", "matches no host"),
        ("secret*", "matches no host"),
        ("web[01-06]", "'web06' is not a host"),
        ("@nope", "'@nope' is not a group"),
        ("!web01", "start it with '*'"),
    ] {
        let (text, is_error) = c.call_text(json!({"targets": [format!("{target}:{motd}")]}));
        assert!(is_error && text.contains(needle), "{target}: {text}");
        assert!(
            text.contains("Known hosts: ") || target == "@nope",
            "{text}"
        );
        assert!(
            !text.contains("secret1"),
            "a blocked host is never named: {text}"
        );
    }
    let (text, _) = c.call_text(json!({"targets": [format!("mail*:{motd}")]}));
    assert!(
        text.contains("db[1-2],s[1-2],web[01-05],x[0001-1001]"),
        "{text}"
    );
    // A plain unknown alias still fails its own target only.
    let (text, is_error) =
        c.call_text(json!({"targets": [format!("ghost:{motd}"), format!("db1:{motd}")]}));
    assert!(!is_error && text.contains("1/2 succeeded"), "{text}");

    // Past the broadcast cap: a pattern, two overlapping ranges, a huge range.
    for targets in [
        vec!["x*:/".to_string()],
        vec![
            "x[0001-0600]:/".to_string(),
            "x[0401-1000],web01:/".to_string(),
        ],
        vec!["x[1-100000000]:/".to_string()],
    ] {
        let (text, is_error) = c.call_text(json!({"targets": targets}));
        assert!(
            is_error && text.contains("more than 1000"),
            "{targets:?}: {text}"
        );
    }
    let (text, is_error) =
        c.call_text(json!({"targets": ["x[0001-1000]:/nope"], "query": "rm -rf /"}));
    assert!(
        is_error && text.contains("not an allowed command"),
        "{text}"
    );

    // hosts and check show the groups.
    let r = c.call_tool(json!({"target": "hosts"}));
    let text = tool_text(&r);
    assert!(
        text.contains("@web = web[01-02,04-05] (4 hosts)  [web*,!web03]"),
        "{text}"
    );
    // The hosts://list resource shows the same table and groups.
    let read = c.request("resources/read", json!({"uri": "hosts://list"}));
    let listing = read["result"]["contents"][0]["text"].as_str().unwrap_or("");
    let web_line = "@web = web[01-02,04-05] (4 hosts)  [web*,!web03]";
    assert!(
        listing.contains(web_line) && listing.contains("db1 "),
        "hosts://list lacks the groups: {}",
        &listing[listing.len().saturating_sub(400)..]
    );
    let listed = r["structuredContent"]["groups"].as_array().unwrap().clone();
    let all_group = listed.iter().find(|g| g["name"] == "all").unwrap();
    assert_eq!(
        (all_group["count"].clone(), all_group["hosts"].clone()),
        (json!(6), json!("db[1-2],web[01-02,04-05]"))
    );
    let (text, is_error) = c.call_text(json!({"target": "hosts", "check": ["@db"]}));
    assert!(!is_error, "{text}");
    assert!(
        text.contains("db1: OK") && text.contains("db2: OK"),
        "{text}"
    );
    assert!(
        text.contains("2/2 host(s) OK") && text.contains("@db = db[1-2]"),
        "{text}"
    );
    assert!(
        text.contains("warning: group 'all': 'secret1' is not a host"),
        "{text}"
    );

    // The command line shows them too.
    let mut cmd = std::process::Command::new(scout_bin());
    cmd.arg("hosts").env_remove("SSH_AUTH_SOCK");
    for (k, v) in fleet.env() {
        cmd.env(k, v);
    }
    let out = cmd
        .env("SCOUT_HOST_GROUPS", groups)
        .env("SCOUT_BLOCKLIST", "secret*,x*")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("@db = db[1-2] (2 hosts)"), "{stdout}");
}

#[test]
fn a_bad_group_definition_stops_the_program_naming_the_variable() {
    let fleet = Fleet::start(&["alpha"]);
    for groups in ["web", "a=@b;b=@a", "a=x[3-1]"] {
        let mut cmd = std::process::Command::new(scout_bin());
        cmd.arg("hosts").env_remove("SSH_AUTH_SOCK");
        for (k, v) in fleet.env() {
            cmd.env(k, v);
        }
        let out = cmd.env("SCOUT_HOST_GROUPS", groups).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{groups}: {stderr}");
        assert!(stderr.contains("SCOUT_HOST_GROUPS"), "{groups}: {stderr}");
    }
}

/// Asks for a job until `done(report)` holds; the last report.
fn poll_job(c: &mut McpClient, id: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = c.call_tool(json!({"job": id}));
        assert_eq!(r["isError"], false, "{r}");
        if done(&r["structuredContent"]) {
            return r;
        }
        assert!(Instant::now() < deadline, "job {id} never got there: {r}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_job(c: &mut McpClient, args: Value) -> String {
    let r = c.call_tool(args);
    assert_eq!(r["isError"], false, "{r}");
    let s = &r["structuredContent"];
    assert_eq!(s["state"], "running", "{r}");
    let id = s["id"].as_str().unwrap().to_string();
    assert!(
        tool_text(&r).contains(&format!("{{\"job\": \"{id}\"}}")),
        "{r}"
    );
    id
}

#[test]
fn a_background_query_outlives_the_command_timeout() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_COMMAND_TIMEOUT", "1"),
        ],
    );
    let query = "echo started; sleep 2; echo finished";
    // In the foreground the command timeout stops it.
    let (text, _) = c.call_text(json!({"target": "alpha:/", "query": query}));
    assert!(text.contains("[timed out after 1 s"), "{text}");
    // In the background it runs under SCOUT_JOB_TIMEOUT and the call answers at once.
    let id = start_job(
        &mut c,
        json!({"target": "alpha:/", "query": query, "background": true}),
    );
    assert!(id.starts_with('j'), "{id}");
    // The output so far shows while the command still runs.
    let r = poll_job(&mut c, &id, |s| {
        s["state"] != "running" || s["output"] == "started\n"
    });
    assert_eq!(
        r["structuredContent"]["state"], "running",
        "the output came only at the end: {r}"
    );
    let r = poll_job(&mut c, &id, |s| s["state"] != "running");
    let s = &r["structuredContent"];
    assert_eq!(s["state"], "done", "{r}");
    assert_eq!(s["output"], "started\nfinished\n");
    assert_eq!(
        (s["succeeded"].clone(), s["hosts"]["ok"].clone()),
        (json!(1), json!("alpha"))
    );
    // From an offset: only what comes after it.
    let r = c.call_tool(json!({"job": id, "offset": 8}));
    assert_eq!(r["structuredContent"]["output"], "finished\n");
    assert_eq!(r["structuredContent"]["next_offset"], 17);
    let r = c.call_tool(json!({"job": id, "offset": 17}));
    assert_eq!(r["structuredContent"]["output"], "");
    // A failing command is a finished job whose target failed; an unreachable path fails it.
    let id = start_job(
        &mut c,
        json!({"target": "alpha:/", "query": "exit 3", "background": true}),
    );
    let r = poll_job(&mut c, &id, |s| s["state"] != "running");
    assert_eq!(r["structuredContent"]["hosts"]["failed"], "alpha", "{r}");
    assert!(tool_text(&r).contains("[exit code: 3]"), "{r}");
    let id = start_job(
        &mut c,
        json!({"target": "alpha:/no/such/dir", "query": "true", "background": true}),
    );
    let r = poll_job(&mut c, &id, |s| s["state"] != "running");
    assert_eq!(r["structuredContent"]["state"], "failed", "{r}");
    assert!(tool_text(&r).contains("Error: "), "{r}");

    // What would fail at once fails at once, not in a job.
    for (args, needle) in [
        (
            json!({"target": "ghost:/", "query": "true", "background": true}),
            "unknown host",
        ),
        (
            json!({"target": "alpha:/", "background": true}),
            "'background' applies",
        ),
        (json!({"job": "j1-0000000000000000"}), "no job"),
        (json!({"job": id, "target": "alpha:/"}), "'job' goes alone"),
        (json!({"cancel": true}), "go with 'job'"),
        (
            json!({"target": "alpha:/", "fold": false}),
            "'fold' applies",
        ),
    ] {
        let (text, is_error) = c.call_text(args.clone());
        assert!(is_error && text.contains(needle), "{args}: {text}");
    }
    let (text, is_error) = c.call_text(json!({"target": "jobs"}));
    assert!(!is_error && text.starts_with("3 job(s):"), "{text}");
}

#[test]
fn a_background_broadcast_shows_progress_per_host_and_cancel_kills_what_runs() {
    let fleet = Fleet::start(&["a1", "a2", "a3"]);
    fleet.write_remote_file("fast/run.sh", b"echo fast\n");
    fleet.write_remote_file("slow/run.sh", b"echo slow; sleep 3097\n");
    let root = fleet.remote_root.display().to_string();
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    let id = start_job(
        &mut c,
        json!({"targets": [format!("a[1-2]:{root}/fast"), format!("a3:{root}/slow")],
               "query": "sh run.sh", "background": true}),
    );
    // The fast hosts finish while the slow one runs: their answer is there already.
    let r = poll_job(&mut c, &id, |s| {
        s["done"] == 2 && process_running("sleep 3097")
    });
    let s = &r["structuredContent"];
    assert_eq!(s["state"], "running", "{r}");
    assert_eq!(
        (s["hosts"]["ok"].clone(), s["hosts"]["waiting"].clone()),
        (json!("a[1-2]"), json!("a3"))
    );
    let text = tool_text(&r);
    assert!(
        text.contains("Targets: 2/3 finished: 2 ok a[1-2]; 1 not finished a3"),
        "{text}"
    );
    assert!(
        text.contains(&format!(":{root}/fast ═══\nfast\n")),
        "{text}"
    );
    assert!(text.contains("═══ #1 from a"), "{text}");
    let seen = s["next_offset"].as_u64().unwrap();
    // Listing shows it running.
    let (text, _) = c.call_text(json!({"target": "jobs"}));
    assert!(text.contains(&id) && text.contains("running"), "{text}");
    // Cancel: the remote command is killed, the job says so, what came before stays.
    let r = c.call_tool(json!({"job": id, "cancel": true, "offset": seen}));
    let s = &r["structuredContent"];
    assert_eq!(s["state"], "cancelled", "{r}");
    assert!(
        wait_until(Duration::from_secs(10), || !process_running("sleep 3097")),
        "the cancelled job's remote command lives on"
    );
    let r = c.call_tool(json!({"job": id}));
    assert!(tool_text(&r).contains("fast"), "{r}");

    // Finished: each answer once, then which targets gave which, then the summary.
    let id = start_job(
        &mut c,
        json!({"targets": [format!("a*:{root}/fast"), format!("a2:{root}/nope")],
               "query": "sh run.sh", "background": true}),
    );
    let r = poll_job(&mut c, &id, |s| s["state"] == "done");
    let out = r["structuredContent"]["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out.matches("\nfast\n").count(), 1, "{out}");
    assert!(
        out.contains("═══ which targets gave which output ═══\n"),
        "{out}"
    );
    assert!(out.contains(&format!(" a[1-3]:{root}/fast (3)\n")), "{out}");
    assert!(out.contains(&format!("a2:{root}/nope [FAILED]\n")), "{out}");
    assert!(
        out.ends_with("─── 3/4 succeeded, 2 distinct outputs ───\n"),
        "{out}"
    );
    // Unfolded: a block per target as it finished.
    let id = start_job(
        &mut c,
        json!({"targets": [format!("a*:{root}/fast")], "query": "sh run.sh",
               "background": true, "fold": false}),
    );
    let r = poll_job(&mut c, &id, |s| s["state"] == "done");
    let out = r["structuredContent"]["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(headers(&out).len(), 3, "{out}");
    assert!(out.ends_with("─── 3/3 succeeded ───\n"), "{out}");
}

#[test]
fn jobs_are_capped_and_their_output_too() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_MAX_OUTPUT_SIZE", "4M"),
        ],
    );
    // Output past the per-job cap: counted, not kept; read in slices from offsets.
    let id = start_job(
        &mut c,
        json!({"target": "alpha:/", "query": "head -c 3000000 /dev/zero | tr '\\0' x",
               "background": true}),
    );
    let r = poll_job(&mut c, &id, |s| s["state"] != "running");
    let s = r["structuredContent"].clone();
    assert_eq!(s["state"], "done", "{r}");
    let kept = s["output_bytes"].as_u64().unwrap();
    assert_eq!(kept, 1 << 20, "{s}");
    assert_eq!(kept + s["dropped_bytes"].as_u64().unwrap(), 3_000_000);
    let text = tool_text(&r);
    assert!(
        text.contains("[job output capped at 1.0 MiB"),
        "{}",
        &text[text.len() - 300..]
    );
    assert!(text.contains(&format!(
        "[more output: {{\"job\": \"{id}\", \"offset\": 65536}}]"
    )));
    let mut offset = 0;
    let mut read = 0;
    loop {
        let r = c.call_tool(json!({"job": id, "offset": offset}));
        let s = &r["structuredContent"];
        let n = s["output"].as_str().unwrap().len();
        assert!(n <= 64 << 10);
        if n == 0 {
            break;
        }
        read += n;
        offset = s["next_offset"].as_u64().unwrap();
    }
    assert_eq!(read as u64, kept);

    // More jobs than the cap: 32 run (the finished one makes room), the next is refused.
    let mut ids = Vec::new();
    for i in 0..32 {
        ids.push(start_job(
            &mut c,
            json!({"target": "alpha:/", "query": format!("sleep 3098; echo {i}"), "background": true}),
        ));
    }
    let (text, is_error) =
        c.call_text(json!({"target": "alpha:/", "query": "true", "background": true}));
    assert!(is_error && text.contains("32 jobs are running"), "{text}");
    let (text, _) = c.call_text(json!({"target": "jobs"}));
    assert_eq!(text.matches(" running ").count(), 32, "{text}");
    assert!(!text.contains(&id), "the finished job made room: {text}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 32, "ids are never reused");
    for id in &ids {
        let r = c.call_tool(json!({"job": id, "cancel": true}));
        assert_eq!(r["structuredContent"]["state"], "cancelled", "{r}");
    }
    assert!(
        wait_until(Duration::from_secs(10), || !process_running("sleep 3098")),
        "cancelled jobs left remote commands running"
    );
    let (text, is_error) =
        c.call_text(json!({"target": "alpha:/", "query": "echo room", "background": true}));
    assert!(!is_error, "{text}");
}

#[test]
fn jobs_end_when_the_server_exits() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    start_job(
        &mut c,
        json!({"targets": ["alpha:/", "alpha:/tmp"], "query": "sleep 3099", "background": true}),
    );
    assert!(
        wait_until(Duration::from_secs(10), || process_running("sleep 3099")),
        "the job's command never started"
    );
    c.close_stdin();
    let status = c.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}\n{}", c.stderr_tail());
    c.assert_stdout_all_json();
    assert!(
        wait_until(Duration::from_secs(5), || !process_running("sleep 3099")),
        "a job's remote command outlived the server"
    );
}
