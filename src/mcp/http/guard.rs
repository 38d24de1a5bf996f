//! Who may talk to the HTTP endpoint, and how much: API keys compared in constant time, a
//! token bucket per key, the browser-origin check, and unguessable session ids.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::mcp::http::config::{normal_origin, KeySpec};
use crate::sha256;
use crate::sync::lock;

/// The configured keys, kept only as SHA-256 digests: comparing digests of equal length
/// reveals nothing about a key through timing, whatever its length.
pub struct Keys {
    digests: Vec<[u8; 64]>,
}

impl Keys {
    /// The digests of `keys`, in order.
    pub fn new(keys: &[KeySpec]) -> Keys {
        Keys {
            digests: keys.iter().map(|k| digest(k.secret.expose())).collect(),
        }
    }

    /// Whether any key is configured.
    pub fn required(&self) -> bool {
        !self.digests.is_empty()
    }

    /// The index of the key an `Authorization` header carries, if it is one of ours. Every
    /// key is compared, each in constant time, whatever matches.
    pub fn check(&self, authorization: Option<&str>) -> Option<usize> {
        let token = bearer(authorization?)?;
        let presented = digest(token);
        let mut found = None;
        for (i, key) in self.digests.iter().enumerate() {
            if constant_time_eq(key, &presented) {
                found = Some(i);
            }
        }
        found
    }
}

/// The token of a `Bearer` authorization (the scheme is case-insensitive).
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn digest(key: &str) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(sha256::hex(key.as_bytes()).as_bytes());
    out
}

/// Equality of two equal-length byte strings in time that does not depend on where they
/// differ.
pub fn constant_time_eq(a: &[u8; 64], b: &[u8; 64]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A token bucket per client: `burst` requests at once, then `per_minute` a minute.
pub struct RateLimit {
    per_second: f64,
    burst: f64,
    buckets: Vec<Mutex<Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// Limits for `clients` clients; `per_minute` 0 turns the limit off.
    pub fn new(per_minute: u32, burst: u32, clients: usize) -> RateLimit {
        let now = Instant::now();
        RateLimit {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: (0..clients.max(1))
                .map(|_| {
                    Mutex::new(Bucket {
                        tokens: f64::from(burst.max(1)),
                        at: now,
                    })
                })
                .collect(),
        }
    }

    /// Takes `n` tokens from `client`'s bucket, or says how long until they would be there.
    pub fn take(&self, client: usize, n: u32, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 || n == 0 {
            return Ok(());
        }
        let Some(bucket) = self.buckets.get(client) else {
            return Ok(());
        };
        let mut b = lock(bucket);
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.at = now;
        // Every request is paid for. More than a burst at once (a batch) can never fit the
        // bucket: it is let through only when the bucket is full, and paid for in full, the
        // bucket going into debt that later requests wait out. Judging it as a mere burst
        // would let batches run at many times the rate.
        let need = f64::from(n);
        if b.tokens >= need.min(self.burst) {
            b.tokens -= need;
            Ok(())
        } else {
            let wait = (need.min(self.burst) - b.tokens) / self.per_second;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(86_400)))
        }
    }
}

/// Whether a browser `Origin` may talk to the server: a loopback origin (a page the user runs
/// on this machine, such as the MCP Inspector), or one configured in
/// `SCOUT_HTTP_ALLOWED_ORIGINS`. DNS rebinding gives a hostile page a name that resolves to
/// 127.0.0.1, but its `Origin` still names that page's site.
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let origin = normal_origin(origin);
    if allowed.contains(&origin) {
        return true;
    }
    origin_host(&origin).is_some_and(is_loopback_host)
}

/// Whether the `Host` of a request may reach a server without keys: a loopback name or
/// address (with any port), or the host of an origin in `SCOUT_HTTP_ALLOWED_ORIGINS`. A page
/// that rebinds its own name to 127.0.0.1 makes the browser send that name as `Host`; this
/// refuses it even where the browser sends no `Origin`.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim().to_ascii_lowercase();
    let Some(name) = authority_host(&host) else {
        return false;
    };
    is_loopback_host(name)
        || allowed
            .iter()
            .any(|origin| origin_host(origin) == Some(name))
}

