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
    fn libssh2_lists_its_own_ciphers_and_the_build_says_why() {
        let names = preference();
        assert!(
            names.iter().any(|n| n == "aes256-ctr"),
            "libssh2 offers no aes256-ctr: {names:?}"
        );
        assert!(!env!("SCOUT_CIPHER_FALLBACK").is_empty());
    }
}
