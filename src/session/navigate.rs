//! PWD, CWD and CDUP.

use crate::backend::ErrorKind;
use crate::ftp::reply::{self, ReplyCode};
use crate::session::jobs::{Job, JobOutput, JobResult};
use crate::session::state::Pending;
use crate::session::Session;
use crate::vfs::VfsPath;

impl Session {
    pub(super) fn pwd(&mut self) {
        let quoted = reply::quote_path(self.cwd.as_str());
        self.reply(ReplyCode::PathCreated, format!("{quoted} is the current directory"));
    }

    pub(super) fn cwd(&mut self, arg: &str) {
        let Some(path) = self.resolve(arg) else { return };
        self.start_job(Job::Stat(path.clone()), Pending::Cwd(path));
    }

    pub(super) fn cwd_done(&mut self, path: VfsPath, result: JobResult) {
        match result {
            Ok(JobOutput::Entry(e)) if e.is_dir() => {
                self.reply(ReplyCode::FileActionOk, format!("Directory changed to {path}"));
                self.cwd = path;
            }
            Ok(_) => self.storage_error(&crate::backend::Error::new(ErrorKind::NotADirectory, path.as_str())),
            Err(e) => self.storage_error(&e),
        }
    }
}