/// The host of an `http://` or `https://` origin, if it is well formed.
fn origin_host(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .and_then(authority_host)
}

/// The host of an authority (`host`, `host:port`, `[v6]`, `[v6]:port`), if it is well formed.
fn authority_host(authority: &str) -> Option<&str> {
    if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, "")) => Some(host),
            Some((host, port)) if port.strip_prefix(':').is_some_and(valid_port) => Some(host),
            _ => None,
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) if valid_port(port) => Some(host),
            Some(_) => None,
            None => Some(authority),
        }
    }
    .filter(|host| !host.is_empty())
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn valid_port(digits: &str) -> bool {
    !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A new session id: 128 random bits from the kernel, in hex (visible ASCII, as the spec
/// asks). `None` if the kernel has no randomness to give, in which case no session is made.
pub fn session_id() -> Option<String> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: writes at most the remaining length into our buffer.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        filled += n as usize;
    }
    Some(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::http::config::parse_keys;

    #[test]
    fn only_a_configured_bearer_key_passes() {
        let specs = parse_keys("aaaaaaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbbbbbb:read-only").unwrap();
        let keys = Keys::new(&specs);
        assert!(keys.required());
        assert_eq!(keys.check(Some("Bearer aaaaaaaaaaaaaaaaaaaa")), Some(0));
        assert_eq!(keys.check(Some("bearer   bbbbbbbbbbbbbbbbbbbb ")), Some(1));
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic aaaaaaaaaaaaaaaaaaaa"),
            Some("Bearer aaaaaaaaaaaaaaaaaaa"),
            Some("Bearer aaaaaaaaaaaaaaaaaaaaa"),
            Some("aaaaaaaaaaaaaaaaaaaa"),
        ] {
            assert_eq!(keys.check(bad), None, "{bad:?}");
        }
        assert!(!Keys::new(&[]).required());
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let limit = RateLimit::new(60, 3, 2);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limit.take(0, 1, t0).is_ok());
        }
        let wait = limit.take(0, 1, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(
            limit.take(1, 1, t0).is_ok(),
            "each client has its own bucket"
        );
        assert!(limit.take(0, 1, t0 + Duration::from_secs(1)).is_ok());
        assert!(limit.take(0, 1, t0 + Duration::from_secs(1)).is_err());
        // A batch bigger than the burst passes with a full bucket, and is paid for in full.
        let limit = RateLimit::new(60, 3, 1);
        assert!(limit.take(0, 8, t0).is_ok());
        let wait = limit.take(0, 1, t0).unwrap_err();
        assert!(wait >= Duration::from_secs(5), "{wait:?}");
        assert!(limit.take(0, 1, t0 + Duration::from_secs(5)).is_err());
        assert!(limit.take(0, 1, t0 + Duration::from_secs(6)).is_ok());
        let off = RateLimit::new(0, 1, 1);
        for _ in 0..100 {
            assert!(off.take(0, 1, t0).is_ok());
        }
    }

    #[test]
    fn loopback_and_configured_origins_pass_others_do_not() {
        let allowed = vec!["https://app.example.com".to_string()];
        for ok in [
            "http://localhost",
            "http://localhost:6274",
            "http://127.0.0.1:8000",
            "https://[::1]:3000",
            "HTTPS://APP.example.com/",
        ] {
            assert!(origin_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "http://evil.example.com",
            "http://localhost.evil.com",
            "http://127.0.0.1.evil.com:80",
            "http://localhost:80x",
            "null",
            "file://",
            "http://[::1]evil",
            "https://app.example.com:8443",
        ] {
            assert!(!origin_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn only_loopback_and_configured_hosts_reach_a_server_without_keys() {
        let allowed = vec!["https://app.example.com".to_string()];
        for ok in [
            "localhost",
            "LOCALHOST:8000",
            "127.0.0.1",
            "127.0.0.1:8000",
            "[::1]:8000",
            "[::1]",
            "app.example.com",
            "app.example.com:443",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:8000",
            "localhost.evil.com",
            "127.0.0.1.nip.io:8000",
            "127.0.0.1:80x",
            "[::1]evil",
            "",
            ":8000",
            "0.0.0.0:8000",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn session_ids_are_random_hex() {
        let a = session_id().unwrap();
        let b = session_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
