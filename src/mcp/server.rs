//! The server's threads and how a message travels through them.
//!
//! * **reader** — reads stdin line by line (each line capped at [`MAX_LINE`]) and passes raw
//!   lines to the main loop. It is its own thread because a blocked `read` cannot be interrupted
//!   by a signal (ctrlc installs handlers with `SA_RESTART`).
//! * **main loop** — waits on input, signals and writer failure at once (`select!`). Parses each
//!   line, answers what needs no SSH immediately (`initialize`, `server/discover`, `ping`,
//!   `tools/list`, errors…) — so a `ping` is answered even when every worker is busy — and
//!   queues `tools/call` as a `Job` on a crossbeam channel (bounded by the intake limits below)
//!   for a worker. Each job carries the protocol version it is served at: the one `initialize`
//!   negotiated, or the one its own `_meta` names (the stateless era, [`modern`]).
//! * **workers** — threads that run jobs through [`crate::tool::call`] and send the response:
//!   two always, more started when a job finds none free (up to `SCOUT_WORKERS`), and those
//!   extra ones end after 30 s without work, so a call never waits behind slow ones.
//! * **writer** — the only owner of stdout: one JSON message per line, flushed at once, taken
//!   from the bounded [`Outbox`].
//!
//! Memory is bounded whatever the client does (docs/SECURITY.md states the bound): a line is
//! at most [`MAX_LINE`] bytes and [`jsonrpc::MAX_VALUES`] JSON values; a batch at most
//! [`MAX_BATCH`] messages (and none from protocol 2025-06-18 on, which removed batches);
//! requests admitted but not finished at most [`MAX_IN_FLIGHT`], holding at most
//! [`MAX_INPUT_HELD`] bytes of input; and outgoing messages at most [`OUTBOX_BYTES`]. When a
//! limit is reached the main loop waits, so it stops reading stdin: a client that does not read
//! its answers stalls only itself.
//!
//! Cancellation: every queued or running job has an entry in the in-flight map. A
//! `notifications/cancelled` removes the entry and trips its [`Control`]; a worker that finds its
//! entry gone sends nothing. Shutdown (stdin EOF, SIGINT, SIGTERM, stdout closed) stops reading,
//! gives running jobs [`GRACE`] to finish, cancels the rest, closes the sessions and returns —
//! well within 2 s.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, select, unbounded, Receiver, RecvTimeoutError, Sender};
use serde_json::{json, Value};

use crate::control::{Budget, Control};
use crate::mcp::jsonrpc::{self, Message, INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR};
use crate::mcp::modern;
use crate::mcp::outbox::{Intake, Outbox, Permit};
use crate::mcp::progress;
use crate::mcp::protocol::{self, Route, SessionState};
use crate::mcp::resources;
use crate::scout::Scout;
use crate::sync::lock;
use crate::tool;

/// Longest accepted input line; longer ones are answered with an error and skipped.
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// Most messages in one JSON-RPC batch (for the protocol versions that allow batches).
pub const MAX_BATCH: usize = 64;
/// Requests queued or running at once; the main loop waits (and stops reading) beyond.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Bytes of request input held by queued or running requests at once (one line of
/// [`MAX_LINE`] is always admitted alone).
pub const MAX_INPUT_HELD: usize = 24 * 1024 * 1024;
/// Bytes of outgoing messages queued for a client that reads slowly (or not at all).
pub const OUTBOX_BYTES: usize = 32 * 1024 * 1024;
/// Bytes of output (file contents, command output, listings) all calls in flight may hold.
pub const OUTPUT_BUDGET: usize = 32 * 1024 * 1024;
/// How long running jobs may finish after a shutdown request before they are cancelled.
pub const GRACE: Duration = Duration::from_millis(800);
/// How long cancelled jobs get to wind down (they check their flag every 100 ms).
const CANCEL_WAIT: Duration = Duration::from_millis(500);
/// How long the writer gets to drain after that.
const DRAIN_WAIT: Duration = Duration::from_millis(300);

/// A line from stdin, or why there is none.
enum Input {
    Line(Vec<u8>),
    TooLong(usize),
    End,
}

/// A `tools/call` waiting for or held by a worker.
struct Job {
    id: Value,
    /// The id's key in the in-flight map (its scope and the id).
    key: String,
    method: String,
    params: Option<Value>,
    version: &'static str,
    /// The `Scout` the request is served by (an HTTP key's may be a restricted one).
    scout: Arc<Scout>,
    cancel: Control,
    reply: Reply,
    /// The request's place in the intake, given back when the job is done.
    _permit: Permit,
}

