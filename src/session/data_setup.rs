//! TYPE, PASV, EPSV, PORT and EPRT: how the next data connection is made.
//!
//! SECURITY: PORT and EPRT only ever name the control peer's own address (no FTP bounce,
//! CERT CA-1997-27) and never a privileged port; the refusal happens here, before anything
//! connects. The matching passive-side check (a data connection must come from the control
//! peer) is in `data/passive_pool.rs`.

use std::net::{IpAddr, SocketAddr};

use crate::ftp::args::{format_host_port, EprtTarget, EpsvArg, TransferType};
use crate::ftp::reply::ReplyCode;
use crate::session::state::Busy;
use crate::session::{canonical_ip, Action, DataSetup, Session};

impl Session {
    pub(super) fn set_type(&mut self, t: TransferType) {
        self.transfer_type = t;
        let name = match t {
            TransferType::Ascii => "ASCII",
            TransferType::Image => "BINARY",
        };
        self.reply(ReplyCode::CommandOk, format!("Type set to {name}"));
    }

    pub(super) fn pasv(&mut self, extended: bool) {
        if self.epsv_all && !extended {
            self.reply(ReplyCode::BadSequence, "EPSV ALL is in effect: only EPSV may be used");
            return;
        }
        if !extended && self.shared.public_ip.is_none() && !self.local.ip().is_ipv4() {
            self.reply(ReplyCode::CantOpenData, "PASV cannot describe an IPv6 address: use EPSV");
            return;
        }
        self.busy = Busy::OpeningPassive { extended };
        self.actions.push_back(Action::OpenPassive);
    }

    pub(super) fn epsv(&mut self, arg: EpsvArg) {
        match arg {
            EpsvArg::All => {
                self.epsv_all = true;
                self.reply(ReplyCode::CommandOk, "EPSV ALL ok: PORT, EPRT and PASV are now refused");
            }
            EpsvArg::Protocol(p) if p != 1 && p != 2 => {
                self.reply(ReplyCode::ProtocolNotSupported, "Network protocol not supported, use (1,2)")
            }
            EpsvArg::Protocol(p) if (p == 1) != self.local.ip().is_ipv4() => self.reply(
                ReplyCode::ProtocolNotSupported,
                "The data connection must use the control connection's protocol",
            ),
            _ => self.pasv(true),
        }
    }

    /// The reactor opened (or failed to open) the passive listener.
    pub fn on_passive_ready(&mut self, result: std::io::Result<SocketAddr>) {
        let Busy::OpeningPassive { extended } = std::mem::replace(&mut self.busy, Busy::Idle) else {
            log::warn!("{}: a passive port arrived that was not asked for", self.peer);
            return;
        };
        match result {
            Ok(addr) => {
                self.data = DataSetup::Passive;
                if extended {
                    self.reply(
                        ReplyCode::EnteringExtendedPassive,
                        format!("Entering Extended Passive Mode (|||{}|)", addr.port()),
                    );
                } else {
                    let ip = match (self.shared.public_ip, canonical_ip(addr.ip())) {
                        (Some(public), _) => public,
                        (None, IpAddr::V4(v4)) => v4,
                        (None, IpAddr::V6(_)) => {
                            self.actions.push_back(Action::DropDataConnection);
                            self.data = DataSetup::None;
                            self.reply(ReplyCode::CantOpenData, "PASV cannot describe an IPv6 address: use EPSV");
                            return;
                        }
                    };
                    let hp = format_host_port(std::net::SocketAddrV4::new(ip, addr.port()));
                    self.reply(ReplyCode::EnteringPassive, format!("Entering Passive Mode ({hp})"));
                }
            }
            Err(e) => {
                log::warn!("{}: no passive port: {e}", self.peer);
                self.data = DataSetup::None;
                self.reply(ReplyCode::CantOpenData, "Can't open passive connection: no free port, try again");
            }
        }
    }

    pub(super) fn port(&mut self, target: SocketAddr) {
        if self.epsv_all {
            self.reply(ReplyCode::BadSequence, "EPSV ALL is in effect: only EPSV may be used");
            return;
        }
        // SECURITY: no bounce attacks: the data connection may only go back to the client,
        // and never to a privileged port.
        if canonical_ip(target.ip()) != self.peer.ip() {
            log::warn!("{}: refused PORT/EPRT to another host ({})", self.peer, target.ip());
            self.reply(ReplyCode::NotImplementedForParam, "PORT to a host other than the client is refused");
            return;
        }
        if target.port() < 1024 {
            log::warn!("{}: refused PORT/EPRT to privileged port {}", self.peer, target.port());
            self.reply(ReplyCode::NotImplementedForParam, "PORT to a privileged port is refused");
            return;
        }
        self.actions.push_back(Action::DropDataConnection);
        self.data = DataSetup::Active(target);
        self.reply(ReplyCode::CommandOk, "PORT command successful");
    }

    pub(super) fn eprt(&mut self, target: EprtTarget) {
        match target {
            EprtTarget::UnsupportedProtocol => {
                self.reply(ReplyCode::ProtocolNotSupported, "Network protocol not supported, use (1,2)")
            }
            EprtTarget::Addr(a) => self.port(a),
        }
    }
}
