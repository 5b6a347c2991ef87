//! `Command`: one variant per FTP verb, and `parse(line)` from one framed line.
//!
//! Grammar (RFC 959 §5.3.1): `<command> ::= <verb> [<SP> <argument>]`, where the verb is 3 or
//! 4 letters matched case-insensitively. The argument is the rest of the line after exactly
//! one space, kept as typed, so names with inner and trailing spaces survive. Arguments must be
//! UTF-8 (RFC 2640); anything else is refused with 501 before any handler sees it.

use std::fmt;

use nom::bytes::complete::take_while_m_n;
use nom::Parser;

use crate::auth::Secret;
use crate::ftp::args::{self, EprtTarget, EpsvArg, OptsArg, TimeVal, TransferType};

/// Why a line is not a command a handler can run. `Copy`, with static messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The argument is malformed for this verb: 501.
    BadArgument,
    /// The line is not `<verb> [<SP> <argument>]`, or the verb is unknown: 500.
    BadLine,
    /// The argument is not valid UTF-8: 501.
    NotUtf8,
    /// A known verb this server does not implement: 502.
    NotImplemented,
    /// A required argument is missing: 501.
    MissingArgument,
    /// A well-formed parameter this server does not support: 504.
    UnsupportedParameter,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::BadArgument => "Syntax error in parameters or arguments",
            ParseError::BadLine => "Syntax error, command unrecognized",
            ParseError::NotUtf8 => "Argument is not valid UTF-8",
            ParseError::NotImplemented => "Command not implemented",
            ParseError::MissingArgument => "Command needs an argument",
            ParseError::UnsupportedParameter => "Command not implemented for that parameter",
        })
    }
}

impl std::error::Error for ParseError {}

/// Options of LIST and NLST (`-a`, `-l`, `-la`; others are accepted and ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListArgs {
    /// The path after any options; empty means the current directory.
    pub path: String,
    /// Whether options were given (kept for the round trip).
    pub options: String,
}

/// One parsed FTP command. Variants keep the RFC verb; the doc gives the full name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// ABORT (RFC 959 §4.1.3).
    Abor,
    /// ACCOUNT (RFC 959 §4.1.1); accounts are not used here.
    Acct,
    /// ALLOCATE (RFC 959 §4.1.3); storage needs no allocation.
    Allo,
    /// APPEND (with create) (RFC 959 §4.1.3).
    Appe(String),
    /// AVAILABLE SPACE (draft-peterson-streamlined-ftp-command-extensions): free bytes.
    Avbl(String),
    /// AUTHENTICATION/SECURITY MECHANISM (RFC 2228 §3, RFC 4217 §4): `TLS`, `SSL`, ...
    Auth(String),
    /// CLEAR COMMAND CHANNEL (RFC 2228 §3); refused (it would expose later commands).
    Ccc,
    /// CHANGE TO PARENT DIRECTORY (RFC 959 §4.1.1); also XCUP (RFC 775).
    Cdup,
    /// CHANGE WORKING DIRECTORY (RFC 959 §4.1.1); also XCWD.
    Cwd(String),
    /// DELETE (RFC 959 §4.1.3).
    Dele(String),
    /// EXTENDED PORT (RFC 2428 §2).
    Eprt(EprtTarget),
    /// EXTENDED PASSIVE (RFC 2428 §3).
    Epsv(EpsvArg),
    /// FEATURES (RFC 2389 §3).
    Feat,
    /// HELP (RFC 959 §4.1.3).
    Help(String),
    /// LIST (RFC 959 §4.1.3).
    List(ListArgs),
    /// MODIFICATION TIME (RFC 3659 §3).
    Mdtm(String),
    /// MAKE DIRECTORY (RFC 959 §4.1.3); also XMKD.
    Mkd(String),
    /// MODIFY FACT: modification time (draft-somers-ftp-mfxx).
    Mfmt(TimeVal, String),
    /// LIST DIRECTORY in machine form (RFC 3659 §7).
    Mlsd(String),
    /// LIST one object in machine form (RFC 3659 §7).
    Mlst(String),
    /// TRANSFER MODE (RFC 959 §4.1.2); only S.
    Mode,
    /// NAME LIST (RFC 959 §4.1.3).
    Nlst(ListArgs),
    /// NO-OP (RFC 959 §4.1.3).
    Noop,
    /// OPTIONS (RFC 2389 §4).
    Opts(OptsArg),
    /// PASSWORD (RFC 959 §4.1.1); secret, never logged.
    Pass(Secret<String>),
    /// PROTECTION BUFFER SIZE (RFC 2228 §3, RFC 4217 §8): always 0 over TLS.
    Pbsz(String),
    /// DATA CHANNEL PROTECTION LEVEL (RFC 2228 §3, RFC 4217 §9): `C` or `P`.
    Prot(String),
    /// PASSIVE (RFC 959 §4.1.2).
    Pasv,
    /// DATA PORT (RFC 959 §4.1.2).
    Port(std::net::SocketAddrV4),
    /// PRINT WORKING DIRECTORY (RFC 959 §4.1.3); also XPWD.
    Pwd,
    /// LOGOUT (RFC 959 §4.1.1).
    Quit,
    /// RESTART (RFC 3659 §5, stream mode).
    Rest(u64),
    /// RETRIEVE (RFC 959 §4.1.3).
    Retr(String),
    /// REMOVE DIRECTORY (RFC 959 §4.1.3); also XRMD.
    Rmd(String),
    /// RENAME FROM (RFC 959 §4.1.3).
    Rnfr(String),
    /// RENAME TO (RFC 959 §4.1.3).
    Rnto(String),
    /// SIZE OF FILE (RFC 3659 §4).
    Size(String),
    /// STATUS (RFC 959 §4.1.3): server status, or a listing over the control connection.
    Stat(String),
    /// STORE (RFC 959 §4.1.3).
    Stor(String),
    /// STORE UNIQUE (RFC 959 §4.1.3).
    Stou,
    /// FILE STRUCTURE (RFC 959 §4.1.2); only F.
    Stru,
    /// SYSTEM (RFC 959 §4.1.3).
    Syst,
    /// REPRESENTATION TYPE (RFC 959 §4.1.2).
    Type(TransferType),
    /// USER NAME (RFC 959 §4.1.1).
    User(String),
}

