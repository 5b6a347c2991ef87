//! Remote control (`--rc`): rclone's rc protocol (HTTP POST `/<command>` with JSON or form
//! parameters, JSON replies) on the reactor, so `rclone rc --url ...` and `ftpvfs rc` work as
//! clients. Bound to loopback by default; Basic auth with `--rc-user`/`--rc-pass`, or none
//! with `--rc-no-auth` (which must be asked for). One request per connection, at most
//! [`MAX_CONNECTIONS`] at once (a new one closes the oldest that has not sent its request),
//! each request at most 1 MiB.

pub mod client;
pub mod commands;
pub mod http;
pub mod metrics;

use std::io;
use std::net::SocketAddr;

use base64::Engine;
use mio::net::TcpListener;
use mio::{Interest, Registry};

use crate::auth::{constant_time_eq, Secret};
use crate::server::token::{self, Kind};
use http::{BadRequest, HttpConn, RcRequest};

/// Most rc connections open at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 64;

/// `--rc-addr` and the credentials.
#[derive(Debug, Clone)]
pub struct RcOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// `--rc-user`/`--rc-pass`; `None` with `--rc-no-auth`.
    pub auth: Option<(String, Secret<String>)>,
    /// `--rc-enable-metrics`: `GET /metrics` in the Prometheus format, with the same auth.
    pub metrics: bool,
    /// `--metrics-baseurl`: the prefix of every path served (`prom` for `/prom/metrics`),
    /// without slashes; empty for the root.
    pub base_url: String,
    /// The realm a 401 names (`--metrics-realm`).
    pub realm: String,
}

/// Which of the two HTTP servers an [`RcServer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `--rc`: rc commands, and `/metrics` with `--rc-enable-metrics`.
    Rc,
    /// `--metrics-addr`: only `GET /metrics`, on its own address and credentials.
    Metrics,
}

/// The rc listener and its connections.
pub struct RcServer {
    listener: TcpListener,
    conns: Vec<Option<HttpConn>>,
    free: Vec<usize>,
    next_generation: u64,
    auth: Option<(String, Secret<String>)>,
    metrics: bool,
    /// The token kind of its connections.
    kind: Kind,
    /// Which server it is.
    pub role: Role,
    /// The bound address (with the real port when `:0` was asked).
    pub local_addr: SocketAddr,
    base_url: String,
    realm: String,
}

/// A request ready to be answered: its connection and what it asked (or why it is bad).
pub struct Pending {
    /// The connection slot.
    pub slot: usize,
    /// The slot's generation.
    pub generation: u64,
    /// The request.
    pub request: Result<RcRequest, BadRequest>,
}

impl RcServer {
    /// Binds the listener (or takes `inherited`, systemd's socket for it) and registers it.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn bind(
        opts: &RcOptions,
        role: Role,
        registry: &Registry,
        inherited: Option<std::net::TcpListener>,
    ) -> io::Result<RcServer> {
        let mut listener = match inherited {
            Some(l) => mio::net::TcpListener::from_std(l),
            None => crate::data::passive_pool::listen(opts.addr, 64)?,
        };
        let local_addr = listener.local_addr()?;
        let (listener_token, kind) = match role {
            Role::Rc => (token::RC_LISTENER, Kind::Rc),
            Role::Metrics => (token::METRICS_LISTENER, Kind::Metrics),
        };
        registry.register(&mut listener, listener_token, Interest::READABLE)?;
        Ok(RcServer {
            listener,
            conns: Vec::new(),
            free: Vec::new(),
            next_generation: 1,
            auth: opts.auth.clone(),
            metrics: opts.metrics || role == Role::Metrics,
            kind,
            role,
            local_addr,
            base_url: opts.base_url.clone(),
            realm: opts.realm.clone(),
        })
    }

    /// The realm its 401 answers name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Accepts every waiting connection.
    pub fn accept(&mut self, registry: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _peer)) => {
                    if self.conns.len() - self.free.len() >= MAX_CONNECTIONS && !self.evict_oldest_idle(registry) {
                        continue; // every connection is being answered: this one is dropped (closed)
                    }
                    let slot = self.free.pop().unwrap_or_else(|| {
                        self.conns.push(None);
                        self.conns.len() - 1
                    });
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if registry.register(&mut stream, token::token(slot, self.kind), interest).is_err() {
                        self.free.push(slot);
                        continue;
                    }
                    self.next_generation += 1;
                    self.conns[slot] = Some(HttpConn::new(stream, self.next_generation));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("rc: accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Makes room for a new connection by closing the oldest one that has not sent a whole
    /// request yet, so that connections left idle (or trickling bytes) cannot lock clients out
    /// of the rc or the metrics; false when every connection is being answered.
    fn evict_oldest_idle(&mut self, registry: &Registry) -> bool {
        let oldest = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| c.as_ref().filter(|c| !c.answered).map(|c| (c.generation, slot)))
            .min();
        match oldest {
            Some((_, slot)) => {
                log::debug!("rc: {MAX_CONNECTIONS} connections open; closing the oldest idle one");
                self.close(slot, registry);
                true
            }
            None => false,
        }
    }

    /// Readiness on a connection: reads, sends what is queued; returns a request once whole.
    pub fn on_event(&mut self, slot: usize, registry: &Registry) -> Option<Pending> {
        let conn = self.conns.get_mut(slot)?.as_mut()?;
        let request = match conn.read_request() {
            Ok(r) => r,
            Err(_) => {
                self.close(slot, registry);
                return None;
            }
        };
        let generation = conn.generation;
        self.flush(slot, registry);
        let base = &self.base_url;
        request.map(|request| {
            // Under a base URL only paths below it exist: the command is the rest, and any
            // other path becomes one no command has (404).
            let request = request.map(|mut req| {
                if !base.is_empty() {
                    req.command = match req.command.strip_prefix(base.as_str()).and_then(|r| r.strip_prefix('/')) {
                        Some(rest) => rest.to_string(),
                        None => String::new(),
                    };
                }
                req
            });
            Pending { slot, generation, request }
        })
    }

    /// Queues the answer to a request and sends what the socket takes.
    pub fn respond(&mut self, slot: usize, generation: u64, bytes: Vec<u8>, registry: &Registry) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else { return };
        if conn.generation != generation {
            return;
        }
        conn.respond(bytes);
        self.flush(slot, registry);
    }

    fn flush(&mut self, slot: usize, registry: &Registry) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else { return };
        match conn.flush() {
            Ok(false) => {}
            Ok(true) | Err(_) => self.close(slot, registry),
        }
    }

    fn close(&mut self, slot: usize, registry: &Registry) {
        if let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) {
            let _ = registry.deregister(&mut conn.stream);
            self.free.push(slot);
        }
    }

    /// Whether `GET /metrics` is served (`--rc-enable-metrics`).
    pub fn metrics(&self) -> bool {
        self.metrics
    }

    /// Whether the request carries the credentials (always, under `--rc-no-auth`).
    pub fn authorized(&self, request: &RcRequest) -> bool {
        let Some((user, pass)) = &self.auth else { return true };
        basic_auth_matches(request.authorization.as_deref(), user, pass.expose())
    }
}

/// Whether an `Authorization` header value is HTTP Basic auth with exactly `user` and `pass`
/// (compared in constant time).
pub fn basic_auth_matches(header: Option<&str>, user: &str, pass: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Basic ")) else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else { return false };
    constant_time_eq(&decoded, format!("{user}:{pass}").as_bytes())
}
