//! The host inventory (ssh_config aliases after the allow/block lists), the operator's host
//! groups and the host patterns of broadcast targets, and reachability (docs/BEHAVIOUR.md
//! §3.2): a TCP connect per host, all hosts in parallel (bounded), cached a few seconds.
//!
//! **Host patterns.** The host part of a broadcast target (`HOSTS:path`) is an alias, or a
//! comma-separated list of items: an alias, a glob on aliases (`web*`, `db?`, matched like
//! ssh_config's `Host` patterns), a range (`web[01-40,42]`, the notation
//! [`fold_hosts`](crate::ranges::fold_hosts) writes), or a group (`@web`); an item prefixed with
//! `!` removes its hosts (`web*,!web13`). Only hosts of the inventory can be named, so the
//! allow/block lists hold. An item that names no host, or an alias that is not a host inside a
//! list, is an error that names the known hosts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::ranges::{expand_ranges, fold_hosts, natural_cmp, split_list};
use crate::ssh::config::{host_matches, SshConfig};
use crate::sync::lock;

pub use crate::ssh::config::HostEntry;

/// Longest host part of a target that is a pattern (aliases are short; this bounds the work
/// of matching a pattern against every alias).
pub const MAX_PATTERN_LEN: usize = 1024;
/// Most items in one pattern list (`a*,b*,!c` is three).
pub const MAX_PATTERN_ITEMS: usize = 64;
/// Targets accepted by one broadcast (after host patterns and groups are expanded), and so the
/// most names one range or pattern may make.
pub const MAX_TARGETS: usize = 1000;
const MAX_NAMES: usize = MAX_TARGETS;
/// How deep groups may refer to groups.
const MAX_GROUP_DEPTH: usize = 8;
/// Most groups, and most patterns in one group.
pub const MAX_GROUPS: usize = 1000;

/// A host group as the operator wrote it (`SCOUT_HOST_GROUPS`): a name and host patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDef {
    /// The name, used as `@name` in targets.
    pub name: String,
    /// The items, as in a target's host part: aliases, globs, ranges, `@group`, `!item`.
    pub patterns: Vec<String>,
}

/// A host group resolved against the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGroup {
    /// The name (without `@`).
    pub name: String,
    /// The items it was defined with.
    pub patterns: Vec<String>,
    /// The hosts it names, in natural order (only hosts of the inventory).
    pub members: Vec<String>,
}

/// Parses group definitions: `name=items; name2=items` (the items as in a target's host part,
/// comma-separated), or one definition per line (`name = items` or `name: items`, `#`
/// comments), as in a groups file.
pub fn parse_groups(text: &str) -> Result<Vec<GroupDef>, String> {
    let mut groups: Vec<GroupDef> = Vec::new();
    for (n, line) in text.split(['\n', ';']).enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some(at) = line.find(['=', ':']) else {
            return Err(format!(
                "definition {} ('{line}') has no '=': write name=patterns, e.g. web=web*,!web13",
                n + 1
            ));
        };
        let name = line[..at].trim().trim_start_matches('@');
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
        {
            return Err(format!(
                "'{}' is not a group name: use letters, digits, '_', '.', '-' (at most 64)",
                line[..at].trim()
            ));
        }
        if groups.iter().any(|g| g.name == name) {
            return Err(format!("group '{name}' is defined twice"));
        }
        let patterns: Vec<String> = split_list(&line[at + 1..])
            .into_iter()
            .map(|p| p.trim().to_string())
            .collect();
        if patterns.iter().any(String::is_empty) {
            return Err(format!(
                "group '{name}' has an empty item: separate patterns with single commas"
            ));
        }
        if patterns.len() > MAX_PATTERN_ITEMS {
            return Err(format!(
                "group '{name}' has {} items; at most {MAX_PATTERN_ITEMS}",
                patterns.len()
            ));
        }
        for p in &patterns {
            check_item(p).map_err(|e| format!("group '{name}': {e}"))?;
        }
        groups.push(GroupDef {
            name: name.to_string(),
            patterns,
        });
        if groups.len() > MAX_GROUPS {
            return Err(format!("more than {MAX_GROUPS} groups"));
        }
    }
    Ok(groups)
}

