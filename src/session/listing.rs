//! LIST, NLST, MLSD (over the data connection), MLST and STAT with a path (over the control
//! connection).

use std::time::SystemTime;

use crate::data::TransferBody;
use crate::ftp::command::ListArgs;
use crate::ftp::listing;
use crate::ftp::reply::{Reply, ReplyCode};
use crate::session::jobs::{Job, JobOutput, JobResult, ListFormat};
use crate::session::state::{Pending, TransferKind};
use crate::session::Session;
use crate::vfs::VfsPath;

impl Session {
    pub(super) fn list(&mut self, args: ListArgs, format: ListFormat) {
        if !self.require_data_setup() {
            return;
        }
        let Some(path) = self.resolve(&args.path) else { return };
        let job = Job::Listing {
            path,
            format,
            dir_only: false,
            now: SystemTime::now(),
            max_entries: self.shared.limits.max_list_entries,
        };
        self.start_job(job, Pending::Listing);
    }

    pub(super) fn mlsd(&mut self, arg: &str) {
        if !self.require_data_setup() {
            return;
        }
        let Some(path) = self.resolve(arg) else { return };
        let job = Job::Listing {
            path,
            format: ListFormat::Mlsd(self.facts),
            dir_only: true,
            now: SystemTime::now(),
            max_entries: self.shared.limits.max_list_entries,
        };
        self.start_job(job, Pending::Listing);
    }

    pub(super) fn listing_done(&mut self, result: JobResult) {
        match result {
            Ok(JobOutput::Listing(bytes)) => {
                self.begin_transfer(
                    TransferKind::Listing,
                    "Here comes the directory listing".into(),
                    TransferBody::Send(bytes),
                );
            }
            Ok(_) => self.reply(ReplyCode::LocalError, "Unexpected result"),
            Err(e) if e.kind == crate::backend::ErrorKind::NotADirectory => {
                // RFC 3659 §7.2.1: MLSD of a file is a parameter error.
                self.reply(ReplyCode::SyntaxErrorArgs, format!("{}: not a directory", e.path))
            }
            Err(e) => self.storage_error(&e),
        }
    }

    pub(super) fn mlst(&mut self, arg: &str) {
        let Some(path) = self.resolve(arg) else { return };
        self.start_job(Job::Stat(path.clone()), Pending::Mlst(path));
    }

    pub(super) fn mlst_done(&mut self, path: VfsPath, result: JobResult) {
        match result {
            Ok(JobOutput::Entry(e)) => {
                let opts = &self.shared.vfs_options;
                let facts = listing::facts(&e, opts, opts.read_only, self.facts);
                // RFC 3659 §7.2: the fact line starts with one space and names the full path.
                let lines = vec![format!("Listing {path}"), format!(" {facts} {path}"), "End".into()];
                self.reply_with(Reply::multi(ReplyCode::FileActionOk, lines));
            }
            Ok(_) => self.reply(ReplyCode::LocalError, "Unexpected result"),
            Err(e) => self.storage_error(&e),
        }
    }

    pub(super) fn stat(&mut self, arg: String) {
        if arg.is_empty() {
            if matches!(self.phase, crate::session::state::Phase::LoggedIn { .. }) {
                self.start_job(Job::Usage, Pending::StatServer);
            } else {
                self.stat_server(None);
            }
            return;
        }
        let Some(path) = self.resolve(&arg) else { return };
        let job = Job::Listing {
            path: path.clone(),
            format: ListFormat::List,
            dir_only: false,
            now: SystemTime::now(),
            max_entries: self.shared.limits.max_list_entries,
        };
        self.start_job(job, Pending::StatPath(path));
    }

    pub(super) fn stat_path_done(&mut self, path: VfsPath, result: JobResult) {
        match result {
            Ok(JobOutput::Listing(bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let mut lines = vec![format!("Status of {path}:")];
                lines.extend(text.lines().map(|l| format!(" {l}")));
                lines.push("End of status".into());
                self.reply_with(Reply::multi(ReplyCode::FileStatus, lines));
            }
            Ok(_) => self.reply(ReplyCode::LocalError, "Unexpected result"),
            Err(e) => self.storage_error(&e),
        }
    }
}
