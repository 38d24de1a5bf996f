//! What the caller of a long operation holds on to: a cancellation flag and an optional
//! progress sink.
//!
//! Long operations (commands, large reads, transfers, broadcasts) check [`Control::is_cancelled`]
//! between blocking waits (at least every 100 ms) and stop, closing their remote channel. They
//! call [`Control::report`] when they make progress and also, with unchanged figures, while they
//! wait — so a sink that rate-limits (as the MCP adapter does) can deliver the latest state late
//! instead of dropping it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

    /// Shares the cancellation flag but not the sink: for the parts of a larger operation
    /// (one target of a broadcast) whose own progress would confuse the whole's.
    pub fn part(&self) -> Control {
        Control {
            cancelled: self.cancelled.clone(),
            sink: None,
        }
    }
}

/// Formats a byte count for progress messages and results (`1.5 MiB`).
///
/// ```
/// assert_eq!(scout_mcp::control::human_bytes(1536), "1.5 KiB");
/// ```
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
    fn bytes_are_humanised() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
    }
}
