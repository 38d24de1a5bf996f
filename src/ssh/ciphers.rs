//! libssh2's cipher table, defined here so that AES-GCM seals and opens a whole packet per call.
//!
//! libssh2 1.11 (bundled by `libssh2-sys`) drives `aes128-gcm@openssh.com` and
//! `aes256-gcm@openssh.com` one 16-byte block per call into OpenSSL, which costs more than the
//! cipher itself, so it negotiates chacha20-poly1305 first. That leaves the *server* with
//! ChaCha20-Poly1305 too: on a 64 MiB upload about 68 ms of sshd's 110 ms of CPU (OpenSSH's own
//! `scp` is a third faster with aes128-gcm than with chacha20-poly1305 here).
//!
//! libssh2 reaches its ciphers through one function, `ssh2_crypt_methods()`, the only symbol
//! of its `crypt.o`. It is defined here with the same name (like the ChaCha20 functions in
//! [`super::chacha`]), so the static link takes this table and leaves `crypt.o` out of the
//! archive. The entries use libssh2's own `SSH2_CRYPT_FLAG_REQUIRES_FULL_PACKET` path — the one
//! its chacha20-poly1305 takes — which hands the crypt function a whole packet:
//!
//! * AES-GCM (RFC 5647, as OpenSSH does it) is implemented here on OpenSSL's EVP interface:
//!   one call per packet, the 4-byte length as additional data, the tag after the packet.
//! * chacha20-poly1305 and the AES-CTR/CBC and 3DES ciphers call the same libssh2 functions
//!   `crypt.c` calls, unchanged.
//! * blowfish-cbc, cast128-cbc and arcfour are left out: OpenSSH dropped them from its server
//!   in 7.6, and OpenSSL 3 refuses to start them without its legacy provider, so with them
//!   libssh2 could only agree on a cipher it then fails to key.
//!
//! The order is the client's preference: AES-GCM first where the CPU has AES instructions
//! (AES-NI/PCLMULQDQ, ARMv8 AES), chacha20-poly1305 first elsewhere — OpenSSH's reasoning.
//!
//! The layout of `struct crypt_method`, and the prototypes of the libssh2 functions called
//! here, are copied from libssh2's private headers (`libssh2_priv.h`, `crypto.h`,
//! `cipher-chachapoly.h`) of the `libssh2-sys` version that `Cargo.toml` pins exactly. Nothing
//! in the compiler would notice if they changed, so three checks do:
//!
//! * at build time, `build.rs` compiles `src/ssh/ciphers_check.c` against those headers of the
//!   libssh2 being built: any difference in a size, an offset, a field or function type is a
//!   compile error naming it. A build where that check cannot run (a system libssh2, OpenSSL
//!   older than 3, headers not found) does not compile this module at all and uses libssh2's
//!   own ciphers (`ciphers_fallback.rs`), with a warning;
//! * at run time, `ssh2_crypt_methods` compares the Rust layout with the figures the C check
//!   measured, and hands libssh2 an empty table if they differ: no cipher, no connection,
//!   rather than memory read through the wrong layout;
//! * at start-up, [`table_in_effect`] checks that libssh2 lists this table (its very name
//!   strings, in this order) and that chacha20-poly1305 runs through `src/ssh/chacha.rs`.
//!
//! Failures fail closed: a crypt call that fails, for any reason (an OpenSSL error, a length
//! that does not add up, a wrong tag), fails the packet, and every later packet of that
//! direction too, so libssh2 drops the connection (as OpenSSH does after a bad MAC).

use std::mem::{align_of, offset_of, size_of};
use std::os::raw::{c_char, c_int, c_long, c_uchar, c_uint, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use openssl_sys as ffi;

use super::chacha::{self, wipe, ChachaCtx};

/// `SSH2_CRYPT_FLAG_PKTLEN_AAD`: the packet length is not encrypted.
const FLAG_PKTLEN_AAD: c_long = 2;
/// `SSH2_CRYPT_FLAG_REQUIRES_FULL_PACKET`: crypt() gets whole packets.
const FLAG_REQUIRES_FULL_PACKET: c_long = 4;
/// `LIBSSH2_ERROR_ALLOC`.
const ERROR_ALLOC: c_int = -6;

/// The GCM tag, and the bytes of packet length sent in clear ahead of each packet.
const TAG_LEN: usize = 16;
const LENGTH_LEN: usize = 4;

/// OpenSSL controls that `openssl-sys` does not name (`openssl/evp.h`).
const EVP_CTRL_GCM_SET_IV_FIXED: c_int = 0x12;
const EVP_CTRL_GCM_IV_GEN: c_int = 0x13;

extern "C" {
    // OpenSSL: the one-shot cipher call OpenSSH uses for AEAD (returns bytes or -1).
    fn EVP_Cipher(
        ctx: *mut ffi::EVP_CIPHER_CTX,
        out: *mut c_uchar,
        inp: *const c_uchar,
        len: c_uint,
    ) -> c_int;

    // libssh2 (openssl.c): what crypt.c calls for its block ciphers.
    fn ssh2_cipher_init(
        ctx: *mut *mut ffi::EVP_CIPHER_CTX,
        algo: Algo,
        iv: *mut c_uchar,
        secret: *mut c_uchar,
        encrypt: c_int,
    ) -> c_int;
    fn ssh2_cipher_crypt(
        ctx: *mut *mut ffi::EVP_CIPHER_CTX,
        algo: Algo,
        encrypt: c_int,
        block: *mut c_uchar,
        blocksize: usize,
        firstlast: c_int,
    ) -> c_int;

    // libssh2 (cipher-chachapoly.c): what crypt.c calls for chacha20-poly1305.
    fn chachapoly_init(ctx: *mut ChachaPolyCtx, key: *const c_uchar, keylen: usize) -> c_int;
    fn chachapoly_crypt(
        ctx: *mut ChachaPolyCtx,
        seqnr: u64,
        dest: *mut c_uchar,
        src: *const c_uchar,
        len: usize,
        aadlen: usize,
        do_encrypt: c_int,
    ) -> c_int;
    fn chachapoly_get_length(
        ctx: *mut ChachaPolyCtx,
        plenp: *mut c_uint,
        seqnr: u64,
        cp: *const c_uchar,
        len: usize,
    ) -> c_int;

    // src/ssh/ciphers_check.c: libssh2's own figures for the structs copied here.
    fn scout_libssh2_layout() -> *const Layout;
}

/// libssh2's `SSH2_CIPHER_T(algo)` with OpenSSL: the EVP constructor of the cipher.
type Algo = unsafe extern "C" fn() -> *const ffi::EVP_CIPHER;
type Session = c_void;

/// libssh2's `struct chachapoly_ctx`: two `struct chacha_ctx`.
#[repr(C)]
struct ChachaPolyCtx {
    main: ChachaCtx,
    header: ChachaCtx,
}

/// libssh2's `struct crypt_method` (`libssh2_priv.h`), field for field (`ciphers_check.c`
/// mirrors it and checks it against libssh2's at build time).
#[repr(C)]
struct CryptMethod {
    name: *const c_char,
    pem_annotation: *const c_char,
    blocksize: c_int,
    iv_len: c_int,
    secret_len: c_int,
    auth_len: c_int,
    flags: c_long,
    init: Option<
        unsafe extern "C" fn(
            *mut Session,
            *const CryptMethod,
            *mut c_uchar,
            *mut c_int,
            *mut c_uchar,
            *mut c_int,
            c_int,
            c_int,
            *mut *mut c_void,
        ) -> c_int,
    >,
    get_len: Option<
        unsafe extern "C" fn(
            *mut Session,
            c_uint,
            *mut c_uchar,
            usize,
            *mut c_uint,
            *mut *mut c_void,
        ) -> c_int,
    >,
    crypt: Option<
        unsafe extern "C" fn(
            *mut Session,
            c_uint,
            *mut c_uchar,
            usize,
            *mut *mut c_void,
            c_int,
        ) -> c_int,
    >,
    dtor: Option<unsafe extern "C" fn(*mut Session, *mut *mut c_void) -> c_int>,
    algo: Option<Algo>,
}

// SAFETY: the table is immutable after compilation; the pointers are to static strings.
unsafe impl Sync for CryptMethod {}

/// The NULL-terminated list libssh2 walks.
struct Table<const N: usize>([*const CryptMethod; N]);
// SAFETY: as for `CryptMethod`.
unsafe impl<const N: usize> Sync for Table<N> {}

/// `struct scout_libssh2_layout` of `ciphers_check.c`: sizes and offsets of libssh2's structs.
#[repr(C)]
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    crypt_method_size: usize,
    crypt_method_align: usize,
    /// Of each field of `struct crypt_method`, in order.
    offsets: [usize; 12],
    chachapoly_ctx_size: usize,
    chachapoly_header_offset: usize,
}

