//! Text and structured content for each mode of the tool. The text is what an agent reads; the
//! structured value carries the same facts as data (returned from protocol 2025-06-18 on, and
//! described by [`super::output_schema`]).

use std::time::Duration;

use serde_json::{json, Value};

use super::ToolOutput;
use crate::control::human_bytes;
use crate::fold::{self, Folder};
use crate::jobs::{dropped_note, JobReport, JobState, JOB_KEEP};
use crate::ops::compare::{self, Comparison};
use crate::ops::fs::{self, FileContent, Listing, View};
use crate::ops::hosts::{HostGroup, HostStatus};
use crate::ops::run::{FindResult, Tree};
use crate::ops::transfer::Transfer;
use crate::scout::{BroadcastItem, Outcome};
use crate::ExecOutput;

pub fn hosts(statuses: &[HostStatus], groups: &[HostGroup]) -> ToolOutput {
    let items: Vec<Value> = statuses
        .iter()
        .map(|s| {
            json!({
                "alias": s.alias, "user": s.user, "hostname": s.hostname, "port": s.port,
                "via": s.via,
                "reachable": s.reachable.is_ok(),
                "error": s.reachable.as_ref().err(),
            })
        })
        .collect();
    let groups_data: Vec<Value> = groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name, "patterns": g.patterns, "count": g.members.len(),
                "hosts": crate::ranges::fold_hosts(g.members.iter().map(String::as_str)),
            })
        })
        .collect();
    let text = crate::ops::hosts::format_with_groups(statuses, groups);
    let mut structured = json!({ "mode": "hosts", "hosts": items });
    // Only when there are groups: an answer without them stays what it always was.
    if !groups_data.is_empty() {
        structured["groups"] = json!(groups_data);
    }
    ToolOutput::ok(text, structured)
}

pub fn checks(
    checks: &[crate::ops::check::HostCheck],
    groups: &[HostGroup],
    warnings: &[String],
) -> ToolOutput {
    let items: Vec<Value> = checks
        .iter()
        .map(|c| {
            let settings: serde_json::Map<String, Value> = c
                .settings
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let stages: Vec<Value> = c
                .stages
                .iter()
                .map(|s| {
                    json!({
                        "stage": s.name,
                        "ms": s.elapsed.as_secs_f64() * 1000.0,
                        "ok": s.outcome.is_ok(),
                        "detail": match &s.outcome { Ok(d) | Err(d) => d },
                    })
                })
                .collect();
            json!({ "alias": c.alias, "ok": c.ok(), "settings": settings, "stages": stages, "fix": c.fix })
        })
        .collect();
    let mut text = crate::ops::check::format(checks);
    let listed = crate::ops::hosts::format_groups(groups);
    if !listed.is_empty() {
        text.push('\n');
        text.push_str(&listed);
    }
    for w in warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    let mut structured = json!({ "mode": "check", "hosts": items });
    if !warnings.is_empty() {
        structured["group_warnings"] = json!(warnings);
    }
    ToolOutput::ok(text, structured)
}

pub fn file(host: &str, file: &FileContent) -> ToolOutput {
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

pub fn listing(host: &str, listing: &Listing) -> ToolOutput {
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
            fs::format_time(i64::try_from(e.mtime).unwrap_or(i64::MAX)),
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

pub fn tree(host: &str, tree: &Tree) -> ToolOutput {
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

/// What a command's end adds below its output: truncation, timeout, cancellation, signal,
/// remote limit, a non-zero exit code.
pub fn command_markers(out: &ExecOutput, timeout: std::time::Duration) -> Vec<String> {
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
    if let Some(why) = &out.remote_limit {
        markers.push(format!("[remote limit: {why}]"));
    }
    if let Some(code) = out.exit_code.filter(|c| *c != 0) {
        markers.push(format!("[exit code: {code}]"));
    }
    markers
}

pub fn command(
    host: &str,
    dir: &str,
    query: &str,
    out: &ExecOutput,
    timeout: std::time::Duration,
) -> ToolOutput {
    let stdout = out.stdout_lossy();
    let stderr = out.stderr_lossy();
    let mut text = stdout.clone();
    if !stderr.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("[stderr]\n");
        text.push_str(&stderr);
    }
    let markers = command_markers(out, timeout);
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
        "remote_limit": out.remote_limit,
    });
    ToolOutput::ok(text, structured)
}

