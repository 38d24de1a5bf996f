//! The library API driven from plain `std::thread`s against real sshd (issue 7): every thread
//! gets its own correct results, the hosts' pools stay within `max_sessions_per_host` under more
//! demand than that, and dropping the last `Scout` clone disconnects every session and leaves
//! none of scout's threads behind.

use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::Fleet;
use scout_mcp::{Control, Outcome, PolicyMode, Scout, Settings, View};

/// sshd's log line for every authenticated connection, i.e. every session scout opened.
const ACCEPTED: &str = "Accepted publickey";
/// The disconnect reason scout sends when it closes a session politely (sshd logs it).
const CLOSED: &str = "scout-mcp closing";
const PER_HOST: u32 = 2;
const THREADS: usize = 6;
const ROUNDS: usize = 4;

/// A Scout for `fleet`, built from the fleet's environment (not the process's) plus code:
/// the shell policy, so a command can show which sshd answered it.
fn scout_for(fleet: &Fleet) -> Scout {
    let env: HashMap<String, String> = fleet.env().into_iter().collect();
    let settings = Settings::from_lookup(|k| env.get(k).cloned(), &HashMap::new())
        .expect("the fleet's environment is valid")
        .into_builder()
        .command_policy(PolicyMode::Shell)
        .max_sessions_per_host(PER_HOST)
        .build()
        .expect("settings within bounds");
    Scout::new(settings).expect("the fleet's ssh_config loads")
}

/// Names of this process's threads that belong to scout (reaper, fan-out, r2d2 connectors).
fn scout_threads() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("scout-"))
        .collect()
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// The server port in `$SSH_CONNECTION` ("client_ip client_port server_ip server_port").
fn server_port(ssh_connection: &str) -> Option<u16> {
    ssh_connection.split_whitespace().nth(3)?.parse().ok()
}

/// What one worker thread checks, round after round, on every host: a read of its own file,
/// a command that reports which sshd ran it and cats the same file, and a broadcast read of
/// its file on all hosts. Returns the number of operations that gave the right answer, or the
/// first wrong one.
fn worker(
    scout: &Scout,
    me: usize,
    hosts: &[(String, u16)],
    root: &str,
    start: &Barrier,
) -> Result<usize, String> {
    let file = format!("{root}/thread-{me}.txt");
    let expected = format!("written for thread {me}\n");
    let mut ok = 0;
    for round in 0..ROUNDS {
        for (host, port) in hosts {
            // In the first round every thread asks the same host at the same moment and holds
            // its session a while: more demand than the cap, on purpose.
            let hold = if round == 0 { "sleep 0.3; " } else { "" };
            if round == 0 {
                start.wait();
            }
            let query = format!("{hold}echo $SSH_CONNECTION; cat thread-{me}.txt");
            let out = scout
                .run(&crate::at(host, root), &query, &Control::new())
                .map_err(|e| format!("thread {me} run on {host}: {e}"))?;
            let text = out.stdout_lossy();
            let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
            if out.exit_code != Some(0) || server_port(first) != Some(*port) || rest != expected {
                return Err(format!(
                    "thread {me} on {host} (port {port}): {text:?}, {:?}",
                    out.exit_code
                ));
            }
            ok += 1;
            let read = scout
                .read(&crate::at(host, &file), &Control::new())
                .map_err(|e| format!("thread {me} read on {host}: {e}"))?;
            if read.text() != Some(expected.as_str()) {
                return Err(format!("thread {me} read on {host}: {:?}", read.text()));
            }
            ok += 1;
        }
        let targets: Vec<String> = hosts.iter().map(|(h, _)| format!("{h}:{file}")).collect();
        let items = scout
            .broadcast(&targets, None, &Control::new())
            .map_err(|e| format!("thread {me} broadcast: {e}"))?;
        for item in items {
            match &item.result {
                Ok(Outcome::View(View::File(f))) if f.text() == Some(expected.as_str()) => ok += 1,
                other => return Err(format!("thread {me} broadcast {}: {other:?}", item.target)),
            }
        }
    }
    Ok(ok)
}

