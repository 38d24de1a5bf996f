//! The connection doctor: `scout-mcp check [HOST…]` and the `hosts` mode's `check`.
//!
//! A check opens a fresh connection (never a pooled one, which would hide connect problems)
//! with the same code as every real connect, records each stage with its time, starts SFTP and
//! runs `true` over it, and for a failure names the one thing to fix. It counts against the
//! session caps like any connection and honours cancellation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::Control;
use crate::error::Error;
use crate::ssh::auth;
use crate::ssh::config::HostEntry;
use crate::ssh::config::StrictHostKeyChecking;
use crate::ssh::exec::{ExecLimits, RemoteLimits};
use crate::ssh::mux::SftpChannel;
use crate::ssh::pool::Pools;
use crate::ssh::session::{self, ConnectOptions};
use crate::ssh::trace::Stage;

/// What a check found for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCheck {
    /// The host alias checked.
    pub alias: String,
    /// The resolved settings, as `ssh -G` names them (`hostname`, `user`, `port`, …).
    pub settings: Vec<(&'static str, String)>,
    /// The stages that ran, in order; the last one failed if the check failed.
    pub stages: Vec<Stage>,
    /// For a failure, the one thing to fix.
    pub fix: Option<String>,
}

impl HostCheck {
    /// Whether every stage passed.
    pub fn ok(&self) -> bool {
        self.fix.is_none()
    }

    /// Time spent in all stages.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|s| s.elapsed).sum()
    }
}

/// Checks `host`: settings, then resolve, TCP (or tunnel), handshake, host key, auth, SFTP and
/// an exec round trip, on a fresh connection that counts against the host's and the global
/// session caps (it waits for room) and ends with the check. `control` stops the waiting.
pub fn check(
    pools: &Pools,
    host: &Arc<HostEntry>,
    chain: Result<Vec<HostEntry>, String>,
    control: &Control,
) -> HostCheck {
    let opts = pools.connect_options();
    let settings = resolved_settings(host, opts, &chain);
    let stages = run_stages(pools, host, control);
    let fix = stages
        .iter()
        .find(|s| s.outcome.is_err())
        .map(|s| fix_for(s, host));
    HostCheck {
        alias: host.alias.clone(),
        settings,
        stages,
        fix,
    }
}

fn run_stages(pools: &Pools, host: &Arc<HostEntry>, control: &Control) -> Vec<Stage> {
    let failed = |name, e: Error| {
        vec![Stage {
            name,
            elapsed: Duration::ZERO,
            outcome: Err(e.to_string()),
            fix: e.fix().map(str::to_string),
        }]
    };
    let (tx, rx) = crossbeam_channel::bounded(1);
    let outside = match pools.open_traced(host, control, tx) {
        Ok(o) => o,
        Err(e) => return failed("connect", e),
    };
    // The connect runs on the connection's thread; its stages come back when it is over.
    let limit = session::connect_limit(host, pools.connect_options()) + Duration::from_secs(5);
    let deadline = Instant::now() + limit;
    let trace = loop {
        if control.is_cancelled() {
            return failed("connect", Error::cancelled());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return failed(
                "connect",
                Error::timeout(host.alias.clone(), "the connect", limit),
            );
        }
        match rx.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(trace) => break trace,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return failed("connect", Error::io("the connection thread ended"))
            }
        }
    };
    let mut stages = trace.into_stages();
    if stages.iter().any(|s| s.outcome.is_err()) {
        return stages;
    }
    let conn = &outside.conn;
    stages.push(timed("sftp", || {
        let info = conn
            .sftp_info(SftpChannel::Shared, control)
            .map_err(|f| f.error)?;
        Ok(format!(
            "subsystem started (SFTP version {}, {} extensions)",
            info.version,
            info.extensions.len()
        ))
    }));
    if stages.iter().any(|s| s.outcome.is_err()) {
        return stages;
    }
    let limits = ExecLimits {
        timeout: session::connect_limit(host, pools.connect_options()),
        max_output: 4096,
        remote: RemoteLimits::NONE,
    };
    stages.push(timed("exec", || {
        let out = conn.exec("true", &limits, control).map_err(|f| f.error)?;
        if out.success() {
            Ok("`true` exited 0".to_string())
        } else {
            Err(Error::remote(
                host.alias.clone(),
                crate::error::ErrorKind::Remote,
                format!(
                    "`true` failed (exit {:?}): {}",
                    out.exit_code,
                    out.stderr_lossy().trim()
                ),
            ))
        }
    }));
    stages
}

fn timed(name: &'static str, f: impl FnOnce() -> Result<String, Error>) -> Stage {
    let start = Instant::now();
    let result = f();
    Stage {
        name,
        elapsed: start.elapsed(),
        fix: result
            .as_ref()
            .err()
            .and_then(|e| e.fix())
            .map(str::to_string),
        outcome: result.map_err(|e| e.to_string()),
    }
}

