//! SHA-256 for transfer and diff results, computed by the OpenSSL that libssh2 already links
//! (`openssl-sys` is in the tree through `ssh2`; its hardware-accelerated digest keeps hashing
//! off the critical path of a transfer).

use std::fmt::Write as _;

use openssl_sys as ffi;

/// An incremental SHA-256.
pub struct Sha256 {
    ctx: *mut ffi::EVP_MD_CTX,
}

// SAFETY: the context is owned exclusively by this value and OpenSSL digest contexts carry no
// thread affinity; `&mut self` on every use rules out concurrent access.
unsafe impl Send for Sha256 {}

impl Sha256 {
    /// A fresh digest. Panics only if OpenSSL cannot allocate a context (out of memory).
    pub fn new() -> Sha256 {
        // SAFETY: plain constructor calls; the results are checked before use.
        let ctx = unsafe { ffi::EVP_MD_CTX_new() };
        assert!(
            !ctx.is_null(),
            "OpenSSL could not allocate a digest context"
        );
        // SAFETY: `ctx` is a valid, fresh context; EVP_sha256 returns a static method table.
        let ok = unsafe { ffi::EVP_DigestInit_ex(ctx, ffi::EVP_sha256(), std::ptr::null_mut()) };
        assert!(ok == 1, "OpenSSL could not initialise SHA-256");
        Sha256 { ctx }
    }

    /// Feeds more bytes into the digest.
    pub fn update(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // SAFETY: `ctx` is valid and initialised; the pointer and length describe `bytes`.
        unsafe {
            ffi::EVP_DigestUpdate(self.ctx, bytes.as_ptr().cast(), bytes.len());
        }
    }

    /// The digest as 64 lowercase hex digits.
    pub fn finish_hex(self) -> String {
        let mut digest = [0u8; 32];
        let mut len: u32 = 0;
        // SAFETY: `ctx` is valid; `digest` has room for SHA-256's 32 bytes.
        unsafe {
            ffi::EVP_DigestFinal_ex(self.ctx, digest.as_mut_ptr(), &mut len);
        }
        digest.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

impl Drop for Sha256 {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from EVP_MD_CTX_new and is freed exactly once.
        unsafe { ffi::EVP_MD_CTX_free(self.ctx) }
    }
}

/// SHA-256 of `bytes` in hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut h = Sha256::new();
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        assert_eq!(h.finish_hex(), hex(&data));
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_hex() {
        assert_eq!(
            crate::sha256::hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