#[test]
fn threads_sharing_one_scout_get_their_own_results_within_the_per_host_cap() {
    let _turn = crate::serial();
    let fleet = Fleet::start(&["h1", "h2"]);
    let root = fleet.remote_root.display().to_string();
    for me in 0..THREADS {
        fleet.write_remote_file(
            &format!("thread-{me}.txt"),
            format!("written for thread {me}\n").as_bytes(),
        );
    }
    let hosts: Vec<(String, u16)> = fleet
        .aliases()
        .into_iter()
        .map(|a| {
            let port = fleet.port(&a);
            (a, port)
        })
        .collect();
    let scout = scout_for(&fleet);

    // A watcher samples the pools while the workers run.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (scout, done, hosts) = (scout.clone(), done.clone(), hosts.clone());
        thread::spawn(move || {
            let mut peak: HashMap<String, u32> = HashMap::new();
            let mut peak_live = 0;
            while !done.load(Ordering::Acquire) {
                for (host, _) in &hosts {
                    let sessions = scout.pool_state(host).map_or(0, |s| s.sessions);
                    let p = peak.entry(host.clone()).or_default();
                    *p = (*p).max(sessions);
                }
                peak_live = peak_live.max(scout.live_sessions());
                thread::sleep(Duration::from_millis(1));
            }
            (peak, peak_live)
        })
    };

    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|me| {
            let (scout, hosts, root, start) =
                (scout.clone(), hosts.clone(), root.clone(), start.clone());
            thread::spawn(move || worker(&scout, me, &hosts, &root, &start))
        })
        .collect();
    let per_thread = ROUNDS * hosts.len() * 3;
    for (me, w) in workers.into_iter().enumerate() {
        match w.join() {
            Ok(Ok(n)) => assert_eq!(n, per_thread, "thread {me}"),
            Ok(Err(wrong)) => panic!("{wrong}"),
            Err(_) => panic!("thread {me} panicked"),
        }
    }
    done.store(true, Ordering::Release);
    let (peak, peak_live) = watcher.join().expect("watcher");

    let mut opened_total = 0;
    for (host, _) in &hosts {
        let seen = peak.get(host).copied().unwrap_or(0);
        assert!(
            (1..=PER_HOST).contains(&seen),
            "{host}: {seen} sessions at once"
        );
        // Every session ever opened shows up in sshd's log: six threads asked at once, yet
        // at most the cap was opened (their channels share connections), and all of them
        // were reused afterwards.
        let opened = fleet
            .hosts
            .iter()
            .find(|(a, _)| a == host)
            .unwrap()
            .1
            .log_count(ACCEPTED);
        assert!(
            (1..=PER_HOST as usize).contains(&opened),
            "{host}: {opened} sessions opened"
        );
        opened_total += opened;
    }
    assert!(
        peak_live <= 2 * PER_HOST as usize,
        "{peak_live} live at once"
    );
    assert_eq!(scout.live_sessions(), opened_total);

    // Only `scout` is left (workers and watcher dropped their clones). Nothing was closed so far;
    // dropping it closes every session, politely, and stops scout's threads.
    for (_, sshd) in &fleet.hosts {
        assert_eq!(sshd.log_count(CLOSED), 0, "{}", sshd.log_text());
    }
    assert!(
        !scout_threads().is_empty(),
        "no scout threads were running?"
    );
    drop(scout);
    // The drop joins the reaper (the unit test `dropping_the_last_clone_stops_the_reaper_and_
    // frees_the_pools` proves the join itself). Its /proc entry can outlive the join by a
    // moment: the kernel wakes the joiner when the thread releases its memory, before it
    // removes the task. A reaper that never stopped would still be listed a second later.
    assert!(
        wait_until(Duration::from_secs(1), || {
            !scout_threads().iter().any(|t| t == "scout-reaper")
        }),
        "the reaper outlived the Scout"
    );
    for (host, sshd) in &fleet.hosts {
        assert!(
            sshd.wait_log_count(CLOSED, sshd.log_count(ACCEPTED), Duration::from_secs(10)),
            "{host}: sessions not closed by the drop:\n{}",
            sshd.log_text()
        );
        assert_eq!(sshd.log_count(CLOSED), sshd.log_count(ACCEPTED), "{host}");
    }
    assert!(
        wait_until(Duration::from_secs(5), || scout_threads().is_empty()),
        "scout threads left after the drop: {:?}",
        scout_threads()
    );
}

#[test]
fn a_clone_keeps_the_sessions_open_until_it_is_dropped_too() {
    let _turn = crate::serial();
    let fleet = Fleet::start(&["h1"]);
    let file = fleet.write_remote_file("f.txt", b"shared\n");
    let file = file.display().to_string();
    let scout = scout_for(&fleet);
    let clone = scout.clone();
    let read = |s: &Scout, file: &str| {
        s.read(&crate::at("h1", file), &Control::new())
            .map(|f| f.text().map(String::from))
    };
    assert_eq!(read(&scout, &file), Ok(Some("shared\n".into())));
    drop(scout);

    // The clone, on another thread, still has the pool: same session, nothing closed.
    let clone = thread::spawn(move || {
        assert_eq!(read(&clone, &file), Ok(Some("shared\n".into())));
        clone
    })
    .join()
    .expect("reader thread");
    let sshd = &fleet.hosts[0].1;
    assert_eq!(
        sshd.log_count(ACCEPTED),
        1,
        "the clone opened a new session"
    );
    assert_eq!(
        sshd.log_count(CLOSED),
        0,
        "dropping one clone closed the session"
    );
    assert_eq!(clone.live_sessions(), 1);

    drop(clone);
    assert!(
        sshd.wait_log_count(CLOSED, 1, Duration::from_secs(10)),
        "the last drop did not close the session:\n{}",
        sshd.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(5), || scout_threads().is_empty()),
        "scout threads left after the drop: {:?}",
        scout_threads()
    );
}
