//! Data connections: what a transfer moves (`TransferBody`), how it ended (`TransferOutcome`),
//! the byte pump the reactor runs for it (`pump.rs`), the passive-port pool
//! (`passive_pool.rs`) and active connects (`active.rs`).

pub mod active;
pub mod ascii;
pub mod bandwidth;
pub mod passive_pool;
pub mod pump;
pub mod splice_recv;

use std::net::SocketAddr;

use crate::backend::{self, ReadStream, WriteStream};

/// Where the data connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataVia {
    /// The client connects to our passive port (PASV/EPSV).
    Passive,
    /// We connect to the client (PORT/EPRT), already checked to be the control peer.
    Active(SocketAddr),
}

/// What one transfer moves.
pub enum TransferBody {
    /// Bytes already in memory (a listing).
    Send(Vec<u8>),
    /// A file to the client (RETR); `ascii` converts LF to CRLF.
    Download {
        /// The open file.
        stream: Box<dyn ReadStream>,
        /// TYPE A.
        ascii: bool,
        /// Bytes to read ahead of the client (`--buffer-size`; 0: one buffer).
        read_ahead: usize,
        /// The file's size when opened: a local file is sent with sendfile up to here.
        size: u64,
    },
    /// A file from the client (STOR, APPE, STOU); `ascii` converts CRLF to LF.
    Upload {
        /// The open file.
        stream: Box<dyn WriteStream>,
        /// TYPE A.
        ascii: bool,
    },
}

impl std::fmt::Debug for TransferBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferBody::Send(b) => write!(f, "Send({} bytes)", b.len()),
            TransferBody::Download { ascii, .. } => write!(f, "Download {{ ascii: {ascii} }}"),
            TransferBody::Upload { ascii, .. } => write!(f, "Upload {{ ascii: {ascii} }}"),
        }
    }
}

/// A transfer the session asks the reactor to run.
#[derive(Debug)]
pub struct TransferPlan {
    /// Passive or active.
    pub via: DataVia,
    /// What to move.
    pub body: TransferBody,
    /// PROT P: the data connection is TLS (RFC 4217).
    pub protected: bool,
}

/// How a transfer ended; the session turns it into the final reply.
#[derive(Debug)]
pub enum TransferOutcome {
    /// Everything moved (and an upload was committed): 226.
    Complete {
        /// Bytes on the data connection.
        bytes: u64,
    },
    /// Stopped by ABOR: 426 then 226.
    Aborted,
    /// The client closed the data connection before the end of a download: 426 (clients that
    /// download ranges in parallel do this on purpose).
    ClosedByPeer {
        /// Bytes sent before the close.
        bytes: u64,
    },
    /// No data connection could be made (connect refused, nobody connected in time): 425.
    NoConnection(&'static str),
    /// The data connection failed mid-transfer (reset, stalled past the timeout): 426.
    ConnectionLost(&'static str),
    /// Storage failed (read error, disk full, commit failed): the storage error's reply.
    Storage(backend::Error),
    /// TLS on the data connection failed or was refused (no session reuse): 522.
    TlsRefused(&'static str),
}
