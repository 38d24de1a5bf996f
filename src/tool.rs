//! The `scout` tool (SPEC §3): JSON arguments in, readable text (and structured data) out.
//!
//! This module only parses arguments, dispatches to [`Scout`] and formats results. Every
//! failure becomes an `isError` result with a sentence that says what to do.

use serde_json::{json, Map, Value};

use crate::control::Control;
use crate::error::Error;
use crate::ops::fs::{self, FileContent, Listing, View};
use crate::ops::hosts;
use crate::ops::run::Tree;
use crate::ops::target::Target;
use crate::scout::{check_depth, Scout};
use crate::ssh::exec::ExecOutput;

/// The tool's name.
pub const NAME: &str = "scout";

/// What a call produced: text for the agent, the same facts as data, and whether it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub text: String,
    pub structured: Value,
    pub is_error: bool,
}

impl ToolOutput {
    fn ok(text: String, structured: Value) -> Self {
        ToolOutput {
            text,
            structured,
            is_error: false,
        }
    }

    fn error(err: &Error) -> Self {
        ToolOutput {
            text: format!("Error: {err}"),
            structured: json!({ "mode": "error", "error": err.to_string() }),
            is_error: true,
        }
    }
}

/// The parameters of one call, type-checked.
#[derive(Debug, Default)]
struct Args {
    target: String,
    query: Option<String>,
    tree: bool,
    find: Option<String>,
    depth: Option<u32>,
    diff: Option<String>,
    diff_content: Option<String>,
    targets: Option<Vec<String>>,
    beam: Option<String>,
    beam_source: Option<String>,
    beam_target: Option<String>,
    beam_direction: Option<String>,
    overwrite: bool,
}

const PARAMS: &[&str] = &[
    "target",
    "query",
    "tree",
    "find",
    "depth",
    "diff",
    "diff_content",
    "targets",
    "beam",
    "beam_source",
    "beam_target",
    "beam_direction",
    "overwrite",
];

impl Args {
    fn parse(value: Option<&Value>) -> Result<Args, Error> {
        let empty = Map::new();
        let map = match value {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "arguments must be a JSON object, got {}",
                    type_name(other)
                )))
            }
        };
        if let Some(unknown) = map.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(Error::InvalidArgument(format!(
                "unknown parameter '{unknown}'. Parameters: {}",
                PARAMS.join(", ")
            )));
        }
        Ok(Args {
            target: string(map, "target")?.unwrap_or_default(),
            query: string(map, "query")?,
            tree: boolean(map, "tree")?.unwrap_or(false),
            find: string(map, "find")?,
            depth: integer(map, "depth")?,
            diff: string(map, "diff")?,
            diff_content: string(map, "diff_content")?,
            targets: string_list(map, "targets")?,
            beam: string(map, "beam")?,
            beam_source: string(map, "beam_source")?,
            beam_target: string(map, "beam_target")?,
            beam_direction: string(map, "beam_direction")?,
            overwrite: boolean(map, "overwrite")?.unwrap_or(false),
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> Error {
    Error::InvalidArgument(format!(
        "parameter '{name}' must be {expected}, got {}",
        type_name(got)
    ))
}

fn string(map: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(name, "a string", other)),
    }
}

fn boolean(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(name, "true or false", other)),
    }
}

fn integer(map: &Map<String, Value>, name: &str) -> Result<Option<u32>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= u64::from(u32::MAX) => Ok(Some(v as u32)),
            _ => Err(Error::InvalidArgument(format!(
                "parameter '{name}' must be a whole number from 1 to 10, got {n}"
            ))),
        },
        Some(other) => Err(wrong_type(name, "a whole number", other)),
    }
}

fn string_list(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong_type(name, "an array of strings", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(wrong_type(name, "an array of 'host:/path' strings", other)),
    }
}

/// Runs one call of the tool.
pub fn call(scout: &Scout, arguments: Option<&Value>, cancel: &Control) -> ToolOutput {
    match Args::parse(arguments).and_then(|args| dispatch(scout, &args, cancel)) {
        Ok(out) => out,
        Err(e) => ToolOutput::error(&e),
    }
}