/// Whether the host part of a target is a pattern rather than one alias.
pub fn is_pattern(host: &str) -> bool {
    host.contains(['*', '?', '!', '@', '[', ','])
}

/// What one item of a pattern list is.
enum Item<'a> {
    Group(&'a str),
    Range(&'a str),
    Glob(&'a str),
    Name(&'a str),
}

fn classify(item: &str) -> Result<Item<'_>, String> {
    if let Some(group) = item.strip_prefix('@') {
        return Ok(Item::Group(group));
    }
    let glob = item.contains(['*', '?']);
    if item.contains(['[', ']']) {
        if glob || item.contains('@') {
            return Err(format!(
                "'{item}' mixes a range with a glob or group; write them as separate items"
            ));
        }
        return Ok(Item::Range(item));
    }
    if item.contains('!') {
        return Err(format!("'{item}': '!' goes only at the start of an item"));
    }
    Ok(if glob {
        Item::Glob(item)
    } else {
        Item::Name(item)
    })
}

/// Checks the syntax of one item (with its `!`).
fn check_item(item: &str) -> Result<(), String> {
    let bare = item.strip_prefix('!').unwrap_or(item);
    if bare.is_empty() {
        return Err(format!("'{item}' is empty after '!'"));
    }
    match classify(bare)? {
        Item::Range(r) => expand_ranges(r, MAX_NAMES).map(drop),
        Item::Group("") => Err("'@' needs a group name".into()),
        _ => Ok(()),
    }
}

/// What a pattern list names.
struct Selection {
    hosts: Vec<String>,
    /// Aliases named outright (or by a range) that are not hosts.
    unknown: Vec<String>,
    /// Positive items that named no host.
    empty: Vec<String>,
}

/// The configured hosts, resolved once at startup.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    hosts: BTreeMap<String, Arc<HostEntry>>,
    warnings: Vec<String>,
    /// The whole config, for names that are not hosts of the inventory (jump hosts).
    config: Option<Arc<SshConfig>>,
    /// The operator's host groups, resolved, by name.
    groups: Vec<HostGroup>,
    /// Remarks about the groups (a member that is not a host, a group that names none).
    group_warnings: Vec<String>,
}

impl Inventory {
    /// The inventory of `config`, filtered: an alias is a host when it matches the allowlist
    /// (if any) and not the blocklist. Both lists are matched like a `Host` line of
    /// ssh_config: `*` and `?` wildcards, and a `!pattern` excludes what it matches
    /// (`web*,!web13`).
    pub fn from_config(config: &SshConfig, allow: &[String], block: &[String]) -> Inventory {
        let hosts = config
            .aliases()
            .into_iter()
            .filter(|a| allow.is_empty() || host_matches(allow, a))
            .filter(|a| block.is_empty() || !host_matches(block, a))
            .map(|a| (a.clone(), Arc::new(config.resolve(&a))))
            .collect();
        Inventory {
            hosts,
            warnings: config.warnings().to_vec(),
            config: Some(Arc::new(config.clone())),
            groups: Vec::new(),
            group_warnings: Vec::new(),
        }
    }

    /// The inventory with the operator's groups resolved against its hosts. A group may name
    /// hosts the allow/block lists hide: they are left out (with a remark in
    /// [`Inventory::group_warnings`]). A group that refers to an unknown group, or groups that
    /// refer to each other in a circle, are a configuration error.
    pub fn with_groups(mut self, defs: &[GroupDef]) -> Result<Inventory, Error> {
        let mut done: HashMap<String, Vec<String>> = HashMap::new();
        let mut warnings = Vec::new();
        for def in defs {
            let mut stack = Vec::new();
            self.resolve_group(&def.name, defs, &mut done, &mut stack, &mut warnings)?;
        }
        self.groups = defs
            .iter()
            .map(|d| HostGroup {
                name: d.name.clone(),
                patterns: d.patterns.clone(),
                members: done.get(&d.name).cloned().unwrap_or_default(),
            })
            .collect();
        self.groups.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        self.group_warnings = warnings;
        Ok(self)
    }

    fn resolve_group(
        &self,
        name: &str,
        defs: &[GroupDef],
        done: &mut HashMap<String, Vec<String>>,
        stack: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<String>, Error> {
        if let Some(members) = done.get(name) {
            return Ok(members.clone());
        }
        let config_error = |m: String| Error::config(format!("SCOUT_HOST_GROUPS: {m}"));
        if stack.iter().any(|s| s == name) {
            stack.push(name.to_string());
            return Err(config_error(format!(
                "groups refer to each other in a circle: {}",
                stack.join(" → ")
            )));
        }
        if stack.len() >= MAX_GROUP_DEPTH {
            return Err(config_error(format!(
                "groups nest more than {MAX_GROUP_DEPTH} deep: {}",
                stack.join(" → ")
            )));
        }
        let Some(def) = defs.iter().find(|d| d.name == name) else {
            let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
            return Err(config_error(format!(
                "group '{}' refers to '@{name}', which is not defined (groups: {})",
                stack.last().map_or("?", String::as_str),
                names.join(", ")
            )));
        };
        stack.push(name.to_string());
        let items: Vec<&str> = def.patterns.iter().map(String::as_str).collect();
        let mut resolve = |g: &str| -> Result<Vec<String>, Error> {
            self.resolve_group(g, defs, done, stack, warnings)
        };
        let selection = self
            .select_items(&items, &mut resolve)
            .map_err(|e| config_error(format!("group '{name}': {e}")))?;
        stack.pop();
        if !selection.unknown.is_empty() {
            warnings.push(format!(
                "group '{name}': {} not a host (not in the ssh_config, or hidden by \
                 SCOUT_ALLOWLIST/SCOUT_BLOCKLIST); left out",
                describe(&selection.unknown)
            ));
        }
        if selection.hosts.is_empty() {
            warnings.push(format!("group '{name}' names no host"));
        } else {
            for item in &selection.empty {
                warnings.push(format!("group '{name}': '{item}' matches no host"));
            }
        }
        done.insert(name.to_string(), selection.hosts.clone());
        Ok(selection.hosts)
    }

    /// The operator's groups, by name.
    pub fn groups(&self) -> &[HostGroup] {
        &self.groups
    }

    /// Remarks about the groups, for the log at startup.
    pub fn group_warnings(&self) -> &[String] {
        &self.group_warnings
    }

    /// The hosts named by the host part of a target: one alias, or a pattern list (see the
    /// module documentation), in natural order, each once. An alias that is not a host is
    /// an error of kind `UnknownHost`; a pattern that names no host, or names an alias that is not a
    /// host, is an error of kind `InvalidArgument` that names the known hosts and groups.
    pub fn select(&self, spec: &str) -> Result<Vec<Arc<HostEntry>>, Error> {
        let spec = spec.trim();
        if let Some(host) = self.hosts.get(spec) {
            return Ok(vec![host.clone()]);
        }
        if !is_pattern(spec) {
            return self.get(spec).map(|h| vec![h]);
        }
        let bad = |m: String| Error::invalid_argument(format!("host pattern '{spec}': {m}"));
        if spec.len() > MAX_PATTERN_LEN {
            return Err(Error::invalid_argument(format!(
                "a host pattern of {} bytes; at most {MAX_PATTERN_LEN}",
                spec.len()
            )));
        }
        let items: Vec<&str> = split_list(spec).into_iter().map(str::trim).collect();
        if items.len() > MAX_PATTERN_ITEMS {
            return Err(bad(format!(
                "{} items; at most {MAX_PATTERN_ITEMS}",
                items.len()
            )));
        }
        for item in &items {
            if item.is_empty() {
                return Err(bad(
                    "an empty item: separate items with single commas".into()
                ));
            }
            check_item(item).map_err(bad)?;
        }
        let mut group = |name: &str| -> Result<Vec<String>, Error> {
            match self.groups.iter().find(|g| g.name == name) {
                Some(g) => Ok(g.members.clone()),
                None => Err(Error::invalid_argument(format!(
                    "'@{name}' is not a group. {}",
                    self.known_groups()
                ))),
            }
        };
        let selection = self.select_items(&items, &mut group)?;
        if !selection.unknown.is_empty() {
            return Err(bad(format!(
                "{} not a host. {}",
                describe(&selection.unknown),
                self.known()
            )));
        }
        if selection.hosts.is_empty() {
            let hint = if items.iter().all(|i| i.starts_with('!')) {
                " (a list of only '!' items names nothing: start it with '*', e.g. *,!web13)"
            } else {
                ""
            };
            return Err(bad(format!("matches no host{hint}. {}", self.known())));
        }
        if let Some(item) = selection.empty.first() {
            return Err(bad(format!("'{item}' matches no host. {}", self.known())));
        }
        Ok(selection
            .hosts
            .iter()
            .filter_map(|a| self.hosts.get(a).cloned())
            .collect())
    }

    /// Evaluates pattern items: the union of the positive ones less the negated ones.
    fn select_items(
        &self,
        items: &[&str],
        group: &mut dyn FnMut(&str) -> Result<Vec<String>, Error>,
    ) -> Result<Selection, Error> {
        let mut plus: Vec<String> = Vec::new();
        let mut minus: HashSet<String> = HashSet::new();
        let mut unknown: Vec<String> = Vec::new();
        let mut empty: Vec<String> = Vec::new();
        for raw in items {
            let (negated, item) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, *raw),
            };
            let named: Vec<String> =
                match classify(item).map_err(|e| Error::invalid_argument(e.clone()))? {
                    Item::Group(g) => group(g)?,
                    Item::Range(r) => {
                        let names = expand_ranges(r, MAX_NAMES).map_err(Error::invalid_argument)?;
                        let (known, missing): (Vec<String>, Vec<String>) =
                            names.into_iter().partition(|n| self.hosts.contains_key(n));
                        if !negated {
                            unknown.extend(missing);
                        }
                        known
                    }
                    Item::Glob(g) => {
                        let pattern = [g.to_string()];
                        self.hosts
                            .keys()
                            .filter(|a| host_matches(&pattern, a))
                            .cloned()
                            .collect()
                    }
                    Item::Name(n) if self.hosts.contains_key(n) => vec![n.to_string()],
                    Item::Name(n) => {
                        if !negated {
                            unknown.push(n.to_string());
                        }
                        Vec::new()
                    }
                };
            if negated {
                minus.extend(named);
            } else {
                if named.is_empty() && !matches!(classify(item), Ok(Item::Name(_))) {
                    empty.push((*raw).to_string());
                }
                plus.extend(named);
            }
        }
        let mut seen = HashSet::new();
        plus.retain(|a| !minus.contains(a) && seen.insert(a.clone()));
        plus.sort_by(|a, b| natural_cmp(a, b));
        Ok(Selection {
            hosts: plus,
            unknown,
            empty,
        })
    }

    /// "Known hosts: …; groups: …", folded and cut to a readable length.
    fn known(&self) -> String {
        let hosts = fold_hosts(self.hosts.keys().map(String::as_str));
        let hosts = if hosts.is_empty() {
            "none (add Host blocks to the ssh_config, or check SCOUT_ALLOWLIST/SCOUT_BLOCKLIST)"
                .to_string()
        } else {
            shorten(&hosts, 1500)
        };
        format!("Known hosts: {hosts}. {}", self.known_groups())
    }

    fn known_groups(&self) -> String {
        if self.groups.is_empty() {
            return "No groups are defined (SCOUT_HOST_GROUPS).".into();
        }
        let names: Vec<String> = self.groups.iter().map(|g| format!("@{}", g.name)).collect();
        format!("Groups: {}.", shorten(&names.join(", "), 500))
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
            .ok_or_else(|| Error::unknown_host(alias.to_string(), self.aliases()))
    }
}

