//! The `scout` tool's modes against real sshd hosts (docs/BEHAVIOUR.md §3.1–§3.5), through
//! the binary.

use crate::common;

use std::time::Duration;

use common::{scout_client_in, tool_text, Era, Fleet};
use serde_json::json;

fn target(fleet: &Fleet, alias: &str, rel: &str) -> String {
    format!("{alias}:{}", fleet.remote_root.join(rel).display())
}

fn hosts_lists_every_alias_with_reachability(era: Era) {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": "hosts"}));
    assert!(!is_error, "{text}");
    for alias in ["alpha", "beta"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(alias))
            .unwrap_or_else(|| panic!("{alias} missing: {text}"));
        assert!(
            line.contains(&format!("{}@127.0.0.1:{}", fleet.user, fleet.port(alias))),
            "{line}"
        );
        assert!(line.contains("reachable"), "{line}");
    }
}

fn reads_files_whole_and_lists_directories(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("dir/hello.txt", "héllo wörld\n".as_bytes());
    fleet.write_remote_file("dir/sub/deep.txt", b"x");
    let mut c = scout_client_in(era, &fleet, &[]);

    let r = c.call_tool(json!({"target": target(&fleet, "alpha", "dir/hello.txt")}));
    assert_eq!(tool_text(&r), "héllo wörld\n");
    assert_eq!(r["structuredContent"]["size"], 14);

    let (text, is_error) = c.call_text(json!({"target": target(&fleet, "alpha", "dir")}));
    assert!(!is_error, "{text}");
    assert!(text.contains("(2 entries)"), "{text}");
    let hello = text
        .lines()
        .find(|l| l.ends_with(" hello.txt"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        hello.starts_with("-rw-r--r--") && hello.contains(" 14 "),
        "{hello}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" sub")),
        "{text}"
    );
}

fn home_and_relative_paths_resolve_to_the_login_directory(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(era, &fleet, &[]);
    let (home, e1) = c.call_text(json!({"target": "alpha:~", "query": "ls -d ."}));
    let (pwd_list, e2) = c.call_text(json!({"target": "alpha:~"}));
    let (rel, e3) = c.call_text(json!({"target": "alpha:."}));
    assert!(!e1 && !e2 && !e3, "{home} {pwd_list} {rel}");
    assert_eq!(home.trim(), ".");
    // Listing "~" and "." shows the same directory (the login directory).
    let strip = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&pwd_list), strip(&rel));
}

fn large_files_are_cut_on_a_utf8_boundary_with_a_marker(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    // 9 bytes: "aa" + "€" (3 bytes) + "bbbb". A cap of 4 would split the euro sign.
    fleet.write_remote_file("big.txt", "aa€bbbb".as_bytes());
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_MAX_FILE_SIZE", "4")]);
    let r = c.call_tool(json!({"target": target(&fleet, "alpha", "big.txt")}));
    let text = tool_text(&r);
    assert!(
        text.starts_with("aa\n[truncated: showed 2 of 9 bytes"),
        "{text}"
    );
    assert_eq!(r["structuredContent"]["truncated"], true);
}

fn binary_files_are_described_not_dumped_and_the_session_survives(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend(std::iter::repeat_n(0u8, 5000));
    fleet.write_remote_file("prog", &elf);
    fleet.write_remote_file("after.txt", b"still fine\n");
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": target(&fleet, "alpha", "prog")}));
    assert!(!is_error, "{text}");
    assert!(
        text.contains("binary file (ELF executable or library, 5008 bytes)"),
        "{text}"
    );
    assert!(!text.contains('\0'));
    let (text, _) = c.call_text(json!({"target": target(&fleet, "alpha", "after.txt")}));
    assert_eq!(text, "still fine\n");
}

fn fifos_are_refused_not_opened(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let fifo = fleet.remote_root.join("pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{}", fifo.display())}));
    assert!(is_error, "{text}");
    assert!(text.contains("FIFO") && text.contains("refusing"), "{text}");
}

fn missing_paths_and_bad_targets_are_clear_errors(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": "alpha:/no/such/file"}));
    assert!(is_error && text.contains("no such file"), "{text}");
    let (text, is_error) = c.call_text(json!({"target": "gamma:/etc"}));
    assert!(
        is_error && text.contains("unknown host 'gamma'") && text.contains("alpha"),
        "{text}"
    );
    for bad in [
        "alpha:",
        ":/etc",
        "alpha",
        "alpha:/etc/../../x",
        "alpha:/tmp/a\nb",
    ] {
        let (text, is_error) = c.call_text(json!({"target": bad}));
        assert!(is_error && text.contains("invalid"), "{bad:?}: {text}");
    }
}

