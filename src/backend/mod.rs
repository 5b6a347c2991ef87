//! The storage seam: a small synchronous `Backend` trait that every remote implements, called
//! only from worker threads (never from the reactor). Paths are `VfsPath`s, already checked, so
//! no client string reaches a backend unvalidated.

#[cfg(feature = "wrappers")]
pub mod chunker;
#[cfg(feature = "wrappers")]
pub mod combine;
pub mod counted;
#[cfg(feature = "crypt")]
pub mod crypt;
mod dir_scan;
pub mod error;
pub mod free_later;
pub mod from_pipe;
pub mod ftp;
#[cfg(feature = "http")]
pub mod http;
pub mod local;
pub mod memory;
pub mod name_encoding;
#[cfg(any(feature = "s3", feature = "http", feature = "webdav"))]
pub mod net;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "wrappers")]
pub mod union;
#[cfg(feature = "webdav")]
pub mod webdav;

use std::time::SystemTime;

pub use error::{Error, ErrorKind, Result};

use crate::vfs::VfsPath;

/// File or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
}

/// What a listing or stat says about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The last path component (`""` for the root).
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Last modification time.
    pub mtime: SystemTime,
}

impl Entry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
}

/// How a write stream treats what is already stored under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace the file; readers see the old content until the new one is committed whole.
    Replace,
    /// Write from this offset over the existing file, keeping what lies beyond (REST + STOR).
    At(u64),
    /// Append to the end, creating the file if needed (APPE).
    Append,
}

/// A sequential reader of one file, moved between worker threads.
pub trait ReadStream: Send {
    /// Reads up to `buf.len()` bytes; 0 means end of file.
    ///
    /// # Errors
    /// A storage error if the read failed.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;

    /// For a local file: its descriptor and the offset of the next byte, so a download can be
    /// sent with sendfile (zero-copy) instead of reads. `None` for remote backends.
    fn sendfile_source(&self) -> Option<(std::os::fd::BorrowedFd<'_>, u64)> {
        None
    }
}

/// A sequential writer of one file. Dropping it without `commit` aborts it.
pub trait WriteStream: Send {
    /// Writes the whole buffer.
    ///
    /// # Errors
    /// A storage error (no space, I/O error); the caller then aborts.
    fn write_all(&mut self, buf: &[u8]) -> Result<()>;

    /// Whether [`write_from_pipe`](Self::write_from_pipe) moves bytes into storage inside the
    /// kernel (a local file written at its position, not in append mode): a plain upload is
    /// then spliced from its socket through a pipe into the file, one copy instead of two.
    fn takes_splice(&self) -> bool {
        false
    }

    /// Writes exactly `len` bytes waiting in the pipe whose read end is `pipe`, as
    /// [`write_all`](Self::write_all) would. Only called when [`takes_splice`](Self::takes_splice)
    /// says so; other streams refuse.
    ///
    /// # Errors
    /// As `write_all`; what is left in the pipe is then garbage for the caller to drop.
    fn write_from_pipe(&mut self, pipe: std::os::fd::BorrowedFd<'_>, len: usize) -> Result<()> {
        let _ = (pipe, len);
        Err(Error::with_detail(ErrorKind::Unsupported, "", "This stream cannot be written from a pipe"))
    }

    /// Makes the written data visible under the file's name; returns the bytes written.
    ///
    /// # Errors
    /// A storage error; the data is then not presented as complete.
    fn commit(self: Box<Self>) -> Result<u64>;

    /// Gives up: a `Replace` stream leaves the old file untouched; `At`/`Append` streams keep
    /// what was written so the client can resume.
    fn abort(self: Box<Self>);
}

/// Space figures of a remote (rclone's About): each `None` when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Total bytes.
    pub total: Option<u64>,
    /// Bytes in use.
    pub used: Option<u64>,
    /// Bytes free for uploads.
    pub free: Option<u64>,
}

/// What a backend can do beyond the basics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `WriteMode::At` and `WriteMode::Append` work (in-place writes).
    pub write_in_place: bool,
}

/// The rules every backend's rename applies first: the root cannot be renamed, and a directory
/// cannot move into itself.
///
/// # Errors
/// `PermissionDenied` naming the rule.
pub fn check_rename(from: &VfsPath, to: &VfsPath) -> Result<()> {
    if from.is_root() || to.is_root() {
        return Err(Error::with_detail(ErrorKind::PermissionDenied, "/", "The root cannot be renamed"));
    }
    if to.starts_with(from) && to != from {
        return Err(Error::with_detail(
            ErrorKind::PermissionDenied,
            to.as_str(),
            "Cannot move a directory into itself",
        ));
    }
    Ok(())
}