/// `names` for a message: "x is", "x, y are" (folded, cut to a readable length).
fn describe(names: &[String]) -> String {
    let folded = shorten(&fold_hosts(names.iter().map(String::as_str)), 500);
    if names.len() == 1 {
        format!("'{folded}' is")
    } else {
        format!("{folded} are")
    }
}

/// Cuts `text` to about `max` bytes on a character boundary, marking the cut.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
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

/// The host table, then the groups when there are any: what the `hosts` mode, the
/// `hosts://list` resource and `scout-mcp hosts` show.
pub fn format_with_groups(statuses: &[HostStatus], groups: &[HostGroup]) -> String {
    let mut text = format(statuses);
    let listed = format_groups(groups);
    if !listed.is_empty() {
        text.push('\n');
        text.push_str(&listed);
    }
    text
}

/// The groups as text: one line each, `@name = members (n hosts)  [patterns]`, members folded.
pub fn format_groups(groups: &[HostGroup]) -> String {
    if groups.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "{} group(s) (SCOUT_HOST_GROUPS; use as \"@name:/path\" in targets):\n",
        groups.len()
    );
    for g in groups {
        let members = if g.members.is_empty() {
            "(no host)".to_string()
        } else {
            fold_hosts(g.members.iter().map(String::as_str))
        };
        out.push_str(&format!(
            "@{} = {members} ({} host{})  [{}]\n",
            g.name,
            g.members.len(),
            if g.members.len() == 1 { "" } else { "s" },
            g.patterns.join(",")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::config::ParseContext;

    fn inventory(aliases: &str, groups: &str, allow: &[&str], block: &[&str]) -> Inventory {
        let text = format!("Host {aliases}\n  HostName 127.0.0.1\n");
        let config = SshConfig::parse_str(
            &text,
            std::path::Path::new("cfg"),
            &ParseContext::from_env(),
        )
        .unwrap();
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Inventory::from_config(&config, &own(allow), &own(block))
            .with_groups(&parse_groups(groups).unwrap())
            .unwrap()
    }

    fn names(inv: &Inventory, spec: &str) -> Vec<String> {
        match inv.select(spec) {
            Ok(hosts) => hosts.iter().map(|h| h.alias.clone()).collect(),
            Err(e) => panic!("{spec}: {e}"),
        }
    }

    #[test]
    fn patterns_ranges_groups_and_negation() {
        let inv = inventory(
            "web1 web2 web10 web13 db1 db2 cache",
            "web=web*,!web13; all=@web,db*; db=db[1-2]",
            &[],
            &[],
        );
        assert_eq!(names(&inv, "web*"), ["web1", "web2", "web10", "web13"]);
        assert_eq!(names(&inv, "web*,!web13"), ["web1", "web2", "web10"]);
        assert_eq!(names(&inv, "@web"), ["web1", "web2", "web10"]);
        assert_eq!(names(&inv, "@all,!@db"), ["web1", "web2", "web10"]);
        assert_eq!(names(&inv, "web[1-2],cache"), ["cache", "web1", "web2"]);
        assert_eq!(names(&inv, "*,!web*,!db?"), ["cache"]);
        assert_eq!(names(&inv, "w?b1,web1"), ["web1"], "each host once");
        assert_eq!(names(&inv, "cache"), ["cache"]);
        let groups: Vec<(&str, &[String])> = inv
            .groups()
            .iter()
            .map(|g| (g.name.as_str(), g.members.as_slice()))
            .collect();
        assert_eq!(groups[0].0, "all");
        assert_eq!(groups[0].1.len(), 5);
        assert!(format_groups(inv.groups()).contains("@web = web[1-2,10] (3 hosts)"));
    }

    #[test]
    fn what_names_nothing_is_an_error_naming_the_known_hosts() {
        let inv = inventory("web1 web2 db1", "g=web*", &[], &[]);
        for (spec, needle) in [
            ("mail*", "matches no host"),
            ("web*,mail*", "'mail*' matches no host"),
            ("!web1", "start it with '*'"),
            ("web[1-3]", "'web3' is not a host"),
            ("web1,ghost", "'ghost' is not a host"),
            ("@nope", "'@nope' is not a group"),
            ("web*,,db1", "empty item"),
            ("web[1-", "'[' without"),
            ("we!b", "only at the start"),
            ("web[1-2]*", "mixes a range"),
        ] {
            let err = inv.select(spec).unwrap_err().to_string();
            assert!(err.contains(needle), "{spec}: {err}");
        }
        let err = inv.select("mail*").unwrap_err().to_string();
        assert!(err.contains("Known hosts: db1,web[1-2]"), "{err}");
        assert!(err.contains("Groups: @g"), "{err}");
        // A plain unknown alias is the usual unknown-host error.
        assert_eq!(
            inv.select("ghost").map_err(|e| e.kind()),
            Err(crate::ErrorKind::UnknownHost)
        );
        // Expansion is bounded before anything is made.
        let err = inv.select("h[1-100000]").unwrap_err().to_string();
        assert!(err.contains("more than 1000"), "{err}");
        let long = "a*".repeat(MAX_PATTERN_LEN);
        assert!(inv.select(&long).is_err());
        let many = vec!["web1"; MAX_PATTERN_ITEMS + 1].join(",");
        assert!(inv.select(&many).unwrap_err().to_string().contains("items"));
    }

    #[test]
    fn allow_and_block_lists_bound_patterns_and_groups() {
        let inv = inventory(
            "web1 web2 web3 db1",
            "w=web*,db1",
            &["web*", "db*", "!web3"],
            &["db1"],
        );
        assert_eq!(inv.aliases(), ["web1", "web2"]);
        assert_eq!(names(&inv, "*"), ["web1", "web2"]);
        assert_eq!(inv.groups()[0].members, ["web1", "web2"]);
        assert!(
            inv.group_warnings()[0].contains("'db1' is not a host"),
            "{:?}",
            inv.group_warnings()
        );
        assert!(inv.select("web3").is_err() && inv.select("web[2-3]").is_err());
    }

    #[test]
    fn group_definitions_are_checked() {
        for (text, needle) in [
            ("web", "has no '='"),
            ("a b=x", "not a group name"),
            ("a=x;a=y", "defined twice"),
            ("a=x,,y", "empty item"),
            ("a=x[2-1]", "backwards"),
            ("a=!", "empty after"),
        ] {
            let err = parse_groups(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let text = "Host a1 a2\n";
        let config =
            SshConfig::parse_str(text, std::path::Path::new("cfg"), &ParseContext::from_env())
                .unwrap();
        let inv = Inventory::from_config(&config, &[], &[]);
        for (groups, needle) in [("x=@y;y=@x", "circle"), ("x=@nope", "not defined")] {
            let err = inv
                .clone()
                .with_groups(&parse_groups(groups).unwrap())
                .unwrap_err();
            assert!(err.to_string().contains(needle), "{groups}: {err}");
        }
        let file = "# fleet groups\nweb = a1  # the web tier\n\n@db: a2\n";
        let parsed = parse_groups(file).unwrap();
        assert_eq!(
            (parsed[0].name.as_str(), parsed[1].name.as_str()),
            ("web", "db")
        );
        let inv = inv
            .with_groups(&parse_groups("e=nothing*").unwrap())
            .unwrap();
        assert_eq!(inv.group_warnings(), ["group 'e' names no host"]);
    }
}

/// The examples these functions used to carry in their docs (they are not public).
#[cfg(test)]
mod examples {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn example_parse_groups() {
        use crate::ops::hosts::parse_groups;
        let groups = parse_groups("web = web*,!web13; db: db[1-3]").unwrap();
        assert_eq!(groups[0].name, "web");
        assert_eq!(groups[0].patterns, ["web*", "!web13"]);
        assert!(parse_groups("bad name = x").is_err());
    }

    #[test]
    fn example_select() {
        use crate::ops::hosts::{GroupDef, Inventory};
        use crate::ssh::config::{ParseContext, SshConfig};
        let text = "Host web01 web02 web03 db1\n  HostName 127.0.0.1\n";
        let config =
            SshConfig::parse_str(text, std::path::Path::new("cfg"), &ParseContext::from_env())
                .unwrap();
        let groups = [GroupDef {
            name: "db".into(),
            patterns: vec!["db*".into()],
        }];
        let inv = Inventory::from_config(&config, &[], &[])
            .with_groups(&groups)
            .unwrap();
        let names = |spec: &str| -> Vec<String> {
            inv.select(spec)
                .unwrap()
                .iter()
                .map(|h| h.alias.clone())
                .collect()
        };
        assert_eq!(names("web*,!web02"), ["web01", "web03"]);
        assert_eq!(names("web[01-02],@db"), ["db1", "web01", "web02"]);
        assert!(inv
            .select("mail*")
            .unwrap_err()
            .to_string()
            .contains("Known hosts: db1,web[01-03]"));
    }
}
