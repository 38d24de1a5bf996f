//! OpenSSL's ChaCha20 and Poly1305 for libssh2's `chacha20-poly1305@openssh.com`.
//!
//! libssh2 1.11 (bundled by `libssh2-sys`) implements this cipher with its own portable C
//! (`chacha.c`, `poly1305.c`, from OpenSSH): on a bulk transfer that code is ~75 % of the
//! client's CPU and caps a session at ~340 MiB/s, while OpenSSL's assembly does the same work
//! several times faster. libssh2 calls four plain C functions for it; they are defined here
//! with the same names and the same state layout, so the static link takes these definitions
//! and leaves `chacha.o`/`poly1305.o` out of the archive (an object is only pulled from an
//! archive for a symbol that is still undefined).
//!
//! The state is DJB's `chacha-merged` layout that libssh2's `struct chacha_ctx` uses
//! (16 little-endian words: constants, key, 64-bit block counter, 64-bit nonce), kept exactly,
//! so a mix with libssh2's own versions would still be correct, only slower.
//!
//! OpenSSL's `EVP_chacha20` takes a 16-byte IV that is words 12–15 of the same state (its
//! counter carries from word 12 into word 13 like DJB's 64-bit counter), so the mapping is
//! direct. Contexts are cached per thread: libssh2 calls these for every packet.
//!
//! The four functions return nothing, so a failure inside OpenSSL (out of memory, a provider
//! without ChaCha20 or Poly1305) cannot be reported through them. Instead it is recorded for
//! the thread ([`take_failure`]), and its output is made unpredictable: random bytes, never
//! zeros, since a zero Poly1305 key or tag is one anybody can forge. The cipher table in
//! [`super::ciphers`], the only caller of libssh2's chacha20-poly1305 code, checks the record
//! after every call and fails the packet (and the connection) when anything failed.

use std::cell::{Cell, RefCell};
use std::os::raw::{c_char, c_int, c_uchar, c_uint};
use std::ptr;
use std::sync::atomic::{compiler_fence, AtomicU64, Ordering};

use openssl_sys as ffi;

/// libssh2's `struct chacha_ctx` (chacha.h): `u32 input[16]` (checked at build time by
/// `src/ssh/ciphers_check.c`).
#[repr(C)]
pub(crate) struct ChachaCtx {
    input: [u32; 16],
}

impl ChachaCtx {
    /// An unkeyed context, for libssh2's `chachapoly_init` to fill ([`super::ciphers`]).
    pub(crate) const fn zeroed() -> ChachaCtx {
        ChachaCtx { input: [0; 16] }
    }

    /// Zeroes the state (it holds the key) with writes the compiler may not drop as dead.
    pub(crate) fn wipe(&mut self) {
        for word in self.input.iter_mut() {
            // SAFETY: a valid, aligned `u32` of our own.
            unsafe { ptr::write_volatile(word, 0) };
        }
        compiler_fence(Ordering::SeqCst);
    }
}

/// Zeroes key or nonce material before it goes out of scope, with volatile writes (a plain
/// `fill(0)` of a buffer that is never read again is a dead store the compiler may remove),
/// and a fence so that later code is not moved before the wipe.
pub(crate) fn wipe(bytes: &mut [u8]) {
    for byte in bytes.iter_mut() {
        // SAFETY: a valid byte of the slice, written through its own reference.
        unsafe { ptr::write_volatile(byte, 0) };
    }
    compiler_fence(Ordering::SeqCst);
}

static CALLS: AtomicU64 = AtomicU64::new(0);

/// How many times libssh2 called [`chacha_encrypt_bytes`] here: above zero after any traffic
/// on a chacha20-poly1305 session when the link took these definitions (tests check it).
pub(crate) fn calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

thread_local! {
    /// Whether a function here failed on this thread since the last [`take_failure`].
    static FAILED: Cell<bool> = const { Cell::new(false) };
}

