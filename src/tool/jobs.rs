//! `background: true`: a `query` or a broadcast started as a job ([`crate::jobs`]), whose
//! output is the text the call would have answered, written as it comes.

use crate::error::Error;
use crate::fold::{label_targets, Folder};
use crate::jobs::JobContext;
use crate::ops::target::RemotePath;
use crate::scout::{BroadcastOptions, Scout};

use super::format;
use super::ToolOutput;

/// Longest command shown in a job's one-line description.
const WHAT_QUERY: usize = 200;

/// Starts `query` on `host:path` as a job. The host and the command policy are checked first:
/// what would fail at once fails now, not in the job.
pub fn query(scout: &Scout, dir: &RemotePath, query: &str) -> Result<ToolOutput, Error> {
    scout.vet_query(query)?;
    let timeout = scout.settings().job_timeout;
    let what = format!("`{}` on {dir}", cut(query, WHAT_QUERY));
    let (worker, dir, query) = (scout.clone(), dir.clone(), query.to_string());
    let report = scout.jobs().start(
        what,
        vec![dir.host().to_string()],
        move |ctx: &JobContext| {
            // The output goes to the job as it is read; the end adds what happened.
            let control = ctx.control().clone().with_output_tap(ctx.output_tap());
            let result = worker.run_for(&dir, &query, timeout, &control);
            drop(worker);
            let out = result.inspect_err(|_| ctx.target_done(0, false))?;
            ctx.target_done(0, out.success() && !out.timed_out);
            let markers = format::command_markers(&out, timeout);
            if !markers.is_empty() {
                ctx.append_summary(&format!("\n{}\n", markers.join("\n")));
            }
            Ok(())
        },
    )?;
    Ok(format::job_started(&report, timeout))
}

/// Starts a broadcast as a job. Patterns are expanded and the command policy checked first.
/// Its output: with `fold`, each distinct answer once, as it first appears (`#N`), and at the
/// end which targets gave which; without, every target's block as it finishes; then the
/// summary line.
pub fn broadcast(
    scout: &Scout,
    targets: &[String],
    query: Option<&str>,
    fold: bool,
) -> Result<ToolOutput, Error> {
    let targets = scout.expand_targets(targets)?;
    if let Some(q) = query {
        scout.vet_query(q)?;
    }
    let timeout = scout.settings().job_timeout;
    let what = match query {
        Some(q) => format!(
            "`{}` on {} targets ({})",
            cut(q, WHAT_QUERY),
            targets.len(),
            cut(&label_targets(&targets), WHAT_QUERY)
        ),
        None => format!(
            "read of {} targets ({})",
            targets.len(),
            cut(&label_targets(&targets), WHAT_QUERY)
        ),
    };
    let hosts: Vec<String> = targets
        .iter()
        .map(|t| {
            t.split_once(':')
                .map_or(t.as_str(), |(h, _)| h.trim())
                .to_string()
        })
        .collect();
    let (worker, query) = (scout.clone(), query.map(str::to_string));
    let report = scout.jobs().start(what, hosts, move |ctx: &JobContext| {
        let options = BroadcastOptions {
            timeout: Some(timeout),
        };
        let mut folder = Folder::new();
        let q = query.as_deref();
        let result = worker.broadcast_with(&targets, q, &options, ctx.control(), &mut |i, item| {
            ctx.target_done(i, item.succeeded());
            if fold {
                let (group, new) = folder.add(i, item);
                if new {
                    ctx.append(&format::job_answer(group, item, q, timeout));
                }
            } else {
                ctx.append(&format::target_text(item, q, timeout));
            }
        });
        drop(worker);
        let items = result?;
        ctx.append_summary(&format::job_summary(&items, fold.then_some(&folder)));
        Ok(())
    })?;
    Ok(format::job_started(&report, timeout))
}

fn cut(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.len() <= max && line.len() == text.len() {
        return text.to_string();
    }
    let mut end = line.len().min(max);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}
