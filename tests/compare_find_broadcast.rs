//! find, diff / diff_content and broadcast (docs/BEHAVIOUR.md §3.6, §3.7, §3.9) against real sshd
//! hosts, through the binary.

use crate::common;

use std::time::{Duration, Instant};

use common::{scout_client_in, tool_text, Era, Fleet};
use serde_json::{json, Value};

fn target(fleet: &Fleet, alias: &str, rel: &str) -> String {
    format!("{alias}:{}", fleet.remote_root.join(rel).display())
}

fn find_lists_matches_caps_them_and_tells_no_match_from_a_missing_directory(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    for i in 0..120 {
        fleet.write_remote_file(&format!("logs/app{i:03}.log"), b"x");
    }
    fleet.write_remote_file("logs/deep/a/b/c/far.log", b"x");
    fleet.write_remote_file("logs/readme.txt", b"x");
    let mut c = scout_client_in(era, &fleet, &[]);
    let logs = target(&fleet, "alpha", "logs");

    let r = c.call_tool(json!({"target": logs, "find": "app00*.log"}));
    let text = tool_text(&r);
    assert!(text.starts_with("10 matches for 'app00*.log'"), "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with(".log")).count(), 10);
    assert_eq!(r["structuredContent"]["total"], 10);

    let (text, _) = c.call_text(json!({"target": logs, "find": "*.log"}));
    assert!(text.starts_with("121 matches"), "{text}");
    assert!(text.contains("[... 21 more results not shown"), "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with(".log")).count(), 100);

    // depth limits the search: far.log is 5 levels down.
    let (text, _) = c.call_text(json!({"target": logs, "find": "far.log", "depth": 4}));
    assert!(text.starts_with("No match"), "{text}");
    let (text, _) = c.call_text(json!({"target": logs, "find": "far.log", "depth": 5}));
    assert!(text.contains("/deep/a/b/c/far.log"), "{text}");

    let (text, is_error) =
        c.call_text(json!({"target": target(&fleet, "alpha", "nope"), "find": "*"}));
    assert!(
        is_error,
        "a missing directory is an error, not 'no match': {text}"
    );
    assert!(!text.contains("No match"), "{text}");

    let (text, is_error) = c.call_text(json!({"target": logs, "find": "*", "depth": 11}));
    assert!(
        is_error && text.contains("depth must be from 1 to 10"),
        "{text}"
    );
}

fn find_patterns_are_literal_arguments_not_shell(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let canary = fleet.write_remote_file("canary", b"alive");
    fleet.write_remote_file("d/x", b"x");
    let mut c = scout_client_in(era, &fleet, &[]);
    let d = target(&fleet, "alpha", "d");
    for pattern in [
        format!("x' -o -exec rm {} ; -o -name '", canary.display()),
        format!("$(rm {})", canary.display()),
        format!("`rm {}`", canary.display()),
        "x; rm -f canary".to_string(),
    ] {
        let (text, _) = c.call_text(json!({"target": d, "find": pattern}));
        assert!(!text.contains("/d/x\n"), "{pattern}: {text}");
        assert_eq!(std::fs::read(&canary).unwrap(), b"alive", "{pattern} ran");
    }
}

fn diff_shows_unified_diffs_with_host_headers_and_names_identical_files(era: Era) {
    let fleet = Fleet::start(&["alpha", "beta"]);
    fleet.write_remote_file("a.conf", b"one\ntwo\nthree\nfour\n");
    fleet.write_remote_file("b.conf", b"one\nTWO\nthree\nfour\n");
    fleet.write_remote_file("bin1", b"\x00\x01\x02");
    fleet.write_remote_file("bin2", b"\x00\x01\x03\x04");
    let mut c = scout_client_in(era, &fleet, &[]);
    let a = target(&fleet, "alpha", "a.conf");
    let b = target(&fleet, "beta", "b.conf");

    let r = c.call_tool(json!({"target": a, "diff": b}));
    let expected = format!("--- {a}\n+++ {b}\n@@ -1,4 +1,4 @@\n one\n-two\n+TWO\n three\n four\n");
    assert_eq!(tool_text(&r), expected);
    assert_eq!(r["structuredContent"]["identical"], false);

    let same = target(&fleet, "beta", "a.conf");
    let (text, is_error) = c.call_text(json!({"target": a, "diff": same}));
    assert!(!is_error);
    assert_eq!(text, format!("{a} and {same} are identical"));

    let (text, _) = c.call_text(json!({"target": a, "diff_content": "one\ntwo\nthree\nfour\n"}));
    assert_eq!(text, format!("{a} and expected content are identical"));
    let (text, _) = c.call_text(json!({"target": a, "diff_content": "one\n"}));
    assert!(
        text.starts_with(&format!("--- {a}\n+++ expected content\n")),
        "{text}"
    );
    assert!(text.contains("-two\n-three\n-four\n"), "{text}");

    let (text, _) = c.call_text(
        json!({"target": target(&fleet, "alpha", "bin1"), "diff": target(&fleet, "beta", "bin2")}),
    );
    assert!(text.contains("differ (binary"), "{text}");
    assert!(
        text.contains("3 bytes, sha256 ") && text.contains("4 bytes, sha256 "),
        "{text}"
    );

    let (text, is_error) = c.call_text(json!({"target": a, "diff": "nohost:/x"}));
    assert!(is_error && text.contains("unknown host 'nohost'"), "{text}");
}

fn progress_of(msg: &Value) -> Option<u64> {
    (msg["method"] == "notifications/progress")
        .then(|| msg["params"]["progress"].as_u64())
        .flatten()
}

fn broadcast_reads_every_target_in_order_and_marks_failures(era: Era) {
    let fleet = Fleet::start(&["alpha", "beta"]);
    fleet.write_remote_file("motd", b"hello\n");
    let mut c = scout_client_in(era, &fleet, &[]);
    let targets = vec![
        target(&fleet, "beta", "motd"),
        target(&fleet, "alpha", "missing"),
        target(&fleet, "alpha", "motd"),
        "ghost:/etc/motd".to_string(),
    ];
    let r = c.call_tool(json!({"targets": targets, "fold": false}));
    let text = tool_text(&r);
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("═══")).collect();
    assert_eq!(
        headers,
        vec![
            format!("═══ {} ═══", targets[0]),
            format!("═══ {} ═══ [FAILED]", targets[1]),
            format!("═══ {} ═══", targets[2]),
            format!("═══ {} ═══ [FAILED]", targets[3]),
        ],
        "{text}"
    );
    assert!(text.ends_with("─── 2/4 succeeded ───"), "{text}");
    assert!(text.contains("unknown host 'ghost'"), "{text}");
    assert_eq!(r["structuredContent"]["succeeded"], 2);
    assert_eq!(r["isError"], false);

    // Folded (the default): the two reads of the same file are one block naming both hosts,
    // after the two failures.
    let r = c.call_tool(json!({"targets": targets}));
    let text = tool_text(&r);
    let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("═══")).collect();
    let motd = fleet.remote_root.join("motd").display().to_string();
    assert_eq!(
        headers,
        vec![
            format!("═══ {} ═══ [FAILED]", targets[1]),
            format!("═══ {} ═══ [FAILED]", targets[3]),
            format!("═══ alpha,beta:{motd} (2) ═══"),
        ],
        "{text}"
    );
    assert!(
        text.ends_with("─── 2/4 succeeded, 3 distinct outputs ───"),
        "{text}"
    );
    assert_eq!(r["structuredContent"]["distinct"], 3);
}

