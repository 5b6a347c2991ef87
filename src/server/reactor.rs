//! The event loop: one thread, one `mio::Poll`. It accepts control connections, dispatches
//! readiness by token, applies worker completions, fires timers, and handles signals. It never
//! blocks on disk (workers do that) or on a peer (every socket is non-blocking and every
//! buffer bounded). Events for unknown or stale tokens are ignored.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use mio::Events;

use crate::server::connection::{self, Connection};
use crate::server::token::{self, ConnId};
use crate::server::workers::Completion;
use crate::server::Server;
use crate::session::canonical_ip;

impl Server {
    /// Runs until SIGINT or SIGTERM, then lets transfers in flight finish for the grace time
    /// and returns.
    ///
    /// # Errors
    /// Only a failing poll ends the loop with an error.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut shutdown_deadline: Option<Instant> = None;
        let mut accept_paused_until: Option<Instant> = None;
        self.notify(&format!("READY=1\nSTATUS=Serving FTP on {}", self.local_addr));
        let watchdog = self.notifier.as_ref().and_then(|n| n.watchdog);
        let mut next_watchdog = watchdog.map(|every| Instant::now() + every);
        loop {
            let now = Instant::now();
            if let (Some(at), Some(every)) = (next_watchdog, watchdog) {
                if now >= at {
                    // From the loop itself: a loop that stops turning stops the pings.
                    self.notify("WATCHDOG=1");
                    next_watchdog = Some(now + every);
                }
            }
            let wake_at = [
                self.timers.next(),
                shutdown_deadline,
                accept_paused_until,
                next_watchdog,
                self.awaiting_headers.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = wake_at.map(|t| t.saturating_duration_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    token::LISTENER => {
                        if let Some(pause) = self.accept_all(now) {
                            accept_paused_until = Some(pause);
                        }
                    }
                    token::WAKER => {}
                    token::RC_LISTENER => {
                        if let Some(rc) = self.rc.as_mut() {
                            rc.accept(&self.ctx.registry);
                        }
                    }
                    token::METRICS_LISTENER => {
                        if let Some(metrics) = self.metrics.as_mut() {
                            metrics.accept(&self.ctx.registry);
                        }
                    }
                    token::SIGNALS => {
                        for signal in self.signals.pending() {
                            match signal {
                                signal_hook::consts::SIGHUP => self.on_sighup(),
                                signal_hook::consts::SIGUSR2 => self.ctx.shared.bandwidth.toggle(),
                                signal_hook::consts::SIGXFSZ => {
                                    log::warn!("a write went past the file size limit (ulimit -f); that upload failed")
                                }
                                _ if shutdown_deadline.is_some() => {
                                    log::warn!("second stop signal: exiting now");
                                    return Ok(());
                                }
                                _ => {
                                    shutdown_deadline = Some(now + self.ctx.shared.limits.shutdown_grace);
                                    self.begin_shutdown(now);
                                }
                            }
                        }
                    }
                    t => {
                        if let Some((slot, token::Kind::Rc)) = token::decode(t) {
                            self.on_rc_event(crate::rc::Role::Rc, slot);
                        } else if let Some((slot, token::Kind::Metrics)) = token::decode(t) {
                            self.on_rc_event(crate::rc::Role::Metrics, slot);
                        } else if let Some((slot, token::Kind::Header)) = token::decode(t) {
                            self.on_proxy_header_event(slot, now);
                        } else if let Some((slot, kind)) = token::decode(t) {
                            if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                                c.on_event(kind, event, &mut self.ctx, now);
                                self.after(slot);
                            }
                        }
                    }
                }
            }
            self.apply_completions(now);
            if std::mem::take(&mut self.quit_requested) && shutdown_deadline.is_none() {
                log::info!("rc core/quit: stopping");
                shutdown_deadline = Some(now + self.ctx.shared.limits.shutdown_grace);
                self.begin_shutdown(now);
            }
            self.awaiting_headers.expire(now, &self.ctx.registry);
            if accept_paused_until.is_some_and(|t| now >= t) {
                accept_paused_until = self.accept_all(now);
            }
            for id in self.timers.due(now) {
                if let Some(c) = conn_in(&mut self.conns, id) {
                    c.scheduled = None;
                    c.on_timeout(&mut self.ctx, now);
                    self.after(id.slot);
                }
            }
            if let Some(deadline) = shutdown_deadline {
                if self.live == 0 {
                    log::info!("Stopped FTP on {}", self.local_addr);
                    return Ok(());
                }
                if now >= deadline {
                    log::warn!(
                        "Stopping FTP on {}: {} session(s) still busy after the grace time",
                        self.local_addr,
                        self.live
                    );
                    for slot in 0..self.conns.len() {
                        if let Some(c) = self.conns[slot].take() {
                            c.teardown(&mut self.ctx);
                        }
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Accepts until the backlog is empty. Returns when to try again if accepting must pause
    /// (out of file descriptors).
    fn accept_all(&mut self, now: Instant) -> Option<Instant> {
        loop {
            let listener = self.listener.as_ref()?;
            match listener.accept() {
                Ok((stream, peer)) => {
                    if self.ctx.shared.proxy_protocol_from.contains(peer.ip()) {
                        // Through a balancer: who the client is comes first, in the header.
                        self.await_proxy_header(stream, peer, now);
                    } else {
                        self.admit(stream, peer, None, now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE/ENFILE and friends: the connection waits in the backlog.
                    log::warn!("accept failed: {e}; pausing new connections for 100 ms");
                    return Some(now + Duration::from_millis(100));
                }
            }
        }
    }

    /// Opens a session for a new control connection from `peer` (the client's address, from a
    /// PROXY header when a balancer sent one), unless a limit or a ban refuses it.
    /// `advertised` is the address the client connected to when a balancer says so (its front
    /// end): PASV replies name it.
    pub(super) fn admit(
        &mut self,
        mut stream: mio::net::TcpStream,
        peer: std::net::SocketAddr,
        advertised: Option<std::net::IpAddr>,
        now: Instant,
    ) {
        if let Some(why) = self.refusal(peer.ip(), now) {
            log::warn!("{peer}: refused: {why}");
            let _ = stream.write(format!("421 {why}, try again later\r\n").as_bytes());
            return;
        }
        // TCP_NODELAY and SO_OOBINLINE come from the listener (`Server::bind`).
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        let id = ConnId { slot, generation: self.next_generation };
        self.next_generation += 1;
        // The listener's own address when it names one: no getsockname per session.
        let local = Some(self.local_addr).filter(|a| !a.ip().is_unspecified());
        match Connection::open(id, stream, peer, local, advertised, &mut self.ctx, now) {
            Ok(c) => {
                log::debug!("{peer}: connected");
                self.conns[slot] = Some(c);
                self.live += 1;
                self.ctx.stats.sessions += 1;
                *self.per_ip.entry(canonical_ip(peer.ip())).or_insert(0) += 1;
                self.after(slot);
            }
            Err(e) => {
                log::warn!("{peer}: cannot set up the session: {e}");
                self.free_slots.push(slot);
            }
        }
    }

    /// Why a new connection from `ip` is refused, if it is: the session limit, the per-IP
    /// limit, or a ban after repeated failed logins.
    fn refusal(&self, ip: std::net::IpAddr, now: Instant) -> Option<&'static str> {
        let limits = &self.ctx.shared.limits;
        let ip = canonical_ip(ip);
        if self.ctx.shared.login_failures.is_banned(ip, now) {
            return Some("Too many failed logins from your address");
        }
        if self.live >= limits.max_sessions {
            return Some("Too many connections");
        }
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if limits.max_sessions_per_ip > 0 && from_ip >= limits.max_sessions_per_ip {
            return Some("Too many connections from your address");
        }
        None
    }

    fn apply_completions(&mut self, now: Instant) {
        while let Ok(c) = self.completions.try_recv() {
            match c {
                Completion::Session { conn, result } => match conn_in(&mut self.conns, conn) {
                    Some(c) => {
                        c.on_job_done(result, &mut self.ctx, now);
                        self.after(conn.slot);
                    }
                    None => {
                        // The session is gone; an opened upload must not leave a partial file.
                        if let Ok(crate::session::JobOutput::Writer(stream, _)) = result {
                            self.ctx.workers.submit(crate::server::workers::Task::Pump {
                                conn,
                                pump: u64::MAX,
                                task: crate::data::pump::PumpTask::Abort { stream },
                            });
                        }
                    }
                },
                Completion::Pump { conn, pump, done } => match conn_in(&mut self.conns, conn) {
                    Some(c) => {
                        c.on_pump_done(pump, Some(done), &mut self.ctx, now);
                        self.after(conn.slot);
                    }
                    None => connection::dispose(done, conn, &self.ctx),
                },
                Completion::Rc { slot, generation, result } => self.on_rc_done(slot, generation, result),
                Completion::PumpFailed { conn, pump } => {
                    if let Some(c) = conn_in(&mut self.conns, conn) {
                        c.on_pump_done(pump, None, &mut self.ctx, now);
                        self.after(conn.slot);
                    }
                }
            }
        }
    }

    /// SIGHUP: flush every cached directory listing, and re-read the TLS certificate and key (a
    /// bad new file keeps the old ones).
    fn on_sighup(&mut self) {
        self.notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", crate::sys::monotonic_usec()));
        self.reload();
        self.notify("READY=1");
    }

    /// Tells systemd (`NOTIFY_SOCKET`) a state change, when it listens.
    fn notify(&self, state: &str) {
        if let Some(n) = &self.notifier {
            n.send(state);
        }
    }

    fn reload(&mut self) {
        if let Some(vfs) = &self.ctx.shared.vfs {
            vfs.forget_all();
        }
        if let Some(proxy) = &self.ctx.shared.proxy {
            proxy.forget_all();
        }
        log::info!("SIGHUP: flushed the directory cache");
        if let Some(tls) = self.ctx.tls.as_mut() {
            match tls.reload() {
                Ok(()) => log::info!("SIGHUP: reloaded the TLS certificate and key"),
                Err(e) => log::error!("SIGHUP: keeping the old TLS certificate: {e}"),
            }
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        self.notify("STOPPING=1");
        log::info!("Stopping FTP on {}: no new connections; waiting for transfers to finish", self.local_addr);
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        self.awaiting_headers.clear(&self.ctx.registry);
        for slot in 0..self.conns.len() {
            if let Some(c) = self.conns[slot].as_mut() {
                c.begin_shutdown(&mut self.ctx, now);
                self.after(slot);
            }
        }
    }

    /// After anything happened on a connection: drop it if finished, else make sure the timer
    /// heap knows its next deadline.
    fn after(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else { return };
        if c.finished() {
            if let Some(c) = self.conns[slot].take() {
                log::debug!("{}: disconnected", c.peer());
                let ip = canonical_ip(c.peer().ip());
                if let Some(n) = self.per_ip.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        self.per_ip.remove(&ip);
                    }
                }
                c.teardown(&mut self.ctx);
                self.free_slots.push(slot);
                self.live -= 1;
            }
            return;
        }
        let next = c.next_deadline(&self.ctx);
        if next.is_some() && (c.scheduled.is_none() || next < c.scheduled) {
            c.scheduled = next;
            if let Some(at) = next {
                self.timers.schedule(at, c.id);
            }
        }
    }
}

/// The live connection with this identity (not a newer one in the same slot).
fn conn_in(conns: &mut [Option<Connection>], id: ConnId) -> Option<&mut Connection> {
    conns.get_mut(id.slot).and_then(Option::as_mut).filter(|c| c.id == id)
}
