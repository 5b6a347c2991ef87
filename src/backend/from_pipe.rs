//! Writing bytes that wait in a pipe (a spliced upload; see `data::splice_recv`) into a file:
//! by splice(2) where the file takes it, through memory where it does not (`EINVAL`: a file
//! opened for appending, a file system without splice support), so no byte is lost either way.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;

/// How [`write_from_pipe`] moved the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Inside the kernel.
    Spliced,
    /// Through memory, the file refusing splice: the caller may stop offering it.
    ThroughMemory,
}

/// Moves exactly `len` bytes waiting in `pipe` into `file`, at `*offset` (advanced) or, with
/// `None`, at the file's position.
///
/// # Errors
/// As the file's writes; the pipe may then still hold some of the bytes.
pub fn write_from_pipe(
    pipe: BorrowedFd<'_>,
    file: &File,
    mut offset: Option<&mut u64>,
    len: usize,
) -> io::Result<Moved> {
    let mut left = len;
    while left > 0 {
        match crate::sys::splice(pipe, file.as_fd(), offset.as_deref_mut(), left, false) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the upload's pipe ran dry")),
            Ok(n) => left -= n.min(left),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                let mut bytes = vec![0; left];
                File::from(pipe.try_clone_to_owned()?).read_exact(&mut bytes)?;
                match offset {
                    Some(o) => {
                        file.write_all_at(&bytes, *o)?;
                        *o += left as u64;
                    }
                    None => (&*file).write_all(&bytes)?,
                }
                return Ok(Moved::ThroughMemory);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Moved::Spliced)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn piped(pipe: &crate::sys::Pipe, bytes: &[u8]) {
        File::from(pipe.write_end.try_clone().unwrap()).write_all(bytes).unwrap();
    }

    #[test]
    fn spliced_at_an_offset_or_the_position_and_through_memory_when_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let pipe = crate::sys::Pipe::new(1 << 16).unwrap();

        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let mut at = 2u64;
        piped(&pipe, b"ab");
        assert_eq!(write_from_pipe(pipe.read_end.as_fd(), &file, Some(&mut at), 2).unwrap(), Moved::Spliced);
        assert_eq!(at, 4);
        piped(&pipe, b"XY");
        assert_eq!(write_from_pipe(pipe.read_end.as_fd(), &file, None, 2).unwrap(), Moved::Spliced);
        assert_eq!(std::fs::read(&path).unwrap(), b"XYab456789", "the offset write left the position at 0");

        // splice refuses a file opened for appending: the bytes go through memory.
        let file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        piped(&pipe, b"tail");
        assert_eq!(write_from_pipe(pipe.read_end.as_fd(), &file, None, 4).unwrap(), Moved::ThroughMemory);
        assert_eq!(std::fs::read(&path).unwrap(), b"XYab456789tail");
    }
}
