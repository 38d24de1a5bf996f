//! The connections of every host, and the channels on them.
//!
//! Each host has up to `SCOUT_MAX_SESSIONS_PER_HOST` SSH connections ([`Conn`], each with its
//! own thread, see `mux.rs`), and each connection carries up to its channel limit of commands
//! and transfers at once (the server's `MaxSessions`, learned) plus its control channel. Work
//! is admitted per channel:
//!
//! * **A command or a transfer needs a channel**: it takes a [`Lane`] from the host's
//!   `r2d2::Pool`. r2d2's "connection" here is a lane — a reservation of one channel on one of
//!   the host's SSH connections — and its `ManageConnection` places each new lane on the
//!   fullest connection that has room, opening another connection (up to the per-host cap)
//!   only when none has. r2d2 gives what a pool of channels needs: a cap on lanes per host,
//!   waiting for one to come back, LIFO reuse, and dropping lanes whose connection died
//!   (checked at checkout from a flag, no network round trip). Opening a lane never touches
//!   the network: a new connection connects on its own thread while the work queues on it.
//! * **An SFTP request needs no channel of its own**: it goes to the shared SFTP channel of the
//!   least busy connection of the host, so a read is never queued behind the host's commands.
//!
//! So nothing waits for a remote process but its own caller, and a host's first connect is
//! shared by everything that arrives meanwhile: a dead host costs one connect timeout, once.
//!
//! Across hosts, `SCOUT_MAX_POOL_SIZE` caps the connections (lowered to what the open-file
//! limit allows); when it is reached, an idle connection of another host gives way — one
//! beyond a host's first if any, else the only one of the host used longest ago. A host keeps
//! its last connection for the idle timeout and closes the others after a tenth of it, so a
//! fleet stays warm across an agent's pauses at one connection per host. A connection found dead makes its host's
//! idle connections that are older than it suspect: they are closed, so a retry after a host
//! restarted runs on a newly opened connection, never on another stale one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use scheduled_thread_pool::ScheduledThreadPool;

use crate::control::Control;
use crate::error::{Error, ErrorKind};
use crate::ssh::config::HostEntry;
use crate::ssh::connect::Connector;
use crate::ssh::mux::{Conn, Failure, Gate, Held, LaneCount, Spawn, DEFAULT_CHANNELS};
use crate::ssh::session::ConnectOptions;
use crate::ssh::trace::Trace;
use crate::sync::lock;

/// Limits of the pool.
#[derive(Debug, Clone)]
pub struct PoolLimits {
    /// Connections alive across all hosts (`SCOUT_MAX_POOL_SIZE`).
    pub max_total: usize,
    /// Connections per host (`SCOUT_MAX_SESSIONS_PER_HOST`).
    pub per_host: u32,
    /// How long a connection may stay idle before the reaper closes it.
    pub idle_timeout: Duration,
    /// How long a call waits for a channel when all of its host's are busy.
    pub checkout_wait: Duration,
    /// How long an SFTP request may wait for its answer.
    pub request_timeout: Duration,
    /// Connects (handshakes) under way at once across all hosts.
    pub connects_at_once: usize,
}

/// A reservation of one channel on one of a host's connections. Derefs to the [`Conn`];
/// returns to its pool when dropped.
pub struct Lane {
    inner: r2d2::PooledConnection<LaneManager>,
    _held: Held,
}

impl Lane {
    fn new(inner: r2d2::PooledConnection<LaneManager>) -> Lane {
        let held = Held::new(&inner.conn.state);
        Lane { inner, _held: held }
    }
}

impl std::ops::Deref for Lane {
    type Target = Arc<Conn>;
    fn deref(&self) -> &Arc<Conn> {
        &self.inner.conn
    }
}

/// What r2d2 pools: a lane on a connection.
pub struct LaneSlot {
    conn: Arc<Conn>,
    _count: LaneCount,
}

