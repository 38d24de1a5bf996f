//! Plain `std::thread` workers sharing one `Scout`: each clone uses the same session pools, so
//! many threads doing many operations need only a few SSH sessions per host.
//!
//! `cargo run --example threads -- [THREADS [PATH]]` (defaults: 4 threads, `/etc/hostname`).
//! Every thread reads PATH and runs `ls /` on each host in turn, a few rounds. Against
//! throwaway local hosts: `scripts/with-fleet cargo run --example threads`.

use std::process::ExitCode;
use std::time::Instant;

use scout_mcp::{Control, RemotePath, Scout};

const ROUNDS: usize = 5;

fn main() -> ExitCode {
    match threads() {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the workers and prints what they did; returns how many operations failed.
fn threads() -> Result<usize, scout_mcp::Error> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(4);
    let path = args.next().unwrap_or_else(|| "/etc/hostname".into());
    let scout = Scout::from_env()?;
    let hosts = scout.aliases();
    let started = Instant::now();

    let workers: Vec<_> = (0..threads)
        .map(|_| {
            // A clone is an Arc bump: same pools, same settings.
            let (scout, hosts, path) = (scout.clone(), hosts.clone(), path.clone());
            std::thread::spawn(move || work(&scout, &hosts, &path))
        })
        .collect();
    let mut failures = 0;
    for (t, worker) in workers.into_iter().enumerate() {
        match worker.join() {
            Ok((ok, errors)) => {
                println!("thread {t}: {ok} operations ok, {} failed", errors.len());
                for e in &errors {
                    println!("  {e}");
                }
                failures += errors.len();
            }
            Err(_) => {
                println!("thread {t}: panicked");
                failures += 1;
            }
        }
    }

    let operations = threads * ROUNDS * hosts.len() * 2;
    println!(
        "{operations} operations ({failures} failed) from {threads} threads in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    for host in &hosts {
        if let Some(state) = scout.pool_state(host) {
            println!("{host}: {} sessions ({} idle)", state.sessions, state.idle);
        }
    }
    println!(
        "live sessions: {} (at most {} per host)",
        scout.live_sessions(),
        scout.settings().max_sessions_per_host()
    );
    Ok(failures)
}

/// One worker: ROUNDS passes over every host, a read and a command each. Returns how many
/// operations succeeded and the errors of the others.
fn work(scout: &Scout, hosts: &[String], path: &str) -> (usize, Vec<String>) {
    let (mut ok, mut errors) = (0, Vec::new());
    for round in 0..ROUNDS {
        for host in hosts {
            match RemotePath::new(host, path).and_then(|at| scout.read(&at, &Control::new())) {
                Ok(_) => ok += 1,
                Err(e) => errors.push(format!("round {round} read on {host}: {e}")),
            }
            match RemotePath::new(host, "/").and_then(|at| scout.run(&at, "ls /", &Control::new()))
            {
                Ok(out) if out.success() => ok += 1,
                Ok(out) => errors.push(format!(
                    "round {round} run on {host}: exit {:?}",
                    out.exit_code
                )),
                Err(e) => errors.push(format!("round {round} run on {host}: {e}")),
            }
        }
    }
    (ok, errors)
}
