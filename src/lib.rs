//! ftpvfs: an FTP server for a local folder (and, in later releases, any storage remote),
//! compatible with `rclone serve ftp`'s command line.
//!
//! # Architecture
//! ```text
//!              mio Poll (one reactor thread)                      worker threads (fixed pool)
//!  listener ─▶ control sockets ─▶ LineFramer ─▶ Session ──Job──▶  Vfs ─▶ Backend
//!  passive pool / data sockets ◀──── Action ◀── (no I/O) ◀──Completion── (channel + mio::Waker)
//! ```
//! The reactor ([`server`]) owns every socket and timer. A [`session::Session`] is a pure
//! state machine: lines and completions in; actions (reply, job, open passive port, start a
//! transfer, close) out. Whatever may block (disk) is a job on the worker pool; its result
//! comes back through a channel, and the worker wakes the reactor.
//!
//! # One RETR's life
//! 1. `PASV`: the session asks for a passive port ([`session::Action::OpenPassive`]); the
//!    reactor binds one from [`data::passive_pool`] and the session replies 227.
//! 2. The client connects; the reactor accepts it only from the control peer's address.
//! 3. `RETR f`: the session resolves `f` to a [`vfs::VfsPath`] and asks for it to be opened
//!    ([`session::Job::OpenRead`]): the reactor opens a local file itself when the kernel has
//!    its path cached ([`session::jobs::run_now`]), else a worker does; a missing file ends
//!    here with 550.
//! 4. The open stream comes back; the session replies 150 and hands a
//!    [`data::TransferPlan`] to the reactor, which runs a [`data::pump::Pump`]: a local file
//!    of up to 64 KiB that the page cache holds is read there (`RWF_NOWAIT`, never waiting for
//!    storage) and sent from memory; for a larger local file on a plain connection a worker
//!    sends it with blocking, corked sendfile until the
//!    socket stays full for 20 ms (the reactor hands it back when the socket drains) or its
//!    time is up (64 MiB or 100 ms while other tasks wait for a worker, else up to 1 s); under
//!    TLS a worker reads, encrypts and sends it the same way; otherwise (ASCII, remote files)
//!    workers fill buffers (up to `--buffer-size` ahead) while the reactor writes them to the
//!    socket.
//! 5. At end of file the reactor closes the data connection and reports
//!    [`data::TransferOutcome::Complete`]; the session replies 226.

pub mod auth;
pub mod backend;
pub mod cli;
pub mod data;
pub mod ftp;
pub mod logging;
pub mod rc;
pub mod remote;
pub mod server;
pub mod session;
pub mod sys;
pub mod tls;
pub mod vfs;
pub mod xferlog;

#[doc(hidden)]
pub mod fuzzing;
