//! What `tools/list` says about the tool: its input schema, output schema and description.

use serde_json::{json, Value};

/// The tool's `inputSchema`: the parameters declared in `tool.rs`, no others.
pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": super::schema_properties(),
        "additionalProperties": false
    })
}

/// One object schema per mode, distinguished by `mode`; every mode's structured content
/// validates against exactly one of them.
pub fn output_schema() -> Value {
    let mode = |name: &str, required: &[&str], props: Value| {
        let mut properties = props;
        properties["mode"] = json!({ "const": name });
        let mut req = vec!["mode"];
        req.extend_from_slice(required);
        json!({ "type": "object", "properties": properties, "required": req })
    };
    let s = json!({ "type": "string" });
    let n = json!({ "type": "integer" });
    let b = json!({ "type": "boolean" });
    let opt_s = json!({ "type": ["string", "null"] });
    let opt_n = json!({ "type": ["integer", "null"] });
    json!({
        "type": "object",
        "properties": { "mode": { "type": "string", "enum": [
            "hosts", "check", "read", "list", "tree", "find", "query", "diff", "beam", "broadcast", "job", "jobs", "error"
        ] } },
        "required": ["mode"],
        "oneOf": [
            mode("hosts", &["hosts"], json!({ "hosts": { "type": "array", "items": { "type": "object", "properties": {
                "alias": s, "user": s, "hostname": s, "port": n, "via": opt_s, "reachable": b, "error": opt_s } } },
                "groups": { "type": "array", "items": { "type": "object", "properties": {
                    "name": s, "hosts": s, "count": n, "patterns": { "type": "array", "items": s } } } } })),
            mode("check", &["hosts"], json!({ "hosts": { "type": "array", "items": { "type": "object", "properties": {
                "alias": s, "ok": b, "settings": { "type": "object" }, "fix": opt_s,
                "stages": { "type": "array", "items": { "type": "object", "properties": {
                    "stage": s, "ms": { "type": "number" }, "ok": b, "detail": s } } } },
                "required": ["alias", "ok", "stages"] } } })),
            mode("read", &["host", "path", "size", "truncated", "binary"], json!({
                "host": s, "path": s, "size": n, "truncated": b, "binary": b, "content": opt_s })),
            mode("list", &["host", "path", "total", "entries"], json!({
                "host": s, "path": s, "total": n, "entries": { "type": "array", "items": { "type": "object" } } })),
            mode("tree", &["host", "path", "lines"], json!({
                "host": s, "path": s, "directories": n, "files": n, "omitted": n,
                "lines": { "type": "array", "items": s } })),
            mode("find", &["host", "path", "pattern", "matches", "total", "complete"], json!({
                "host": s, "path": s, "pattern": s, "depth": n, "total": n, "complete": b,
                "matches": { "type": "array", "items": s } })),
            mode("query", &["host", "path", "exit_code", "stdout", "stderr", "truncated"], json!({
                "host": s, "path": s, "command": s, "exit_code": opt_n, "exit_signal": opt_s,
                "stdout": s, "stderr": s, "truncated": b, "timed_out": b, "remote_limit": opt_s })),
            mode("diff", &["left", "right", "identical"], json!({
                "left": s, "right": s, "identical": b, "truncated": b, "diff": s,
                "binary": { "type": "object" } })),
            mode("beam", &["source", "destination", "bytes", "sha256"], json!({
                "source": s, "destination": s, "bytes": n, "seconds": { "type": "number" },
                "bytes_per_second": { "type": "number" }, "sha256": s })),
            mode("broadcast", &["succeeded", "total", "folded"], json!({
                "succeeded": n, "total": n, "folded": b, "distinct": n,
                "groups": { "type": "array", "items": { "type": "object", "properties": {
                    "targets": { "type": "array", "items": { "type": "object", "properties": { "hosts": s, "path": s } } },
                    "count": n, "ok": b, "result": { "type": "object" } }, "required": ["targets", "count", "ok", "result"] } },
                "results": { "type": "array", "items": { "type": "object", "properties": {
                    "target": s, "ok": b, "result": { "type": "object" } }, "required": ["target", "ok", "result"] } } })),
            mode("job", &["id", "state", "output", "next_offset"], json!({
                "id": s, "state": { "type": "string", "enum": ["running", "done", "failed", "cancelled"] },
                "what": s, "elapsed_seconds": { "type": "number" }, "error": opt_s,
                "total": n, "done": n, "succeeded": n, "failed": n,
                "hosts": { "type": "object", "properties": { "ok": s, "failed": s, "waiting": s } },
                "progress": opt_s, "output": s, "offset": n, "next_offset": n,
                "output_bytes": n, "dropped_bytes": n })),
            mode("jobs", &["jobs"], json!({ "jobs": { "type": "array", "items": { "type": "object", "properties": {
                "id": s, "state": s, "what": s, "elapsed_seconds": { "type": "number" },
                "total": n, "done": n, "failed": n, "output_bytes": n } } } })),
            mode("error", &["error"], json!({ "error": s })),
        ]
    })
}