/// Where a response goes: straight to the writer, to an HTTP response stream (which ends with
/// it), or into a batch's slot.
pub(crate) enum Reply {
    Single(Arc<Outbox>),
    Stream(Arc<Outbox>),
    Batch(Arc<Batch>, usize),
}

/// Collects the responses of one JSON-RPC batch; the last one to arrive sends the array.
pub(crate) struct Batch {
    slots: Mutex<(Vec<Option<Value>>, usize)>,
    out: Arc<Outbox>,
    /// The outbox is an HTTP response stream: the array (or nothing) ends it.
    close: bool,
}

impl Reply {
    fn new(out: &Arc<Outbox>, stream: bool) -> Reply {
        if stream {
            Reply::Stream(out.clone())
        } else {
            Reply::Single(out.clone())
        }
    }

    /// Where this reply's messages (and its request's progress) go.
    fn outbox(&self) -> &Arc<Outbox> {
        match self {
            Reply::Single(out) | Reply::Stream(out) => out,
            Reply::Batch(batch, _) => &batch.out,
        }
    }

    fn send(self, response: Option<Value>) {
        match self {
            Reply::Single(out) => {
                if let Some(v) = response {
                    out.send(v.to_string());
                }
            }
            Reply::Stream(out) => match response {
                Some(v) => {
                    out.send_final(v.to_string());
                }
                None => out.close(),
            },
            Reply::Batch(batch, index) => {
                let mut slots = lock(&batch.slots);
                slots.0[index] = response;
                slots.1 -= 1;
                if slots.1 == 0 {
                    let answers: Vec<Value> = slots.0.iter_mut().filter_map(Option::take).collect();
                    match (answers.is_empty(), batch.close) {
                        (false, false) => {
                            batch.out.send(Value::Array(answers).to_string());
                        }
                        (false, true) => {
                            batch.out.send_final(Value::Array(answers).to_string());
                        }
                        (true, true) => batch.out.close(),
                        (true, false) => {}
                    }
                }
            }
        }
    }
}

/// Jobs queued or running, by id key ([`inflight_key`]).
type InFlight = Arc<Mutex<HashMap<String, Control>>>;

/// The in-flight key of request `id` in `scope`: the stdio client is one scope (`""`), an HTTP
/// session another, and each stateless HTTP request one of its own, so that ids of different
/// clients never meet.
fn inflight_key(scope: &str, id: &Value) -> String {
    format!("{scope}\u{1f}{}", jsonrpc::id_key(id))
}

/// Serves MCP on `input`/`output` until EOF, a message on `shutdown`, or a write failure.
pub fn serve<R, W>(
    scout: Arc<Scout>,
    input: R,
    output: W,
    shutdown: Receiver<()>,
) -> std::io::Result<()>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    // One line waits here while the main loop handles the previous one: with the reader's own
    // line, at most three lines of MAX_LINE are held.
    let (line_tx, line_rx) = bounded::<Input>(1);
    let outbox = Outbox::new(OUTBOX_BYTES);
    let (write_failed_tx, write_failed_rx) = bounded::<()>(1);
    resources::warn_unusable_aliases(&scout);

    spawn("scout-reader", move || read_lines(input, line_tx))?;
    let (writer_done_tx, writer_done_rx) = bounded::<()>(0);
    let writer_box = outbox.clone();
    spawn("scout-writer", move || {
        write_lines(output, &writer_box, write_failed_tx);
        drop(writer_done_tx);
    })?;
    // A signal must reach a main loop that waits for room in the outbox (a client that does
    // not read): this thread turns it into an abort of every such wait, then passes it on.
    let (signal_tx, signal_rx) = bounded::<()>(1);
    let signal_box = outbox.clone();
    spawn("scout-signal", move || {
        if shutdown.recv().is_ok() {
            signal_box.abort();
            let _ = signal_tx.send(());
        }
    })?;
    let engine = Engine::new(scout.settings().workers);

    let mut main = MainLoop {
        state: SessionState::default(),
        scout: scout.clone(),
        out: outbox.clone(),
        engine: &engine,
    };
    loop {
        select! {
            recv(line_rx) -> input => match input {
                Ok(Input::Line(bytes)) => main.handle_line(&bytes),
                Ok(Input::TooLong(n)) => main.reply_now(jsonrpc::error(&Value::Null, PARSE_ERROR, &format!(
                    "message too long ({n} bytes; the limit is {MAX_LINE}): skipped"))),
                Ok(Input::End) | Err(_) => { log::info!("stdin closed: shutting down"); break }
            },
            recv(signal_rx) -> _ => { log::info!("signal received: shutting down"); break },
            recv(write_failed_rx) -> _ => { log::info!("stdout closed: shutting down"); break },
        }
        if outbox.is_stopping() {
            log::info!("signal received: shutting down");
            break;
        }
    }
    engine.finish(&[&scout], Some(&outbox));
    outbox.close();
    // The writer drains what is queued, then exits; a writer blocked on a full pipe (a client
    // that stopped reading) must not hang the exit.
    let _ = writer_done_rx.recv_timeout(DRAIN_WAIT);
    Ok(())
}

