//! MCP resources and completion (docs/BEHAVIOUR.md §4) through the binary against real sshd hosts.
//! The docker / zpool / zfs / journalctl programs on the remote PATH are small stand-ins printing
//! recorded real output (tests/fixtures/services/bin): the SSH path is real, only the remote
//! program is not.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{scout_client_in, Era, Fleet, McpClient, TempDir};
use serde_json::{json, Value};

/// A readable copy of the stand-ins: the sshd login user (`scouttest` when the tests run as
/// root) may not be able to read the checkout (e.g. one under /root).
fn fixtures_copy() -> TempDir {
    let dir = TempDir::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/services");
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(src.join("bin"))
        .arg(src.join("compose"))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(status.success());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn read(c: &mut McpClient, uri: &str) -> Value {
    c.request("resources/read", json!({ "uri": uri }))
}

fn text_of(resp: &Value) -> String {
    resp["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {resp}"))
        .to_string()
}

/// Hosts `svc` (stand-ins first on its PATH) and `odd_one` (not a valid URI scheme).
fn service_fleet() -> (Fleet, TempDir) {
    let fixtures = fixtures_copy();
    let bin = fixtures.join("bin");
    let fleet = Fleet::start_with_config(
        &["svc", "odd_one"],
        &format!("SetEnv PATH={}:/usr/bin:/bin\n", bin.display()),
    );
    (fleet, fixtures)
}

fn lists_resources_and_templates_per_host_skipping_invalid_schemes(era: Era) {
    let (fleet, _fixtures) = service_fleet();
    let mut c = scout_client_in(era, &fleet, &[]);
    let list = c.request("resources/list", json!({}))["result"].clone();
    let uris: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .collect();
    for want in [
        "hosts://list",
        "svc://docker",
        "svc://compose",
        "svc://zfs",
        "svc://zfs/snapshots",
        "svc://syslog",
    ] {
        assert!(uris.contains(&want), "{want} missing: {uris:?}");
    }
    assert!(!uris.iter().any(|u| u.starts_with("odd_one")), "{uris:?}");
    let templates = c.request("resources/templates/list", json!({}))["result"].clone();
    let names: Vec<&str> = templates["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["uriTemplate"].as_str())
        .collect();
    for want in [
        "scout://{host}/{path*}",
        "svc://{path*}",
        "svc://docker/{name}/logs",
        "svc://zfs/{pool}/datasets",
    ] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    assert!(!names.iter().any(|u| u.starts_with("odd_one")), "{names:?}");
    assert!(c.wait_stderr(
        "host 'odd_one' is not a valid URI scheme",
        Duration::from_secs(10)
    ));
}

fn reads_files_directories_and_binaries_through_both_templates(era: Era) {
    let (fleet, _fixtures) = service_fleet();
    let hello = fleet.write_remote_file("dir/hello world.txt", b"hi there\n");
    let png = fleet.write_remote_file("dir/pic.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary");
    let mut c = scout_client_in(era, &fleet, &[]);

    let uri = format!("scout://svc{}", hello.display()).replace(' ', "%20");
    let r = read(&mut c, &uri);
    assert_eq!(text_of(&r), "hi there\n");
    assert_eq!(r["result"]["contents"][0]["mimeType"], "text/plain");
    assert_eq!(r["result"]["contents"][0]["uri"], uri.as_str());

    let r = read(&mut c, &format!("svc:/{}", png.display()));
    let content = &r["result"]["contents"][0];
    assert_eq!(content["mimeType"], "image/png", "{r}");
    assert!(content.get("text").is_none());
    let blob = content["blob"].as_str().unwrap();
    let decoded = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut p| {
            use std::io::Write;
            p.stdin.take().unwrap().write_all(blob.as_bytes())?;
            p.wait_with_output()
        })
        .unwrap();
    assert_eq!(decoded.stdout, std::fs::read(&png).unwrap());

    // odd_one has no odd_one:// scheme but scout:// reaches it.
    let dir = fleet.remote_root.join("dir");
    let listing = text_of(&read(&mut c, &format!("scout://odd_one{}", dir.display())));
    assert!(
        listing.contains("hello world.txt") && listing.contains("pic.png"),
        "{listing}"
    );

    let hosts = text_of(&read(&mut c, "hosts://list"));
    assert!(
        hosts.contains("svc") && hosts.contains("odd_one"),
        "{hosts}"
    );

    for missing in [
        format!("scout://svc{}/nope", dir.display()),
        "scout://ghost/etc/hosts".to_string(),
        "odd_one://etc/hosts".to_string(),
        "ftp://x".to_string(),
    ] {
        let r = read(&mut c, &missing);
        // 2026-07-28 answers a missing resource with -32602 and names it in `data`.
        match era {
            Era::Legacy => assert_eq!(r["error"]["code"], -32002, "{missing}: {r}"),
            Era::Modern => {
                assert_eq!(r["error"]["code"], -32602, "{missing}: {r}");
                assert_eq!(r["error"]["data"]["uri"], missing.as_str(), "{r}");
            }
        }
    }
}

