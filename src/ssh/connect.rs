//! Connecting to a host: over TCP, or through its `ProxyJump` chain. The one place that
//! chooses; below it, `session.rs` runs the handshake, host key check and authentication over
//! any byte stream, and `jump.rs` (which uses that layer for its own hops) provides tunnels.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::ssh::config::HostEntry;
use crate::ssh::jump::Jumps;
use crate::ssh::session::{self, ConnectOptions, Established};
use crate::ssh::trace::Trace;
use crate::ssh::transport::{tcp_connect, Transport};

/// How hosts are connected: the options, and the jump hubs for hosts behind jump hosts.
#[derive(Debug, Clone)]
pub struct Connector {
    /// Timeouts, host key policy, home directory.
    pub opts: ConnectOptions,
    /// The jump hubs (none: a host with `ProxyJump` is refused with a message).
    pub jumps: Option<Arc<Jumps>>,
}

impl Connector {
    /// Transport (TCP or a jump tunnel), handshake, host key, authentication: the stages every
    /// session goes through, each recorded in `trace`, all within the connect timeout.
    pub fn establish(&self, host: &HostEntry, trace: &mut Trace) -> Result<Established, Error> {
        let limit = host.connect_limit(self.opts.connect_timeout);
        let deadline = Instant::now() + limit;
        let socket = match &host.proxy_jump {
            None => tcp_connect(host, limit, trace)?,
            Some(hops) => {
                let jumps = self.jumps.as_ref().ok_or_else(|| {
                    Error::config(format!(
                        "{}: ProxyJump {hops} is not available in this context",
                        host.alias
                    ))
                })?;
                trace.step("tunnel", || {
                    let stream = jumps.tunnel(host, deadline)?;
                    Ok((
                        Transport::Tunnel(stream),
                        format!(
                            "via {hops} (direct-tcpip to {}:{})",
                            host.hostname, host.port
                        ),
                    ))
                })?
            }
        };
        session::establish_over(host, &self.opts, socket, deadline, trace)
    }
}
