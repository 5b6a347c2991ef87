//! `backend::Error`: the closed set of storage failures everything below the session speaks,
//! with the client-visible path and the OS error behind it.

use std::fmt;
use std::io;

/// What went wrong, as a closed set. `ftp::reply::for_storage_error` maps each to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something is already there (MKD of an existing name).
    AlreadyExists,
    /// The name cannot be used (too long, forbidden bytes).
    InvalidName,
    /// A directory where a file is needed.
    IsDirectory,
    /// The disk or quota is full.
    NoSpace,
    /// A file where a directory is needed.
    NotADirectory,
    /// RMD of a directory that still has entries.
    NotEmpty,
    /// Nothing by that name (symlinks, devices and hidden partial uploads count as nothing).
    NotFound,
    /// The OS refused access.
    PermissionDenied,
    /// The server runs with `--read-only`.
    ReadOnly,
    /// Worth retrying (interrupted, timed out).
    Transient,
    /// The operation is not possible with these options (seek with `--no-seek`, REST past EOF).
    Unsupported,
    /// Anything else; logged in full, summarised to the client.
    Other,
}

/// A storage failure: its kind, the path as the client sees it, and the cause.
#[derive(Debug)]
pub struct Error {
    /// The class of failure.
    pub kind: ErrorKind,
    /// The client-visible path (`/dir/file`), never a server-side path.
    pub path: String,
    /// A short fixed explanation when the kind alone is not enough.
    pub detail: Option<&'static str>,
    /// The OS error, if any (logged, summarised to the client).
    pub source: Option<io::Error>,
}

/// Result with a storage error.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` about `path`.
    pub fn new(kind: ErrorKind, path: impl Into<String>) -> Error {
        Error { kind, path: path.into(), detail: None, source: None }
    }

    /// An error of `kind` about `path` with a fixed explanation.
    pub fn with_detail(kind: ErrorKind, path: impl Into<String>, detail: &'static str) -> Error {
        Error { kind, path: path.into(), detail: Some(detail), source: None }
    }

    /// Classifies an OS error about `path`.
    pub fn from_io(e: io::Error, path: impl Into<String>) -> Error {
        let kind = kind_of(&e);
        Error { kind, path: path.into(), detail: None, source: Some(e) }
    }

    /// The text for the FTP reply: the path and the reason, no server-side details.
    pub fn client_message(&self) -> String {
        let reason = self.detail.unwrap_or(match self.kind {
            ErrorKind::AlreadyExists => "File exists",
            ErrorKind::InvalidName => "File name not allowed",
            ErrorKind::IsDirectory => "Is a directory",
            ErrorKind::NoSpace => "No space left on device",
            ErrorKind::NotADirectory => "Not a directory",
            ErrorKind::NotEmpty => "Directory not empty",
            ErrorKind::NotFound => "No such file or directory",
            ErrorKind::PermissionDenied => "Permission denied",
            ErrorKind::ReadOnly => "Read-only file system",
            ErrorKind::Transient => "Temporarily unavailable, try again",
            ErrorKind::Unsupported => "Operation not supported",
            ErrorKind::Other => "Local error",
        });
        if self.path.is_empty() {
            reason.to_string()
        } else {
            format!("{}: {reason}", self.path)
        }
    }
}

fn kind_of(e: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    match e.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::DirectoryNotEmpty => ErrorKind::NotEmpty,
        K::IsADirectory => ErrorKind::IsDirectory,
        K::NotADirectory => ErrorKind::NotADirectory,
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => ErrorKind::NoSpace,
        K::ReadOnlyFilesystem => ErrorKind::ReadOnly,
        K::InvalidFilename => ErrorKind::InvalidName,
        K::Interrupted | K::TimedOut | K::WouldBlock | K::ResourceBusy => ErrorKind::Transient,
        _ => match e.raw_os_error() {
            // A symlink met with O_NOFOLLOW: symlinks are not served.
            Some(libc::ELOOP) => ErrorKind::NotFound,
            Some(libc::ENOTDIR) => ErrorKind::NotADirectory,
            Some(libc::EXDEV) => ErrorKind::Unsupported,
            _ => ErrorKind::Other,
        },
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.client_message())?;
        if let Some(s) = &self.source {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}