impl Layout {
    /// The same figures for the Rust declarations of this module.
    const fn ours() -> Layout {
        Layout {
            crypt_method_size: size_of::<CryptMethod>(),
            crypt_method_align: align_of::<CryptMethod>(),
            offsets: [
                offset_of!(CryptMethod, name),
                offset_of!(CryptMethod, pem_annotation),
                offset_of!(CryptMethod, blocksize),
                offset_of!(CryptMethod, iv_len),
                offset_of!(CryptMethod, secret_len),
                offset_of!(CryptMethod, auth_len),
                offset_of!(CryptMethod, flags),
                offset_of!(CryptMethod, init),
                offset_of!(CryptMethod, get_len),
                offset_of!(CryptMethod, crypt),
                offset_of!(CryptMethod, dtor),
                offset_of!(CryptMethod, algo),
            ],
            chachapoly_ctx_size: size_of::<ChachaPolyCtx>(),
            chachapoly_header_offset: offset_of!(ChachaPolyCtx, header),
        }
    }
}

/// Whether the Rust declarations have libssh2's layout, as measured by `ciphers_check.c`.
fn layout_matches() -> bool {
    static MATCHES: OnceLock<bool> = OnceLock::new();
    *MATCHES.get_or_init(|| {
        // SAFETY: the C function returns a pointer to a static of this layout, or null.
        let theirs = unsafe { scout_libssh2_layout().as_ref() };
        theirs == Some(&Layout::ours())
    })
}

static GCM_PACKETS: AtomicU64 = AtomicU64::new(0);

/// How many packets this process sealed or opened with AES-GCM here: above zero after any
/// traffic on an AES-GCM session when the link took this table (tests check it).
#[doc(hidden)]
pub fn gcm_packets() -> u64 {
    GCM_PACKETS.load(Ordering::Relaxed)
}

/// How many times libssh2 called OpenSSL's ChaCha20 through `src/ssh/chacha.rs`: above zero
/// after any traffic on a chacha20-poly1305 session when the link took it (tests check it).
#[doc(hidden)]
pub fn chacha_calls() -> u64 {
    chacha::calls()
}

/// One cipher direction's state, behind libssh2's `void *abstract`.
struct State {
    ctx: Ctx,
    /// A call failed: every later one fails too, so the connection cannot go on.
    failed: bool,
}

/// The cipher of a [`State`].
enum Ctx {
    /// A block cipher run by libssh2's `ssh2_cipher_crypt`, block by block as before.
    Block {
        evp: *mut ffi::EVP_CIPHER_CTX,
        algo: Algo,
        encrypt: c_int,
    },
    /// AES-GCM, a packet per call.
    Gcm {
        evp: *mut ffi::EVP_CIPHER_CTX,
        encrypt: bool,
        key_file: bool,
    },
    /// chacha20-poly1305 by libssh2's `chachapoly_*`.
    ChachaPoly {
        state: ChachaPolyCtx,
        encrypt: bool,
        key_file: bool,
    },
}

impl Drop for Ctx {
    fn drop(&mut self) {
        match self {
            // SAFETY: allocated by OpenSSL, owned here, freed once.
            Ctx::Block { evp, .. } | Ctx::Gcm { evp, .. } => unsafe {
                ffi::EVP_CIPHER_CTX_free(*evp)
            },
            // Key material: do not leave it in freed memory.
            Ctx::ChachaPoly { state, .. } => {
                state.main.wipe();
                state.header.wipe();
            }
        }
    }
}

/// Stores `ctx` behind `abstract_` and tells libssh2 to wipe the IV and key it passed.
unsafe fn install(
    ctx: Ctx,
    abstract_: *mut *mut c_void,
    free_iv: *mut c_int,
    free_secret: *mut c_int,
) -> c_int {
    let state = Box::new(State { ctx, failed: false });
    *abstract_ = Box::into_raw(state).cast();
    *free_iv = 1;
    *free_secret = 1;
    0
}

