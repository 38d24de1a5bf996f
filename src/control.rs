//! What the caller of a long operation holds on to: a cancellation flag and an optional
//! progress sink.
//!
//! Long operations (commands, large reads, transfers, broadcasts) check [`Control::is_cancelled`]
//! between blocking waits (at least every 100 ms) and stop, closing their remote channel. They
//! call [`Control::report`] when they make progress and also, with unchanged figures, while they
//! wait — so a sink that rate-limits (as the MCP adapter does) can deliver the latest state late
//! instead of dropping it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::sync::lock;

/// How far a long operation has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Units done so far (bytes, or hosts for a broadcast). Never decreases.
    pub done: u64,
    /// Units in total, when known.
    pub total: Option<u64>,
    /// A short human-readable summary, e.g. "3/5 hosts done" or "12.0 MiB of 64.0 MiB".
    pub message: String,
}

type Sink = Arc<dyn Fn(&Progress) + Send + Sync>;
/// Receives a command's output as it is read: `(is_stderr, bytes)`.
type Tap = Arc<dyn Fn(bool, &[u8]) + Send + Sync>;

/// A cancellation flag plus an optional progress sink. Cloning shares both.
///
/// Hand one to a long operation ([`Scout::run`](crate::Scout::run),
/// [`Scout::broadcast`](crate::Scout::broadcast), transfers) and keep a clone: cancel it from
/// another thread to stop the operation, and watch progress through the sink.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use scout_mcp::Control;
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let control = Control::new().with_progress(move |p| sink.lock().unwrap().push(p.message.clone()));
///
/// // What an operation does while it works:
/// control.report(1, Some(2), || "1/2 hosts done".into());
/// assert_eq!(*seen.lock().unwrap(), ["1/2 hosts done"]);
///
/// // What the caller does from another thread to stop it:
/// let remote = control.clone();
/// std::thread::spawn(move || remote.cancel()).join().unwrap();
/// assert!(control.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct Control {
    cancelled: Arc<AtomicBool>,
    sink: Option<Sink>,
    share: Option<Arc<Share>>,
    tap: Option<Tap>,
}

/// Bytes of output that all the calls of one server may hold at once (file contents, command
/// output, listings), shared by every call that has a [`Control::with_budget`]. A call takes
/// from it as its output grows and gives it all back when its answer is out
/// ([`Control::release`]), so however many calls run, their output fits in the budget.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// Bytes taken now.
    pub fn used(&self) -> usize {
        *lock(&self.used)
    }

    fn take(&self, n: usize) -> bool {
        let mut used = lock(&self.used);
        // One call alone may always take what it needs: a single answer is capped anyway.
        if *used == 0 || *used + n <= self.limit {
            *used += n;
            true
        } else {
            false
        }
    }

    fn give(&self, n: usize) {
        let mut used = lock(&self.used);
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

/// One call's part of a [`Budget`].
#[derive(Debug)]
struct Share {
    budget: Arc<Budget>,
    held: AtomicUsize,
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.give(self.held.swap(0, Ordering::AcqRel));
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("cancelled", &self.is_cancelled())
            .field("progress", &self.sink.is_some())
            .finish()
    }
}

impl Control {
    /// A control with no progress sink that nobody has cancelled yet.
    pub fn new() -> Control {
        Control::default()
    }

