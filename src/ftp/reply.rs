//! `Reply`: a reply code named by meaning plus text lines, its wire format (every line ends in
//! CRLF, multi-line replies per RFC 959 §4.2), and the one function that turns a storage
//! error into a reply.

use std::fmt::Write;

use crate::backend::{Error as StorageError, ErrorKind};
use crate::ftp::command::ParseError;

/// FTP reply codes used by this server, named by meaning (RFC 959 §4.2.2 unless noted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyCode {
    /// 150: about to open the data connection.
    FileStatusOk,
    /// 200.
    CommandOk,
    /// 202: command not needed at this site (ACCT, ALLO).
    Superfluous,
    /// 211: system status, FEAT (RFC 2389).
    SystemStatus,
    /// 213: file status (SIZE, MDTM, STAT path).
    FileStatus,
    /// 214: help message.
    HelpMessage,
    /// 215: system type.
    SystemType,
    /// 220: greeting.
    ServiceReady,
    /// 221: goodbye.
    ClosingControl,
    /// 225: data connection open, no transfer in progress (ABOR with nothing to abort).
    DataOpenNoTransfer,
    /// 226: transfer complete, closing data connection.
    ClosingDataSuccess,
    /// 227: entering passive mode (h1,h2,h3,h4,p1,p2).
    EnteringPassive,
    /// 229: entering extended passive mode (|||port|) (RFC 2428).
    EnteringExtendedPassive,
    /// 230: logged in.
    LoggedIn,
    /// 234: security mechanism accepted, start the handshake (RFC 2228).
    AuthOk,
    /// 250: requested file action completed.
    FileActionOk,
    /// 257: "PATH" created / is the current directory.
    PathCreated,
    /// 331: user name okay, need password.
    NeedPassword,
    /// 350: pending further information (RNFR, REST).
    PendingFurtherInfo,
    /// 421: service not available, closing control connection.
    ServiceNotAvailable,
    /// 425: can't open data connection.
    CantOpenData,
    /// 426: connection closed, transfer aborted.
    TransferAborted,
    /// 450: file unavailable (busy, transient).
    FileBusy,
    /// 451: local error in processing.
    LocalError,
    /// 452: insufficient storage space.
    InsufficientStorage,
    /// 500: syntax error, command unrecognized (also: line too long).
    SyntaxError,
    /// 501: syntax error in parameters or arguments.
    SyntaxErrorArgs,
    /// 502: command not implemented.
    NotImplemented,
    /// 503: bad sequence of commands.
    BadSequence,
    /// 504: command not implemented for that parameter.
    NotImplementedForParam,
    /// 522: network protocol not supported (RFC 2428).
    ProtocolNotSupported,
    /// 521: data connection cannot be opened with this PROT setting (RFC 4217).
    ProtRequired,
    /// 522: (data connection) TLS negotiation failed or was refused (RFC 4217 §10).
    TlsNegotiationFailed,
    /// 530: not logged in.
    NotLoggedIn,
    /// 534: request denied for policy reasons (RFC 2228).
    RequestDenied,
    /// 536: requested PROT level not supported (RFC 2228).
    ProtLevelNotSupported,
    /// 550: file unavailable (not found, no access, read-only).
    FileUnavailable,
    /// 553: file name not allowed.
    NameNotAllowed,
}

impl ReplyCode {
    /// The three-digit number. (522 has two meanings: RFC 2428's unsupported network protocol
    /// and RFC 4217's failed data-connection TLS; each has its own variant.)
    pub fn number(self) -> u16 {
        match self {
            ReplyCode::FileStatusOk => 150,
            ReplyCode::CommandOk => 200,
            ReplyCode::Superfluous => 202,
            ReplyCode::SystemStatus => 211,
            ReplyCode::FileStatus => 213,
            ReplyCode::HelpMessage => 214,
            ReplyCode::SystemType => 215,
            ReplyCode::ServiceReady => 220,
            ReplyCode::ClosingControl => 221,
            ReplyCode::DataOpenNoTransfer => 225,
            ReplyCode::ClosingDataSuccess => 226,
            ReplyCode::EnteringPassive => 227,
            ReplyCode::EnteringExtendedPassive => 229,
            ReplyCode::LoggedIn => 230,
            ReplyCode::AuthOk => 234,
            ReplyCode::FileActionOk => 250,
            ReplyCode::PathCreated => 257,
            ReplyCode::NeedPassword => 331,
            ReplyCode::PendingFurtherInfo => 350,
            ReplyCode::ServiceNotAvailable => 421,
            ReplyCode::CantOpenData => 425,
            ReplyCode::TransferAborted => 426,
            ReplyCode::FileBusy => 450,
            ReplyCode::LocalError => 451,
            ReplyCode::InsufficientStorage => 452,
            ReplyCode::SyntaxError => 500,
            ReplyCode::SyntaxErrorArgs => 501,
            ReplyCode::NotImplemented => 502,
            ReplyCode::BadSequence => 503,
            ReplyCode::NotImplementedForParam => 504,
            ReplyCode::ProtocolNotSupported => 522,
            ReplyCode::ProtRequired => 521,
            ReplyCode::TlsNegotiationFailed => 522,
            ReplyCode::NotLoggedIn => 530,
            ReplyCode::RequestDenied => 534,
            ReplyCode::ProtLevelNotSupported => 536,
            ReplyCode::FileUnavailable => 550,
            ReplyCode::NameNotAllowed => 553,
        }
    }
}

