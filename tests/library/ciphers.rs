//! The cipher table scout gives libssh2 (src/ssh/ciphers.rs), against a real sshd: every cipher
//! in it that sshd offers is negotiated and carries data both ways, the binary prefers AES-GCM
//! where the CPU has AES instructions, and encrypted key files in OpenSSH's format (which
//! libssh2 opens with the same table) still open. The start-up check reports the table in
//! effect in a build that has it (`cfg(scout_cipher_table)`, set by build.rs), in the log and
//! in `scout-mcp check`.

use crate::common;

use std::collections::HashMap;
use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use common::{authorize, keygen, scout_bin, scout_client, Fleet, TempDir};
use scout_mcp::__private::ciphers;
use scout_mcp::TransferOptions;
use serde_json::json;

/// The ciphers the installed OpenSSH knows (`ssh -Q cipher`; sshd is the same build).
fn openssh_ciphers() -> Vec<String> {
    let out = Command::new("ssh").args(["-Q", "cipher"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn library_scout(fleet: &Fleet) -> scout_mcp::Scout {
    let env: HashMap<String, String> = fleet.env().into_iter().collect();
    let settings = scout_mcp::Settings::from_lookup(|k| env.get(k).cloned(), &HashMap::new())
        .expect("the fleet's environment is valid");
    scout_mcp::Scout::new(settings).expect("ssh_config")
}

/// Uploads `data` to alpha, downloads it again and reads it: both directions, many packets.
fn round_trip(fleet: &Fleet, data: &[u8]) {
    let scout = library_scout(fleet);
    let local = &fleet.beam;
    let (src, back) = (local.join("src.bin"), local.join("back.bin"));
    fs::write(&src, data).unwrap();
    let remote = fleet.remote_root.join("cipher.bin");
    let control = scout_mcp::Control::new();
    let up = scout
        .upload(
            &src.display().to_string(),
            &crate::at("alpha", remote.display()),
            &TransferOptions::new().overwrite(true),
            &control,
        )
        .expect("upload");
    assert_eq!(up.bytes, data.len() as u64);
    assert_eq!(fs::read(&remote).unwrap(), data);
    scout
        .download(
            &crate::at("alpha", remote.display()),
            &back.display().to_string(),
            &TransferOptions::new(),
            &control,
        )
        .expect("download");
    assert_eq!(fs::read(&back).unwrap(), data);
    let small = fleet.write_remote_file("small.txt", b"through the cipher\n");
    let read = scout
        .read(&crate::at("alpha", small.display()), &control)
        .expect("read");
    assert_eq!(read.bytes, b"through the cipher\n");
}

/// sshd's own record (LogLevel DEBUG1) of the cipher agreed for one direction.
fn negotiated(fleet: &mut Fleet, direction: &str) -> Option<String> {
    let needle = format!("kex: {direction} cipher: ");
    let log = fleet.sshd("alpha").log_text();
    let line = log.lines().rev().find(|l| l.contains(&needle))?;
    let rest = &line[line.find(&needle)? + needle.len()..];
    rest.split_whitespace().next().map(str::to_string)
}

#[test]
fn every_cipher_in_the_table_that_sshd_offers_carries_data_both_ways_across_rekeys() {
    let _turn = crate::serial();
    let offered = openssh_ciphers();
    let data: Vec<u8> = (0..(300 * 1024 + 7))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let mut tested = Vec::new();
    for name in ciphers::preference() {
        if !offered.contains(&name) {
            continue;
        }
        // RekeyLimit: the transfers also cross several key re-exchanges (new cipher contexts).
        let config = format!("Ciphers {name}\nLogLevel DEBUG1\nRekeyLimit 128K\n");
        let mut fleet = Fleet::start_with_config(&["alpha"], &config);
        let sealed = ciphers::gcm_packets();
        round_trip(&fleet, &data);
        for direction in ["client->server", "server->client"] {
            assert_eq!(
                negotiated(&mut fleet, direction).as_deref(),
                Some(name.as_str()),
                "{direction}"
            );
        }
        let kexes = fleet
            .sshd("alpha")
            .log_count("kex: client->server cipher: ");
        assert!(kexes >= 3, "{name}: {kexes} key exchanges, expected rekeys");
        if name.contains("gcm") && cfg!(scout_cipher_table) {
            assert!(
                ciphers::gcm_packets() > sealed + 20,
                "{name} did not run through scout's whole-packet GCM"
            );
        }
        tested.push(name);
    }
    // The ciphers every OpenSSH since 6.5 offers were all among them.
    for name in [
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com",
        "aes128-ctr",
        "aes192-ctr",
        "aes256-ctr",
    ] {
        assert!(
            tested.iter().any(|t| t == name),
            "{name} untested: {tested:?}"
        );
    }
}

#[test]
fn the_binary_negotiates_the_first_cipher_of_the_table() {
    let _turn = crate::serial();
    let mut fleet = Fleet::start_with_config(&["alpha"], "LogLevel DEBUG1\n");
    let file = fleet.write_remote_file("hello.txt", b"hello\n");
    let mut client = scout_client(&fleet, &[]);
    let (text, is_error) = client.call_text(json!({"target": format!("alpha:{}", file.display())}));
    assert!(!is_error, "{text}");
    let first = ciphers::preference().remove(0);
    assert_eq!(
        negotiated(&mut fleet, "client->server").as_deref(),
        Some(first.as_str())
    );
    // libssh2's own order (a build without the table) puts chacha20-poly1305 first.
    if cfg!(scout_cipher_table) && ciphers::hardware_aes() {
        assert_eq!(first, "aes128-gcm@openssh.com");
    }
}

#[test]
fn the_start_up_check_reports_the_table_in_effect_in_the_log_and_in_check() {
    let _turn = crate::serial();
    // A build with the table must have it in effect; one without (build.rs fell back, with
    // a warning) says it uses libssh2's own ciphers. Neither is an error.
    let in_effect = cfg!(scout_cipher_table);
    assert_eq!(
        ciphers::table_in_effect(),
        in_effect,
        "{:?}",
        ciphers::status()
    );
    let expected = if in_effect {
        "ciphers: scout's cipher table is in effect"
    } else {
        "ciphers: libssh2's own ciphers"
    };
    let status = ciphers::status().expect("no cipher problem");
    assert!(
        format!("ciphers: {status}").starts_with(expected),
        "{status}"
    );

    let fleet = Fleet::start(&["alpha"]);
    let check = Command::new(scout_bin())
        .arg("check")
        .envs(fleet.env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{stdout}");
    assert!(stdout.starts_with(expected), "{stdout}");

    // The server logs it at info when it starts (stdin at EOF: it stops at once).
    let serve = Command::new(scout_bin())
        .envs(fleet.env())
        .env("SCOUT_LOG_LEVEL", "info")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(serve.status.success(), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(" INFO ") && l.contains(expected)),
        "{stderr}"
    );
}

/// Logs in with libssh2 directly, as a program embedding scout next to its own `ssh2` use.
fn login_with_key_file(fleet: &Fleet, key: &Path, passphrase: &str) -> bool {
    let tcp = TcpStream::connect(("127.0.0.1", fleet.port("alpha"))).unwrap();
    let mut session = ssh2::Session::new().unwrap();
    session.set_tcp_stream(tcp);
    session.handshake().unwrap();
    let _ = session.userauth_pubkey_file(&fleet.user, None, key, Some(passphrase));
    session.authenticated()
}

#[test]
fn encrypted_key_files_open_with_each_key_cipher_and_refuse_a_wrong_passphrase() {
    let _turn = crate::serial();
    let fleet = Fleet::start(&["alpha"]);
    let dir = TempDir::new();
    let kinds: [(&str, &[&str]); 5] = [
        ("ctr", &[]), // ssh-keygen's default: aes256-ctr
        ("gcm", &["-Z", "aes256-gcm@openssh.com"]),
        ("chacha", &["-Z", "chacha20-poly1305@openssh.com"]),
        ("cbc", &["-Z", "aes128-cbc"]),
        // PEM (DEK-Info: AES-128-CBC) is read by OpenSSL, not through the table: the control.
        ("pem", &["-t", "ecdsa", "-m", "PEM"]),
    ];
    for (name, extra) in kinds {
        let key = keygen(dir.path(), name, "pass phrase", extra);
        authorize(&fleet, &key);
        assert!(
            login_with_key_file(&fleet, &key, "pass phrase"),
            "{name}: the key did not open"
        );
        assert!(
            !login_with_key_file(&fleet, &key, "wrong phrase"),
            "{name}: a wrong passphrase opened the key"
        );
    }
}
