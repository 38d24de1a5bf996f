//! PLACEHOLDER (replaced by the real module).
use std::path::{Path, PathBuf};
pub struct ParseContext { pub home: PathBuf, pub local_user: String }
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntry {
    pub alias: String, pub hostname: String, pub user: String, pub port: u16,
    pub identity_files: Vec<PathBuf>, pub identities_only: bool, pub identity_agent: Option<String>,
    pub proxy_jump: Option<String>, pub connect_timeout: Option<u64>, pub server_alive_interval: Option<u64>,
    pub server_alive_count_max: Option<u32>, pub strict_host_key_checking: Option<String>,
    pub user_known_hosts_files: Vec<PathBuf>,
}
#[derive(Debug)] pub struct ConfigError { pub path: PathBuf, pub line: usize, pub message: String }
impl std::fmt::Display for ConfigError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}:{}: {}", self.path.display(), self.line, self.message) } }
impl std::error::Error for ConfigError {}
pub struct SshConfig { blocks: Vec<(Vec<String>, Vec<(String, String)>)>, user: String, warnings: Vec<String> }
impl SshConfig {
    pub fn empty() -> SshConfig { SshConfig { blocks: vec![], user: String::new(), warnings: vec![] } }
    pub fn load(path: &Path, ctx: &ParseContext) -> Result<SshConfig, ConfigError> {
        match std::fs::read_to_string(path) { Ok(t) => Self::parse_str(&t, path, ctx), Err(_) => Ok(Self { user: ctx.local_user.clone(), ..Self::empty() }) }
    }
    pub fn parse_str(text: &str, _origin: &Path, ctx: &ParseContext) -> Result<SshConfig, ConfigError> {
        let mut blocks: Vec<(Vec<String>, Vec<(String, String)>)> = vec![(vec!["*".into()], vec![])];
        for line in text.lines() {
            let line = line.trim(); if line.is_empty() || line.starts_with('#') { continue; }
            let (k, v) = line.split_once(|c: char| c == ' ' || c == '=').unwrap_or((line, ""));
            let k = k.to_ascii_lowercase(); let v = v.trim().trim_start_matches('=').trim().to_string();
            if k == "host" { blocks.push((v.split_whitespace().map(String::from).collect(), vec![])); }
            else if let Some(b) = blocks.last_mut() { b.1.push((k, v)); }
        }
        Ok(SshConfig { blocks, user: ctx.local_user.clone(), warnings: vec![] })
    }
    pub fn aliases(&self) -> Vec<String> { let mut v: Vec<String> = self.blocks.iter().flat_map(|b| b.0.iter()).filter(|p| !p.contains(['*','?','!'])).cloned().collect(); v.sort(); v.dedup(); v }
    pub fn resolve(&self, alias: &str) -> HostEntry {
        let mut e = HostEntry { alias: alias.into(), hostname: alias.into(), user: self.user.clone(), port: 22, identity_files: vec![], identities_only: false, identity_agent: None, proxy_jump: None, connect_timeout: None, server_alive_interval: None, server_alive_count_max: None, strict_host_key_checking: None, user_known_hosts_files: vec![] };
        let mut seen = std::collections::HashSet::new();
        for (pats, kvs) in &self.blocks {
            if !pats.iter().any(|p| p == "*" || p == alias) { continue; }
            for (k, v) in kvs {
                if k == "identityfile" { e.identity_files.push(PathBuf::from(v)); continue; }
                if !seen.insert(k.clone()) { continue; }
                match k.as_str() { "hostname" => e.hostname = v.clone(), "user" => e.user = v.clone(), "port" => e.port = v.parse().unwrap_or(22), "userknownhostsfile" => e.user_known_hosts_files = vec![PathBuf::from(v)], "identitiesonly" => e.identities_only = v == "yes", _ => {} }
            }
        }
        e
    }
    pub fn warnings(&self) -> &[String] { &self.warnings }
}
