//! Where a session stands. Two dimensions, each an enum holding its own data:
//!
//! ```text
//! Phase (who is logged in):
//!
//!   connect ──▶ AwaitUser ──USER──▶ AwaitPass ──PASS ok──▶ LoggedIn ◀──────┐
//!                  ▲                   │                     │  ▲          │
//!                  └── PASS bad (after │                     │  └─ other ──┤
//!                      a growing delay)┘                  RNFR ok          │
//!                                                            ▼             │
//!                                                        AwaitRnto{from} ─RNTO
//!
//! Busy (what the session waits for before it takes the next line):
//!
//!   Idle ──job──▶ Job(Pending) ──done──▶ Idle
//!   Idle ──PASV/EPSV──▶ OpeningPassive ──port ready──▶ Idle
//!   Job(Retr|Stor|List..) ──opened──▶ Transfer ──done──▶ Idle
//!                                       │  (ABOR, STAT, NOOP, QUIT are taken meanwhile)
//!                                       └─ABOR──▶ Aborting ──stopped──▶ Idle (426 + 226)
//!   Idle ──PASS bad──▶ LoginDelay{until} ──deadline──▶ Idle (530)
//! ```
//! A verb the phase does not allow is refused in one place (`Session::allowed`): 530 before
//! login, 503 out of order.

use std::time::Instant;

use crate::ftp::args::TimeVal;
use crate::vfs::VfsPath;

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Greeting sent; waiting for USER.
    AwaitUser,
    /// USER given; waiting for PASS.
    AwaitPass {
        /// The name given.
        user: String,
    },
    /// Logged in.
    LoggedIn {
        /// Who.
        user: String,
    },
    /// RNFR accepted; the next command must be RNTO.
    AwaitRnto {
        /// Who.
        user: String,
        /// The path being renamed.
        from: VfsPath,
    },
}

/// What a session waits for.
#[derive(Debug)]
pub enum Busy {
    /// Nothing: the next line is taken.
    Idle,
    /// A worker job; the result goes to the handler `Pending` names.
    Job(Pending),
    /// The reactor is opening a passive port; `extended` is EPSV.
    OpeningPassive {
        /// EPSV (229) rather than PASV (227).
        extended: bool,
    },
    /// Data is moving.
    Transfer(TransferKind),
    /// ABOR was sent to the reactor; waiting for the transfer to stop.
    Aborting,
    /// A failed login's 530 is held until `until`.
    LoginDelay {
        /// When to answer.
        until: Instant,
    },
}

/// What a pending job's result is for.
#[derive(Debug)]
pub enum Pending {
    /// AVBL.
    Avbl(VfsPath),
    /// PASS through the auth proxy, for this user.
    ProxyLogin(String),
    /// CWD/CDUP to this path.
    Cwd(VfsPath),
    /// DELE.
    Dele(VfsPath),
    /// LIST/NLST/MLSD listing bytes for the data connection.
    Listing,
    /// MDTM.
    Mdtm,
    /// MFMT to this time.
    Mfmt(VfsPath, TimeVal),
    /// MKD.
    Mkd(VfsPath),
    /// MLST.
    Mlst(VfsPath),
    /// STAT without a path, once the space figures are in.
    StatServer,
    /// RETR.
    Retr(VfsPath),
    /// RMD.
    Rmd(VfsPath),
    /// RNFR.
    Rnfr(VfsPath),
    /// RNTO.
    Rnto,
    /// SIZE.
    Size(VfsPath),
    /// STAT with a path: listing bytes for a 213 reply.
    StatPath(VfsPath),
    /// STOR, APPE or STOU.
    Store {
        /// STOU: the reply names the file.
        unique: bool,
    },
}

/// What the transfer in progress is, for its final reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// A listing.
    Listing,
    /// RETR.
    Retr,
    /// STOR, APPE, STOU.
    Store,
}
