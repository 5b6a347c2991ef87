//! REST, RETR, STOR, APPE, STOU and ABOR: a transfer's life from the command to its final
//! reply.
//!
//! RETR/STOR first open the file on a worker (so a missing file gets 550 with no 150 and no
//! data connection); then 150, the reactor moves the data, and `on_transfer_done` gives the
//! final reply: 226, 426 (aborted or closed early), 425 (no data connection) or the storage
//! error's code. REST n applies to the next RETR, STOR or APPE (RFC 3659 §5): RETR reads from
//! n, STOR and APPE write from n and keep the rest of the file.

use std::time::Instant;

use crate::backend::WriteMode;
use crate::data::{DataVia, TransferBody, TransferOutcome, TransferPlan};
use crate::ftp::args::TransferType;
use crate::ftp::command::Command;
use crate::ftp::reply::ReplyCode;
use crate::session::jobs::{Job, JobOutput, JobResult};
use crate::session::state::{Busy, Pending, Phase, TransferKind};
use crate::session::{Action, DataSetup, Session};
use crate::vfs::VfsPath;

impl Session {
    /// True when PASV/EPSV/PORT/EPRT came first; otherwise replies 425.
    pub(super) fn require_data_setup(&mut self) -> bool {
        if self.tls_required() && !self.prot_private {
            self.restart_at = 0;
            self.reply(ReplyCode::ProtRequired, "Data connections must be encrypted: send PBSZ 0 and PROT P");
            return false;
        }
        if self.data == DataSetup::None {
            self.restart_at = 0;
            self.reply(ReplyCode::CantOpenData, "Use PORT, EPRT, PASV or EPSV first");
            return false;
        }
        true
    }

    pub(super) fn rest(&mut self, offset: u64) {
        self.restart_at = offset;
        self.reply(ReplyCode::PendingFurtherInfo, format!("Restarting at {offset}. Send STOR, APPE or RETR"));
    }

    pub(super) fn retr(&mut self, arg: &str) {
        if !self.require_data_setup() {
            return;
        }
        let offset = std::mem::take(&mut self.restart_at);
        let Some(p) = self.resolve(arg) else { return };
        self.start_job(Job::OpenRead(p.clone(), offset), Pending::Retr(p));
    }

    pub(super) fn retr_opened(&mut self, path: VfsPath, result: JobResult) {
        match result {
            Ok(JobOutput::Reader(stream, entry)) => {
                self.file_transfer = Some((path.to_string(), Instant::now(), false));
                let ascii = self.transfer_type == TransferType::Ascii;
                let mode = if ascii { "ASCII" } else { "BINARY" };
                self.begin_transfer(
                    TransferKind::Retr,
                    format!("Opening {mode} mode data connection for {path} ({} bytes)", entry.size),
                    TransferBody::Download {
                        stream,
                        ascii,
                        read_ahead: self.read_ahead_for(entry.size),
                        size: entry.size,
                    },
                );
            }
            Ok(_) => self.reply(ReplyCode::LocalError, "Unexpected result"),
            Err(e) => self.storage_error(&e),
        }
    }

    /// `--buffer-size` of read-ahead for a download, none for files under 1 MiB (as rclone).
    fn read_ahead_for(&self, size: u64) -> usize {
        if size < 1 << 20 {
            0
        } else {
            usize::try_from(self.shared.vfs_options.buffer_size).unwrap_or(usize::MAX)
        }
    }

    pub(super) fn store(&mut self, arg: &str, append: bool) {
        if self.refuse_if_read_only() || !self.require_data_setup() {
            self.restart_at = 0;
            return;
        }
        let offset = std::mem::take(&mut self.restart_at);
        let Some(p) = self.resolve(arg) else { return };
        let mode = match (append, offset) {
            (true, 0) => WriteMode::Append,
            (false, 0) => WriteMode::Replace,
            (_, n) => WriteMode::At(n),
        };
        self.start_job(Job::OpenWrite(p, mode), Pending::Store { unique: false });
    }

    pub(super) fn stou(&mut self) {
        self.restart_at = 0;
        if self.refuse_if_read_only() || !self.require_data_setup() {
            return;
        }
        self.start_job(Job::OpenUnique(self.cwd.clone()), Pending::Store { unique: true });
    }

    pub(super) fn store_opened(&mut self, unique: bool, result: JobResult) {
        match result {
            Ok(JobOutput::Writer(stream, path)) => {
                self.file_transfer = Some((path.to_string(), Instant::now(), true));
                let ascii = self.transfer_type == TransferType::Ascii;
                // RFC 1123 §4.1.2.9: STOU's 150 names the file.
                let text =
                    if unique { format!("FILE: {}", path.name()) } else { format!("Ok to send data for {path}") };
                self.begin_transfer(TransferKind::Store, text, TransferBody::Upload { stream, ascii });
            }
            Ok(_) => self.reply(ReplyCode::LocalError, "Unexpected result"),
            Err(e) => self.storage_error(&e),
        }
    }