/// One reply: a code and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code.
    pub code: ReplyCode,
    /// Text lines; the first and last carry the code, the middle ones are indented.
    pub lines: Vec<String>,
}

impl Reply {
    /// A single-line reply.
    pub fn new(code: ReplyCode, text: impl Into<String>) -> Reply {
        Reply { code, lines: vec![text.into()] }
    }

    /// A multi-line reply; `lines` must hold at least the first and the last line.
    pub fn multi(code: ReplyCode, lines: Vec<String>) -> Reply {
        Reply { code, lines }
    }

    /// Appends the wire form to `out`.
    ///
    /// SECURITY: CR and LF inside any text (a file name, an echoed argument) are replaced by
    /// spaces, so a client can never inject a reply line of its own choosing.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let n = self.code.number();
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let clean = sanitize(line);
            if self.lines.len() == 1 {
                let _ = write_vec(out, format_args!("{n} {clean}\r\n"));
            } else if i == 0 {
                let _ = write_vec(out, format_args!("{n}-{clean}\r\n"));
            } else if i == last {
                let _ = write_vec(out, format_args!("{n} {clean}\r\n"));
            } else {
                // RFC 959: a middle line must not start with a digit; lead with a space.
                let _ = write_vec(out, format_args!(" {}\r\n", clean.trim_start()));
            }
        }
    }

    /// The wire form as a string (tests and logs).
    pub fn to_wire(&self) -> String {
        let mut v = Vec::new();
        self.write_to(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }
}

fn write_vec(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) -> std::fmt::Result {
    let mut s = String::new();
    s.write_fmt(args)?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n', '\0']) {
        std::borrow::Cow::Owned(text.replace(['\r', '\n', '\0'], " "))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Quotes a path for a 257 reply: embedded `"` are doubled (RFC 959 Appendix II).
pub fn quote_path(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

/// The reply for a command line that did not parse.
pub fn for_parse_error(e: ParseError) -> Reply {
    let code = match e {
        ParseError::BadLine => ReplyCode::SyntaxError,
        ParseError::BadArgument | ParseError::MissingArgument | ParseError::NotUtf8 => ReplyCode::SyntaxErrorArgs,
        ParseError::NotImplemented => ReplyCode::NotImplemented,
        ParseError::UnsupportedParameter => ReplyCode::NotImplementedForParam,
    };
    Reply::new(code, e.to_string())
}

/// The one place a storage error becomes a reply. Codes per kind:
///
/// | kind | code |
/// |---|---|
/// | `NotFound`, `AlreadyExists`, `IsDirectory`, `NotADirectory`, `NotEmpty`, `PermissionDenied`, `ReadOnly`, `Unsupported` | 550 |
/// | `InvalidName` | 553 |
/// | `NoSpace` | 452 |
/// | `Transient` | 450 |
/// | `Other` | 451 |
///
/// The text names the path as the client sees it, and the reason; never a server-side path.
pub fn for_storage_error(e: &StorageError) -> Reply {
    let code = match e.kind {
        ErrorKind::NotFound
        | ErrorKind::AlreadyExists
        | ErrorKind::IsDirectory
        | ErrorKind::NotADirectory
        | ErrorKind::NotEmpty
        | ErrorKind::PermissionDenied
        | ErrorKind::ReadOnly
        | ErrorKind::Unsupported => ReplyCode::FileUnavailable,
        ErrorKind::InvalidName => ReplyCode::NameNotAllowed,
        ErrorKind::NoSpace => ReplyCode::InsufficientStorage,
        ErrorKind::Transient => ReplyCode::FileBusy,
        ErrorKind::Other => ReplyCode::LocalError,
    };
    Reply::new(code, e.client_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line_replies_end_in_crlf() {
        assert_eq!(Reply::new(ReplyCode::CommandOk, "OK").to_wire(), "200 OK\r\n");
        let r = Reply::multi(ReplyCode::SystemStatus, vec!["Features:".into(), " UTF8".into(), "End".into()]);
        assert_eq!(r.to_wire(), "211-Features:\r\n UTF8\r\n211 End\r\n");
    }

    #[test]
    fn names_with_crlf_cannot_inject_reply_lines() {
        let r = Reply::new(ReplyCode::FileUnavailable, "x\r\n230 fake");
        assert_eq!(r.to_wire(), "550 x  230 fake\r\n");
    }

    #[test]
    fn quotes_are_doubled_in_257() {
        assert_eq!(quote_path("/a\"b"), "\"/a\"\"b\"");
    }
}
