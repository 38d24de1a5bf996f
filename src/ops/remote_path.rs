//! Validating and quoting remote paths from `target` (`host:PATH`, docs/BEHAVIOUR.md §3.1).
//!
//! The agent's path is used in two places: as a word in a remote shell command (`cd PATH && ...`,
//! `cat PATH`), and as an SFTP path. Rules:
//!
//! - **Validation** ([`validate`]): the path must not be empty, must be at most
//!   [`MAX_PATH_LEN`] bytes, and must not contain a NUL byte, a newline or a carriage return
//!   (they cannot be passed through SFTP or a one-line command safely, and are almost always a
//!   mistake). A `..` segment is allowed only where it stays inside the path: it may undo a
//!   segment written before it (`a/../b`), but not climb above where the path starts (`/`
//!   for an absolute path, the login directory for a relative one, `~` for a home path):
//!   `/etc/../../x`, `a/../../b`, `..`, `~/..` are refused. Names that merely contain dots
//!   (`..hidden`, `a..b`, `...`) are ordinary names.
//! - **Shell word** ([`shell_word`]): `~` stays `~` and `~/x y` becomes `~/'x y'`: only the part
//!   after `~/` is quoted so the remote shell still expands `~` to the home directory. Every
//!   other path is quoted whole with [`shell_quote`]; that includes `~user/...`, which is
//!   therefore *not* expanded (it names a directory literally called `~user` under the login
//!   directory) — scout-mcp does not look into other users' homes by name. A relative path that
//!   starts with `-` gets a `./` prefix so that no command (`cd -`, `cat -n`) reads it as an
//!   option.
//! - **SFTP path** ([`sftp_path`]): SFTP's working directory is the login (home) directory and
//!   SFTP does not expand `~`, so `~` → `.`, `~/x` → `x`; relative paths stay relative and
//!   absolute paths stay absolute. `~user/...` is passed on unchanged, as a relative path, the
//!   same literal meaning as in [`shell_word`].

use crate::ops::command::shell_quote;
use std::fmt;

/// The longest path accepted, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;

/// Why a path was refused; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathError {}

/// Validates a remote path as given by the agent (after the `host:` part, trimmed by caller).
pub fn validate(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError(
            "the path is empty: write host:PATH, e.g. host:/var/log or host:~ for the home \
             directory"
                .to_string(),
        ));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(PathError(format!(
            "the path is {} bytes long; at most {MAX_PATH_LEN} bytes are accepted",
            path.len()
        )));
    }
    if path.contains('\0') {
        return Err(PathError(
            "the path contains a NUL byte, which no remote path can contain; remove it".into(),
        ));
    }
    if path.contains(['\n', '\r']) {
        return Err(PathError(
            "the path contains a line break (newline or carriage return); remove it".into(),
        ));
    }
    check_dot_dot(path)
}

