//! Request bodies the HTTP remotes send: nothing, bytes in memory, or a range of a local file,
//! each of which can be sent again when a request is retried.

use std::io::Read;
use std::os::unix::fs::FileExt;

/// The body of a request.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// `len` bytes of a local file from `offset`.
    File {
        /// The file.
        file: &'a std::fs::File,
        /// Where the body starts.
        offset: u64,
        /// Its length.
        len: u64,
    },
}

impl Body<'_> {
    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// A range of a file read with `pread`, so threads can read parts of one file at once.
pub struct FileRange<'a> {
    file: &'a std::fs::File,
    pos: u64,
    end: u64,
}

impl<'a> FileRange<'a> {
    /// `len` bytes of `file` from `offset`.
    pub fn new(file: &'a std::fs::File, offset: u64, len: u64) -> FileRange<'a> {
        FileRange { file, pos: offset, end: offset.saturating_add(len) }
    }
}

impl Read for FileRange<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file is shorter than its upload"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
