//! The few direct system calls std does not offer, each explained. This is the only module
//! allowed `unsafe`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes available to an unprivileged user on the file system holding `path` (statvfs:
/// `f_bavail * f_frsize`), for the AVBL command.
///
/// # Errors
/// The path holds a NUL byte, or statvfs failed.
pub fn available_bytes(path: &Path) -> io::Result<u64> {
    fs_space(path).map(|s| s.free)
}

/// Size, use and free space (for unprivileged users) of the file system holding `path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsSpace {
    /// Total bytes.
    pub total: u64,
    /// Bytes in use.
    pub used: u64,
    /// Bytes an unprivileged user may still write.
    pub free: u64,
}

/// statvfs of `path` as byte counts.
///
/// # Errors
/// The path holds a NUL byte, or statvfs failed.
pub fn fs_space(path: &Path) -> io::Result<FsSpace> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string; st points to writable memory of the
    // right type, which statvfs fills completely when it returns 0.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so st is initialised.
    let st = unsafe { st.assume_init() };
    // The field types differ between architectures (u32 on some 32-bit targets).
    #[allow(clippy::unnecessary_cast)]
    let (blocks, bfree, bavail, size) = (st.f_blocks as u64, st.f_bfree as u64, st.f_bavail as u64, st.f_frsize as u64);
    Ok(FsSpace {
        total: blocks.saturating_mul(size),
        used: blocks.saturating_sub(bfree).saturating_mul(size),
        free: bavail.saturating_mul(size),
    })
}

