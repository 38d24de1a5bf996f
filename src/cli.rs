//! The command line (docs/BEHAVIOUR.md §7): serve MCP on stdio or streamable HTTP
//! (`--transport http`), or `hosts`, `check`, `call`, `--help`, `--version`.
//!
//! Every flag mirrors an environment variable (see [`crate::settings::VARS`]); a flag wins over
//! its variable. Exit codes: 0 ok, 1 a `call` whose result is an error (or a failed `check`),
//! 2 usage or configuration error (message on stderr).

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::sync::Arc;

use crate::control::Control;
use crate::mcp::http::{HttpConfig, Transport};
use crate::mcp::server;
use crate::ops::hosts;
use crate::scout::Scout;
use crate::settings::{parse_bool, Settings, VARS};
use crate::tool;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve MCP over stdio (the default).
    Serve,
    /// Print the hosts and whether they answer.
    Hosts,
    /// `check [HOST…]`: connect to each host stage by stage and report.
    Check(Vec<String>),
    /// One tool call: `call TARGET [QUERY]`.
    Call {
        /// `host:/path` or `hosts`.
        target: String,
        /// A command to run in the target's directory.
        query: Option<String>,
    },
    /// `--help`.
    Help,
    /// `--version`.
    Version,
}

/// Parsed command line: the command and the flag values keyed by environment variable name.
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    /// What to do.
    pub command: Command,
    /// Flag values, keyed by the environment variable each flag mirrors.
    pub overrides: HashMap<String, String>,
}

/// Parses arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let mut overrides = HashMap::new();
    let mut positional = Vec::new();
    let mut iter = args.iter().peekable();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                return Ok(Invocation {
                    command: Command::Help,
                    overrides,
                })
            }
            "-V" | "--version" => {
                return Ok(Invocation {
                    command: Command::Version,
                    overrides,
                })
            }
            "--" => positional.extend(iter.by_ref().cloned()),
            flag if flag.starts_with("--") => {
                let (name, inline) = match flag.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (flag, None),
                };
                let var = VARS
                    .iter()
                    .find(|v| v.flag == name)
                    .ok_or_else(|| format!("unknown option '{name}' (see --help)"))?;
                let is_bool = matches!(var.default, "true" | "false");
                let value = match inline {
                    Some(v) => v,
                    // A boolean flag takes the next word only if it is a boolean.
                    None if is_bool => match iter.next_if(|next| parse_bool(next).is_some()) {
                        Some(v) => v.clone(),
                        None => "true".to_string(),
                    },
                    None => iter
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("option '{name}' needs a value"))?,
                };
                overrides.insert(var.env.to_string(), value);
            }
            other => positional.push(other.to_string()),
        }
    }
    let command = match positional.first().map(String::as_str) {
        None | Some("serve") => Command::Serve,
        Some("hosts") if positional.len() == 1 => Command::Hosts,
        Some("check") => Command::Check(positional[1..].to_vec()),
        Some("call") if (2..=3).contains(&positional.len()) => Command::Call {
            target: positional[1].clone(),
            query: positional.get(2).cloned(),
        },
        Some("call") => return Err("usage: scout-mcp call TARGET [QUERY]".into()),
        Some(other) => return Err(format!("unknown command '{other}' (see --help)")),
    };
    if matches!(command, Command::Serve) && positional.len() > 1 {
        return Err("serve takes no arguments".into());
    }
    Ok(Invocation { command, overrides })
}

