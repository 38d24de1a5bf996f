//! Per-host session pools (SPEC §6): one `r2d2::Pool` per host alias, built on first use.
//!
//! r2d2 gives us the idle stack, check-out/check-in, the per-host cap and "drop it if broken".
//! Three r2d2 habits do not fit an SSH fleet, and this module works around them:
//!
//! * A connect failure reaches an r2d2 caller only as "timed out" after the whole wait, and r2d2
//!   then retries forever. So a host's **first** session is opened by the requesting worker
//!   itself (the real error at once; a dead host costs one connect timeout), and concurrent
//!   requests for that host wait for that one attempt and share its outcome. The finished
//!   session is handed to r2d2 through the manager's *handoff* stack; r2d2's `connect()` takes it
//!   from there. Further sessions are opened by r2d2 through the same manager.
//! * r2d2 has no cap across pools. A counter of live sessions is the cap ([`SessionSlot`]); when
//!   it is full, the least recently used host gives up one idle session. Checked-out sessions
//!   are never evicted.
//! * r2d2 cannot evict one idle connection; we check one out and retire it (see
//!   [`Connection::retire`]), and the reaper works the same way.
//!
//! No lock is held across network I/O: the host map lock only guards the `HashMap`, connects
//! happen outside it, and the reaper checks sessions out like any worker.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::Error;
use crate::ssh::config::HostEntry;
use crate::ssh::session::{ConnectOptions, Connection};

/// Limits of the pool.
#[derive(Debug, Clone)]
pub struct PoolLimits {
    /// Sessions alive across all hosts (`SCOUT_MAX_POOL_SIZE`).
    pub max_total: usize,
    /// Sessions per host (`SCOUT_MAX_SESSIONS_PER_HOST`).
    pub per_host: u32,
    /// How long a session may stay idle before the reaper closes it.
    pub idle_timeout: Duration,
    /// How long a request waits for a busy host's session to come back.
    pub checkout_wait: Duration,
}

/// One unit of the global session count and of its host's; released when the session is
/// dropped.
#[derive(Debug)]
pub struct SessionSlot {
    live: Arc<AtomicUsize>,
    host_live: Arc<AtomicUsize>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.host_live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The r2d2 manager of one host: takes a worker's handed-over session if there is one, else
/// opens one (within the global cap).
struct Manager {
    host: Arc<HostEntry>,
    handoff: Arc<Mutex<Vec<Connection>>>,
    host_live: Arc<AtomicUsize>,
    shared: Weak<Shared>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection, Error> {
        if let Some(conn) = lock(&self.handoff).pop() {
            return Ok(conn);
        }
        match self.shared.upgrade() {
            Some(shared) => shared.open(&self.host, &self.host_live),
            None => Err(Error::Session {
                host: self.host.alias.clone(),
                message: "shutting down".into(),
            }),
        }
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), Error> {
        if conn.is_reusable() {
            Ok(())
        } else {
            Err(Error::Session {
                host: conn.alias().to_string(),
                message: "broken".into(),
            })
        }
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        !conn.is_reusable()
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Manager({})", self.host.alias)
    }
}

/// The pool of one host plus the bookkeeping r2d2 does not do.
struct HostPool {
    pool: r2d2::Pool<Manager>,
    handoff: Arc<Mutex<Vec<Connection>>>,
    /// Sessions of this host that exist anywhere (in r2d2, being opened, or handed over).
    /// r2d2's own count misses a session between the handoff and r2d2's bookkeeping, which let
    /// a second "first" session slip past the per-host cap.
    host_live: Arc<AtomicUsize>,
    /// The worker-driven first connect: who is doing it, and how it ended.
    first: Mutex<FirstConnect>,
    first_done: Condvar,
    /// Set while the reaper holds this host's idle sessions (for microseconds).
    reaping: AtomicBool,
    last_used: Mutex<Instant>,
}

#[derive(Default)]
struct FirstConnect {
    in_progress: bool,
    /// Bumped when an attempt ends, so waiters know theirs is over.
    attempts: u64,
    error: Option<Error>,
}

impl HostPool {
    /// Whether the host has no session at all (none pooled, none being handed over).
    fn is_empty(&self) -> bool {
        self.host_live.load(Ordering::Acquire) == 0
    }
}

/// A checked-out session. Derefs to [`Connection`]; returns to its pool when dropped (or is
/// dropped by the pool if it was marked broken).
pub struct Checkout {
    conn: r2d2::PooledConnection<Manager>,
}

impl Deref for Checkout {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// The outcome of one attempt of an operation: the error, and whether it is safe to run the
/// operation again on a fresh session (nothing happened on the remote side yet).
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Whether the operation may run again on a fresh session (nothing happened yet).
    pub retry: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry: false,
        }
    }
}

