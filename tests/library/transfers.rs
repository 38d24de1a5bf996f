//! Transfers through the library in this process, where the counters of the cipher table and
//! of SFTP requests can be read: the cipher that carries them, request sizes, a kept channel.

use std::fs;

use crate::common::{pattern, sha256sum, Fleet};
use scout_mcp::TransferOptions;

/// libssh2's chacha20-poly1305 runs on OpenSSL's ChaCha20/Poly1305 (src/ssh/chacha.rs): the
/// link took scout's definitions (the call counter moves). The server offers only that cipher
/// (scout prefers AES-GCM where the CPU has AES instructions). Transfers move over an `sftp`
/// channel of their own with large requests (src/ops/transfer.rs counts bytes and requests),
/// opened by the first transfer and kept with the connection for the next ones (sshd logs each
/// subsystem start); a size that is not a multiple of the request size arrives intact both
/// ways, and each side checks the other's Poly1305 tags.
#[test]
fn transfers_use_openssl_chacha_large_requests_and_a_kept_channel() {
    let _turn = crate::serial();
    use std::collections::HashMap;
    let mut fleet = Fleet::start_with_config(&["alpha"], "Ciphers chacha20-poly1305@openssh.com\n");
    let subsystems = |fleet: &mut Fleet| fleet.sshd("alpha").log_count("subsystem 'sftp'");
    let data = pattern((5 << 20) + 12_345);
    let remote = fleet.write_remote_file("lib.bin", &data);
    let env: HashMap<String, String> = fleet.env().into_iter().collect();
    let settings = scout_mcp::Settings::from_lookup(|k| env.get(k).cloned(), &HashMap::new())
        .expect("the fleet's environment is valid");
    let scout = scout_mcp::Scout::new(settings).expect("ssh_config");
    let local = &fleet.beam;
    let down = local.join("down.bin");
    let before = scout_mcp::__private::ciphers::chacha_calls();
    // A small download first: the pooled session and its libssh2 SFTP channel exist.
    let small = fleet.write_remote_file("small.bin", &pattern(1000));
    let control = scout_mcp::Control::new();
    scout
        .download(
            &crate::at("alpha", small.display()),
            &local.join("small.bin").display().to_string(),
            &TransferOptions::new(),
            &control,
        )
        .expect("small download");
    let channels = subsystems(&mut fleet);
    assert!(channels >= 1, "the small download opened no SFTP channel");
    let moved = scout_mcp::__private::moved();
    let t = scout
        .download(
            &crate::at("alpha", remote.display()),
            &down.display().to_string(),
            &TransferOptions::new(),
            &control,
        )
        .expect("download");
    // Without the cipher table (build.rs fell back), libssh2 runs its own ChaCha20.
    assert!(
        !cfg!(scout_cipher_table) || scout_mcp::__private::ciphers::chacha_calls() > before + 100,
        "libssh2 did not call scout's chacha20 (is chacha20-poly1305 negotiated, and did the link \
         take src/ssh/chacha.rs?)"
    );
    assert_eq!(fs::read(&down).unwrap(), data);
    assert_eq!(t.sha256, sha256sum(&down));
    let now = scout_mcp::__private::moved();
    assert_eq!(now.0 - moved.0, data.len() as u64, "the download's bytes");
    let requests = now.1 - moved.1;
    assert!(
        data.len() as u64 / requests >= 128 << 10,
        "{requests} requests for {} bytes: not large requests",
        data.len()
    );
    assert_eq!(
        subsystems(&mut fleet),
        channels,
        "the download did not reuse the kept transfer channel"
    );
    let up = fleet.remote_root.join("lib.up");
    for overwrite in [false, true] {
        let moved = scout_mcp::__private::moved();
        let t = scout
            .upload(
                &down.display().to_string(),
                &crate::at("alpha", up.display()),
                &TransferOptions::new().overwrite(overwrite),
                &control,
            )
            .expect("upload");
        assert_eq!(t.bytes, data.len() as u64);
        assert_eq!(t.sha256, sha256sum(&down));
        assert_eq!(fs::read(&up).unwrap(), data);
        let now = scout_mcp::__private::moved();
        assert_eq!(now.0 - moved.0, data.len() as u64, "the upload's bytes");
        assert!(
            data.len() as u64 / (now.1 - moved.1) >= 128 << 10,
            "the upload (overwrite: {overwrite}) did not use large requests"
        );
    }
    assert_eq!(
        subsystems(&mut fleet),
        channels,
        "the transfer channel was not kept for the next transfers"
    );
}
