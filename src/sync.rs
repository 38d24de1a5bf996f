//! Small concurrency helpers shared by every layer.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering from poisoning: a panicking worker must not take the server down
/// (every structure behind these locks stays consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