unsafe fn state_of<'a>(abstract_: *mut *mut c_void) -> Option<&'a mut State> {
    if abstract_.is_null() {
        return None;
    }
    (*abstract_).cast::<State>().as_mut()
}

/// Runs `op` on the cipher behind `abstract_`: 0 when it succeeded, 1 (libssh2's failure)
/// when it failed, when there is no cipher, or when an earlier call on it failed.
unsafe fn run(abstract_: *mut *mut c_void, op: impl FnOnce(&mut Ctx) -> bool) -> c_int {
    let Some(state) = state_of(abstract_) else {
        return 1;
    };
    if state.failed || !op(&mut state.ctx) {
        state.failed = true;
        return 1;
    }
    0
}

unsafe extern "C" fn block_init(
    _session: *mut Session,
    method: *const CryptMethod,
    iv: *mut c_uchar,
    free_iv: *mut c_int,
    secret: *mut c_uchar,
    free_secret: *mut c_int,
    encrypt: c_int,
    _key_file: c_int,
    abstract_: *mut *mut c_void,
) -> c_int {
    let Some(algo) = (*method).algo else {
        return -1;
    };
    let mut evp = ptr::null_mut();
    if ssh2_cipher_init(&mut evp, algo, iv, secret, encrypt) != 0 {
        ffi::EVP_CIPHER_CTX_free(evp);
        return -1;
    }
    install(
        Ctx::Block { evp, algo, encrypt },
        abstract_,
        free_iv,
        free_secret,
    )
}

unsafe extern "C" fn gcm_init(
    _session: *mut Session,
    method: *const CryptMethod,
    iv: *mut c_uchar,
    free_iv: *mut c_int,
    secret: *mut c_uchar,
    free_secret: *mut c_int,
    encrypt: c_int,
    key_file: c_int,
    abstract_: *mut *mut c_void,
) -> c_int {
    let Some(algo) = (*method).algo else {
        return -1;
    };
    let evp = ffi::EVP_CIPHER_CTX_new();
    if evp.is_null() {
        return ERROR_ALLOC;
    }
    // The 12-byte IV is a fixed part and a per-packet counter (RFC 5647 §7.1): OpenSSL keeps
    // the counter once the whole IV is given as "fixed" (-1), and IV_GEN advances it.
    let keyed = ffi::EVP_CipherInit_ex(evp, algo(), ptr::null_mut(), secret, ptr::null(), encrypt)
        == 1
        && ffi::EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_GCM_SET_IV_FIXED, -1, iv.cast()) == 1;
    if !keyed {
        ffi::EVP_CIPHER_CTX_free(evp);
        return -1;
    }
    let ctx = Ctx::Gcm {
        evp,
        encrypt: encrypt != 0,
        key_file: key_file != 0,
    };
    install(ctx, abstract_, free_iv, free_secret)
}

unsafe extern "C" fn chachapoly_init_ctx(
    _session: *mut Session,
    method: *const CryptMethod,
    _iv: *mut c_uchar,
    free_iv: *mut c_int,
    secret: *mut c_uchar,
    free_secret: *mut c_int,
    encrypt: c_int,
    key_file: c_int,
    abstract_: *mut *mut c_void,
) -> c_int {
    // Keyed where it will live: no copy of the key is left behind on the stack. (On a
    // failure the box is dropped, which wipes whatever was keyed.)
    let mut state = Box::new(State {
        ctx: Ctx::ChachaPoly {
            state: ChachaPolyCtx {
                main: ChachaCtx::zeroed(),
                header: ChachaCtx::zeroed(),
            },
            encrypt: encrypt != 0,
            key_file: key_file != 0,
        },
        failed: false,
    });
    let Ctx::ChachaPoly { state: keys, .. } = &mut state.ctx else {
        return -1;
    };
    let key_len = usize::try_from((*method).secret_len).unwrap_or(0);
    chacha::take_failure();
    let rc = chachapoly_init(keys, secret, key_len);
    if chacha::take_failure() || rc != 0 {
        return -1;
    }
    *abstract_ = Box::into_raw(state).cast();
    *free_iv = 1;
    *free_secret = 1;
    0
}

/// The packet length, sent in clear with AES-GCM: a whole number of blocks (RFC 5647 §7.2).
unsafe extern "C" fn gcm_get_len(
    _session: *mut Session,
    _seqno: c_uint,
    data: *mut c_uchar,
    data_size: usize,
    len: *mut c_uint,
    _abstract: *mut *mut c_void,
) -> c_int {
    if data.is_null() || data_size < LENGTH_LEN {
        return 1;
    }
    let n = u32::from_be_bytes([*data, *data.add(1), *data.add(2), *data.add(3)]);
    if n < 16 || n % 16 != 0 {
        return 1;
    }
    *len = n;
    0
}

unsafe extern "C" fn chachapoly_get_len(
    _session: *mut Session,
    seqno: c_uint,
    data: *mut c_uchar,
    data_size: usize,
    len: *mut c_uint,
    abstract_: *mut *mut c_void,
) -> c_int {
    run(abstract_, |ctx| {
        let Ctx::ChachaPoly { state, .. } = ctx else {
            return false;
        };
        chacha::take_failure();
        // The length is decrypted with ChaCha20: a failure there is no length to trust.
        let rc = chachapoly_get_length(state, len, u64::from(seqno), data, data_size);
        let failed_inside = chacha::take_failure();
        rc == 0 && !failed_inside
    })
}

unsafe extern "C" fn block_crypt(
    _session: *mut Session,
    _seqno: c_uint,
    buf: *mut c_uchar,
    len: usize,
    abstract_: *mut *mut c_void,
    firstlast: c_int,
) -> c_int {
    run(abstract_, |ctx| match ctx {
        Ctx::Block { evp, algo, encrypt } => {
            ssh2_cipher_crypt(evp, *algo, *encrypt, buf, len, firstlast) == 0
        }
        _ => false,
    })
}