pub fn find(host: &str, found: &FindResult) -> ToolOutput {
    let place = format!("{host}:{}", found.path);
    let mut text = if found.total == 0 {
        format!(
            "No match: nothing named '{}' under {place} (depth {}).\n",
            found.pattern, found.depth
        )
    } else {
        let s = if found.total == 1 { "" } else { "es" };
        let mut t = format!(
            "{}{} match{s} for '{}' under {place} (depth {}):\n",
            if found.complete { "" } else { "at least " },
            found.total,
            found.pattern,
            found.depth
        );
        for m in &found.matches {
            t.push_str(m);
            t.push('\n');
        }
        t
    };
    let omitted = found.total - found.matches.len();
    if omitted > 0 || !found.complete {
        text.push_str(&format!(
            "[... {}{omitted} more results not shown; narrow the pattern or lower depth]\n",
            if found.complete { "" } else { "at least " }
        ));
    }
    if !found.warnings.trim().is_empty() {
        text.push_str(&format!("[warnings]\n{}\n", found.warnings.trim_end()));
    }
    let structured = json!({
        "mode": "find", "host": host, "path": found.path, "pattern": found.pattern,
        "depth": found.depth, "matches": found.matches, "total": found.total,
        "complete": found.complete,
    });
    ToolOutput::ok(text, structured)
}

pub fn comparison(c: &Comparison) -> ToolOutput {
    let mut structured = json!({
        "mode": "diff", "left": c.left, "right": c.right, "identical": c.identical(),
        "truncated": c.truncated,
    });
    match &c.outcome {
        compare::DiffOutcome::Identical => {}
        compare::DiffOutcome::Differ { unified } => structured["diff"] = json!(unified),
        compare::DiffOutcome::Binary {
            left_size,
            left_sha256,
            right_size,
            right_sha256,
        } => {
            structured["binary"] = json!({
                "left_size": left_size, "left_sha256": left_sha256,
                "right_size": right_size, "right_sha256": right_sha256,
            });
        }
    }
    ToolOutput::ok(compare::format(c), structured)
}

pub fn transfer(verb: &str, t: &Transfer) -> ToolOutput {
    let text = format!(
        "{verb} {} -> {}: {} ({} bytes) in {:.2} s ({}/s), sha256 {}",
        t.source,
        t.destination,
        human_bytes(t.bytes),
        t.bytes,
        t.elapsed.as_secs_f64(),
        human_bytes(t.rate() as u64),
        t.sha256
    );
    let structured = json!({
        "mode": "beam", "source": t.source, "destination": t.destination, "bytes": t.bytes,
        "seconds": t.elapsed.as_secs_f64(), "bytes_per_second": t.rate(), "sha256": t.sha256,
    });
    ToolOutput::ok(text, structured)
}

/// A broadcast's answer: folded (one block per distinct answer naming its targets, failures
/// and rarer answers first) or one block per target in the order given; then a summary line.
pub fn broadcast(
    items: &[BroadcastItem],
    query: Option<&str>,
    timeout: Duration,
    fold: bool,
) -> ToolOutput {
    if fold {
        return folded(items, query, timeout);
    }
    let mut text = String::new();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        text.push_str(&target_text(item, query, timeout));
        let (_, data) = target_block(item, query, timeout);
        results.push(json!({ "target": item.target, "ok": item.succeeded(), "result": data }));
    }
    let succeeded = items.iter().filter(|i| i.succeeded()).count();
    text.push_str(&summary(succeeded, items.len(), 1));
    let structured = json!({
        "mode": "broadcast", "folded": false, "succeeded": succeeded, "total": items.len(),
        "results": results,
    });
    ToolOutput::ok(text, structured)
}

/// One target's block of the per-target view: its header and its answer.
pub fn target_text(item: &BroadcastItem, query: Option<&str>, timeout: Duration) -> String {
    let (body, _) = target_block(item, query, timeout);
    format!(
        "═══ {} ═══{}\n{}\n",
        item.target,
        if item.succeeded() { "" } else { " [FAILED]" },
        body.trim_end_matches('\n')
    )
}

fn summary(succeeded: usize, total: usize, distinct: usize) -> String {
    if distinct > 1 {
        format!("─── {succeeded}/{total} succeeded, {distinct} distinct outputs ───")
    } else {
        format!("─── {succeeded}/{total} succeeded ───")
    }
}

