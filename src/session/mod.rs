//! `Session`: one control connection's FTP state machine. It does no I/O.
//!
//! Inputs: [`Session::on_line`], [`Session::on_line_too_long`], [`Session::on_job_done`],
//! [`Session::on_passive_ready`], [`Session::on_transfer_done`], [`Session::on_timeout`].
//! Outputs: [`Session::poll_action`] until it returns `None`, and [`Session::next_deadline`].
//! The reactor (`server/`) owns the sockets and workers and feeds the results back, so the
//! whole protocol can be driven by a test or a fuzzer with no sockets at all.
//!
//! Every command gets exactly one final reply (a 1xx preliminary reply may come first).
//! Lines are taken one at a time: while a job runs, the next line waits in the framer; while
//! data moves, only ABOR, STAT, NOOP and QUIT are taken (`can_take`).

pub mod counters;
mod data_setup;
mod files;
mod info;
pub mod jobs;
mod listing;
mod login;
mod navigate;
pub mod state;
mod tls;
mod transfer;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::Authenticator;
use crate::data::TransferPlan;
use crate::ftp::args::TransferType;
use crate::ftp::command::{self, Command};
use crate::ftp::listing::FactSet;
use crate::ftp::reply::{self, Reply, ReplyCode};
use crate::server::limits::Limits;
use crate::vfs::{Vfs, VfsPath};
pub use jobs::{Job, JobOutput, JobResult};
use state::{Busy, Pending, Phase};

/// What every session of one server shares: who may log in, what is served, the limits.
pub struct Shared {
    /// Login check (`--user`/`--pass`), when there is no auth proxy.
    pub auth: Box<dyn Authenticator>,
    /// The served file system, when there is no auth proxy.
    pub vfs: Option<Arc<Vfs>>,
    /// `--auth-proxy`: logins and their file systems come from the operator's program.
    pub proxy: Option<Arc<crate::auth::proxy::AuthProxy>>,
    /// The VFS flags every file system is served with.
    pub vfs_options: crate::vfs::VfsOptions,
    /// `--public-ip` for PASV replies.
    pub public_ip: Option<Ipv4Addr>,
    /// Timeouts and sizes.
    pub limits: Limits,
    /// Failed logins per client IP, across sessions.
    pub login_failures: crate::auth::failures::LoginFailures,
    /// TLS policy when a certificate is configured; `None` means no FTPS.
    pub tls: Option<crate::tls::TlsPolicy>,
    /// `--xferlog`: a line per file transfer.
    pub xferlog: Option<crate::xferlog::XferLog>,
    /// Logins and commands, for `/metrics`.
    pub counters: counters::Counters,
    /// `--bwlimit`: the limit all transfers share (rc `core/bwlimit`, SIGUSR2).
    pub bandwidth: Arc<crate::data::bandwidth::BandwidthLimiter>,
    /// `--bwlimit-file`: each transfer's own limit.
    pub bwlimit_file: crate::data::bandwidth::Timetable,
    /// `--proxy-protocol-from`: balancers whose connections start with a PROXY header.
    pub proxy_protocol_from: crate::server::proxy_header::TrustedProxies,
}

/// Something the reactor must do for a session.
#[derive(Debug)]
pub enum Action {
    /// Send this reply on the control connection.
    Reply(Reply),
    /// Run this job on a worker against the session's file system; its result comes back
    /// through `on_job_done`.
    Job(Job, Option<Arc<Vfs>>),
    /// Open a passive listener; the result comes back through `on_passive_ready`.
    OpenPassive,
    /// Close any passive listener and unused data connection (PORT replaced PASV).
    DropDataConnection,
    /// Run a transfer; its end comes back through `on_transfer_done`.
    StartTransfer(TransferPlan),
    /// Stop the transfer in progress; `on_transfer_done(Aborted)` follows.
    AbortTransfer,
    /// Flush the replies sent so far (the 234), discard any input already read, and start TLS
    /// on the control connection.
    StartTls,
    /// Flush the replies sent so far, then close the control connection.
    Close,
}

