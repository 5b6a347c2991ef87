//! Control connections from a trusted balancer (`--proxy-protocol-from`) until their PROXY
//! header has arrived. Nothing is sent to them and no limit or ban is applied before: those
//! need the client's address, which only the header gives. Then the connection is admitted as
//! if the client had connected directly (greeting, per-IP limits, bans, logs, the passive
//! data-peer check, PORT/EPRT checks: all by the client's address).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry};

use crate::server::proxy_header::{self, HeaderRead};
use crate::server::token::{self, Kind};
use crate::server::Server;

/// How long a balancer may take to send a header once it connected.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections may wait for their header at once; more are closed at once.
pub const MAX_AWAITING: usize = 1024;

struct Awaiting {
    stream: TcpStream,
    /// The balancer's address (the socket's peer).
    peer: SocketAddr,
    deadline: Instant,
}

/// The connections waiting for a PROXY header, by slot (their `Kind::Header` tokens).
#[derive(Default)]
pub struct AwaitingHeaders {
    slots: Vec<Option<Awaiting>>,
    free: Vec<usize>,
    live: usize,
}

impl AwaitingHeaders {
    /// The nearest header deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.live == 0 {
            return None;
        }
        self.slots.iter().flatten().map(|a| a.deadline).min()
    }

    /// Closes the connections whose header did not come in time.
    pub fn expire(&mut self, now: Instant, registry: &Registry) {
        if self.live == 0 {
            return;
        }
        for slot in 0..self.slots.len() {
            if self.slots[slot].as_ref().is_some_and(|a| now >= a.deadline) {
                if let Some(a) = self.take(slot, registry) {
                    log::warn!("{}: closed: no PROXY protocol header within {} s", a.peer, HEADER_TIMEOUT.as_secs());
                }
            }
        }
    }

    /// Closes them all (shutdown).
    pub fn clear(&mut self, registry: &Registry) {
        for slot in 0..self.slots.len() {
            self.take(slot, registry);
        }
    }

    fn insert(&mut self, mut a: Awaiting, registry: &Registry) -> std::io::Result<()> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        if let Err(e) = registry.register(&mut a.stream, token::token(slot, Kind::Header), Interest::READABLE) {
            self.free.push(slot);
            return Err(e);
        }
        self.slots[slot] = Some(a);
        self.live += 1;
        Ok(())
    }

    fn take(&mut self, slot: usize, registry: &Registry) -> Option<Awaiting> {
        let mut a = self.slots.get_mut(slot)?.take()?;
        let _ = registry.deregister(&mut a.stream);
        self.free.push(slot);
        self.live -= 1;
        Some(a)
    }
}

impl Server {
    /// A connection from a trusted balancer: wait for its header.
    pub(super) fn await_proxy_header(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        if self.awaiting_headers.live >= MAX_AWAITING {
            log::warn!("{peer}: closed: {MAX_AWAITING} connections are already waiting for their PROXY header");
            return;
        }
        let awaiting = Awaiting { stream, peer, deadline: now + HEADER_TIMEOUT };
        if let Err(e) = self.awaiting_headers.insert(awaiting, &self.ctx.registry) {
            log::warn!("{peer}: cannot wait for the PROXY header: {e}");
        }
        // Registration reports the header if it is already there.
    }

    /// Readiness on a connection waiting for its header.
    pub(super) fn on_proxy_header_event(&mut self, slot: usize, now: Instant) {
        let Some(a) = self.awaiting_headers.slots.get(slot).and_then(Option::as_ref) else { return };
        let peer = a.peer;
        let read = proxy_header::read(&a.stream);
        if matches!(read, Ok(HeaderRead::Pending)) {
            return;
        }
        let Some(a) = self.awaiting_headers.take(slot, &self.ctx.registry) else { return };
        match read {
            Ok(HeaderRead::Done(header)) => {
                let client = header.source.unwrap_or(peer);
                log::debug!("{peer}: PROXY header: the client is {client}");
                self.admit(a.stream, client, header.destination.map(|d| d.ip()), now);
            }
            Ok(HeaderRead::Closed) => log::debug!("{peer}: closed before a PROXY header (a health check?)"),
            Ok(HeaderRead::Pending) => {}
            Err(e) => log::warn!("{peer}: closed: {e}"),
        }
    }
}
