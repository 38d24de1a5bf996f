//! beam (docs/BEHAVIOUR.md §3.8) against real sshd hosts through the binary: downloads, uploads,
//! the direction rule, no silent overwrite, SCOUT_BEAM_DIR confinement, read-only mode,
//! host-to-host copies, SHA-256 of what was written, and bounded memory.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{pattern, scout_client_in, sha256sum, tool_text, Era, Fleet, TempDir};
use serde_json::{json, Value};

fn target(fleet: &Fleet, alias: &str, rel: &str) -> String {
    format!("{alias}:{}", fleet.remote_root.join(rel).display())
}

fn download_writes_the_file_with_its_hash_and_never_overwrites_silently(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let remote = fleet.write_remote_file("data.bin", &pattern(3 << 20));
    let local = &fleet.beam;
    let dest = local.join("data.bin");
    let mut c = scout_client_in(era, &fleet, &[]);
    let args = json!({"target": target(&fleet, "alpha", "data.bin"), "beam": dest, "beam_direction": "download"});

    let r = c.call_tool(args.clone());
    let text = tool_text(&r);
    assert_eq!(r["isError"], false, "{text}");
    assert_eq!(fs::read(&dest).unwrap(), fs::read(&remote).unwrap());
    let sum = sha256sum(&dest);
    assert!(text.starts_with("Downloaded alpha:"), "{text}");
    assert!(text.contains(&format!("sha256 {sum}")), "{text}");
    assert_eq!(r["structuredContent"]["bytes"], 3 << 20);
    assert_eq!(r["structuredContent"]["sha256"], sum.as_str());

    fs::write(&dest, b"mine").unwrap();
    let (text, is_error) = c.call_text(args.clone());
    assert!(is_error && text.contains("overwrite: true"), "{text}");
    assert_eq!(
        fs::read(&dest).unwrap(),
        b"mine",
        "overwritten without overwrite: true"
    );

    let mut replace = args.clone();
    replace["overwrite"] = json!(true);
    assert!(!c.call_text(replace).1);
    assert_eq!(fs::read(&dest).unwrap(), fs::read(&remote).unwrap());

    // Into an existing directory: the remote file name is kept. No temp files are left.
    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "data.bin"), "beam": local.path(), "beam_direction": "download", "overwrite": true}),
    );
    assert!(!is_error, "{text}");
    let names: Vec<String> = fs::read_dir(local.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["data.bin"], "leftovers: {names:?}");

    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "nope"), "beam": local.join("x"), "beam_direction": "download"}),
    );
    assert!(is_error, "{text}");
    assert!(!local.join("x").exists());
}

fn upload_follows_the_direction_rule_and_refuses_to_replace_remote_files(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let local = &fleet.beam;
    let src = local.join("app.conf");
    fs::write(&src, pattern(100_000)).unwrap();
    let mut c = scout_client_in(era, &fleet, &[]);
    let dest = fleet.remote_root.join("app.conf");

    // No beam_direction: the local file exists, so this is an upload.
    let (text, is_error) =
        c.call_text(json!({"target": target(&fleet, "alpha", "app.conf"), "beam": src}));
    assert!(!is_error, "{text}");
    assert!(text.starts_with("Uploaded"), "{text}");
    assert_eq!(fs::read(&dest).unwrap(), fs::read(&src).unwrap());
    assert!(text.contains(&sha256sum(&dest)), "{text}");

    fs::write(&src, b"second version").unwrap();
    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "app.conf"), "beam": src, "beam_direction": "upload"}),
    );
    assert!(is_error && text.contains("already exists"), "{text}");
    assert_eq!(fs::read(&dest).unwrap(), pattern(100_000));
    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "app.conf"), "beam": src, "beam_direction": "upload", "overwrite": true}),
    );
    assert!(!is_error, "{text}");
    assert_eq!(fs::read(&dest).unwrap(), b"second version");

    // Into a remote directory: the local name is kept.
    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "."), "beam": src, "beam_direction": "upload", "overwrite": true}),
    );
    assert!(!is_error, "{text}");
    let leftovers: Vec<_> = fs::read_dir(&fleet.remote_root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "x"), "beam": src, "beam_direction": "sideways"}),
    );
    assert!(
        is_error && text.contains("\"upload\" or \"download\""),
        "{text}"
    );
}

