//! `Job`: the blocking VFS work a session asks the worker pool to do, and `run`, the one
//! function a worker calls to do it. Listings are formatted here too, so a directory of
//! 10,000 entries never costs the reactor time.

use std::sync::Arc;
use std::time::SystemTime;

use crate::backend::{self, Entry, ErrorKind, ReadStream, WriteMode, WriteStream};
use crate::ftp::listing::{self, FactSet};
use crate::vfs::{Vfs, VfsPath};

/// Which listing format to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// `ls -l` lines (LIST, and STAT with a path).
    List,
    /// Bare names (NLST).
    Nlst,
    /// RFC 3659 fact lines (MLSD) with these facts.
    Mlsd(FactSet),
}

/// VFS work for a worker thread.
#[derive(Debug)]
pub enum Job {
    /// Stat a path.
    Stat(VfsPath),
    /// List a directory (or one file) and format it.
    Listing {
        /// What to list.
        path: VfsPath,
        /// How to format it.
        format: ListFormat,
        /// Whether a file path is an error (MLSD) instead of listing the one file.
        dir_only: bool,
        /// "Now" for the `ls` date rule.
        now: SystemTime,
        /// Most entries to list (`--max-list-entries`); more is an error, never a truncation.
        max_entries: usize,
    },
    /// Make a directory.
    Mkdir(VfsPath),
    /// Remove an empty directory.
    Rmdir(VfsPath),
    /// Remove a file.
    Remove(VfsPath),
    /// Rename.
    Rename(VfsPath, VfsPath),
    /// Set a modification time.
    SetModtime(VfsPath, SystemTime),
    /// Open a file for reading at an offset.
    OpenRead(VfsPath, u64),
    /// Open a file for writing.
    OpenWrite(VfsPath, WriteMode),
    /// Create a file with a name not yet used in this directory (STOU).
    OpenUnique(VfsPath),
    /// Free space under a path (AVBL).
    Available(VfsPath),
    /// The remote's space figures (STAT without a path).
    Usage,
    /// Log in through the auth proxy (runs the operator's program on a cache miss).
    ProxyLogin {
        /// The proxy.
        proxy: Arc<crate::auth::proxy::AuthProxy>,
        /// USER.
        user: String,
        /// PASS.
        pass: crate::auth::Secret<String>,
        /// The client's address.
        ip: std::net::IpAddr,
    },
}

/// What a finished job produced.
pub enum JobOutput {
    /// A stat result.
    Entry(Entry),
    /// Formatted listing bytes.
    Listing(Vec<u8>),
    /// Done, nothing to return.
    Done,
    /// A file opened for reading, with its stat.
    Reader(Box<dyn ReadStream>, Entry),
    /// A file opened for writing, and its path.
    Writer(Box<dyn WriteStream>, VfsPath),
    /// Free bytes, if known.
    Available(Option<u64>),
    /// The remote's space figures.
    Usage(crate::backend::Usage),
    /// A login through the auth proxy succeeded: what this session serves.
    LoggedIn(Arc<Vfs>),
}

impl std::fmt::Debug for JobOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobOutput::Entry(e) => f.debug_tuple("Entry").field(e).finish(),
            JobOutput::Listing(b) => write!(f, "Listing({} bytes)", b.len()),
            JobOutput::Done => f.write_str("Done"),
            JobOutput::Reader(_, e) => f.debug_tuple("Reader").field(e).finish(),
            JobOutput::Writer(_, p) => f.debug_tuple("Writer").field(p).finish(),
            JobOutput::Available(n) => f.debug_tuple("Available").field(n).finish(),
            JobOutput::Usage(u) => f.debug_tuple("Usage").field(u).finish(),
            JobOutput::LoggedIn(_) => f.write_str("LoggedIn"),
        }
    }
}

/// The result a session receives.
pub type JobResult = Result<JobOutput, backend::Error>;

/// Runs `job` on the spot when it cannot wait for storage: an open for reading from the start
/// of a local file whose path the kernel has cached (saves a round trip through a worker for
/// each cached download). `None` sends the job to a worker as usual.
pub fn run_now(vfs: Option<&Arc<Vfs>>, job: &Job) -> Option<JobResult> {
    match job {
        Job::OpenRead(path, 0) => vfs?.open_read_now(path).map(|(stream, entry)| Ok(JobOutput::Reader(stream, entry))),
        _ => None,
    }
}

