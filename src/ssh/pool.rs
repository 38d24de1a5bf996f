//! Per-host session pools (SPEC §6): one `r2d2::Pool` per host alias, built on first use.
//!
//! r2d2 gives us the idle stack, check-out/check-in, the per-host cap and "drop it if broken".
//! Two r2d2 behaviours do not fit an SSH fleet, and this module works around them:
//!
//! * r2d2 connects on its own threads and reports a failure only as "timed out" after the whole
//!   wait, then retries forever. So a worker that needs a new session **connects itself** (typed
//!   error at once, a dead host costs one connect timeout) and hands the finished [`Connection`]
//!   to r2d2 through the manager's *handoff* stack; r2d2's `connect()` just takes it from there.
//! * r2d2 cannot evict one idle connection, and has no global cap. The total across hosts is a
//!   counter of live sessions ([`SessionSlot`]); when it is full, the least recently used host
//!   gives up one idle session (checked out, marked broken, dropped). Checked-out sessions are
//!   never evicted.
//!
//! No lock is held across network I/O: the host map lock only guards the `HashMap`, connects
//! happen outside it, and the reaper (see [`Pools::reap`]) checks sessions out like any worker.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::Error;
use crate::ssh::config::HostEntry;
use crate::ssh::session::{ConnectOptions, Connection};

/// Limits of the pool.
#[derive(Debug, Clone)]
pub struct PoolLimits {
    pub max_total: usize,
    pub per_host: u32,
    pub idle_timeout: Duration,
    pub keepalive_interval: Duration,
    /// How long a request waits for a busy host's session to come back.
    pub checkout_wait: Duration,
}

/// One unit of the global session count; released when the session is dropped.
#[derive(Debug)]
pub struct SessionSlot {
    live: Arc<AtomicUsize>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The r2d2 manager of one host: hands over connections made by workers; connects itself only
/// when r2d2 refills a slot on its own.
struct Manager {
    host: Arc<HostEntry>,
    opts: Arc<ConnectOptions>,
    handoff: Arc<Mutex<Vec<Connection>>>,
    live: Arc<AtomicUsize>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection, Error> {
        if let Some(conn) = lock(&self.handoff).pop() {
            return Ok(conn);
        }
        let mut conn = Connection::open(&self.host, &self.opts)?;
        self.live.fetch_add(1, Ordering::AcqRel);
        conn.slot = Some(SessionSlot {
            live: self.live.clone(),
        });
        Ok(conn)
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
    /// Connects in progress by workers for this host.
    connecting: AtomicU32,
    /// Serialises the "may I open one more?" decision.
    reserve: Mutex<()>,
    /// Set while the reaper holds this host's idle sessions (for microseconds).
    reaping: AtomicBool,
    last_used: Mutex<Instant>,
}

impl HostPool {
    /// Claims the right to open one more session if the host is below its cap.
    fn reserve_connect(&self, per_host: u32) -> bool {
        let _guard = lock(&self.reserve);
        let open = self.pool.state().connections;
        let pending = self.connecting.load(Ordering::Acquire) + lock(&self.handoff).len() as u32;
        if open + pending < per_host {
            self.connecting.fetch_add(1, Ordering::AcqRel);
            true
        } else {
            false
        }
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
    pub error: Error,
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
    pub sessions: u32,
    pub idle: u32,
}

/// All host pools.
pub struct Pools {
    hosts: Mutex<HashMap<String, Arc<HostPool>>>,
    live: Arc<AtomicUsize>,
    limits: PoolLimits,
    opts: Arc<ConnectOptions>,
    threads: Arc<ScheduledThreadPool>,
}

impl Pools {
    pub fn new(limits: PoolLimits, opts: ConnectOptions) -> Pools {
        Pools {
            hosts: Mutex::new(HashMap::new()),
            live: Arc::new(AtomicUsize::new(0)),
            limits,
            opts: Arc::new(opts),
            // r2d2's connector threads only take handed-over sessions: two are plenty for all.
            threads: Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(2)
                    .thread_name_pattern("scout-r2d2-{}")
                    .build(),
            ),
        }
    }

    pub fn limits(&self) -> &PoolLimits {
        &self.limits
    }