/// Whether one of the functions here failed on this thread since the last call (and forgets
/// it). Called before libssh2's chacha20-poly1305 code runs, to start clean, and after, to
/// fail the packet.
pub(crate) fn take_failure() -> bool {
    FAILED.with(|f| f.replace(false))
}

/// Records a failure and replaces `out` with random bytes: what a failed function hands back
/// must not be predictable (zeros would be a Poly1305 key, or a tag, that anybody can forge).
///
/// # Safety
/// `out` points to `len` writable bytes.
unsafe fn fail(out: *mut u8, len: usize) {
    FAILED.with(|f| f.set(true));
    let mut done = 0;
    while done < len {
        let n = (len - done).min(1 << 20);
        // RAND_bytes takes an int length: chunks of 1 MiB.
        if ffi::RAND_bytes(out.add(done), n as c_int) != 1 {
            // OpenSSL cannot compute a MAC nor draw random bytes: it is unusable (out of
            // memory, or a broken provider). Stop rather than let a predictable value reach
            // libssh2, as Rust does when an allocation fails.
            std::process::abort();
        }
        done += n;
    }
}

/// A primitive that a unit test makes fail, as an OpenSSL error would.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fault {
    Chacha20,
    Poly1305,
}

#[cfg(not(test))]
#[inline(always)]
fn injected(_: Fault) -> bool {
    false
}

#[cfg(test)]
thread_local! {
    static INJECTED: Cell<Option<Fault>> = const { Cell::new(None) };
}

#[cfg(test)]
fn injected(fault: Fault) -> bool {
    INJECTED.with(|f| f.get() == Some(fault))
}

/// Test hook: every call of `fault`'s function on this thread fails until `inject(None)`.
#[cfg(test)]
pub(crate) fn inject(fault: Option<Fault>) {
    INJECTED.with(|f| f.set(fault));
}

const SIGMA: &[u8; 16] = b"expand 32-byte k";
const TAU: &[u8; 16] = b"expand 16-byte k";

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// `void chacha_keysetup(struct chacha_ctx *x, const u8 *k, u32 kbits)`
///
/// # Safety
/// `x` is a valid context; `k` points to `kbits / 8` bytes (16 or 32).
#[no_mangle]
unsafe extern "C" fn chacha_keysetup(x: *mut ChachaCtx, k: *const u8, kbits: c_uint) {
    let x = &mut *x;
    if kbits != 256 && kbits != 128 {
        // No such ChaCha key: leave no usable state (libssh2 only ever asks for 256).
        fail(x.input.as_mut_ptr().cast(), std::mem::size_of_val(&x.input));
        return;
    }
    let key = std::slice::from_raw_parts(k, if kbits == 256 { 32 } else { 16 });
    let (lo, hi, constants) = if kbits == 256 {
        (&key[..16], &key[16..32], SIGMA)
    } else {
        (&key[..16], &key[..16], TAU)
    };
    for i in 0..4 {
        x.input[i] = le32(&constants[4 * i..]);
        x.input[4 + i] = le32(&lo[4 * i..]);
        x.input[8 + i] = le32(&hi[4 * i..]);
    }
}

/// `void chacha_ivsetup(struct chacha_ctx *x, const u8 *iv, const u8 *counter)`
///
/// # Safety
/// `x` is a valid context; `iv` points to 8 bytes; `counter` is null or points to 8 bytes.
#[no_mangle]
unsafe extern "C" fn chacha_ivsetup(x: *mut ChachaCtx, iv: *const u8, counter: *const u8) {
    let x = &mut *x;
    let iv = std::slice::from_raw_parts(iv, 8);
    if counter.is_null() {
        x.input[12] = 0;
        x.input[13] = 0;
    } else {
        let c = std::slice::from_raw_parts(counter, 8);
        x.input[12] = le32(c);
        x.input[13] = le32(&c[4..]);
    }
    x.input[14] = le32(iv);
    x.input[15] = le32(&iv[4..]);
}