fn broadcast_queries_show_failed_targets_output_and_exit_code(era: Era) {
    let fleet = Fleet::start(&["alpha", "beta"]);
    fleet.write_remote_file("d/present", b"x");
    let mut c = scout_client_in(era, &fleet, &[]);
    let targets = vec![target(&fleet, "alpha", "d"), target(&fleet, "beta", "d")];
    std::fs::remove_file(fleet.remote_root.join("d/present")).unwrap();
    fleet.write_remote_file("d/other", b"x");
    let (text, _) = c.call_text(json!({"targets": targets, "query": "ls present other"}));
    // Both hosts share the remote root here, so ls fails on both: stdout and stderr shown.
    assert!(text.contains("[FAILED]"), "{text}");
    assert!(text.contains("other\n[stderr]\n"), "{text}");
    assert!(text.contains("[exit code: 2]"), "{text}");
    assert!(text.ends_with("─── 0/2 succeeded ───"), "{text}");

    let (text, is_error) = c.call_text(json!({"targets": targets, "query": "rm -rf /"}));
    assert!(
        is_error && text.contains("not an allowed command"),
        "policy applies to broadcasts: {text}"
    );
}

fn one_hung_host_does_not_delay_the_others(era: Era) {
    let aliases = ["h1", "h2", "h3", "h4", "h5"];
    let fleet = Fleet::start(&aliases);
    fleet.write_remote_file("motd", b"hi\n");
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_CONNECT_TIMEOUT", "60")]);
    let hung = &fleet.hosts[2].1;
    hung.freeze();
    let targets: Vec<String> = aliases.iter().map(|a| target(&fleet, a, "motd")).collect();
    let id = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"targets": targets}, "_meta": {"progressToken": "b1"}}),
    );
    // The four live hosts finish while h3 is still frozen: progress reaches 4 of 5.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen.contains(&4) {
        let msg = c
            .recv(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|| panic!("no progress to 4/5 while h3 hangs; saw {seen:?}"));
        assert!(
            msg.get("id") != Some(&id),
            "finished before h3 thawed: {msg}"
        );
        if let Some(p) = progress_of(&msg) {
            assert_eq!(msg["params"]["progressToken"], "b1");
            assert_eq!(msg["params"]["total"], 5);
            assert!(msg["params"]["message"]
                .as_str()
                .unwrap()
                .contains("/5 hosts done"));
            seen.push(p);
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "not increasing: {seen:?}"
    );
    hung.thaw();
    let r = c
        .recv_response(&id, Duration::from_secs(30))
        .expect("the broadcast ends");
    assert!(
        tool_text(&r["result"]).ends_with("─── 5/5 succeeded ───"),
        "{r}"
    );
}

fn a_command_reports_progress_and_no_progress_without_a_token(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    let query = "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.2; done";
    let id = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": query}, "_meta": {"progressToken": 9}}),
    );
    let r = c
        .recv_response(&id, Duration::from_secs(30))
        .expect("answer");
    assert!(tool_text(&r["result"]).ends_with("line 6\n"), "{r}");
    let progress: Vec<u64> = c.stashed().iter().filter_map(progress_of).collect();
    assert!(
        progress.len() >= 2,
        "expected progress while output arrived: {progress:?}"
    );
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");

    let id = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {"target": "alpha:/", "query": query}}),
    );
    let before = c.stashed().len();
    c.recv_response(&id, Duration::from_secs(30))
        .expect("answer");
    assert_eq!(c.stashed().len(), before, "progress sent without a token");
}

in_both_eras!(
    find_lists_matches_caps_them_and_tells_no_match_from_a_missing_directory,
    find_patterns_are_literal_arguments_not_shell,
    diff_shows_unified_diffs_with_host_headers_and_names_identical_files,
    broadcast_reads_every_target_in_order_and_marks_failures,
    broadcast_queries_show_failed_targets_output_and_exit_code,
    one_hung_host_does_not_delay_the_others,
    a_command_reports_progress_and_no_progress_without_a_token,
);
