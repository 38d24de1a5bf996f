//! Stage timings of a connect, for `scout-mcp check` and the `hosts` mode's check.
//!
//! The normal connect path runs with tracing off and pays nothing; the doctor runs the very same
//! code with tracing on, so what it reports is what a real connect does.

use std::time::{Duration, Instant};

use crate::error::Error;

/// One step of a connect: its name, how long it took, and what it found (or why it failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `resolve`, `tcp`, `tunnel`, `handshake`, `host key`, `auth`, `exec`.
    pub name: &'static str,
    /// How long the stage took.
    pub elapsed: Duration,
    /// `Ok(what was found)` or `Err(the error's message)`.
    pub outcome: Result<String, String>,
    /// For a failed stage, the command that fixes it, if the error named one.
    pub fix: Option<String>,
}

/// Records stages when switched on; a no-op otherwise.
#[derive(Debug, Default)]
pub struct Trace {
    stages: Option<Vec<Stage>>,
}

impl Trace {
    /// Records nothing (the normal connect path).
    pub fn off() -> Trace {
        Trace { stages: None }
    }

    /// Records every stage.
    pub fn on() -> Trace {
        Trace {
            stages: Some(Vec::new()),
        }
    }

    /// Runs `f` as stage `name`: `f` returns its value and a one-line description of it.
    pub fn step<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce() -> Result<(T, String), Error>,
    ) -> Result<T, Error> {
        let Some(stages) = self.stages.as_mut() else {
            return f().map(|(value, _)| value);
        };
        let start = Instant::now();
        let result = f();
        let elapsed = start.elapsed();
        let (value, outcome, fix) = match result {
            Ok((value, detail)) => (Ok(value), Ok(detail), None),
            Err(e) => {
                let (message, fix) = (e.to_string(), e.fix().map(str::to_string));
                (Err(e), Err(message), fix)
            }
        };
        stages.push(Stage {
            name,
            elapsed,
            outcome,
            fix,
        });
        value
    }

    /// The stages recorded so far (empty when off).
    pub fn into_stages(self) -> Vec<Stage> {
        self.stages.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_successes_and_failures_in_order_only_when_on() {
        let mut trace = Trace::on();
        let a: Result<u8, Error> = trace.step("tcp", || Ok((1, "connected".into())));
        let b: Result<u8, Error> = trace.step("auth", || Err(Error::io("no key")));
        assert_eq!(a, Ok(1));
        assert!(b.is_err());
        let stages = trace.into_stages();
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].name, "tcp");
        assert_eq!(stages[0].outcome, Ok("connected".to_string()));
        assert_eq!(
            stages[1].outcome,
            Err("local I/O error: no key".to_string())
        );

        let mut off = Trace::off();
        let c: Result<u8, Error> = off.step("tcp", || Ok((2, String::new())));
        assert_eq!(c, Ok(2));
        assert!(off.into_stages().is_empty());
    }
}
