//! How a request on a connection failed, and whether it may run again elsewhere.

use crate::error::Error;

/// The outcome of a failed request: the error, whether the request may run again on another
/// connection (nothing of it reached the server), and whether its connection died under it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Whether running it again elsewhere is safe (nothing happened on the remote side).
    pub retry: bool,
    /// Whether the connection itself died under the request (said by the connection's thread
    /// as it fails the request, before the pool could see the connection as dead): an
    /// idempotent request may run again elsewhere.
    pub lost: bool,
}

impl Failure {
    /// A failure before any side effect.
    pub fn retryable(error: Error) -> Failure {
        Failure {
            error,
            retry: true,
            lost: false,
        }
    }

    /// The same failure, as one of a request whose connection died under it.
    pub fn lost(self) -> Failure {
        Failure { lost: true, ..self }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry: false,
            lost: false,
        }
    }
}