    /// Sessions alive across all hosts (including ones being handed over).
    pub fn live_sessions(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub fn host_state(&self, alias: &str) -> Option<HostPoolState> {
        let hp = lock(&self.hosts).get(alias).cloned()?;
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

    /// Checks out a session: an idle one if any (no network round trip), else a new one if the
    /// host is below its cap, else waits for one to come back.
    pub fn checkout(&self, host: &Arc<HostEntry>) -> Result<Checkout, Error> {
        let hp = self.host_pool(host);
        *lock(&hp.last_used) = Instant::now();
        if let Some(conn) = hp.pool.try_get() {
            return Ok(self.ready(conn));
        }
        if !hp.reaping.load(Ordering::Acquire) && hp.reserve_connect(self.limits.per_host) {
            let opened = self.open_new(host);
            match opened {
                Ok(conn) => lock(&hp.handoff).push(conn),
                Err(e) => {
                    hp.connecting.fetch_sub(1, Ordering::AcqRel);
                    return Err(e);
                }
            }
            hp.connecting.fetch_sub(1, Ordering::AcqRel);
        }
        match hp.pool.get_timeout(self.limits.checkout_wait) {
            Ok(conn) => Ok(self.ready(conn)),
            Err(e) => Err(Error::Timeout {
                host: host.alias.clone(),
                what: format!(
                    "waiting for a free session (all {} busy{}; raise SCOUT_MAX_SESSIONS_PER_HOST or retry)",
                    self.limits.per_host,
                    e.to_string().strip_prefix("timed out waiting for connection").map(|r| r.to_string()).unwrap_or_default()
                ),
                after: self.limits.checkout_wait,
            }),
        }
    }

    fn ready(&self, conn: r2d2::PooledConnection<Manager>) -> Checkout {
        let mut checkout = Checkout { conn };
        checkout.touch();
        checkout
    }

    /// Opens a session for `host` within the global cap, evicting an idle session elsewhere
    /// when the cap is reached.
    fn open_new(&self, host: &Arc<HostEntry>) -> Result<Connection, Error> {
        let slot = self.acquire_slot(&host.alias)?;
        let mut conn = Connection::open(host, &self.opts)?;
        conn.slot = Some(slot);
        Ok(conn)
    }

    fn acquire_slot(&self, for_host: &str) -> Result<SessionSlot, Error> {
        loop {
            let n = self.live.load(Ordering::Acquire);
            if n < self.limits.max_total {
                if self
                    .live
                    .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Ok(SessionSlot {
                        live: self.live.clone(),
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

    /// Drops one idle session of the least recently used host that has one. False if none.
    fn evict_lru_idle(&self, except: &str) -> bool {
        let candidates: Vec<(Instant, Arc<HostPool>)> = lock(&self.hosts)
            .iter()
            .filter(|(alias, _)| alias.as_str() != except)
            .map(|(_, hp)| (*lock(&hp.last_used), hp.clone()))
            .collect();
        let mut candidates = candidates;
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

    fn host_pool(&self, host: &Arc<HostEntry>) -> Arc<HostPool> {
        let mut hosts = lock(&self.hosts);
        if let Some(hp) = hosts.get(&host.alias) {
            return hp.clone();
        }
        let handoff = Arc::new(Mutex::new(Vec::new()));
        let manager = Manager {
            host: host.clone(),
            opts: self.opts.clone(),
            handoff: handoff.clone(),
            live: self.live.clone(),
        };
        let pool = r2d2::Pool::builder()
            .max_size(self.limits.per_host)
            // Never connect at build time or to keep spares: only on demand.
            .min_idle(Some(0))
            // Validity is the broken flag, checked at check-in; no round trip on check-out.
            .test_on_check_out(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(self.limits.checkout_wait)
            .thread_pool(self.threads.clone())
            .build_unchecked(manager);
        let hp = Arc::new(HostPool {
            pool,
            handoff,
            connecting: AtomicU32::new(0),
            reserve: Mutex::new(()),
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
        let hosts: Vec<(String, Arc<HostPool>)> = lock(&self.hosts)
            .iter()
            .map(|(a, hp)| (a.clone(), hp.clone()))
            .collect();
        for (alias, hp) in hosts {
            self.reap_host(&hp);
            let state = hp.pool.state();
            let unused = lock(&hp.last_used).elapsed() >= self.limits.idle_timeout;
            if state.connections == 0 && unused && hp.connecting.load(Ordering::Acquire) == 0 {
                let mut map = lock(&self.hosts);
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
            if conn.is_broken() || conn.idle_for() >= self.limits.idle_timeout {
                expired.push(conn);
            } else {
                kept.push(conn);
            }
        }
        for conn in kept.iter_mut() {
            if conn.idle_for() >= self.limits.keepalive_interval && !conn.keepalive() {
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
                .partition(|c| c.age() > self.limits.checkout_wait * 2);
            *handoff = fresh;
            old
        };
        drop(stale);
    }

    /// Drops every pool (and with them every idle session). Checked-out sessions are dropped
    /// when their workers return them.
    pub fn shutdown(&self) {
        let pools: Vec<Arc<HostPool>> = lock(&self.hosts).drain().map(|(_, hp)| hp).collect();
        drop(pools);
    }
}

/// Locks a mutex, recovering from poisoning: a panicking worker must not take the pool down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
