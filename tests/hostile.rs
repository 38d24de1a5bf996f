//! Hostile arguments against real sshd (issue 5, docs/BEHAVIOUR.md §3.1, §3.5, §3.8): shell syntax,
//! NUL, newlines, `..`, huge and non-UTF-8 names in every place a path or pattern goes, and every
//! tool parameter with the wrong type. A canary directory on the remote host proves that no
//! attack ran anything: no `PWNED` file appears and the canary file is intact. The command
//! policy's own escapes are tried in `tool_modes.rs`.

use crate::common;

use std::os::unix::ffi::OsStrExt;

use common::{scout_client, Fleet};
use serde_json::{json, Value};

/// Path fragments that would run `touch PWNED` if they ever reached a shell unquoted.
const INJECTIONS: &[&str] = &[
    "$(touch PWNED)",
    "`touch PWNED`",
    "x; touch PWNED",
    "x | touch PWNED",
    "x && touch PWNED",
    "x || touch PWNED",
    "x\ntouch PWNED",
    "x'; touch PWNED; '",
    "x\"; touch PWNED; \"",
    "${IFS}touch${IFS}PWNED",
    "-exec touch PWNED ;",
    "x > PWNED",
];

#[test]
fn injected_paths_and_patterns_run_nothing_in_any_mode() {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let jail = fleet.remote_root.join("jail");
    let canary = fleet.write_remote_file("jail/canary", b"alive\n");
    let jail_s = jail.display().to_string();
    // Real directories with the hostile names, writable by the login user: every mode then
    // reaches the point where the path goes into a remote command or an SFTP call.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&jail, std::fs::Permissions::from_mode(0o777)).unwrap();
    for evil in INJECTIONS {
        let d = jail.join(evil);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("f"), b"inside\n").unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    // The shell policy is the worst case: the query itself may use the shell, the path must
    // still never be interpreted.
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_POLICY", "shell")]);
    let local = fleet.beam.join("local-upload");
    std::fs::write(&local, b"x").unwrap();
    let mut calls = Vec::new();
    for evil in INJECTIONS {
        let path = format!("{jail_s}/{evil}");
        let file = format!("{path}/f");
        let target = format!("alpha:{path}");
        calls.push(json!({"target": target}));
        calls.push(json!({"target": target, "tree": true}));
        calls.push(json!({"target": target, "query": "pwd"}));
        calls.push(json!({"target": format!("alpha:{jail_s}"), "find": evil}));
        calls.push(json!({"target": target, "find": "*"}));
        calls.push(json!({"target": format!("alpha:{file}"), "diff": format!("beta:{file}")}));
        calls.push(json!({"target": format!("alpha:{file}"), "diff_content": "x"}));
        calls.push(json!({"targets": [target.clone()], "query": "pwd"}));
        calls.push(json!({"target": format!("alpha:{path}/up"), "beam": local.display().to_string(), "beam_direction": "upload"}));
        calls.push(json!({"target": format!("alpha:{file}"), "beam": fleet.beam.join(format!("dl-{}", calls.len())).display().to_string(), "beam_direction": "download"}));
        calls.push(json!({"beam_source": format!("alpha:{}", canary.display()), "beam_target": format!("beta:{path}/copy")}));
    }
    let mut succeeded = 0;
    for args in &calls {
        let result = c.call_tool(args.clone());
        if result["isError"] != json!(true) {
            succeeded += 1;
        }
        // Success is fine (an upload may create a file with that literal name); running is not.
        assert!(result["content"].is_array(), "{args}: {result}");
    }
    // Nearly every call did its job on the oddly named directory (none was merely refused).
    assert!(
        succeeded >= calls.len() * 9 / 10,
        "{succeeded} of {} calls succeeded",
        calls.len()
    );
    let pwned: Vec<_> = walk(&fleet.remote_root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "PWNED"))
        .collect();
    assert!(pwned.is_empty(), "an attack created {pwned:?}");
    assert!(!std::path::Path::new("PWNED").exists());
    assert_eq!(std::fs::read(&canary).unwrap(), b"alive\n");
    // Resources take names, not paths: the same strings are refused or not found.
    for evil in INJECTIONS {
        let uri = format!(
            "scout://alpha/{}",
            evil.replace(' ', "%20").replace('\n', "%0A")
        );
        let _ = c.request("resources/read", json!({"uri": uri}));
    }
    assert!(walk(&fleet.remote_root)
        .iter()
        .all(|p| !p.ends_with("PWNED")));
}