/// Runs the program; returns the exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let invocation = match parse(&args) {
        Ok(i) => i,
        Err(msg) => return fail(&msg),
    };
    match invocation.command {
        Command::Help => return print(&help()),
        Command::Version => return print(&format!("scout-mcp {}\n", env!("CARGO_PKG_VERSION"))),
        _ => {}
    }
    let settings = match Settings::from_lookup(|k| std::env::var(k).ok(), &invocation.overrides) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    // The transport is checked before anything starts: a server that would listen on the
    // network without keys never does.
    let transport = match invocation.command {
        Command::Serve => {
            match HttpConfig::from_lookup(|k| std::env::var(k).ok(), &invocation.overrides) {
                Ok(c) => Some(c),
                Err(e) => return fail(&e.to_string()),
            }
        }
        _ => None,
    };
    init_logging(&settings.log_level);
    // Each connection holds descriptors: a fleet needs more than a soft limit of 1024.
    if let Some((before, after)) = crate::fdlimit::raise() {
        if after > before {
            log::debug!("open-file limit raised from {before} to {after}");
        }
    }
    let scout = match Scout::new(settings) {
        Ok(s) => Arc::new(s),
        Err(e) => return fail(&e.to_string()),
    };
    match invocation.command {
        Command::Hosts => print(&format!(
            "{}{}",
            hosts::format_with_groups(&scout.hosts(), scout.groups()),
            group_warnings(&scout)
        )),
        Command::Check(aliases) => check(&scout, &aliases),
        Command::Call { target, query } => call(&scout, target, query),
        _ => serve(scout, transport),
    }
}

fn serve(scout: Arc<Scout>, transport: Option<HttpConfig>) -> i32 {
    // The cipher check initialises OpenSSL (about 2 ms): off the path to the first answer, and
    // waited for before exiting so that its log line is never lost.
    let ciphers = match std::thread::Builder::new()
        .name("scout-ciphers".into())
        .spawn(log_ciphers)
    {
        Ok(check) => Some(check),
        Err(_) => {
            log_ciphers();
            None
        }
    };
    let (signal_tx, signal_rx) = crossbeam_channel::bounded::<()>(1);
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = signal_tx.try_send(());
    }) {
        log::warn!("cannot install the signal handler: {e}");
    }
    let code = match transport {
        Some(http) if http.transport == Transport::Http => {
            match crate::mcp::http::serve(scout, http, signal_rx) {
                Ok(()) => 0,
                Err(e) => fail(&e.to_string()),
            }
        }
        _ => match server::serve(scout, std::io::stdin(), std::io::stdout(), signal_rx) {
            Ok(()) => 0,
            Err(e) => fail(&format!("cannot start the server: {e}")),
        },
    };
    if let Some(check) = ciphers {
        let _ = check.join();
    }
    code
}

/// Logs which ciphers libssh2 uses: scout's table (`info`), libssh2's own in a build without
/// it (`info`, with the build's reason), or a table built in but not in effect (`error`).
fn log_ciphers() {
    match crate::ssh::ciphers::status() {
        Ok(ciphers) => log::info!("ciphers: {ciphers}"),
        Err(problem) => log::error!("ciphers: {problem}"),
    }
}

fn call(scout: &Scout, target: String, query: Option<String>) -> i32 {
    let mut args = serde_json::json!({ "target": target });
    if let Some(q) = query {
        args["query"] = serde_json::Value::String(q);
    }
    let out = tool::call(scout, Some(&args), &Control::new());
    let mut text = out.text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if out.is_error {
        let _ = std::io::stderr().write_all(text.as_bytes());
        1
    } else {
        print(&text)
    }
}

/// The host groups (SCOUT_HOST_GROUPS) and what is odd about them, after a blank line; empty
/// when there are none.
fn group_warnings(scout: &Scout) -> String {
    scout
        .group_warnings()
        .iter()
        .map(|w| format!("warning: {w}\n"))
        .collect()
}

/// Exit 0 when every host passed, 1 when one failed, 2 for an unknown host.
fn check(scout: &Scout, aliases: &[String]) -> i32 {
    match scout.check(aliases, &crate::control::Control::new()) {
        Err(e) => fail(&e.to_string()),
        Ok(checks) if checks.is_empty() => fail("no hosts to check: the ssh_config has none"),
        Ok(checks) => {
            let (Ok(ciphers) | Err(ciphers)) = crate::ssh::ciphers::status();
            let report = crate::ops::check::format(&checks);
            let groups = match hosts::format_groups(scout.groups()) {
                listed if listed.is_empty() => String::new(),
                listed => format!("\n{listed}"),
            } + &group_warnings(scout);
            let code = print(&format!("ciphers: {ciphers}\n\n{report}{groups}"));
            if checks.iter().all(|c| c.ok()) {
                code
            } else {
                1
            }
        }
    }
}