/// What both transports share: the workers, the requests in flight (for cancellation and
/// unique ids), the intake limit and the output budget. A transport hands it parsed messages
/// with the `Scout` that serves them, the protocol state of their client, a scope for their ids
/// and where their answers go.
pub(crate) struct Engine {
    /// `None` once the server stops taking requests.
    workers: Mutex<Option<Workers>>,
    /// Disconnects when the last worker has ended (workers never send on it).
    workers_done: Receiver<()>,
    inflight: InFlight,
    intake: Arc<Intake>,
    budget: Arc<Budget>,
}

impl Engine {
    /// An engine with up to `max_workers` worker threads (a few start now).
    pub(crate) fn new(max_workers: usize) -> Engine {
        let (job_tx, job_rx) = unbounded::<Job>();
        let (done_tx, done_rx) = unbounded::<()>();
        let inflight: InFlight = Arc::default();
        let workers = Workers {
            jobs: job_tx,
            rx: job_rx,
            idle: Arc::new(AtomicUsize::new(0)),
            live: Arc::new(AtomicUsize::new(0)),
            max: max_workers,
            done: done_tx,
            inflight: inflight.clone(),
            next: AtomicUsize::new(0),
        };
        for _ in 0..MIN_WORKERS.min(workers.max) {
            workers.spawn();
        }
        Engine {
            workers: Mutex::new(Some(workers)),
            workers_done: done_rx,
            inflight,
            intake: Intake::new(MAX_IN_FLIGHT, MAX_INPUT_HELD),
            budget: Budget::new(OUTPUT_BUDGET),
        }
    }

