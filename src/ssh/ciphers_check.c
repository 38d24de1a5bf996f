/*
 * Build-time check of what src/ssh/ciphers.rs and src/ssh/chacha.rs copy from libssh2's
 * private headers: the layout of `struct crypt_method`, `struct chacha_ctx` and
 * `struct chachapoly_ctx`, the flag values, and the prototypes of the libssh2-internal
 * functions the Rust side calls or replaces.
 *
 * build.rs compiles this file against the private headers of the very libssh2 that
 * libssh2-sys compiles, with the same defines. Any difference is a compile error here (so the
 * build stops before a table with the wrong layout is linked), and each message names the
 * Rust item to update. The Rust side compares its own `size_of`/`offset_of!` with
 * `scout_libssh2_layout()` (the figures of the real struct) at start-up and in its unit tests,
 * which closes the loop between the Rust declaration and the C mirror below.
 *
 * GCC and Clang only (`__typeof__`, `__builtin_types_compatible_p`): build.rs compiles it only
 * for the Unix targets on which libssh2-sys builds libssh2 with OpenSSL.
 */

#include <stddef.h>

#include "libssh2_priv.h"
#include "cipher-chachapoly.h"

#ifndef LIBSSH2_OPENSSL
#error "libssh2 is not built with OpenSSL: the cipher table of src/ssh/ciphers.rs needs it"
#endif

#if OPENSSL_VERSION_NUMBER < 0x30000000L || defined(LIBRESSL_VERSION_NUMBER)
#error "OpenSSL 3 is needed by src/ssh/chacha.rs (EVP_MAC) and src/ssh/ciphers.rs"
#endif

#define SAME_TYPE(a, b) __builtin_types_compatible_p(__typeof__(a), __typeof__(b))
#define CHECK(cond, what) \
    _Static_assert(cond, "libssh2 changed " what ": update the Rust copy in src/ssh/ to match")

/* ---- struct crypt_method: the Rust `CryptMethod`, field for field, in C ---- */

typedef int (*scout_init_fn)(LIBSSH2_SESSION *session, const struct crypt_method *method,
                             unsigned char *iv, int *free_iv, unsigned char *secret,
                             int *free_secret, int encrypt, int key_file, void **abstract);
typedef int (*scout_get_len_fn)(LIBSSH2_SESSION *session, unsigned int seqno,
                                unsigned char *data, size_t data_size, unsigned int *len,
                                void **abstract);
typedef int (*scout_crypt_fn)(LIBSSH2_SESSION *session, unsigned int seqno,
                              unsigned char *buf, size_t len, void **abstract, int firstlast);
typedef int (*scout_dtor_fn)(LIBSSH2_SESSION *session, void **abstract);
/* `Algo`: the EVP constructor of the cipher. */
typedef const EVP_CIPHER *(*scout_algo_fn)(void);

struct scout_crypt_method {
    const char *name;
    const char *pem_annotation;
    int blocksize;
    int iv_len;
    int secret_len;
    int auth_len;
    long flags;
    scout_init_fn init;
    scout_get_len_fn get_len;
    scout_crypt_fn crypt;
    scout_dtor_fn dtor;
    scout_algo_fn algo;
};

