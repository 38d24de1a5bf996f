//! Runs one command on several hosts at once with `Scout::broadcast` and prints, per host, the
//! exit code, the output and any error.
//!
//! `cargo run --example broadcast -- [QUERY [HOST...]]`: the query defaults to `df -h /`, the
//! hosts to every host of the ssh_config. The query obeys `SCOUT_COMMAND_POLICY` (by default
//! one allowlisted command such as `df`, `ls`, `grep`, `cat`). Against throwaway local hosts:
//! `scripts/with-fleet cargo run --example broadcast -- "ls /"`.

use std::process::ExitCode;

use scout_mcp::{Control, Outcome, Scout};

fn main() -> ExitCode {
    match broadcast() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE, // some host failed: its block says why
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Whether every host succeeded; `Err` when the broadcast could not start at all (bad
/// configuration, a query the command policy refuses).
fn broadcast() -> Result<bool, scout_mcp::Error> {
    let mut args = std::env::args().skip(1);
    let query = args.next().unwrap_or_else(|| "df -h /".into());
    let scout = Scout::from_env()?;
    let mut hosts: Vec<String> = args.collect();
    if hosts.is_empty() {
        hosts = scout.aliases();
    }
    // A broadcast target is host:directory; the command runs in that directory.
    let targets: Vec<String> = hosts.iter().map(|h| format!("{h}:/")).collect();
    let items = scout.broadcast(&targets, Some(&query), &Control::new())?;
    let ok = items.iter().filter(|item| item.succeeded()).count();
    for item in &items {
        println!("═══ {} ═══", item.target);
        match &item.result {
            Ok(Outcome::Command(out)) => {
                println!("exit code: {:?}", out.exit_code);
                print!("{}", out.stdout_lossy());
                if !out.stderr.is_empty() {
                    println!("[stderr]\n{}", out.stderr_lossy().trim_end());
                }
                if out.timed_out {
                    println!("[timed out: partial output]");
                }
            }
            Ok(Outcome::View(view)) => println!("{view:?}"), // only without a query
            Err(e) => println!("error: {e}"),
        }
    }
    println!("─── {ok}/{} succeeded ───", items.len());
    Ok(ok == items.len())
}