    /// Handles one parsed message or batch of `size` bytes from a client whose protocol state
    /// is `state`, served by `scout`, its ids in `scope`. Answers go to `out`; with `stream`,
    /// `out` is one HTTP response: it is closed after the answer (or at once when there is
    /// none).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_value(
        &self,
        scout: &Arc<Scout>,
        state: &mut SessionState,
        scope: &str,
        value: Value,
        out: &Arc<Outbox>,
        stream: bool,
        size: usize,
    ) {
        let refuse = |message: &str| {
            Reply::new(out, stream).send(Some(jsonrpc::error(
                &Value::Null,
                INVALID_REQUEST,
                message,
            )))
        };
        // What a client sends each message in.
        let unit = if stream { "request" } else { "line" };
        match value {
            Value::Array(items) if items.is_empty() => refuse("Invalid Request: empty batch"),
            // The stateless era has no batches either: a batch holding one of its requests is
            // refused whole, whatever the legacy session allows.
            Value::Array(items) if items.iter().any(modern::carries_envelope) => refuse(&format!(
                "Invalid Request: protocol version 2026-07-28 has no JSON-RPC batches; send one \
                 message per {unit}"
            )),
            Value::Array(_) if state.version.is_some_and(|v| !protocol::allows_batches(v)) => {
                refuse(&format!(
                    "Invalid Request: protocol version {} has no JSON-RPC batches; send one \
                     message per {unit}",
                    state.version.unwrap_or_default()
                ))
            }
            Value::Array(items) if items.len() > MAX_BATCH => refuse(&format!(
                "Invalid Request: a batch of {} messages; at most {MAX_BATCH} per batch",
                items.len()
            )),
            Value::Array(items) => {
                let share = size / items.len();
                let batch = Arc::new(Batch {
                    slots: Mutex::new((vec![None; items.len()], items.len())),
                    out: out.clone(),
                    close: stream,
                });
                for (i, item) in items.into_iter().enumerate() {
                    let reply = Reply::Batch(batch.clone(), i);
                    self.handle_message(scout, state, scope, item, reply, share);
                }
            }
            single => {
                self.handle_message(scout, state, scope, single, Reply::new(out, stream), size)
            }
        }
    }

    fn handle_message(
        &self,
        scout: &Arc<Scout>,
        state: &mut SessionState,
        scope: &str,
        value: Value,
        reply: Reply,
        size: usize,
    ) {
        match jsonrpc::classify(value) {
            Message::Request { id, method, params } => {
                match protocol::route_request(state, scout.settings(), &id, &method, &params) {
                    Route::Now(response) => reply.send(response),
                    Route::Worker(version) => {
                        let request = (id, method, params, version);
                        self.queue(scout, scope, request, reply, size)
                    }
                }
            }
            Message::Notification { method, params } => {
                if method == "notifications/cancelled" {
                    self.cancel(scope, &params);
                }
                reply.send(None);
            }
            Message::Response => reply.send(None),
            Message::Invalid { id, code, message } => {
                reply.send(Some(jsonrpc::error(&id, code, &message)))
            }
        }
    }

    fn queue(
        &self,
        scout: &Arc<Scout>,
        scope: &str,
        (id, method, params, version): (Value, String, Option<Value>, &'static str),
        reply: Reply,
        size: usize,
    ) {
        // Wait for room: while the server is full, the transport reads no more requests.
        let Some(permit) = self.intake.admit(1, size, reply.outbox()) else {
            let response = jsonrpc::error(&id, INTERNAL_ERROR, "server is shutting down");
            return reply.send(Some(response));
        };
        let key = inflight_key(scope, &id);
        let cancel = match progress::token(&params) {
            Some(token) => progress::control(token, version, reply.outbox().clone()),
            None => Control::new(),
        }
        .with_budget(&self.budget);
        {
            let mut inflight = lock(&self.inflight);
            if inflight.contains_key(&key) {
                drop(inflight);
                return reply.send(Some(jsonrpc::error(
                    &id,
                    INVALID_REQUEST,
                    &format!(
                    "Invalid Request: a request with id {} is still in flight; ids must be unique",
                    jsonrpc::id_key(&id)
                ),
                )));
            }
            inflight.insert(key.clone(), cancel.clone());
        }
        let job = Job {
            id,
            key,
            method,
            params,
            version,
            scout: scout.clone(),
            cancel,
            reply,
            _permit: permit,
        };
        let refused = match lock(&self.workers).as_ref() {
            Some(workers) => workers.submit(job).err(),
            None => Some(Box::new(job)),
        };
        if let Some(job) = refused {
            // Workers are gone (only during shutdown): answer rather than drop the request.
            lock(&self.inflight).remove(&job.key);
            let response = jsonrpc::error(&job.id, INTERNAL_ERROR, "server is shutting down");
            job.reply.send(Some(response));
        }
    }

    /// `notifications/cancelled`: stop the request and make sure it gets no response.
    fn cancel(&self, scope: &str, params: &Option<Value>) {
        if let Some(id) = jsonrpc::params_object(params).and_then(|p| p.get("requestId")) {
            if self.cancel_id(scope, id) {
                log::info!("request {id} cancelled by the client");
            }
        }
    }

    /// Stops request `id` of `scope` if it is in flight; it then gets no response. Whether it
    /// was.
    pub(crate) fn cancel_id(&self, scope: &str, id: &Value) -> bool {
        let cancelled = lock(&self.inflight).remove(&inflight_key(scope, id));
        cancelled.map(|c| c.cancel()).is_some()
    }

    /// Stops every request of `scope` (an HTTP session that ended). How many there were.
    pub(crate) fn cancel_scope(&self, scope: &str) -> usize {
        let prefix = format!("{scope}\u{1f}");
        let cancelled: Vec<Control> = {
            let mut inflight = lock(&self.inflight);
            let keys: Vec<String> = inflight
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            keys.iter().filter_map(|k| inflight.remove(k)).collect()
        };
        for c in &cancelled {
            c.cancel();
        }
        cancelled.len()
    }

    /// Shutdown: no more requests are taken; running ones get [`GRACE`] to finish; then
    /// everything left is cancelled (closing remote channels) and gets a little more; then the
    /// sessions of every `Scout` are closed. `outbox`, when given, is aborted with the cancel
    /// so that a worker waiting for room in it gives up.
    pub(crate) fn finish(&self, scouts: &[&Scout], outbox: Option<&Outbox>) {
        // No more jobs: workers exit once the queue is empty.
        drop(lock(&self.workers).take());
        if let Err(RecvTimeoutError::Timeout) = self.workers_done.recv_timeout(GRACE) {
            let pending: Vec<Control> = lock(&self.inflight).values().cloned().collect();
            log::info!("cancelling {} unfinished request(s)", pending.len());
            for c in pending {
                c.cancel();
            }
            // A worker waiting for room in the outbox (the client reads no more) gives up.
            if let Some(outbox) = outbox {
                outbox.abort();
            }
            let _ = self.workers_done.recv_timeout(CANCEL_WAIT);
        }
        for scout in scouts {
            scout.close();
        }
    }
}