#define LIB(field) (((struct crypt_method *)0)->field)
#define OURS(field) (((struct scout_crypt_method *)0)->field)
#define SAME_FIELD(field)                                                            \
    CHECK(SAME_TYPE(LIB(field), OURS(field)), "the type of crypt_method." #field);   \
    CHECK(offsetof(struct crypt_method, field) ==                                    \
              offsetof(struct scout_crypt_method, field),                            \
          "the offset of crypt_method." #field)

SAME_FIELD(name);
SAME_FIELD(pem_annotation);
SAME_FIELD(blocksize);
SAME_FIELD(iv_len);
SAME_FIELD(secret_len);
SAME_FIELD(auth_len);
SAME_FIELD(flags);
SAME_FIELD(init);
SAME_FIELD(get_len);
SAME_FIELD(crypt);
SAME_FIELD(dtor);
SAME_FIELD(algo);
/* No field added at the end (or anywhere: every field above sits where ours does). */
CHECK(sizeof(struct crypt_method) == sizeof(struct scout_crypt_method),
      "the size of struct crypt_method");
CHECK(_Alignof(struct crypt_method) == _Alignof(struct scout_crypt_method),
      "the alignment of struct crypt_method");
/* libssh2's method lists read every method as `struct common_method { const char *name; }`. */
CHECK(offsetof(struct crypt_method, name) == 0, "the place of crypt_method.name");

/* The flags and the error code the Rust side writes by value. */
CHECK(SSH2_CRYPT_FLAG_PKTLEN_AAD == 2, "SSH2_CRYPT_FLAG_PKTLEN_AAD (FLAG_PKTLEN_AAD)");
CHECK(SSH2_CRYPT_FLAG_REQUIRES_FULL_PACKET == 4,
      "SSH2_CRYPT_FLAG_REQUIRES_FULL_PACKET (FLAG_REQUIRES_FULL_PACKET)");
CHECK(LIBSSH2_ERROR_ALLOC == -6, "LIBSSH2_ERROR_ALLOC (ERROR_ALLOC)");

/* The table itself: `ssh2_crypt_methods` is defined in Rust with this prototype. */
CHECK(SAME_TYPE(&ssh2_crypt_methods, (const struct crypt_method **(*)(void))0),
      "the prototype of ssh2_crypt_methods");

/* ---- what the Rust table calls in libssh2 ---- */

/* `ssh2_cipher_ctx` is `EVP_CIPHER_CTX *` with OpenSSL: the Rust side keeps a
   `*mut EVP_CIPHER_CTX` and frees it with EVP_CIPHER_CTX_free, as libssh2's dtor does. */
CHECK(SAME_TYPE((ssh2_cipher_ctx)0, (EVP_CIPHER_CTX *)0), "ssh2_cipher_ctx");
CHECK(SAME_TYPE(&ssh2_cipher_init,
                (int (*)(EVP_CIPHER_CTX **, scout_algo_fn, unsigned char *, unsigned char *,
                         int))0),
      "the prototype of ssh2_cipher_init");
CHECK(SAME_TYPE(&ssh2_cipher_crypt,
                (int (*)(EVP_CIPHER_CTX **, scout_algo_fn, int, unsigned char *, size_t,
                         int))0),
      "the prototype of ssh2_cipher_crypt");

/* Rust's `u64` for libssh2_uint64_t: any unsigned 64-bit integer passes the same way. */
CHECK(sizeof(libssh2_uint64_t) == 8 && (libssh2_uint64_t)-1 > 0, "libssh2_uint64_t");
CHECK(SAME_TYPE(&chachapoly_init,
                (int (*)(struct chachapoly_ctx *, const unsigned char *, size_t))0),
      "the prototype of chachapoly_init");
CHECK(SAME_TYPE(&chachapoly_crypt,
                (int (*)(struct chachapoly_ctx *, libssh2_uint64_t, unsigned char *,
                         const unsigned char *, size_t, size_t, int))0),
      "the prototype of chachapoly_crypt");
CHECK(SAME_TYPE(&chachapoly_get_length,
                (int (*)(struct chachapoly_ctx *, unsigned int *, libssh2_uint64_t,
                         const unsigned char *, size_t))0),
      "the prototype of chachapoly_get_length");

/* ---- the ChaCha20/Poly1305 state and functions src/ssh/chacha.rs defines ---- */

/* `ChachaCtx` is `[u32; 16]`; `ChachaPolyCtx` is two of them, main first. */
CHECK(sizeof(struct chacha_ctx) == 16 * 4 && sizeof(u32) == 4 &&
          SAME_TYPE(((struct chacha_ctx *)0)->input[0], (unsigned int)0),
      "struct chacha_ctx (src/ssh/chacha.rs ChachaCtx)");
CHECK(sizeof(struct chachapoly_ctx) == 2 * sizeof(struct chacha_ctx) &&
          offsetof(struct chachapoly_ctx, main_ctx) == 0 &&
          offsetof(struct chachapoly_ctx, header_ctx) == sizeof(struct chacha_ctx),
      "struct chachapoly_ctx (ChachaPolyCtx)");
CHECK(SAME_TYPE(&chacha_keysetup, (void (*)(struct chacha_ctx *, const u8 *, u32))0),
      "the prototype of chacha_keysetup (src/ssh/chacha.rs)");
CHECK(SAME_TYPE(&chacha_ivsetup,
                (void (*)(struct chacha_ctx *, const u8 *, const u8 *))0),
      "the prototype of chacha_ivsetup (src/ssh/chacha.rs)");
CHECK(SAME_TYPE(&chacha_encrypt_bytes,
                (void (*)(struct chacha_ctx *, const u8 *, u8 *, size_t))0),
      "the prototype of chacha_encrypt_bytes (src/ssh/chacha.rs)");
CHECK(SAME_TYPE(&poly1305_auth,
                (void (*)(unsigned char *, const unsigned char *, size_t,
                          const unsigned char *))0),
      "the prototype of poly1305_auth (src/ssh/chacha.rs)");
CHECK(POLY1305_KEYLEN == 32 && POLY1305_TAGLEN == 16, "POLY1305_KEYLEN/TAGLEN");

/* ---- the figures of the real structs, for the Rust side to compare with its own ---- */

/* Keep in step with `Layout` in src/ssh/ciphers.rs. */
struct scout_libssh2_layout {
    size_t crypt_method_size;
    size_t crypt_method_align;
    size_t offsets[12];
    size_t chachapoly_ctx_size;
    size_t chachapoly_header_offset;
};

static const struct scout_libssh2_layout layout = {
    sizeof(struct crypt_method),
    _Alignof(struct crypt_method),
    {
        offsetof(struct crypt_method, name),
        offsetof(struct crypt_method, pem_annotation),
        offsetof(struct crypt_method, blocksize),
        offsetof(struct crypt_method, iv_len),
        offsetof(struct crypt_method, secret_len),
        offsetof(struct crypt_method, auth_len),
        offsetof(struct crypt_method, flags),
        offsetof(struct crypt_method, init),
        offsetof(struct crypt_method, get_len),
        offsetof(struct crypt_method, crypt),
        offsetof(struct crypt_method, dtor),
        offsetof(struct crypt_method, algo),
    },
    sizeof(struct chachapoly_ctx),
    offsetof(struct chachapoly_ctx, header_ctx),
};

const struct scout_libssh2_layout *scout_libssh2_layout(void);

const struct scout_libssh2_layout *scout_libssh2_layout(void)
{
    return &layout;
}
