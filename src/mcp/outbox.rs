//! The server's outgoing messages and its intake limits: what keeps memory bounded when a
//! client sends without reading, or sends more than the server can hold.
//!
//! * [`Outbox`] — serialized messages waiting for the writer thread, bounded in bytes. A
//!   response waits for room ([`Outbox::send`]), which holds up whoever produced it: the main
//!   loop stops reading stdin while a client does not read stdout (back-pressure, nothing
//!   dropped). Progress notifications never wait ([`Outbox::offer`]): under pressure they are
//!   skipped, and the next one carries the newer figure anyway.
//! * [`Intake`] — requests queued or running, bounded in number and in bytes of input held:
//!   the main loop takes a [`Permit`] before queueing one and waits when the server is full.
//!
//! Both waits give up when the server is stopping ([`Outbox::abort`]), so a signal ends a
//! server that a client has stalled.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::sync::lock;

/// How often a blocked wait looks at the stop flag.
const TICK: Duration = Duration::from_millis(50);

/// Messages waiting for the writer, bounded in bytes.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<OutState>,
    /// Signalled when a message arrives or the outbox closes.
    filled: Condvar,
    /// Signalled when the writer took a message.
    drained: Condvar,
    limit: usize,
    stopping: AtomicBool,
}

#[derive(Debug, Default)]
struct OutState {
    queue: VecDeque<String>,
    bytes: usize,
    closed: bool,
}

impl Outbox {
    /// An outbox holding at most `limit` bytes (one message of any size always fits).
    pub fn new(limit: usize) -> Arc<Outbox> {
        Arc::new(Outbox {
            state: Mutex::default(),
            filled: Condvar::new(),
            drained: Condvar::new(),
            limit,
            stopping: AtomicBool::new(false),
        })
    }

    /// The state once `len` more bytes fit (or the queue is empty: one message always fits),
    /// waiting while the outbox is full; `None` if it closed or the server is stopping.
    fn room_for(&self, len: usize) -> Option<MutexGuard<'_, OutState>> {
        let mut state = lock(&self.state);
        while !state.queue.is_empty() && state.bytes + len > self.limit {
            if state.closed || self.stopping.load(Ordering::Acquire) {
                return None;
            }
            state = self
                .drained
                .wait_timeout(state, TICK)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        Some(state)
    }

    /// Queues `message`, waiting while the outbox is full. False if it was not queued (the
    /// outbox is closed, or the server is stopping).
    pub fn send(&self, message: String) -> bool {
        let Some(mut state) = self.room_for(message.len()) else {
            return false;
        };
        self.push(&mut state, message)
    }

    /// Queues `message` as the last one, waiting while the outbox is full, and closes the
    /// outbox in the same step: a reader that takes it knows nothing follows (an HTTP response
    /// stream ends with it). False if it was not queued.
    pub fn send_final(&self, message: String) -> bool {
        let Some(mut state) = self.room_for(message.len()) else {
            return false;
        };
        let queued = self.push(&mut state, message);
        state.closed = true;
        self.filled.notify_all();
        self.drained.notify_all();
        queued
    }

    /// Queues `message` only if there is room now (progress notifications).
    pub fn offer(&self, message: String) -> bool {
        let mut state = lock(&self.state);
        if !state.queue.is_empty() && state.bytes + message.len() > self.limit {
            return false;
        }
        self.push(&mut state, message)
    }

    fn push(&self, state: &mut OutState, message: String) -> bool {
        if state.closed {
            return false;
        }
        state.bytes += message.len();
        state.queue.push_back(message);
        self.filled.notify_one();
        true
    }

