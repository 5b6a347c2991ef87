//! `PassivePool`: hands out listening sockets on ports of `--passive-port`, bound to the
//! control connection's local address, and takes the ports back.
//!
//! Ports are tried round-robin from a moving cursor that starts at a random port of the range
//! (so servers sharing a range, or a restarted server, do not all start at its first port); a
//! port just released (possibly in TIME_WAIT on the client side) is the last to be reused, and
//! `SO_REUSEADDR` lets a port whose last connection is in TIME_WAIT on our side be bound again.
//!
//! SECURITY: a passive listener is one session's; [`peer_allowed`] says whether an incoming
//! data connection may be used: only when it comes from the control connection's peer
//! address (no passive-port theft by a third host).

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

use crate::cli::units::PortRange;
use crate::session::canonical_ip;

/// The passive port range and which of its ports are taken.
#[derive(Debug)]
pub struct PassivePool {
    range: PortRange,
    in_use: Vec<bool>,
    taken: usize,
    cursor: usize,
}

/// How many ports one PASV tries before giving up (bounds the work per command: a failed bind
/// costs a few microseconds).
const MAX_TRIES: usize = 512;

impl PassivePool {
    /// A pool over `range`.
    pub fn new(range: PortRange) -> PassivePool {
        use std::hash::{BuildHasher, Hasher};
        // A random start without a random-number crate: std's hasher keys are random.
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let cursor = usize::try_from(seed % range.len() as u64).unwrap_or(0);
        PassivePool { range, in_use: vec![false; range.len()], taken: 0, cursor }
    }

    /// Opens a listener on a free port of the range at `ip`.
    ///
    /// # Errors
    /// `AddrInUse` when no port could be bound after a bounded number of tries.
    pub fn open(&mut self, ip: IpAddr) -> io::Result<(TcpListener, u16)> {
        let n = self.in_use.len();
        let mut tries = 0;
        for step in 0..n {
            let idx = (self.cursor + step) % n;
            if self.in_use[idx] {
                continue;
            }
            tries += 1;
            let port = self.range.first + idx as u16;
            match listen(SocketAddr::new(ip, port), 8) {
                Ok(l) => {
                    self.in_use[idx] = true;
                    self.taken += 1;
                    self.cursor = (idx + 1) % n;
                    return Ok((l, port));
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
                Err(e) => return Err(e),
            }
            if tries >= MAX_TRIES {
                break;
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, format!("no free port in {}", self.range)))
    }

    /// Gives a port back.
    pub fn release(&mut self, port: u16) {
        if let Some(slot) = port.checked_sub(self.range.first).and_then(|i| self.in_use.get_mut(usize::from(i))) {
            if *slot {
                self.taken -= 1;
            }
            *slot = false;
        }
    }

    /// Ports handed out now.
    pub fn in_use(&self) -> usize {
        self.taken
    }

    /// Ports in the range.
    pub fn size(&self) -> usize {
        self.in_use.len()
    }

    /// Whether at least half of the range is free: only then may a session keep its port
    /// between transfers (see `Connection`), so a small range is never held by idle sessions.
    pub fn has_room(&self) -> bool {
        self.taken * 2 <= self.in_use.len()
    }
}

/// Binds a non-blocking listener with `SO_REUSEADDR` (so a port whose last connection is in
/// TIME_WAIT can be bound again), listening with `backlog`. It has `TCP_NODELAY` (replies and
/// small files go out at once, not after the peer's delayed ACK), which Linux copies to every
/// connection it accepts, so no accept needs a `setsockopt` of its own.
///
/// # Errors
/// The bind or listen failed (`AddrInUse` when the port is taken).
pub fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM.nonblocking().cloexec(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// SECURITY: a data connection is used only when it comes from the control peer's address.
pub fn peer_allowed(control_peer: IpAddr, data_peer: IpAddr) -> bool {
    canonical_ip(control_peer) == canonical_ip(data_peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn ports_come_from_the_range_and_go_back() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        let range = PortRange { first: base, last: base.saturating_add(1) };
        let mut pool = PassivePool::new(range);
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut opened = Vec::new();
        while let Ok((l, port)) = pool.open(ip) {
            assert!((range.first..=range.last).contains(&port));
            opened.push((l, port));
        }
        assert!(!opened.is_empty() && opened.len() <= 2);
        let (l, port) = opened.pop().unwrap();
        drop(l);
        pool.release(port);
        assert!(pool.open(ip).is_ok());
    }

    #[test]
    fn only_the_control_peer_may_connect() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(peer_allowed(a, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(!peer_allowed(a, "127.0.0.2".parse().unwrap()));
    }
}