/// `sendfile(2)`: sends up to `count` bytes of `file` from `*offset` to the socket `out`
/// (the kernel copies page cache to socket buffers; nothing passes through user space) and
/// advances `*offset`. The file's own position is not used or moved.
///
/// # Errors
/// As sendfile: `WouldBlock` when a non-blocking socket is full, `BrokenPipe` and
/// `ConnectionReset` when the peer is gone.
pub fn sendfile(out: BorrowedFd<'_>, file: BorrowedFd<'_>, offset: &mut u64, count: usize) -> io::Result<usize> {
    let mut off = libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both descriptors are valid for the duration of the call (borrowed); `off` is a
    // valid, writable off_t the kernel updates.
    let n = unsafe { libc::sendfile(out.as_raw_fd(), file.as_raw_fd(), &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = u64::try_from(off).unwrap_or(*offset);
    Ok(n.unsigned_abs())
}

/// A pipe: the kernel-side buffer through which an upload is spliced from its socket into its
/// file (see `data::splice_recv`). Both ends close on drop.
pub struct Pipe {
    /// The end bytes are spliced out of.
    pub read_end: std::os::fd::OwnedFd,
    /// The end bytes are spliced into.
    pub write_end: std::os::fd::OwnedFd,
}

impl Pipe {
    /// A new pipe (close-on-exec) holding up to `capacity` bytes when the system allows it
    /// (`F_SETPIPE_SZ`, limited by `/proc/sys/fs/pipe-max-size` and the user's pipe quota);
    /// otherwise the kernel's default size (64 KiB), which works, in smaller steps.
    ///
    /// # Errors
    /// As pipe2 (no descriptors left).
    pub fn new(capacity: usize) -> io::Result<Pipe> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` is a valid array of two ints the kernel fills in.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded: both descriptors are new and owned by nothing else.
        let pipe = unsafe {
            Pipe {
                read_end: std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                write_end: std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            }
        };
        let capacity = libc::c_int::try_from(capacity).unwrap_or(libc::c_int::MAX);
        // SAFETY: F_SETPIPE_SZ on a descriptor valid for the call; failure leaves the default.
        let _ = unsafe { libc::fcntl(pipe.write_end.as_raw_fd(), libc::F_SETPIPE_SZ, capacity) };
        Ok(pipe)
    }

    /// The pipe's capacity in bytes (`F_GETPIPE_SZ`).
    ///
    /// # Errors
    /// As fcntl.
    pub fn capacity(&self) -> io::Result<usize> {
        // SAFETY: F_GETPIPE_SZ on a descriptor valid for the call.
        let n = unsafe { libc::fcntl(self.write_end.as_raw_fd(), libc::F_GETPIPE_SZ) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

/// `splice(2)` of up to `len` bytes from `from` into `to`, one of which must be a pipe. `from`
/// is read at its position; `to` is written at `*to_offset` (advanced by the bytes moved; the
/// file's position is untouched) or, with `None`, at its position. `nonblock` makes a call that
/// would wait for the pipe fail with `WouldBlock` instead (a non-blocking socket never waits
/// either way). 0 means the source ended.
///
/// # Errors
/// `WouldBlock`; `InvalidInput` for descriptors splice cannot join (`EINVAL`: a file opened for
/// appending, a file system without splice support); otherwise as splice (a file system's
/// `ENOSPC`, a socket's `ECONNRESET`).
pub fn splice(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    to_offset: Option<&mut u64>,
    len: usize,
    nonblock: bool,
) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | if nonblock { libc::SPLICE_F_NONBLOCK } else { 0 };
    let mut off: libc::loff_t = 0;
    if let Some(o) = to_offset.as_deref() {
        off = libc::loff_t::try_from(*o).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    }
    let off_out: *mut libc::loff_t = if to_offset.is_some() { &mut off } else { std::ptr::null_mut() };
    // SAFETY: both descriptors are valid for the call (borrowed); a null offset means "use and
    // move the file position", a non-null one points at `off`, a valid loff_t that outlives
    // the call; no other memory is passed.
    let n = unsafe { libc::splice(from.as_raw_fd(), std::ptr::null_mut(), to.as_raw_fd(), off_out, len, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if let Some(o) = to_offset {
        *o = u64::try_from(off).unwrap_or(*o);
    }
    Ok(n.unsigned_abs())
}

/// `openat2(2)` for reading, only as far as the kernel's lookup cache goes: opens `relative`
/// under the directory `dir` with `RESOLVE_CACHED` (fails with `WouldBlock` rather than read a
/// directory from storage), `RESOLVE_BENEATH` (no `..` or absolute path out of `dir`),
/// `RESOLVE_NO_SYMLINKS` (no symlink anywhere on the way, the last component included) and
/// `RESOLVE_NO_XDEV` (no crossing into another mount, which could be a network file system).
///
/// # Errors
/// `WouldBlock` when the lookup would need storage; `Unsupported` on kernels without openat2
/// (before 5.6) or `RESOLVE_CACHED` (before 5.12); otherwise as openat2.
pub fn open_cached_beneath(dir: BorrowedFd<'_>, relative: &Path) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let path =
        CString::new(relative.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    // O_NONBLOCK: a FIFO opens at once instead of waiting for a writer (the caller checks
    // the file type and clears the flag).
    how.flags = (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_CACHED
        | libc::RESOLVE_BENEATH
        | libc::RESOLVE_NO_SYMLINKS
        | libc::RESOLVE_NO_MAGICLINKS
        | libc::RESOLVE_NO_XDEV;
    // SAFETY: `dir` is valid for the call (borrowed), `path` is a NUL-terminated string that
    // outlives it, and `how` is a valid open_how whose size is passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EAGAIN) => io::ErrorKind::WouldBlock.into(),
            Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::E2BIG) => io::ErrorKind::Unsupported.into(),
            _ => e,
        });
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("openat2 returned an invalid descriptor"))?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// The file system type (`f_type`, a magic number such as 0xEF53 for ext2/3/4) of the file
/// system holding `file`: `fstatfs(2)`.
///
/// # Errors
/// As fstatfs.
pub fn fs_type(file: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: statfs is plain data and all-zero is valid; the descriptor is valid for the call
    // (borrowed) and the kernel writes only into `st`.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstatfs(file.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // f_type's C type varies between libcs; the magic numbers fit in 32 bits.
    #[allow(clippy::unnecessary_cast)]
    Ok((st.f_type as u64) & 0xffff_ffff)
}

/// Clears `O_NONBLOCK` on `file` (opened non-blocking only so that opening a FIFO by mistake
/// could not wait for a writer).
///
/// # Errors
/// As fcntl.
pub fn clear_nonblocking(file: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor valid for the duration of the calls (borrowed).
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`: starts writing `len` bytes of `file` from `offset`
/// to storage without waiting for it (dirty pages already under writeback are skipped).
///
/// # Errors
/// As sync_file_range (`Unsupported`-like errors on file systems without it).
pub fn start_writeback(file: BorrowedFd<'_>, offset: u64, len: u64) -> io::Result<()> {
    let offset = libc::off64_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let len = libc::off64_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the descriptor is valid for the duration of the call (borrowed); no memory is
    // passed.
    let r = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `preadv2` with `RWF_NOWAIT`: reads up to `buf.len()` bytes of `file` at `offset` only as
/// far as the page cache holds them, never waiting for storage.
///
/// # Errors
/// `WouldBlock` when the bytes are not cached (or a lock is held); `Unsupported` on file
/// systems that cannot tell; other read errors as `pread`.
pub fn pread_cached(file: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let off = libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: the descriptor is valid for the call (borrowed); one iovec describing `buf`,
    // which is valid and writable for its whole length during the call.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, off, libc::RWF_NOWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.unsigned_abs())
}

/// Whether a socket can take more bytes now (`poll` with no wait). Errors count as writable, so
/// the caller's next write reports them.
pub fn writable_now(fd: BorrowedFd<'_>) -> bool {
    wait_writable(fd, 0)
}

/// Takes an exclusive advisory lock on `file` without waiting (`flock`); false if another
/// process holds it. The lock lasts as long as the file stays open.
///
/// # Errors
/// flock failed for another reason.
pub fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    // SAFETY: the descriptor is valid for the call (borrowed from an open File).
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Waits up to `millis` for a socket to have bytes (or an end, or an error) to read.
pub fn wait_readable(fd: BorrowedFd<'_>, millis: i32) -> bool {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, millis) };
    rc != 0
}

/// Waits up to `millis` for a socket to take more bytes; true if it can (or has an error the
/// next write will report).
pub fn wait_writable(fd: BorrowedFd<'_>, millis: i32) -> bool {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, millis) };
    rc != 0
}

/// Whether standard input is a terminal (a password prompt may be shown).
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// Prints `prompt` on stderr and reads one line from the terminal on stdin with echo off
/// (restored afterwards, also when the read fails).
///
/// # Errors
/// The terminal cannot be switched or read.
pub fn read_password(prompt: &str) -> io::Result<String> {
    use std::io::{BufRead, Write};
    eprint!("{prompt} ");
    let _ = std::io::stderr().flush();
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a valid descriptor or fails.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 and a valid pointer to a termios.
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: as above, with settings derived from the terminal's own.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Buffers of 256 KiB and more (upload parts, read-ahead chunks) get their own mappings, given
/// back to the system when freed. glibc otherwise raises that threshold to the largest buffer
/// freed so far and keeps later ones in per-thread heaps: after a 1 GiB RETR, a STOR then
/// peaked 3.4 MiB higher (36.4 against 33.0 MiB). No effect elsewhere (musl maps them anyway).
pub fn return_large_buffers_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; called once before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
    }
}

/// A listening TCP socket inherited at descriptor `fd` (systemd socket activation): checked to
/// be an open listening stream socket, then made close-on-exec and non-blocking.
///
/// # Errors
/// `fd` is not open, or not a listening stream socket.
pub fn inherited_listener(fd: std::os::fd::RawFd) -> io::Result<std::net::TcpListener> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_GETFD/F_SETFD read and set descriptor flags; no memory is touched.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and was handed to this process by its
    // parent (LISTEN_PID names us); nothing else in the process owns it.
    let socket = socket2::Socket::from(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    if socket.r#type()? != socket2::Type::STREAM || !socket.is_listener()? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is not a listening TCP socket"),
        ));
    }
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// CLOCK_MONOTONIC in microseconds (what systemd's `MONOTONIC_USEC=` wants with `RELOADING=1`).
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000).saturating_add(ts.tv_nsec as u64 / 1000)
}