/// Refuses `..` segments that climb above the start of the path.
fn check_dot_dot(path: &str) -> Result<(), PathError> {
    let (start, rest) = split_start(path);
    let mut depth: usize = 0;
    for segment in rest.split('/') {
        match segment {
            "" | "." => {}
            ".." if depth == 0 => return Err(climbs_above(path, start)),
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    Ok(())
}

/// The anchor a path starts from (for messages) and the rest of it.
fn split_start(path: &str) -> (&'static str, &str) {
    if path == "~" {
        ("the home directory `~`", "")
    } else if let Some(rest) = path.strip_prefix("~/") {
        ("the home directory `~`", rest)
    } else if path.starts_with('/') {
        ("the root `/`", path)
    } else {
        ("the login directory the relative path starts from", path)
    }
}

fn climbs_above(path: &str, start: &str) -> PathError {
    PathError(format!(
        "the path `{path}` uses `..` to climb above {start}; `..` may only undo a directory \
         written before it. Write the directory you mean directly (e.g. an absolute path)"
    ))
}

/// The path as a shell word for `cd`/arguments: `~` → `~`, `~/x y` → `~/'x y'` (only the part
/// after `~/` is quoted so the shell expands `~`), a relative path starting with `-` gets `./`,
/// anything else is fully `shell_quote`d (including `~user` forms, which are not expanded).
pub fn shell_word(path: &str) -> String {
    if path == "~" {
        return "~".to_string();
    }
    if let Some(rest) = path.strip_prefix("~/") {
        if rest.is_empty() {
            return "~/".to_string();
        }
        return format!("~/{}", shell_quote(rest));
    }
    if path.starts_with('-') {
        return shell_quote(&format!("./{path}"));
    }
    shell_quote(path)
}

/// The path as an SFTP path: SFTP's working directory is the login (home) directory, so `~` →
/// `.`, `~/x` → `x`, relative stays relative, absolute stays absolute.
pub fn sftp_path(path: &str) -> String {
    if path == "~" {
        return ".".to_string();
    }
    match path.strip_prefix("~/") {
        Some(rest) => {
            let rest = rest.trim_start_matches('/');
            if rest.is_empty() {
                ".".to_string()
            } else {
                rest.to_string()
            }
        }
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn refused(path: &str) -> String {
        match validate(path) {
            Ok(()) => panic!("{path:?} was accepted"),
            Err(PathError(message)) => message,
        }
    }

    #[test]
    fn empty_path_is_refused() {
        assert!(refused("").contains("empty"));
    }

    #[test]
    fn nul_and_line_breaks_are_refused() {
        assert!(refused("/tmp/a\0b").contains("NUL"));
        assert!(refused("/tmp/a\nb").contains("line break"));
        assert!(refused("/tmp/a\rb").contains("line break"));
        assert!(refused("\n").contains("line break"));
    }

    #[test]
    fn length_limit_is_4096_bytes() {
        let longest = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        assert_eq!(validate(&longest), Ok(()));
        let too_long = format!("{longest}a");
        assert!(refused(&too_long).contains("4096"));
        // Bytes, not characters: 2049 two-byte characters are 4098 bytes.
        assert!(validate(&"é".repeat(2049)).is_err());
    }

    #[test]
    fn dot_dot_climbing_above_the_start_is_refused() {
        for path in [
            "/etc/../../x",
            "/..",
            "/../etc",
            "a/../../b",
            "..",
            "../x",
            "./..",
            "a/./../..",
            "a//..//..",
            "~/..",
            "~/../other",
            "~/a/../..",
            "/a/b/../../../c",
        ] {
            let message = refused(path);
            assert!(message.contains("climb above"), "{path:?}: {message}");
        }
        assert!(refused("/..").contains("the root `/`"));
        assert!(refused("~/..").contains("home directory"));
        assert!(refused("..").contains("login directory"));
    }

    #[test]
    fn dot_dot_inside_the_path_and_dotted_names_are_fine() {
        for path in [
            "/",
            "~",
            "~/",
            ".",
            "a/../b",
            "/a/..",
            "/a/b/../c/",
            "~/a/..",
            "~/a/../b",
            "..hidden",
            "a..b",
            "...",
            "/x/...",
            "/x/..hidden/y",
            "~/..bashrc",
            "a//..//b",
            "~user/..",
            "my dir/it's $(not run)",
            "/tmp/日本語",
        ] {
            assert_eq!(validate(path), Ok(()), "{path:?}");
        }
    }

    #[test]
    fn shell_word_quotes_all_but_the_home_prefix() {
        let cases = [
            ("~", "~"),
            ("~/", "~/"),
            ("~/x", "~/'x'"),
            ("~/x y", "~/'x y'"),
            ("~/it's", "~/'it'\\''s'"),
            ("~user/x", "'~user/x'"),
            ("~user", "'~user'"),
            ("/etc/hosts", "'/etc/hosts'"),
            ("relative dir", "'relative dir'"),
            ("-rf", "'./-rf'"),
            ("-", "'./-'"),
            ("$(id)", "'$(id)'"),
            ("a'b", "'a'\\''b'"),
        ];
        for (path, expected) in cases {
            assert_eq!(shell_word(path), expected, "{path:?}");
        }
    }

    #[test]
    fn shell_word_is_read_back_exactly_by_sh() {
        let home = "/home/scout-test";
        let cases = [
            ("~", home.to_string()),
            ("~/", format!("{home}/")),
            ("~/x y", format!("{home}/x y")),
            ("~/a'b\"c$d`e\\f", format!("{home}/a'b\"c$d`e\\f")),
            ("~user/x", "~user/x".to_string()),
            ("/tmp/$(id) `id` ${x}", "/tmp/$(id) `id` ${x}".to_string()),
            ("*.log", "*.log".to_string()),
            ("-n", "./-n".to_string()),
            ("日本 語", "日本 語".to_string()),
        ];
        for (path, expected) in cases {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_word(path)))
                .env("HOME", home)
                .output()
                .expect("run /bin/sh");
            assert_eq!(out.stdout, expected.as_bytes(), "{path:?}");
        }
    }

    #[test]
    fn sftp_path_resolves_home_to_the_login_directory() {
        let cases = [
            ("~", "."),
            ("~/", "."),
            ("~//", "."),
            ("~/x", "x"),
            ("~/x/y z", "x/y z"),
            ("~//x", "x"),
            ("/abs/path", "/abs/path"),
            ("rel/path", "rel/path"),
            (".", "."),
            ("~user/x", "~user/x"),
            ("a~", "a~"),
        ];
        for (path, expected) in cases {
            assert_eq!(sftp_path(path), expected, "{path:?}");
        }
    }

    #[test]
    fn path_error_is_an_error() {
        let err: Box<dyn std::error::Error> = Box::new(PathError("fix it".into()));
        assert_eq!(err.to_string(), "fix it");
    }

    #[test]
    fn random_paths_never_panic() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let pieces = [
            "a", "/", "..", ".", "~", "~/", "\0", "\n", "é", "'", " ", "-", "日",
        ];
        for _ in 0..10_000 {
            let mut path = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 10) as usize;
            for i in 0..len {
                let index = ((state >> (i * 4)) % pieces.len() as u64) as usize;
                path.push_str(pieces[index]);
            }
            let _ = validate(&path);
            let word = shell_word(&path);
            assert!(word.starts_with('\'') || word.starts_with('~'), "{word:?}");
            let _ = sftp_path(&path);
        }
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_validate() {
        use crate::ops::remote_path::validate;
        assert!(validate("/var/log").is_ok() && validate("~/app").is_ok());
        assert!(validate("/var/../../etc").is_err()); // climbs above where it started
        assert!(validate("a\nb").is_err());
    }

    #[test]
    fn example_shell_word() {
        use crate::ops::remote_path::shell_word;
        assert_eq!(shell_word("~/my dir"), "~/'my dir'");
        assert_eq!(shell_word("-x"), "'./-x'");
    }

    #[test]
    fn example_sftp_path() {
        use crate::ops::remote_path::sftp_path;
        assert_eq!(sftp_path("~"), ".");
        assert_eq!(sftp_path("~/notes.txt"), "notes.txt");
        assert_eq!(sftp_path("/etc/hosts"), "/etc/hosts");
    }
}