/// The r2d2 manager of one host: places lanes on the host's connections.
struct LaneManager {
    host: Weak<HostPool>,
    shared: Weak<Shared>,
}

impl r2d2::ManageConnection for LaneManager {
    type Connection = LaneSlot;
    type Error = Error;

    fn connect(&self) -> Result<LaneSlot, Error> {
        let (Some(hp), Some(shared)) = (self.host.upgrade(), self.shared.upgrade()) else {
            return Err(Error::io("shutting down"));
        };
        let (conn, count) = hp.lane_on_a_conn(&shared)?;
        Ok(LaneSlot {
            _count: count,
            conn,
        })
    }

    fn is_valid(&self, lane: &mut LaneSlot) -> Result<(), Error> {
        if self.has_broken(lane) {
            Err(Error::io("the lane's connection is closed or full"))
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, lane: &mut LaneSlot) -> bool {
        let s = &lane.conn.state;
        !s.is_open() || s.lanes() > s.lane_limit()
    }
}

impl std::fmt::Debug for LaneManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LaneManager")
    }
}

/// One host: its lane pool and its connections.
struct HostPool {
    host: Arc<HostEntry>,
    lanes: r2d2::Pool<LaneManager>,
    /// Connections alive or connecting (retired ones leave the list).
    conns: Mutex<Vec<Arc<Conn>>>,
    /// Connections opened outside the pool for this host (`check`), counted in its cap.
    reserved: AtomicUsize,
    last_used: Mutex<Instant>,
}

/// State shared by all host pools and their managers.
struct Shared {
    hosts: Mutex<HashMap<String, Arc<HostPool>>>,
    live: Arc<AtomicUsize>,
    limits: PoolLimits,
    connector: Arc<Connector>,
    gate: Arc<Gate>,
    next_id: AtomicU64,
}

/// Snapshot of one host's pool, for tests, `check` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPoolState {
    /// SSH connections of the host (connecting or connected).
    pub sessions: u32,
    /// Of those, the ones with nothing to do.
    pub idle: u32,
    /// Channels reserved for commands and transfers right now.
    pub lanes: u32,
}

impl HostPool {
    fn open_conns(&self) -> Vec<Arc<Conn>> {
        let mut conns = lock(&self.conns);
        conns.retain(|c| c.state.is_open());
        conns.clone()
    }

    /// A new lane and the connection it goes on: the fullest one with room (newest first on a
    /// tie), a new one if none has room and the host may have another, else the least loaded
    /// one (the lane then waits inside that connection for a channel to close). A lane on a
    /// connection with room is counted before the lock is let go: r2d2 makes lanes on several
    /// threads at once, and two that both saw the last free place would put a lane too many
    /// on one connection, whose command then waits for another to end.
    fn lane_on_a_conn(&self, shared: &Shared) -> Result<(Arc<Conn>, LaneCount), Error> {
        let mut conns = lock(&self.conns);
        conns.retain(|c| c.state.is_open());
        if let Some(c) = conns
            .iter()
            .filter(|c| c.state.lanes() < c.state.lane_limit())
            .max_by_key(|c| (c.state.lanes(), c.state.id))
        {
            return Ok((c.clone(), LaneCount::new(&c.state)));
        }
        let least_loaded = conns.iter().min_by_key(|c| c.state.lanes()).cloned();
        let conn = match self.open_another(shared, conns)? {
            Some(conn) => conn,
            None => least_loaded.ok_or_else(|| shared.full(&self.host.alias))?,
        };
        let count = LaneCount::new(&conn.state);
        Ok((conn, count))
    }

