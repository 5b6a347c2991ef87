//! `Server`: owns the control listener, every connection, the passive-port pool and the
//! worker pool, and runs the reactor (`reactor.rs`) until SIGINT/SIGTERM.

pub mod connection;
pub mod limits;
mod proxied_accept;
pub mod proxy_header;
mod reactor;
mod remote_control;
pub mod stats;
pub mod systemd;
pub mod timers;
pub mod token;
pub mod workers;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use mio::net::TcpListener;
use mio::{Interest, Poll, Waker};

use crate::auth::StaticUser;
use crate::cli::Config;
use crate::data::passive_pool::PassivePool;
use crate::session::Shared;
use crate::tls::TlsContext;
use crate::vfs::Vfs;
use connection::{Connection, Ctx};
use limits::Limits;
use timers::Timers;
use workers::{Completion, Workers};

/// A bound, ready-to-run FTP server.
pub struct Server {
    poll: Poll,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    ctx: Ctx,
    conns: Vec<Option<Connection>>,
    free_slots: Vec<usize>,
    live: usize,
    /// Live sessions per client IP (for `--max-connections-per-ip`).
    per_ip: std::collections::HashMap<std::net::IpAddr, usize>,
    next_generation: u64,
    completions: Receiver<Completion>,
    signals: signal_hook_mio::v1_0::Signals,
    timers: Timers,
    /// The rc server (`--rc`).
    rc: Option<crate::rc::RcServer>,
    /// The metrics server (`--metrics-addr`).
    metrics: Option<crate::rc::RcServer>,
    /// rc `core/quit` was asked: stop as on SIGTERM.
    quit_requested: bool,
    /// systemd's `NOTIFY_SOCKET`, when set.
    notifier: Option<systemd::Notifier>,
    /// Connections from `--proxy-protocol-from` balancers whose header is still to come.
    awaiting_headers: proxied_accept::AwaitingHeaders,
}

impl Server {
    /// Binds the control listener and starts the workers serving `vfs` (`None` with
    /// `--auth-proxy`, where each login brings its own); `tls` enables FTPS.
    ///
    /// # Errors
    /// The address cannot be bound, or the poll, waker, signals or threads cannot be set up.
    pub fn bind(
        config: &Config,
        vfs: Option<Arc<Vfs>>,
        limits: Limits,
        tls: Option<TlsContext>,
        xferlog: Option<crate::xferlog::XferLog>,
        sockets: systemd::Activation,
    ) -> io::Result<Server> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), token::WAKER)?);
        let mut listener = match sockets.ftp {
            // Socket activation: systemd's socket replaces --addr.
            Some(l) => {
                socket2::SockRef::from(&l).set_tcp_nodelay(true)?;
                TcpListener::from_std(l)
            }
            None => crate::data::passive_pool::listen(config.addr, 1024)?,
        };
        // Clients send ABOR (or IAC IP, IAC DM) as TCP urgent data; Python's ftplib sends the
        // whole "ABOR\r\n" that way. Keep the urgent byte in the normal stream, or the line
        // would lose its final LF. Set here, it is copied to every accepted control connection.
        socket2::SockRef::from(&listener).set_out_of_band_inline(true)?;
        let local_addr = listener.local_addr()?;
        poll.registry().register(&mut listener, token::LISTENER, Interest::READABLE)?;
        let mut signals = signal_hook_mio::v1_0::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
            // Toggles the bandwidth limit, as in rclone.
            signal_hook::consts::SIGUSR2,
            // Caught (and logged) rather than left to kill the process: a write past the file
            // size limit (`ulimit -f`) then fails with EFBIG, which ends that upload with 452.
            // A handler, unlike SIG_IGN, is not inherited by the auth proxy's children.
            signal_hook::consts::SIGXFSZ,
        ])?;
        poll.registry().register(&mut signals, token::SIGNALS, Interest::READABLE)?;
        let proxy = match &config.auth_proxy {
            Some((program, timeout)) => Some(Arc::new(
                crate::auth::proxy::AuthProxy::new(program, *timeout, config.vfs)
                    .map_err(io::Error::other)?
                    .with_cache(config.cache.clone()),
            )),
            None => None,
        };
        let (done_tx, done_rx) = mpsc::channel();
        let workers = Workers::start(limits.workers, done_tx, waker)?;
        let shared = Arc::new(Shared {
            auth: Box::new(StaticUser::new(config.user.clone(), config.pass.clone())),
            vfs,
            proxy,
            vfs_options: config.vfs,
            public_ip: config.public_ip,
            limits,
            login_failures: Default::default(),
            tls: tls.as_ref().map(|t| t.policy),
            xferlog,
            bandwidth: Arc::new(crate::data::bandwidth::BandwidthLimiter::new(config.bwlimit.clone())),
            bwlimit_file: config.bwlimit_file.clone(),
            counters: Default::default(),
            proxy_protocol_from: config.proxy_protocol_from.clone(),
        });
        let ctx = Ctx {
            registry: poll.registry().try_clone()?,
            pool: PassivePool::new(config.passive_ports),
            workers,
            shared,
            scratch: vec![0; 16 * 1024],
            next_pump_id: 1,
            tls,
            stats: Default::default(),
        };
        let rc = match &config.rc {
            Some(opts) => {
                let rc = crate::rc::RcServer::bind(opts, crate::rc::Role::Rc, poll.registry(), sockets.rc)?;
                log::info!(
                    "Serving remote control on http://{}/ ({})",
                    rc.local_addr,
                    if opts.auth.is_some() { "Basic auth" } else { "no auth: --rc-no-auth" }
                );
                Some(rc)
            }
            None => None,
        };
        let metrics = match &config.metrics {
            Some(opts) => {
                let metrics = crate::rc::RcServer::bind(opts, crate::rc::Role::Metrics, poll.registry(), None)?;
                let base = if opts.base_url.is_empty() { String::new() } else { format!("{}/", opts.base_url) };
                log::info!(
                    "Serving metrics on http://{}/{base}metrics ({})",
                    metrics.local_addr,
                    if opts.auth.is_some() { "Basic auth" } else { "no auth" }
                );
                Some(metrics)
            }
            None => None,
        };
        Ok(Server {
            metrics,
            poll,
            listener: Some(listener),
            local_addr,
            ctx,
            conns: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            per_ip: std::collections::HashMap::new(),
            next_generation: 1,
            completions: done_rx,
            signals,
            timers: Timers::default(),
            rc,
            quit_requested: false,
            notifier: sockets.notifier,
            awaiting_headers: Default::default(),
        })
    }

    /// The address the control listener is bound to (with the real port when `:0` was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}
