//! The layers of docs/ARCHITECTURE.md hold: `src/` modules depend one way. Read from the
//! source (`crate::…` paths outside comments and test modules), so a new import that runs
//! upward fails here, not in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module of `src/` (`ssh`, `ops`, `scout`, …) and the ones it names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src/");
            let first = rel.components().next().expect("a file");
            let unit = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            let text = std::fs::read_to_string(&path).expect("readable");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let deps = graph.entry(unit.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    let name: String = line[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != unit && name != "__private" {
                        deps.insert(name);
                    }
                }
            }
        }
    }
    graph
}

#[test]
fn the_adapters_never_reach_ssh_and_ssh_reaches_nothing_above_it() {
    let graph = imports();
    assert!(graph.len() > 10, "read the tree: {graph:?}");
    let forbidden: &[(&str, &[&str])] = &[
        ("mcp", &["ssh"]),
        ("tool", &["ssh"]),
        (
            "ssh",
            &[
                "ops", "scout", "settings", "mcp", "tool", "cli", "jobs", "fold",
            ],
        ),
        (
            "ops",
            &["scout", "settings", "mcp", "tool", "cli", "jobs", "fold"],
        ),
        ("scout", &["mcp", "tool", "cli"]),
    ];
    for (module, above) in forbidden {
        let deps = &graph[*module];
        let wrong: Vec<&&str> = above.iter().filter(|m| deps.contains(**m)).collect();
        assert!(
            wrong.is_empty(),
            "src/{module} imports {wrong:?}, a layer above it"
        );
    }
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = imports();
    // Depth-first from every module; a path back to the start is a cycle.
    for start in graph.keys() {
        let mut stack = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty");
            for next in graph.get(last).into_iter().flatten() {
                assert!(next != start, "a cycle: {} -> {next}", path.join(" -> "));
                if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
}