impl Failure {
    /// A failure that may be retried when it broke the session (read-only operations).
    pub fn idempotent(error: Error, conn: &Connection) -> Self {
        Failure {
            error,
            retry: conn.is_broken(),
        }
    }
}

/// Snapshot of one host's pool, for tests, `check` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPoolState {
    /// Sessions r2d2 holds for the host (idle and checked out).
    pub sessions: u32,
    /// Of those, the idle ones.
    pub idle: u32,
}

/// State shared by all host pools and their managers.
struct Shared {
    hosts: Mutex<HashMap<String, Arc<HostPool>>>,
    live: Arc<AtomicUsize>,
    limits: PoolLimits,
    opts: ConnectOptions,
}

impl Shared {
    /// Opens a session for `host` within the global cap, evicting an idle session of another
    /// host when the cap is reached.
    fn open(&self, host: &HostEntry, host_live: &Arc<AtomicUsize>) -> Result<Connection, Error> {
        let slot = self.acquire_slot(&host.alias, host_live)?;
        let mut conn = Connection::open(host, &self.opts)?;
        conn.slot = Some(slot);
        Ok(conn)
    }

    fn acquire_slot(
        &self,
        for_host: &str,
        host_live: &Arc<AtomicUsize>,
    ) -> Result<SessionSlot, Error> {
        loop {
            let n = self.live.load(Ordering::Acquire);
            if n < self.limits.max_total {
                if self
                    .live
                    .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    host_live.fetch_add(1, Ordering::AcqRel);
                    return Ok(SessionSlot {
                        live: self.live.clone(),
                        host_live: host_live.clone(),
                    });
                }
                continue;
            }
            if !self.evict_lru_idle(for_host) {
                return Err(Error::Connect {
                    host: for_host.to_string(),
                    message: format!(
                        "all {} sessions (SCOUT_MAX_POOL_SIZE) are busy; retry shortly or raise SCOUT_MAX_POOL_SIZE",
                        self.limits.max_total
                    ),
                });
            }
        }
    }

    /// Retires one idle session of the least recently used other host. False if there is none.
    fn evict_lru_idle(&self, except: &str) -> bool {
        let mut candidates: Vec<(Instant, Arc<HostPool>)> = lock(&self.hosts)
            .iter()
            .filter(|(alias, _)| alias.as_str() != except)
            .map(|(_, hp)| (*lock(&hp.last_used), hp.clone()))
            .collect();
        candidates.sort_by_key(|(t, _)| *t);
        for (_, hp) in candidates {
            if let Some(mut conn) = hp.pool.try_get() {
                log::debug!(
                    "evicting an idle session of {} (session cap reached)",
                    conn.alias()
                );
                conn.retire();
                return true;
            }
        }
        false
    }
}

/// All host pools.
pub struct Pools {
    shared: Arc<Shared>,
    threads: Arc<ScheduledThreadPool>,
}