/// A whole packet, as libssh2's full-packet path lays it out:
/// * sealing: `buf[..4]` is the length, `buf[4..len]` the packet; the tag goes to `buf[len..]`;
/// * opening: `buf[..4]` is the length, `buf[4..4 + len]` the packet, the tag after it; the
///   opened packet is moved to `buf[..len]` (libssh2 expects the length gone);
/// * a key file (`key_file`): `buf[..len]` is the ciphertext, the tag after it, no length.
unsafe extern "C" fn gcm_crypt(
    _session: *mut Session,
    _seqno: c_uint,
    buf: *mut c_uchar,
    len: usize,
    abstract_: *mut *mut c_void,
    _firstlast: c_int,
) -> c_int {
    run(abstract_, |ctx| {
        let Ctx::Gcm {
            evp,
            encrypt,
            key_file,
        } = ctx
        else {
            return false;
        };
        if buf.is_null() {
            return false;
        }
        let (aad_len, body, body_len) = match (*encrypt, *key_file) {
            (true, false) if len >= LENGTH_LEN => {
                (LENGTH_LEN, buf.add(LENGTH_LEN), len - LENGTH_LEN)
            }
            (false, false) => (LENGTH_LEN, buf.add(LENGTH_LEN), len),
            (false, true) => (0, buf, len),
            _ => return false,
        };
        if !gcm_packet(*evp, *encrypt, buf, aad_len, body, body_len) {
            return false;
        }
        if !*encrypt && !*key_file {
            ptr::copy(body, buf, body_len);
        }
        GCM_PACKETS.fetch_add(1, Ordering::Relaxed);
        true
    })
}

/// Seals or opens `body[..body_len]` in place with `aad[..aad_len]` as additional data; the
/// tag is at `body[body_len..]` (written when sealing, checked when opening).
unsafe fn gcm_packet(
    evp: *mut ffi::EVP_CIPHER_CTX,
    encrypt: bool,
    aad: *mut c_uchar,
    aad_len: usize,
    body: *mut c_uchar,
    body_len: usize,
) -> bool {
    // Lengths as OpenSSL takes them (an int); each call below must take all it is given.
    let (Ok(n), Ok(aad_n)) = (c_int::try_from(body_len), c_int::try_from(aad_len)) else {
        return false;
    };
    if body_len % 16 != 0 {
        return false;
    }
    let tag = body.add(body_len);
    let mut last_iv = [0u8; 1];
    let next_nonce =
        ffi::EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_GCM_IV_GEN, 1, last_iv.as_mut_ptr().cast()) == 1;
    wipe(&mut last_iv);
    if !next_nonce {
        return false;
    }
    if !encrypt
        && ffi::EVP_CIPHER_CTX_ctrl(evp, ffi::EVP_CTRL_GCM_SET_TAG, TAG_LEN as c_int, tag.cast())
            != 1
    {
        return false;
    }
    // EVP_Cipher returns the bytes it processed (or -1): anything but all of them fails.
    if aad_n > 0 && EVP_Cipher(evp, ptr::null_mut(), aad, aad_n as c_uint) != aad_n {
        return false;
    }
    if EVP_Cipher(evp, body, body, n as c_uint) != n {
        return false;
    }
    // The final call computes the tag, or checks it: a forged or damaged packet fails here.
    if EVP_Cipher(evp, ptr::null_mut(), ptr::null(), 0) < 0 {
        return false;
    }
    !encrypt
        || ffi::EVP_CIPHER_CTX_ctrl(evp, ffi::EVP_CTRL_GCM_GET_TAG, TAG_LEN as c_int, tag.cast())
            == 1
}

/// chacha20-poly1305 exactly as libssh2's `crypt.c` calls it, except that an opened packet
/// is moved down by its full length (crypt.c moves four bytes less, losing padding only).
unsafe extern "C" fn chachapoly_crypt_packet(
    _session: *mut Session,
    seqno: c_uint,
    buf: *mut c_uchar,
    len: usize,
    abstract_: *mut *mut c_void,
    _firstlast: c_int,
) -> c_int {
    run(abstract_, |ctx| {
        let Ctx::ChachaPoly {
            state,
            encrypt,
            key_file,
        } = ctx
        else {
            return false;
        };
        let seq = u64::from(seqno);
        chacha::take_failure();
        let rc = match (*encrypt, *key_file) {
            (true, _) if len >= LENGTH_LEN => {
                chachapoly_crypt(state, seq, buf, buf, len - LENGTH_LEN, LENGTH_LEN, 1)
            }
            (false, false) => chachapoly_crypt(state, seq, buf, buf, len, LENGTH_LEN, 0),
            (false, true) => chachapoly_crypt(state, seq, buf, buf, len, 0, 0),
            _ => return false,
        };
        // libssh2 compared the tags itself; if ChaCha20 or Poly1305 failed on the way, what it
        // compared against is worthless (random, by chacha.rs), so the packet fails whatever
        // that comparison said.
        let failed_inside = chacha::take_failure();
        let ok = rc == 0 && !failed_inside;
        if ok && !*encrypt && !*key_file {
            ptr::copy(buf.add(LENGTH_LEN), buf, len);
        }
        ok
    })
}

/// libssh2's `dtor` for every entry: frees the state [`install`] stored.
unsafe extern "C" fn dtor(_session: *mut Session, abstract_: *mut *mut c_void) -> c_int {
    if !abstract_.is_null() && !(*abstract_).is_null() {
        drop(Box::from_raw((*abstract_).cast::<State>()));
        *abstract_ = ptr::null_mut();
    }
    0
}

const fn block_method(
    name: &'static std::ffi::CStr,
    pem_annotation: &'static std::ffi::CStr,
    blocksize: c_int,
    secret_len: c_int,
    algo: Algo,
) -> CryptMethod {
    CryptMethod {
        name: name.as_ptr(),
        pem_annotation: pem_annotation.as_ptr(),
        blocksize,
        iv_len: blocksize,
        secret_len,
        auth_len: 0,
        flags: 0,
        init: Some(block_init),
        get_len: None,
        crypt: Some(block_crypt),
        dtor: Some(dtor),
        algo: Some(algo),
    }
}

const fn gcm_method(name: &'static std::ffi::CStr, secret_len: c_int, algo: Algo) -> CryptMethod {
    CryptMethod {
        name: name.as_ptr(),
        pem_annotation: c"".as_ptr(),
        blocksize: 16,
        iv_len: 12,
        secret_len,
        auth_len: TAG_LEN as c_int,
        flags: FLAG_REQUIRES_FULL_PACKET | FLAG_PKTLEN_AAD,
        init: Some(gcm_init),
        get_len: Some(gcm_get_len),
        crypt: Some(gcm_crypt),
        dtor: Some(dtor),
        algo: Some(algo),
    }
}

