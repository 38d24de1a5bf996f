//! Facts about the local machine: the home directory and the user name.

use std::ffi::CStr;
use std::path::PathBuf;

/// The local home directory: `$HOME`, else the password database, else `/`.
pub fn home_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => passwd_field(|pw| pw.pw_dir)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/")),
    }
}

/// The local user name, as OpenSSH takes it: from the password database of the effective user
/// (not `$USER`, which may be stale under `sudo`), else `$USER`, else `"unknown"`.
pub fn user_name() -> String {
    passwd_field(|pw| pw.pw_name)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Reads one string field of the effective user's passwd entry (re-entrant `getpwuid_r`).
fn passwd_field(field: impl Fn(&libc::passwd) -> *mut libc::c_char) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is plain data; getpwuid_r fills it with pointers into `buf`, which
    // outlives every use below. A null `result` means "not found" or an error.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        let ptr = field(&pw);
        if ptr.is_null() {
            return None;
        }
        Some(CStr::from_ptr(ptr).to_string_lossy().into_owned())
    }
}

/// Expands a leading `~` or `~/` against the local home directory.
pub fn expand_tilde(path: &str, home: &std::path::Path) -> std::path::PathBuf {
    if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        std::path::PathBuf::from(path)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_and_home_are_not_empty() {
        assert!(!super::user_name().is_empty());
        assert!(super::home_dir().is_absolute());
    }
}
