//! Operations that need a remote program: `query` (a command in a directory) and `tree`.

use std::collections::BTreeMap;

use crate::control::Control;
use crate::error::Error;
use crate::ops::command::shell_quote;
use crate::ops::{fs, remote_path};
use crate::ssh::exec::{ExecLimits, ExecOutput};
use crate::ssh::mux::{Conn, Failure, SftpChannel};
use crate::ssh::sftp_client::Sftp;

/// Runs `command_line` (already vetted by the command policy) with `dir` as working directory.
///
/// The directory is not checked first: that would start the host's SFTP server on every
/// connection of a command-only broadcast. Only when the shell could not enter it does an SFTP
/// `stat` explain why ([`explain_cd_failure`]).
pub fn query(
    conn: &Conn,
    dir: &str,
    command_line: &str,
    limits: &ExecLimits,
    cancel: &Control,
) -> Result<ExecOutput, Failure> {
    let out = conn.exec(&in_dir(dir, command_line), limits, cancel)?;
    if could_not_enter(&out) {
        return Err(explain_cd_failure(conn, dir, cancel));
    }
    Ok(out)
}

/// What the shell prints on stderr, alone, when it cannot enter the directory of a query.
const CD_FAILED: &str = "scout-mcp: cannot enter the target directory";

/// `command_line` run in `dir`: when `cd` fails, nothing runs and stderr says [`CD_FAILED`].
pub fn in_dir(dir: &str, command_line: &str) -> String {
    format!(
        "cd {} 2>/dev/null || {{ echo '{CD_FAILED}' >&2; exit 1; }}; {command_line}",
        remote_path::shell_word(dir),
    )
}

/// Whether a query's output is the shell's report that it could not enter the directory (a
/// command that ran and printed the same line would have entered it: the `stat` then says so).
pub fn could_not_enter(out: &ExecOutput) -> bool {
    out.exit_code == Some(1)
        && out.stdout.is_empty()
        && out.stderr.strip_suffix(b"\n") == Some(CD_FAILED.as_bytes())
}

/// The error for a directory the shell could not enter: missing, not a directory, or not
/// searchable, as an SFTP `stat` tells.
pub fn explain_cd_failure(conn: &Conn, dir: &str, control: &Control) -> Failure {
    let sftp = Sftp::new(conn, SftpChannel::Shared, control);
    match fs::stat(&sftp, dir) {
        Ok(attrs) => cd_error(dir, attrs.is_dir()).into(),
        Err(f) => f,
    }
}

/// Why a query's directory `dir`, which exists, could not be entered.
pub fn cd_error(dir: &str, is_dir: bool) -> Error {
    const WHY: &str = "`query` runs in the target's directory (use its parent)";
    if is_dir {
        Error::invalid_argument(format!(
            "cannot enter directory '{dir}' (permission denied for the remote user?): {WHY}"
        ))
    } else {
        Error::invalid_argument(format!("'{dir}' is not a directory: {WHY}"))
    }
}

/// Checks through SFTP that `dir` is a directory, so that a missing or non-directory path is a
/// clear error instead of a shell's `cd` complaint. `why` ends the message.
pub fn require_dir(conn: &Conn, dir: &str, why: &str, control: &Control) -> Result<(), Failure> {
    let sftp = Sftp::new(conn, SftpChannel::Shared, control);
    if fs::stat(&sftp, dir)?.is_dir() {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!("'{dir}' is not a directory: {why}")).into())
    }
}

/// What `find` found (docs/BEHAVIOUR.md §3.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindResult {
    /// The directory searched, as the caller gave it.
    pub path: String,
    /// The name glob, as given (`find -name`).
    pub pattern: String,
    /// How many levels were searched (1–10).
    pub depth: u32,
    /// Matching paths, sorted, at most `max_results`.
    pub matches: Vec<String>,
    /// How many matches were seen (more than `matches.len()` when capped).
    pub total: usize,
    /// `false` when the search stopped early (output cap or timeout): `total` is then a minimum.
    pub complete: bool,
    /// Messages find printed (e.g. permission denied), if any.
    pub warnings: String,
}