impl Command {
    /// The verb as it appears on the wire (upper case), for logs and replies.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Abor => "ABOR",
            Command::Acct => "ACCT",
            Command::Allo => "ALLO",
            Command::Appe(_) => "APPE",
            Command::Auth(_) => "AUTH",
            Command::Avbl(_) => "AVBL",
            Command::Ccc => "CCC",
            Command::Cdup => "CDUP",
            Command::Cwd(_) => "CWD",
            Command::Dele(_) => "DELE",
            Command::Eprt(_) => "EPRT",
            Command::Epsv(_) => "EPSV",
            Command::Feat => "FEAT",
            Command::Help(_) => "HELP",
            Command::List(_) => "LIST",
            Command::Mdtm(_) => "MDTM",
            Command::Mkd(_) => "MKD",
            Command::Mfmt(..) => "MFMT",
            Command::Mlsd(_) => "MLSD",
            Command::Mlst(_) => "MLST",
            Command::Mode => "MODE",
            Command::Nlst(_) => "NLST",
            Command::Noop => "NOOP",
            Command::Opts(_) => "OPTS",
            Command::Pass(_) => "PASS",
            Command::Pasv => "PASV",
            Command::Pbsz(_) => "PBSZ",
            Command::Prot(_) => "PROT",
            Command::Port(_) => "PORT",
            Command::Pwd => "PWD",
            Command::Quit => "QUIT",
            Command::Rest(_) => "REST",
            Command::Retr(_) => "RETR",
            Command::Rmd(_) => "RMD",
            Command::Rnfr(_) => "RNFR",
            Command::Rnto(_) => "RNTO",
            Command::Size(_) => "SIZE",
            Command::Stat(_) => "STAT",
            Command::Stor(_) => "STOR",
            Command::Stou => "STOU",
            Command::Stru => "STRU",
            Command::Syst => "SYST",
            Command::Type(_) => "TYPE",
            Command::User(_) => "USER",
        }
    }

    /// Formats the command back into a line (without CRLF); `parse(format(c)) == c`.
    /// PASS is formatted with its real password: only the fuzzer's round trip calls this.
    pub fn to_line(&self) -> String {
        let verb = self.verb();
        let arg: Option<String> = match self {
            Command::Appe(p)
            | Command::Cwd(p)
            | Command::Dele(p)
            | Command::Mdtm(p)
            | Command::Mkd(p)
            | Command::Retr(p)
            | Command::Rmd(p)
            | Command::Rnfr(p)
            | Command::Rnto(p)
            | Command::Size(p)
            | Command::Stor(p)
            | Command::User(p)
            | Command::Auth(p)
            | Command::Pbsz(p)
            | Command::Prot(p) => Some(p.clone()),
            Command::Help(p) | Command::Mlsd(p) | Command::Mlst(p) | Command::Stat(p) | Command::Avbl(p) => {
                (!p.is_empty()).then(|| p.clone())
            }
            Command::List(a) | Command::Nlst(a) => {
                let joined = match (a.options.is_empty(), a.path.is_empty()) {
                    (true, _) => a.path.clone(),
                    (false, true) => a.options.clone(),
                    (false, false) => format!("{} {}", a.options, a.path),
                };
                (!joined.is_empty()).then_some(joined)
            }
            Command::Pass(s) => Some(s.expose().clone()),
            Command::Eprt(EprtTarget::Addr(a)) => Some(match a {
                std::net::SocketAddr::V4(v4) => format!("|1|{}|{}|", v4.ip(), v4.port()),
                std::net::SocketAddr::V6(v6) => format!("|2|{}|{}|", v6.ip(), v6.port()),
            }),
            Command::Eprt(EprtTarget::UnsupportedProtocol) => Some("|3|x|1|".into()),
            Command::Epsv(EpsvArg::Any) => None,
            Command::Epsv(EpsvArg::All) => Some("ALL".into()),
            Command::Epsv(EpsvArg::Protocol(p)) => Some(if *p == 0 { "9".into() } else { p.to_string() }),
            Command::Mfmt(t, p) => {
                let time = crate::ftp::time::time_val(crate::ftp::time::from_unix(t.unix_secs, 0));
                let frac = if t.nanos == 0 { String::new() } else { format!(".{:09}", t.nanos) };
                Some(format!("{time}{frac} {p}"))
            }
            Command::Opts(OptsArg::Utf8(on)) => Some(format!("UTF8 {}", if *on { "ON" } else { "OFF" })),
            Command::Opts(OptsArg::Mlst(f)) => {
                Some(format!("MLST {}", f.iter().map(|f| format!("{f};")).collect::<String>()))
            }
            Command::Opts(OptsArg::Other) => Some("X".into()),
            Command::Port(a) => Some(args::format_host_port(*a)),
            Command::Rest(n) => Some(n.to_string()),
            Command::Type(TransferType::Ascii) => Some("A".into()),
            Command::Type(TransferType::Image) => Some("I".into()),
            Command::Mode => Some("S".into()),
            Command::Stru => Some("F".into()),
            Command::Ccc
            | Command::Abor
            | Command::Acct
            | Command::Allo
            | Command::Cdup
            | Command::Feat
            | Command::Noop
            | Command::Pasv
            | Command::Pwd
            | Command::Quit
            | Command::Stou
            | Command::Syst => None,
        };
        match arg {
            Some(a) => format!("{verb} {a}"),
            None => verb.to_string(),
        }
    }
}