    /// The same control with `sink` receiving progress reports.
    pub fn with_progress(mut self, sink: impl Fn(&Progress) + Send + Sync + 'static) -> Control {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// Asks the operation to stop.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether [`Control::cancel`] was called on this control or on a clone or part of it.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Whether anyone listens to progress (lets operations skip building messages).
    pub fn wants_progress(&self) -> bool {
        self.sink.is_some()
    }

    /// Hands a progress report to the sink, if any.
    pub fn report(&self, done: u64, total: Option<u64>, message: impl FnOnce() -> String) {
        if let Some(sink) = &self.sink {
            sink(&Progress {
                done,
                total,
                message: message(),
            });
        }
    }

    /// Shares the cancellation flag and the output budget but not the sink: for the parts of
    /// a larger operation (one target of a broadcast) whose own progress would confuse the
    /// whole's.
    pub fn part(&self) -> Control {
        Control {
            cancelled: self.cancelled.clone(),
            sink: None,
            share: self.share.clone(),
            tap: None,
        }
    }

    /// The same control with `tap` receiving a command's output as it is read, `(is_stderr,
    /// bytes)`, whatever the output caps keep (a background job shows output so far this
    /// way). It runs on the connection's thread: it must be quick and must not block.
    pub fn with_output_tap(mut self, tap: impl Fn(bool, &[u8]) + Send + Sync + 'static) -> Control {
        self.tap = Some(Arc::new(tap));
        self
    }

    /// Hands output to the tap, if any.
    pub fn tap_output(&self, stderr: bool, bytes: &[u8]) {
        if let Some(tap) = &self.tap {
            if !bytes.is_empty() {
                tap(stderr, bytes);
            }
        }
    }

    /// The same control with its output counted against `budget` (the MCP server gives every
    /// call one; without, output is limited only by each operation's own caps).
    pub fn with_budget(mut self, budget: &Arc<Budget>) -> Control {
        self.share = Some(Arc::new(Share {
            budget: budget.clone(),
            held: AtomicUsize::new(0),
        }));
        self
    }

    /// Takes `n` more bytes of the output budget for this call; false when the budget has not
    /// that much left now (the caller waits, or stops reading for a while).
    pub fn reserve(&self, n: usize) -> bool {
        let Some(share) = &self.share else {
            return true;
        };
        if !share.budget.take(n) {
            return false;
        }
        share.held.fetch_add(n, Ordering::AcqRel);
        true
    }

    /// [`Control::reserve`], waiting up to `deadline` for other calls to give bytes back
    /// (false at the deadline or when cancelled).
    pub fn reserve_wait(&self, n: usize, deadline: Instant) -> bool {
        loop {
            if self.reserve(n) {
                return true;
            }
            let Some(share) = &self.share else {
                return true;
            };
            let now = Instant::now();
            if self.is_cancelled() || now >= deadline {
                return false;
            }
            let used = lock(&share.budget.used);
            let wait = (deadline - now).min(Duration::from_millis(100));
            drop(share.budget.freed.wait_timeout(used, wait));
        }
    }

    /// Gives back everything this call took from the output budget (its answer is out).
    pub fn release(&self) {
        if let Some(share) = &self.share {
            share.budget.give(share.held.swap(0, Ordering::AcqRel));
        }
    }
}

/// Formats a byte count for progress messages and results (`1.5 MiB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn parts_share_cancellation_but_not_progress() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = seen.clone();
        let control = Control::new().with_progress(move |p| {
            if let Ok(mut v) = sink_seen.lock() {
                v.push(p.done);
            }
        });
        let part = control.part();
        part.report(1, None, || "part".into());
        control.report(2, Some(3), || "whole".into());
        assert!(!part.wants_progress() && control.wants_progress());
        control.cancel();
        assert!(part.is_cancelled());
        assert_eq!(*seen.lock().unwrap(), vec![2]);
    }

    #[test]
    fn calls_share_one_output_budget_and_give_it_back() {
        let budget = Budget::new(100);
        let a = Control::new().with_budget(&budget);
        let b = Control::new().with_budget(&budget);
        assert!(a.reserve(60) && a.part().reserve(30));
        assert_eq!(budget.used(), 90);
        assert!(!b.reserve(20), "over the budget");
        let soon = Instant::now() + Duration::from_millis(50);
        assert!(!b.reserve_wait(20, soon), "nobody gave anything back");
        a.release();
        assert_eq!(budget.used(), 0);
        assert!(b.reserve(20));
        // A call alone may take more than the budget: its answer is capped anyway.
        b.release();
        assert!(b.reserve(1000));
        drop(b);
        assert_eq!(budget.used(), 0, "dropping the last clone gives it back");
        assert!(Control::new().reserve(usize::MAX), "no budget: no limit");
    }

    #[test]
    fn bytes_are_humanised() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_human_bytes() {
        assert_eq!(crate::control::human_bytes(1536), "1.5 KiB");
    }
}