    /// The connection an SFTP request goes to: a connected one with the least work (newest on
    /// a tie), else one still connecting, else a new one. `None` when the host has none and
    /// the pool is full of busy connections of other hosts.
    fn try_conn_for_sftp(
        &self,
        shared: &Shared,
        avoid: Option<u64>,
    ) -> Result<Option<Arc<Conn>>, Error> {
        let mut conns = lock(&self.conns);
        conns.retain(|c| c.state.is_open());
        let best = conns
            .iter()
            .filter(|c| Some(c.state.id) != avoid)
            .max_by_key(|c| {
                (
                    c.state.is_connected(),
                    std::cmp::Reverse(c.state.busy()),
                    c.state.id,
                )
            });
        if let Some(c) = best {
            return Ok(Some(c.clone()));
        }
        self.open_another(shared, conns)
    }

    /// Opens another connection of the host if it may have one, with the host's connection
    /// list locked (so that two callers never both open one where one was needed). Taking a
    /// place in the global cap may retire another host's connection: that only ever *tries*
    /// the other host's lock (see [`Shared::evict_lru_idle`]), so two hosts doing this at once
    /// cannot deadlock.
    fn open_another(
        &self,
        shared: &Shared,
        mut conns: std::sync::MutexGuard<'_, Vec<Arc<Conn>>>,
    ) -> Result<Option<Arc<Conn>>, Error> {
        if !self.has_room(conns.len(), shared) {
            return Ok(None);
        }
        let opened = shared.spawn(&self.host, None)?;
        if let Some(conn) = &opened {
            conns.push(conn.clone());
        }
        Ok(opened)
    }