/// Verbs that exist (RFC 959, 2228, 2389, 2428, 3659, 775, common extensions) but are not
/// implemented: they get 502 rather than 500.
const KNOWN_UNIMPLEMENTED: &[&str] = &[
    "ADAT", "CLNT", "CONF", "CSID", "DSIZ", "ENC", "HASH", "HOST", "LANG", "LPRT", "LPSV", "MFCT", "MFF", "MIC",
    "MLSX", "REIN", "RMDA", "SITE", "SMNT", "SPSV", "THMB", "XCRC", "XMD5", "XRCP", "XRSQ", "XRSU", "XSEM", "XSEN",
    "XSHA1", "XSHA256",
];

/// Splits a line into its upper-cased verb and raw argument bytes.
///
/// # Errors
/// [`ParseError::BadLine`] when the line does not start with 3-4 letters followed by the end
/// or a space.
pub fn split_verb(line: &[u8]) -> Result<(String, Option<&[u8]>), ParseError> {
    let res: nom::IResult<&[u8], &[u8]> =
        take_while_m_n(3, 8, |b: u8| b.is_ascii_alphabetic() || b.is_ascii_digit()).parse(line);
    let (rest, verb) = res.map_err(|_| ParseError::BadLine)?;
    if verb.first().is_some_and(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadLine);
    }
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    match rest.first() {
        None => Ok((verb, None)),
        Some(b' ') => Ok((verb, Some(&rest[1..]))),
        Some(_) => Err(ParseError::BadLine),
    }
}

