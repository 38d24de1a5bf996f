//! The agent gets only what the operator granted (docs/SECURITY.md): each attack of the
//! trust-boundary review, tried against the real binary and real sshd with a canary that must
//! survive. Memory bounds are in `memory.rs`.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{scout_bin, scout_client, tool_text, Fleet, McpClient, TempDir};
use serde_json::json;

/// The fleet's environment without its beam directory, with `HOME` at `home`.
fn env_with_home(fleet: &Fleet, home: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = fleet
        .env()
        .into_iter()
        .filter(|(k, _)| k != "SCOUT_BEAM_DIR")
        .collect();
    env.push(("HOME".into(), home.display().to_string()));
    env.push(("XDG_DATA_HOME".into(), String::new()));
    env
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn local_files_are_closed_by_default() {
    let fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    fs::create_dir_all(home.join(".ssh")).unwrap();
    fs::write(home.join(".ssh/id_canary"), "PRIVATE KEY CANARY\n").unwrap();
    fs::write(home.join(".bashrc"), "ORIGINAL RC\n").unwrap();
    fleet.write_remote_file("payload", b"echo pwned\n");
    let mut c = McpClient::spawn(&scout_bin(), &[], &env_with_home(&fleet, home.path()));
    c.initialize();
    let remote = |name: &str| format!("alpha:{}", fleet.remote_root.join(name).display());
    let key = home.join(".ssh/id_canary").display().to_string();
    for (local, name) in [
        (key.as_str(), "stolen-key"),
        ("/proc/self/environ", "stolen-env"),
        ("/etc/passwd", "stolen-passwd"),
        ("../../.ssh/id_canary", "stolen-relative"),
    ] {
        let (text, is_error) =
            c.call_text(json!({"target": remote(name), "beam": local, "beam_direction": "upload"}));
        assert!(is_error, "{local} was uploaded: {text}");
        assert!(
            !fleet.remote_root.join(name).exists(),
            "{local} reached the host"
        );
    }
    let rc = home.join(".bashrc").display().to_string();
    let (text, is_error) = c.call_text(json!({"target": remote("payload"), "beam": rc,
        "beam_direction": "download", "overwrite": true}));
    assert!(is_error && text.contains("beam directory"), "{text}");
    assert_eq!(
        fs::read_to_string(home.join(".bashrc")).unwrap(),
        "ORIGINAL RC\n"
    );
    // A relative path lands in the default beam directory, created private on first use.
    let (text, is_error) = c.call_text(
        json!({"target": remote("payload"), "beam": "got.txt", "beam_direction": "download"}),
    );
    assert!(!is_error, "{text}");
    let beam = home.join(".local/share/scout-mcp/beam");
    assert_eq!(fs::read(beam.join("got.txt")).unwrap(), b"echo pwned\n");
    assert_eq!(mode(&beam), 0o700);
}

/// `scout-mcp hosts` with `SCOUT_BEAM_DIR=value`: (exit code, stderr).
fn start_with_beam_dir(fleet: &Fleet, home: &Path, value: &str) -> (Option<i32>, String) {
    let out = Command::new(scout_bin())
        .arg("hosts")
        .envs(env_with_home(fleet, home))
        .env("SCOUT_BEAM_DIR", value)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_beam_directory_stops_the_program_and_unrestricted_is_announced() {
    let fleet = Fleet::start(&["alpha"]);
    let home = TempDir::new();
    fs::create_dir_all(home.join(".ssh")).unwrap();
    let home_text = home.path().display().to_string();
    let ssh_dir = format!("{home_text}/.ssh");
    for bad in [
        "",
        " ",
        "relative/dir",
        "/no/such/dir",
        "/",
        "/etc",
        "/proc",
        &home_text,
        &ssh_dir,
    ] {
        let (code, stderr) = start_with_beam_dir(&fleet, home.path(), bad);
        assert_eq!(code, Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains("SCOUT_BEAM_DIR"), "{bad:?}: {stderr}");
    }
    let good = TempDir::new();
    let (code, stderr) =
        start_with_beam_dir(&fleet, home.path(), &good.path().display().to_string());
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = start_with_beam_dir(&fleet, home.path(), "unrestricted");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("SCOUT_BEAM_DIR=unrestricted"),
        "no warning: {stderr}"
    );
}

#[test]
fn a_copy_is_never_more_permissive_than_its_source() {
    let fleet = Fleet::start(&["alpha"]);
    let mut c = scout_client(&fleet, &[]);
    // A small file and one big enough for many pipelined requests: both keep the mode.
    for (name, size) in [("secret.small", 100usize), ("secret.big", 5 << 20)] {
        let local = fleet.beam.join(name);
        fs::write(&local, vec![b's'; size]).unwrap();
        fs::set_permissions(&local, fs::Permissions::from_mode(0o600)).unwrap();
        let dest = fleet.remote_root.join(name);
        let (text, is_error) = c.call_text(json!({"target": format!("alpha:{}", dest.display()),
            "beam": local, "beam_direction": "upload"}));
        assert!(!is_error, "{text}");
        assert_eq!(mode(&dest), 0o600, "{name} on the host");
        let back = fleet.beam.join(format!("{name}.back"));
        let (text, is_error) = c.call_text(json!({"target": format!("alpha:{}", dest.display()),
            "beam": back, "beam_direction": "download"}));
        assert!(!is_error, "{text}");
        assert_eq!(mode(&back), 0o600, "{name} downloaded");
    }
}

#[test]
fn local_sources_must_be_regular_files_and_never_block() {
    let fleet = Fleet::start(&["alpha"]);
    let fifo = fleet.beam.join("fifo");
    let c_path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", fleet.beam.join("zero")).unwrap();
    let mut c = scout_client(&fleet, &[]);
    for (local, name) in [
        (fifo.display().to_string(), "from-fifo"),
        ("zero".into(), "from-dev"),
    ] {
        let r = c.call_tool_timeout(
            json!({"target": format!("alpha:{}", fleet.remote_root.join(name).display()),
                   "beam": local, "beam_direction": "upload"}),
            Duration::from_secs(20),
        );
        assert_eq!(r["isError"], true, "{local}: {}", tool_text(&r));
        assert!(!fleet.remote_root.join(name).exists());
    }
}

#[test]
fn a_symlink_planted_at_a_temporary_name_receives_nothing() {
    let fleet = Fleet::start(&["alpha"]);
    fleet.write_remote_file("data", b"downloaded\n");
    let outside = TempDir::new();
    let canary = outside.join("authorized_keys");
    fs::write(&canary, "CANARY\n").unwrap();
    let c = scout_client(&fleet, &[]);
    // The names a predictable scheme would use (`.NAME.scout-PID-N.part`), all planted.
    for n in 0..64 {
        let name = format!(".new.scout-{}-{n}.part", c.pid());
        std::os::unix::fs::symlink(&canary, fleet.beam.join(name)).unwrap();
    }
    let mut c = c;
    let (text, is_error) = c.call_text(json!({
        "target": format!("alpha:{}", fleet.remote_root.join("data").display()),
        "beam": "new", "beam_direction": "download"}));
    assert!(!is_error, "{text}");
    assert_eq!(fs::read_to_string(&canary).unwrap(), "CANARY\n");
    assert_eq!(fs::read(fleet.beam.join("new")).unwrap(), b"downloaded\n");
}

#[test]
fn allowed_commands_cannot_exhaust_the_hosts_memory() {
    let fleet = Fleet::start(&["alpha"]);
    let dir = fleet.remote_root.display().to_string();
    let mut c = scout_client(&fleet, &[("SCOUT_COMMAND_TIMEOUT", "60")]);
    for query in ["sort /dev/zero", "tail -n 1 /dev/zero", "uniq /dev/zero"] {
        let r = c.call_tool_timeout(
            json!({"target": format!("alpha:{dir}"), "query": query}),
            Duration::from_secs(90),
        );
        let text = tool_text(&r);
        let s = &r["structuredContent"];
        assert_eq!(
            s["timed_out"], false,
            "{query} ran until the timeout: {text}"
        );
        assert!(
            s["remote_limit"]
                .as_str()
                .is_some_and(|m| m.contains("SCOUT_REMOTE_MAX_MEMORY")),
            "{query}: {text}"
        );
        assert!(text.contains("[remote limit:"), "{query}: {text}");
    }
    // The limit is the operator's to lift.
    let mut open = scout_client(
        &fleet,
        &[
            ("SCOUT_REMOTE_MAX_MEMORY", "0"),
            ("SCOUT_COMMAND_TIMEOUT", "1"),
        ],
    );
    let r =
        open.call_tool(json!({"target": format!("alpha:{dir}"), "query": "tail -n 1 /dev/zero"}));
    assert_eq!(
        r["structuredContent"]["timed_out"],
        true,
        "{}",
        tool_text(&r)
    );
}

#[test]
fn a_cancelled_binary_diff_stops_hashing_and_frees_its_worker() {
    let fleet = Fleet::start(&["alpha"]);
    // A 64 GiB sparse file and a small binary one: the diff hashes both.
    let big = fleet.remote_root.join("huge.img");
    fs::File::create(&big).unwrap().set_len(64 << 30).unwrap();
    let small = fleet.write_remote_file("small.bin", b"\0\x01\x02");
    let mut c = scout_client(&fleet, &[("SCOUT_WORKERS", "1")]);
    let id = c.send_request(
        "tools/call",
        json!({"name": "scout", "arguments": {
            "target": format!("alpha:{}", big.display()),
            "diff": format!("alpha:{}", small.display())}}),
    );
    std::thread::sleep(Duration::from_millis(500));
    c.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "test"}),
    );
    // The only worker must be free again: this call needs it.
    let r = c.call_tool_timeout(json!({"target": "hosts"}), Duration::from_secs(20));
    assert_eq!(r["isError"], false, "{}", tool_text(&r));
    assert!(
        c.recv_response(&id, Duration::from_millis(200)).is_none(),
        "a cancelled call got an answer"
    );
}
