//! diff / diff_content (docs/BEHAVIOUR.md §3.7): turning two file contents into a [`Comparison`].

use crate::ops::diff;
use crate::ops::fs::FileContent;

/// Lines of context around each change.
pub const CONTEXT: usize = 3;

/// How two files compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// `host:path` of the first side.
    pub left: String,
    /// `host:path` of the second side, or "expected content".
    pub right: String,
    /// Identical, a unified diff, or sizes and SHA-256 sums.
    pub outcome: DiffOutcome,
    /// A side was longer than `SCOUT_MAX_FILE_SIZE`: only the first part was compared.
    pub truncated: bool,
}

/// The result of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Both sides have the same content.
    Identical,
    /// A unified diff (3 lines of context) with `--- left` / `+++ right` headers.
    Differ {
        /// The diff text, GNU `diff -u` shape.
        unified: String,
    },
    /// At least one side is binary: compared by size and SHA-256 of the whole file.
    Binary {
        /// Size of the first side in bytes.
        left_size: u64,
        /// SHA-256 of the first side, lowercase hex.
        left_sha256: String,
        /// Size of the second side in bytes.
        right_size: u64,
        /// SHA-256 of the second side, lowercase hex.
        right_sha256: String,
    },
}

impl Comparison {
    /// Whether both sides have the same content (for binaries: the same size and SHA-256).
    pub fn identical(&self) -> bool {
        match &self.outcome {
            DiffOutcome::Identical => true,
            DiffOutcome::Differ { .. } => false,
            DiffOutcome::Binary {
                left_sha256,
                right_sha256,
                left_size,
                right_size,
            } => left_sha256 == right_sha256 && left_size == right_size,
        }
    }
}

/// Compares two text files; a diff longer than `max_diff` bytes is cut (with a marker).
pub fn texts(
    left: &str,
    a: &FileContent,
    right: &str,
    b: &FileContent,
    max_diff: usize,
) -> Comparison {
    let old = a.text().unwrap_or_default();
    let new = b.text().unwrap_or_default();
    text_comparison(left, old, right, new, a.truncated || b.truncated, max_diff)
}

/// Compares a text file with the expected content; a diff longer than `max_diff` bytes is
/// cut (with a marker).
pub fn with_expected(
    label: &str,
    actual: &FileContent,
    expected: &str,
    max_diff: usize,
) -> Comparison {
    let text = actual.text().unwrap_or_default();
    let label2 = "expected content";
    text_comparison(label, text, label2, expected, actual.truncated, max_diff)
}

fn text_comparison(
    left: &str,
    old: &str,
    right: &str,
    new: &str,
    truncated: bool,
    max_diff: usize,
) -> Comparison {
    let outcome = match diff::unified(old, new, left, right, CONTEXT) {
        None => DiffOutcome::Identical,
        Some(mut unified) if unified.len() > max_diff => {
            let total = unified.len() as u64;
            unified.truncate(crate::util::utf8_cut(unified.as_bytes(), max_diff));
            unified.push_str(&format!(
                "\n[diff cut: showed {} of {} (SCOUT_MAX_OUTPUT_SIZE)]\n",
                crate::control::human_bytes(unified.len() as u64),
                crate::control::human_bytes(total)
            ));
            DiffOutcome::Differ { unified }
        }
        Some(unified) => DiffOutcome::Differ { unified },
    };
    Comparison {
        left: left.to_string(),
        right: right.to_string(),
        outcome,
        truncated,
    }
}

/// Compares two files by size and SHA-256.
pub fn binaries(
    left: &str,
    (ls, lh): (u64, String),
    right: &str,
    (rs, rh): (u64, String),
) -> Comparison {
    Comparison {
        left: left.to_string(),
        right: right.to_string(),
        outcome: DiffOutcome::Binary {
            left_size: ls,
            left_sha256: lh,
            right_size: rs,
            right_sha256: rh,
        },
        truncated: false,
    }
}

/// The comparison as text for an agent.
pub fn format(c: &Comparison) -> String {
    let mut text = match &c.outcome {
        DiffOutcome::Identical => format!("{} and {} are identical", c.left, c.right),
        DiffOutcome::Differ { unified } => unified.clone(),
        DiffOutcome::Binary { .. } if c.identical() => format!(
            "{} and {} are identical (binary; compared by size and SHA-256)",
            c.left, c.right
        ),
        DiffOutcome::Binary {
            left_size,
            left_sha256,
            right_size,
            right_sha256,
        } => format!(
            "{} and {} differ (binary; not shown as a diff)\n  {}: {left_size} bytes, sha256 {left_sha256}\n  {}: {right_size} bytes, sha256 {right_sha256}",
            c.left, c.right, c.left, c.right
        ),
    };
    if c.truncated {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(
            "[truncated: only the first SCOUT_MAX_FILE_SIZE bytes of each file were compared]",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileContent {
        FileContent {
            path: "p".into(),
            size: text.len() as u64,
            bytes: text.as_bytes().to_vec(),
            truncated: false,
            binary: None,
        }
    }

    #[test]
    fn identical_files_are_named_in_one_line() {
        let c = texts("a:/x", &file("same\n"), "b:/x", &file("same\n"), 1 << 20);
        assert_eq!(format(&c), "a:/x and b:/x are identical");
    }

    #[test]
    fn differing_files_give_a_unified_diff_with_host_headers() {
        let c = with_expected("web:/etc/hosts", &file("1\n2\n3\n"), "1\nTWO\n3\n", 1 << 20);
        assert_eq!(
            format(&c),
            "--- web:/etc/hosts\n+++ expected content\n@@ -1,3 +1,3 @@\n 1\n-2\n+TWO\n 3\n"
        );
    }

    #[test]
    fn a_huge_diff_is_cut_with_a_marker() {
        let expected = "é".repeat(10_000);
        let c = with_expected("web:/x", &file("a\n"), &expected, 1001);
        let t = format(&c);
        assert!(t.contains("[diff cut: showed"), "{t}");
        assert!(t.len() < 1200, "{}", t.len());
    }

    #[test]
    fn binaries_compare_by_size_and_hash() {
        let c = binaries("a:/b", (3, "aa".into()), "b:/b", (4, "bb".into()));
        let t = format(&c);
        assert!(
            t.contains("differ (binary") && t.contains("3 bytes, sha256 aa"),
            "{t}"
        );
        let same = binaries("a:/b", (3, "aa".into()), "b:/b", (3, "aa".into()));
        assert!(format(&same).contains("identical (binary"));
    }
}