/// The stdio transport's loop state: one client, one protocol state.
struct MainLoop<'a> {
    state: SessionState,
    scout: Arc<Scout>,
    out: Arc<Outbox>,
    engine: &'a Engine,
}

/// Workers kept even when there is nothing to do.
const MIN_WORKERS: usize = 2;
/// A worker beyond those that has had nothing to do for this long ends.
const WORKER_IDLE_EXIT: Duration = Duration::from_secs(30);

/// The worker threads: started when a request finds none free, up to `SCOUT_WORKERS`, so a
/// call waiting on a slow remote command never holds up another; the extra ones end when idle.
struct Workers {
    jobs: Sender<Job>,
    rx: Receiver<Job>,
    /// Workers waiting for a job now.
    idle: Arc<AtomicUsize>,
    /// Workers alive.
    live: Arc<AtomicUsize>,
    max: usize,
    /// Held by every worker: disconnects when the last one has ended.
    done: Sender<()>,
    inflight: InFlight,
    next: AtomicUsize,
}

impl Workers {
    /// Queues `job`, starting a worker for it if the free ones are fewer than the jobs
    /// waiting (and the cap allows).
    fn submit(&self, job: Job) -> Result<(), Box<Job>> {
        self.jobs.send(job).map_err(|e| Box::new(e.into_inner()))?;
        if self.rx.len() > self.idle.load(Ordering::Acquire) {
            self.spawn();
        }
        Ok(())
    }

    fn spawn(&self) {
        let live = self.live.load(Ordering::Acquire);
        if live >= self.max
            || self
                .live
                .compare_exchange(live, live + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        let (jobs, inflight, done) = (self.rx.clone(), self.inflight.clone(), self.done.clone());
        let (idle, live) = (self.idle.clone(), self.live.clone());
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let started = spawn(&format!("scout-worker-{n}"), move || {
            work(&jobs, &inflight, &idle, &live);
            drop(done);
        });
        if let Err(e) = started {
            self.live.fetch_sub(1, Ordering::AcqRel);
            log::warn!("cannot start a worker thread: {e}");
        }
    }
}

impl MainLoop<'_> {
    fn reply_now(&self, response: Value) {
        self.out.send(response.to_string());
    }

    fn handle_line(&mut self, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return self.reply_now(jsonrpc::error(
                &Value::Null,
                PARSE_ERROR,
                "Parse error: the line is not valid UTF-8",
            ));
        };
        if text.trim().is_empty() {
            return;
        }
        if let Err(why) = jsonrpc::check_complexity(text) {
            return self.reply_now(jsonrpc::error(&Value::Null, INVALID_REQUEST, &why));
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return self.reply_now(jsonrpc::error(
                    &Value::Null,
                    PARSE_ERROR,
                    &format!("Parse error: {e}"),
                ))
            }
        };
        self.engine.handle_value(
            &self.scout,
            &mut self.state,
            "",
            value,
            &self.out,
            false,
            bytes.len(),
        );
    }
}