    /// [`HostPool::try_conn_for_sftp`], waiting while the pool is full (busy connections of
    /// other hosts become idle, then give way) until the checkout wait passes.
    fn conn_for_sftp(&self, shared: &Shared, avoid: Option<u64>) -> Result<Arc<Conn>, Error> {
        let deadline = Instant::now() + shared.limits.checkout_wait;
        loop {
            if let Some(conn) = self.try_conn_for_sftp(shared, avoid)? {
                return Ok(conn);
            }
            if Instant::now() >= deadline {
                return Err(shared.full(&self.host.alias));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn has_room(&self, conns: usize, shared: &Shared) -> bool {
        conns + self.reserved.load(Ordering::Acquire) < shared.limits.per_host as usize
    }

    /// `dead` turned out dead: the host's idle connections opened before it are suspect and
    /// closed, so the retry goes to a connection known to be newer.
    fn forget_stale(&self, dead: &Conn) {
        let conns = lock(&self.conns).clone();
        for c in conns {
            if c.state.id < dead.state.id && c.state.busy() == 0 {
                log::info!(
                    "{}: closing an idle connection opened before one that died",
                    self.host.alias
                );
                c.retire();
            }
        }
        lock(&self.conns).retain(|c| c.state.is_open());
    }

    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }
}

impl Shared {
    /// Starts a connection to `host` if the global cap allows (making room by retiring the
    /// least recently used idle connection of another host); `None` when it does not.
    fn spawn(
        &self,
        host: &Arc<HostEntry>,
        trace: Option<crossbeam_channel::Sender<Trace>>,
    ) -> Result<Option<Arc<Conn>>, Error> {
        if !self.take_slot(&host.alias) {
            return Ok(None);
        }
        let live = self.live.clone();
        let spawn = Spawn {
            host: host.clone(),
            connector: self.connector.clone(),
            gate: self.gate.clone(),
            id: self.next_id.fetch_add(1, Ordering::AcqRel),
            release: Box::new(move || {
                live.fetch_sub(1, Ordering::AcqRel);
            }),
            trace,
            request_timeout: self.limits.request_timeout,
        };
        match Conn::spawn(spawn) {
            Ok(conn) => Ok(Some(conn)),
            Err(e) => {
                self.live.fetch_sub(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    fn take_slot(&self, for_host: &str) -> bool {
        loop {
            let n = self.live.load(Ordering::Acquire);
            if n < self.limits.max_total {
                if self
                    .live
                    .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            if !self.evict_lru_idle(for_host) {
                return false;
            }
        }
    }

    /// Retires one idle connection of another host, giving its place in the count back at
    /// once: a connection beyond a host's first if there is one (hosts used longest ago
    /// first), else the only connection of the host used longest ago. False if there is none.
    fn evict_lru_idle(&self, except: &str) -> bool {
        let mut candidates: Vec<(Instant, Arc<HostPool>)> = lock(&self.hosts)
            .iter()
            .filter(|(alias, _)| alias.as_str() != except)
            .map(|(_, hp)| (*lock(&hp.last_used), hp.clone()))
            .collect();
        candidates.sort_by_key(|(t, _)| *t);
        for extras_only in [true, false] {
            for (_, hp) in &candidates {
                // Only tried: the caller holds its own host's list (see `open_another`).
                let conns = match hp.conns.try_lock() {
                    Ok(conns) => conns.clone(),
                    Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner().clone(),
                    Err(std::sync::TryLockError::WouldBlock) => continue,
                };
                let conns: Vec<Arc<Conn>> =
                    conns.into_iter().filter(|c| c.state.is_open()).collect();
                if extras_only && conns.len() < 2 {
                    continue;
                }
                let idle = conns
                    .iter()
                    .filter(|c| c.state.evictable())
                    .max_by_key(|c| c.state.idle_for());
                if let Some(conn) = idle {
                    log::debug!(
                        "evicting an idle connection of {} (SCOUT_MAX_POOL_SIZE reached)",
                        conn.state.alias
                    );
                    conn.retire();
                    conn.state.release_slot();
                    // Its list drops it at its next use (`open_conns`).
                    return true;
                }
            }
        }
        false
    }

    fn full(&self, alias: &str) -> Error {
        Error::connect(
            alias.to_string(),
            format!(
                "all {} connections (SCOUT_MAX_POOL_SIZE, within the open-file limit) are \
                 busy; retry shortly, or raise SCOUT_MAX_POOL_SIZE (and ulimit -n)",
                self.limits.max_total
            ),
        )
    }
}

/// All host pools.
pub struct Pools {
    shared: Arc<Shared>,
    threads: Arc<ScheduledThreadPool>,
}

impl Pools {
    /// No pools yet: each host's is built on first use.
    pub fn new(limits: PoolLimits, connector: Connector) -> Pools {
        let gate = Gate::new(limits.connects_at_once);
        let shared = Shared {
            hosts: Mutex::new(HashMap::new()),
            live: Arc::new(AtomicUsize::new(0)),
            limits,
            connector: Arc::new(connector),
            gate,
            next_id: AtomicU64::new(1),
        };
        Pools {
            shared: Arc::new(shared),
            // r2d2 places new lanes on this thread: no network I/O happens there.
            threads: Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("scout-r2d2-{}")
                    .build(),
            ),
        }
    }

    /// How sessions are opened (for checks that open their own).
    pub fn connect_options(&self) -> &ConnectOptions {
        &self.shared.connector.opts
    }

    /// The limits the pools were built with.
    pub fn limits(&self) -> &PoolLimits {
        &self.shared.limits
    }

    /// Connections alive across all hosts.
    pub fn live_sessions(&self) -> usize {
        self.shared.live.load(Ordering::Acquire)
    }

    /// Connections of one host (`None` before its first use).
    pub fn host_state(&self, alias: &str) -> Option<HostPoolState> {
        let hp = lock(&self.shared.hosts).get(alias).cloned()?;
        let conns = hp.open_conns();
        Some(HostPoolState {
            sessions: conns.len() as u32,
            idle: conns.iter().filter(|c| c.state.busy() == 0).count() as u32,
            lanes: conns.iter().map(|c| c.state.lanes()).sum::<usize>() as u32,
        })
    }

    /// A channel on one of `host`'s connections, for a command or a transfer: waits (until
    /// the checkout wait passes, or `control` is cancelled) while all are in use.
    pub fn lane(&self, host: &Arc<HostEntry>, control: &Control) -> Result<Lane, Error> {
        let hp = self.host_pool(host);
        hp.touch();
        if let Some(inner) = hp.lanes.try_get() {
            return Ok(Lane::new(inner));
        }
        // A host without a connection gets one here, so that r2d2's manager finds one to
        // place the lane on; when the pool is full, r2d2 retries below until one frees.
        if hp.open_conns().is_empty() {
            hp.try_conn_for_sftp(&self.shared, None)?;
        }
        let wait = self.shared.limits.checkout_wait;
        let deadline = Instant::now() + wait;
        loop {
            if control.is_cancelled() {
                return Err(Error::cancelled());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::timeout(
                    host.alias.clone(),
                    format!(
                        "waiting for a free channel (all channels of its {} connections are \
                         busy; raise SCOUT_MAX_SESSIONS_PER_HOST or retry)",
                        self.shared.limits.per_host
                    ),
                    wait,
                ));
            }
            if let Ok(inner) = hp.lanes.get_timeout(left.min(Duration::from_millis(100))) {
                return Ok(Lane::new(inner));
            }
        }
    }

    /// A channel of `host` if one is free now; else `None`, and, when `ask`, one is made for
    /// a later call if the host may have more. Never waits. A caller polling for a lane asks
    /// only now and then: each ask may make a lane, and lanes past a connection's channels
    /// open another connection.
    pub fn try_lane(&self, host: &Arc<HostEntry>, ask: bool) -> Result<Option<Lane>, Error> {
        let hp = self.host_pool(host);
        hp.touch();
        if let Some(inner) = hp.lanes.try_get() {
            return Ok(Some(Lane::new(inner)));
        }
        // A host without a connection gets one here; when the pool is full, later.
        if hp.open_conns().is_empty() && hp.try_conn_for_sftp(&self.shared, None)?.is_none() {
            return Ok(None);
        }
        if !ask {
            return Ok(None);
        }
        // Asks r2d2 for a new lane without waiting for it.
        Ok(hp.lanes.get_timeout(Duration::ZERO).ok().map(Lane::new))
    }

    /// Starts a connection to `host` now if it has none (so that many hosts connect at once).
    pub fn prepare(&self, host: &Arc<HostEntry>) {
        let hp = self.host_pool(host);
        if hp.open_conns().is_empty() {
            let _ = hp.try_conn_for_sftp(&self.shared, None);
        }
    }

    /// Runs `op` with a connection of `host` for SFTP requests; when the connection died
    /// under it (and `op` may run twice, or nothing reached the server), once more on another
    /// connection, after closing the host's idle connections older than the dead one.
    pub fn with_conn<T>(
        &self,
        host: &Arc<HostEntry>,
        idempotent: bool,
        mut op: impl FnMut(&Arc<Conn>) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let hp = self.host_pool(host);
        hp.touch();
        let conn = hp.conn_for_sftp(&self.shared, None)?;
        match op(&conn) {
            Ok(v) => Ok(v),
            Err(f) if retryable(&f, &conn, idempotent) => {
                log::info!(
                    "{}: {} — retrying on another connection",
                    host.alias,
                    f.error
                );
                hp.forget_stale(&conn);
                let again = hp.conn_for_sftp(&self.shared, Some(conn.state.id))?;
                op(&again).map_err(|f| f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    /// Runs `op` on a lane of `host`; when it failed before anything reached the server
    /// because the connection died, once more on another connection.
    pub fn with_lane<T>(
        &self,
        host: &Arc<HostEntry>,
        control: &Control,
        mut op: impl FnMut(&Lane) -> Result<T, Failure>,
    ) -> Result<T, Error> {
        let lane = self.lane(host, control)?;
        match op(&lane) {
            Ok(v) => Ok(v),
            Err(f) if retryable(&f, &lane, false) => {
                log::info!(
                    "{}: {} — retrying on another connection",
                    host.alias,
                    f.error
                );
                let hp = self.host_pool(host);
                hp.forget_stale(&lane);
                drop(lane);
                let lane = self.lane(host, control)?;
                op(&lane).map_err(|f| f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    /// Opens a connection to `host` outside the pool (for `check`), counted in the host's and
    /// the global cap: waits, until `control` is cancelled or the connect timeout passes, for
    /// room. `trace` receives the connect's stages.
    pub fn open_traced(
        &self,
        host: &Arc<HostEntry>,
        control: &Control,
        trace: crossbeam_channel::Sender<Trace>,
    ) -> Result<Outside, Error> {
        let hp = self.host_pool(host);
        let deadline = Instant::now() + self.shared.connector.opts.connect_timeout;
        loop {
            if control.is_cancelled() {
                return Err(Error::cancelled());
            }
            {
                let conns = lock(&hp.conns).len();
                let reserved = hp.reserved.load(Ordering::Acquire);
                if conns + reserved < self.shared.limits.per_host as usize
                    && hp
                        .reserved
                        .compare_exchange(
                            reserved,
                            reserved + 1,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_ok()
                {
                    match self.shared.spawn(host, Some(trace.clone())) {
                        Ok(Some(conn)) => {
                            return Ok(Outside {
                                conn,
                                host: hp.clone(),
                            })
                        }
                        Ok(None) => {
                            hp.reserved.fetch_sub(1, Ordering::AcqRel);
                        }
                        Err(e) => {
                            hp.reserved.fetch_sub(1, Ordering::AcqRel);
                            return Err(e);
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::timeout(
                    host.alias.clone(),
                    format!(
                        "waiting for room to connect (SCOUT_MAX_SESSIONS_PER_HOST={} and \
                         SCOUT_MAX_POOL_SIZE={} are in use)",
                        self.shared.limits.per_host, self.shared.limits.max_total
                    ),
                    self.shared.connector.opts.connect_timeout,
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn host_pool(&self, host: &Arc<HostEntry>) -> Arc<HostPool> {
        let mut hosts = lock(&self.shared.hosts);
        if let Some(hp) = hosts.get(&host.alias) {
            return hp.clone();
        }
        let shared = Arc::downgrade(&self.shared);
        let limits = &self.shared.limits;
        let max_lanes = limits
            .per_host
            .saturating_mul(DEFAULT_CHANNELS as u32 - 1)
            .max(1);
        let hp = Arc::new_cyclic(|weak: &Weak<HostPool>| HostPool {
            host: host.clone(),
            lanes: r2d2::Pool::builder()
                .max_size(max_lanes)
                // Lanes are made on demand only, never kept as spares.
                .min_idle(Some(0))
                // Validity is a flag of the connection: no network round trip.
                .test_on_check_out(true)
                .idle_timeout(None)
                .max_lifetime(None)
                .connection_timeout(limits.checkout_wait)
                .error_handler(Box::new(r2d2::NopErrorHandler))
                .thread_pool(self.threads.clone())
                .build_unchecked(LaneManager {
                    host: weak.clone(),
                    shared,
                }),
            conns: Mutex::new(Vec::new()),
            reserved: AtomicUsize::new(0),
            last_used: Mutex::new(Instant::now()),
        });
        hosts.insert(host.alias.clone(), hp.clone());
        hp
    }

    /// One pass of the reaper: closes connections idle too long, drops lanes of closed
    /// connections, and forgets host pools with nothing left (keepalives and dead connections
    /// are each connection thread's own business).
    ///
    /// A host keeps its most recently used connection for the idle timeout, so that the next
    /// call after an agent's thinking time finds it warm; the others, opened for a burst, are
    /// closed after a tenth of it ([`extra_idle`]).
    pub fn reap(&self) {
        let hosts: Vec<(String, Arc<HostPool>)> = lock(&self.shared.hosts)
            .iter()
            .map(|(a, hp)| (a.clone(), hp.clone()))
            .collect();
        let idle_timeout = self.shared.limits.idle_timeout;
        for (alias, hp) in hosts {
            let mut conns = hp.open_conns();
            // The one used last (least idle) comes first.
            conns.sort_by_key(|c| c.state.idle_for());
            for (i, conn) in conns.iter().enumerate() {
                let limit = if i == 0 {
                    idle_timeout
                } else {
                    extra_idle(idle_timeout)
                };
                if conn.state.idle_for() >= limit {
                    log::debug!("{alias}: closing a connection idle for {limit:?}");
                    conn.retire();
                }
            }
            lock(&hp.conns).retain(|c| c.state.is_open());
            // Idle lanes of closed connections are dropped by r2d2's check at checkout.
            let idle = hp.lanes.state().idle_connections;
            let held: Vec<_> = (0..idle).filter_map(|_| hp.lanes.try_get()).collect();
            drop(held);
            let unused = lock(&hp.last_used).elapsed() >= idle_timeout;
            let empty = lock(&hp.conns).is_empty()
                && hp.lanes.state().connections == 0
                && hp.reserved.load(Ordering::Acquire) == 0;
            if unused && empty {
                let mut map = lock(&self.shared.hosts);
                if map.get(&alias).is_some_and(|cur| Arc::ptr_eq(cur, &hp)) {
                    map.remove(&alias);
                    log::debug!("{alias}: host pool released (idle)");
                }
            }
        }
    }

    /// Closes every connection (those with work finish it first) and forgets every pool;
    /// waits up to `wait` for the connections to say goodbye to their servers.
    pub fn shutdown(&self, wait: Duration) {
        let pools: Vec<Arc<HostPool>> =
            lock(&self.shared.hosts).drain().map(|(_, hp)| hp).collect();
        let mut closing = Vec::new();
        for hp in &pools {
            for conn in lock(&hp.conns).drain(..) {
                conn.retire();
                closing.push(conn);
            }
        }
        let deadline = Instant::now() + wait;
        while closing.iter().any(|c| c.state.is_alive()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A connection opened outside the pool (for `check`); retired when dropped.
pub struct Outside {
    /// The connection.
    pub conn: Arc<Conn>,
    host: Arc<HostPool>,
}

impl Drop for Outside {
    fn drop(&mut self) {
        self.conn.retire();
        self.host.reserved.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a host's connections other than its most recently used one may stay idle.
pub fn extra_idle(idle_timeout: Duration) -> Duration {
    idle_timeout / 10
}

/// Whether a failed request may run again on another connection.
fn retryable(f: &Failure, conn: &Conn, idempotent: bool) -> bool {
    may_retry(f, conn.state.is_alive(), idempotent)
}

/// [`retryable`], given whether the connection is still alive.
fn may_retry(f: &Failure, alive: bool, idempotent: bool) -> bool {
    if matches!(f.error.kind(), ErrorKind::Cancelled | ErrorKind::Timeout) {
        return false;
    }
    // `lost` comes with the failure: the connection's thread answers its callers before it
    // marks the connection dead, so `alive` alone would race with that thread.
    f.retry || (idempotent && (f.lost || !alive))
}

#[cfg(test)]
mod tests {
    use super::may_retry;
    use crate::error::Error;
    use crate::ssh::mux::Failure;

    #[test]
    fn an_idempotent_request_whose_connection_died_runs_again_before_the_pool_sees_it_dead() {
        let died = Failure::from(Error::session("h", "SFTP channel failed")).lost();
        // The connection's thread answered before marking the connection dead.
        assert!(may_retry(&died, true, true));
        assert!(!may_retry(&died, true, false));
        let refused = Failure::from(Error::session("h", "garbled"));
        assert!(!may_retry(&refused, true, true));
        assert!(may_retry(&refused, false, true));
        let cancelled = Failure::from(Error::cancelled()).lost();
        assert!(!may_retry(&cancelled, false, true));
    }
}
