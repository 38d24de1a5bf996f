//! The host inventory (ssh_config aliases after the allow/block lists) and reachability
//! (docs/BEHAVIOUR.md §3.2): a TCP connect per host, all hosts in parallel (bounded), cached
//! a few seconds.

use std::collections::{BTreeMap, HashMap};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::settings::Settings;
use crate::ssh::config::{ParseContext, SshConfig};
use crate::sync::lock;
use crate::util::glob_match;

pub use crate::ssh::config::HostEntry;

/// The configured hosts, resolved once at startup.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    hosts: BTreeMap<String, Arc<HostEntry>>,
    warnings: Vec<String>,
    /// The whole config, for names that are not hosts of the inventory (jump hosts).
    config: Option<Arc<SshConfig>>,
}

impl Inventory {
    /// Reads the ssh_config named by the settings. A missing file is an empty inventory.
    pub fn load(settings: &Settings) -> Result<Inventory, Error> {
        let ctx = ParseContext {
            home: settings.home.clone(),
            local_user: settings.local_user.clone(),
        };
        let config = SshConfig::load(&settings.ssh_config, &ctx).map_err(|e| {
            Error::Config(format!(
                "cannot use ssh_config: {e}. Fix the file or point SCOUT_SSH_CONFIG elsewhere"
            ))
        })?;
        Ok(Self::from_config(
            &config,
            &settings.allowlist,
            &settings.blocklist,
        ))
    }

    /// The inventory of `config`, filtered: an alias is a host when it matches the allowlist
    /// (if any) and no blocklist pattern.
    pub fn from_config(config: &SshConfig, allow: &[String], block: &[String]) -> Inventory {
        let hosts = config
            .aliases()
            .into_iter()
            .filter(|a| allow.is_empty() || allow.iter().any(|p| glob_match(p, a)))
            .filter(|a| !block.iter().any(|p| glob_match(p, a)))
            .map(|a| (a.clone(), Arc::new(config.resolve(&a))))
            .collect();
        Inventory {
            hosts,
            warnings: config.warnings().to_vec(),
            config: Some(Arc::new(config.clone())),
        }
    }

    /// Host aliases, sorted.
    pub fn aliases(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// The resolved hosts, sorted by alias.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<HostEntry>> {
        self.hosts.values()
    }

    /// Non-fatal remarks from parsing the ssh_config (`file:line: message`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The ssh_config the inventory came from (empty for a default inventory).
    pub fn config(&self) -> SshConfig {
        self.config
            .as_deref()
            .cloned()
            .unwrap_or_else(SshConfig::empty)
    }

    /// The host of `alias`, or an error naming the available hosts.
    pub fn get(&self, alias: &str) -> Result<Arc<HostEntry>, Error> {
        self.hosts
            .get(alias)
            .cloned()
            .ok_or_else(|| Error::UnknownHost {
                alias: alias.to_string(),
                available: self.aliases(),
            })
    }
}

/// One line of the host list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    /// The host alias.
    pub alias: String,
    /// Resolved remote user.
    pub user: String,
    /// Resolved `HostName`.
    pub hostname: String,
    /// Resolved `Port`.
    pub port: u16,
    /// The first jump host, for a host behind `ProxyJump`: that is what was probed.
    pub via: Option<String>,
    /// `Ok(connect time)` or the reason the TCP connect failed.
    pub reachable: Result<Duration, String>,
}

/// Where a host behind `ProxyJump` is probed: its first jump host's (alias, host name, port);
/// `Ok(None)` for a direct host, `Err` when its ProxyJump is unusable (nothing is probed then).
pub type FirstHop<'a> =
    dyn Fn(&HostEntry) -> Result<Option<(String, String, u16)>, String> + Sync + 'a;

/// When a host was probed, and how long its TCP connect took (or why it failed).
type Probe = (Instant, Result<Duration, String>);

/// Reachability results, cached for `ttl` so that an agent listing hosts repeatedly does not
/// hammer the network.
pub struct Reachability {
    cache: Mutex<HashMap<String, Probe>>,
    ttl: Duration,
}

impl Reachability {
    /// An empty cache whose results stay valid for `ttl`.
    pub fn new(ttl: Duration) -> Reachability {
        Reachability {
            cache: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// Checks every host (in parallel, at most `concurrency` at once), using cached results
    /// younger than the TTL. A host behind `ProxyJump` is probed at its first jump host, given
    /// by `first_hop` (alias, host name, port): its own address may be reachable only from there.
    pub fn check(
        &self,
        hosts: &[Arc<HostEntry>],
        first_hop: &FirstHop,
        timeout: Duration,
        concurrency: usize,
    ) -> Vec<HostStatus> {
        let stale: Vec<&Arc<HostEntry>> = {
            let cache = lock(&self.cache);
            hosts
                .iter()
                .filter(|h| {
                    cache
                        .get(&h.alias)
                        .is_none_or(|(at, _)| at.elapsed() >= self.ttl)
                })
                .collect()
        };
        for chunk in stale.chunks(concurrency.max(1)) {
            let results: Vec<(String, Result<Duration, String>)> = std::thread::scope(|s| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|h| {
                        s.spawn(move || {
                            let result = match first_hop(h) {
                                Ok(Some((_, name, port))) => probe(&name, port, timeout),
                                Ok(None) => probe(&h.hostname, h.port, timeout),
                                Err(e) => Err(e),
                            };
                            (h.alias.clone(), result)
                        })
                    })
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            let mut cache = lock(&self.cache);
            for (alias, result) in results {
                cache.insert(alias, (Instant::now(), result));
            }
        }
        let cache = lock(&self.cache);
        hosts
            .iter()
            .map(|h| HostStatus {
                alias: h.alias.clone(),
                user: h.user.clone(),
                hostname: h.hostname.clone(),
                port: h.port,
                via: first_hop(h).ok().flatten().map(|(alias, _, _)| alias),
                reachable: cache
                    .get(&h.alias)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(|| Err("not checked".into())),
            })
            .collect()
    }
}

/// A bare TCP connect: no SSH login is needed to tell whether a host answers.
fn probe(hostname: &str, port: u16, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    let addrs = (hostname, port)
        .to_socket_addrs()
        .map_err(|e| format!("DNS: {e}"))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(start.elapsed()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// The host list as text: one line per host.
pub fn format(statuses: &[HostStatus]) -> String {
    if statuses.is_empty() {
        return "No hosts configured. Add Host blocks to your ssh_config (SCOUT_SSH_CONFIG, default ~/.ssh/config).".into();
    }
    let width = statuses.iter().map(|s| s.alias.len()).max().unwrap_or(0);
    let mut out = format!("{} host(s):\n", statuses.len());
    for s in statuses {
        let via = s
            .via
            .as_ref()
            .map(|v| format!(" via jump host {v}"))
            .unwrap_or_default();
        let state = match &s.reachable {
            Ok(t) => format!("reachable{via} ({:.1} ms)", t.as_secs_f64() * 1000.0),
            Err(e) => format!("unreachable{via}: {e}"),
        };
        out.push_str(&format!(
            "{:width$}  {}@{}:{}  {state}\n",
            s.alias, s.user, s.hostname, s.port
        ));
    }
    out
}