/// How the next data connection will be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataSetup {
    /// No PASV/EPSV/PORT/EPRT yet since the last transfer.
    None,
    /// A passive port is open.
    Passive,
    /// Connect to this address (the client's, checked).
    Active(SocketAddr),
}

/// One FTP control session.
pub struct Session {
    shared: Arc<Shared>,
    peer: SocketAddr,
    local: SocketAddr,
    phase: Phase,
    busy: Busy,
    cwd: VfsPath,
    transfer_type: TransferType,
    data: DataSetup,
    epsv_all: bool,
    restart_at: u64,
    facts: FactSet,
    actions: VecDeque<Action>,
    connected_at: Instant,
    last_activity: Instant,
    failed_logins: u32,
    quit_after_transfer: bool,
    shutdown_after_busy: bool,
    /// Unknown commands, and commands refused before login (see `count_bad_command`).
    bad_commands: u32,
    transfer_bytes: u64,
    /// The file transfer running (path, start, upload), for `--xferlog`.
    file_transfer: Option<(String, Instant, bool)>,
    /// The control connection is (or is becoming) TLS.
    tls_active: bool,
    /// PBSZ was given since AUTH.
    pbsz_done: bool,
    /// PROT P: data connections are TLS.
    prot_private: bool,
    /// What this session serves, once logged in.
    vfs: Option<Arc<Vfs>>,
    closed: bool,
}

impl Session {
    /// A new session for a control connection from `peer` to our `local` address; queues the
    /// 220 greeting.
    pub fn new(shared: Arc<Shared>, peer: SocketAddr, local: SocketAddr, now: Instant) -> Session {
        let mut s = Session {
            shared,
            peer: canonical(peer),
            local: canonical(local),
            phase: Phase::AwaitUser,
            busy: Busy::Idle,
            cwd: VfsPath::root(),
            transfer_type: TransferType::Image,
            data: DataSetup::None,
            epsv_all: false,
            restart_at: 0,
            facts: FactSet::all(),
            actions: VecDeque::new(),
            connected_at: now,
            last_activity: now,
            failed_logins: 0,
            quit_after_transfer: false,
            file_transfer: None,
            vfs: None,
            shutdown_after_busy: false,
            bad_commands: 0,
            transfer_bytes: 0,
            tls_active: false,
            pbsz_done: false,
            prot_private: false,
            closed: false,
        };
        if s.shared.tls.is_some_and(|p| p.implicit) {
            // Implicit FTPS: TLS from the first byte, data protected by default.
            s.tls_active = true;
            s.pbsz_done = true;
            s.prot_private = true;
        }
        s.reply(ReplyCode::ServiceReady, format!("ftpvfs {} ready", env!("CARGO_PKG_VERSION")));
        s
    }

    /// The next thing the reactor must do, or `None` when there is nothing more.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether the session will take this line now. While a job or login delay is pending,
    /// nothing is taken; during a transfer only ABOR, STAT, NOOP and QUIT are.
    pub fn can_take(&self, line: &[u8]) -> bool {
        if self.closed {
            return false;
        }
        match self.busy {
            Busy::Idle => true,
            Busy::Transfer(_) => {
                matches!(command::split_verb(line).map(|(v, _)| v).as_deref(), Ok("ABOR" | "STAT" | "NOOP" | "QUIT"))
            }
            _ => false,
        }
    }

    /// Whether the session has finished (after QUIT, a timeout or a fatal refusal).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether nothing is pending: no job, transfer or held reply.
    pub fn is_idle(&self) -> bool {
        matches!(self.busy, Busy::Idle)
    }

    /// The server is stopping: an idle session is told so and closed now; a transfer in
    /// progress finishes first (its final reply, then 421).
    pub fn on_shutdown(&mut self) {
        if self.closed {
            return;
        }
        if self.is_idle() {
            self.reply(ReplyCode::ServiceNotAvailable, "Server shutting down, closing control connection");
            self.close();
        } else {
            self.shutdown_after_busy = true;
        }
    }