/// The folded view: `═══ web[01-40]:/etc (40) ═══` over each distinct answer.
fn folded(items: &[BroadcastItem], query: Option<&str>, timeout: Duration) -> ToolOutput {
    let groups = fold::fold(items);
    let mut text = String::new();
    let mut data = Vec::with_capacity(groups.len());
    for group in &groups {
        let Some(first) = group.members.first().and_then(|&m| items.get(m)) else {
            continue;
        };
        let count = group.members.len();
        let hosts = crate::ranges::fold_hosts(
            group
                .members
                .iter()
                .filter_map(|&m| items.get(m))
                .map(|i| i.host()),
        );
        let (body, mut result) = group_block(first, &hosts, query, timeout);
        text.push_str(&format!(
            "═══ {}{} ═══{}\n{}\n",
            fold::label(items, &group.members),
            if count > 1 {
                format!(" ({count})")
            } else {
                String::new()
            },
            if group.succeeded { "" } else { " [FAILED]" },
            body.trim_end_matches('\n')
        ));
        let targets: Vec<Value> = fold::by_path(items, &group.members)
            .into_iter()
            .map(|(path, hosts)| json!({ "hosts": hosts, "path": path }))
            .collect();
        if result.get("host").is_some() {
            result["host"] = json!(hosts);
        }
        data.push(json!({
            "targets": targets, "count": count, "ok": group.succeeded, "result": result,
        }));
    }
    let succeeded = items.iter().filter(|i| i.succeeded()).count();
    text.push_str(&summary(succeeded, items.len(), groups.len()));
    let structured = json!({
        "mode": "broadcast", "folded": true, "succeeded": succeeded, "total": items.len(),
        "distinct": groups.len(), "groups": data,
    });
    ToolOutput::ok(text, structured)
}

/// The answer shared by a group, shown for `hosts` (folded): an error without the host's name
/// in front, since the header names the hosts.
fn group_block(
    item: &BroadcastItem,
    hosts: &str,
    query: Option<&str>,
    timeout: Duration,
) -> (String, Value) {
    let path = item.path();
    let out = match &item.result {
        Err(e) => {
            let message = fold::error_text(e);
            ToolOutput {
                text: format!("Error: {message}"),
                structured: json!({ "mode": "error", "error": message }),
                is_error: true,
            }
        }
        Ok(Outcome::View(View::File(f))) => file(hosts, f),
        Ok(Outcome::View(View::Directory(l))) => listing(hosts, l),
        Ok(Outcome::Command(o)) => command(hosts, path, query.unwrap_or_default(), o, timeout),
    };
    (out.text, out.structured)
}

fn target_block(item: &BroadcastItem, query: Option<&str>, timeout: Duration) -> (String, Value) {
    let (host, path) = (item.host(), item.path());
    let out = match &item.result {
        Err(e) => ToolOutput::error(e),
        Ok(Outcome::View(View::File(f))) => file(host, f),
        Ok(Outcome::View(View::Directory(l))) => listing(host, l),
        Ok(Outcome::Command(o)) => command(host, path, query.unwrap_or_default(), o, timeout),
    };
    (out.text, out.structured)
}

/// A background broadcast's new distinct answer, as it first appears: `═══ #N from TARGET ═══`.
pub fn job_answer(
    group: usize,
    item: &BroadcastItem,
    query: Option<&str>,
    timeout: Duration,
) -> String {
    let (body, _) = group_block(item, item.host(), query, timeout);
    format!(
        "═══ #{} from {}{} ═══\n{}\n",
        group + 1,
        item.target,
        if item.succeeded() { "" } else { " [FAILED]" },
        body.trim_end_matches('\n')
    )
}

/// A background broadcast's closing summary: with folding, which targets gave which answer
/// (failures and rarer answers first); then the summary line.
pub fn job_summary(items: &[BroadcastItem], folder: Option<&Folder>) -> String {
    let succeeded = items.iter().filter(|i| i.succeeded()).count();
    let Some(folder) = folder else {
        return format!("{}\n", summary(succeeded, items.len(), 1));
    };
    let mut text = String::from("═══ which targets gave which output ═══\n");
    for g in folder.display_order() {
        let Some(group) = folder.groups().get(g) else {
            continue;
        };
        let count = group.members.len();
        text.push_str(&format!(
            "#{} {}{}{}\n",
            g + 1,
            fold::label(items, &group.members),
            if count > 1 {
                format!(" ({count})")
            } else {
                String::new()
            },
            if group.succeeded { "" } else { " [FAILED]" },
        ));
    }
    text.push_str(&summary(succeeded, items.len(), folder.groups().len()));
    text.push('\n');
    text
}

/// The answer to `background: true`: the job's id and how to follow it.
pub fn job_started(report: &JobReport, timeout: Duration) -> ToolOutput {
    let id = &report.id;
    let text = format!(
        "Started job {id}: {}.\nFollow it with {{\"job\": \"{id}\"}} (state, progress, output; \
         add \"offset\": N to read the output from byte N); stop it with {{\"job\": \"{id}\", \
         \"cancel\": true}}. Commands may run {:.0} s (SCOUT_JOB_TIMEOUT); a finished job is kept \
         {} minutes.",
        report.what,
        timeout.as_secs_f64(),
        JOB_KEEP.as_secs() / 60
    );
    ToolOutput::ok(text, job_data(report))
}