/// SPEC §3 dispatch order: beam checks → remote-to-remote beam → broadcast → target → hosts →
/// unknown host → beam → find → diff → diff_content → query → read or list.
fn dispatch(scout: &Scout, args: &Args, cancel: &Control) -> Result<ToolOutput, Error> {
    if args.beam_source.is_some() || args.beam_target.is_some() {
        return Err(Error::Unsupported(
            "remote-to-remote beam (beam_source/beam_target)".into(),
        ));
    }
    if args.targets.is_some() {
        return Err(Error::Unsupported("broadcast (targets)".into()));
    }
    if args.target.trim().is_empty() {
        return Err(Error::InvalidArgument(
            "missing 'target': use \"hosts\" to list hosts, or \"host:/path\" to read, list or run in a path".into(),
        ));
    }
    let (host, path) = match Target::parse(&args.target)? {
        Target::Hosts => return Ok(hosts_output(scout)),
        Target::Path { host, path } => (host, path),
    };
    scout.host(&host)?;
    if args.beam.is_some() || args.beam_direction.is_some() || args.overwrite {
        return Err(Error::Unsupported("beam (SFTP transfer)".into()));
    }
    if args.find.is_some() {
        return Err(Error::Unsupported("find".into()));
    }
    if args.diff.is_some() || args.diff_content.is_some() {
        return Err(Error::Unsupported("diff / diff_content".into()));
    }
    if let Some(query) = &args.query {
        let out = scout.run(&host, &path, query, cancel)?;
        return Ok(command_output(
            &host,
            &path,
            query,
            &out,
            scout.settings().command_timeout,
        ));
    }
    if args.tree {
        let depth = args.depth.unwrap_or(5);
        check_depth(depth)?;
        let tree = scout.tree(&host, &path, depth, cancel)?;
        return Ok(tree_output(&host, &tree));
    }
    if let Some(depth) = args.depth {
        check_depth(depth)?;
    }
    match scout.view(&host, &path)? {
        View::File(file) => Ok(file_output(&host, &file)),
        View::Directory(listing) => Ok(listing_output(&host, &listing)),
    }
}

fn hosts_output(scout: &Scout) -> ToolOutput {
    let statuses = scout.hosts();
    let items: Vec<Value> = statuses
        .iter()
        .map(|s| {
            json!({
                "alias": s.alias, "user": s.user, "hostname": s.hostname, "port": s.port,
                "reachable": s.reachable.is_ok(),
                "error": s.reachable.as_ref().err(),
            })
        })
        .collect();
    ToolOutput::ok(
        hosts::format(&statuses),
        json!({ "mode": "hosts", "hosts": items }),
    )
}

fn file_output(host: &str, file: &FileContent) -> ToolOutput {
    let structured = json!({
        "mode": "read", "host": host, "path": file.path, "size": file.size,
        "truncated": file.truncated, "binary": file.binary.is_some(),
        "content": file.text(),
    });
    let text = match (file.text(), file.binary) {
        (Some(text), _) if file.truncated => format!(
            "{text}\n[truncated: showed {} of {} bytes; raise SCOUT_MAX_FILE_SIZE or read a slice with query (e.g. \"tail -n 100 FILE\")]",
            file.bytes.len(),
            file.size
        ),
        (Some(text), _) => text.to_string(),
        (None, kind) => format!(
            "{host}:{} is a binary file ({}, {} bytes); not shown as text. Download it with beam.",
            file.path,
            kind.unwrap_or("binary data"),
            file.size
        ),
    };
    ToolOutput::ok(text, structured)
}

fn listing_output(host: &str, listing: &Listing) -> ToolOutput {
    let mut text = format!("{host}:{} ({} entries)\n", listing.path, listing.total);
    let width = listing
        .entries
        .iter()
        .map(|e| e.size.to_string().len())
        .max()
        .unwrap_or(1);
    for e in &listing.entries {
        let link = e
            .link_target
            .as_deref()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{} {:>width$} {} {}{link}\n",
            fs::mode_string(e.kind, e.mode),
            e.size,
            fs::format_time(e.mtime),
            e.name
        ));
    }
    let omitted = listing.total - listing.entries.len();
    if omitted > 0 {
        text.push_str(&format!(
            "[... {omitted} more entries not shown; use find or query to narrow down]\n"
        ));
    }
    let entries: Vec<Value> = listing
        .entries
        .iter()
        .map(|e| json!({ "name": e.name, "type": format!("{:?}", e.kind).to_lowercase(), "mode": format!("{:o}", e.mode), "size": e.size, "mtime": e.mtime, "link_target": e.link_target }))
        .collect();
    let structured = json!({ "mode": "list", "host": host, "path": listing.path, "total": listing.total, "entries": entries });
    ToolOutput::ok(text, structured)
}

fn tree_output(host: &str, tree: &Tree) -> ToolOutput {
    let mut text = format!("{host}:{}\n", tree.lines.join("\n"));
    text.push_str(&format!(
        "\n{} directories, {} files\n",
        tree.directories, tree.files
    ));
    if tree.omitted > 0 {
        text.push_str(&format!(
            "[... {} more entries not shown; lower depth or use find]\n",
            tree.omitted
        ));
    }
    if !tree.warnings.trim().is_empty() {
        text.push_str(&format!("[warnings]\n{}\n", tree.warnings.trim_end()));
    }
    let structured = json!({
        "mode": "tree", "host": host, "path": tree.path, "directories": tree.directories,
        "files": tree.files, "omitted": tree.omitted, "lines": tree.lines,
    });
    ToolOutput::ok(text, structured)
}

