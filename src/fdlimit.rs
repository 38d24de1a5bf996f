//! The process's open-file limit (`RLIMIT_NOFILE`).
//!
//! Every SSH connection holds descriptors (its socket twice — libssh2's and the one its thread
//! polls and shuts down — and its thread's wake-up `eventfd`), so a
//! broadcast to hundreds of hosts needs more than the soft limit of 1024 that many systems
//! start a process with. The program raises the soft limit to the hard one at start (as any
//! process may), and the pool sizes itself to what the limit allows.

/// Descriptors one pooled SSH connection may hold: three of its own, and a spare for the
/// short-lived ones its work opens (a jump tunnel's socketpair, a local file of a transfer).
pub const PER_CONNECTION: u64 = 4;

/// Descriptors kept for everything else: stdio, logs, local files of transfers, the known_hosts
/// and ssh_config reads.
pub const RESERVED: u64 = 128;

/// The soft and hard limits, `None` if they cannot be read.
// `rlim_t` is `u64` here but narrower on some targets: the conversions are not useless there.
#[allow(clippy::useless_conversion)]
pub fn current() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    Some((u64::from(limit.rlim_cur), u64::from(limit.rlim_max)))
}

/// Raises the soft limit to the hard limit. Returns the soft limit before and after (equal when
/// nothing changed or the change was refused).
pub fn raise() -> Option<(u64, u64)> {
    let (soft, hard) = current()?;
    if soft >= hard {
        return Some((soft, soft));
    }
    let hard = libc::rlim_t::try_from(hard).unwrap_or(libc::RLIM_INFINITY);
    let limit = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct we pass, which lives for the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Some((soft, soft));
    }
    Some((soft, current().map_or(soft, |(now, _)| now)))
}

/// How many connections the current soft limit leaves room for (`u64::MAX` when it is
/// unlimited or unknown).
#[allow(clippy::useless_conversion)] // as in `current`
pub fn connection_room() -> u64 {
    match current() {
        Some((soft, _)) if soft != u64::from(libc::RLIM_INFINITY) => {
            soft.saturating_sub(RESERVED) / PER_CONNECTION
        }
        _ => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_read_and_raising_never_lowers_it() {
        let (soft, hard) = current().expect("getrlimit works");
        assert!(soft <= hard);
        let (before, after) = raise().expect("limits readable");
        assert_eq!(before, soft);
        assert!(after >= before);
        assert!(connection_room() >= (after.saturating_sub(RESERVED)) / PER_CONNECTION);
    }
}
