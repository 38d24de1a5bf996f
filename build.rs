//! Decides whether scout replaces libssh2's cipher table and ChaCha20/Poly1305 at link time
//! (`src/ssh/ciphers.rs`, `src/ssh/chacha.rs`), and checks first that the libssh2 being built
//! has the private struct layout and function prototypes those files copy.
//!
//! The check compiles `src/ssh/ciphers_check.c` against libssh2's private headers, from the
//! source of the `libssh2-sys` that `Cargo.toml` pins, with the defines `libssh2-sys` builds
//! libssh2 with: a difference is a compile error there, and this build fails with it. When the
//! check cannot run at all, the replacement is not compiled (`cfg(scout_cipher_table)` is not
//! set) and libssh2 keeps its own ciphers, with a warning saying why:
//!
//! * libssh2 is the system's (`LIBSSH2_SYS_USE_PKG_CONFIG`, vcpkg), not the copy `libssh2-sys`
//!   compiles (it then exports no `DEP_SSH2_ROOT`);
//! * not a Unix target (libssh2-sys uses Windows CNG there), or OpenSSL older than 3, or
//!   LibreSSL;
//! * libssh2's private headers were not found (`SCOUT_LIBSSH2_SRC` can name the `libssh2-sys`
//!   source directory);
//! * `SCOUT_CIPHER_TABLE=off`.
//!
//! `SCOUT_CIPHER_TABLE=require` turns each of those into a build error instead (for CI, and
//! for anyone who wants the fast ciphers or nothing).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

/// The cfg that compiles the replacement.
const CFG: &str = "scout_cipher_table";