fn read_only_mode_writes_nothing_anywhere(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("f", b"data");
    let local = &fleet.beam;
    let src = local.join("up");
    fs::write(&src, b"x").unwrap();
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_READ_ONLY", "true")]);
    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "new"), "beam": src, "beam_direction": "upload"}),
    );
    assert!(is_error && text.contains("SCOUT_READ_ONLY"), "{text}");
    assert!(!fleet.remote_root.join("new").exists());
    let (text, is_error) = c.call_text(
        json!({"beam_source": target(&fleet, "alpha", "f"), "beam_target": target(&fleet, "alpha", "g")}),
    );
    assert!(is_error && text.contains("SCOUT_READ_ONLY"), "{text}");
    // A download writes a local file: refused too, whether it creates or replaces one.
    fs::write(local.join("existing"), b"keep").unwrap();
    for (name, overwrite) in [("down", false), ("existing", true)] {
        let (text, is_error) = c.call_text(json!({"target": target(&fleet, "alpha", "f"),
            "beam": local.join(name), "beam_direction": "download", "overwrite": overwrite}));
        assert!(is_error && text.contains("SCOUT_READ_ONLY"), "{text}");
    }
    assert!(!local.join("down").exists());
    assert_eq!(fs::read(local.join("existing")).unwrap(), b"keep");
    // Reading still works.
    let (text, is_error) = c.call_text(json!({"target": target(&fleet, "alpha", "f")}));
    assert!(!is_error && text.contains("data"), "{text}");
}