fn service_resources_render_the_tools_output(era: Era) {
    let (fleet, _fixtures) = service_fleet();
    let mut c = scout_client_in(era, &fleet, &[]);
    let docker = text_of(&read(&mut c, "svc://docker"));
    assert!(
        docker.contains("sonarr") && docker.contains("lscr.io/linuxserver/sonarr:4.0.5"),
        "{docker}"
    );
    let logs = text_of(&read(&mut c, "svc://docker/sonarr/logs"));
    assert!(!logs.trim().is_empty(), "{logs}");
    let r = read(&mut c, "svc://docker/nosuch/logs");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("nosuch"),
        "{r}"
    );
    for hostile in [
        "svc://docker/a;b/logs",
        "svc://docker/$(id)/logs",
        "svc://zfs/..%2f/datasets",
    ] {
        let r = read(&mut c, hostile);
        assert!(r.get("error").is_some(), "{hostile}: {r}");
    }
    let zfs = text_of(&read(&mut c, "svc://zfs"));
    assert!(zfs.contains("tank") && zfs.contains("rpool"), "{zfs}");
    let status = text_of(&read(&mut c, "svc://zfs/tank"));
    assert!(status.contains("tank"), "{status}");
    let datasets = text_of(&read(&mut c, "svc://zfs/tank/datasets"));
    assert!(datasets.contains("tank/"), "{datasets}");
    let snaps = text_of(&read(&mut c, "svc://zfs/snapshots"));
    assert!(snaps.contains('@'), "{snaps}");
    let compose = text_of(&read(&mut c, "svc://compose"));
    assert!(compose.contains("media"), "{compose}");
    let files = text_of(&read(&mut c, "svc://compose/media"));
    assert!(
        files.contains("compose.yaml") && files.contains("services"),
        "{files}"
    );
    let syslog = text_of(&read(&mut c, "svc://syslog"));
    assert!(syslog.lines().count() > 3, "{syslog}");
}

fn a_host_without_the_tools_says_so_in_text(era: Era) {
    let fleet = Fleet::start_with_config(&["plain"], "SetEnv PATH=/usr/bin:/bin\n");
    let mut c = scout_client_in(era, &fleet, &[]);
    for uri in ["plain://docker", "plain://zfs"] {
        let r = read(&mut c, uri);
        let text = text_of(&r);
        assert!(text.contains("not installed"), "{uri}: {text}");
    }
}

fn completion_offers_hosts_and_paths(era: Era) {
    let (fleet, _fixtures) = service_fleet();
    fleet.write_remote_file("comp/alpha.txt", b"x");
    fleet.write_remote_file("comp/alps/x", b"x");
    fleet.write_remote_file("comp/beta.txt", b"x");
    let mut c = scout_client_in(era, &fleet, &[]);
    let r = c.request(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "scout://{host}/{path*}"}, "argument": {"name": "host", "value": "s"}}),
    );
    assert_eq!(r["result"]["completion"]["values"], json!(["svc"]), "{r}");
    let prefix = format!("{}/comp/al", fleet.remote_root.display());
    let value = prefix.trim_start_matches('/');
    let r = c.request(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "scout://{host}/{path*}"},
               "argument": {"name": "path", "value": value},
               "context": {"arguments": {"host": "svc"}}}),
    );
    let base = value.trim_end_matches("al");
    assert_eq!(
        r["result"]["completion"]["values"],
        json!([format!("{base}alpha.txt"), format!("{base}alps/")]),
        "{r}"
    );
    let r = c.request(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "svc://{path*}"}, "argument": {"name": "path", "value": value}}),
    );
    assert_eq!(
        r["result"]["completion"]["values"].as_array().map(Vec::len),
        Some(2),
        "{r}"
    );
}

in_both_eras!(
    lists_resources_and_templates_per_host_skipping_invalid_schemes,
    reads_files_directories_and_binaries_through_both_templates,
    service_resources_render_the_tools_output,
    a_host_without_the_tools_says_so_in_text,
    completion_offers_hosts_and_paths,
);
