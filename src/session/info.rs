//! OPTS and STAT without a path (FEAT, SYST, HELP and NOOP are one-liners in `mod.rs`).

use crate::ftp::args::OptsArg;
use crate::ftp::listing::FactSet;
use crate::ftp::reply::{Reply, ReplyCode};
use crate::session::jobs::{JobOutput, JobResult};
use crate::session::state::Phase;
use crate::session::{DataSetup, Session};

impl Session {
    pub(super) fn opts(&mut self, o: OptsArg) {
        match o {
            OptsArg::Utf8(true) => self.reply(ReplyCode::CommandOk, "UTF8 mode enabled"),
            OptsArg::Utf8(false) => self.reply(ReplyCode::NotImplementedForParam, "UTF8 is always on"),
            OptsArg::Mlst(names) => {
                self.facts = FactSet::from_names(&names);
                let list = self.facts.names();
                self.reply(ReplyCode::CommandOk, format!("MLST OPTS {list}"));
            }
            OptsArg::Other => self.reply(ReplyCode::SyntaxErrorArgs, "No options for that command"),
        }
    }

    /// STAT with no argument: the server status (RFC 959 §4.1.3), as a 211 multi-line reply;
    /// once logged in, with the remote's space figures (`usage`).
    pub(super) fn stat_server(&mut self, usage: Option<JobResult>) {
        let who = match &self.phase {
            Phase::LoggedIn { user } | Phase::AwaitRnto { user, .. } => format!("Logged in as {user}"),
            _ => "Not logged in".to_string(),
        };
        let ttype = match self.transfer_type {
            crate::ftp::args::TransferType::Ascii => "ASCII",
            crate::ftp::args::TransferType::Image => "BINARY",
        };
        let data = match self.data {
            DataSetup::None => "No data connection".to_string(),
            DataSetup::Passive => "Passive mode: waiting for the data connection".to_string(),
            DataSetup::Active(a) => format!("Active mode: will connect to {a}"),
        };
        let lines = vec![
            format!("ftpvfs {} status:", env!("CARGO_PKG_VERSION")),
            format!(" Connected from {}", self.peer.ip()),
            format!(" {who}"),
            format!(" TYPE: {ttype}, FORM: Nonprint; STRUcture: File; transfer MODE: Stream"),
            format!(" {data}"),
        ];
        let mut lines = lines;
        match usage {
            Some(Ok(JobOutput::Usage(u))) => {
                let show = |v: Option<u64>| v.map_or_else(|| "unknown".to_string(), |n| n.to_string());
                lines.push(format!(
                    " Space: {} bytes used, {} bytes free, {} bytes total",
                    show(u.used),
                    show(u.free),
                    show(u.total)
                ));
            }
            Some(Err(e)) => lines.push(format!(" Space: unknown ({})", e.client_message())),
            _ => {}
        }
        lines.push("End of status".into());
        self.reply_with(Reply::multi(ReplyCode::SystemStatus, lines));
    }
}
