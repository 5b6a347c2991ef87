//! DELE, MKD, RMD, RNFR, RNTO, SIZE, MDTM and MFMT.

use crate::ftp::args::TimeVal;
use crate::ftp::reply::ReplyCode;
use crate::ftp::time;
use crate::session::jobs::{Job, JobOutput, JobResult};
use crate::session::state::{Pending, Phase};
use crate::session::Session;
use crate::vfs::VfsPath;

impl Session {
    pub(super) fn dele(&mut self, arg: &str) {
        if self.refuse_if_read_only() {
            return;
        }
        let Some(p) = self.resolve(arg) else { return };
        self.start_job(Job::Remove(p.clone()), Pending::Dele(p));
    }

    pub(super) fn mkd(&mut self, arg: &str) {
        if self.refuse_if_read_only() {
            return;
        }
        let Some(p) = self.resolve(arg) else { return };
        self.start_job(Job::Mkdir(p.clone()), Pending::Mkd(p));
    }

    pub(super) fn rmd(&mut self, arg: &str) {
        if self.refuse_if_read_only() {
            return;
        }
        let Some(p) = self.resolve(arg) else { return };
        if self.cwd.starts_with(&p) {
            self.reply(ReplyCode::FileUnavailable, format!("{p}: cannot remove the current directory or one above it"));
            return;
        }
        self.start_job(Job::Rmdir(p.clone()), Pending::Rmd(p));
    }

    pub(super) fn rnfr(&mut self, arg: &str) {
        if self.refuse_if_read_only() {
            return;
        }
        let Some(p) = self.resolve(arg) else { return };
        if p.is_root() {
            self.reply(ReplyCode::FileUnavailable, "/: the root cannot be renamed");
            return;
        }
        self.start_job(Job::Stat(p.clone()), Pending::Rnfr(p));
    }

    pub(super) fn rnfr_done(&mut self, from: VfsPath, result: JobResult) {
        match result {
            Ok(_) => {
                if let Phase::LoggedIn { user } = &self.phase {
                    self.phase = Phase::AwaitRnto { user: user.clone(), from };
                }
                self.reply(ReplyCode::PendingFurtherInfo, "Ready for RNTO");
            }
            Err(e) => self.storage_error(&e),
        }
    }

    pub(super) fn rnto(&mut self, arg: &str) {
        let Phase::AwaitRnto { user, from } = &self.phase else {
            self.reply(ReplyCode::BadSequence, "RNFR required first");
            return;
        };
        let (user, from) = (user.clone(), from.clone());
        self.phase = Phase::LoggedIn { user };
        let Some(to) = self.resolve(arg) else { return };
        self.start_job(Job::Rename(from, to), Pending::Rnto);
    }

    pub(super) fn size(&mut self, arg: &str) {
        let Some(p) = self.resolve(arg) else { return };
        self.start_job(Job::Stat(p.clone()), Pending::Size(p));
    }

    pub(super) fn size_done(&mut self, path: VfsPath, result: JobResult) {
        match result {
            Ok(JobOutput::Entry(e)) if !e.is_dir() => self.reply(ReplyCode::FileStatus, e.size.to_string()),
            Ok(_) => self.reply(ReplyCode::FileUnavailable, format!("{path}: not a plain file")),
            Err(e) => self.storage_error(&e),
        }
    }

    pub(super) fn mdtm(&mut self, arg: &str) {
        let Some(p) = self.resolve(arg) else { return };
        self.start_job(Job::Stat(p), Pending::Mdtm);
    }

    pub(super) fn mdtm_done(&mut self, result: JobResult) {
        match result {
            Ok(JobOutput::Entry(e)) => self.reply(ReplyCode::FileStatus, time::time_val(e.mtime)),
            Ok(_) => self.reply(ReplyCode::LocalError, "Unexpected result"),
            Err(e) => self.storage_error(&e),
        }
    }

    pub(super) fn mfmt(&mut self, t: TimeVal, arg: &str) {
        if self.refuse_if_read_only() {
            return;
        }
        let Some(p) = self.resolve(arg) else { return };
        let when = time::from_unix(t.unix_secs, t.nanos);
        self.start_job(Job::SetModtime(p.clone(), when), Pending::Mfmt(p, t));
    }

    pub(super) fn mfmt_done(&mut self, path: VfsPath, t: TimeVal, result: JobResult) {
        match result {
            Ok(_) => {
                let stamp = time::time_val(time::from_unix(t.unix_secs, 0));
                self.reply(ReplyCode::FileStatus, format!("Modify={stamp}; {path}"));
            }
            Err(e) => self.storage_error(&e),
        }
    }
}

impl Session {
    pub(super) fn avbl(&mut self, arg: &str) {
        let Some(p) = self.resolve(arg) else { return };
        self.start_job(Job::Available(p.clone()), Pending::Avbl(p));
    }

    pub(super) fn avbl_done(&mut self, path: VfsPath, result: JobResult) {
        match result {
            Ok(JobOutput::Available(Some(n))) => self.reply(ReplyCode::FileStatus, n.to_string()),
            Ok(_) => self.reply(ReplyCode::FileUnavailable, format!("{path}: free space is not known for this remote")),
            Err(e) => self.storage_error(&e),
        }
    }
}