#[test]
fn nul_dotdot_huge_and_non_utf8_names_are_handled() {
    let fleet = Fleet::start(&["alpha"]);
    let dir = fleet.remote_root.join("names");
    std::fs::create_dir(&dir).unwrap();
    // A file whose name is not UTF-8 (0xff): listed lossily, never a crash.
    let odd = dir.join(std::ffi::OsStr::from_bytes(b"odd-\xff-name"));
    std::fs::write(&odd, b"odd\n").unwrap();
    let mut c = scout_client(&fleet, &[]);
    let d = dir.display().to_string();

    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{d}")}));
    assert!(!is_error && text.contains("odd-\u{fffd}-name"), "{text}");
    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{d}"), "find": "odd-*"}));
    assert!(!is_error && text.contains("odd-"), "{text}");

    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{d}/a\u{0}b")}));
    assert!(is_error && text.contains("NUL"), "{text}");
    let huge = format!("alpha:/{}", "a/".repeat(50_000));
    let (text, is_error) = c.call_text(json!({"target": huge}));
    assert!(
        is_error && text.len() < 2000,
        "a short error, not the path echoed: {}",
        text.len()
    );
    // `..` is a normal path component (the remote user's permissions apply), not an escape of
    // anything scout enforces: it resolves like `cd` would.
    let (text, is_error) = c.call_text(json!({"target": format!("alpha:{d}/../names")}));
    assert!(!is_error && text.contains("odd-"), "{text}");
    assert!(
        !c.call_text(json!({"target": "alpha:/"})).1,
        "still serving"
    );
}

#[test]
fn every_parameter_with_the_wrong_type_is_a_clear_error() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[]);
    let params: &[(&str, Value)] = &[
        ("target", json!(5)),
        ("query", json!(["ls"])),
        ("tree", json!("yes")),
        ("find", json!(true)),
        ("depth", json!("3")),
        ("depth", json!(-1)),
        ("depth", json!(2.5)),
        ("diff", json!({"a": 1})),
        ("diff_content", json!(null)),
        ("targets", json!("alpha:/")),
        ("targets", json!([1, 2])),
        ("beam", json!(1)),
        ("beam_source", json!(false)),
        ("beam_target", json!([])),
        ("beam_direction", json!("sideways")),
        ("overwrite", json!("true")),
        ("check", json!(3)),
        ("background", json!("yes")),
        ("job", json!(7)),
        ("offset", json!(-1)),
        ("cancel", json!("true")),
        ("fold", json!(0)),
        ("bogus", json!(1)),
    ];
    for (name, value) in params {
        let mut args = json!({"target": "alpha:/"});
        args[*name] = value.clone();
        let result = c.call_tool(args.clone());
        let text = common::tool_text(&result);
        if *name == "diff_content" {
            // null means "not given": a plain listing.
            assert_ne!(result["isError"], json!(true), "{args}: {text}");
            continue;
        }
        assert_eq!(result["isError"], json!(true), "{args}: {text}");
        assert!(
            text.contains(name),
            "{args}: the error names the parameter: {text}"
        );
    }
    // Arguments that are not an object at all.
    for bad in [json!([]), json!("alpha:/"), json!(1)] {
        let resp = c.request("tools/call", json!({"name": "scout", "arguments": bad}));
        let text = common::tool_text(&resp["result"]);
        assert!(
            resp["result"]["isError"] == json!(true) || resp["error"].is_object(),
            "{resp}"
        );
        assert!(
            text.contains("object") || resp["error"].is_object(),
            "{resp}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}
