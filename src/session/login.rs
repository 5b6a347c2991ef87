//! USER, PASS, QUIT, and the failed-login delay.
//!
//! A wrong password is answered with 530 only after a delay that doubles with each failure
//! (1 s, 2 s, 4 s, 8 s), counted per session and per client IP (so reconnecting does not reset
//! it); after `Limits::max_login_failures` in one session the session is closed with 421.

use std::time::Instant;

use crate::auth::Secret;
use crate::ftp::reply::ReplyCode;
use crate::session::jobs::{Job, JobOutput, JobResult};
use crate::session::state::{Busy, Pending, Phase};
use crate::session::{login_delay, Session};
use crate::vfs::VfsPath;

/// The one line a failed login logs, in a fixed format that `dist/fail2ban/filter.d/ftpvfs.conf`
/// matches: `login failed for user "NAME" from IP port PORT (attempt N, M from this address)`.
/// The name is quoted with Rust's escapes, so no user name can fake the address part.
pub fn failed_login_line(peer: std::net::SocketAddr, user: &str, attempt: u32, from_ip: u32) -> String {
    format!(
        "login failed for user {user:?} from {} port {} (attempt {attempt}, {from_ip} from this address)",
        peer.ip().to_canonical(),
        peer.port()
    )
}

impl Session {
    pub(super) fn user(&mut self, user: String) {
        if self.tls_required() && !self.tls_active {
            // SECURITY: credentials never travel in clear text when a certificate is configured.
            self.reply(ReplyCode::NotLoggedIn, "TLS required: send AUTH TLS before logging in");
            return;
        }
        // USER while logged in starts a new login (RFC 959 allows a change of user).
        self.phase = Phase::AwaitPass { user };
        self.vfs = None;
        self.cwd = VfsPath::root();
        self.reply(ReplyCode::NeedPassword, "Password required");
    }

    pub(super) fn pass(&mut self, pass: Secret<String>, now: Instant) {
        let user = match &self.phase {
            Phase::AwaitPass { user } => user.clone(),
            Phase::LoggedIn { .. } | Phase::AwaitRnto { .. } => {
                self.reply(ReplyCode::LoggedIn, "Already logged in");
                return;
            }
            Phase::AwaitUser => {
                self.reply(ReplyCode::BadSequence, "Login with USER first");
                return;
            }
        };
        if let Some(proxy) = self.shared.proxy.clone() {
            let ip = self.peer.ip();
            self.start_job(Job::ProxyLogin { proxy, user: user.clone(), pass, ip }, Pending::ProxyLogin(user));
        } else if self.shared.auth.check(&user, &pass) {
            self.login_succeeded(user, self.shared.vfs.clone());
        } else {
            self.login_failed(user, now);
        }
    }

    /// The auth proxy's answer.
    pub(super) fn proxy_login_done(&mut self, user: String, result: JobResult, now: Instant) {
        match result {
            Ok(JobOutput::LoggedIn(vfs)) => self.login_succeeded(user, Some(vfs)),
            _ => self.login_failed(user, now),
        }
    }

    fn login_succeeded(&mut self, user: String, vfs: Option<std::sync::Arc<crate::vfs::Vfs>>) {
        log::debug!("{}: {user:?} logged in", self.peer);
        self.shared.counters.logins_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.failed_logins = 0;
        self.shared.login_failures.clear(self.peer.ip());
        self.vfs = vfs;
        self.phase = Phase::LoggedIn { user };
        self.reply(ReplyCode::LoggedIn, "Login successful");
    }

    fn login_failed(&mut self, user: String, now: Instant) {
        self.failed_logins += 1;
        self.shared.counters.logins_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let limits = &self.shared.limits;
        let from_ip = self.shared.login_failures.record(self.peer.ip(), now, limits.ban_after, limits.ban_time);
        log::info!("{}", failed_login_line(self.peer, &user, self.failed_logins, from_ip));
        self.phase = Phase::AwaitUser;
        self.busy = Busy::LoginDelay { until: now + login_delay(self.failed_logins.max(from_ip)) };
    }

    /// Sends the held 530, or closes the session after too many failures.
    pub(super) fn finish_failed_login(&mut self) {
        if self.failed_logins >= self.shared.limits.max_login_failures {
            self.reply(ReplyCode::ServiceNotAvailable, "Too many failed logins, closing control connection");
            self.close();
        } else {
            self.reply(ReplyCode::NotLoggedIn, "Login incorrect");
        }
    }

    pub(super) fn quit(&mut self) {
        self.reply(ReplyCode::ClosingControl, "Goodbye");
        self.close();
    }
}