static CHACHA20_POLY1305: CryptMethod = CryptMethod {
    name: c"chacha20-poly1305@openssh.com".as_ptr(),
    pem_annotation: c"".as_ptr(),
    blocksize: 8,
    iv_len: 0,
    secret_len: 64,
    auth_len: TAG_LEN as c_int,
    flags: FLAG_REQUIRES_FULL_PACKET,
    init: Some(chachapoly_init_ctx),
    get_len: Some(chachapoly_get_len),
    crypt: Some(chachapoly_crypt_packet),
    dtor: Some(dtor),
    algo: None,
};
static AES128_GCM: CryptMethod = gcm_method(c"aes128-gcm@openssh.com", 16, ffi::EVP_aes_128_gcm);
static AES256_GCM: CryptMethod = gcm_method(c"aes256-gcm@openssh.com", 32, ffi::EVP_aes_256_gcm);
static AES256_CTR: CryptMethod = block_method(c"aes256-ctr", c"", 16, 32, ffi::EVP_aes_256_ctr);
static AES192_CTR: CryptMethod = block_method(c"aes192-ctr", c"", 16, 24, ffi::EVP_aes_192_ctr);
static AES128_CTR: CryptMethod = block_method(c"aes128-ctr", c"", 16, 16, ffi::EVP_aes_128_ctr);
static AES256_CBC: CryptMethod = block_method(
    c"aes256-cbc",
    c"DEK-Info: AES-256-CBC",
    16,
    32,
    ffi::EVP_aes_256_cbc,
);
static RIJNDAEL_CBC: CryptMethod = block_method(
    c"rijndael-cbc@lysator.liu.se",
    c"DEK-Info: AES-256-CBC",
    16,
    32,
    ffi::EVP_aes_256_cbc,
);
static AES192_CBC: CryptMethod = block_method(
    c"aes192-cbc",
    c"DEK-Info: AES-192-CBC",
    16,
    24,
    ffi::EVP_aes_192_cbc,
);
static AES128_CBC: CryptMethod = block_method(
    c"aes128-cbc",
    c"DEK-Info: AES-128-CBC",
    16,
    16,
    ffi::EVP_aes_128_cbc,
);
static DES3_CBC: CryptMethod = block_method(
    c"3des-cbc",
    c"DEK-Info: DES-EDE3-CBC",
    8,
    24,
    ffi::EVP_des_ede3_cbc,
);

/// Preference order when the CPU runs AES in hardware.
static AES_FIRST: Table<12> = Table([
    &AES128_GCM,
    &AES256_GCM,
    &CHACHA20_POLY1305,
    &AES256_CTR,
    &AES192_CTR,
    &AES128_CTR,
    &AES256_CBC,
    &RIJNDAEL_CBC,
    &AES192_CBC,
    &AES128_CBC,
    &DES3_CBC,
    ptr::null(),
]);

/// Preference order without AES instructions (libssh2's own order).
static CHACHA_FIRST: Table<12> = Table([
    &CHACHA20_POLY1305,
    &AES256_GCM,
    &AES128_GCM,
    &AES256_CTR,
    &AES192_CTR,
    &AES128_CTR,
    &AES256_CBC,
    &RIJNDAEL_CBC,
    &AES192_CBC,
    &AES128_CBC,
    &DES3_CBC,
    ptr::null(),
]);

/// What libssh2 gets when the layout check failed: no cipher at all, so no connection.
static NO_CIPHERS: Table<1> = Table([ptr::null()]);

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

/// The table for this CPU, NULL-terminated.
fn table() -> &'static [*const CryptMethod] {
    if hardware_aes() {
        &AES_FIRST.0
    } else {
        &CHACHA_FIRST.0
    }
}

/// `const struct crypt_method **ssh2_crypt_methods(void)`: the ciphers libssh2 may
/// negotiate, most preferred first; none if the Rust layout is not libssh2's.
#[no_mangle]
extern "C" fn ssh2_crypt_methods() -> *const *const CryptMethod {
    if layout_matches() {
        table().as_ptr()
    } else {
        NO_CIPHERS.0.as_ptr()
    }
}

/// The methods of the table for this CPU, most preferred first.
fn methods() -> impl Iterator<Item = &'static CryptMethod> {
    // SAFETY: the entries before the NULL point to statics.
    table().iter().map_while(|m| unsafe { m.as_ref() })
}