/// Longest `find` pattern accepted.
const MAX_PATTERN_LEN: usize = 1024;

/// `find DIR -maxdepth DEPTH -name PATTERN`, NUL-separated so no file name can confuse the
/// parser. A missing or non-directory `dir` is an error, not "no match".
pub fn find(
    conn: &Conn,
    dir: &str,
    pattern: &str,
    depth: u32,
    max_results: usize,
    limits: &ExecLimits,
    control: &Control,
) -> Result<FindResult, Failure> {
    check_pattern(pattern)?;
    require_dir(conn, dir, "find searches under a directory", control)?;
    let command = format!(
        "find {} -maxdepth {depth} -name {} -print0",
        remote_path::shell_word(dir),
        shell_quote(pattern)
    );
    let out = conn.exec(&command, limits, control)?;
    if out.cancelled {
        return Err(Error::cancelled().into());
    }
    let mut matches: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    // A capped output may end in the middle of a name: drop the partial last one.
    let complete = !out.truncated() && !out.timed_out;
    if !complete && !out.stdout.ends_with(b"\0") {
        matches.pop();
    }
    matches.sort();
    let total = matches.len();
    matches.truncate(max_results);
    let mut warnings = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.timed_out {
        warnings.push_str(&format!(
            "find timed out after {:.0} s; the matches are partial (SCOUT_COMMAND_TIMEOUT)\n",
            limits.timeout.as_secs_f64()
        ));
    }
    Ok(FindResult {
        path: dir.to_string(),
        pattern: pattern.to_string(),
        depth,
        matches,
        total,
        complete,
        warnings,
    })
}

fn check_pattern(pattern: &str) -> Result<(), Error> {
    if pattern.trim().is_empty() {
        return Err(Error::invalid_argument(
            "'find' needs a name pattern, e.g. \"*.log\"",
        ));
    }
    if pattern.len() > MAX_PATTERN_LEN || pattern.contains(['\0', '\n', '\r']) {
        return Err(Error::invalid_argument(format!(
            "the find pattern must be one line of at most {MAX_PATTERN_LEN} bytes without NUL"
        )));
    }
    if pattern.contains('/') {
        return Err(Error::invalid_argument(format!(
            "the find pattern '{pattern}' contains '/': it matches file names only (find -name); \
             put the directory in target instead"
        )));
    }
    Ok(())
}

/// A directory tree to `depth` levels, rendered like `tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The root directory, as the caller gave it.
    pub path: String,
    /// Rendered lines (root first), capped.
    pub lines: Vec<String>,
    /// Directories found below the root, shown or not.
    pub directories: usize,
    /// Other entries found below the root, shown or not.
    pub files: usize,
    /// Entries not shown because of the cap.
    pub omitted: usize,
    /// Messages find printed (e.g. permission denied), if any.
    pub warnings: String,
}