struct Contexts {
    cipher: *mut ffi::EVP_CIPHER_CTX,
    cipher_ready: bool,
    mac: *mut EVP_MAC_CTX,
}

impl Drop for Contexts {
    fn drop(&mut self) {
        // SAFETY: both were allocated by OpenSSL (or are null) and are owned here.
        unsafe {
            if !self.cipher.is_null() {
                ffi::EVP_CIPHER_CTX_free(self.cipher);
            }
            if !self.mac.is_null() {
                EVP_MAC_CTX_free(self.mac);
            }
        }
    }
}

thread_local! {
    static CONTEXTS: RefCell<Contexts> = const {
        RefCell::new(Contexts {
            cipher: ptr::null_mut(),
            cipher_ready: false,
            mac: ptr::null_mut(),
        })
    };
}

/// `void chacha_encrypt_bytes(struct chacha_ctx *x, const u8 *m, u8 *c, size_t bytes)`
///
/// # Safety
/// `x` is a keyed context; `m` and `c` point to `bytes` bytes (the same buffer, or disjoint).
#[no_mangle]
unsafe extern "C" fn chacha_encrypt_bytes(
    x: *mut ChachaCtx,
    m: *const u8,
    c: *mut u8,
    bytes: usize,
) {
    CALLS.fetch_add(1, Ordering::Relaxed);
    if bytes == 0 {
        return;
    }
    let x = &mut *x;
    let mut key = [0u8; 32];
    for i in 0..8 {
        key[4 * i..4 * i + 4].copy_from_slice(&x.input[4 + i].to_le_bytes());
    }
    let mut iv = [0u8; 16];
    for i in 0..4 {
        iv[4 * i..4 * i + 4].copy_from_slice(&x.input[12 + i].to_le_bytes());
    }
    let ok = CONTEXTS.with(|cell| {
        if injected(Fault::Chacha20) {
            return false;
        }
        let mut ctx = cell.borrow_mut();
        if ctx.cipher.is_null() {
            ctx.cipher = ffi::EVP_CIPHER_CTX_new();
            if ctx.cipher.is_null() {
                return false;
            }
        }
        let cipher = if ctx.cipher_ready {
            ptr::null()
        } else {
            ffi::EVP_chacha20()
        };
        if ffi::EVP_EncryptInit_ex(
            ctx.cipher,
            cipher,
            ptr::null_mut(),
            key.as_ptr(),
            iv.as_ptr(),
        ) != 1
        {
            return false;
        }
        ctx.cipher_ready = true;
        // EVP takes an int length: libssh2's packets are far below 2 GiB, but stay general.
        let mut done = 0usize;
        while done < bytes {
            let n = (bytes - done).min(1 << 30);
            let mut out_len: c_int = 0;
            if ffi::EVP_EncryptUpdate(
                ctx.cipher,
                c.add(done),
                &mut out_len,
                m.add(done),
                n as c_int,
            ) != 1
                || usize::try_from(out_len) != Ok(n)
            {
                return false;
            }
            done += n;
        }
        true
    });
    // A failure (out of memory, or an OpenSSL without ChaCha20) is recorded for the caller
    // to fail the packet, and the output is random: no plaintext can leave by mistake, and a
    // Poly1305 key made here (libssh2 encrypts zeros for it) is not the all-zero key, under
    // which every message has the tag zero.
    if !ok {
        fail(c, bytes);
    }
    // Advance the 64-bit block counter as chacha-merged does (a partial block counts).
    let blocks = bytes.div_ceil(64) as u64;
    let counter = (u64::from(x.input[13]) << 32 | u64::from(x.input[12])).wrapping_add(blocks);
    x.input[12] = counter as u32;
    x.input[13] = (counter >> 32) as u32;
    wipe(&mut key);
    wipe(&mut iv);
}

