//! Background jobs: work that outlives a request.
//!
//! MCP clients give up on a tool call after a while (often 60 s). A job runs the same work on a
//! thread of its own and answers at once with an id; the caller then asks for the job's state,
//! its per-target progress and its output so far (from an offset, so each look returns only
//! what is new), cancels it, or lists the jobs. The MCP tool starts jobs for `query` and
//! broadcasts with `background: true`; a program can start any work with [`Jobs::start`].
//!
//! Everything is bounded: at most [`MAX_JOBS`] jobs are kept (running or finished; a new job
//! pushes out the oldest finished one, and is refused when all are running); a job keeps at
//! most [`JOB_OUTPUT`] bytes of output, plus [`JOB_SUMMARY`] for its closing summary (what
//! goes past is counted, not kept); a look returns at most [`JOB_READ`] bytes; a finished job
//! is dropped [`JOB_KEEP`] after it ended. The output that running jobs hold while they work
//! (a command's output, a broadcast's answers) comes out of one budget of [`JOB_BUDGET`] bytes
//! shared by all jobs (a command whose output finds no room pauses: SSH flow control). A job's
//! id is a sequence number (never reused in a process) and 64 random bits.
//!
//! Cancelling a job trips its [`Control`]: its remote commands are stopped (process group
//! killed) as for a cancelled request. [`Jobs::cancel_all`] does it for every job; `Scout::close`
//! calls it, so no job outlives the server.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use crate::control::{human_bytes, Budget, Control, Progress};
use crate::error::{Error, Result};
use crate::ranges::fold_hosts;
use crate::sync::lock;

/// Jobs kept at once, running or finished.
pub const MAX_JOBS: usize = 32;
/// Bytes of output one job keeps; what comes after is counted, not kept.
pub const JOB_OUTPUT: usize = 1 << 20;
/// Bytes a job may add past [`JOB_OUTPUT`] for its closing summary.
pub const JOB_SUMMARY: usize = 64 << 10;
/// Bytes of output one look at a job returns (ask again from the next offset for more).
pub const JOB_READ: usize = 64 << 10;
/// How long a finished job is kept.
pub const JOB_KEEP: Duration = Duration::from_secs(600);
/// Bytes of output all running jobs may hold while they work.
pub const JOB_BUDGET: usize = 16 << 20;
/// How long [`Jobs::cancel`] waits for the job to end before it answers.
const CANCEL_WAIT: Duration = Duration::from_secs(3);

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Still working.
    Running,
    /// Finished (its targets may still have failed: see the report).
    Done,
    /// The work itself failed (e.g. the host could not be reached).
    Failed,
    /// Cancelled; its remote commands were stopped.
    Cancelled,
}

impl JobState {
    /// `running`, `done`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// Where one target of a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Not finished yet.
    Waiting,
    /// Finished and succeeded.
    Ok,
    /// Finished and failed.
    Failed,
}

/// A look at a job: its state, progress, and output from an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    /// The job's id.
    pub id: String,
    /// What the job does, in a line.
    pub what: String,
    /// Where it is.
    pub state: JobState,
    /// When it started (wall clock).
    pub started: SystemTime,
    /// How long it has run (until it ended, for a finished job).
    pub elapsed: Duration,
    /// Why it failed, for a failed job.
    pub error: Option<String>,
    /// The hosts of its targets by state, each folded (`web[01-40]`; empty when none).
    pub ok: String,
    /// See [`JobReport::ok`].
    pub failed: String,
    /// See [`JobReport::ok`].
    pub waiting: String,
    /// Targets in all, and finished.
    pub total: usize,
    /// See [`JobReport::total`].
    pub done: usize,
    /// Targets that succeeded, and failed.
    pub succeeded: usize,
    /// See [`JobReport::succeeded`].
    pub failures: usize,
    /// The work's latest progress report, if any.
    pub progress: Option<Progress>,
    /// Output from `offset` (at most `JOB_READ` bytes).
    pub output: String,
    /// Where `output` starts in the job's output.
    pub offset: u64,
    /// Where the next look should start (`offset` + the bytes of `output`).
    pub next_offset: u64,
    /// Bytes of output the job keeps so far.
    pub output_bytes: u64,
    /// Bytes of output past the cap, counted and not kept.
    pub dropped_bytes: u64,
}

impl JobReport {
    /// Whether output past `next_offset` is kept now (or may come, while running).
    pub fn more(&self) -> bool {
        self.next_offset < self.output_bytes || self.state == JobState::Running
    }
}

