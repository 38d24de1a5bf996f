//! The reaper thread: wakes every `min(idle_timeout / 2, 5 s)` and runs [`Pools::reap`].
//!
//! It sleeps on a channel, not in a loop: stopping it is a message (or dropping the handle), and
//! it never spins. What a pass does, and why it never blocks a checkout, is documented on
//! `Pools::reap`.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};

use crate::ssh::pool::Pools;

/// Handle of the running reaper; stops and joins it when dropped.
pub struct Reaper {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The reaper's period for a given idle timeout.
pub fn period(idle_timeout: Duration) -> Duration {
    (idle_timeout / 2)
        .min(Duration::from_secs(5))
        .max(Duration::from_millis(10))
}

impl Reaper {
    /// Starts the `scout-reaper` thread over `pools`; it runs until the handle is dropped.
    pub fn start(pools: Arc<Pools>) -> std::io::Result<Reaper> {
        let (stop, stopped) = bounded::<()>(1);
        let every = period(pools.limits().idle_timeout);
        let thread = std::thread::Builder::new()
            .name("scout-reaper".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    pools.reap();
                }
            })?;
        Ok(Reaper {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::period;
    use std::time::Duration;

    #[test]
    fn period_is_half_the_idle_timeout_capped_at_five_seconds() {
        assert_eq!(period(Duration::from_secs(60)), Duration::from_secs(5));
        assert_eq!(period(Duration::from_secs(4)), Duration::from_secs(2));
        assert_eq!(period(Duration::from_millis(1)), Duration::from_millis(10));
    }
}
