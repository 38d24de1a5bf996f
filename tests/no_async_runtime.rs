//! docs/BEHAVIOUR.md §1 as a test: no async runtime anywhere in the dependency graph (every
//! feature, every target platform), and no direct dependency beyond the base set plus the ones
//! `docs/DEPENDENCIES.md` justifies.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Crates that are, or run, an async executor.
const RUNTIMES: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "futures-executor",
    "async-io",
    "async-executor",
    "async-global-executor",
];

/// The base set (docs/BEHAVIOUR.md §1) and the extras with a reason in DEPENDENCIES.md.
const ALLOWED_DIRECT: &[&str] = &[
    "ssh2",
    "r2d2",
    "crossbeam-channel",
    "serde",
    "serde_json",
    "ctrlc",
    "log",
    "env_logger",
    // Extras, each with its line in docs/DEPENDENCIES.md:
    "libc",
    "openssl-sys",
    "scheduled-thread-pool",
    "libssh2-sys",
    "cc",
];

/// `cargo tree ARGS --prefix none` in this package; the crate names of its lines (first word),
/// without this package itself. Offline first (no network needed when the lock file's crates
/// are present), online as a fallback.
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |offline: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(manifest).arg("tree").args(args).args([
            "--prefix",
            "none",
            "--all-features",
        ]);
        if offline {
            cmd.arg("--offline");
        }
        cmd.output().expect("cannot run cargo tree")
    };
    let mut out = run(true);
    if !out.status.success() {
        out = run(false);
    }
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != env!("CARGO_PKG_NAME"))
        .map(String::from)
        .collect()
}

#[test]
fn no_async_runtime_in_the_dependency_graph() {
    let all = tree(&["-e", "normal,build", "--target", "all"]);
    // Sanity: the listing is the real graph, not an empty or error output.
    assert!(
        all.contains("ssh2") && all.contains("libssh2-sys"),
        "{all:?}"
    );
    let found: Vec<&&str> = RUNTIMES.iter().filter(|r| all.contains(**r)).collect();
    assert!(
        found.is_empty(),
        "async runtime crates in the tree: {found:?}"
    );
}

#[test]
fn direct_dependencies_are_exactly_the_allowed_ones() {
    let direct = tree(&["-e", "normal,build", "--depth", "1", "--target", "all"]);
    let allowed: BTreeSet<String> = ALLOWED_DIRECT.iter().map(|s| s.to_string()).collect();
    let extra: Vec<&String> = direct.difference(&allowed).collect();
    let missing: Vec<&String> = allowed.difference(&direct).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "direct dependencies changed: new {extra:?}, gone {missing:?}. A new crate needs its \
         reason in docs/DEPENDENCIES.md and here; a removed one, its line dropped from both"
    );
}

#[test]
fn every_direct_and_dev_dependency_has_its_line_in_dependencies_md() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/DEPENDENCIES.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/DEPENDENCIES.md");
    let mut crates = tree(&["-e", "normal,build", "--depth", "1", "--target", "all"]);
    crates.extend(tree(&["-e", "dev", "--depth", "1", "--target", "all"]));
    let undocumented: Vec<&String> = crates
        .iter()
        .filter(|name| !doc.contains(&format!("`{name}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "crates without a line in docs/DEPENDENCIES.md: {undocumented:?}"
    );
}