/// `void poly1305_auth(unsigned char out[16], const unsigned char *m, size_t inlen,
/// const unsigned char key[32])`
///
/// # Safety
/// `out` has room for 16 bytes, `m` points to `inlen` bytes, `key` to 32.
#[no_mangle]
unsafe extern "C" fn poly1305_auth(
    out: *mut c_uchar,
    m: *const c_uchar,
    inlen: usize,
    key: *const c_uchar,
) {
    let ok = CONTEXTS.with(|cell| {
        if injected(Fault::Poly1305) {
            return false;
        }
        let mut ctx = cell.borrow_mut();
        if ctx.mac.is_null() {
            let mac = EVP_MAC_fetch(ptr::null_mut(), c"POLY1305".as_ptr(), ptr::null());
            if mac.is_null() {
                return false;
            }
            ctx.mac = EVP_MAC_CTX_new(mac);
            EVP_MAC_free(mac);
            if ctx.mac.is_null() {
                return false;
            }
        }
        let mut len: usize = 0;
        EVP_MAC_init(ctx.mac, key, 32, ptr::null()) == 1
            && EVP_MAC_update(ctx.mac, m, inlen) == 1
            && EVP_MAC_final(ctx.mac, out, &mut len, 16) == 1
            && len == 16
    });
    if !ok {
        // Recorded, so the packet fails whatever the tags are; and the tag written is random,
        // never a fixed value a forged packet could carry.
        fail(out, 16);
    }
}

// OpenSSL 3's EVP_MAC API (declared here: openssl-sys exposes it only to its own build's cfg).
#[allow(non_camel_case_types)]
enum EVP_MAC {}
#[allow(non_camel_case_types)]
enum EVP_MAC_CTX {}