fn tree_renders_to_the_requested_depth(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("t/a/b/c/deep.txt", b"x");
    fleet.write_remote_file("t/top.txt", b"x");
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, is_error) =
        c.call_text(json!({"target": target(&fleet, "alpha", "t"), "tree": true, "depth": 2}));
    assert!(!is_error, "{text}");
    assert!(
        text.contains("├── a/") && text.contains("│   └── b/") && text.contains("└── top.txt"),
        "{text}"
    );
    assert!(
        !text.contains("deep.txt") && !text.contains("c/"),
        "depth 2 must stop at b/: {text}"
    );
    let (text, is_error) =
        c.call_text(json!({"target": target(&fleet, "alpha", "t"), "tree": true, "depth": 11}));
    assert!(is_error && text.contains("depth"), "{text}");
}

fn query_runs_in_the_target_directory_with_spec_output(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("q/log.txt", b"ok\nerror one\nerror two\n");
    let mut c = scout_client_in(era, &fleet, &[]);
    let dir = target(&fleet, "alpha", "q");
    let r = c.call_tool(json!({"target": dir, "query": "grep -c error log.txt"}));
    assert_eq!(tool_text(&r), "2\n");
    assert_eq!(r["structuredContent"]["exit_code"], 0);
    let (text, is_error) = c.call_text(json!({"target": dir, "query": "cat missing.txt"}));
    assert!(!is_error, "a non-zero exit is information: {text}");
    assert!(
        text.contains("[stderr]\n") && text.contains("[exit code: 1]"),
        "{text}"
    );
    let (text, _) =
        c.call_text(json!({"target": dir, "query": "grep -c nothing-matches-this log.txt"}));
    assert!(
        text.contains("0") && text.contains("[exit code: 1]"),
        "{text}"
    );
    let (text, is_error) =
        c.call_text(json!({"target": target(&fleet, "alpha", "q/log.txt"), "query": "ls"}));
    assert!(is_error && text.contains("not a directory"), "{text}");
}

fn query_with_no_output_says_so(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("empty/.keep", b"");
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, _) =
        c.call_text(json!({"target": target(&fleet, "alpha", "empty/.keep"), "query": "ls"}));
    assert!(text.contains("not a directory"), "{text}");
    let (text, is_error) =
        c.call_text(json!({"target": target(&fleet, "alpha", "empty"), "query": "cat .keep"}));
    assert!(!is_error);
    assert_eq!(text, "(no output)");
}

/// Every command-policy escape of docs/BEHAVIOUR.md §3.5 and more. Each would create `PWNED` or
/// delete `canary` if it ran; after all of them both files tell that nothing did.
fn allowlist_refuses_every_escape_and_nothing_runs(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let canary = fleet.write_remote_file("jail/canary", b"alive\n");
    fleet.write_remote_file("jail/in.txt", b"b\na\na\n");
    let pwned = fleet.remote_root.join("jail/PWNED");
    let mut c = scout_client_in(era, &fleet, &[]);
    let dir = target(&fleet, "alpha", "jail");
    let attacks = [
        "cat canary; touch PWNED",
        "cat canary && touch PWNED",
        "cat canary || touch PWNED",
        "cat canary | tee PWNED",
        "cat canary > PWNED",
        "cat canary\ntouch PWNED",
        "cat $(touch PWNED)",
        "cat `touch PWNED`",
        "cat '$(touch PWNED)'",
        "cat ${IFS}canary",
        "find . -exec touch PWNED ;",
        "find . -execdir touch PWNED ;",
        "find . -ok touch PWNED ;",
        "find . -okdir touch PWNED ;",
        "find . -name canary -delete",
        "find . -fprint PWNED",
        "find . -fprint0 PWNED",
        "find . -fprintf PWNED %p",
        "find . -fls PWNED",
        "find . '-exec' touch PWNED ;",
        "sort -o PWNED in.txt",
        "sort -oPWNED in.txt",
        "sort -uo PWNED in.txt",
        "sort --output=PWNED in.txt",
        "sort --outp=PWNED in.txt",
        "sort --compress-program=touch in.txt",
        "rg --pre=touch x",
        "rg --pre touch x",
        "rg --pre-glob '*' --pre touch x",
        "rg --hostname-bin=touch x",
        "tree -o PWNED",
        "tree -ao PWNED",
        "uniq in.txt PWNED",
        "file -C -m in.txt",
        "sh -c 'touch PWNED'",
        "/usr/bin/touch PWNED",
        "touch PWNED",
        "rm canary",
        "X=1 touch PWNED",
        "cat canary & touch PWNED",
        "cat *",
    ];
    for attack in attacks {
        let (text, is_error) = c.call_text(json!({"target": dir, "query": attack}));
        assert!(is_error, "{attack:?} was not refused: {text}");
        assert!(
            text.contains("refused") || text.contains("not allowed"),
            "{attack:?}: {text}"
        );
    }
    assert!(!pwned.exists(), "an attack created PWNED");
    assert_eq!(
        std::fs::read(&canary).unwrap(),
        b"alive\n",
        "an attack touched the canary"
    );
    // The policy still lets ordinary reads through, arguments taken literally.
    let (text, is_error) = c.call_text(json!({"target": dir, "query": "grep -c 'a|b' in.txt"}));
    assert!(!is_error && text.starts_with('0'), "{text}");
}

