//! The byte stream under an SSH session: a TCP connection, or a tunnel through a jump host.
//!
//! libssh2 only needs a file descriptor, so a session reached through `ProxyJump` runs over one
//! end of a Unix socket pair whose other end a jump hub relays into a `direct-tcpip` channel
//! (see `jump.rs`). Everything above this module treats both the same.

use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::error::Error;
use crate::ssh::config::HostEntry;
use crate::ssh::trace::Trace;

/// A connected byte stream to an sshd.
#[derive(Debug)]
pub enum Transport {
    /// A direct TCP connection (TCP_NODELAY, SO_KEEPALIVE).
    Tcp(TcpStream),
    /// Our end of a socket pair relayed through a jump host.
    Tunnel(UnixStream),
}

impl Transport {
    /// A second handle on the same stream (libssh2 takes one, we keep one to shut it down).
    pub fn try_clone(&self) -> std::io::Result<Transport> {
        Ok(match self {
            Transport::Tcp(s) => Transport::Tcp(s.try_clone()?),
            Transport::Tunnel(s) => Transport::Tunnel(s.try_clone()?),
        })
    }

    /// Shuts both directions down: every later read or write on it fails at once.
    pub fn shutdown(&self) {
        let _ = match self {
            Transport::Tcp(s) => s.shutdown(Shutdown::Both),
            Transport::Tunnel(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl AsRawFd for Transport {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Transport::Tcp(s) => s.as_raw_fd(),
            Transport::Tunnel(s) => s.as_raw_fd(),
        }
    }
}

/// Resolves the host's name and connects to the first address that answers, as two traced
/// stages (`resolve`, `tcp`).
pub fn tcp_connect(
    host: &HostEntry,
    timeout: Duration,
    trace: &mut Trace,
) -> Result<Transport, Error> {
    let fail = |message: String| Error::connect(host.alias.clone(), message);
    let addrs = trace.step("resolve", || {
        let addrs: Vec<SocketAddr> = (host.hostname.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| {
                fail(format!(
                    "cannot resolve '{}': {e}. Check HostName in ssh_config",
                    host.hostname
                ))
            })?
            .collect();
        let shown = addrs.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>();
        Ok((addrs, format!("{} → {}", host.hostname, shown.join(", "))))
    })?;
    trace.step("tcp", || {
        let stream = connect_any(&addrs, timeout).map_err(|(addr, e)| match addr {
            Some(addr) if e.kind() == std::io::ErrorKind::TimedOut => fail(format!(
                "no answer from {addr} within {:.0} s ({}). Is the host up and the port open?",
                timeout.as_secs_f64(),
                host.connect_limit_name()
            )),
            Some(addr) => fail(format!(
                "{addr}: {e}. Is sshd running there, and are HostName/Port in ssh_config right?"
            )),
            None => fail(format!("'{}' resolved to no address", host.hostname)),
        })?;
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        Ok((Transport::Tcp(stream), format!("connected to {peer}")))
    })
}

fn connect_any(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, (Option<SocketAddr>, std::io::Error)> {
    let mut last = (None, std::io::Error::other("no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                // Without TCP_NODELAY every small request/response pair stalls on delayed ACKs
                // (≈40 ms each on Linux; docs/PERFORMANCE.md, "Where the time goes: single calls").
                stream.set_nodelay(true).map_err(|e| (Some(*addr), e))?;
                set_tcp_keepalive(&stream);
                return Ok(stream);
            }
            Err(e) => last = (Some(*addr), e),
        }
    }
    Err(last)
}

/// Lets the kernel notice a peer that vanished without a FIN or RST while the session idles.
fn set_tcp_keepalive(stream: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a live c_int of the right size on our own socket.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