/// The local weekday (0 = Sunday), hour and minute of `t`, as the C library's `localtime_r`
/// sees them (`TZ`, else `/etc/localtime`); UTC if the time cannot be converted.
pub fn local_weekday_time(t: std::time::SystemTime) -> (u32, u32, u32) {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let Ok(when) = libc::time_t::try_from(secs) else { return (4, 0, 0) };
    // SAFETY: `tm` is plain data that localtime_r fills; both pointers are valid for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&when, &mut tm) }.is_null() {
        let days = secs / 86_400;
        let in_day = secs % 86_400;
        // 1970-01-01 was a Thursday.
        return (((days + 4) % 7) as u32, (in_day / 3600) as u32, (in_day % 3600 / 60) as u32);
    }
    let part = |v: libc::c_int| u32::try_from(v).unwrap_or(0);
    (part(tm.tm_wday), part(tm.tm_hour), part(tm.tm_min))
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(clippy::unwrap_used)]
    fn pread_cached_reads_what_the_page_cache_holds_or_says_it_cannot() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 16];
        match super::pread_cached(file.as_fd(), &mut buf, 3) {
            // Just written, so cached: the bytes from offset 3 on.
            Ok(n) => assert_eq!(&buf[..n], b"3456789"),
            Err(e) => {
                assert!(matches!(e.kind(), std::io::ErrorKind::Unsupported | std::io::ErrorKind::WouldBlock), "{e}")
            }
        }
    }

    #[test]
    fn the_temp_dir_has_a_size() {
        let dir = std::env::temp_dir();
        assert!(super::available_bytes(&dir).is_ok());
        assert!(super::available_bytes(std::path::Path::new("/nonexistent/x")).is_err());
    }
}
