//! The client side of RFC 959 §4.2: parsing a server's replies (single and multi-line) and the
//! addresses in 227/229 replies. Used by the ftp backend; fuzzed by the `ftp_client` target.

use std::net::Ipv4Addr;

/// The longest reply accepted (all lines together); longer means a broken or hostile server.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// One parsed reply: its code and its text lines (without the code prefix on the first and
/// last line, without line ends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReply {
    /// The three-digit code, 100..=599.
    pub code: u16,
    /// The text: the first line's text, then every following line as sent.
    pub lines: Vec<String>,
}

impl RawReply {
    /// The first digit: 1 preliminary, 2 completion, 3 intermediate, 4 transient, 5 permanent.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// The text of the first line.
    pub fn text(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }

    /// The whole reply on one line, for logs and error messages.
    pub fn summary(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

/// What `parse_reply` found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyParse {
    /// More bytes are needed.
    Incomplete,
    /// A whole reply, and how many bytes of the buffer it used.
    Complete(RawReply, usize),
    /// Not an FTP reply: the connection cannot be trusted any more.
    Invalid(&'static str),
}

/// Parses the reply at the start of `buf`. Lines end in CRLF or a bare LF. A multi-line reply
/// starts `ddd-` and ends with a line starting `ddd ` with the same code (RFC 959 §4.2).
pub fn parse_reply(buf: &[u8]) -> ReplyParse {
    let mut lines = Vec::new();
    let mut pos = 0;
    let mut code = None;
    loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            return if buf.len() > MAX_REPLY_BYTES {
                ReplyParse::Invalid("reply too long")
            } else {
                ReplyParse::Incomplete
            };
        };
        let raw = &buf[pos..pos + nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += nl + 1;
        if pos > MAX_REPLY_BYTES {
            return ReplyParse::Invalid("reply too long");
        }
        let line = String::from_utf8_lossy(raw);
        match code {
            None => {
                let Some(c) = reply_code(raw) else { return ReplyParse::Invalid("a reply must start with a code") };
                let sep = raw.get(3).copied();
                lines.push(line.get(4..).unwrap_or("").to_string());
                match sep {
                    Some(b'-') => code = Some(c),
                    None | Some(b' ') => return ReplyParse::Complete(RawReply { code: c, lines }, pos),
                    Some(_) => return ReplyParse::Invalid("a reply code must be followed by a space or '-'"),
                }
            }
            Some(c) => {
                if reply_code(raw) == Some(c) && matches!(raw.get(3), None | Some(b' ')) {
                    lines.push(line.get(4..).unwrap_or("").to_string());
                    return ReplyParse::Complete(RawReply { code: c, lines }, pos);
                }
                lines.push(line.into_owned());
            }
        }
    }
}

fn reply_code(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..600).contains(&code).then_some(code)
}

/// The address of a 227 reply: the first `h1,h2,h3,h4,p1,p2` group in the text.
pub fn parse_pasv(text: &str) -> Option<(Ipv4Addr, u16)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    // Try each run of digits as the start of the group (some servers put numbers before it).
    for (i, _) in text[start..].char_indices().map(|(i, c)| (i + start, c)) {
        if i > 0 && text.as_bytes()[i - 1].is_ascii_digit() || !text.as_bytes()[i].is_ascii_digit() {
            continue;
        }
        let nums: Vec<&str> = text[i..].split(',').take(6).collect();
        if nums.len() < 6 {
            continue;
        }
        let mut v = [0u8; 6];
        let mut ok = true;
        for (k, n) in nums.iter().enumerate() {
            let digits: &str = if k == 5 { n.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("") } else { n };
            match digits.trim().parse::<u8>() {
                Ok(x) if !digits.is_empty() => v[k] = x,
                _ => ok = false,
            }
        }
        if ok {
            return Some((Ipv4Addr::new(v[0], v[1], v[2], v[3]), u16::from(v[4]) << 8 | u16::from(v[5])));
        }
    }
    None
}

/// The port of a 229 reply: `(|||port|)` with any delimiter in 33..=126 (RFC 2428 §3).
pub fn parse_epsv(text: &str) -> Option<u16> {
    let open = text.find('(')?;
    let inner = &text[open + 1..];
    let d = inner.chars().next()?;
    if !(d.is_ascii_graphic()) || d.is_ascii_digit() {
        return None;
    }
    let rest = inner.strip_prefix(d)?.strip_prefix(d)?.strip_prefix(d)?;
    let end = rest.find(d)?;
    let port: u16 = rest[..end].parse().ok()?;
    (port != 0 && rest[end + d.len_utf8()..].starts_with(')')).then_some(port)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn complete(s: &str) -> (RawReply, usize) {
        match parse_reply(s.as_bytes()) {
            ReplyParse::Complete(r, n) => (r, n),
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn single_and_multi_line_replies() {
        let (r, n) = complete("220 ready\r\nrest");
        assert_eq!((r.code, r.lines.clone(), n), (220, vec!["ready".to_string()], 11));
        let (r, n) = complete("211-Features:\r\n MLST size*;\r\n211 End\r\n");
        assert_eq!(r.code, 211);
        assert_eq!(r.lines, vec!["Features:", " MLST size*;", "End"]);
        assert_eq!(n, 38);
        // A line inside that merely starts with another code does not end it; bare LF works.
        let (r, _) = complete("230-a\n200 not the end\n230 end\n");
        assert_eq!(r.lines.len(), 3);
        assert_eq!(complete("200\r\n").0.lines, vec![""]);
    }

    #[test]
    fn partial_and_broken_replies() {
        assert_eq!(parse_reply(b"220 rea"), ReplyParse::Incomplete);
        assert_eq!(parse_reply(b"211-a\r\n b\r\n"), ReplyParse::Incomplete);
        assert!(matches!(parse_reply(b"hello\r\n"), ReplyParse::Invalid(_)));
        assert!(matches!(parse_reply(b"700 x\r\n"), ReplyParse::Invalid(_)));
        assert!(matches!(parse_reply(b"220x\r\n"), ReplyParse::Invalid(_)));
        assert!(matches!(parse_reply(&vec![b'2'; MAX_REPLY_BYTES + 1]), ReplyParse::Invalid(_)));
    }

    #[test]
    fn passive_addresses() {
        assert_eq!(
            parse_pasv("Entering Passive Mode (127,0,0,1,160,42)."),
            Some((Ipv4Addr::new(127, 0, 0, 1), 160 * 256 + 42))
        );
        assert_eq!(parse_pasv("=10,1,2,3,4,5"), Some((Ipv4Addr::new(10, 1, 2, 3), 1029)));
        assert_eq!(parse_pasv("Entering Passive Mode (300,0,0,1,1,1)"), None);
        assert_eq!(parse_pasv("no numbers"), None);
        assert_eq!(parse_epsv("Entering Extended Passive Mode (|||6446|)"), Some(6446));
        assert_eq!(parse_epsv("ok (!!!21!)"), Some(21));
        assert_eq!(parse_epsv("(|||0|)"), None);
        assert_eq!(parse_epsv("(|||99999|)"), None);
        assert_eq!(parse_epsv("(||6446|)"), None);
    }
}
