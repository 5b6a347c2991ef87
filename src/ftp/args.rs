//! Argument grammars of the FTP verbs that take more than a path: host-port (PORT, PASV
//! reply), EPRT/EPSV (RFC 2428), TYPE/MODE/STRU (RFC 959), REST, MFMT/MDTM time-val (RFC 3659)
//! and OPTS. Each parser quotes its grammar and is strict unless a tolerance is named.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::{char as ch, digit1, u8 as dec_u8};
use nom::combinator::{all_consuming, map_res, opt};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::ftp::command::ParseError;

/// RFC 959 §4.1.2: `<host-port> ::= <host-number>,<port-number>`, `<host-number> ::=
/// <number>,<number>,<number>,<number>`, `<port-number> ::= <number>,<number>`, each number
/// 0..=255. Tolerance (`HOST_PORT_SPACES`): spaces around the numbers, which some clients send.
pub fn host_port(arg: &str) -> Result<SocketAddrV4, ParseError> {
    let mut nums = [0u8; 6];
    let mut parts = arg.split(',');
    for n in nums.iter_mut() {
        let part = parts.next().ok_or(ParseError::BadArgument)?.trim();
        let (_, v) =
            all_consuming(dec_u8::<&str, nom::error::Error<&str>>).parse(part).map_err(|_| ParseError::BadArgument)?;
        *n = v;
    }
    if parts.next().is_some() {
        return Err(ParseError::BadArgument);
    }
    let ip = Ipv4Addr::new(nums[0], nums[1], nums[2], nums[3]);
    Ok(SocketAddrV4::new(ip, u16::from(nums[4]) << 8 | u16::from(nums[5])))
}

/// Formats an address as the `(h1,h2,h3,h4,p1,p2)` of a 227 reply.
pub fn format_host_port(addr: SocketAddrV4) -> String {
    let [a, b, c, d] = addr.ip().octets();
    let p = addr.port();
    format!("{a},{b},{c},{d},{},{}", p >> 8, p & 0xFF)
}

/// What an EPRT argument named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EprtTarget {
    /// A usable address.
    Addr(SocketAddr),
    /// A network protocol other than 1 (IPv4) or 2 (IPv6): reply 522.
    UnsupportedProtocol,
}

/// RFC 2428 §2: `EPRT<space><d><net-prt><d><net-addr><d><tcp-port><d>`, where `<d>` is any
/// printable ASCII character (33-126) and the same one four times.
pub fn eprt(arg: &str) -> Result<EprtTarget, ParseError> {
    let d = arg.chars().next().filter(|c| ('!'..='~').contains(c)).ok_or(ParseError::BadArgument)?;
    let inner = arg[1..].strip_suffix(d).ok_or(ParseError::BadArgument)?;
    let mut fields = inner.split(d);
    let (Some(proto), Some(addr), Some(port), None) = (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(ParseError::BadArgument);
    };
    let port = decimal_port(port)?;
    let ip: IpAddr = match proto {
        "1" => IpAddr::V4(addr.parse::<Ipv4Addr>().map_err(|_| ParseError::BadArgument)?),
        "2" => IpAddr::V6(addr.parse::<Ipv6Addr>().map_err(|_| ParseError::BadArgument)?),
        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => return Ok(EprtTarget::UnsupportedProtocol),
        _ => return Err(ParseError::BadArgument),
    };
    Ok(EprtTarget::Addr(SocketAddr::new(ip, port)))
}

fn decimal_port(text: &str) -> Result<u16, ParseError> {
    let (_, p) = all_consuming(map_res(digit1::<&str, nom::error::Error<&str>>, str::parse::<u16>))
        .parse(text)
        .map_err(|_| ParseError::BadArgument)?;
    if p == 0 {
        return Err(ParseError::BadArgument);
    }
    Ok(p)
}

/// The argument of EPSV (RFC 2428 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: the protocol of the control connection.
    Any,
    /// `EPSV 1` or `EPSV 2`.
    Protocol(u8),
    /// `EPSV ALL`: from now on refuse PORT, EPRT and PASV.
    All,
}

/// `EPSV [<net-prt> | ALL]`.
pub fn epsv(arg: &str) -> Result<EpsvArg, ParseError> {
    match arg.trim() {
        "" => Ok(EpsvArg::Any),
        a if a.eq_ignore_ascii_case("ALL") => Ok(EpsvArg::All),
        "1" => Ok(EpsvArg::Protocol(1)),
        "2" => Ok(EpsvArg::Protocol(2)),
        a if a.bytes().all(|b| b.is_ascii_digit()) => Ok(EpsvArg::Protocol(0)),
        _ => Err(ParseError::BadArgument),
    }
}

