//! `Connection`: one client as the reactor sees it: the control socket, its line framer and
//! reply buffer, the `Session` state machine, and the data side (passive listener, a data
//! connection accepted early, an active connect in progress, the running `Pump`).
//!
//! Every entry point ends in `process`, which alternates between the session's actions, the
//! control socket and the pump until nothing moves. Sockets are edge-triggered, so each one is
//! read or written until it would block, or until a bound says stop (then `process` retries
//! when the bound lifts).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry};

use crate::data::bandwidth::{Direction, Throttle};
use crate::data::passive_pool::{self, PassivePool};
use crate::data::pump::{Pump, PumpDone};
use crate::data::{active, DataVia, TransferBody, TransferOutcome, TransferPlan};
use crate::ftp::line::{Frame, LineFramer};
use crate::server::proxy_header::HeaderRead;
use crate::server::token::{self, ConnId, Kind};
use crate::server::workers::{Task, Workers};
use crate::session::{Action, JobResult, Session, Shared};
use crate::tls::stream::NetStream;
use crate::tls::TlsContext;

/// What connections share: the poll registry, the passive ports, the workers, a read buffer.
pub struct Ctx {
    /// Registers sockets with the reactor's poll.
    pub registry: Registry,
    /// Passive ports.
    pub pool: PassivePool,
    /// Disk work.
    pub workers: Workers,
    /// Config shared with sessions.
    pub shared: Arc<Shared>,
    /// One read buffer for all control connections, so idle sessions hold none.
    pub scratch: Vec<u8>,
    /// The next transfer id.
    pub next_pump_id: u64,
    /// FTPS, when `--cert`/`--key` are given (swapped on SIGHUP).
    pub tls: Option<TlsContext>,
    /// Counters for rc `core/stats`.
    pub stats: crate::server::stats::Stats,
}

struct PassiveListener {
    listener: TcpListener,
    port: u16,
    expires: Instant,
}

/// How long a session keeps its passive listener after a data connection was accepted from it,
/// for its next PASV or EPSV: clients that move many files in one session (mirrors, backups)
/// skip a socket, a bind and a listen per transfer.
const PASSIVE_PARK_TIME: Duration = Duration::from_secs(2);

/// How many passive data connections from a balancer may wait for their PROXY header at once
/// (the oldest is closed for a new one).
const MAX_DATA_HEADERS: usize = 4;

/// One client.
pub struct Connection {
    /// Slot and generation.
    pub id: ConnId,
    control: NetStream,
    /// This session's TLS resumption token (see `tls::stream`).
    tls_token: [u8; 16],
    /// AUTH TLS was answered; TLS starts once the 234 is flushed.
    start_tls_pending: bool,
    /// TLS records not yet on the wire (the control is not finished until they are).
    control_unflushed: bool,
    /// The running transfer's data connection is to be TLS (PROT P).
    transfer_protected: bool,
    peer: SocketAddr,
    local: SocketAddr,
    /// The address PASV replies name: the balancer's front end when a PROXY header said which
    /// address the client connected to, else `local`'s.
    advertised_ip: IpAddr,
    /// Passive data connections from a `--proxy-protocol-from` balancer, waiting for the
    /// PROXY header that says whose they are.
    data_headers: Vec<(TcpStream, SocketAddr, Instant)>,
    framer: LineFramer,
    out: Vec<u8>,
    out_pos: usize,
    session: Session,
    passive: Option<PassiveListener>,
    /// The passive listener of the last transfer, out of the poll set until the next PASV or
    /// EPSV (which drains whatever connected meanwhile) or until [`PASSIVE_PARK_TIME`] passes.
    parked: Option<PassiveListener>,
    early_data: Option<(TcpStream, Instant)>,
    connecting: Option<TcpStream>,
    pump: Option<Pump>,
    /// The control socket may have bytes to read (set by its readiness events).
    control_readable: bool,
    /// Read the control socket until it says `EAGAIN` or end of stream, even after a short
    /// read: an event reported urgent data (a read stops short just before the urgent byte,
    /// which may be the rest of `ABOR\r\n`), the client's end shut (its end of stream is still
    /// to be read) or an error. Cleared once a read says `EAGAIN`.
    control_drain: bool,
    read_closed: bool,
    write_failed: bool,
    /// The deadline last put in the timer heap.
    pub scheduled: Option<Instant>,
}

