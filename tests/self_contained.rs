//! The repository stands alone (issue 17): no source, test, script or document cites a document
//! that is not in it, and every section of docs/BEHAVIOUR.md that something cites exists.
//! Needs no sshd: it only reads the repository's files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the repository walks: every file under these directories, and these files.
const DIRS: &[&str] = &["src", "tests", "benches", "examples", "docs", "scripts"];
const FILES: &[&str] = &["README.md", "build.rs", "Cargo.toml"];

/// Citations of documents outside the repository: the product spec (its section sign and its
/// file name, in any case), the card that listed the allowed dependencies, and the notes files
/// (upper case only: a file named `notes-copy.txt` is fine). Spelled in pieces so that this file
/// does not contain them.
fn outside_citations() -> Vec<(String, bool)> {
    let any_case = [["SPEC", " §"], ["SPEC", ".md"], ["design", " card"]];
    let mut all: Vec<(String, bool)> = any_case
        .iter()
        .map(|parts| (parts.concat().to_lowercase(), false))
        .collect();
    all.push((["NOTES", "-"].concat(), true));
    all
}

/// The forbidden citations `line` contains.
fn cited_outside<'a>(line: &str, forbidden: &'a [(String, bool)]) -> Vec<&'a str> {
    let lower = line.to_lowercase();
    forbidden
        .iter()
        .filter(|(f, exact_case)| {
            if *exact_case {
                line.contains(f.as_str())
            } else {
                lower.contains(f.as_str())
            }
        })
        .map(|(f, _)| f.as_str())
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// Every text file of the repository that is checked, with its content (binary files skipped).
fn files() -> Vec<(PathBuf, String)> {
    let root = root();
    let mut paths = Vec::new();
    for dir in DIRS {
        walk(&root.join(dir), &mut paths);
    }
    paths.extend(FILES.iter().map(|f| root.join(f)));
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = String::from_utf8(std::fs::read(&p).ok()?).ok()?;
            Some((p.strip_prefix(&root).unwrap_or(&p).to_path_buf(), text))
        })
        .collect()
}

/// The section numbers of a Markdown document: `## 3.5 Run a command` → `3.5`,
/// `## 1. Architecture` → `1`.
fn sections(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let title = l.trim_start_matches('#').trim_start();
            let number: String = title
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            (!number.is_empty()).then(|| number.to_string())
        })
        .collect()
}

/// The sections cited right after each `BEHAVIOUR.md` in `text`: `BEHAVIOUR.md §3.6, §3.7`,
/// `§3.1–§3.5`, `§5, §6`, as (line number, section).
fn citations(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices("BEHAVIOUR.md") {
            let mut rest = &line[at + "BEHAVIOUR.md".len()..];
            loop {
                rest = rest.trim_start_matches([' ', ',', ';', '/', '–', '-']);
                rest = rest.strip_prefix("and ").unwrap_or(rest);
                let Some(after) = rest.strip_prefix('§') else {
                    break;
                };
                let number: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                rest = &after[number.len()..];
                found.push((n + 1, number.trim_end_matches('.').to_string()));
            }
        }
    }
    found
}

#[test]
fn nothing_cites_a_document_outside_the_repository() {
    let forbidden = outside_citations();
    let mut bad = Vec::new();
    for (path, text) in files() {
        for (n, line) in text.lines().enumerate() {
            for f in cited_outside(line, &forbidden) {
                bad.push(format!(
                    "{}:{}: cites {f:?}: {}",
                    path.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "cite docs/BEHAVIOUR.md or another file of this repository instead:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_cited_behaviour_section_exists() {
    let reference = std::fs::read_to_string(root().join("docs/BEHAVIOUR.md")).unwrap();
    let numbers = sections(&reference);
    let unique: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(
        unique.len(),
        numbers.len(),
        "docs/BEHAVIOUR.md numbers a section twice: {numbers:?}"
    );
    let mut cited = 0;
    let mut missing = Vec::new();
    for (path, text) in files() {
        for (line, section) in citations(&text) {
            cited += 1;
            if !unique.contains(&section) {
                missing.push(format!("{}:{line}: §{section}", path.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these cite a section docs/BEHAVIOUR.md does not have (it has {numbers:?}):\n{}",
        missing.join("\n")
    );
    // The parser must see the citations, or this test would pass on anything.
    assert!(
        cited >= 20,
        "only {cited} citations of docs/BEHAVIOUR.md found"
    );
}

#[test]
fn the_reference_is_linked_from_the_readme_and_the_architecture() {
    for doc in ["README.md", "docs/ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        assert!(
            text.contains("BEHAVIOUR.md"),
            "{doc} does not link docs/BEHAVIOUR.md"
        );
    }
}

#[test]
fn the_parsers_read_what_the_documents_write() {
    assert_eq!(
        sections("# Title\n## 1. Architecture\n### 3.5 Run (`query`)\n## Not numbered\n"),
        ["1", "3.5"]
    );
    let cited: Vec<String> = citations(
        "(docs/BEHAVIOUR.md §3.6, §3.7, §3.9) and docs/BEHAVIOUR.md §3.1–§3.5.\nBEHAVIOUR.md",
    )
    .into_iter()
    .map(|(_, s)| s)
    .collect();
    assert_eq!(cited, ["3.6", "3.7", "3.9", "3.1", "3.5"]);
    let forbidden = outside_citations();
    let spec = ["(Spec", " §3.5)"].concat();
    let notes = ["see NOTES", "-ssh2-r2d2.md"].concat();
    assert_eq!(cited_outside(&spec, &forbidden).len(), 1);
    assert_eq!(cited_outside(&notes, &forbidden).len(), 1);
    assert!(cited_outside("web:/srv/notes-copy.txt, RFC 8439 §2.4.2", &forbidden).is_empty());
}