    /// Sends 150 and hands the transfer to the reactor. The data setup is used up.
    pub(super) fn begin_transfer(&mut self, kind: TransferKind, text: String, body: TransferBody) {
        let via = match std::mem::replace(&mut self.data, DataSetup::None) {
            DataSetup::Passive => DataVia::Passive,
            DataSetup::Active(a) => DataVia::Active(a),
            DataSetup::None => {
                // require_data_setup ran before the job; nothing can clear it meanwhile.
                self.reply(ReplyCode::CantOpenData, "Use PORT, EPRT, PASV or EPSV first");
                return;
            }
        };
        self.reply(ReplyCode::FileStatusOk, text);
        self.transfer_bytes = 0;
        self.busy = Busy::Transfer(kind);
        let protected = self.prot_private;
        self.actions.push_back(Action::StartTransfer(TransferPlan { via, body, protected }));
    }

    /// ABOR with no transfer running (RFC 959: 226, nothing to abort).
    pub(super) fn abor_idle(&mut self) {
        self.restart_at = 0;
        self.reply(ReplyCode::ClosingDataSuccess, "No transfer to abort");
    }

    /// The commands taken while data moves (see `can_take`).
    pub(super) fn on_command_during_transfer(&mut self, cmd: Command) {
        match cmd {
            Command::Abor if matches!(self.busy, Busy::Transfer(_)) => {
                self.busy = Busy::Aborting;
                self.actions.push_back(Action::AbortTransfer);
            }
            Command::Abor => {}
            Command::Stat(p) if p.is_empty() => {
                let n = self.transfer_bytes;
                self.reply(ReplyCode::FileStatus, format!("Transfer in progress: {n} bytes moved"));
            }
            Command::Noop => self.reply(ReplyCode::CommandOk, "OK"),
            // RFC 959: QUIT during a transfer waits for its final reply, then closes.
            Command::Quit => self.quit_after_transfer = true,
            _ => self.reply(ReplyCode::BadSequence, "A transfer is in progress: only ABOR, STAT, NOOP and QUIT"),
        }
    }

    /// The reactor finished, failed or aborted the transfer.
    pub fn on_transfer_done(&mut self, outcome: TransferOutcome, now: Instant) {
        self.last_activity = now;
        self.log_file_transfer(&outcome, now);
        match std::mem::replace(&mut self.busy, Busy::Idle) {
            Busy::Aborting => {
                if let TransferOutcome::Complete { bytes } = outcome {
                    self.reply(ReplyCode::ClosingDataSuccess, format!("Transfer complete ({bytes} bytes)"));
                } else {
                    self.reply(ReplyCode::TransferAborted, "Transfer aborted");
                    self.reply(ReplyCode::ClosingDataSuccess, "ABOR successful");
                }
            }
            Busy::Transfer(kind) => self.transfer_reply(kind, outcome),
            other => {
                log::warn!("{}: a transfer ended that was not running", self.peer);
                self.busy = other;
                return;
            }
        }
        if std::mem::take(&mut self.quit_after_transfer) {
            self.quit();
        }
        self.maybe_finish_shutdown();
    }

    /// The `--xferlog` line of a RETR or STOR that reached its data connection.
    fn log_file_transfer(&mut self, outcome: &TransferOutcome, now: Instant) {
        let Some((path, started, upload)) = self.file_transfer.take() else { return };
        let Some(xferlog) = &self.shared.xferlog else { return };
        let (bytes, complete) = match outcome {
            TransferOutcome::Complete { bytes } => (*bytes, true),
            TransferOutcome::NoConnection(_) | TransferOutcome::TlsRefused(_) => return,
            TransferOutcome::ClosedByPeer { bytes } => (*bytes, false),
            _ => (self.transfer_bytes, false),
        };
        let user = match &self.phase {
            Phase::LoggedIn { user } | Phase::AwaitRnto { user, .. } => user.as_str(),
            _ => "",
        };
        xferlog.record(&crate::xferlog::Transfer {
            end: std::time::SystemTime::now(),
            took: now.saturating_duration_since(started),
            client: self.peer.ip(),
            bytes,
            path: &path,
            ascii: self.transfer_type == TransferType::Ascii,
            upload,
            user,
            complete,
        });
    }

    fn transfer_reply(&mut self, kind: TransferKind, outcome: TransferOutcome) {
        match outcome {
            TransferOutcome::Complete { bytes } => {
                log::debug!("{}: {kind:?} complete, {bytes} bytes", self.peer);
                self.reply(ReplyCode::ClosingDataSuccess, format!("Transfer complete ({bytes} bytes)"));
            }
            TransferOutcome::Aborted => self.reply(ReplyCode::TransferAborted, "Transfer aborted"),
            TransferOutcome::ClosedByPeer { bytes } => self.reply(
                ReplyCode::TransferAborted,
                format!("Data connection closed by the client after {bytes} bytes; transfer aborted"),
            ),
            TransferOutcome::NoConnection(why) => {
                self.reply(ReplyCode::CantOpenData, format!("Can't open data connection: {why}"))
            }
            TransferOutcome::ConnectionLost(why) => {
                self.reply(ReplyCode::TransferAborted, format!("{why}; transfer aborted"))
            }
            TransferOutcome::Storage(e) => self.storage_error(&e),
            TransferOutcome::TlsRefused(why) => self.reply(ReplyCode::TlsNegotiationFailed, why),
        }
    }
}
