//! How a request on a connection failed, and whether it may run again elsewhere.

use crate::error::Error;

/// The outcome of a failed request: the error, and whether the request may run again on
/// another connection (nothing of it reached the server).
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Whether running it again elsewhere is safe (nothing happened on the remote side).
    pub retry: bool,
}

impl Failure {
    /// A failure before any side effect.
    pub fn retryable(error: Error) -> Failure {
        Failure { error, retry: true }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry: false,
        }
    }
}