/// Representation type (RFC 959 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// `TYPE A` / `TYPE A N`: lines end in CRLF on the wire.
    Ascii,
    /// `TYPE I` / `TYPE L 8`: bytes as they are.
    Image,
}

/// RFC 959: `TYPE <type-code>`, `<type-code> ::= A [<sp> <form-code>] | E [<sp> <form-code>] |
/// I | L <sp> <byte-size>`. Only A (form N), I and L 8 are supported; others give 504.
pub fn transfer_type(arg: &str) -> Result<TransferType, ParseError> {
    let upper = arg.trim().to_ascii_uppercase();
    let words: Vec<&str> = upper.split_ascii_whitespace().collect();
    match words.as_slice() {
        ["A"] | ["A", "N"] => Ok(TransferType::Ascii),
        ["I"] | ["L", "8"] | ["L8"] => Ok(TransferType::Image),
        ["A", "T" | "C"] | ["E"] | ["E", _] | ["L", _] => Err(ParseError::UnsupportedParameter),
        _ => Err(ParseError::BadArgument),
    }
}

/// `MODE S` is the only transfer mode; `B` and `C` give 504.
pub fn mode(arg: &str) -> Result<(), ParseError> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "S" => Ok(()),
        "B" | "C" | "Z" => Err(ParseError::UnsupportedParameter),
        _ => Err(ParseError::BadArgument),
    }
}

/// `STRU F` is the only file structure; `R` and `P` give 504.
pub fn structure(arg: &str) -> Result<(), ParseError> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "F" => Ok(()),
        "R" | "P" => Err(ParseError::UnsupportedParameter),
        _ => Err(ParseError::BadArgument),
    }
}

/// RFC 3659 §5: `REST <SP> <decimal-integer>` (STREAM mode restart marker).
pub fn rest(arg: &str) -> Result<u64, ParseError> {
    let (_, n) = all_consuming(map_res(digit1::<&str, nom::error::Error<&str>>, str::parse::<u64>))
        .parse(arg.trim())
        .map_err(|_| ParseError::BadArgument)?;
    Ok(n)
}

/// A time-val of RFC 3659 §2.3 as UTC fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeVal {
    /// Seconds since the Unix epoch.
    pub unix_secs: i64,
    /// Nanoseconds within the second (from the optional fraction).
    pub nanos: u32,
}

fn digits_n(n: usize) -> impl FnMut(&str) -> IResult<&str, u32> {
    move |i| map_res(take_while_m_n(n, n, |c: char| c.is_ascii_digit()), str::parse::<u32>).parse(i)
}

/// RFC 3659 §2.3: `time-val = 14DIGIT [ "." 1*DIGIT ]` (YYYYMMDDHHMMSS in UTC).
pub fn time_val(text: &str) -> Result<TimeVal, ParseError> {
    let parsed: IResult<&str, _> = all_consuming((
        digits_n(4),
        digits_n(2),
        digits_n(2),
        digits_n(2),
        digits_n(2),
        digits_n(2),
        opt(preceded(ch('.'), take_while1(|c: char| c.is_ascii_digit()))),
    ))
    .parse(text);
    let (_, (y, mo, d, h, mi, s, frac)) = parsed.map_err(|_| ParseError::BadArgument)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(ParseError::BadArgument);
    }
    let days = crate::ftp::time::days_from_civil(i64::from(y), mo, d);
    let nanos = frac.map_or(0, |f: &str| {
        let mut digits: String = f.chars().take(9).collect();
        while digits.len() < 9 {
            digits.push('0');
        }
        digits.parse().unwrap_or(0)
    });
    Ok(TimeVal { unix_secs: days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s.min(59)), nanos })
}

/// RFC 3659 §3: `MFMT <SP> time-val <SP> pathname`.
pub fn mfmt(arg: &str) -> Result<(TimeVal, &str), ParseError> {
    let (time, path) = arg.split_once(' ').ok_or(ParseError::BadArgument)?;
    if path.is_empty() {
        return Err(ParseError::BadArgument);
    }
    Ok((time_val(time)?, path))
}

/// What `OPTS` asked for (RFC 2389 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptsArg {
    /// `OPTS UTF8 ON|OFF` (draft-ietf-ftpext-utf-8-option; FileZilla, Windows clients).
    Utf8(bool),
    /// `OPTS MLST fact;fact;...` (RFC 3659 §7.9): the facts to show, lower-cased.
    Mlst(Vec<String>),
    /// Options for a verb that has none.
    Other,
}