extern "C" {
    fn EVP_MAC_fetch(
        libctx: *mut std::ffi::c_void,
        algorithm: *const c_char,
        properties: *const c_char,
    ) -> *mut EVP_MAC;
    fn EVP_MAC_free(mac: *mut EVP_MAC);
    fn EVP_MAC_CTX_new(mac: *mut EVP_MAC) -> *mut EVP_MAC_CTX;
    fn EVP_MAC_CTX_free(ctx: *mut EVP_MAC_CTX);
    fn EVP_MAC_init(
        ctx: *mut EVP_MAC_CTX,
        key: *const c_uchar,
        keylen: usize,
        params: *const std::ffi::c_void,
    ) -> c_int;
    fn EVP_MAC_update(ctx: *mut EVP_MAC_CTX, data: *const c_uchar, datalen: usize) -> c_int;
    fn EVP_MAC_final(
        ctx: *mut EVP_MAC_CTX,
        out: *mut c_uchar,
        outl: *mut usize,
        outsize: usize,
    ) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8439 §2.4.2 (IETF nonce: word 12 = counter 1, words 13-15 = nonce) expressed in
    /// the DJB layout: counter = 1 | (nonce[0..4] << 32), iv = nonce[4..12].
    #[test]
    fn chacha20_matches_rfc8439() {
        let key: Vec<u8> = (0u8..32).collect();
        let nonce = [0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0];
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let mut ctr = [0u8; 8];
        ctr[0] = 1;
        ctr[4..8].copy_from_slice(&nonce[0..4]);
        let mut x = ChachaCtx { input: [0; 16] };
        let mut out = vec![0u8; plain.len()];
        unsafe {
            chacha_keysetup(&mut x, key.as_ptr(), 256);
            chacha_ivsetup(&mut x, nonce[4..].as_ptr(), ctr.as_ptr());
            chacha_encrypt_bytes(&mut x, plain.as_ptr(), out.as_mut_ptr(), plain.len());
        }
        let hex: String = out[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "6e2e359a2568f98041ba0728dd0d6981");
        assert_eq!(x.input[12], 1 + plain.len().div_ceil(64) as u32);
    }

    /// RFC 8439 §2.5.2.
    #[test]
    fn poly1305_matches_rfc8439() {
        let key = [
            0x85, 0xd6, 0xbe, 0x78, 0x57, 0x55, 0x6d, 0x33, 0x7f, 0x44, 0x52, 0xfe, 0x42, 0xd5,
            0x06, 0xa8, 0x01, 0x03, 0x80, 0x8a, 0xfb, 0x0d, 0xb2, 0xfd, 0x4a, 0xbf, 0xf6, 0xaf,
            0x41, 0x49, 0xf5, 0x1b,
        ];
        let msg = b"Cryptographic Forum Research Group";
        let mut tag = [0u8; 16];
        unsafe { poly1305_auth(tag.as_mut_ptr(), msg.as_ptr(), msg.len(), key.as_ptr()) };
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "a8061dc1305136c6c22b8baf0c0127a9");
    }

    #[test]
    fn wipe_zeroes_every_byte_and_every_word() {
        let mut key: Vec<u8> = (1..=64).collect();
        wipe(&mut key[8..]);
        assert_eq!(
            &key[..8],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            "outside the slice: untouched"
        );
        assert!(key[8..].iter().all(|&b| b == 0), "{key:?}");
        let mut x = ChachaCtx::zeroed();
        // SAFETY: a context and a 32-byte key.
        unsafe { chacha_keysetup(&mut x, [0xffu8; 32].as_ptr(), 256) };
        assert!(x.input[4..12].iter().all(|&w| w == u32::MAX));
        x.wipe();
        assert_eq!(x.input, [0; 16]);
    }

    #[test]
    fn a_failure_is_recorded_once_and_its_output_is_never_zeros() {
        let key = [3u8; 32];
        let msg = [0u8; 40];
        assert!(!take_failure());
        inject(Some(Fault::Poly1305));
        let mut tags = [[0u8; 16]; 2];
        for tag in tags.iter_mut() {
            // SAFETY: 16 bytes of tag, 40 of message, 32 of key.
            unsafe { poly1305_auth(tag.as_mut_ptr(), msg.as_ptr(), msg.len(), key.as_ptr()) };
        }
        inject(None);
        assert!(take_failure(), "the failure is recorded");
        assert!(!take_failure(), "and taken once");
        assert_ne!(tags[0], [0; 16], "a zero tag is a forgeable one");
        assert_ne!(tags[0], tags[1], "a failed tag is random, not fixed");

        // A ChaCha20 failure: the output is neither the input (plaintext) nor zeros (a
        // Poly1305 key of zeros, under which every tag is zero).
        let mut x = ChachaCtx::zeroed();
        let mut out = [0u8; 32];
        inject(Some(Fault::Chacha20));
        // SAFETY: a keyed context, 32 bytes in and out.
        unsafe {
            chacha_keysetup(&mut x, key.as_ptr(), 256);
            chacha_ivsetup(&mut x, [0u8; 8].as_ptr(), ptr::null());
            chacha_encrypt_bytes(&mut x, msg.as_ptr(), out.as_mut_ptr(), out.len());
        }
        inject(None);
        assert!(take_failure());
        assert_ne!(out, [0; 32]);
        // The same call without the fault: a success, not recorded.
        // SAFETY: as above.
        unsafe {
            chacha_ivsetup(&mut x, [0u8; 8].as_ptr(), ptr::null());
            chacha_encrypt_bytes(&mut x, msg.as_ptr(), out.as_mut_ptr(), out.len());
        }
        assert!(!take_failure());
    }

    #[test]
    fn an_unknown_key_size_is_a_failure() {
        let mut x = ChachaCtx::zeroed();
        // SAFETY: 32 bytes of key (more than any size reads).
        unsafe { chacha_keysetup(&mut x, [9u8; 32].as_ptr(), 192) };
        assert!(take_failure());
    }
}