fn beam_dir_confines_local_paths_against_dotdot_and_symlinks(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("secret", b"remote data");
    let jail = TempDir::new();
    let outside = TempDir::new();
    fs::write(outside.join("private"), b"local secret").unwrap();
    std::os::unix::fs::symlink(outside.path(), jail.join("link")).unwrap();
    let jail_str = jail.path().display().to_string();
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_BEAM_DIR", &jail_str)]);
    let remote = target(&fleet, "alpha", "secret");
    let escape_dl = format!(
        "../{}/stolen",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    for local in [escape_dl.as_str(), "link/stolen", "/tmp/stolen-by-scout"] {
        let (text, is_error) =
            c.call_text(json!({"target": remote, "beam": local, "beam_direction": "download"}));
        assert!(is_error, "{local}: {text}");
        assert!(
            text.contains("outside the beam directory") || text.contains(".."),
            "{local}: {text}"
        );
    }
    assert!(!outside.join("stolen").exists());
    assert!(!Path::new("/tmp/stolen-by-scout").exists());
    // Uploading a file reached through a symlink out of the jail is refused too.
    let (text, is_error) = c.call_text(
        json!({"target": target(&fleet, "alpha", "exfil"), "beam": "link/private", "beam_direction": "upload"}),
    );
    assert!(
        is_error && text.contains("outside the beam directory"),
        "{text}"
    );
    assert!(!fleet.remote_root.join("exfil").exists());
    // Relative paths inside the jail work.
    let (text, is_error) =
        c.call_text(json!({"target": remote, "beam": "inside.txt", "beam_direction": "download"}));
    assert!(!is_error, "{text}");
    assert_eq!(fs::read(jail.join("inside.txt")).unwrap(), b"remote data");
}

fn host_to_host_copies_stream_between_hosts_and_within_one(era: Era) {
    let fleet = Fleet::start(&["alpha", "beta"]);
    let data = pattern(5 << 20);
    let src = fleet.write_remote_file("src.bin", &data);
    let mut c = scout_client_in(era, &fleet, &[("SCOUT_MAX_SESSIONS_PER_HOST", "1")]);
    for (to, name) in [("beta", "copy1.bin"), ("alpha", "copy2.bin")] {
        let r = c.call_tool(
            json!({"beam_source": target(&fleet, "alpha", "src.bin"), "beam_target": target(&fleet, to, name)}),
        );
        let text = tool_text(&r);
        assert_eq!(r["isError"], false, "{text}");
        assert!(
            text.starts_with(&format!("Copied alpha:{}", src.display())),
            "{text}"
        );
        let copy = fleet.remote_root.join(name);
        assert_eq!(fs::read(&copy).unwrap(), data, "{name}");
        assert_eq!(r["structuredContent"]["sha256"], sha256sum(&copy).as_str());
    }
    let (text, is_error) = c.call_text(
        json!({"beam_source": target(&fleet, "alpha", "src.bin"), "beam_target": target(&fleet, "beta", "copy1.bin")}),
    );
    assert!(is_error && text.contains("already exists"), "{text}");
    let (text, is_error) = c.call_text(json!({"beam_source": target(&fleet, "alpha", "src.bin")}));
    assert!(
        is_error && text.contains("both 'beam_source' and 'beam_target'"),
        "{text}"
    );
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn a_200_mib_download_streams_in_bounded_memory(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let big = fleet.remote_root.join("big.img");
    // Sparse: reads as zeros, costs no disk on the remote side.
    fs::File::create(&big).unwrap().set_len(200 << 20).unwrap();
    let local = &fleet.beam;
    let mut c = scout_client_in(era, &fleet, &[]);
    // Warm up: a session and a small transfer, so the baseline includes the steady state.
    fleet.write_remote_file("small", &pattern(2 << 20));
    let small = json!({"target": target(&fleet, "alpha", "small"), "beam": local.join("small"), "beam_direction": "download"});
    assert!(!c.call_text(small).1);
    let before = peak_rss_kib(c.pid());
    let id = c.send_request(
        "tools/call",
        json!({"name": "scout", "_meta": {"progressToken": "dl"},
               "arguments": {"target": target(&fleet, "alpha", "big.img"), "beam": local.join("big.img"), "beam_direction": "download"}}),
    );
    let r = c
        .recv_response(&id, std::time::Duration::from_secs(120))
        .expect("the download ends")["result"]
        .clone();
    assert_eq!(r["isError"], false, "{}", tool_text(&r));
    let progress: Vec<&Value> = c
        .stashed()
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert!(!progress.is_empty(), "no progress for a 200 MiB transfer");
    let done: Vec<u64> = progress
        .iter()
        .filter_map(|m| m["params"]["progress"].as_u64())
        .collect();
    assert!(done.windows(2).all(|w| w[0] < w[1]), "{done:?}");
    assert!(progress.iter().all(|m| m["params"]["total"] == 200 << 20));
    assert!(progress[0]["params"]["message"]
        .as_str()
        .unwrap()
        .ends_with("of 200.0 MiB"));
    assert_eq!(
        fs::metadata(local.join("big.img")).unwrap().len(),
        200 << 20
    );
    let growth = peak_rss_kib(c.pid()).saturating_sub(before);
    eprintln!("peak RSS before {before} KiB, growth {growth} KiB");
    assert!(
        growth < 8 * 1024,
        "peak RSS grew by {growth} KiB during a 200 MiB download"
    );
}

/// A big download cancelled midway (its first progress notification) leaves nothing behind:
/// no destination file, no temporary `.part` file once the writer thread has stopped, no
/// answer to the cancelled request; and the server keeps serving on the same session.
fn a_cancelled_big_download_leaves_no_file_behind(era: Era) {
    let fleet = Fleet::start(&["alpha"]);
    let big = fleet.remote_root.join("big.img");
    fs::File::create(&big).unwrap().set_len(200 << 20).unwrap();
    let local = &fleet.beam;
    let mut c = scout_client_in(era, &fleet, &[]);
    let id = c.send_request(
        "tools/call",
        json!({"name": "scout", "_meta": {"progressToken": "dl"},
               "arguments": {"target": target(&fleet, "alpha", "big.img"), "beam": local.join("big.img"), "beam_direction": "download"}}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let m = c
            .recv(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("a progress notification before the download ends");
        assert_ne!(m.get("id"), Some(&id), "answered before any progress: {m}");
        if m["method"] == "notifications/progress" {
            break;
        }
    }
    c.notify("notifications/cancelled", json!({"requestId": id}));
    let leftovers = || -> Vec<String> {
        fs::read_dir(local.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect()
    };
    let gone = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !leftovers().is_empty() && std::time::Instant::now() < gone {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        leftovers(),
        Vec::<String>::new(),
        "a cancelled download left files"
    );
    assert!(
        c.recv_response(&id, std::time::Duration::from_millis(300))
            .is_none(),
        "a cancelled request was answered"
    );
    fleet.write_remote_file("after.txt", b"still serving\n");
    let (text, is_error) = c.call_text(json!({"target": target(&fleet, "alpha", "after.txt")}));
    assert!(!is_error && text.contains("still serving"), "{text}");
    // The connection serves the next download after the cancelled one.
    let data = pattern(5 << 20);
    fleet.write_remote_file("next.bin", &data);
    let next = local.join("next.bin");
    let (text, is_error) = c.call_text(json!({"target": target(&fleet, "alpha", "next.bin"),
        "beam": next, "beam_direction": "download"}));
    assert!(!is_error, "{text}");
    assert_eq!(fs::read(&next).unwrap(), data);
    c.assert_stdout_all_json();
}

/// How many processes on this machine hold `path` open after it was unlinked or replaced.
fn holders_of_replaced(path: &Path) -> usize {
    let gone = format!("{} (deleted)", path.display());
    let Ok(procs) = fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .filter_map(|p| fs::read_dir(p.ok()?.path().join("fd")).ok())
        .flat_map(|fds| fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok()))
        .filter(|target| target.to_string_lossy() == gone)
        .count()
}

/// An upload that replaces a file, big or small, does it in one atomic rename
/// (`posix-rename@openssh.com`, never remove-then-rename, so the destination never goes
/// missing). The big file being replaced is held open across the rename so the server frees it
/// after the answer, and that handle is closed: no process keeps the old file.
fn replacing_a_remote_file_is_one_atomic_rename_and_frees_the_old_file(era: Era) {
    // internal-sftp's log does not reach sshd's: run the real sftp-server with its log to a
    // file the login user can write.
    let logs = TempDir::new();
    let sftp_log = logs.join("sftp-server.log");
    fs::write(&sftp_log, "").unwrap();
    fs::set_permissions(&sftp_log, fs::Permissions::from_mode(0o666)).unwrap();
    let fleet = Fleet::start_with_config(
        &["alpha"],
        &format!(
            "Subsystem sftp /usr/lib/openssh/sftp-server -e -l VERBOSE 2>>{}\n",
            sftp_log.display()
        ),
    );
    let sftp_log = || fs::read_to_string(&sftp_log).unwrap_or_default();
    let local = &fleet.beam;
    let mut c = scout_client_in(era, &fleet, &[]);
    for (name, old, new) in [
        ("big.bin", vec![1u8; 6 << 20], pattern(5 << 20)),
        ("small.txt", b"old\n".to_vec(), b"new\n".to_vec()),
    ] {
        let dest = fleet.write_remote_file(name, &old);
        let source = local.join(name);
        fs::write(&source, &new).unwrap();
        let (text, is_error) = c.call_text(json!({
            "target": target(&fleet, "alpha", name), "beam": source,
            "beam_direction": "upload", "overwrite": true}));
        assert!(!is_error, "{text}");
        assert_eq!(fs::read(&dest).unwrap(), new, "{name}");
        let log = sftp_log();
        let renamed = format!("new \"{}\"", dest.display());
        assert!(
            log.lines()
                .any(|l| l.contains("posix-rename old") && l.ends_with(&renamed)),
            "{name} was not replaced by one posix-rename:\n{log}"
        );
        assert!(
            !log.contains(&format!("remove name \"{}\"", dest.display())),
            "{name} was removed before the rename:\n{log}"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while holders_of_replaced(&dest) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            holders_of_replaced(&dest),
            0,
            "the old {name} is still held open"
        );
    }
    let log = sftp_log();
    let big = fleet.remote_root.join("big.bin");
    assert!(
        log.contains(&format!("open \"{}\" flags READ", big.display())),
        "the big file being replaced was not held open:\n{log}"
    );
    // A FIFO is replaced without being opened: opening it would stall the server until some
    // writer came along.
    let fifo = fleet.remote_root.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .args(["-m", "666"])
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo {}", fifo.display());
    let source = local.join("pipe");
    fs::write(&source, b"a file now\n").unwrap();
    let (text, is_error) = c.call_text(json!({
        "target": target(&fleet, "alpha", "pipe"), "beam": source,
        "beam_direction": "upload", "overwrite": true}));
    assert!(!is_error, "{text}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_file());
    assert_eq!(fs::read(&fifo).unwrap(), b"a file now\n");
    assert!(
        !sftp_log().contains(&format!("open \"{}\"", fifo.display())),
        "the FIFO was opened:\n{}",
        sftp_log()
    );
    c.assert_stdout_all_json();
}

in_both_eras!(
    download_writes_the_file_with_its_hash_and_never_overwrites_silently,
    upload_follows_the_direction_rule_and_refuses_to_replace_remote_files,
    read_only_mode_writes_nothing_anywhere,
    beam_dir_confines_local_paths_against_dotdot_and_symlinks,
    host_to_host_copies_stream_between_hosts_and_within_one,
    a_200_mib_download_streams_in_bounded_memory,
    a_cancelled_big_download_leaves_no_file_behind,
    replacing_a_remote_file_is_one_atomic_rename_and_frees_the_old_file,
);