impl Pools {
    /// No pools yet: each host's is built on first use.
    pub fn new(limits: PoolLimits, opts: ConnectOptions) -> Pools {
        let shared = Shared {
            hosts: Mutex::new(HashMap::new()),
            live: Arc::new(AtomicUsize::new(0)),
            limits,
            opts,
        };
        Pools {
            shared: Arc::new(shared),
            // r2d2's connector threads open a host's second and later sessions.
            threads: Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(2)
                    .thread_name_pattern("scout-r2d2-{}")
                    .build(),
            ),
        }
    }

    /// How sessions are opened (for checks that open their own).
    pub fn connect_options(&self) -> &ConnectOptions {
        &self.shared.opts
    }

    /// The limits the pools were built with.
    pub fn limits(&self) -> &PoolLimits {
        &self.shared.limits
    }

    /// Sessions alive across all hosts (including ones being handed over).
    pub fn live_sessions(&self) -> usize {
        self.shared.live.load(Ordering::Acquire)
    }

    /// Sessions of one host (`None` before its first use).
    pub fn host_state(&self, alias: &str) -> Option<HostPoolState> {
        let hp = lock(&self.shared.hosts).get(alias).cloned()?;
        let s = hp.pool.state();
        Some(HostPoolState {
            sessions: s.connections,
            idle: s.idle_connections,
        })
    }

    /// Runs `op` on a session of `host`, once more on a fresh session when the first attempt
    /// failed before any side effect and broke its session.
    pub fn with_session<T>(
        &self,
        host: &Arc<HostEntry>,
        mut op: impl FnMut(&mut Connection) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let mut conn = self.checkout(host)?;
        match op(&mut conn) {
            Ok(v) => Ok(v),
            Err(f) if f.retry && conn.is_broken() => {
                log::info!(
                    "{}: session failed ({}); retrying on a fresh one",
                    host.alias,
                    f.error
                );
                drop(conn);
                let mut conn = self.checkout(host)?;
                op(&mut conn).map_err(|f| f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    /// Checks out a session: an idle one if any (no network round trip); for a host without any
    /// session, one opened by this worker (or the outcome of the attempt already under way);
    /// otherwise whatever r2d2 gives within the wait (a returned session or a new one).
    pub fn checkout(&self, host: &Arc<HostEntry>) -> Result<Checkout, Error> {
        let hp = self.host_pool(host);
        *lock(&hp.last_used) = Instant::now();
        if let Some(conn) = hp.pool.try_get() {
            return Ok(ready(conn));
        }
        // No session yet, or the first one is being opened: join that attempt rather than
        // asking r2d2, which does not count the session a worker is opening and would open
        // more beside it.
        if !hp.reaping.load(Ordering::Acquire) && (hp.is_empty() || lock(&hp.first).in_progress) {
            self.open_first(&hp, host)?;
        }
        let wait = self.shared.limits.checkout_wait;
        hp.pool.get_timeout(wait).map(ready).map_err(|e| {
            let reason = e.to_string();
            let reason = reason.strip_prefix("timed out waiting for connection").unwrap_or(&reason);
            Error::Timeout {
                host: host.alias.clone(),
                what: format!(
                    "waiting for a session (all {} busy or unreachable{reason}; raise SCOUT_MAX_SESSIONS_PER_HOST or retry)",
                    self.shared.limits.per_host
                ),
                after: wait,
            }
        })
    }

    /// Opens the host's first session in this thread, or waits for the attempt another worker
    /// has under way and returns its error if it failed.
    fn open_first(&self, hp: &HostPool, host: &Arc<HostEntry>) -> Result<(), Error> {
        let mut first = lock(&hp.first);
        if first.in_progress {
            let attempt = first.attempts;
            let limit = Instant::now() + self.shared.opts.connect_timeout * 2;
            while first.in_progress && first.attempts == attempt && Instant::now() < limit {
                let left = limit.saturating_duration_since(Instant::now());
                first = hp
                    .first_done
                    .wait_timeout(first, left)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            return match &first.error {
                Some(e) if first.attempts != attempt => Err(e.clone()),
                _ => Ok(()),
            };
        }
        if !hp.is_empty() {
            return Ok(()); // someone finished while we took the lock
        }
        first.in_progress = true;
        drop(first);
        let opened = self.shared.open(host, &hp.host_live);
        let mut first = lock(&hp.first);
        first.in_progress = false;
        first.attempts += 1;
        let result = match opened {
            Ok(conn) => {
                lock(&hp.handoff).push(conn);
                first.error = None;
                Ok(())
            }
            Err(e) => {
                first.error = Some(e.clone());
                Err(e)
            }
        };
        hp.first_done.notify_all();
        result
    }

    fn host_pool(&self, host: &Arc<HostEntry>) -> Arc<HostPool> {
        let mut hosts = lock(&self.shared.hosts);
        if let Some(hp) = hosts.get(&host.alias) {
            return hp.clone();
        }
        let handoff = Arc::new(Mutex::new(Vec::new()));
        let host_live = Arc::new(AtomicUsize::new(0));
        let manager = Manager {
            host: host.clone(),
            handoff: handoff.clone(),
            host_live: host_live.clone(),
            shared: Arc::downgrade(&self.shared),
        };
        let pool = r2d2::Pool::builder()
            .max_size(self.shared.limits.per_host)
            // Never connect at build time or to keep spares: only on demand.
            .min_idle(Some(0))
            // Validity is the broken flag, checked at check-in; no round trip on check-out.
            .test_on_check_out(false)
            // Idle expiry is the reaper's job (r2d2's own runs only every 30 s).
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(self.shared.limits.checkout_wait)
            .thread_pool(self.threads.clone())
            .build_unchecked(manager);
        let hp = Arc::new(HostPool {
            pool,
            handoff,
            host_live,
            first: Mutex::new(FirstConnect::default()),
            first_done: Condvar::new(),
            reaping: AtomicBool::new(false),
            last_used: Mutex::new(Instant::now()),
        });
        hosts.insert(host.alias.clone(), hp.clone());
        hp
    }

    /// One pass of the reaper: per host, drops idle-expired and broken sessions, sends due
    /// keepalives (write-only, microseconds), discards stale handed-over sessions, and forgets
    /// host pools that have had no session and no use for an idle period (which also ends any
    /// r2d2 reconnect loop for a dead host).
    pub fn reap(&self) {
        let hosts: Vec<(String, Arc<HostPool>)> = lock(&self.shared.hosts)
            .iter()
            .map(|(a, hp)| (a.clone(), hp.clone()))
            .collect();
        for (alias, hp) in hosts {
            self.reap_host(&hp);
            let unused = lock(&hp.last_used).elapsed() >= self.shared.limits.idle_timeout;
            if unused && hp.is_empty() && !lock(&hp.first).in_progress {
                let mut map = lock(&self.shared.hosts);
                if map.get(&alias).is_some_and(|cur| Arc::ptr_eq(cur, &hp)) {
                    map.remove(&alias);
                    log::debug!("{alias}: host pool released (idle)");
                }
            }
        }
    }

    fn reap_host(&self, hp: &HostPool) {
        let idle = hp.pool.state().idle_connections;
        if idle == 0 {
            return;
        }
        hp.reaping.store(true, Ordering::Release);
        let mut kept = Vec::with_capacity(idle as usize);
        let mut expired = Vec::new();
        for _ in 0..idle {
            let Some(conn) = hp.pool.try_get() else { break };
            if conn.is_broken() || conn.idle_for() >= self.shared.limits.idle_timeout {
                expired.push(conn);
            } else {
                kept.push(conn);
            }
        }
        for conn in kept.iter_mut() {
            if conn.idle_for() >= conn.keepalive_every() && !conn.keepalive() {
                log::info!("{}: keepalive failed; dropping the session", conn.alias());
            }
        }
        // Give back in reverse check-out order so r2d2's LIFO order is preserved.
        while let Some(conn) = kept.pop() {
            drop(conn);
        }
        hp.reaping.store(false, Ordering::Release);
        for mut conn in expired {
            log::debug!(
                "{}: dropping a session idle for {:?}",
                conn.alias(),
                conn.idle_for()
            );
            conn.retire();
        }
        let stale: Vec<Connection> = {
            let mut handoff = lock(&hp.handoff);
            let (old, fresh): (Vec<_>, Vec<_>) = handoff
                .drain(..)
                .partition(|c| c.age() > self.shared.limits.checkout_wait * 2);
            *handoff = fresh;
            old
        };
        drop(stale);
    }

    /// Drops every pool (and with them every idle session). Checked-out sessions are dropped
    /// when their workers return them.
    pub fn shutdown(&self) {
        let pools: Vec<Arc<HostPool>> =
            lock(&self.shared.hosts).drain().map(|(_, hp)| hp).collect();
        drop(pools);
    }
}

fn ready(conn: r2d2::PooledConnection<Manager>) -> Checkout {
    let mut checkout = Checkout { conn };
    checkout.touch();
    checkout
}

/// Locks a mutex, recovering from poisoning: a panicking worker must not take the pool down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