    /// The next message for the writer, waiting for one; `None` once closed and drained.
    pub fn next(&self) -> Option<String> {
        let mut state = lock(&self.state);
        loop {
            if let Some(message) = state.queue.pop_front() {
                state.bytes -= message.len();
                self.drained.notify_all();
                return Some(message);
            }
            if state.closed {
                return None;
            }
            state = self.filled.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The next message, waiting at most `wait` for one. [`Next::Message`] says whether it
    /// was the last one (the outbox is closed and nothing else is queued).
    pub fn next_timeout(&self, wait: Duration) -> Next {
        let deadline = std::time::Instant::now() + wait;
        let mut state = lock(&self.state);
        loop {
            if let Some(message) = state.queue.pop_front() {
                state.bytes -= message.len();
                self.drained.notify_all();
                let last = state.closed && state.queue.is_empty();
                return Next::Message(message, last);
            }
            if state.closed {
                return Next::Closed;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Next::Timeout;
            }
            state = self
                .filled
                .wait_timeout(state, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// No more messages: the writer drains what is queued and stops.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.filled.notify_all();
        self.drained.notify_all();
    }

    /// The server is stopping: nobody waits for room any more (a message that does not fit
    /// is dropped), and [`Intake`] waits end too.
    pub fn abort(&self) {
        self.stopping.store(true, Ordering::Release);
        self.drained.notify_all();
    }

    /// Whether [`Outbox::abort`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Bytes queued now (for tests and diagnostics).
    #[cfg(test)]
    pub fn queued_bytes(&self) -> usize {
        lock(&self.state).bytes
    }
}

/// What [`Outbox::next_timeout`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A message, and whether it is the last one the outbox will give.
    Message(String, bool),
    /// The outbox is closed and empty.
    Closed,
    /// Nothing arrived in time.
    Timeout,
}

/// Requests admitted and not yet finished, bounded in number and in bytes of input.
#[derive(Debug)]
pub struct Intake {
    state: Mutex<(usize, usize)>,
    freed: Condvar,
    max_requests: usize,
    max_bytes: usize,
}

/// A request's place in the [`Intake`]; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    intake: Arc<Intake>,
    requests: usize,
    bytes: usize,
}

impl Intake {
    /// At most `max_requests` requests and `max_bytes` bytes of their input at once.
    pub fn new(max_requests: usize, max_bytes: usize) -> Arc<Intake> {
        Arc::new(Intake {
            state: Mutex::default(),
            freed: Condvar::new(),
            max_requests,
            max_bytes,
        })
    }

    /// Waits until `requests` more requests of `bytes` input fit (something that fits in no
    /// way is admitted alone). `None` when `outbox` is stopping.
    pub fn admit(
        self: &Arc<Intake>,
        requests: usize,
        bytes: usize,
        outbox: &Outbox,
    ) -> Option<Permit> {
        let mut state = lock(&self.state);
        loop {
            let (n, b) = *state;
            let empty = n == 0;
            if empty || (n + requests <= self.max_requests && b + bytes <= self.max_bytes) {
                *state = (n + requests, b + bytes);
                return Some(Permit {
                    intake: self.clone(),
                    requests,
                    bytes,
                });
            }
            if outbox.is_stopping() {
                return None;
            }
            state = self
                .freed
                .wait_timeout(state, TICK)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Requests and bytes admitted now.
    #[cfg(test)]
    pub fn load(&self) -> (usize, usize) {
        *lock(&self.state)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = lock(&self.intake.state);
        state.0 -= self.requests;
        state.1 -= self.bytes;
        self.intake.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_full_outbox_holds_the_sender_until_the_writer_takes_a_message() {
        let out = Outbox::new(10);
        assert!(out.send("12345678".into()));
        assert!(!out.offer("abcd".into()), "progress is skipped when full");
        let writer = {
            let out = out.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                out.next()
            })
        };
        let started = Instant::now();
        assert!(out.send("abcd".into()), "waits, then fits");
        assert!(started.elapsed() >= Duration::from_millis(80));
        assert_eq!(writer.join().unwrap().as_deref(), Some("12345678"));
        assert_eq!(out.queued_bytes(), 4);
        // One message bigger than the limit still goes (alone).
        assert_eq!(out.next().as_deref(), Some("abcd"));
        assert!(out.send("x".repeat(100)));
        out.close();
        assert_eq!(out.next().map(|m| m.len()), Some(100));
        assert_eq!(out.next(), None);
    }

    #[test]
    fn a_final_message_closes_the_outbox_and_says_it_is_the_last() {
        let out = Outbox::new(1024);
        assert_eq!(out.next_timeout(Duration::from_millis(10)), Next::Timeout);
        assert!(out.offer("progress".into()));
        assert!(out.send_final("answer".into()));
        assert!(!out.offer("late progress".into()), "nothing after the last");
        assert_eq!(
            out.next_timeout(Duration::from_millis(10)),
            Next::Message("progress".into(), false)
        );
        assert_eq!(
            out.next_timeout(Duration::from_millis(10)),
            Next::Message("answer".into(), true)
        );
        assert_eq!(out.next_timeout(Duration::from_millis(10)), Next::Closed);
        let closed = Outbox::new(8);
        closed.close();
        assert!(
            !closed.send_final("x".into()),
            "a closed outbox takes nothing"
        );
    }

    #[test]
    fn abort_releases_a_blocked_sender() {
        let out = Outbox::new(4);
        assert!(out.send("full".into()));
        let stopper = {
            let out = out.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                out.abort();
            })
        };
        assert!(!out.send("more".into()));
        stopper.join().unwrap();
    }

    #[test]
    fn the_intake_bounds_requests_and_bytes() {
        let out = Outbox::new(1024);
        let intake = Intake::new(2, 100);
        let a = intake.admit(1, 60, &out).unwrap();
        let b = intake.admit(1, 30, &out).unwrap();
        assert_eq!(intake.load(), (2, 90));
        let waiter = {
            let (intake, out) = (intake.clone(), out.clone());
            std::thread::spawn(move || intake.admit(1, 50, &out).map(|p| p.bytes))
        };
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(intake.load(), (2, 90), "the third waits");
        drop(a);
        assert_eq!(waiter.join().unwrap(), Some(50));
        drop(b);
        assert_eq!(intake.load(), (0, 0));
        // Too big for the limits: admitted alone.
        let huge = intake.admit(1, 1000, &out).unwrap();
        let out2 = out.clone();
        out2.abort();
        assert!(intake.admit(1, 1, &out).is_none(), "stopping ends the wait");
        drop(huge);
    }
}