/// Builds the tree from `find` output: one round trip, and the same rendering on every host
/// whether or not it has `tree` installed (`-mindepth`/`-maxdepth`/`-print0` exist in GNU, BSD
/// and BusyBox find). Directories are listed first, then a lone NUL, then everything else, all
/// NUL-separated, so no file name can confuse the parser.
pub fn tree(
    conn: &Conn,
    dir: &str,
    depth: u32,
    max_entries: usize,
    limits: &ExecLimits,
    cancel: &Control,
) -> Result<Tree, Failure> {
    require_dir(conn, dir, "a tree needs a directory", cancel)?;
    let find = format!("find . -mindepth 1 -maxdepth {depth}");
    let command = format!(
        "cd {} && {{ {find} -type d -print0; printf '\\0'; {find} ! -type d -print0; }}",
        remote_path::shell_word(dir)
    );
    let out = conn.exec(&command, limits, cancel)?;
    if out.timed_out {
        return Err(Error::timeout(conn.state.alias.to_string(), "tree", limits.timeout).into());
    }
    if out.cancelled {
        return Err(Error::cancelled().into());
    }
    let (dirs, files) = split_find_output(&out.stdout);
    Ok(render(
        dir,
        &dirs,
        &files,
        max_entries,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn split_find_output(stdout: &[u8]) -> (Vec<String>, Vec<String>) {
    let (dirs, files) = if let Some(rest) = stdout.strip_prefix(b"\0") {
        (&b""[..], rest)
    } else {
        match stdout.windows(2).position(|w| w == b"\0\0") {
            Some(i) => (&stdout[..i + 1], &stdout[i + 2..]),
            None => (stdout, &b""[..]),
        }
    };
    let names = |bytes: &[u8]| -> Vec<String> {
        bytes
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s.strip_prefix(b"./").unwrap_or(s)).into_owned())
            .collect()
    };
    (names(dirs), names(files))
}

#[derive(Default)]
struct Node {
    is_dir: bool,
    children: BTreeMap<String, Node>,
}

fn render(
    root: &str,
    dirs: &[String],
    files: &[String],
    max_entries: usize,
    warnings: String,
) -> Tree {
    let mut top = Node {
        is_dir: true,
        ..Node::default()
    };
    for (path, is_dir) in dirs
        .iter()
        .map(|d| (d, true))
        .chain(files.iter().map(|f| (f, false)))
    {
        let mut node = &mut top;
        for part in path.split('/') {
            node = node.children.entry(part.to_string()).or_default();
        }
        node.is_dir |= is_dir;
    }
    let mut lines = vec![root.to_string()];
    let mut shown = 0;
    walk(&top, "", &mut lines, &mut shown, max_entries);
    let total = dirs.len() + files.len();
    Tree {
        path: root.to_string(),
        lines,
        directories: dirs.len(),
        files: files.len(),
        omitted: total.saturating_sub(shown),
        warnings,
    }
}

fn walk(node: &Node, prefix: &str, lines: &mut Vec<String>, shown: &mut usize, max: usize) {
    let count = node.children.len();
    for (i, (name, child)) in node.children.iter().enumerate() {
        if *shown >= max {
            return;
        }
        *shown += 1;
        let last = i + 1 == count;
        let slash = if child.is_dir { "/" } else { "" };
        lines.push(format!(
            "{prefix}{}{name}{slash}",
            if last { "└── " } else { "├── " }
        ));
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        walk(child, &deeper, lines, shown, max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_patterns_are_checked() {
        assert!(check_pattern("*.log").is_ok());
        assert!(
            check_pattern("-exec").is_ok(),
            "quoted and after -name: just a name"
        );
        for bad in ["", "  ", "a/b", "a\nb", "a\0b"] {
            assert!(check_pattern(bad).is_err(), "{bad:?}");
        }
        assert!(check_pattern(&"x".repeat(2000)).is_err());
    }

    #[test]
    fn find_output_splits_into_dirs_and_files() {
        let out = b"./a\0./a/b\0\0./a/x.txt\0./top\0";
        let (d, f) = split_find_output(out);
        assert_eq!(d, vec!["a", "a/b"]);
        assert_eq!(f, vec!["a/x.txt", "top"]);
        let (d, f) = split_find_output(b"\0./only\0");
        assert!(d.is_empty());
        assert_eq!(f, vec!["only"]);
        let (d, f) = split_find_output(b"./d\0\0");
        assert_eq!(d, vec!["d"]);
        assert!(f.is_empty());
    }

    #[test]
    fn renders_like_tree_and_caps() {
        let t = render(
            "/srv",
            &["a".into(), "a/b".into()],
            &["a/x".into(), "z".into()],
            100,
            String::new(),
        );
        assert_eq!(
            t.lines,
            vec!["/srv", "├── a/", "│   ├── b/", "│   └── x", "└── z"]
        );
        assert_eq!((t.directories, t.files, t.omitted), (2, 2, 0));
        let t = render(
            "/srv",
            &["a".into()],
            &["a/x".into(), "z".into()],
            2,
            String::new(),
        );
        assert_eq!(t.lines.len(), 3);
        assert_eq!(t.omitted, 1);
    }
}