    /// Whether a transfer is running (shutdown waits for these).
    pub fn in_transfer(&self) -> bool {
        matches!(self.busy, Busy::Transfer(_) | Busy::Aborting)
    }

    /// The reactor's count of bytes moved so far by the running transfer (for STAT).
    pub fn set_transfer_progress(&mut self, bytes: u64) {
        self.transfer_bytes = bytes;
    }

    /// The nearest moment at which [`on_timeout`](Self::on_timeout) must be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let limits = &self.shared.limits;
        match self.busy {
            Busy::LoginDelay { until } => Some(until),
            Busy::Transfer(_) | Busy::Aborting | Busy::Job(_) | Busy::OpeningPassive { .. } => None,
            Busy::Idle => Some(if self.logged_in() {
                self.last_activity + limits.idle_timeout
            } else {
                (self.connected_at + limits.login_timeout).min(self.last_activity + limits.idle_timeout)
            }),
        }
    }

    /// Time passed; answers a held login failure or closes an idle session.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if let Busy::LoginDelay { until } = self.busy {
            if now >= until {
                self.busy = Busy::Idle;
                self.finish_failed_login();
            }
            return;
        }
        if matches!(self.busy, Busy::Idle) && self.next_deadline().is_some_and(|d| now >= d) {
            let why = if self.logged_in() { "Idle timeout" } else { "Login timeout" };
            log::debug!("{}: {why}, closing", self.peer);
            self.reply(ReplyCode::ServiceNotAvailable, format!("{why}: closing control connection"));
            self.close();
        }
    }

    /// Handles a line too long to be a command (its bytes were discarded).
    pub fn on_line_too_long(&mut self, now: Instant) {
        self.last_activity = now;
        self.reply(ReplyCode::SyntaxError, "Command line too long");
        self.count_bad_command();
    }

    /// Counts an unknown or malformed command, or one refused before login; past
    /// `--max-bad-commands` the session is closed with 421. A client speaking another protocol
    /// to the FTP port (an HTTP request, a mail client) never gets far.
    fn count_bad_command(&mut self) {
        self.bad_commands += 1;
        if self.bad_commands >= self.shared.limits.max_bad_commands {
            log::info!("{}: {} bad commands, closing", self.peer, self.bad_commands);
            self.reply(ReplyCode::ServiceNotAvailable, "Too many bad commands, closing control connection");
            self.close();
        }
    }

    /// Handles one command line (framed, without CRLF).
    pub fn on_line(&mut self, line: &[u8], now: Instant) {
        self.last_activity = now;
        let cmd = match command::parse(line) {
            Ok(c) => c,
            Err(e) => {
                log::trace!("{} <- (unparsable line: {e})", self.peer);
                self.reply_with(reply::for_parse_error(e));
                if e == command::ParseError::BadLine || !self.logged_in() {
                    self.count_bad_command();
                }
                return;
            }
        };
        match &cmd {
            Command::Pass(_) => log::trace!("{} <- PASS ****", self.peer),
            other => log::trace!("{} <- {}", self.peer, other.to_line()),
        }
        if self.in_transfer() {
            self.on_command_during_transfer(cmd);
            return;
        }
        if let Err(r) = self.allowed(&cmd) {
            self.reply_with(r);
            self.count_bad_command();
            return;
        }
        // Any command but RNTO ends a pending rename.
        if let Phase::AwaitRnto { user, .. } = &self.phase {
            if !matches!(cmd, Command::Rnto(_)) {
                self.phase = Phase::LoggedIn { user: user.clone() };
            }
        }
        self.shared.counters.command(cmd.verb());
        self.dispatch(cmd, now);
    }

    /// Refuses, in one place, a verb the phase does not allow: 530 before login, except the
    /// login and information commands.
    fn allowed(&self, cmd: &Command) -> Result<(), Reply> {
        if self.logged_in() {
            return Ok(());
        }
        match cmd {
            Command::User(_)
            | Command::Pass(_)
            | Command::Quit
            | Command::Noop
            | Command::Syst
            | Command::Feat
            | Command::Opts(_)
            | Command::Help(_)
            | Command::Acct
            | Command::Auth(_)
            | Command::Pbsz(_)
            | Command::Prot(_)
            | Command::Ccc => Ok(()),
            Command::Stat(p) if p.is_empty() => Ok(()),
            _ => Err(Reply::new(ReplyCode::NotLoggedIn, "Please login with USER and PASS")),
        }
    }

    fn dispatch(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::User(u) => self.user(u),
            Command::Pass(p) => self.pass(p, now),
            Command::Acct => self.reply(ReplyCode::Superfluous, "ACCT not needed"),
            Command::Quit => self.quit(),
            Command::Noop => self.reply(ReplyCode::CommandOk, "OK"),
            Command::Syst => self.reply(ReplyCode::SystemType, "UNIX Type: L8"),
            Command::Feat => self.reply_with(crate::ftp::features::feat_reply(self.shared.tls.is_some())),
            Command::Auth(m) => self.auth(&m),
            Command::Avbl(p) => self.avbl(&p),
            Command::Pbsz(n) => self.pbsz(&n),
            Command::Prot(l) => self.prot(&l),
            Command::Ccc => self.ccc(),
            Command::Help(t) => self.reply_with(crate::ftp::features::help_reply(&t)),
            Command::Opts(o) => self.opts(o),
            Command::Allo => self.reply(ReplyCode::Superfluous, "ALLO not needed"),
            Command::Stat(p) => self.stat(p),
            Command::Pwd => self.pwd(),
            Command::Cwd(p) => self.cwd(&p),
            Command::Cdup => self.cwd(".."),
            Command::Mkd(p) => self.mkd(&p),
            Command::Rmd(p) => self.rmd(&p),
            Command::Dele(p) => self.dele(&p),
            Command::Rnfr(p) => self.rnfr(&p),
            Command::Rnto(p) => self.rnto(&p),
            Command::Size(p) => self.size(&p),
            Command::Mdtm(p) => self.mdtm(&p),
            Command::Mfmt(t, p) => self.mfmt(t, &p),
            Command::Type(t) => self.set_type(t),
            Command::Mode => self.reply(ReplyCode::CommandOk, "Mode set to S"),
            Command::Stru => self.reply(ReplyCode::CommandOk, "Structure set to F"),
            Command::Pasv => self.pasv(false),
            Command::Epsv(a) => self.epsv(a),
            Command::Port(a) => self.port(SocketAddr::V4(a)),
            Command::Eprt(t) => self.eprt(t),
            Command::List(a) => self.list(a, jobs::ListFormat::List),
            Command::Nlst(a) => self.list(a, jobs::ListFormat::Nlst),
            Command::Mlsd(p) => self.mlsd(&p),
            Command::Mlst(p) => self.mlst(&p),
            Command::Rest(n) => self.rest(n),
            Command::Retr(p) => self.retr(&p),
            Command::Stor(p) => self.store(&p, false),
            Command::Appe(p) => self.store(&p, true),
            Command::Stou => self.stou(),
            Command::Abor => self.abor_idle(),
        }
    }

    /// Handles a worker's result for the pending job.
    pub fn on_job_done(&mut self, result: JobResult, now: Instant) {
        self.last_activity = now;
        let Busy::Job(pending) = std::mem::replace(&mut self.busy, Busy::Idle) else {
            log::warn!("{}: a job result arrived with no job pending", self.peer);
            return;
        };
        match pending {
            Pending::Avbl(p) => self.avbl_done(p, result),
            Pending::ProxyLogin(user) => self.proxy_login_done(user, result, now),
            Pending::StatServer => self.stat_server(Some(result)),
            Pending::Cwd(p) => self.cwd_done(p, result),
            Pending::Dele(p) => {
                self.shared.counters.count_success(&result, &self.shared.counters.files_deleted);
                self.simple_done(result, ReplyCode::FileActionOk, format!("Deleted {p}"))
            }
            Pending::Listing => self.listing_done(result),
            Pending::Mdtm => self.mdtm_done(result),
            Pending::Mfmt(p, t) => self.mfmt_done(p, t, result),
            Pending::Mkd(p) => {
                self.simple_done(result, ReplyCode::PathCreated, format!("{} created", reply::quote_path(p.as_str())))
            }
            Pending::Mlst(p) => self.mlst_done(p, result),
            Pending::Retr(p) => self.retr_opened(p, result),
            Pending::Rmd(p) => {
                self.shared.counters.count_success(&result, &self.shared.counters.dirs_deleted);
                self.simple_done(result, ReplyCode::FileActionOk, format!("Removed directory {p}"))
            }
            Pending::Rnfr(p) => self.rnfr_done(p, result),
            Pending::Rnto => {
                self.shared.counters.count_success(&result, &self.shared.counters.files_renamed);
                self.simple_done(result, ReplyCode::FileActionOk, "Rename successful".to_string())
            }
            Pending::Size(p) => self.size_done(p, result),
            Pending::StatPath(p) => self.stat_path_done(p, result),
            Pending::Store { unique } => self.store_opened(unique, result),
        }
        self.maybe_finish_shutdown();
    }

    /// Completes a shutdown that waited for the session to become idle.
    pub(crate) fn maybe_finish_shutdown(&mut self) {
        if self.shutdown_after_busy && self.is_idle() {
            self.shutdown_after_busy = false;
            self.on_shutdown();
        }
    }

    fn simple_done(&mut self, result: JobResult, code: ReplyCode, text: String) {
        match result {
            Ok(_) => self.reply(code, text),
            Err(e) => self.storage_error(&e),
        }
    }

    fn storage_error(&mut self, e: &crate::backend::Error) {
        log::debug!("{}: {e}", self.peer);
        self.reply_with(reply::for_storage_error(e));
    }

    /// Queues a job and waits for it.
    fn start_job(&mut self, job: Job, pending: Pending) {
        self.busy = Busy::Job(pending);
        self.actions.push_back(Action::Job(job, self.vfs.clone()));
    }

    /// Resolves a client path against the current directory, replying 553 when refused.
    fn resolve(&mut self, arg: &str) -> Option<VfsPath> {
        match self.cwd.resolve(arg) {
            Ok(p) => Some(p),
            Err(e) => {
                self.reply(ReplyCode::NameNotAllowed, e.to_string());
                None
            }
        }
    }

    /// Refuses a change under `--read-only` with 550; true when refused.
    fn refuse_if_read_only(&mut self) -> bool {
        // The login's own VFS may be read-only where the server's options are not (an auth
        // proxy's http remote).
        if self.shared.vfs_options.read_only || self.vfs.as_ref().is_some_and(|v| v.options().read_only) {
            self.reply(ReplyCode::FileUnavailable, "Permission denied: the server is read-only");
            true
        } else {
            false
        }
    }

    fn logged_in(&self) -> bool {
        matches!(self.phase, Phase::LoggedIn { .. } | Phase::AwaitRnto { .. })
    }

    fn reply(&mut self, code: ReplyCode, text: impl Into<String>) {
        self.reply_with(Reply::new(code, text));
    }

    fn reply_with(&mut self, r: Reply) {
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("{} -> {}", self.peer, r.to_wire().trim_end());
        }
        self.actions.push_back(Action::Reply(r));
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.actions.push_back(Action::Close);
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

/// The IPv4 address inside an IPv4-mapped IPv6 address, else the address itself.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// How long a failed login waits before its 530: 1 s, 2 s, 4 s, then 8 s, counting the
/// client IP's recent failures across sessions.
fn login_delay(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.saturating_sub(1).min(3))
}

#[cfg(test)]
mod tests;