/// What a job's work gets: its control (cancellation, progress), and where its output and
/// per-target progress go.
pub struct JobContext {
    job: Arc<Job>,
}

impl JobContext {
    /// The job's control: hand it to every operation the job runs.
    pub fn control(&self) -> &Control {
        &self.job.control
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.job.id
    }

    /// Adds text to the job's output (up to `JOB_OUTPUT` bytes in all; the rest is counted).
    pub fn append(&self, text: &str) {
        lock(&self.job.inner).append(text, JOB_OUTPUT);
    }

    /// Adds the closing summary: it may use `JOB_SUMMARY` bytes past the cap, so a job whose
    /// output filled up still ends with its summary.
    pub fn append_summary(&self, text: &str) {
        lock(&self.job.inner).append(text, JOB_OUTPUT + JOB_SUMMARY);
    }

    /// A tap for [`Control::with_output_tap`]: a command's output goes to the job's output as it
    /// is read (so `{"job": ID}` shows output so far), stdout and stderr each decoded as UTF-8
    /// across chunk boundaries.
    pub fn output_tap(&self) -> impl Fn(bool, &[u8]) + Send + Sync + 'static {
        let job = self.job.clone();
        let pending: Mutex<[Vec<u8>; 2]> = Mutex::new([Vec::new(), Vec::new()]);
        move |stderr: bool, bytes: &[u8]| {
            let mut pending = lock(&pending);
            let buf = &mut pending[usize::from(stderr)];
            buf.extend_from_slice(bytes);
            let text = take_utf8(buf);
            drop(pending);
            if !text.is_empty() {
                lock(&job.inner).append(&text, JOB_OUTPUT);
            }
        }
    }

    /// Records that target `index` finished, and whether it succeeded.
    pub fn target_done(&self, index: usize, ok: bool) {
        if let Some(t) = lock(&self.job.inner).targets.get_mut(index) {
            t.1 = if ok {
                TargetState::Ok
            } else {
                TargetState::Failed
            };
        }
    }
}

struct Job {
    id: String,
    what: String,
    started: Instant,
    started_wall: SystemTime,
    control: Control,
    inner: Mutex<JobInner>,
    ended: Condvar,
}

struct JobInner {
    state: JobState,
    ended: Option<Instant>,
    error: Option<String>,
    /// Each target's host (as shown) and state.
    targets: Vec<(String, TargetState)>,
    progress: Option<Progress>,
    output: String,
    dropped: u64,
}

impl JobInner {
    fn append(&mut self, text: &str, cap: usize) {
        if self.dropped > 0 && cap == JOB_OUTPUT {
            // Once something was dropped, nothing after it is kept: the output stays a prefix.
            self.dropped += text.len() as u64;
            return;
        }
        let room = cap.saturating_sub(self.output.len());
        if text.len() <= room {
            self.output.push_str(text);
            return;
        }
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.output.push_str(&text[..cut]);
        self.dropped += (text.len() - cut) as u64;
    }
}

/// The text at the start of `buf` that is complete, taken out of it: valid UTF-8 as is,
/// invalid bytes as U+FFFD; an incomplete character at the end waits for the next chunk.
fn take_utf8(buf: &mut Vec<u8>) -> String {
    let mut text = String::new();
    loop {
        match std::str::from_utf8(buf) {
            Ok(all) => {
                text.push_str(all);
                buf.clear();
                return text;
            }
            Err(e) => {
                let good = e.valid_up_to();
                text.push_str(&String::from_utf8_lossy(&buf[..good]));
                match e.error_len() {
                    // Invalid bytes: replaced, and decoding goes on after them.
                    Some(bad) => {
                        text.push(char::REPLACEMENT_CHARACTER);
                        buf.drain(..good + bad);
                    }
                    // A character cut by the chunk's end: kept for the next one.
                    None => {
                        buf.drain(..good);
                        return text;
                    }
                }
            }
        }
    }
}

/// The jobs of one [`Scout`](crate::Scout).
pub struct Jobs {
    table: Mutex<Vec<Arc<Job>>>,
    budget: Arc<Budget>,
    next: AtomicU64,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs::new()
    }
}

impl Jobs {
    /// No jobs yet.
    pub fn new() -> Jobs {
        Jobs {
            table: Mutex::new(Vec::new()),
            budget: Budget::new(JOB_BUDGET),
            next: AtomicU64::new(1),
        }
    }