fn command_output(
    host: &str,
    dir: &str,
    query: &str,
    out: &ExecOutput,
    timeout: std::time::Duration,
) -> ToolOutput {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut text = stdout.to_string();
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("[stderr]\n");
        text.push_str(&stderr);
    }
    let mut markers = Vec::new();
    if out.truncated() {
        markers.push(format!(
            "[output truncated: kept {} of {} bytes of stdout and {} of {} bytes of stderr (SCOUT_MAX_OUTPUT_SIZE)]",
            out.stdout.len(), out.stdout_total, out.stderr.len(), out.stderr_total
        ));
    }
    if out.timed_out {
        markers.push(format!(
            "[timed out after {:.0} s: the command was stopped; output above is partial (SCOUT_COMMAND_TIMEOUT)]",
            timeout.as_secs_f64()
        ));
    }
    if out.cancelled {
        markers.push("[cancelled: the command was stopped; output above is partial]".to_string());
    }
    if let Some(sig) = &out.exit_signal {
        markers.push(format!("[killed by signal {sig}]"));
    }
    if let Some(code) = out.exit_code.filter(|c| *c != 0) {
        markers.push(format!("[exit code: {code}]"));
    }
    if text.is_empty() && markers.is_empty() {
        text.push_str("(no output)");
    }
    for m in markers {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&m);
    }
    let structured = json!({
        "mode": "query", "host": host, "path": dir, "command": query,
        "exit_code": out.exit_code, "exit_signal": out.exit_signal,
        "stdout": stdout, "stderr": stderr, "truncated": out.truncated(), "timed_out": out.timed_out,
    });
    ToolOutput::ok(text, structured)
}

/// The tool's `inputSchema`.
pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "target": { "type": "string", "description": "\"hosts\" to list hosts, or \"host:/path\" (path may be relative to the login directory or start with ~)" },
            "query": { "type": "string", "description": "command to run with target's path as working directory" },
            "tree": { "type": "boolean", "description": "show a directory as a tree", "default": false },
            "find": { "type": "string", "description": "glob (find -name pattern) to search for under target" },
            "depth": { "type": "integer", "minimum": 1, "maximum": 10, "default": 5, "description": "depth for find and tree" },
            "diff": { "type": "string", "description": "another host:/path to compare target with" },
            "diff_content": { "type": "string", "description": "expected content to compare target's file with" },
            "targets": { "type": "array", "items": { "type": "string" }, "description": "broadcast: several host:/path, read or query on each" },
            "beam": { "type": "string", "description": "local path for an SFTP transfer with target" },
            "beam_direction": { "type": "string", "enum": ["upload", "download"], "description": "direction of a beam transfer" },
            "overwrite": { "type": "boolean", "default": false, "description": "allow beam to replace an existing file" },
            "beam_source": { "type": "string", "description": "host:/path to copy from (remote-to-remote)" },
            "beam_target": { "type": "string", "description": "host:/path to copy to (remote-to-remote)" }
        },
        "additionalProperties": false
    })
}

/// The tool's `description`: every mode with one example.
pub fn description() -> String {
    "Look at and act on SSH hosts from ~/.ssh/config. One tool, several modes (first match wins):\n\
     - List hosts: {\"target\": \"hosts\"}\n\
     - Read a file: {\"target\": \"web1:/etc/nginx/nginx.conf\"} (capped at SCOUT_MAX_FILE_SIZE; binary files are described, not dumped)\n\
     - List a directory: {\"target\": \"web1:/var/log\"} (ls -la style; relative paths and ~ start at the login directory)\n\
     - Tree: {\"target\": \"web1:~/app\", \"tree\": true, \"depth\": 2}\n\
     - Run a command in a directory: {\"target\": \"web1:/var/log\", \"query\": \"grep -c error syslog\"} \
     (default policy 'allowlist': cat df diff du file find grep head ls rg sort stat tail tree uniq wc, \
     each argument taken literally: no pipes, globs or $(...))\n\
     Not yet available in this version: find, diff, diff_content, targets (broadcast), beam."
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_type_checked_with_clear_messages() {
        let err = Args::parse(Some(&json!({"target": 5})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'target' must be a string"), "{err}");
        let err = Args::parse(Some(&json!({"tree": "yes"})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'tree' must be true or false"), "{err}");
        let err = Args::parse(Some(&json!({"depth": -1})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'depth'"), "{err}");
        let err = Args::parse(Some(&json!({"targets": ["a:/", 3]})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'targets'"), "{err}");
        let err = Args::parse(Some(&json!({"bogus": 1})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown parameter 'bogus'"), "{err}");
        let err = Args::parse(Some(&json!([1, 2]))).unwrap_err().to_string();
        assert!(err.contains("must be a JSON object"), "{err}");
        assert!(Args::parse(None).is_ok());
    }

    #[test]
    fn command_output_follows_the_spec_layout() {
        let out = ExecOutput {
            stdout: b"out\n".to_vec(),
            stderr: b"err\n".to_vec(),
            stdout_total: 4,
            stderr_total: 4,
            exit_code: Some(2),
            ..ExecOutput::default()
        };
        let t = command_output("h", "/", "ls", &out, std::time::Duration::from_secs(30)).text;
        assert_eq!(t, "out\n[stderr]\nerr\n[exit code: 2]");
        let empty = ExecOutput {
            exit_code: Some(0),
            ..ExecOutput::default()
        };
        assert_eq!(
            command_output("h", "/", "true", &empty, std::time::Duration::from_secs(1)).text,
            "(no output)"
        );
    }
}
