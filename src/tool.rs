//! The `scout` tool (docs/BEHAVIOUR.md §3): JSON arguments in, readable text (and structured
//! data) out.
//!
//! This module only parses arguments, dispatches to [`Scout`] and formats results. Every
//! failure becomes an `isError` result with a sentence that says what to do.

use serde_json::{json, Map, Value};

use crate::control::Control;
use crate::error::{Error, ErrorKind};
use crate::ops::fs::View;
use crate::ops::target::{RemotePath, Target};
use crate::ops::transfer::{Direction, TransferOptions};
use crate::scout::{check_depth, local_is_file, Scout};

pub(crate) mod format;
mod jobs;
mod schema;

pub use schema::{description, input_schema, output_schema};

/// The tool's name.
pub const NAME: &str = "scout";

/// What a call produced: text for the agent, the same facts as data, and whether it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// The text content for the agent.
    pub text: String,
    /// The same facts as `structuredContent` (with a `mode`).
    pub structured: Value,
    /// Whether the call failed (`isError`).
    pub is_error: bool,
}

impl ToolOutput {
    pub(crate) fn ok(text: String, structured: Value) -> Self {
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

/// Declares the tool's parameters once: each one's field in [`Args`], the reader that
/// type-checks it, and its `inputSchema` entry. The struct, the list of known names and the
/// schema's properties are all generated from the one list below.
macro_rules! parameters {
    ($( $name:ident : $ty:ty = $read:ident, $schema:tt; )*) => {
        /// The parameters of one call, type-checked.
        #[derive(Debug, Default)]
        struct Args {
            $( $name: $ty, )*
        }

        /// Every parameter's name, in the order error messages list them.
        const PARAMS: &[&str] = &[$( stringify!($name) ),*];

        impl Args {
            fn read(map: &Map<String, Value>) -> Result<Args, Error> {
                Ok(Args { $( $name: $read(map, stringify!($name))?, )* })
            }
        }

        /// The `properties` of the tool's `inputSchema`.
        pub(crate) fn schema_properties() -> Map<String, Value> {
            let mut properties = Map::new();
            $( properties.insert(stringify!($name).to_string(), json!($schema)); )*
            properties
        }
    };
}

parameters! {
    target: String = text,
        { "type": "string", "description": "\"hosts\" to list hosts and groups, \"jobs\" to list background jobs, or \"host:/path\" (path may be relative to the login directory or start with ~)" };
    query: Option<String> = string,
        { "type": "string", "description": "command to run with target's path as working directory (with targets: run on each)" };
    tree: bool = flag,
        { "type": "boolean", "description": "show a directory as a tree", "default": false };
    find: Option<String> = string,
        { "type": "string", "description": "glob (find -name pattern) to search for under target" };
    depth: Option<u32> = depth,
        { "type": "integer", "minimum": 1, "maximum": 10, "default": 5, "description": "depth for find and tree" };
    diff: Option<String> = string,
        { "type": "string", "description": "another host:/path to compare target's file with" };
    diff_content: Option<String> = string,
        { "type": "string", "description": "expected content to compare target's file with" };
    targets: Option<Vec<String>> = string_list,
        { "type": "array", "items": { "type": "string" }, "description": "broadcast: several HOSTS:/path, read (or run query) on each, concurrently (at most 1000 after expansion). HOSTS is an alias or a pattern: glob (web*), range (web[01-40,42]), group (@web), comma-separated, '!' excludes (web*,!web13)" };
    beam: Option<String> = string,
        { "type": "string", "description": "local path for an SFTP transfer with target" };
    beam_source: Option<String> = string,
        { "type": "string", "description": "host:/path to copy from (host-to-host copy, with beam_target)" };
    beam_target: Option<String> = string,
        { "type": "string", "description": "host:/path to copy to (host-to-host copy, with beam_source)" };
    beam_direction: Option<String> = string,
        { "type": "string", "enum": ["upload", "download"], "description": "direction of a beam transfer (default: upload if the local file exists, else download)" };
    overwrite: bool = flag,
        { "type": "boolean", "default": false, "description": "allow a transfer to replace an existing file" };
    check: Option<Vec<String>> = check_hosts,
        { "type": ["boolean", "string", "array"], "items": { "type": "string" }, "description": "with target \"hosts\": connect to hosts stage by stage (DNS, TCP, handshake, host key, auth, exec) and say what to fix; true = every host, or one alias, or an array of aliases" };
    background: bool = flag,
        { "type": "boolean", "default": false, "description": "run the query or broadcast as a background job: answers at once with a job id (for work longer than a tool call may wait)" };
    job: Option<String> = string,
        { "type": "string", "description": "a job id: its state, per-host progress and output (from offset)" };
    cancel: bool = flag,
        { "type": "boolean", "default": false, "description": "with job: stop it (remote commands are killed)" };
    offset: Option<u64> = offset,
        { "type": "integer", "minimum": 0, "default": 0, "description": "with job: return output from this byte (the previous answer's next_offset)" };
    fold: Option<bool> = boolean,
        { "type": "boolean", "default": true, "description": "broadcast: one block per distinct output naming its hosts (failures and differences first); false = one block per target" };
}

impl Args {
    fn parse(value: Option<&Value>) -> Result<Args, Error> {
        let empty = Map::new();
        let map = match value {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "arguments must be a JSON object, got {}",
                    type_name(other)
                )))
            }
        };
        if let Some(unknown) = map.keys().find(|k| !PARAMS.contains(&k.as_str())) {
            return Err(Error::invalid_argument(format!(
                "unknown parameter '{unknown}'. Parameters: {}",
                PARAMS.join(", ")
            )));
        }
        Args::read(map)
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
    Error::invalid_argument(format!(
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

/// A string that may be absent (then empty).
fn text(map: &Map<String, Value>, name: &str) -> Result<String, Error> {
    string(map, name).map(Option::unwrap_or_default)
}

/// A boolean that may be absent (then false).
fn flag(map: &Map<String, Value>, name: &str) -> Result<bool, Error> {
    boolean(map, name).map(|b| b.unwrap_or(false))
}

fn depth(map: &Map<String, Value>, name: &str) -> Result<Option<u32>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= u64::from(u32::MAX) => Ok(Some(v as u32)),
            _ => Err(Error::invalid_argument(format!(
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

/// `offset`: a byte offset into a job's output.
fn offset(map: &Map<String, Value>, name: &str) -> Result<Option<u64>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            Error::invalid_argument(format!(
                "parameter '{name}' must be a whole number of bytes from 0, got {n}"
            ))
        }),
        Some(other) => Err(wrong_type(name, "a whole number of bytes", other)),
    }
}

/// `check`: `true` (every host), a host alias, or an array of aliases; `false` means no check.
fn check_hosts(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, Error> {
    match map.get(name) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => Ok(Some(Vec::new())),
        Some(Value::String(alias)) => Ok(Some(vec![alias.clone()])),
        Some(Value::Array(_)) => string_list(map, name),
        Some(other) => Err(wrong_type(
            name,
            "true (every host), a host alias, or an array of aliases",
            other,
        )),
    }
}

/// Runs one call of the tool.
pub fn call(scout: &Scout, arguments: Option<&Value>, control: &Control) -> ToolOutput {
    match Args::parse(arguments).and_then(|args| dispatch(scout, &args, control)) {
        Ok(out) => out,
        Err(e) => {
            let mut out = ToolOutput::error(&e);
            if let (ErrorKind::Policy, Some(who)) = (e.kind(), &scout.settings().narrowed_by) {
                // The settings a refusal names are the key's here, not the server's: the
                // operator widens a key in SCOUT_API_KEYS, not with that variable.
                let note = format!(
                    " (Here that limit is this API key's policy, {who}, set in SCOUT_API_KEYS; \
                     other keys may have more.)"
                );
                out.text.push_str(&note);
                if let Some(Value::String(error)) = out.structured.get_mut("error") {
                    error.push_str(&note);
                }
            }
            out
        }
    }
}

/// Dispatch order (docs/BEHAVIOUR.md §3): job (look, cancel) → beam checks → remote-to-remote
/// beam → broadcast (foreground or job) → target → jobs → hosts → unknown host → beam → find →
/// diff → diff_content → query (foreground or job) → read or list.
fn dispatch(scout: &Scout, args: &Args, control: &Control) -> Result<ToolOutput, Error> {
    check_job_args(args)?;
    if let Some(id) = &args.job {
        let offset = args.offset.unwrap_or(0);
        let report = if args.cancel {
            scout.jobs().cancel(id, offset)?
        } else {
            scout.jobs().report(id, offset)?
        };
        return Ok(format::job(&report));
    }
    check_beam_args(args)?;
    let other_mode = args.find.is_some()
        || args.diff.is_some()
        || args.diff_content.is_some()
        || args.beam.is_some()
        || args.beam_source.is_some()
        || args.tree
        || args.check.is_some()
        || args.target.trim().eq_ignore_ascii_case("hosts");
    if args.background && args.targets.is_none() && (args.query.is_none() || other_mode) {
        return Err(Error::invalid_argument(
            "'background' applies to 'query' (with a \"host:/path\" target) and to broadcasts \
             ('targets'): add \"query\", or use \"targets\"",
        ));
    }
    if let (Some(src), Some(dst)) = (&args.beam_source, &args.beam_target) {
        let from = remote_target(src, "beam_source")?;
        let to = remote_target(dst, "beam_target")?;
        let options = TransferOptions::new().overwrite(args.overwrite);
        let t = scout.copy(&from, &to, &options, control)?;
        return Ok(format::transfer("Copied", &t));
    }
    if args.check.is_some() && args.target != "hosts" {
        return Err(Error::invalid_argument(
            "'check' goes with target \"hosts\": {\"target\": \"hosts\", \"check\": true}",
        ));
    }
    if let Some(targets) = &args.targets {
        let fold = args.fold.unwrap_or(true);
        if args.background {
            return jobs::broadcast(scout, targets, args.query.as_deref(), fold);
        }
        let items = scout.broadcast(targets, args.query.as_deref(), control)?;
        let share = crate::scout::Share::of(scout.settings(), items.len());
        let mut out = format::broadcast(
            &items,
            args.query.as_deref(),
            scout.settings().command_timeout,
            fold,
        );
        if share.file < scout.settings().max_file_size {
            out.text.push_str(&format!(
                "\n(each target kept at most {} of file or output: one broadcast keeps {} in all)",
                crate::control::human_bytes(share.file),
                crate::control::human_bytes(crate::scout::BROADCAST_OUTPUT as u64)
            ));
        }
        return Ok(out);
    }
    if args.fold.is_some() {
        return Err(Error::invalid_argument(
            "'fold' applies to broadcasts: give 'targets'",
        ));
    }
    if args.target.trim().is_empty() {
        return Err(Error::invalid_argument(
            "missing 'target': use \"hosts\" to list hosts, \"jobs\" to list background jobs, or \"host:/path\" to read, list or run in a path",
        ));
    }
    if args.target.trim().eq_ignore_ascii_case("jobs") {
        if args.background || args.query.is_some() {
            return Err(Error::invalid_argument(
                "\"jobs\" lists the background jobs; it takes no other parameter",
            ));
        }
        return Ok(format::jobs(&scout.jobs().list()));
    }
    let at = match Target::parse(&args.target)? {
        Target::Hosts => {
            return Ok(match &args.check {
                Some(aliases) => format::checks(
                    &scout.check(aliases, control)?,
                    scout.groups(),
                    scout.group_warnings(),
                ),
                None => format::hosts(&scout.hosts(), scout.groups()),
            })
        }
        Target::Path(at) => at,
    };
    let host = at.host();
    scout.host(host)?;
    if let Some(local) = &args.beam {
        return beam(scout, args, &at, local, control);
    }
    let depth = args.depth.unwrap_or(DEFAULT_DEPTH);
    if let Some(depth) = args.depth {
        check_depth(depth)?;
    }
    if let Some(pattern) = &args.find {
        let found = scout.find(&at, pattern, depth, control)?;
        return Ok(format::find(host, &found));
    }
    if let Some(other) = &args.diff {
        let other = remote_target(other, "diff")?;
        let c = scout.diff(&at, &other, control)?;
        return Ok(format::comparison(&c));
    }
    if let Some(expected) = &args.diff_content {
        let c = scout.diff_content(&at, expected, control)?;
        return Ok(format::comparison(&c));
    }
    if let Some(query) = &args.query {
        if args.background {
            return jobs::query(scout, &at, query);
        }
        let out = scout.run(&at, query, control)?;
        return Ok(format::command(
            host,
            at.path(),
            query,
            &out,
            scout.settings().command_timeout,
        ));
    }
    if args.tree {
        let tree = scout.tree(&at, depth, control)?;
        return Ok(format::tree(host, &tree));
    }
    match scout.view(&at, control)? {
        View::File(file) => Ok(format::file(host, &file)),
        View::Directory(listing) => Ok(format::listing(host, &listing)),
    }
}

/// Default depth for `find` and `tree`.
const DEFAULT_DEPTH: u32 = 5;

/// `job`, `cancel` and `offset` go together and alone.
fn check_job_args(args: &Args) -> Result<(), Error> {
    if args.job.is_none() {
        if args.cancel || args.offset.is_some() {
            return Err(Error::invalid_argument(
                "'cancel' and 'offset' go with 'job': {\"job\": \"ID\", \"offset\": 0} or {\"job\": \"ID\", \"cancel\": true}",
            ));
        }
        return Ok(());
    }
    let others = !args.target.is_empty()
        || args.query.is_some()
        || args.targets.is_some()
        || args.tree
        || args.find.is_some()
        || args.depth.is_some()
        || args.diff.is_some()
        || args.diff_content.is_some()
        || args.beam.is_some()
        || args.beam_source.is_some()
        || args.beam_target.is_some()
        || args.beam_direction.is_some()
        || args.overwrite
        || args.check.is_some()
        || args.background
        || args.fold.is_some();
    if others {
        return Err(Error::invalid_argument(
            "'job' goes alone, with 'offset' (output from that byte) or 'cancel': true",
        ));
    }
    Ok(())
}

/// Parameters that only make sense together.
fn check_beam_args(args: &Args) -> Result<(), Error> {
    let remote = args.beam_source.is_some() || args.beam_target.is_some();
    if remote && (args.beam_source.is_none() || args.beam_target.is_none()) {
        return Err(Error::invalid_argument(
            "a host-to-host copy needs both 'beam_source' and 'beam_target' (\"host:/path\" each)",
        ));
    }
    if remote && args.beam.is_some() {
        return Err(Error::invalid_argument(
            "give either 'beam' (with target) or 'beam_source' + 'beam_target', not both",
        ));
    }
    if args.beam_direction.is_some() && args.beam.is_none() {
        return Err(Error::invalid_argument(
            "'beam_direction' needs 'beam' (the local path) and 'target' (the remote path)",
        ));
    }
    if args.overwrite && args.beam.is_none() && !remote {
        return Err(Error::invalid_argument(
            "'overwrite' only applies to beam transfers",
        ));
    }
    Ok(())
}

/// A `host:/path` parameter other than `target` (`hosts` is not a path).
fn remote_target(value: &str, param: &str) -> Result<RemotePath, Error> {
    match Target::parse(value) {
        Ok(Target::Path(at)) => Ok(at),
        Ok(Target::Hosts) => Err(Error::invalid_argument(format!(
            "'{param}' must be \"host:/path\", not 'hosts'"
        ))),
        Err(e) => Err(Error::invalid_argument(format!("'{param}': {e}"))),
    }
}

/// `target` + `beam`: the explicit direction, else the Python rule (an existing local file
/// means upload). Either way an existing destination is kept unless `overwrite`.
fn beam(
    scout: &Scout,
    args: &Args,
    remote: &RemotePath,
    local: &str,
    control: &Control,
) -> Result<ToolOutput, Error> {
    let direction = match &args.beam_direction {
        Some(d) => Direction::parse(d)?,
        None if local_is_file(local, &scout.settings().beam) => Direction::Upload,
        None => Direction::Download,
    };
    let options = TransferOptions::new().overwrite(args.overwrite);
    let t = match direction {
        Direction::Upload => scout.upload(local, remote, &options, control)?,
        Direction::Download => scout.download(remote, local, &options, control)?,
    };
    let verb = match direction {
        Direction::Upload => "Uploaded",
        Direction::Download => "Downloaded",
    };
    Ok(format::transfer(verb, &t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExecOutput;

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

    /// Every mode's structured content has the `mode` of one output schema and that schema's
    /// required fields.
    #[test]
    fn structured_content_has_what_its_schema_requires() {
        use crate::jobs::Jobs;
        use crate::scout::{BroadcastItem, Outcome};
        let schema = output_schema();
        let check = |out: &ToolOutput| {
            let mode = out.structured["mode"].as_str().unwrap();
            let one = schema["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["properties"]["mode"]["const"] == mode)
                .unwrap_or_else(|| panic!("no schema for mode {mode}"));
            for field in one["required"].as_array().unwrap() {
                let field = field.as_str().unwrap();
                assert!(out.structured.get(field).is_some(), "{mode} lacks {field}");
            }
        };
        let item = |t: &str| BroadcastItem {
            target: t.into(),
            result: Ok(Outcome::Command(ExecOutput {
                exit_code: Some(0),
                ..ExecOutput::default()
            })),
        };
        let items = vec![item("a1:/"), item("a2:/")];
        let timeout = std::time::Duration::from_secs(1);
        check(&format::broadcast(&items, Some("true"), timeout, true));
        check(&format::broadcast(&items, Some("true"), timeout, false));
        let jobs = Jobs::new();
        let started = jobs.start("x".into(), vec![], |_| Ok(())).unwrap();
        check(&format::job_started(&started, timeout));
        check(&format::job(&jobs.wait(&started.id, timeout).unwrap()));
        check(&format::jobs(&jobs.list()));
        check(&format::hosts(&[], &[]));
        check(&ToolOutput::error(&Error::cancelled()));
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
        let t = format::command("h", "/", "ls", &out, std::time::Duration::from_secs(30)).text;
        assert_eq!(t, "out\n[stderr]\nerr\n[exit code: 2]");
        let empty = ExecOutput {
            exit_code: Some(0),
            ..ExecOutput::default()
        };
        assert_eq!(
            format::command("h", "/", "true", &empty, std::time::Duration::from_secs(1)).text,
            "(no output)"
        );
    }
}