/// The settings a connect uses, after SCOUT_* overrides, like a short `ssh -G`.
fn resolved_settings(
    host: &HostEntry,
    opts: &ConnectOptions,
    chain: &Result<Vec<HostEntry>, String>,
) -> Vec<(&'static str, String)> {
    let paths = |files: &[PathBuf]| {
        files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let identity_files = auth::identity_files(host, &opts.home);
    let proxy = match (&host.proxy_jump, chain) {
        (None, _) => "none".to_string(),
        (Some(_), Ok(hops)) => hops
            .iter()
            .map(|h| format!("{}@{}:{}", h.user, h.hostname, h.port))
            .collect::<Vec<_>>()
            .join(" -> "),
        (Some(spec), Err(e)) => format!("{spec} (unusable: {e})"),
    };
    let strict = match session::strict_mode(host, opts) {
        StrictHostKeyChecking::Yes => "yes",
        StrictHostKeyChecking::AcceptNew => "accept-new",
        StrictHostKeyChecking::No => "no",
    };
    vec![
        ("hostname", host.hostname.clone()),
        ("user", host.user.clone()),
        ("port", host.port.to_string()),
        (
            "identityfile",
            if identity_files.is_empty() {
                "none".into()
            } else {
                paths(&identity_files)
            },
        ),
        ("identitiesonly", yes_no(host.identities_only).into()),
        (
            "identityagent",
            auth::agent_socket(host)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none".into()),
        ),
        ("proxyjump", proxy),
        (
            "connecttimeout",
            format!("{} s", session::connect_limit(host, opts).as_secs()),
        ),
        (
            "serveraliveinterval",
            format!("{} s", session::keepalive_interval(host, opts).as_secs()),
        ),
        ("stricthostkeychecking", strict.into()),
        (
            "userknownhostsfile",
            paths(&session::known_hosts_files(host, opts)),
        ),
    ]
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The one thing to fix after `stage` failed. The errors already end with what to do; where
/// they carry a command (`ssh-keygen -R …`, `ssh-add …`), that command is it.
fn fix_for(stage: &Stage, host: &HostEntry) -> String {
    if let Some(command) = &stage.fix {
        return format!("run `{command}`");
    }
    let error = stage.outcome.as_ref().err().map_or("", String::as_str);
    match stage.name {
        "resolve" => format!(
            "make '{}' resolvable, or set `HostName` of {} in ssh_config to an address",
            host.hostname, host.alias
        ),
        "tcp" => format!(
            "start sshd on {}:{} or fix `HostName`/`Port` of {} in ssh_config (or open the firewall between)",
            host.hostname, host.port, host.alias
        ),
        "tunnel" => format!("fix the jump host of {}: {error}", host.alias),
        "handshake" => "the server offers no algorithm this build supports: check its sshd_config \
                        (KexAlgorithms, HostKeyAlgorithms, Ciphers)"
            .into(),
        "auth" => format!(
            "authorize your public key for {} on {} (e.g. `ssh-copy-id {}`), or load the right key \
             into ssh-agent",
            host.user, host.alias, host.alias
        ),
        "sftp" => "enable the SFTP subsystem in the host's sshd_config (`Subsystem sftp \
                   internal-sftp`)"
            .into(),
        "exec" => format!(
            "the account {} cannot run commands: check its login shell and any ForceCommand",
            host.user
        ),
        _ => error.to_string(),
    }
}

/// The report of one or more checks, as text.
pub fn format(checks: &[HostCheck]) -> String {
    let mut out = String::new();
    for c in checks {
        let verdict = if c.ok() {
            "OK".to_string()
        } else {
            let failed = c
                .stages
                .iter()
                .find(|s| s.outcome.is_err())
                .map_or("?", |s| s.name);
            format!("FAILED at {failed}")
        };
        out.push_str(&format!(
            "{}: {verdict} ({:.1} ms)\n",
            c.alias,
            c.total().as_secs_f64() * 1000.0
        ));
        for (key, value) in &c.settings {
            out.push_str(&format!("  {key:<22}{value}\n"));
        }
        for s in &c.stages {
            let (mark, text) = match &s.outcome {
                Ok(detail) => ("ok  ", detail.as_str()),
                Err(e) => ("FAIL", e.as_str()),
            };
            out.push_str(&format!(
                "  {mark} {:<10}{:>9.1} ms  {text}\n",
                s.name,
                s.elapsed.as_secs_f64() * 1000.0
            ));
        }
        if let Some(fix) = &c.fix {
            out.push_str(&format!("  fix: {fix}\n"));
        }
        out.push('\n');
    }
    let ok = checks.iter().filter(|c| c.ok()).count();
    out.push_str(&format!("{ok}/{} host(s) OK\n", checks.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(name: &'static str, message: &str, fix: Option<&str>) -> Stage {
        Stage {
            name,
            elapsed: Duration::ZERO,
            outcome: Err(message.to_string()),
            fix: fix.map(str::to_string),
        }
    }

    #[test]
    fn the_fix_prefers_the_command_the_error_carries() {
        let host = HostEntry {
            alias: "web".into(),
            hostname: "10.0.0.5".into(),
            user: "ops".into(),
            port: 2222,
            ..HostEntry::default()
        };
        let changed = failed(
            "host key",
            "HOST KEY CHANGED …",
            Some("ssh-keygen -R '[10.0.0.5]:2222' -f kh"),
        );
        assert_eq!(
            fix_for(&changed, &host),
            "run `ssh-keygen -R '[10.0.0.5]:2222' -f kh`"
        );
        let tcp = fix_for(&failed("tcp", "connection refused", None), &host);
        assert!(
            tcp.contains("10.0.0.5:2222") && tcp.contains("web"),
            "{tcp}"
        );
        // Without a command, the stage's own advice: a backticked word in the text is no command.
        let auth = fix_for(&failed("auth", "no `IdentityFile` configured", None), &host);
        assert!(auth.contains("ssh-copy-id web"), "{auth}");
    }
}