/// A look at a job: its state, its targets by state, and its output from the offset asked.
pub fn job(report: &JobReport) -> ToolOutput {
    let id = &report.id;
    let secs = report.elapsed.as_secs_f64();
    let when = match report.state {
        JobState::Running => format!("running for {secs:.1} s"),
        other => format!("{} after {secs:.1} s", other.as_str()),
    };
    let mut text = format!("Job {id}: {when}: {}\n", report.what);
    if let Some(e) = &report.error {
        text.push_str(&format!("Error: {e}\n"));
    }
    text.push_str(&targets_line(report));
    if let Some(p) = report
        .progress
        .as_ref()
        .filter(|_| report.state == JobState::Running)
    {
        text.push_str(&format!("Progress: {}\n", p.message));
    }
    if report.output.is_empty() {
        if report.output_bytes == 0 {
            text.push_str("Output: none yet\n");
        } else {
            text.push_str(&format!(
                "Output: nothing from byte {} ({} bytes in all)\n",
                report.offset, report.output_bytes
            ));
        }
    } else {
        text.push_str(&format!(
            "Output, bytes {}-{} of {}:\n{}",
            report.offset, report.next_offset, report.output_bytes, report.output
        ));
        if !report.output.ends_with('\n') {
            text.push('\n');
        }
    }
    if let Some(note) = dropped_note(report) {
        text.push_str(&note);
        text.push('\n');
    }
    if report.next_offset < report.output_bytes {
        text.push_str(&format!(
            "[more output: {{\"job\": \"{id}\", \"offset\": {}}}]\n",
            report.next_offset
        ));
    } else if report.state == JobState::Running {
        text.push_str(&format!(
            "[still running: ask {{\"job\": \"{id}\", \"offset\": {}}} for what comes next]\n",
            report.next_offset
        ));
    }
    ToolOutput::ok(text.trim_end().to_string(), job_data(report))
}

fn targets_line(report: &JobReport) -> String {
    let mut parts = Vec::new();
    if !report.ok.is_empty() {
        parts.push(format!("{} ok {}", report.succeeded, report.ok));
    }
    if !report.failed.is_empty() {
        parts.push(format!("{} failed {}", report.failures, report.failed));
    }
    if !report.waiting.is_empty() {
        parts.push(format!(
            "{} not finished {}",
            report.total - report.done,
            report.waiting
        ));
    }
    format!(
        "Targets: {}/{} finished{}{}\n",
        report.done,
        report.total,
        if parts.is_empty() { "" } else { ": " },
        parts.join("; ")
    )
}

fn job_data(report: &JobReport) -> Value {
    json!({
        "mode": "job", "id": report.id, "state": report.state.as_str(), "what": report.what,
        "elapsed_seconds": report.elapsed.as_secs_f64(), "error": report.error,
        "total": report.total, "done": report.done, "succeeded": report.succeeded,
        "failed": report.failures,
        "hosts": { "ok": report.ok, "failed": report.failed, "waiting": report.waiting },
        "progress": report.progress.as_ref().map(|p| p.message.clone()),
        "output": report.output, "offset": report.offset, "next_offset": report.next_offset,
        "output_bytes": report.output_bytes, "dropped_bytes": report.dropped_bytes,
    })
}

/// `{"target": "jobs"}`: every job kept, oldest first.
pub fn jobs(list: &[JobReport]) -> ToolOutput {
    let mut text = if list.is_empty() {
        "No background jobs. Start one with \"background\": true on a query or a broadcast.\n"
            .to_string()
    } else {
        format!("{} job(s):\n", list.len())
    };
    let mut data = Vec::with_capacity(list.len());
    for r in list {
        let secs = r.elapsed.as_secs_f64();
        text.push_str(&format!(
            "{}  {:<9} {secs:>7.1} s  {}/{} targets finished ({} failed)  {}\n",
            r.id,
            r.state.as_str(),
            r.done,
            r.total,
            r.failures,
            r.what
        ));
        data.push(json!({
            "id": r.id, "state": r.state.as_str(), "what": r.what, "elapsed_seconds": secs,
            "total": r.total, "done": r.done, "failed": r.failures,
            "output_bytes": r.output_bytes,
        }));
    }
    ToolOutput::ok(
        text.trim_end().to_string(),
        json!({ "mode": "jobs", "jobs": data }),
    )
}
