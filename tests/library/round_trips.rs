//! Round trips on the wire (issue 6): what a warm read, listing and query send, counted by the
//! kernel (`TCP_INFO` data segments of this process's sockets to the sshd), and proof that reads
//! and listings start no remote process (sshd logs every session channel it starts).

use crate::common;

use std::os::fd::RawFd;

use common::Fleet;
use scout_mcp::PolicyMode;
use scout_mcp::{Control, RemotePath, Scout, Settings};

/// Data segments (out, in) on this process's TCP connections to `port`.
fn data_segments(port: u16) -> (u32, u32) {
    let mut total = (0, 0);
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return total;
    };
    for entry in fds.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        if peer_port(fd) != Some(port) {
            continue;
        }
        // SAFETY: getsockopt into a zeroed tcp_info of the size we pass, on a socket fd.
        unsafe {
            let mut info: libc::tcp_info = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
            if libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            ) == 0
            {
                total.0 += info.tcpi_data_segs_out;
                total.1 += info.tcpi_data_segs_in;
            }
        }
    }
    total
}

fn peer_port(fd: RawFd) -> Option<u16> {
    // SAFETY: getpeername into a zeroed sockaddr_in of the size we pass.
    unsafe {
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::getpeername(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len) != 0 {
            return None;
        }
        (i32::from(addr.sin_family) == libc::AF_INET).then(|| u16::from_be(addr.sin_port))
    }
}

/// Segments sent and received by `op`, and the SFTP requests it sent: the second of two runs
/// (the first warms the connection), after a pause that lets the first run's last answers
/// (a close not waited for) arrive.
fn measure(port: u16, mut op: impl FnMut()) -> (u32, u32, u64) {
    op();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let before = data_segments(port);
    let requests = scout_mcp::__private::sftp_requests();
    op();
    let after = data_segments(port);
    let sent = scout_mcp::__private::sftp_requests() - requests;
    (after.0 - before.0, after.1 - before.1, sent)
}

#[test]
fn warm_reads_and_listings_cost_a_few_sftp_round_trips_and_no_remote_process() {
    let _turn = crate::serial();
    let mut fleet = Fleet::start(&["alpha"]);
    let file = fleet.write_remote_file("rt/file.txt", &[b'x'; 1024]);
    for i in 0..100 {
        fleet.write_remote_file(&format!("rt/dir/e{i:03}"), b"e");
    }
    let dir = file.parent().unwrap().join("dir");
    let settings = Settings::builder()
        .ssh_config(&fleet.ssh_config)
        .known_hosts(&fleet.known_hosts)
        .command_policy(PolicyMode::Shell)
        .build()
        .unwrap();
    let scout = Scout::new(settings).unwrap();
    let at = |path: &str| RemotePath::new("alpha", path).unwrap();
    let port = fleet.port("alpha");
    let path = file.display().to_string();
    let dir_path = dir.display().to_string();

    let read = measure(port, || {
        assert_eq!(
            scout.read(&at(&path), &Control::new()).unwrap().bytes.len(),
            1024
        );
    });
    let list = measure(port, || {
        assert_eq!(
            scout
                .list(&at(&dir_path), &Control::new())
                .unwrap()
                .entries
                .len(),
            100
        );
    });
    let starts = fleet.sshd("alpha").log_count("Starting session");
    let query = measure(port, || {
        let out = scout.run(&at("/"), "true", &Control::new()).unwrap();
        assert!(out.success());
    });
    let empty = fleet
        .write_remote_file("rt/empty", b"")
        .display()
        .to_string();
    let empty_read = measure(port, || {
        assert!(scout
            .read(&at(&empty), &Control::new())
            .unwrap()
            .bytes
            .is_empty());
    });
    eprintln!("data segments out/in: read {read:?}, list {list:?}, query {query:?}, empty read {empty_read:?}");

    // A read waits for three round trips: stat; open; the reads, whose end-of-file answer
    // comes in the same round trip (a request ends where `stat` said the file ends, the next
    // asks past it); the close is sent and not waited for. So an empty file is stat, open,
    // read (EOF), close; 1 KiB is stat, open, read, read (EOF), close.
    assert_eq!(
        empty_read.2, 4,
        "warm read of an empty file: {empty_read:?}"
    );
    assert_eq!(read.2, 5, "warm 1 KiB read: {read:?}");
    // stat, opendir, readdir (100 names in one answer), readdir (end), close.
    assert_eq!(list.2, 5, "warm listing of 100: {list:?}");
    // Each request costs at most two segments each way (the request or answer, and a window
    // adjust for the data consumed, which adds no waiting).
    for (what, (out, inn, requests)) in [("read", read), ("list", list), ("empty", empty_read)] {
        let most = 2 * requests as u32;
        assert!(out <= most && inn <= most, "{what}: {out}/{inn} segments");
    }
    // Reads and listings ran no command: only the two queries started sessions.
    assert_eq!(
        fleet.sshd("alpha").log_count("Starting session"),
        starts + 2
    );
    assert!(
        query.0 >= 2,
        "a query opens a channel and starts a command: {query:?}"
    );
    // It sends no SFTP request: the shell enters the directory (SFTP explains only a failure).
    assert_eq!(query.2, 0, "query: {query:?}");
}
