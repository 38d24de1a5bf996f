//! The throwaway fleet behind `scripts/with-fleet`: starts local sshd servers (the test fixture
//! of `testkit/`), runs the given command with the environment that points scout at them,
//! and stops them again.
//!
//! ```sh
//! scripts/with-fleet cargo run --example read_all_hosts
//! # or by hand:
//! cargo run --example fleet -- cargo run --example broadcast -- "df -h /"
//! ```
//!
//! The hosts are `web`, `db` and `cache` (override with `SCOUT_FLEET_HOSTS=a,b`), all on
//! 127.0.0.1, with their own host keys, a fresh client key, ssh_config and known_hosts in a
//! temporary directory. The command gets `SCOUT_SSH_CONFIG`, `SCOUT_KNOWN_HOSTS`, an empty
//! `SSH_AUTH_SOCK` (the fleet's key only) and `SCOUT_FLEET_ROOT`, a directory both sides see,
//! holding `hello.txt`. The fleet's own messages go to stderr.

use scout_testkit as common;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: cargo run --example fleet -- COMMAND [ARG...]");
        return ExitCode::from(2);
    };
    let hosts = std::env::var("SCOUT_FLEET_HOSTS").unwrap_or_else(|_| "web,db,cache".into());
    let aliases: Vec<&str> = hosts
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    eprintln!(
        "fleet: starting sshd for {} on 127.0.0.1",
        aliases.join(", ")
    );
    let fleet = common::Fleet::start(&aliases);
    fleet.write_remote_file("hello.txt", b"hello from the throwaway fleet\n");

    let mut command = Command::new(program);
    command.args(rest);
    for (key, value) in fleet.env() {
        // The fixture asks for debug logs (for the MCP binary's stderr); leave that to the user.
        if key != "SCOUT_LOG_LEVEL" {
            command.env(key, value);
        }
    }
    command.env("SCOUT_FLEET_ROOT", &fleet.remote_root);
    let status = command.status();
    drop(fleet); // stops every sshd and removes the temporary directory
    eprintln!("fleet: stopped");
    match status {
        Ok(s) => ExitCode::from(s.code().map_or(1, |c| c.clamp(0, 255) as u8)),
        Err(e) => {
            eprintln!("fleet: cannot run {program}: {e}");
            ExitCode::from(127)
        }
    }
}