/// A storage remote. All calls block; they run on worker threads only.
pub trait Backend: Send + Sync {
    /// What this backend supports.
    fn features(&self) -> Features;
    /// Stats one path. The root always exists.
    ///
    /// # Errors
    /// `NotFound` and the other storage errors.
    fn stat(&self, path: &VfsPath) -> Result<Entry>;
    /// Lists a directory, sorted by name.
    ///
    /// # Errors
    /// `NotFound`, `NotADirectory`, ...
    fn list(&self, path: &VfsPath) -> Result<Vec<Entry>>;
    /// Opens a file for reading `len` bytes from `offset` (to the end when `len` is `None`);
    /// the stream ends early at the end of the file. Remote backends map this to one ranged
    /// request, which is what the chunked reader needs.
    ///
    /// # Errors
    /// `NotFound`, `IsDirectory`, ...
    fn open_read(&self, path: &VfsPath, offset: u64, len: Option<u64>) -> Result<Box<dyn ReadStream>>;
    /// Opens a whole file for reading on the spot, but only when that cannot wait for storage
    /// (the local backend: every directory on the way is in the kernel's lookup cache).
    /// `None` means "use `open_read` on a worker", which also gives the right error for a
    /// path that fails here. Remote backends always answer `None`.
    fn open_read_now(&self, path: &VfsPath) -> Option<(Box<dyn ReadStream>, Entry)> {
        let _ = path;
        None
    }
    /// Opens a file for writing.
    ///
    /// # Errors
    /// `IsDirectory`, `NotFound` (parent missing), `Unsupported` (offset past the end), ...
    fn open_write(&self, path: &VfsPath, mode: WriteMode) -> Result<Box<dyn WriteStream>>;
    /// Makes one directory (the parent must exist).
    ///
    /// # Errors
    /// `AlreadyExists`, `NotFound`, ...
    fn mkdir(&self, path: &VfsPath) -> Result<()>;
    /// Removes an empty directory.
    ///
    /// # Errors
    /// `NotEmpty`, `NotADirectory`, `NotFound`, ...
    fn rmdir(&self, path: &VfsPath) -> Result<()>;
    /// Removes a file.
    ///
    /// # Errors
    /// `IsDirectory`, `NotFound`, ...
    fn remove(&self, path: &VfsPath) -> Result<()>;
    /// Renames a file or directory, replacing a file at `to`.
    ///
    /// # Errors
    /// `NotFound`, `IsDirectory`, ...
    fn rename(&self, from: &VfsPath, to: &VfsPath) -> Result<()>;
    /// Sets the modification time.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied`, ...
    fn set_modtime(&self, path: &VfsPath, mtime: SystemTime) -> Result<()>;

    /// The space figures of the whole remote, as far as the backend knows them.
    ///
    /// # Errors
    /// The backend failed to say.
    fn usage(&self) -> Result<Usage> {
        Ok(Usage::default())
    }

    /// Bytes read from the backend's files so far, where it counts them (memory does, for
    /// tests of partial reads; rc `vfs/stats` shows it).
    fn bytes_read(&self) -> Option<u64> {
        None
    }

    /// Requests sent to the remote so far, where the backend counts them (the HTTP remotes;
    /// rc `vfs/stats` and `core/stats` show it).
    fn requests(&self) -> Option<u64> {
        None
    }

    /// Replaces `path` with the whole local `file` (`size` bytes) and gives it `mtime`, when
    /// the backend does better knowing the size and time first (S3: one PUT with
    /// `Content-MD5` below `upload_cutoff`, else a multipart upload that carries the MD5).
    /// `None`: not handled here; the caller streams the file through `open_write` and sets
    /// the time with `set_modtime`. Used by the disk cache's write-back.
    fn upload_file(&self, path: &VfsPath, file: &std::fs::File, size: u64, mtime: SystemTime) -> Option<Result<()>> {
        let _ = (path, file, size, mtime);
        None
    }

    /// Free bytes for uploads under `path`, when the backend knows (AVBL).
    ///
    /// # Errors
    /// As [`Backend::stat`].
    fn available(&self, path: &VfsPath) -> Result<Option<u64>> {
        self.stat(path).map(|_| None)
    }
}