/// Runs one job against the session's VFS (`None` before login: only `ProxyLogin` runs).
/// Blocking; worker threads only.
pub fn run(vfs: Option<&Arc<Vfs>>, job: Job) -> JobResult {
    let job = match job {
        Job::ProxyLogin { proxy, user, pass, ip } => {
            return proxy.login(&user, &pass, ip).map(JobOutput::LoggedIn).map_err(|e| {
                log::info!("{ip}: the auth proxy refused {user:?}: {e}");
                backend::Error::with_detail(ErrorKind::PermissionDenied, "", "Login incorrect")
            });
        }
        job => job,
    };
    let Some(vfs) = vfs else {
        return Err(backend::Error::with_detail(ErrorKind::PermissionDenied, "", "Not logged in"));
    };
    match job {
        Job::ProxyLogin { .. } => unreachable!("handled above"),
        Job::Stat(p) => vfs.stat(&p).map(JobOutput::Entry),
        Job::Listing { path, format, dir_only, now, max_entries } => {
            listing_bytes(vfs, &path, format, dir_only, now, max_entries).map(JobOutput::Listing)
        }
        Job::Mkdir(p) => vfs.mkdir(&p).map(|_| JobOutput::Done),
        Job::Rmdir(p) => vfs.rmdir(&p).map(|_| JobOutput::Done),
        Job::Remove(p) => vfs.remove(&p).map(|_| JobOutput::Done),
        Job::Rename(a, b) => vfs.rename(&a, &b).map(|_| JobOutput::Done),
        Job::SetModtime(p, t) => vfs.set_modtime(&p, t).map(|_| JobOutput::Done),
        Job::OpenRead(p, offset) => vfs.open_read(&p, offset).map(|(stream, entry)| JobOutput::Reader(stream, entry)),
        Job::OpenWrite(p, mode) => vfs.open_write(&p, mode).map(|w| JobOutput::Writer(w, p)),
        Job::OpenUnique(dir) => open_unique(vfs, &dir),
        Job::Available(p) => vfs.available(&p).map(JobOutput::Available),
        Job::Usage => vfs.usage().map(JobOutput::Usage),
    }
}

fn listing_bytes(
    vfs: &Vfs,
    path: &VfsPath,
    format: ListFormat,
    dir_only: bool,
    now: SystemTime,
    max_entries: usize,
) -> Result<Vec<u8>, backend::Error> {
    let entry = vfs.stat(path)?;
    let entries = if entry.is_dir() {
        vfs.list(path)?
    } else if dir_only {
        return Err(backend::Error::new(ErrorKind::NotADirectory, path.as_str()));
    } else {
        vec![entry]
    };
    if entries.len() > max_entries {
        log::warn!("{path}: {} entries, over --max-list-entries {max_entries}; listing refused", entries.len());
        return Err(backend::Error::with_detail(
            ErrorKind::Unsupported,
            path.as_str(),
            "Directory too large to list (over --max-list-entries)",
        ));
    }
    let opts = vfs.options();
    let mut out = String::with_capacity(entries.len() * 72);
    for e in &entries {
        match format {
            ListFormat::List => listing::list_line(&mut out, e, opts, now),
            ListFormat::Nlst => listing::nlst_line(&mut out, e),
            ListFormat::Mlsd(facts) => listing::mlsd_line(&mut out, e, opts, opts.read_only, facts),
        }
    }
    Ok(out.into_bytes())
}

fn open_unique(vfs: &Vfs, dir: &VfsPath) -> JobResult {
    let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    for attempt in 0..100u32 {
        let name = format!("ftpvfs.{stamp:x}.{attempt}");
        let path = dir.child(&name).map_err(|_| backend::Error::new(ErrorKind::InvalidName, dir.as_str()))?;
        match vfs.stat(&path) {
            Err(e) if e.kind == ErrorKind::NotFound => {
                return vfs.open_write(&path, WriteMode::Replace).map(|w| JobOutput::Writer(w, path));
            }
            Err(e) => return Err(e),
            Ok(_) => continue,
        }
    }
    Err(backend::Error::with_detail(ErrorKind::Other, dir.as_str(), "No unique name could be found"))
}
