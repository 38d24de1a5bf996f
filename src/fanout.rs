//! A fixed set of threads for the parts of one call that run concurrently (the targets of a
//! broadcast). Sized by `SCOUT_MAX_CONCURRENCY` and started on first use: however many targets
//! or broadcasts there are, no more threads than that exist, and none are spawned per call.

use std::sync::OnceLock;

use crossbeam_channel::{unbounded, Sender};

use crate::error::Error;

type Task = Box<dyn FnOnce() + Send + 'static>;

/// The fan-out pool. Dropping it lets its threads exit once the queued tasks are done.
pub struct FanOut {
    size: usize,
    queue: OnceLock<Result<Sender<Task>, String>>,
}

impl FanOut {
    /// A pool of `size` threads (at least one), not started yet.
    pub fn new(size: usize) -> FanOut {
        FanOut {
            size: size.max(1),
            queue: OnceLock::new(),
        }
    }

    /// Queues `task` for the next free thread.
    pub fn spawn(&self, task: impl FnOnce() + Send + 'static) -> Result<(), Error> {
        let queue = self
            .queue
            .get_or_init(|| self.start())
            .as_ref()
            .map_err(|e| Error::io(format!("cannot start the fan-out threads: {e}")))?;
        queue
            .send(Box::new(task))
            .map_err(|_| Error::io("the fan-out threads are gone"))
    }

    fn start(&self) -> Result<Sender<Task>, String> {
        let (tx, rx) = unbounded::<Task>();
        for i in 0..self.size {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("scout-fanout-{i}"))
                .spawn(move || {
                    for task in rx.iter() {
                        // A panicking task must not take the thread with it; its result
                        // channel closes and the caller reports the target as failed.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
                    }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn never_runs_more_tasks_at_once_than_its_size() {
        let pool = FanOut::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = unbounded();
        for _ in 0..12 {
            let (running, peak, done) = (running.clone(), peak.clone(), done_tx.clone());
            pool.spawn(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                let _ = done.send(());
            })
            .unwrap();
        }
        for _ in 0..12 {
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_panicking_task_does_not_kill_its_thread() {
        let pool = FanOut::new(1);
        pool.spawn(|| panic!("boom")).unwrap();
        let (tx, rx) = unbounded();
        pool.spawn(move || tx.send(42).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 42);
    }
}