fn work(jobs: &Receiver<Job>, inflight: &InFlight, idle: &AtomicUsize, live: &AtomicUsize) {
    loop {
        idle.fetch_add(1, Ordering::AcqRel);
        let next = jobs.recv_timeout(WORKER_IDLE_EXIT);
        idle.fetch_sub(1, Ordering::AcqRel);
        let job = match next {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                // Extra workers end when idle; the first few stay.
                let n = live.load(Ordering::Acquire);
                if n > MIN_WORKERS
                    && live
                        .compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                live.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        };
        let response = if job.cancel.is_cancelled() {
            None
        } else {
            catch_unwind(AssertUnwindSafe(|| serve_job(&job))).ok()
        };
        // Gone from the map means the client cancelled it: no response at all.
        if lock(inflight).remove(&job.key).is_none() {
            job.reply.send(None);
            job.cancel.release();
            continue;
        }
        let response = match response {
            Some(r) => r,
            None if job.cancel.is_cancelled() && job.method == "tools/call" => jsonrpc::result(
                &job.id,
                modern::finish(
                    job.version,
                    &job.method,
                    json!({
                        "content": [{ "type": "text", "text": "Error: cancelled: the server is shutting down" }],
                        "isError": true,
                    }),
                ),
            ),
            None if job.cancel.is_cancelled() => jsonrpc::error(
                &job.id,
                INTERNAL_ERROR,
                "cancelled: the server is shutting down",
            ),
            None => jsonrpc::error(
                &job.id,
                INTERNAL_ERROR,
                "internal error while serving the request (see the server log)",
            ),
        };
        job.reply.send(Some(response));
        // The answer is out: its output no longer counts against the server's budget.
        job.cancel.release();
    }
}

/// The response to one queued request, in the shape of its protocol version.
fn serve_job(job: &Job) -> Value {
    let scout = &job.scout;
    let result = if job.method == "tools/call" {
        let args = jsonrpc::params_object(&job.params).and_then(|p| p.get("arguments"));
        let out = tool::call(scout, args, &job.cancel);
        tool_result(job.version, out)
    } else {
        match resources::handle(scout, &job.method, &job.params, &job.cancel) {
            Ok(result) => result,
            Err(e) => return e.response(&job.id, job.version),
        }
    };
    jsonrpc::result(&job.id, modern::finish(job.version, &job.method, result))
}

/// A `tools/call` result in the shape of the negotiated version.
fn tool_result(version: &str, out: tool::ToolOutput) -> Value {
    let mut result = json!({
        "content": [{ "type": "text", "text": out.text }],
        "isError": out.is_error,
    });
    if protocol::at_least(version, "2025-06-18") {
        result["structuredContent"] = out.structured;
    }
    result
}

/// Reads lines of at most [`MAX_LINE`] bytes; a longer line is skipped up to its newline.
fn read_lines<R: Read>(input: R, lines: Sender<Input>) {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    loop {
        let next = read_capped_line(&mut reader);
        let end = matches!(next, Input::End);
        if lines.send(next).is_err() || end {
            return;
        }
    }
}

fn read_capped_line<R: BufRead>(reader: &mut R) -> Input {
    let mut line = Vec::new();
    let mut seen = 0usize;
    loop {
        let available = match reader.fill_buf() {
            Ok([]) => {
                return if seen == 0 {
                    Input::End
                } else {
                    finished(line, seen)
                }
            }
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("reading stdin: {e}");
                return Input::End;
            }
        };
        let (chunk, newline) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], true),
            None => (available, false),
        };
        if seen + chunk.len() <= MAX_LINE {
            line.extend_from_slice(chunk);
        } else {
            line = Vec::new(); // too long: stop keeping, keep counting
        }
        seen += chunk.len();
        let used = chunk.len() + usize::from(newline);
        reader.consume(used);
        if newline {
            return finished(line, seen);
        }
    }
}

fn finished(line: Vec<u8>, seen: usize) -> Input {
    if seen > MAX_LINE {
        Input::TooLong(seen)
    } else {
        Input::Line(line)
    }
}

/// Writes each message as one line and flushes it at once.
fn write_lines<W: Write>(mut output: W, messages: &Outbox, failed: Sender<()>) {
    while let Some(mut line) = messages.next() {
        line.push('\n');
        if output
            .write_all(line.as_bytes())
            .and_then(|_| output.flush())
            .is_err()
        {
            // Nobody will read what is queued: release whoever waits for room.
            messages.abort();
            let _ = failed.send(());
            return;
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_string()).spawn(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<String> {
        let mut r = BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        loop {
            match read_capped_line(&mut r) {
                Input::Line(l) => out.push(String::from_utf8_lossy(&l).into_owned()),
                Input::TooLong(n) => out.push(format!("<too long {n}>")),
                Input::End => return out,
            }
        }
    }

    #[test]
    fn splits_lines_across_small_buffers() {
        assert_eq!(
            lines(b"abc\ndefghijklmnop\n\nlast"),
            vec!["abc", "defghijklmnop", "", "last"]
        );
    }

    #[test]
    fn skips_over_long_lines_and_keeps_going() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nnext\n");
        assert_eq!(
            lines(&input),
            vec![format!("<too long {}>", MAX_LINE + 10), "next".to_string()]
        );
    }
}
