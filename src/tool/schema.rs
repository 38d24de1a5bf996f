//! What `tools/list` says about the tool: its input schema, output schema and description.

use serde_json::{json, Value};

/// The tool's `inputSchema`.
pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "target": { "type": "string", "description": "\"hosts\" to list hosts and groups, \"jobs\" to list background jobs, or \"host:/path\" (path may be relative to the login directory or start with ~)" },
            "query": { "type": "string", "description": "command to run with target's path as working directory (with targets: run on each)" },
            "tree": { "type": "boolean", "description": "show a directory as a tree", "default": false },
            "find": { "type": "string", "description": "glob (find -name pattern) to search for under target" },
            "depth": { "type": "integer", "minimum": 1, "maximum": 10, "default": 5, "description": "depth for find and tree" },
            "diff": { "type": "string", "description": "another host:/path to compare target's file with" },
            "diff_content": { "type": "string", "description": "expected content to compare target's file with" },
            "targets": { "type": "array", "items": { "type": "string" }, "description": "broadcast: several HOSTS:/path, read (or run query) on each, concurrently (at most 1000 after expansion). HOSTS is an alias or a pattern: glob (web*), range (web[01-40,42]), group (@web), comma-separated, '!' excludes (web*,!web13)" },
            "fold": { "type": "boolean", "default": true, "description": "broadcast: one block per distinct output naming its hosts (failures and differences first); false = one block per target" },
            "background": { "type": "boolean", "default": false, "description": "run the query or broadcast as a background job: answers at once with a job id (for work longer than a tool call may wait)" },
            "job": { "type": "string", "description": "a job id: its state, per-host progress and output (from offset)" },
            "offset": { "type": "integer", "minimum": 0, "default": 0, "description": "with job: return output from this byte (the previous answer's next_offset)" },
            "cancel": { "type": "boolean", "default": false, "description": "with job: stop it (remote commands are killed)" },
            "beam": { "type": "string", "description": "local path for an SFTP transfer with target" },
            "beam_direction": { "type": "string", "enum": ["upload", "download"], "description": "direction of a beam transfer (default: upload if the local file exists, else download)" },
            "overwrite": { "type": "boolean", "default": false, "description": "allow a transfer to replace an existing file" },
            "beam_source": { "type": "string", "description": "host:/path to copy from (host-to-host copy, with beam_target)" },
            "beam_target": { "type": "string", "description": "host:/path to copy to (host-to-host copy, with beam_source)" },
            "check": {
                "type": ["boolean", "string", "array"], "items": { "type": "string" },
                "description": "with target \"hosts\": connect to hosts stage by stage (DNS, TCP, handshake, host key, auth, exec) and say what to fix; true = every host, or one alias, or an array of aliases"
            }
        },
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