/// The cipher names scout offers, in its order of preference.
pub fn preference() -> Vec<String> {
    methods()
        // SAFETY: every name is a static C string.
        .map(|m| unsafe { std::ffi::CStr::from_ptr(m.name) })
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// Whether libssh2 encrypts with this module: the Rust layout is libssh2's, a libssh2
/// session lists exactly this table (its very name strings, compared as pointers, in this
/// order), and a chacha20-poly1305 packet sealed and opened through it ran on
/// `src/ssh/chacha.rs`. Checked once; `false` is a broken build (see [`status`]).
pub fn table_in_effect() -> bool {
    static IN_EFFECT: OnceLock<bool> = OnceLock::new();
    *IN_EFFECT.get_or_init(|| layout_matches() && libssh2_lists_the_table() && chacha_runs_here())
}

/// One line on the ciphers libssh2 uses, for the log and `scout-mcp check`: `Ok` when it is
/// this table, `Err` when the table is built in but not in effect (no cipher can be agreed).
pub fn status() -> Result<String, String> {
    if table_in_effect() {
        Ok(format!(
            "scout's cipher table is in effect ({} first; AES-GCM a packet per call, \
             ChaCha20-Poly1305 on OpenSSL)",
            preference().first().map_or("?", String::as_str)
        ))
    } else if !layout_matches() {
        Err(
            "scout's cipher table is NOT in effect: libssh2's struct crypt_method differs from \
             src/ssh/ciphers.rs, so no cipher is offered (rebuild; see docs/SECURITY.md)"
                .to_string(),
        )
    } else {
        Err(
            "scout's cipher table is NOT in effect: libssh2 does not list it, or \
             chacha20-poly1305 did not run on src/ssh/chacha.rs (see docs/SECURITY.md)"
                .to_string(),
        )
    }
}

/// Whether a fresh libssh2 session lists this table's names, pointer for pointer.
fn libssh2_lists_the_table() -> bool {
    let Ok(session) = ssh2::Session::new() else {
        return false;
    };
    let Ok(listed) = session.supported_algs(ssh2::MethodType::CryptCs) else {
        return false;
    };
    listed.len() == methods().count()
        && listed
            .iter()
            .zip(methods())
            .all(|(name, m)| ptr::eq(name.as_ptr(), m.name.cast()))
}

/// Seals and opens one packet with chacha20-poly1305 through the table (libssh2's
/// `chachapoly_*` in between): it must round-trip and go through `src/ssh/chacha.rs`.
fn chacha_runs_here() -> bool {
    // A fixed key: this packet protects nothing.
    let mut key = [0x5c; 64];
    // 31 bytes and a padding byte: 32, whole 8-byte blocks as the method declares.
    let body = *b"scout's chacha20-poly1305 check";
    let mut packet = Vec::with_capacity(LENGTH_LEN + body.len() + 1 + TAG_LEN);
    packet.extend_from_slice(&32u32.to_be_bytes());
    packet.extend_from_slice(&body);
    packet.push(0);
    packet.extend_from_slice(&[0; TAG_LEN]);
    let before = chacha::calls();
    let m = &CHACHA20_POLY1305;
    let (Some(init), Some(crypt), Some(dtor)) = (m.init, m.crypt, m.dtor) else {
        return false;
    };
    // Seal (the length, the body, room for the tag), then open (the length is not counted).
    for (encrypt, len) in [(1, LENGTH_LEN + 32), (0, 32)] {
        let (mut free_iv, mut free_secret) = (0, 0);
        let mut abstract_ = ptr::null_mut();
        let mut no_iv = [0u8; 1];
        // SAFETY: a 64-byte key as the method declares, a packet laid out as libssh2 lays it
        // out for this direction, a context freed once.
        let rc = unsafe {
            if init(
                ptr::null_mut(),
                m,
                no_iv.as_mut_ptr(),
                &mut free_iv,
                key.as_mut_ptr(),
                &mut free_secret,
                encrypt,
                0,
                &mut abstract_,
            ) != 0
            {
                return false;
            }
            let rc = crypt(
                ptr::null_mut(),
                7,
                packet.as_mut_ptr(),
                len,
                &mut abstract_,
                0,
            );
            dtor(ptr::null_mut(), &mut abstract_);
            rc
        };
        if rc != 0 {
            return false;
        }
    }
    packet[..body.len()] == body && chacha::calls() > before
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const IV: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff];

    /// A context of `method` keyed with KEY/IV, as libssh2 would make it (chacha20-poly1305
    /// takes 64 bytes of key: KEY twice).
    fn keyed(method: &CryptMethod, encrypt: bool, key_file: bool) -> *mut c_void {
        let mut iv = IV;
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&KEY);
        key[32..].copy_from_slice(&KEY);
        let (mut free_iv, mut free_secret) = (0, 0);
        let mut abstract_ = ptr::null_mut();
        let init = method.init.unwrap();
        // SAFETY: valid pointers to local buffers of the sizes the method declares.
        let rc = unsafe {
            init(
                ptr::null_mut(),
                method,
                iv.as_mut_ptr(),
                &mut free_iv,
                key.as_mut_ptr(),
                &mut free_secret,
                encrypt as c_int,
                key_file as c_int,
                &mut abstract_,
            )
        };
        assert_eq!((rc, free_iv, free_secret), (0, 1, 1));
        abstract_
    }

    fn crypt(method: &CryptMethod, ctx: &mut *mut c_void, buf: &mut [u8], len: usize) -> c_int {
        crypt_seq(method, ctx, buf, len, 0)
    }

    /// As libssh2 calls it for packet number `seqno`.
    fn crypt_seq(
        method: &CryptMethod,
        ctx: &mut *mut c_void,
        buf: &mut [u8],
        len: usize,
        seqno: c_uint,
    ) -> c_int {
        assert!(buf.len() >= len + TAG_LEN);
        // SAFETY: `buf` holds `len` bytes plus the tag, as the full-packet path guarantees.
        unsafe { (method.crypt.unwrap())(ptr::null_mut(), seqno, buf.as_mut_ptr(), len, ctx, 0) }
    }

    fn free(method: &CryptMethod, mut ctx: *mut c_void) {
        // SAFETY: made by `keyed`, freed once.
        unsafe { (method.dtor.unwrap())(ptr::null_mut(), &mut ctx) };
        assert!(ctx.is_null());
    }

    /// A packet as libssh2's sender lays it out: length, body, room for the tag.
    fn packet(body: &[u8]) -> Vec<u8> {
        let mut p = (body.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        p.extend_from_slice(&[0; TAG_LEN]);
        p
    }

    /// What OpenSSL's plain AEAD interface makes of `body` with an explicit IV: ciphertext, tag.
    fn reference_seal(iv: &[u8; 12], aad: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; body.len() + TAG_LEN];
        // SAFETY: buffers sized for OpenSSL's writes.
        unsafe {
            let evp = ffi::EVP_CIPHER_CTX_new();
            let mut n = 0;
            assert_eq!(
                ffi::EVP_EncryptInit_ex(
                    evp,
                    ffi::EVP_aes_128_gcm(),
                    ptr::null_mut(),
                    KEY.as_ptr(),
                    iv.as_ptr()
                ),
                1
            );
            assert_eq!(
                ffi::EVP_EncryptUpdate(
                    evp,
                    ptr::null_mut(),
                    &mut n,
                    aad.as_ptr(),
                    aad.len() as c_int
                ),
                1
            );
            assert_eq!(
                ffi::EVP_EncryptUpdate(
                    evp,
                    out.as_mut_ptr(),
                    &mut n,
                    body.as_ptr(),
                    body.len() as c_int
                ),
                1
            );
            assert_eq!(
                ffi::EVP_EncryptFinal_ex(evp, out.as_mut_ptr().add(body.len()), &mut n),
                1
            );
            let tag = out.as_mut_ptr().add(body.len());
            assert_eq!(
                ffi::EVP_CIPHER_CTX_ctrl(evp, ffi::EVP_CTRL_GCM_GET_TAG, 16, tag.cast()),
                1
            );
            ffi::EVP_CIPHER_CTX_free(evp);
        }
        out
    }

    #[test]
    fn gcm_seals_each_packet_with_the_next_nonce_as_rfc_5647_says() {
        let mut seal = keyed(&AES128_GCM, true, false);
        let body: Vec<u8> = (0..64u8).collect();
        let mut iv = IV;
        for _ in 0..3 {
            let mut p = packet(&body);
            assert_eq!(
                crypt(&AES128_GCM, &mut seal, &mut p, LENGTH_LEN + body.len()),
                0
            );
            assert_eq!(
                &p[..LENGTH_LEN],
                &64u32.to_be_bytes(),
                "the length stays in clear"
            );
            assert_eq!(
                p[LENGTH_LEN..],
                reference_seal(&iv, &64u32.to_be_bytes(), &body)[..]
            );
            // The invocation counter is the IV's last 8 bytes, big-endian, +1 per packet.
            let counter = u64::from_be_bytes(iv[4..].try_into().unwrap()) + 1;
            iv[4..].copy_from_slice(&counter.to_be_bytes());
        }
        free(&AES128_GCM, seal);
    }

    #[test]
    fn gcm_opens_what_it_sealed_and_moves_the_length_out() {
        for method in [&AES128_GCM, &AES256_GCM] {
            let (mut seal, mut open) = (keyed(method, true, false), keyed(method, false, false));
            for round in 0..3u8 {
                let body: Vec<u8> = (0..32 * 1024).map(|i| (i as u8) ^ round).collect();
                let mut p = packet(&body);
                assert_eq!(crypt(method, &mut seal, &mut p, LENGTH_LEN + body.len()), 0);
                assert_ne!(&p[LENGTH_LEN..LENGTH_LEN + body.len()], &body[..]);
                assert_eq!(crypt(method, &mut open, &mut p, body.len()), 0);
                assert_eq!(&p[..body.len()], &body[..]);
            }
            free(method, seal);
            free(method, open);
        }
    }

    #[test]
    fn gcm_refuses_a_packet_changed_anywhere_or_replayed() {
        let body = [0x5au8; 48];
        let sealed = {
            let mut seal = keyed(&AES256_GCM, true, false);
            let mut p = packet(&body);
            assert_eq!(
                crypt(&AES256_GCM, &mut seal, &mut p, LENGTH_LEN + body.len()),
                0
            );
            free(&AES256_GCM, seal);
            p
        };
        // One flipped bit in the length (authenticated data), the body, or the tag.
        for at in [3, LENGTH_LEN + 10, sealed.len() - 1] {
            let mut open = keyed(&AES256_GCM, false, false);
            let mut p = sealed.clone();
            p[at] ^= 1;
            assert_ne!(
                crypt(&AES256_GCM, &mut open, &mut p, body.len()),
                0,
                "bit flipped at {at}"
            );
            free(&AES256_GCM, open);
        }
        // The same packet twice: the second is checked against the next nonce and refused.
        let mut open = keyed(&AES256_GCM, false, false);
        let mut p = sealed.clone();
        assert_eq!(crypt(&AES256_GCM, &mut open, &mut p, body.len()), 0);
        let mut p = sealed.clone();
        assert_ne!(crypt(&AES256_GCM, &mut open, &mut p, body.len()), 0);
        free(&AES256_GCM, open);
    }

    #[test]
    fn gcm_reads_the_clear_length_and_rejects_impossible_ones() {
        let len_of = |bytes: &[u8]| {
            let mut data = bytes.to_vec();
            let mut len = 0;
            // SAFETY: `data` holds `data.len()` bytes.
            let rc = unsafe {
                gcm_get_len(
                    ptr::null_mut(),
                    0,
                    data.as_mut_ptr(),
                    data.len(),
                    &mut len,
                    ptr::null_mut(),
                )
            };
            (rc == 0).then_some(len)
        };
        assert_eq!(len_of(&[0, 0, 0x80, 0x00, 9, 9]), Some(0x8000));
        assert_eq!(len_of(&[0, 0, 0, 17]), None, "not whole blocks");
        assert_eq!(len_of(&[0, 0, 0, 0]), None, "empty");
        assert_eq!(len_of(&[0, 0, 1]), None, "short");
    }

    #[test]
    fn the_table_is_null_terminated_and_prefers_gcm_only_with_aes_instructions() {
        let names = preference();
        assert_eq!(names.len(), AES_FIRST.0.len() - 1);
        let first = if hardware_aes() {
            "aes128-gcm@openssh.com"
        } else {
            "chacha20-poly1305@openssh.com"
        };
        assert_eq!(names[0], first);
        for gone in ["blowfish-cbc", "cast128-cbc", "arcfour", "arcfour128"] {
            assert!(!names.iter().any(|n| n == gone), "{gone}");
        }
    }

    /// A chacha20-poly1305 packet sealed as packet `seqno`: length, 32-byte body, tag.
    fn chacha_sealed(seqno: c_uint) -> Vec<u8> {
        let body: Vec<u8> = (0..32u8).collect();
        let mut seal = keyed(&CHACHA20_POLY1305, true, false);
        let mut p = packet(&body);
        let len = LENGTH_LEN + body.len();
        assert_eq!(
            crypt_seq(&CHACHA20_POLY1305, &mut seal, &mut p, len, seqno),
            0
        );
        free(&CHACHA20_POLY1305, seal);
        p
    }

    /// Opens `p` as packet `seqno` with a fresh context, with `fault` injected meanwhile.
    fn chacha_open(p: &[u8], seqno: c_uint, fault: Option<chacha::Fault>) -> c_int {
        let mut open = keyed(&CHACHA20_POLY1305, false, false);
        let mut p = p.to_vec();
        chacha::inject(fault);
        let rc = crypt_seq(&CHACHA20_POLY1305, &mut open, &mut p, 32, seqno);
        chacha::inject(None);
        free(&CHACHA20_POLY1305, open);
        rc
    }

    #[test]
    fn chacha_refuses_a_zero_or_wrong_tag_even_when_the_mac_computation_fails() {
        let sealed = chacha_sealed(5);
        let tag_at = LENGTH_LEN + 32;
        // The control: the packet opens, and a zero or changed tag is refused.
        assert_eq!(chacha_open(&sealed, 5, None), 0);
        let mut zero_tag = sealed.clone();
        zero_tag[tag_at..].fill(0);
        let mut wrong_tag = sealed.clone();
        wrong_tag[tag_at] ^= 0x80;
        assert_ne!(chacha_open(&zero_tag, 5, None), 0);
        assert_ne!(chacha_open(&wrong_tag, 5, None), 0);
        // Poly1305 failing (the expected tag used to become zeros), or ChaCha20 failing (the
        // Poly1305 key used to become zeros, under which every tag is zero): every packet is
        // refused, the zero tag above all, and the right tag too, as nothing was checked.
        for fault in [chacha::Fault::Poly1305, chacha::Fault::Chacha20] {
            for (what, p) in [
                ("zero tag", &zero_tag),
                ("wrong tag", &wrong_tag),
                ("right tag", &sealed),
            ] {
                assert_ne!(
                    chacha_open(p, 5, Some(fault)),
                    0,
                    "{what} accepted while {fault:?} failed"
                );
            }
        }
        // Nothing is left over for the next packet on this thread.
        assert!(!chacha::take_failure());
        assert_eq!(chacha_open(&sealed, 5, None), 0);
    }

    #[test]
    fn chacha_refuses_to_seal_or_read_a_length_when_a_primitive_fails() {
        for fault in [chacha::Fault::Poly1305, chacha::Fault::Chacha20] {
            let mut seal = keyed(&CHACHA20_POLY1305, true, false);
            let mut p = packet(&[0x11; 32]);
            chacha::inject(Some(fault));
            assert_ne!(
                crypt(&CHACHA20_POLY1305, &mut seal, &mut p, LENGTH_LEN + 32),
                0,
                "{fault:?}"
            );
            chacha::inject(None);
            free(&CHACHA20_POLY1305, seal);
        }
        let sealed = chacha_sealed(0);
        let mut open = keyed(&CHACHA20_POLY1305, false, false);
        let get_len = CHACHA20_POLY1305.get_len.unwrap();
        let mut data = sealed.clone();
        let mut len = 0;
        // SAFETY: `data` holds `data.len()` bytes; the context is a chacha20-poly1305 one.
        let mut read = |len: &mut c_uint| unsafe {
            get_len(ptr::null_mut(), 0, data.as_mut_ptr(), 4, len, &mut open)
        };
        assert_eq!((read(&mut len), len), (0, 32), "the control");
        chacha::inject(Some(chacha::Fault::Chacha20));
        assert_ne!(read(&mut len), 0);
        chacha::inject(None);
        free(&CHACHA20_POLY1305, open);
    }

    #[test]
    fn after_a_failed_packet_every_later_one_fails() {
        // chacha20-poly1305: a forged packet, then the genuine one with the same number (which
        // a fresh context opens).
        let sealed = chacha_sealed(9);
        let mut forged = sealed.clone();
        forged[LENGTH_LEN] ^= 1;
        let mut open = keyed(&CHACHA20_POLY1305, false, false);
        let mut p = forged.clone();
        assert_ne!(crypt_seq(&CHACHA20_POLY1305, &mut open, &mut p, 32, 9), 0);
        let mut p = sealed.clone();
        assert_ne!(crypt_seq(&CHACHA20_POLY1305, &mut open, &mut p, 32, 9), 0);
        free(&CHACHA20_POLY1305, open);
        assert_eq!(chacha_open(&sealed, 9, None), 0, "the control");

        // AES-GCM: a packet whose length is not whole blocks (refused before the nonce moves),
        // then a genuine one.
        let body = [0x33u8; 32];
        let mut seal = keyed(&AES128_GCM, true, false);
        let mut sealed = packet(&body);
        assert_eq!(
            crypt(&AES128_GCM, &mut seal, &mut sealed, LENGTH_LEN + 32),
            0
        );
        free(&AES128_GCM, seal);
        let mut open = keyed(&AES128_GCM, false, false);
        let mut p = sealed.clone();
        assert_ne!(crypt(&AES128_GCM, &mut open, &mut p, 31), 0);
        let mut p = sealed.clone();
        assert_ne!(crypt(&AES128_GCM, &mut open, &mut p, 32), 0);
        free(&AES128_GCM, open);
        let mut open = keyed(&AES128_GCM, false, false);
        let mut p = sealed.clone();
        assert_eq!(crypt(&AES128_GCM, &mut open, &mut p, 32), 0, "the control");
        free(&AES128_GCM, open);
    }

    #[test]
    fn a_chacha_key_is_wiped_when_its_context_is_dropped() {
        let mut slot = std::mem::MaybeUninit::new(Ctx::ChachaPoly {
            state: ChachaPolyCtx {
                main: ChachaCtx::zeroed(),
                header: ChachaCtx::zeroed(),
            },
            encrypt: true,
            key_file: false,
        });
        let words = |slot: &std::mem::MaybeUninit<Ctx>| -> Vec<u32> {
            // SAFETY: the slot holds a `Ctx` (dropped or not: the memory is still ours, and
            // `ChachaPolyCtx` is plain words).
            let Ctx::ChachaPoly { state, .. } = (unsafe { &*slot.as_ptr() }) else {
                panic!("not a chacha20-poly1305 context");
            };
            // SAFETY: `#[repr(C)]` structs of two `[u32; 16]`.
            unsafe { std::slice::from_raw_parts(ptr::from_ref(state).cast::<u32>(), 32) }.to_vec()
        };
        let key = [0xa5u8; 64];
        // SAFETY: the slot holds a `Ctx::ChachaPoly`; a 64-byte key.
        unsafe {
            let Ctx::ChachaPoly { state, .. } = &mut *slot.as_mut_ptr() else {
                unreachable!()
            };
            assert_eq!(chachapoly_init(state, key.as_ptr(), key.len()), 0);
        }
        let keyed = words(&slot);
        assert!(keyed[4..12].iter().all(|&w| w == 0xa5a5_a5a5), "main key");
        assert!(
            keyed[20..28].iter().all(|&w| w == 0xa5a5_a5a5),
            "header key"
        );
        // SAFETY: initialised above, dropped once.
        unsafe { slot.assume_init_drop() };
        assert_eq!(words(&slot), vec![0; 32]);
    }

    #[test]
    fn the_rust_layout_is_the_one_libssh2_was_compiled_with() {
        // SAFETY: a pointer to a static of `ciphers_check.c`.
        let theirs = unsafe { scout_libssh2_layout().as_ref() };
        assert_eq!(theirs, Some(&Layout::ours()));
        assert!(layout_matches());
    }

    #[test]
    fn the_table_is_in_effect_and_says_so() {
        assert!(table_in_effect(), "{:?}", status());
        let status = status().expect("the table is in effect");
        assert!(status.contains(&preference()[0]), "{status}");
        // What libssh2 lists is this table, not its own (which has blowfish-cbc).
        let session = ssh2::Session::new().unwrap();
        let listed = session.supported_algs(ssh2::MethodType::CryptCs).unwrap();
        assert_eq!(listed, preference());
        assert!(libssh2_lists_the_table());
    }
}
