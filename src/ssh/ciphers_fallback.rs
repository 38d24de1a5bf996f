//! libssh2's own ciphers: `build.rs` could not check libssh2's private layout against the copy
//! in `ciphers.rs` (a system libssh2, OpenSSL older than 3, headers not found, or
//! `SCOUT_CIPHER_TABLE=off`), so neither the cipher table nor OpenSSL's ChaCha20/Poly1305 are
//! compiled in, and nothing of libssh2 is replaced. Same functions as `ciphers.rs`.

use std::sync::OnceLock;

/// The cipher names libssh2 offers, in its order of preference.
pub fn preference() -> Vec<String> {
    ssh2::Session::new()
        .and_then(|s| s.supported_algs(ssh2::MethodType::CryptCs))
        .map(|names| names.into_iter().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Whether this CPU has AES and carry-less multiply instructions (what makes GCM cheap).
pub fn hardware_aes() -> bool {
    static AES: OnceLock<bool> = OnceLock::new();
    *AES.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("aes")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
        }
        #[cfg(target_arch = "aarch64")]
        {
            std::arch::is_aarch64_feature_detected!("aes")
                && std::arch::is_aarch64_feature_detected!("pmull")
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            false
        }
    })
}

/// Always `false`: this build has no table of its own.
pub fn table_in_effect() -> bool {
    false
}

/// One line on the ciphers libssh2 uses: its own, and why (the build's reason).
pub fn status() -> Result<String, String> {
    Ok(format!(
        "libssh2's own ciphers (scout's faster cipher table is not built: {})",
        env!("SCOUT_CIPHER_FALLBACK")
    ))
}

/// Always 0: no packet goes through scout's AES-GCM in this build.
#[doc(hidden)]
pub fn gcm_packets() -> u64 {
    0
}

/// Always 0: ChaCha20 is libssh2's own in this build.
#[doc(hidden)]
pub fn chacha_calls() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libssh2_lists_its_own_ciphers_and_the_status_says_why() {
        assert!(!table_in_effect());
        let names = preference();
        assert!(
            names.iter().any(|n| n == "aes256-ctr"),
            "libssh2 offers no aes256-ctr: {names:?}"
        );
        let status = status().unwrap_or_else(|e| e);
        assert!(status.contains("libssh2's own ciphers"), "{status}");
        assert!(!env!("SCOUT_CIPHER_FALLBACK").is_empty());
    }
}