/// The tool's `description`: every mode with one example.
pub fn description() -> String {
    "Look at and act on SSH hosts from ~/.ssh/config. One tool, several modes (first match wins):\n\
     - List hosts (and host groups): {\"target\": \"hosts\"}\n\
     - Diagnose connections: {\"target\": \"hosts\", \"check\": [\"web1\"]} (true = every host; each stage timed, with the fix for a failure)\n\
     - Read a file: {\"target\": \"web1:/etc/nginx/nginx.conf\"} (capped at SCOUT_MAX_FILE_SIZE; binary files are described, not dumped)\n\
     - List a directory: {\"target\": \"web1:/var/log\"} (ls -la style; relative paths and ~ start at the login directory)\n\
     - Tree: {\"target\": \"web1:~/app\", \"tree\": true, \"depth\": 2}\n\
     - Find by name: {\"target\": \"web1:/etc\", \"find\": \"*.conf\", \"depth\": 3} (at most 100 results)\n\
     - Run a command in a directory: {\"target\": \"web1:/var/log\", \"query\": \"grep -c error syslog\"} \
     (default policy 'allowlist': cat df diff du file find grep head ls rg sort stat tail tree uniq wc, \
     each argument taken literally: no pipes, globs or $(...))\n\
     - Compare two files: {\"target\": \"web1:/etc/hosts\", \"diff\": \"web2:/etc/hosts\"} (unified diff)\n\
     - Compare with expected content: {\"target\": \"web1:/etc/motd\", \"diff_content\": \"hello\\n\"}\n\
     - Broadcast to many hosts: {\"targets\": [\"web*:/etc/os-release\"]} (add \"query\" to run it in each path). \
     Host part: alias, glob web*, range web[01-40,42], group @web, lists with '!' to exclude (\"web*,!web13:/\"); \
     at most 1000 targets. Identical outputs are folded: one block per distinct output naming its hosts \
     (web[01-40]), failures and differences first; \"fold\": false gives one block per target\n\
     - Background job (for long work; calls may time out): add \"background\": true to a query or broadcast; \
     it answers with a job id. {\"job\": \"ID\"} = state, per-host progress, output so far \
     (\"offset\": next_offset for what is new); {\"job\": \"ID\", \"cancel\": true} stops it; \
     {\"target\": \"jobs\"} lists jobs\n\
     - Download: {\"target\": \"web1:/var/log/app.log\", \"beam\": \"/tmp/app.log\", \"beam_direction\": \"download\"}\n\
     - Upload: {\"target\": \"web1:/tmp/app.conf\", \"beam\": \"./app.conf\", \"beam_direction\": \"upload\"} \
     (never replaces a file unless \"overwrite\": true)\n\
     - Copy host to host: {\"beam_source\": \"web1:/etc/app.conf\", \"beam_target\": \"web2:/tmp/app.conf\"}"
        .to_string()
}