/// Logs go to stderr: level from SCOUT_LOG_LEVEL, else RUST_LOG, else `warn`.
fn init_logging(level: &str) {
    let explicit = std::env::var("SCOUT_LOG_LEVEL").is_ok();
    let filters = match std::env::var("RUST_LOG") {
        Ok(rust_log) if !explicit && !rust_log.is_empty() => rust_log,
        _ => level.to_string(),
    };
    let _ = env_logger::Builder::new()
        .parse_filters(&filters)
        .target(env_logger::Target::Stderr)
        .try_init();
}

fn print(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn fail(message: &str) -> i32 {
    let _ = writeln!(std::io::stderr(), "scout-mcp: {message}");
    2
}

/// `--help` text, generated from the settings table.
pub fn help() -> String {
    let mut text = format!(
        "scout-mcp {} — an MCP server for SSH hosts\n\n\
         USAGE:\n  scout-mcp [OPTIONS]                   serve MCP over stdio (what MCP clients run)\n  \
         scout-mcp --transport http [OPTIONS]  serve MCP over streamable HTTP at /mcp (shared, remote)\n  \
         scout-mcp hosts [OPTIONS]             print the configured hosts and whether they answer\n  \
         scout-mcp check [HOST...]             connect to each host (default: all) stage by stage and say what to fix\n  \
         scout-mcp call TARGET [QUERY]         one tool call, e.g. `scout-mcp call web1:/etc/hostname`\n  \
         scout-mcp --help | --version\n\nOPTIONS (each mirrors an environment variable; the flag wins):\n",
        env!("CARGO_PKG_VERSION")
    );
    for v in VARS {
        let default = if v.default.is_empty() {
            String::new()
        } else {
            format!(" [default: {}]", v.default)
        };
        let legacy = v
            .legacy
            .map(|l| format!(" (legacy: {l})"))
            .unwrap_or_default();
        text.push_str(&format!(
            "  {:<30} {}{legacy}\n  {:<30}   {}{default}\n",
            v.flag, v.env, "", v.help
        ));
    }
    text.push_str(
        "\nExit codes: 0 ok, 1 the call (or a check) failed, 2 usage or configuration error.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_commands_and_flags() {
        let inv = parse(&args(&[
            "--workers",
            "3",
            "--read-only",
            "call",
            "h:/",
            "ls",
        ]))
        .unwrap();
        assert_eq!(
            inv.command,
            Command::Call {
                target: "h:/".into(),
                query: Some("ls".into())
            }
        );
        assert_eq!(
            inv.overrides.get("SCOUT_WORKERS").map(String::as_str),
            Some("3")
        );
        assert_eq!(
            inv.overrides.get("SCOUT_READ_ONLY").map(String::as_str),
            Some("true")
        );
        let inv = parse(&args(&["--command-timeout=5"])).unwrap();
        assert_eq!(inv.command, Command::Serve);
        assert_eq!(
            inv.overrides
                .get("SCOUT_COMMAND_TIMEOUT")
                .map(String::as_str),
            Some("5")
        );
        assert_eq!(parse(&args(&["hosts"])).unwrap().command, Command::Hosts);
        assert_eq!(
            parse(&args(&["check", "web", "db"])).unwrap().command,
            Command::Check(vec!["web".into(), "db".into()])
        );
        assert_eq!(
            parse(&args(&["check"])).unwrap().command,
            Command::Check(vec![])
        );
        assert_eq!(parse(&args(&["-V"])).unwrap().command, Command::Version);
    }

    #[test]
    fn rejects_unknown_things_clearly() {
        assert!(parse(&args(&["--bogus"]))
            .unwrap_err()
            .contains("unknown option '--bogus'"));
        assert!(parse(&args(&["frobnicate"]))
            .unwrap_err()
            .contains("unknown command"));
        assert!(parse(&args(&["--workers"]))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse(&args(&["call"])).unwrap_err().contains("usage"));
    }

    #[test]
    fn help_lists_every_variable() {
        let h = help();
        for v in VARS {
            assert!(h.contains(v.env) && h.contains(v.flag), "{}", v.env);
        }
    }
}