fn shell_policy_runs_pipelines_and_off_refuses_everything(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("s/f.txt", b"3\n1\n2\n");
    let dir = target(&fleet, "alpha", "s");
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    let (text, _) =
        c.call_text(json!({"target": dir, "query": "sort f.txt | head -n 1 && echo done"}));
    assert_eq!(text, "1\ndone\n");
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_COMMAND_POLICY", "off")]);
    let (text, is_error) = c.call_text(json!({"target": dir, "query": "ls"}));
    assert!(
        is_error && text.contains("SCOUT_COMMAND_POLICY=off"),
        "{text}"
    );
    let mut c = scout_client_in(
        era,
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_READ_ONLY", "true"),
        ],
    );
    let (text, is_error) = c.call_text(json!({"target": dir, "query": "ls"}));
    assert!(is_error && text.contains("SCOUT_READ_ONLY"), "{text}");
}

fn command_timeout_is_enforced_by_scout_and_the_session_stays_usable(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(
        era,
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_COMMAND_TIMEOUT", "1"),
        ],
    );
    let (text, is_error) =
        c.call_text(json!({"target": "alpha:/", "query": "echo early; sleep 20; echo late"}));
    assert!(!is_error, "{text}");
    assert!(
        text.starts_with("early\n") && text.contains("[timed out after 1 s"),
        "{text}"
    );
    assert!(!text.contains("late"));
    let (text, _) = c.call_text(json!({"target": "alpha:/", "query": "echo next"}));
    assert_eq!(text, "next\n");
}

fn output_is_capped_and_a_stderr_flood_does_not_deadlock(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client_in(
        era,
        &fleet,
        &[
            ("SCOUT_COMMAND_POLICY", "shell"),
            ("SCOUT_MAX_OUTPUT_SIZE", "1000"),
        ],
    );
    let (text, _) =
        c.call_text(json!({"target": "alpha:/", "query": "head -c 300000 /dev/zero | tr '\\0' a"}));
    assert!(
        text.contains("[output truncated: kept 1000 of 300000 bytes of stdout"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    // 4 MiB to stderr before any stdout: reading stdout alone would deadlock on the shared window.
    let r = c.call_tool_timeout(
        json!({"target": "alpha:/", "query": "head -c 4000000 /dev/zero >&2; echo done"}),
        Duration::from_secs(60),
    );
    assert_eq!(
        r["structuredContent"]["stdout"],
        "done\n",
        "{}",
        tool_text(&r).len()
    );
    let (text, _) = c.call_text(json!({"target": "alpha:/", "query": "echo alive"}));
    assert_eq!(text, "alive\n");
}

fn permission_denied_is_reported_as_such(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let secret = fleet.write_remote_file("secret.txt", b"top secret");
    let mut perms = std::fs::metadata(&secret).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o000);
    std::fs::set_permissions(&secret, perms).unwrap();
    let mut c = scout_client_in(era, &fleet, &[]);
    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{}", secret.display())}));
    if fleet.user == "root" {
        return; // root reads anything; nothing to test as root without a separate login user
    }
    assert!(is_error && text.contains("permission denied"), "{text}");
}

in_both_eras!(
    hosts_lists_every_alias_with_reachability,
    reads_files_whole_and_lists_directories,
    home_and_relative_paths_resolve_to_the_login_directory,
    large_files_are_cut_on_a_utf8_boundary_with_a_marker,
    binary_files_are_described_not_dumped_and_the_session_survives,
    fifos_are_refused_not_opened,
    missing_paths_and_bad_targets_are_clear_errors,
    tree_renders_to_the_requested_depth,
    query_runs_in_the_target_directory_with_spec_output,
    query_with_no_output_says_so,
    allowlist_refuses_every_escape_and_nothing_runs,
    shell_policy_runs_pipelines_and_off_refuses_everything,
    command_timeout_is_enforced_by_scout_and_the_session_stays_usable,
    output_is_capped_and_a_stderr_flood_does_not_deadlock,
    permission_denied_is_reported_as_such,
);