    /// Starts `work` on a thread of its own and returns the job's first report (state
    /// `running`). `what` describes the job in a line; `targets` names the hosts of its
    /// targets, in the order the work numbers them for [`JobContext::target_done`].
    ///
    /// The work's `Ok` ends the job `done`, its `Err` `failed` (or `cancelled`, when the job
    /// was cancelled). Refused when `MAX_JOBS` jobs are running.
    ///
    /// ```
    /// use scout_mcp::{JobState, Jobs};
    /// let jobs = Jobs::new();
    /// let started = jobs
    ///     .start("count to three".into(), vec!["local".into()], |ctx| {
    ///         ctx.append("1 2 3\n");
    ///         ctx.target_done(0, true);
    ///         Ok(())
    ///     })
    ///     .unwrap();
    /// let report = jobs.wait(&started.id, std::time::Duration::from_secs(5)).unwrap();
    /// assert_eq!((report.state, report.output.as_str()), (JobState::Done, "1 2 3\n"));
    /// ```
    pub fn start(
        &self,
        what: String,
        targets: Vec<String>,
        work: impl FnOnce(&JobContext) -> Result<()> + Send + 'static,
    ) -> Result<JobReport> {
        let mut table = lock(&self.table);
        sweep(&mut table);
        if table.len() >= MAX_JOBS {
            match table.iter().position(|j| lock(&j.inner).ended.is_some()) {
                Some(oldest) => {
                    table.remove(oldest);
                }
                None => {
                    return Err(Error::invalid_argument(format!(
                        "{MAX_JOBS} jobs are running, the most at once: wait for one to end, or \
                         cancel one with {{\"job\": \"ID\", \"cancel\": true}} (list them with \
                         {{\"target\": \"jobs\"}})"
                    )))
                }
            }
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("j{n}-{}", crate::ops::local_files::random_hex());
        let job = Arc::new_cyclic(|weak: &Weak<Job>| {
            let sink = weak.clone();
            let control = Control::new()
                .with_progress(move |p| {
                    if let Some(job) = sink.upgrade() {
                        lock(&job.inner).progress = Some(p.clone());
                    }
                })
                .with_budget(&self.budget);
            Job {
                id: id.clone(),
                what,
                started: Instant::now(),
                started_wall: SystemTime::now(),
                control,
                inner: Mutex::new(JobInner {
                    state: JobState::Running,
                    ended: None,
                    error: None,
                    targets: targets
                        .into_iter()
                        .map(|t| (shorten(t, 256), TargetState::Waiting))
                        .collect(),
                    progress: None,
                    output: String::new(),
                    dropped: 0,
                }),
                ended: Condvar::new(),
            }
        });
        let ctx = JobContext { job: job.clone() };
        std::thread::Builder::new()
            .name(format!("scout-job-{n}"))
            .spawn(move || run(ctx, work))
            .map_err(|e| {
                Error::io(format!("cannot start a thread for the job: {e}")).with_source(e)
            })?;
        table.push(job.clone());
        drop(table);
        Ok(report(&job, u64::MAX))
    }

    /// The job's state, progress and output from byte `offset` (at most `JOB_READ` bytes).
    pub fn report(&self, id: &str, offset: u64) -> Result<JobReport> {
        Ok(report(&*self.find(id)?, offset))
    }

    /// Cancels the job (its remote commands are stopped) and reports it once it has ended (or
    /// after a few seconds). Cancelling a finished job changes nothing.
    pub fn cancel(&self, id: &str, offset: u64) -> Result<JobReport> {
        let job = self.find(id)?;
        job.control.cancel();
        wait_end(&job, CANCEL_WAIT);
        Ok(report(&job, offset))
    }

    /// Waits up to `timeout` for the job to end; its report (output from offset 0).
    pub fn wait(&self, id: &str, timeout: Duration) -> Result<JobReport> {
        let job = self.find(id)?;
        wait_end(&job, timeout);
        Ok(report(&job, 0))
    }

    /// Every job kept, oldest first (reports without output).
    pub fn list(&self) -> Vec<JobReport> {
        let mut table = lock(&self.table);
        sweep(&mut table);
        table.iter().map(|j| report(j, u64::MAX)).collect()
    }

    /// Cancels every running job and waits up to `wait` for them to end.
    pub fn cancel_all(&self, wait: Duration) {
        let jobs: Vec<Arc<Job>> = lock(&self.table).clone();
        for job in &jobs {
            job.control.cancel();
        }
        let deadline = Instant::now() + wait;
        for job in &jobs {
            wait_end(job, deadline.saturating_duration_since(Instant::now()));
        }
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        lock(&self.table)
            .iter()
            .filter(|j| lock(&j.inner).state == JobState::Running)
            .count()
    }

    fn find(&self, id: &str) -> Result<Arc<Job>> {
        let mut table = lock(&self.table);
        sweep(&mut table);
        let id = id.trim();
        table.iter().find(|j| j.id == id).cloned().ok_or_else(|| {
            Error::invalid_argument(format!(
                "no job '{}': finished jobs are kept {} minutes; list the jobs with \
                     {{\"target\": \"jobs\"}}",
                shorten(id.to_string(), 100),
                JOB_KEEP.as_secs() / 60
            ))
        })
    }
}

/// The job's thread: runs the work, records how it ended.
fn run(ctx: JobContext, work: impl FnOnce(&JobContext) -> Result<()>) {
    let result = catch_unwind(AssertUnwindSafe(|| work(&ctx)));
    let job = &ctx.job;
    let cancelled = job.control.is_cancelled();
    let mut inner = lock(&job.inner);
    (inner.state, inner.error) = match result {
        Ok(Ok(())) if cancelled => (JobState::Cancelled, None),
        Ok(Ok(())) => (JobState::Done, None),
        Ok(Err(_)) if cancelled => (JobState::Cancelled, None),
        Ok(Err(e)) => (JobState::Failed, Some(e.to_string())),
        Err(_) => (
            JobState::Failed,
            Some("internal error: the job crashed (see the server log)".into()),
        ),
    };
    inner.ended = Some(Instant::now());
    drop(inner);
    // What the work held of the job budget goes back now; the output it kept is the job's own.
    job.control.release();
    job.ended.notify_all();
}

fn wait_end(job: &Job, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut inner = lock(&job.inner);
    while inner.state == JobState::Running {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        inner = match job.ended.wait_timeout(inner, left) {
            Ok((guard, _)) => guard,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

/// Drops finished jobs older than [`JOB_KEEP`].
fn sweep(table: &mut Vec<Arc<Job>>) {
    table.retain(|j| {
        lock(&j.inner)
            .ended
            .is_none_or(|at| at.elapsed() < JOB_KEEP)
    });
}

fn report(job: &Job, offset: u64) -> JobReport {
    let inner = lock(&job.inner);
    let hosts = |state: TargetState| {
        fold_hosts(
            inner
                .targets
                .iter()
                .filter(|(_, s)| *s == state)
                .map(|(h, _)| h.as_str()),
        )
    };
    let count = |state: TargetState| inner.targets.iter().filter(|(_, s)| *s == state).count();
    let len = inner.output.len();
    let mut start = usize::try_from(offset).unwrap_or(usize::MAX).min(len);
    while !inner.output.is_char_boundary(start) {
        start += 1;
    }
    let mut end = start.saturating_add(JOB_READ).min(len);
    while !inner.output.is_char_boundary(end) {
        end -= 1;
    }
    let (succeeded, failures) = (count(TargetState::Ok), count(TargetState::Failed));
    JobReport {
        id: job.id.clone(),
        what: job.what.clone(),
        state: inner.state,
        started: job.started_wall,
        elapsed: inner.ended.unwrap_or_else(Instant::now) - job.started,
        error: inner.error.clone(),
        ok: hosts(TargetState::Ok),
        failed: hosts(TargetState::Failed),
        waiting: hosts(TargetState::Waiting),
        total: inner.targets.len(),
        done: succeeded + failures,
        succeeded,
        failures,
        progress: inner.progress.clone(),
        output: inner.output[start..end].to_string(),
        offset: start as u64,
        next_offset: end as u64,
        output_bytes: len as u64,
        dropped_bytes: inner.dropped,
    }
}

/// A note on output past the cap, for a report's text.
pub fn dropped_note(report: &JobReport) -> Option<String> {
    (report.dropped_bytes > 0).then(|| {
        format!(
            "[job output capped at {}: {} more bytes were not kept; run a narrower command]",
            human_bytes(JOB_OUTPUT as u64),
            report.dropped_bytes
        )
    })
}

fn shorten(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_decodes_characters_cut_between_chunks_and_replaces_invalid_bytes() {
        let mut buf = "é".as_bytes()[..1].to_vec();
        assert_eq!(take_utf8(&mut buf), "");
        buf.extend_from_slice(&"é".as_bytes()[1..]);
        buf.extend_from_slice(b"x\xffy");
        assert_eq!(take_utf8(&mut buf), "éx\u{fffd}y");
        assert!(buf.is_empty());
    }

    #[test]
    fn output_is_capped_read_in_slices_and_ends_with_its_summary() {
        let jobs = Jobs::new();
        let id = jobs
            .start("flood".into(), vec!["a".into()], |ctx| {
                let chunk = "é".repeat(1000); // 2000 bytes, multi-byte characters
                for _ in 0..(JOB_OUTPUT / 2000 + 10) {
                    ctx.append(&chunk);
                }
                ctx.append_summary("THE END\n");
                Ok(())
            })
            .unwrap()
            .id;
        let r = jobs.wait(&id, Duration::from_secs(10)).unwrap();
        assert_eq!(r.state, JobState::Done);
        assert!(r.output_bytes <= (JOB_OUTPUT + JOB_SUMMARY) as u64);
        let written = (JOB_OUTPUT / 2000 + 10) as u64 * 2000 + "THE END\n".len() as u64;
        assert!(r.dropped_bytes > 0);
        assert_eq!(
            r.output_bytes + r.dropped_bytes,
            written,
            "nothing lost uncounted"
        );
        assert!(dropped_note(&r).is_some());
        // Walk the output: slices of at most JOB_READ bytes, on character boundaries.
        let mut offset = 0;
        let mut all = String::new();
        loop {
            let r = jobs.report(&id, offset).unwrap();
            assert!(r.output.len() <= JOB_READ);
            all.push_str(&r.output);
            if r.output.is_empty() {
                break;
            }
            offset = r.next_offset;
        }
        assert_eq!(all.len() as u64, r.output_bytes);
        assert!(all.ends_with("THE END\n"));
        // An offset inside a character or past the end is fine.
        assert!(jobs.report(&id, 1).is_ok());
        assert_eq!(jobs.report(&id, u64::MAX).unwrap().output, "");
    }

    #[test]
    fn no_more_than_the_cap_and_finished_jobs_make_room() {
        let jobs = Jobs::new();
        let mut ids = Vec::new();
        for _ in 0..MAX_JOBS {
            let r = jobs
                .start("wait".into(), Vec::new(), |ctx| {
                    while !ctx.control().is_cancelled() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(Error::cancelled())
                })
                .unwrap();
            ids.push(r.id);
        }
        let err = jobs
            .start("one too many".into(), Vec::new(), |_| Ok(()))
            .unwrap_err();
        assert!(err.to_string().contains("jobs are running"), "{err}");
        let r = jobs.cancel(&ids[0], 0).unwrap();
        assert_eq!(r.state, JobState::Cancelled);
        // The cancelled job makes room; ids are never reused.
        let new = jobs.start("fits".into(), Vec::new(), |_| Ok(())).unwrap();
        assert!(!ids.contains(&new.id));
        assert!(
            jobs.report(&ids[0], 0).is_err(),
            "the oldest finished job went"
        );
        jobs.cancel_all(Duration::from_secs(5));
        assert_eq!(jobs.running(), 0);
        let err = jobs.report("j999-nope", 0).unwrap_err().to_string();
        assert!(err.contains("no job 'j999-nope'"), "{err}");
    }

    #[test]
    fn states_progress_and_a_panicking_job() {
        let jobs = Jobs::new();
        let id = jobs
            .start(
                "two hosts".into(),
                vec!["web1".into(), "web2".into()],
                |ctx| {
                    ctx.control().report(1, Some(2), || "1/2 hosts done".into());
                    ctx.target_done(1, false);
                    ctx.target_done(0, true);
                    Err(Error::io("it broke"))
                },
            )
            .unwrap()
            .id;
        let r = jobs.wait(&id, Duration::from_secs(5)).unwrap();
        assert_eq!(r.state, JobState::Failed);
        assert_eq!(r.error.as_deref(), Some("local I/O error: it broke"));
        assert_eq!(
            (r.ok.as_str(), r.failed.as_str(), r.done),
            ("web1", "web2", 2)
        );
        assert_eq!(
            r.progress.map(|p| p.message).as_deref(),
            Some("1/2 hosts done")
        );
        let id = jobs
            .start("panics".into(), Vec::new(), |_| panic!("boom"))
            .unwrap()
            .id;
        let r = jobs.wait(&id, Duration::from_secs(5)).unwrap();
        assert_eq!(r.state, JobState::Failed);
        assert!(r.error.unwrap().contains("crashed"));
    }
}
