//! `notifications/progress` for a `tools/call` that carried `_meta.progressToken`.
//!
//! Operations report through their [`Control`] as often as they like (and repeat the latest
//! figures while they wait); [`Throttle`] turns that into what the MCP specification asks for:
//! `progress` strictly increasing, at most one notification per [`MIN_INTERVAL`], and — because
//! reports repeat — the latest state delivered a little late rather than dropped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use serde_json::{json, Value};

use crate::control::{Control, Progress};
use crate::mcp::outbox::Outbox;
use crate::mcp::{jsonrpc, protocol};
use crate::sync::lock;

/// At most four notifications a second per request.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// Decides which reports become notifications.
#[derive(Debug, Default)]
pub struct Throttle {
    last_sent: Option<(Instant, u64)>,
}

impl Throttle {
    /// Whether a report of `done` at `now` should be sent (and records it if so).
    pub fn admit(&mut self, done: u64, now: Instant) -> bool {
        let send = match self.last_sent {
            None => true,
            Some((at, sent)) => done > sent && now.duration_since(at) >= MIN_INTERVAL,
        };
        if send {
            self.last_sent = Some((now, done));
        }
        send
    }
}

/// The `_meta.progressToken` of a `tools/call`, if it has a usable one (string or number).
pub fn token(params: &Option<Value>) -> Option<Value> {
    let token = jsonrpc::params_object(params)?
        .get("_meta")?
        .get("progressToken")?;
    (token.is_string() || token.is_number()).then(|| token.clone())
}

/// A [`Control`] whose progress reports become `notifications/progress` on `out` (none once
/// the request is cancelled; skipped while the client is not reading, see [`Outbox::offer`]).
pub fn control(token: Value, version: &'static str, out: Arc<Outbox>) -> Control {
    let base = Control::new();
    let cancelled = base.part();
    let throttle = Mutex::new(Throttle::default());
    base.with_progress(move |p: &Progress| {
        if cancelled.is_cancelled() || !lock(&throttle).admit(p.done, Instant::now()) {
            return;
        }
        out.offer(
            jsonrpc::notification("notifications/progress", params(&token, version, p)).to_string(),
        );
    })
}

fn params(token: &Value, version: &str, p: &Progress) -> Value {
    let mut params = json!({ "progressToken": token, "progress": p.done });
    if let Some(total) = p.total {
        params["total"] = json!(total);
    }
    // `message` exists from 2025-03-26 on.
    if protocol::at_least(version, "2025-03-26") {
        params["message"] = json!(p.message);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_strictly_increasing_and_rate_limited() {
        let mut t = Throttle::default();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert!(t.admit(1, at(0)), "the first report goes out");
        assert!(!t.admit(2, at(100)), "too soon");
        assert!(!t.admit(2, at(200)), "still too soon");
        assert!(
            t.admit(2, at(260)),
            "the repeated latest state goes out late"
        );
        assert!(!t.admit(2, at(600)), "no repeat of the same figure");
        assert!(!t.admit(1, at(900)), "never backwards");
        assert!(t.admit(5, at(900)));
    }

    #[test]
    fn tokens_must_be_strings_or_numbers() {
        let p = |meta: Value| Some(json!({ "name": "scout", "_meta": meta }));
        assert_eq!(token(&p(json!({"progressToken": "t1"}))), Some(json!("t1")));
        assert_eq!(token(&p(json!({"progressToken": 7}))), Some(json!(7)));
        assert_eq!(token(&p(json!({"progressToken": [1]}))), None);
        assert_eq!(token(&p(json!({}))), None);
        assert_eq!(token(&None), None);
    }

    #[test]
    fn messages_only_from_2025_03_26() {
        let p = Progress {
            done: 3,
            total: Some(5),
            message: "3/5 hosts done".into(),
        };
        let new = params(&json!("t"), "2025-06-18", &p);
        assert_eq!(
            new,
            json!({"progressToken": "t", "progress": 3, "total": 5, "message": "3/5 hosts done"})
        );
        let old = params(&json!("t"), "2024-11-05", &p);
        assert!(old.get("message").is_none());
    }
}
