//! AUTH, PBSZ, PROT and CCC (RFC 2228, RFC 4217).
//!
//! AUTH TLS (or SSL) answers 234 and asks the reactor to start TLS ([`Action::StartTls`]);
//! the reactor discards any plaintext the client pipelined behind AUTH (CVE-2011-1575 class)
//! and the session starts over at USER (RFC 2228: AUTH resets the login). PBSZ must precede
//! PROT, and only PROT C and P exist over TLS. With a certificate and no `--tls-optional`,
//! logins before AUTH TLS (530) and PROT C transfers (521) are refused.

use crate::ftp::reply::ReplyCode;
use crate::session::state::Phase;
use crate::session::{Action, Session};
use crate::vfs::VfsPath;

impl Session {
    pub(super) fn auth(&mut self, mechanism: &str) {
        if self.shared.tls.is_none() {
            self.reply(ReplyCode::NotImplemented, "AUTH not available: the server has no certificate (--cert/--key)");
            return;
        }
        if self.tls_active {
            self.reply(ReplyCode::BadSequence, "TLS is already active");
            return;
        }
        match mechanism {
            "TLS" | "TLS-C" | "SSL" | "TLS-P" => {
                self.reply(ReplyCode::AuthOk, format!("AUTH {mechanism} ok, start the TLS handshake"));
                self.actions.push_back(Action::StartTls);
                self.tls_active = true;
                self.pbsz_done = false;
                self.prot_private = false;
                self.phase = Phase::AwaitUser;
                self.cwd = VfsPath::root();
            }
            _ => {
                self.reply(ReplyCode::NotImplementedForParam, format!("Security mechanism {mechanism} not understood"))
            }
        }
    }

    pub(super) fn pbsz(&mut self, size: &str) {
        if !self.tls_active {
            self.reply(ReplyCode::BadSequence, "PBSZ needs AUTH TLS first");
            return;
        }
        if size.parse::<u64>().is_err() {
            self.reply(ReplyCode::SyntaxErrorArgs, "PBSZ takes a decimal number");
            return;
        }
        // RFC 4217 §8: over TLS the buffer size is always 0.
        self.pbsz_done = true;
        self.reply(ReplyCode::CommandOk, "PBSZ=0");
    }

    pub(super) fn prot(&mut self, level: &str) {
        if !self.tls_active || !self.pbsz_done {
            self.reply(ReplyCode::BadSequence, "PROT needs AUTH TLS and PBSZ first");
            return;
        }
        match level {
            "P" => {
                self.prot_private = true;
                self.reply(ReplyCode::CommandOk, "Protection level set to P (private)");
            }
            "C" => {
                self.prot_private = false;
                self.reply(ReplyCode::CommandOk, "Protection level set to C (clear)");
            }
            "S" | "E" => {
                self.reply(ReplyCode::ProtLevelNotSupported, format!("Protection level {level} not supported"))
            }
            _ => self.reply(ReplyCode::SyntaxErrorArgs, "PROT takes C, S, E or P"),
        }
    }

    pub(super) fn ccc(&mut self) {
        // Clearing the control channel would expose every later command: refused.
        self.reply(ReplyCode::RequestDenied, "CCC refused: the control connection stays encrypted");
    }

    /// Whether a certificate is configured and TLS is required (no `--tls-optional`).
    pub(super) fn tls_required(&self) -> bool {
        self.shared.tls.is_some_and(|p| p.required)
    }
}