fn main() {
    println!("cargo::rustc-check-cfg=cfg({CFG})");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/ssh/ciphers_check.c");
    println!("cargo::rerun-if-changed=Cargo.toml");
    for var in [
        "SCOUT_CIPHER_TABLE",
        "SCOUT_LIBSSH2_SRC",
        "LIBSSH2_SYS_USE_PKG_CONFIG",
        "DEP_SSH2_ROOT",
        "DEP_SSH2_INCLUDE",
        "DEP_OPENSSL_INCLUDE",
        "DEP_OPENSSL_VERSION_NUMBER",
        "DEP_OPENSSL_LIBRESSL_VERSION_NUMBER",
        "CARGO_HOME",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let mode = env::var("SCOUT_CIPHER_TABLE").unwrap_or_default();
    let found = if mode == "off" {
        Err("SCOUT_CIPHER_TABLE=off".to_string())
    } else {
        libssh2_source()
    };
    match found {
        Ok(libssh2) => {
            check_layout(&libssh2);
            println!("cargo::rustc-cfg={CFG}");
        }
        Err(why) if mode == "require" => panic!(
            "\n\nscout-mcp: SCOUT_CIPHER_TABLE=require, but the cipher table cannot be checked \
             against libssh2: {why}.\nUnset SCOUT_CIPHER_TABLE to build with libssh2's own \
             (slower) ciphers instead; see docs/SECURITY.md.\n"
        ),
        Err(why) => {
            println!(
                "cargo::warning=scout-mcp uses libssh2's own ciphers (slower transfers), not its \
                 faster cipher table: {why}. See docs/SECURITY.md."
            );
            println!("cargo::rustc-env=SCOUT_CIPHER_FALLBACK={why}");
        }
    }
}

/// Where to compile the check from.
struct Libssh2 {
    /// libssh2's `src`: the private headers.
    src: PathBuf,
    /// The public headers libssh2-sys installed.
    include: PathBuf,
    /// libssh2-sys's `OUT_DIR`.
    root: PathBuf,
    /// OpenSSL's headers, as openssl-sys found them.
    openssl_include: Vec<PathBuf>,
}

/// The libssh2 that libssh2-sys compiles, with its private headers, when the table may be
/// used with it; otherwise why not.
fn libssh2_source() -> Result<Libssh2, String> {
    let family = env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    if !family.split(',').any(|f| f == "unix") {
        return Err("not a Unix target (libssh2-sys builds libssh2 without OpenSSL)".into());
    }
    let Some(root) = env::var_os("DEP_SSH2_ROOT").map(PathBuf::from) else {
        return Err(
            "libssh2 is a system library (LIBSSH2_SYS_USE_PKG_CONFIG or vcpkg), not the \
                    copy libssh2-sys compiles, so its private layout cannot be checked"
                .into(),
        );
    };
    if env::var_os("DEP_OPENSSL_LIBRESSL_VERSION_NUMBER").is_some() {
        return Err("OpenSSL is LibreSSL (the table needs OpenSSL 3)".into());
    }
    let version = env::var("DEP_OPENSSL_VERSION_NUMBER").unwrap_or_default();
    match u64::from_str_radix(&version, 16) {
        Ok(v) if v >= 0x3000_0000 => {}
        Ok(v) => return Err(format!("OpenSSL {v:#x} is older than 3")),
        Err(_) => return Err("openssl-sys did not report the OpenSSL version".into()),
    }
    let include = env::var_os("DEP_SSH2_INCLUDE")
        .and_then(|paths| env::split_paths(&paths).next())
        .ok_or("libssh2-sys did not report its include directory")?;
    let public = fs::read(include.join("libssh2.h"))
        .map_err(|e| format!("cannot read libssh2.h in {}: {e}", include.display()))?;
    let src = private_headers(&public)?;
    let openssl_include = env::var_os("DEP_OPENSSL_INCLUDE")
        .map(|paths| env::split_paths(&paths).collect())
        .unwrap_or_default();
    Ok(Libssh2 {
        src,
        include,
        root,
        openssl_include,
    })
}

/// libssh2's `src` directory in the `libssh2-sys` source whose `libssh2.h` is the one being
/// compiled (`public`): `SCOUT_LIBSSH2_SRC` if set, else the pinned version next to this
/// package (a registry or a vendor directory), else in Cargo's registry.
fn private_headers(public: &[u8]) -> Result<PathBuf, String> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut candidates = Vec::new();
    if let Some(dir) = env::var_os("SCOUT_LIBSSH2_SRC") {
        candidates.push(PathBuf::from(dir));
    } else {
        let version = pinned_version(&manifest_dir)?;
        let name = format!("libssh2-sys-{version}");
        if let Some(parent) = manifest_dir.parent() {
            candidates.push(parent.join(&name));
            candidates.push(parent.join("libssh2-sys"));
        }
        let cargo_home = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")));
        if let Some(registry) = cargo_home.map(|home| home.join("registry").join("src")) {
            if let Ok(indexes) = fs::read_dir(registry) {
                let mut indexes: Vec<PathBuf> = indexes.flatten().map(|e| e.path()).collect();
                indexes.sort();
                candidates.extend(indexes.iter().map(|index| index.join(&name)));
            }
        }
    }
    for crate_dir in &candidates {
        let libssh2 = crate_dir.join("libssh2");
        let same_library = fs::read(libssh2.join("include").join("libssh2.h"))
            .is_ok_and(|header| header == public);
        if same_library && libssh2.join("src").join("libssh2_priv.h").is_file() {
            println!("cargo::rerun-if-changed={}", libssh2.join("src").display());
            return Ok(libssh2.join("src"));
        }
    }
    Err(format!(
        "libssh2's private headers were not found (looked for the libssh2-sys source whose \
         libssh2.h is the one being built in: {}); set SCOUT_LIBSSH2_SRC to that libssh2-sys \
         source directory",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The `=X.Y.Z` of `libssh2-sys` in this package's `Cargo.toml`.
fn pinned_version(manifest_dir: &Path) -> Result<String, String> {
    let manifest = fs::read_to_string(manifest_dir.join("Cargo.toml"))
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    manifest
        .lines()
        .filter(|line| line.trim_start().starts_with("libssh2-sys"))
        .find_map(|line| {
            let start = line.find("\"=")? + 2;
            let len = line[start..].find('"')?;
            Some(line[start..start + len].to_string())
        })
        .ok_or_else(|| "Cargo.toml does not pin libssh2-sys with `=X.Y.Z`".into())
}

/// Compiles `src/ssh/ciphers_check.c` as libssh2-sys compiles libssh2; a layout or prototype
/// that differs from the Rust copy stops the build here.
fn check_layout(libssh2: &Libssh2) {
    let mut build = cc::Build::new();
    build
        .file("src/ssh/ciphers_check.c")
        .include(&libssh2.include)
        .include(&libssh2.src)
        .include(libssh2.root.join("build"));
    for dir in &libssh2.openssl_include {
        build.include(dir);
    }
    // libssh2-sys's defines for Unix (its build.rs), so the headers take the same branches.
    for define in [
        "HAVE_LONGLONG",
        "HAVE_SNPRINTF",
        "HAVE_UNISTD_H",
        "HAVE_INTTYPES_H",
        "HAVE_STDLIB_H",
        "HAVE_SYS_SELECT_H",
        "HAVE_SYS_SOCKET_H",
        "HAVE_SYS_IOCTL_H",
        "HAVE_SYS_TIME_H",
        "HAVE_SYS_UN_H",
        "HAVE_O_NONBLOCK",
        "LIBSSH2_OPENSSL",
        "HAVE_LIBCRYPT32",
        "HAVE_EVP_AES_128_CTR",
        "HAVE_POLL",
        "HAVE_GETTIMEOFDAY",
        "LIBSSH2_DH_GEX_NEW",
        "LIBSSH2_HAVE_ZLIB",
    ] {
        build.define(define, None);
    }
    if env::var("PROFILE").is_ok_and(|p| p.contains("debug")) {
        build.define("LIBSSH2DEBUG", None);
    }
    build.std("c11").warnings(false);
    if let Err(e) = build.try_compile("scout_ciphers_check") {
        panic!(
            "\n\nscout-mcp: libssh2's private cipher layout or prototypes differ from the copy \
             in src/ssh/ciphers.rs and src/ssh/chacha.rs (libssh2 source: {}).\nThe compiler's \
             messages above name each difference. Update the Rust copy (and \
             src/ssh/ciphers_check.c) to that libssh2, or build with SCOUT_CIPHER_TABLE=off to \
             use libssh2's own ciphers.\n{e}\n",
            libssh2.src.display()
        );
    }
}