/// Parses one framed line (no CRLF) into a command.
///
/// # Errors
/// A [`ParseError`] whose reply code the session sends back (500, 501, 502 or 504).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let (verb, raw_arg) = split_verb(line)?;
    let arg: Option<&str> = match raw_arg {
        None => None,
        Some(a) => Some(std::str::from_utf8(a).map_err(|_| ParseError::NotUtf8)?),
    };
    // Arguments that are optional: the empty string when absent.
    let opt_arg = arg.unwrap_or("");
    // Arguments that are required: a path or value must follow.
    let req = || arg.filter(|a| !a.is_empty()).map(str::to_string).ok_or(ParseError::MissingArgument);
    // One-word arguments (AUTH TLS, PBSZ 0, PROT P): surrounding spaces dropped, then required.
    // Found by the command_roundtrip fuzz target: "PBSZ  " used to parse to an empty word.
    let req_word = || arg.map(str::trim).filter(|a| !a.is_empty()).ok_or(ParseError::MissingArgument);
    let no_arg = |c: Command| -> Result<Command, ParseError> {
        // Tolerance (TRAILING_SPACE): some clients send "PWD " or "NOOP ".
        if opt_arg.trim().is_empty() {
            Ok(c)
        } else {
            Err(ParseError::BadArgument)
        }
    };
    Ok(match verb.as_str() {
        "ABOR" => no_arg(Command::Abor)?,
        "ACCT" => Command::Acct,
        "ALLO" => Command::Allo,
        "APPE" => Command::Appe(req()?),
        "AUTH" => Command::Auth(req_word()?.to_ascii_uppercase()),
        "AVBL" => Command::Avbl(opt_arg.to_string()),
        "CCC" => no_arg(Command::Ccc)?,
        "CDUP" | "XCUP" => no_arg(Command::Cdup)?,
        "CWD" | "XCWD" => Command::Cwd(req()?),
        "DELE" => Command::Dele(req()?),
        "EPRT" => Command::Eprt(args::eprt(&req()?)?),
        "EPSV" => Command::Epsv(args::epsv(opt_arg)?),
        "FEAT" => no_arg(Command::Feat)?,
        "HELP" => Command::Help(opt_arg.trim().to_string()),
        "LIST" => Command::List(list_args(opt_arg)),
        "MDTM" => Command::Mdtm(req()?),
        "MFMT" => {
            let a = req()?;
            let (t, p) = args::mfmt(&a)?;
            Command::Mfmt(t, p.to_string())
        }
        "MKD" | "XMKD" => Command::Mkd(req()?),
        "MLSD" => Command::Mlsd(opt_arg.to_string()),
        "MLST" => Command::Mlst(opt_arg.to_string()),
        "MODE" => {
            args::mode(&req()?)?;
            Command::Mode
        }
        "NLST" => Command::Nlst(list_args(opt_arg)),
        "NOOP" => no_arg(Command::Noop)?,
        "OPTS" => Command::Opts(args::opts(&req()?)?),
        // An empty password is a password (anonymous logins send anything, some nothing).
        "PASS" => Command::Pass(Secret::new(opt_arg.to_string())),
        "PASV" => no_arg(Command::Pasv)?,
        "PBSZ" => Command::Pbsz(req_word()?.to_string()),
        "PROT" => Command::Prot(req_word()?.to_ascii_uppercase()),
        "PORT" => Command::Port(args::host_port(&req()?)?),
        "PWD" | "XPWD" => no_arg(Command::Pwd)?,
        "QUIT" => no_arg(Command::Quit)?,
        "REST" => Command::Rest(args::rest(&req()?)?),
        "RETR" => Command::Retr(req()?),
        "RMD" | "XRMD" => Command::Rmd(req()?),
        "RNFR" => Command::Rnfr(req()?),
        "RNTO" => Command::Rnto(req()?),
        "SIZE" => Command::Size(req()?),
        "STAT" => Command::Stat(list_args(opt_arg).path),
        "STOR" => Command::Stor(req()?),
        // A name hint some clients send is ignored: the server picks the unique name.
        "STOU" => Command::Stou,
        "STRU" => {
            args::structure(&req()?)?;
            Command::Stru
        }
        "SYST" => no_arg(Command::Syst)?,
        "TYPE" => Command::Type(args::transfer_type(&req()?)?),
        "USER" => Command::User(req()?),
        v if KNOWN_UNIMPLEMENTED.contains(&v) => return Err(ParseError::NotImplemented),
        _ => return Err(ParseError::BadLine),
    })
}