/// `OPTS <SP> command-name [<SP> command-options]`.
pub fn opts(arg: &str) -> Result<OptsArg, ParseError> {
    let (verb, rest) = match arg.trim_start().split_once(' ') {
        Some((v, r)) => (v, r.trim()),
        None => (arg.trim(), ""),
    };
    let verb = verb.to_ascii_uppercase();
    match verb.as_str() {
        "UTF8" | "UTF-8" => match rest.to_ascii_uppercase().as_str() {
            "ON" | "" => Ok(OptsArg::Utf8(true)),
            "OFF" => Ok(OptsArg::Utf8(false)),
            _ => Err(ParseError::BadArgument),
        },
        "MLST" => {
            let (_, facts) = mlst_facts(rest).map_err(|_| ParseError::BadArgument)?;
            Ok(OptsArg::Mlst(facts))
        }
        "" => Err(ParseError::BadArgument),
        _ => Ok(OptsArg::Other),
    }
}

/// `fact-list = *( factname ";" )`; a missing final `;` is tolerated.
fn mlst_facts(text: &str) -> IResult<&str, Vec<String>> {
    let mut facts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (r, name) = take_while1(|c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-')(rest)?;
        facts.push(name.to_ascii_lowercase());
        let (r, _) = opt(tag(";")).parse(r)?;
        rest = r;
    }
    Ok((rest, facts))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn host_port_round_trips() {
        let a = host_port("127,0,0,1,117,48").unwrap();
        assert_eq!(a, "127.0.0.1:30000".parse().unwrap());
        assert_eq!(format_host_port(a), "127,0,0,1,117,48");
        assert_eq!(host_port(" 10, 1,2,3,0,21").unwrap().port(), 21);
        for bad in ["1,2,3", "1,2,3,4,5,6,7", "256,0,0,1,1,1", "a,b,c,d,e,f", ""] {
            assert!(host_port(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn eprt_forms() {
        assert_eq!(eprt("|1|132.235.1.2|6275|").unwrap(), EprtTarget::Addr("132.235.1.2:6275".parse().unwrap()));
        assert_eq!(
            eprt("|2|1080::8:800:200C:417A|5282|").unwrap(),
            EprtTarget::Addr("[1080::8:800:200C:417A]:5282".parse().unwrap())
        );
        assert_eq!(eprt("!1!10.0.0.1!21!").unwrap(), EprtTarget::Addr("10.0.0.1:21".parse().unwrap()));
        assert_eq!(eprt("|3|x|1|").unwrap(), EprtTarget::UnsupportedProtocol);
        for bad in ["", "|1|1.2.3.4|70000|", "|1|1.2.3.4|5", "|1|::1|5|", "|2|1.2.3.4|5|", "|1|1.2.3.4|0|"] {
            assert!(eprt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn types() {
        assert_eq!(transfer_type("A").unwrap(), TransferType::Ascii);
        assert_eq!(transfer_type("a n").unwrap(), TransferType::Ascii);
        assert_eq!(transfer_type("I").unwrap(), TransferType::Image);
        assert_eq!(transfer_type("L 8").unwrap(), TransferType::Image);
        assert_eq!(transfer_type("E"), Err(ParseError::UnsupportedParameter));
        assert_eq!(transfer_type("L 7"), Err(ParseError::UnsupportedParameter));
        assert_eq!(transfer_type("Q"), Err(ParseError::BadArgument));
    }

    #[test]
    fn time_vals() {
        assert_eq!(time_val("19700101000000").unwrap().unix_secs, 0);
        let t = time_val("20200102030405.5").unwrap();
        assert_eq!(t.unix_secs, 1_577_934_245);
        assert_eq!(t.nanos, 500_000_000);
        assert!(time_val("2020010203040").is_err());
        assert!(time_val("20201302030405").is_err());
        let (t, p) = mfmt("20200102030405 a b.txt").unwrap();
        assert_eq!((t.unix_secs, p), (1_577_934_245, "a b.txt"));
    }

    #[test]
    fn opts_forms() {
        assert_eq!(opts("UTF8 ON").unwrap(), OptsArg::Utf8(true));
        assert_eq!(opts("utf8 off").unwrap(), OptsArg::Utf8(false));
        assert_eq!(opts("MLST type;size;").unwrap(), OptsArg::Mlst(vec!["type".into(), "size".into()]));
        assert_eq!(opts("MLST").unwrap(), OptsArg::Mlst(vec![]));
        assert_eq!(opts("FOO bar").unwrap(), OptsArg::Other);
    }

    #[test]
    fn rest_and_epsv() {
        assert_eq!(rest("100").unwrap(), 100);
        assert!(rest("-1").is_err());
        assert!(rest("99999999999999999999999").is_err());
        assert_eq!(epsv("ALL").unwrap(), EpsvArg::All);
        assert_eq!(epsv("").unwrap(), EpsvArg::Any);
        assert_eq!(epsv("2").unwrap(), EpsvArg::Protocol(2));
    }
}