impl Connection {
    /// Registers the control socket and queues the greeting. `local` is the connection's own
    /// address when the caller knows it (a listener bound to one address), else it is asked;
    /// `advertised` is the address the client connected to when a balancer's PROXY header
    /// named it.
    ///
    /// # Errors
    /// Registration failed.
    pub fn open(
        id: ConnId,
        mut control: TcpStream,
        peer: SocketAddr,
        local: Option<SocketAddr>,
        advertised: Option<IpAddr>,
        ctx: &mut Ctx,
        now: Instant,
    ) -> io::Result<Connection> {
        let local = match local {
            Some(local) => local,
            None => control.local_addr()?,
        };
        ctx.registry.register(
            &mut control,
            token::token(id.slot, Kind::Control),
            // PRIORITY: urgent data (ABOR) is reported as such; see `control_drain`.
            Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY,
        )?;
        let advertised_ip = advertised.unwrap_or(local.ip());
        let session = Session::new(ctx.shared.clone(), peer, SocketAddr::new(advertised_ip, local.port()), now);
        let tls_token = crate::tls::new_session_token();
        let mut control = NetStream::plain(control);
        if let Some(tls) = ctx.tls.as_ref().filter(|t| t.policy.implicit) {
            let conn = rustls::ServerConnection::new(tls.config.clone()).map_err(io::Error::other)?;
            control.start_tls(conn, tls_token);
        }
        let mut c = Connection {
            id,
            control,
            tls_token,
            start_tls_pending: false,
            control_unflushed: false,
            transfer_protected: false,
            peer,
            local,
            advertised_ip,
            data_headers: Vec::new(),
            framer: LineFramer::new(ctx.shared.limits.max_line),
            out: Vec::new(),
            out_pos: 0,
            session,
            passive: None,
            parked: None,
            early_data: None,
            connecting: None,
            pump: None,
            // Registration reports whatever is already readable: nothing to try before that.
            control_readable: false,
            control_drain: false,
            read_closed: false,
            write_failed: false,
            scheduled: None,
        };
        c.process(ctx, now);
        Ok(c)
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the connection is done and can be dropped.
    pub fn finished(&self) -> bool {
        if self.write_failed {
            return true;
        }
        let flushed = self.out_pos >= self.out.len() && !self.control_unflushed;
        let session_done = self.session.is_closed();
        let client_gone = self.read_closed && self.session.is_idle() && !self.framer.has_line();
        flushed && (session_done || client_gone)
    }

    /// Whether a transfer is running (shutdown waits for it).
    pub fn in_transfer(&self) -> bool {
        self.session.in_transfer()
    }

    /// The nearest moment something must happen on this connection.
    pub fn next_deadline(&self, ctx: &Ctx) -> Option<Instant> {
        let data_timeout = ctx.shared.limits.data_timeout;
        // While a worker moves the data, the stall clock waits for its report.
        let pump = self.pump.as_ref().filter(|p| !p.worker_holds_socket()).map(|p| {
            if p.connected() {
                p.last_progress() + data_timeout
            } else {
                p.started() + data_timeout
            }
        });
        [
            self.session.next_deadline(),
            self.passive.as_ref().map(|p| p.expires),
            self.parked.as_ref().map(|p| p.expires),
            self.early_data.as_ref().map(|d| d.1),
            pump,
            self.pump.as_ref().and_then(Pump::throttled_until),
            self.data_headers.iter().map(|h| h.2).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Something may be due.
    pub fn on_timeout(&mut self, ctx: &mut Ctx, now: Instant) {
        self.session.on_timeout(now);
        if self.passive.as_ref().is_some_and(|p| now >= p.expires) {
            self.drop_passive(ctx);
        }
        if self.parked.as_ref().is_some_and(|p| now >= p.expires) {
            self.drop_parked(ctx);
        }
        if self.early_data.as_ref().is_some_and(|d| now >= d.1) {
            self.early_data = None;
        }
        if self.data_headers.iter().any(|h| now >= h.2) {
            let (expired, waiting) = std::mem::take(&mut self.data_headers).into_iter().partition(|h| now >= h.2);
            self.data_headers = waiting;
            for (mut stream, from, _) in expired {
                let _ = ctx.registry.deregister(&mut stream);
                log::warn!("{}: closed a data connection from {from}: no PROXY protocol header in time", self.peer);
            }
        }
        let secs = ctx.shared.limits.data_timeout.as_secs();
        if let Some(p) = self.pump.as_mut() {
            if p.throttled_until().is_some_and(|at| now >= at) {
                p.drive(now);
            }
            if !p.connected() && now >= p.started() + ctx.shared.limits.data_timeout {
                self.connecting = None;
                p.fail(TransferOutcome::NoConnection("no data connection was made in time"));
                log::debug!("{}: no data connection within {secs} s", self.peer);
            } else if p.connected()
                && !p.worker_holds_socket()
                && now >= p.last_progress() + ctx.shared.limits.data_timeout
            {
                p.fail(TransferOutcome::ConnectionLost("data connection stalled"));
                log::debug!("{}: data connection stalled for {secs} s", self.peer);
            }
        }
        self.process(ctx, now);
    }

    /// A readiness event for one of this connection's sockets.
    pub fn on_event(&mut self, kind: Kind, event: &mio::event::Event, ctx: &mut Ctx, now: Instant) {
        match kind {
            Kind::Control => {
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    self.control_readable = true;
                }
                if event.is_priority() || event.is_read_closed() || event.is_error() {
                    self.control_drain = true;
                }
            }
            Kind::Passive => self.accept_data(ctx, now),
            Kind::DataHeader => self.read_data_headers(ctx, now),
            Kind::Data => self.on_data_ready(ctx, now),
            Kind::Rc | Kind::Header | Kind::Metrics => {}
        }
        self.process(ctx, now);
    }

    /// A worker finished a session job.
    pub fn on_job_done(&mut self, result: JobResult, ctx: &mut Ctx, now: Instant) {
        self.session.on_job_done(result, now);
        self.process(ctx, now);
    }

    /// A worker finished a transfer task; `None` when the task panicked.
    pub fn on_pump_done(&mut self, pump_id: u64, done: Option<PumpDone>, ctx: &mut Ctx, now: Instant) {
        match (self.pump.as_mut(), done) {
            (Some(p), Some(done)) if p.id == pump_id => p.on_done(done, now),
            (Some(p), None) if p.id == pump_id => p.fail(TransferOutcome::ConnectionLost("internal error")),
            (_, Some(done)) => dispose(done, self.id, ctx),
            (_, None) => {}
        }
        self.process(ctx, now);
    }

    /// SIGINT/SIGTERM: idle sessions get 421 now, transfers finish first.
    pub fn begin_shutdown(&mut self, ctx: &mut Ctx, now: Instant) {
        self.session.on_shutdown();
        self.process(ctx, now);
    }

    /// Releases what the connection holds outside itself (its passive port, an upload's
    /// partial file).
    pub fn teardown(mut self, ctx: &mut Ctx) {
        self.drop_passive(ctx);
        self.drop_parked(ctx);
        if let Some(mut p) = self.pump.take() {
            p.fail(TransferOutcome::Aborted);
            for task in p.take_tasks() {
                ctx.workers.submit(Task::Pump { conn: self.id, pump: p.id, task });
            }
        }
    }

    fn drop_passive(&mut self, ctx: &mut Ctx) {
        self.drop_data_headers(ctx);
        if let Some(mut p) = self.passive.take() {
            let _ = ctx.registry.deregister(&mut p.listener);
            ctx.pool.release(p.port);
        }
    }

    fn drop_parked(&mut self, ctx: &mut Ctx) {
        if let Some(mut p) = self.parked.take() {
            let _ = ctx.registry.deregister(&mut p.listener);
            ctx.pool.release(p.port);
        }
    }

    /// After a data connection was accepted: keeps the listener for the session's next PASV,
    /// unless the port range is getting short. It stays in the poll set (taking it out and
    /// putting it back would cost two system calls per transfer); a connection made to it
    /// meanwhile only brings an event that finds no passive listener waiting, and is drained,
    /// unused, by [`unpark_passive`](Self::unpark_passive).
    fn park_passive(&mut self, ctx: &mut Ctx, now: Instant) {
        let Some(mut p) = self.passive.take() else { return };
        self.drop_parked(ctx);
        if ctx.pool.has_room() {
            p.expires = now + PASSIVE_PARK_TIME;
            self.parked = Some(p);
        } else {
            let _ = ctx.registry.deregister(&mut p.listener);
            ctx.pool.release(p.port);
        }
    }

    /// The parked listener, if any (still registered), emptied of every connection made to it
    /// while it was parked (none of them can answer a 227 not sent yet). SECURITY: so a
    /// connection made between transfers, by anyone, is never used for the next one.
    fn unpark_passive(&mut self, ctx: &mut Ctx) -> Option<(TcpListener, u16)> {
        let mut p = self.parked.take()?;
        // Bounded: a host that keeps connecting gets the port closed instead (a fresh one is
        // opened), not a loop.
        for _ in 0..64 {
            match p.listener.accept() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some((p.listener, p.port)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = ctx.registry.deregister(&mut p.listener);
        ctx.pool.release(p.port);
        None
    }

    /// Accepts on the passive listener. SECURITY: a connection from any address but the
    /// control peer's is closed unused, and the listener keeps waiting for the real client.
    fn accept_data(&mut self, ctx: &mut Ctx, now: Instant) {
        loop {
            let Some(p) = self.passive.as_mut() else { return };
            match p.listener.accept() {
                Ok((mut stream, from)) => {
                    if ctx.shared.proxy_protocol_from.contains(from.ip()) {
                        // Through the balancer: whose connection it is comes in its header.
                        if self.data_headers.len() >= MAX_DATA_HEADERS {
                            let (mut oldest, _, _) = self.data_headers.remove(0);
                            let _ = ctx.registry.deregister(&mut oldest);
                        }
                        let token = token::token(self.id.slot, Kind::DataHeader);
                        if ctx.registry.register(&mut stream, token, Interest::READABLE).is_ok() {
                            let deadline = now + crate::server::proxied_accept::HEADER_TIMEOUT;
                            self.data_headers.push((stream, from, deadline));
                        }
                        continue;
                    }
                    if !passive_pool::peer_allowed(self.peer.ip(), from.ip()) {
                        log::warn!("{}: refused a data connection from {from} (not the control peer)", self.peer);
                        continue;
                    }
                    self.take_data_connection(stream, ctx, now);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("{}: passive accept failed: {e}", self.peer);
                    return;
                }
            }
        }
    }

    /// The passive data connection of the next transfer, accepted and checked: it waits for the
    /// transfer or joins the one waiting for it.
    fn take_data_connection(&mut self, stream: TcpStream, ctx: &mut Ctx, now: Instant) {
        self.drop_data_headers(ctx);
        self.park_passive(ctx, now);
        // TCP_NODELAY comes from the listener (`passive_pool::listen`). The socket is
        // registered only if the transfer comes to need its events (see
        // `Pump::wanted_registration`): a download handed straight to a worker, or sent whole
        // at once, never does.
        if self.pump.as_ref().is_some_and(|p| !p.connected()) {
            self.attach_data(stream, false, ctx, now);
        } else {
            self.early_data = Some((stream, now + ctx.shared.limits.data_timeout));
        }
    }

    /// Reads the PROXY headers of passive data connections from the balancer. SECURITY: the
    /// one whose header names the control peer becomes the data connection; one naming anyone
    /// else is closed, as a direct connection from another address would be.
    fn read_data_headers(&mut self, ctx: &mut Ctx, now: Instant) {
        let mut i = 0;
        while i < self.data_headers.len() {
            let (stream, from, _) = &self.data_headers[i];
            let from = *from;
            let read = crate::server::proxy_header::read(stream);
            if matches!(read, Ok(HeaderRead::Pending)) {
                i += 1;
                continue;
            }
            let (mut stream, _, _) = self.data_headers.remove(i);
            let _ = ctx.registry.deregister(&mut stream);
            match read {
                Ok(HeaderRead::Done(header)) => {
                    let client = header.source.unwrap_or(from);
                    if passive_pool::peer_allowed(self.peer.ip(), client.ip()) {
                        self.take_data_connection(stream, ctx, now);
                        return;
                    }
                    log::warn!(
                        "{}: refused a data connection from {client} through {from} (not the control peer)",
                        self.peer
                    );
                }
                Ok(HeaderRead::Closed | HeaderRead::Pending) => {}
                Err(e) => log::warn!("{}: closed a data connection from {from}: {e}", self.peer),
            }
        }
    }

    fn drop_data_headers(&mut self, ctx: &mut Ctx) {
        for (mut stream, _, _) in self.data_headers.drain(..) {
            let _ = ctx.registry.deregister(&mut stream);
        }
    }

    /// Puts the data connection under the pump, as TLS when the transfer is protected;
    /// `registered` says whether the socket is in the poll set already.
    fn attach_data(&mut self, tcp: TcpStream, registered: bool, ctx: &Ctx, now: Instant) {
        let mut stream = NetStream::plain(tcp);
        if self.transfer_protected {
            let Some(tls) = ctx.tls.as_ref() else { return };
            match rustls::ServerConnection::new(tls.data_config.clone()) {
                Ok(conn) => stream.start_data_tls(conn, self.tls_token, tls.policy.require_reuse),
                Err(e) => {
                    log::warn!("{}: cannot start TLS on the data connection: {e}", self.peer);
                    if let Some(p) = self.pump.as_mut() {
                        p.fail(TransferOutcome::TlsRefused("TLS could not be started on the data connection"));
                    }
                    return;
                }
            }
        }
        if let Some(p) = self.pump.as_mut() {
            p.attach(stream, registered, now);
            p.drive(now);
        }
    }

    fn on_data_ready(&mut self, ctx: &Ctx, now: Instant) {
        if let Some(sock) = self.connecting.as_ref() {
            match active::connect_result(sock) {
                Ok(false) => return,
                Ok(true) => {
                    if let Some(sock) = self.connecting.take() {
                        // Registered to learn that the connect completed.
                        self.attach_data(sock, true, ctx, now);
                    }
                }
                Err(e) => {
                    log::debug!("{}: active data connection failed: {e}", self.peer);
                    self.connecting = None;
                    if let Some(p) = self.pump.as_mut() {
                        p.fail(TransferOutcome::NoConnection("the connection to the client's data port failed"));
                    }
                    return;
                }
            }
        }
        if let Some(p) = self.pump.as_mut() {
            p.drive(now);
        }
    }

    fn apply(&mut self, action: Action, ctx: &mut Ctx, now: Instant) {
        match action {
            Action::Reply(r) => r.write_to(&mut self.out),
            Action::Job(job, vfs) => match crate::session::jobs::run_now(vfs.as_ref(), &job) {
                Some(result) => self.session.on_job_done(result, now),
                None => ctx.workers.submit(Task::Session { conn: self.id, job, vfs }),
            },
            Action::OpenPassive => {
                self.drop_passive(ctx);
                self.early_data = None;
                // A parked listener is still registered; a fresh one is registered here.
                let listener = match self.unpark_passive(ctx) {
                    Some((listener, port)) => Ok((listener, port, true)),
                    None => ctx.pool.open(self.local.ip()).map(|(listener, port)| (listener, port, false)),
                };
                let result = listener.and_then(|(mut listener, port, registered)| {
                    let registration = if registered {
                        Ok(())
                    } else {
                        ctx.registry.register(
                            &mut listener,
                            token::token(self.id.slot, Kind::Passive),
                            Interest::READABLE,
                        )
                    };
                    match registration {
                        Ok(()) => {
                            self.passive =
                                Some(PassiveListener { listener, port, expires: now + ctx.shared.limits.data_timeout });
                            Ok(SocketAddr::new(self.advertised_ip, port))
                        }
                        Err(e) => {
                            ctx.pool.release(port);
                            Err(e)
                        }
                    }
                });
                self.session.on_passive_ready(result);
            }
            Action::DropDataConnection => {
                self.drop_passive(ctx);
                self.drop_parked(ctx);
                self.early_data = None;
            }
            Action::StartTransfer(plan) => self.start_transfer(plan, ctx, now),
            Action::AbortTransfer => {
                self.connecting = None;
                if let Some(p) = self.pump.as_mut() {
                    p.fail(TransferOutcome::Aborted);
                }
            }
            Action::StartTls => {
                // SECURITY: whatever the client pipelined behind AUTH TLS was sent in clear
                // text before the handshake and is discarded, never executed.
                if self.framer.buffered() > 0 {
                    log::warn!("{}: discarded {} bytes pipelined behind AUTH TLS", self.peer, self.framer.buffered());
                }
                self.framer = LineFramer::new(ctx.shared.limits.max_line);
                self.start_tls_pending = true;
            }
            Action::Close => {}
        }
    }

    /// Starts TLS on the control connection once the 234 reply is on the wire.
    fn maybe_start_tls(&mut self, ctx: &Ctx) {
        if !self.start_tls_pending || self.out_pos < self.out.len() {
            return;
        }
        self.start_tls_pending = false;
        let Some(tls) = ctx.tls.as_ref() else { return };
        match rustls::ServerConnection::new(tls.config.clone()) {
            Ok(conn) => {
                self.control.start_tls(conn, self.tls_token);
                self.control_readable = true;
            }
            Err(e) => {
                log::warn!("{}: cannot start TLS: {e}", self.peer);
                self.write_failed = true;
            }
        }
    }

    fn start_transfer(&mut self, plan: TransferPlan, ctx: &mut Ctx, now: Instant) {
        let id = ctx.next_pump_id;
        ctx.next_pump_id += 1;
        // Zero-copy (sendfile) needs the bytes to go to the socket as they are: no TLS.
        let throttle = match &plan.body {
            TransferBody::Send(_) => Throttle::unlimited(),
            TransferBody::Download { .. } => {
                Throttle::new(&ctx.shared.bandwidth, &ctx.shared.bwlimit_file, Direction::Download)
            }
            TransferBody::Upload { .. } => {
                Throttle::new(&ctx.shared.bandwidth, &ctx.shared.bwlimit_file, Direction::Upload)
            }
        };
        let mut pump = Pump::new(id, plan.body, now, !plan.protected, throttle);
        self.transfer_protected = plan.protected;
        if plan.protected && ctx.tls.is_none() {
            pump.fail(TransferOutcome::TlsRefused("TLS is not configured"));
        }
        let mut early = None;
        match plan.via {
            DataVia::Passive => {
                if let Some((stream, _)) = self.early_data.take() {
                    early = Some(stream);
                } else if self.passive.is_none() {
                    pump.fail(TransferOutcome::NoConnection("the passive port timed out; send PASV again"));
                }
            }
            DataVia::Active(target) => match active::start_connect(self.local.ip(), target) {
                Ok(mut sock) => {
                    match ctx.registry.register(
                        &mut sock,
                        token::token(self.id.slot, Kind::Data),
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        Ok(()) => self.connecting = Some(sock),
                        Err(_) => pump.fail(TransferOutcome::NoConnection("cannot register the data connection")),
                    }
                }
                Err(e) => {
                    log::debug!("{}: connect to {target} failed: {e}", self.peer);
                    pump.fail(TransferOutcome::NoConnection("the connection to the client's data port failed"));
                }
            },
        }
        pump.drive(now);
        self.pump = Some(pump);
        if let Some(stream) = early {
            self.attach_data(stream, false, ctx, now);
        }
    }

    /// Submits the pump's tasks and reports its end to the session. True if anything moved.
    fn service_pump(&mut self, ctx: &mut Ctx, now: Instant) -> bool {
        let Some(p) = self.pump.as_mut() else { return false };
        if let Some(want) = p.wanted_registration() {
            if let Some(tcp) = p.socket_tcp() {
                let result = if want {
                    ctx.registry.register(
                        tcp,
                        token::token(self.id.slot, Kind::Data),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                } else {
                    ctx.registry.deregister(tcp)
                };
                match result {
                    Ok(()) => p.set_registered(want),
                    // Without events the transfer could only stall: end it now.
                    Err(e) if want => {
                        log::warn!("{}: cannot register the data connection again: {e}", self.peer);
                        p.fail(TransferOutcome::ConnectionLost("cannot use the data connection"));
                    }
                    // Still registered: the reactor only wakes more often.
                    Err(_) => {}
                }
            }
        }
        let tasks = p.take_tasks();
        let moved = !tasks.is_empty();
        for task in tasks {
            ctx.workers.submit(Task::Pump { conn: self.id, pump: p.id, task });
        }
        match p.take_outcome() {
            Some(outcome) => {
                if p.moves_a_file() {
                    ctx.stats.file_transfer(&outcome, p.bytes(), p.is_upload());
                }
                if let TransferOutcome::TlsRefused(why) = &outcome {
                    log::info!("{}: data connection refused: {why}", self.peer);
                }
                self.pump = None;
                self.connecting = None;
                self.session.on_transfer_done(outcome, now);
                true
            }
            None => moved,
        }
    }

    fn process(&mut self, ctx: &mut Ctx, now: Instant) {
        let limits_input = ctx.shared.limits.max_pending_input;
        let limits_output = ctx.shared.limits.max_pending_output;
        for _ in 0..10_000 {
            let mut progressed = self.service_pump(ctx, now);
            while let Some(a) = self.session.poll_action() {
                self.apply(a, ctx, now);
                progressed = true;
            }
            let backlog = self.out.len() - self.out_pos;
            self.maybe_start_tls(ctx);
            if self.control_readable
                && !self.start_tls_pending
                && !self.read_closed
                && self.framer.buffered() < limits_input
                && backlog < limits_output
            {
                progressed |= self.read_control(ctx, limits_input);
            }
            if backlog < limits_output {
                match self.framer.peek() {
                    Some(Frame::TooLong) => {
                        self.session.on_line_too_long(now);
                        self.framer.consume();
                        progressed = true;
                    }
                    Some(Frame::Line(line)) if self.session.can_take(line) => {
                        if let Some(p) = &self.pump {
                            self.session.set_transfer_progress(p.bytes());
                        }
                        self.session.on_line(line, now);
                        self.framer.consume();
                        progressed = true;
                    }
                    _ => {}
                }
            }
            self.flush_control();
            if !progressed {
                self.close_control_if_done();
                return;
            }
        }
        log::warn!("{}: processing did not settle; continuing on the next event", self.peer);
    }

    /// Reads what the control socket has into the framer. True if bytes arrived.
    ///
    /// A plain socket that gave less than was asked for is empty: the reactor's registration
    /// is edge-triggered, so whatever arrives later brings a new event, and the read that would
    /// only say `EAGAIN` (one per command) is skipped. Not so under TLS (rustls may hold whole
    /// records already read), nor while `control_drain` is set (urgent data, a shut end).
    fn read_control(&mut self, ctx: &mut Ctx, limit: usize) -> bool {
        let mut got = false;
        while self.framer.buffered() < limit {
            let room = (limit - self.framer.buffered()).min(ctx.scratch.len());
            match self.control.read(&mut ctx.scratch[..room]) {
                Ok(0) => {
                    self.read_closed = true;
                    return got;
                }
                Ok(n) => {
                    self.framer.push(&ctx.scratch[..n]);
                    got = true;
                    if n < room && !self.control_drain && !self.control.is_tls() {
                        self.control_readable = false;
                        return got;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.control_readable = false;
                    self.control_drain = false;
                    return got;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.note_control_failure(&e);
                    self.read_closed = true;
                    self.write_failed = true;
                    return got;
                }
            }
        }
        got
    }

    /// Logs a failed TLS handshake or record on the control connection (from a read, or from a
    /// write that drove the handshake): an operator's first clue to a misconfigured client.
    fn note_control_failure(&self, e: &io::Error) {
        if self.control.is_tls() && e.kind() == io::ErrorKind::InvalidData {
            log::info!("{}: TLS on the control connection failed: {e}", self.peer);
        }
    }

    /// Once the session has closed and every reply is written, says goodbye properly over TLS
    /// (close_notify) before the socket closes. Only called when processing has settled, so no
    /// reply can still be queued behind the close.
    fn close_control_if_done(&mut self) {
        if self.session.is_closed() && self.out.is_empty() {
            match self.control.close_step() {
                Ok(done) => self.control_unflushed = !done,
                Err(_) => self.write_failed = true,
            }
        }
    }

    fn flush_control(&mut self) {
        while self.out_pos < self.out.len() {
            match self.control.write(&self.out[self.out_pos..]) {
                Ok(0) => {
                    self.write_failed = true;
                    break;
                }
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Under TLS a write may drive the handshake, reading the client's records.
                    self.note_control_failure(&e);
                    self.write_failed = true;
                    break;
                }
            }
        }
        if self.out_pos >= self.out.len() && !self.out.is_empty() {
            // Give the memory back: idle sessions hold no buffer.
            self.out = Vec::new();
            self.out_pos = 0;
        }
        match self.control.flush_step() {
            Ok(done) => self.control_unflushed = !done,
            Err(_) => self.write_failed = true,
        }
    }
}

/// A worker result for a transfer that no longer exists: an upload stream is aborted (its
/// partial file removed); a read stream is simply closed.
pub fn dispose(done: PumpDone, conn: ConnId, ctx: &Ctx) {
    // A sendfile task's stream and socket duplicate are simply closed (dropped) here; an
    // upload that was not committed is aborted.
    let stream = match done {
        PumpDone::Write { stream, .. } => Some(stream),
        PumpDone::RecvFile { stream, .. } => stream,
        _ => None,
    };
    if let Some(stream) = stream {
        ctx.workers.submit(Task::Pump { conn, pump: u64::MAX, task: crate::data::pump::PumpTask::Abort { stream } });
    }
}