/// LIST/NLST/STAT arguments: leading words that start with `-` are `ls` options (`-a`, `-l`,
/// `-la`, as curl, lftp and FileZilla send); the rest of the line is the path, spaces included.
fn list_args(arg: &str) -> ListArgs {
    let mut rest = arg;
    let mut options = Vec::new();
    loop {
        let trimmed = rest.trim_start();
        if !trimmed.starts_with('-') {
            break;
        }
        let (word, after) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        options.push(word);
        rest = after;
    }
    if options.is_empty() {
        ListArgs { path: arg.to_string(), options: String::new() }
    } else {
        ListArgs { path: rest.to_string(), options: options.join(" ") }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive_and_paths_keep_spaces() {
        assert_eq!(parse(b"retr  a b ").unwrap(), Command::Retr(" a b ".into()));
        assert_eq!(parse(b"XCWD /x").unwrap(), Command::Cwd("/x".into()));
        assert_eq!(parse(b"type i").unwrap(), Command::Type(TransferType::Image));
    }

    #[test]
    fn list_options_are_split_from_the_path() {
        assert_eq!(
            parse(b"LIST -la sub dir").unwrap(),
            Command::List(ListArgs { path: "sub dir".into(), options: "-la".into() })
        );
        assert_eq!(parse(b"LIST").unwrap(), Command::List(ListArgs::default()));
        assert_eq!(parse(b"NLST -a").unwrap(), Command::Nlst(ListArgs { path: "".into(), options: "-a".into() }));
    }

    #[test]
    fn error_classes() {
        assert_eq!(parse(b"FOO"), Err(ParseError::BadLine));
        assert_eq!(parse(b""), Err(ParseError::BadLine));
        assert_eq!(parse(b"RETR"), Err(ParseError::MissingArgument));
        assert_eq!(parse(b"RETR \xff"), Err(ParseError::NotUtf8));
        assert_eq!(parse(b"SITE CHMOD 777 x"), Err(ParseError::NotImplemented));
        assert_eq!(parse(b"MODE B"), Err(ParseError::UnsupportedParameter));
        assert_eq!(parse(b"PORT 1,2,3"), Err(ParseError::BadArgument));
        assert_eq!(parse(b"NOOP x"), Err(ParseError::BadArgument));
        assert_eq!(parse(b"\x00\x01"), Err(ParseError::BadLine));
        assert_eq!(parse(b"PBSZ  "), Err(ParseError::MissingArgument));
        assert_eq!(parse(b"PROT  p "), Ok(Command::Prot("P".into())));
    }

    #[test]
    fn empty_password_is_accepted() {
        assert_eq!(parse(b"PASS").unwrap(), Command::Pass(Secret::new(String::new())));
    }

    #[test]
    fn commands_round_trip_through_their_line() {
        for line in [
            "USER bob",
            "PASS x y",
            "CWD /a b",
            "LIST -la sub",
            "NLST",
            "PORT 127,0,0,1,4,1",
            "EPRT |1|127.0.0.1|1025|",
            "EPRT |2|::1|1025|",
            "EPSV ALL",
            "EPSV",
            "REST 5",
            "TYPE A",
            "MFMT 20200102030405 f",
            "OPTS UTF8 ON",
            "OPTS MLST type;size;",
            "STAT /x",
            "MLSD",
            "HELP RETR",
            "STOU",
            "ABOR",
        ] {
            let c = parse(line.as_bytes()).unwrap();
            assert_eq!(parse(c.to_line().as_bytes()).unwrap(), c, "{line}");
        }
    }
}
