//! The PROXY protocol (HAProxy's `proxy-protocol.txt`, versions 1 and 2): the header a load
//! balancer sends first on each connection it forwards, naming the client it came from.
//!
//! [`parse`] reads a header from the start of a buffer and never looks past it; [`read`] takes
//! one off a non-blocking socket by peeking, so not one byte that follows it (a client's `USER`
//! line, an upload's first bytes) is taken from the stream. [`TrustedProxies`] is
//! `--proxy-protocol-from`: the addresses whose connections must start with a header.
//!
//! Limits: a version 1 header is at most 107 bytes (the protocol's own bound); a version 2
//! header at most [`MAX_HEADER`] bytes including its TLVs (the protocol allows 64 KiB; HAProxy
//! sends 28 to 52 bytes without TLVs). Longer, malformed or missing headers close the
//! connection.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::session::canonical_ip;

/// The longest header accepted, in bytes (version 2 with its TLVs).
pub const MAX_HEADER: usize = 4096;

/// A version 1 header's bound, CRLF included.
const MAX_V1: usize = 107;

/// Version 2's 12-byte signature.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// A complete header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    /// Its length in bytes: what to consume from the stream.
    pub len: usize,
    /// The client, as the balancer saw it; `None` for `LOCAL` (the balancer's own health
    /// check) and `UNKNOWN`: the socket's peer stands.
    pub source: Option<SocketAddr>,
    /// The address the client connected to (the balancer's front end), when given.
    pub destination: Option<SocketAddr>,
}

/// What a buffer's start holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A header.
    Header(ProxyHeader),
    /// The beginning of a header: more bytes are needed.
    Incomplete,
}

/// Why a header is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The bytes do not begin with a PROXY header.
    Missing,
    /// A header that breaks the protocol; the text says how.
    Malformed(&'static str),
    /// Longer than the bound.
    TooLong,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Missing => f.write_str("the connection did not start with a PROXY protocol header"),
            HeaderError::Malformed(why) => write!(f, "malformed PROXY protocol header: {why}"),
            HeaderError::TooLong => write!(f, "PROXY protocol header longer than {MAX_HEADER} bytes"),
        }
    }
}

/// Reads the header at the start of `buf`.
///
/// # Errors
/// [`HeaderError`] when `buf` cannot be the start of a valid header.
pub fn parse(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let sig = buf.len().min(V2_SIGNATURE.len());
    if sig > 0 && buf[..sig] == V2_SIGNATURE[..sig] {
        return if buf.len() < 16 { Ok(Parsed::Incomplete) } else { parse_v2(buf) };
    }
    const V1_PREFIX: &[u8] = b"PROXY ";
    let pre = buf.len().min(V1_PREFIX.len());
    if pre > 0 && buf[..pre] == V1_PREFIX[..pre] {
        return parse_v1(buf);
    }
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    Err(HeaderError::Missing)
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let window = &buf[..buf.len().min(MAX_V1)];
    let Some(cr) = window.windows(2).position(|w| w == b"\r\n") else {
        if window.len() >= MAX_V1 {
            return Err(HeaderError::TooLong);
        }
        // Printable ASCII only, with at most a CR at the very end (its LF still to come).
        let (last, body) = window.split_last().map_or((None, window), |(l, b)| (Some(*l), b));
        if body.iter().any(|b| !(0x20..0x7f).contains(b))
            || last.is_some_and(|b| b != b'\r' && !(0x20..0x7f).contains(&b))
        {
            return Err(HeaderError::Malformed("version 1 header with a byte outside printable ASCII"));
        }
        return Ok(Parsed::Incomplete);
    };
    if window[..cr].iter().any(|b| !(0x20..0x7f).contains(b)) {
        return Err(HeaderError::Malformed("version 1 header with a byte outside printable ASCII"));
    }
    let line =
        std::str::from_utf8(&window[..cr]).map_err(|_| HeaderError::Malformed("version 1 header is not ASCII"))?;
    let len = cr + 2;
    let mut fields = line.split(' ');
    let _proxy = fields.next();
    let (source, destination) = match fields.next() {
        // The rest of an UNKNOWN line is to be ignored.
        Some("UNKNOWN") => (None, None),
        Some(family @ ("TCP4" | "TCP6")) => {
            let rest: Vec<&str> = fields.collect();
            let [src, dst, sport, dport] = rest[..] else {
                return Err(HeaderError::Malformed("version 1 header needs 4 address fields"));
            };
            let ip = |text: &str| -> Result<IpAddr, HeaderError> {
                if family == "TCP4" {
                    text.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| HeaderError::Malformed("bad IPv4 address"))
                } else {
                    text.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| HeaderError::Malformed("bad IPv6 address"))
                }
            };
            let port = |text: &str| -> Result<u16, HeaderError> {
                let valid = !text.is_empty()
                    && text.len() <= 5
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && (text == "0" || !text.starts_with('0'));
                valid.then(|| text.parse().ok()).flatten().ok_or(HeaderError::Malformed("bad port"))
            };
            (Some(SocketAddr::new(ip(src)?, port(sport)?)), Some(SocketAddr::new(ip(dst)?, port(dport)?)))
        }
        _ => return Err(HeaderError::Malformed("version 1 header with an unknown protocol")),
    };
    Ok(Parsed::Header(ProxyHeader { len, source, destination }))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let version_command = buf[12];
    if version_command >> 4 != 2 {
        return Err(HeaderError::Malformed("version 2 signature with another version"));
    }
    let local = match version_command & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(HeaderError::Malformed("version 2 header with an unknown command")),
    };
    let family = buf[13] >> 4;
    let transport = buf[13] & 0x0f;
    let body = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = 16 + body;
    if len > MAX_HEADER {
        return Err(HeaderError::TooLong);
    }
    if buf.len() < len {
        return Ok(Parsed::Incomplete);
    }
    let addresses = &buf[16..len];
    if local {
        // The balancer speaking for itself (a health check): the addresses are to be ignored.
        return Ok(Parsed::Header(ProxyHeader { len, source: None, destination: None }));
    }
    if transport == 2 {
        return Err(HeaderError::Malformed("version 2 header for a datagram connection"));
    }
    let (source, destination) = match family {
        1 => {
            let a = addresses.get(..12).ok_or(HeaderError::Malformed("version 2 IPv4 block too short"))?;
            let ip = |at: usize| IpAddr::V4(Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3]));
            let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
            (Some(SocketAddr::new(ip(0), port(8))), Some(SocketAddr::new(ip(4), port(10))))
        }
        2 => {
            let a = addresses.get(..36).ok_or(HeaderError::Malformed("version 2 IPv6 block too short"))?;
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
            (Some(SocketAddr::new(ip(0), port(32))), Some(SocketAddr::new(ip(16), port(34))))
        }
        // UNSPEC and UNIX sockets: no address a session can use; the socket's peer stands.
        0 | 3 => (None, None),
        _ => return Err(HeaderError::Malformed("version 2 header with an unknown address family")),
    };
    Ok(Parsed::Header(ProxyHeader { len, source, destination }))
}

/// What [`read`] found on the socket.
#[derive(Debug)]
pub enum HeaderRead {
    /// The header, now consumed from the stream.
    Done(ProxyHeader),
    /// Not all of it has arrived: wait for the socket to be readable again.
    Pending,
    /// The peer closed before sending a whole header (HAProxy's plain TCP checks do that).
    Closed,
}

/// Takes a PROXY header off a non-blocking socket, leaving whatever follows it in the stream.
///
/// # Errors
/// `InvalidData` for a missing, malformed or over-long header (the text says which), and the
/// socket's own errors.
pub fn read(stream: &mio::net::TcpStream) -> io::Result<HeaderRead> {
    let mut buf = [0u8; MAX_HEADER];
    let seen = loop {
        match stream.peek(&mut buf) {
            Ok(0) => return Ok(HeaderRead::Closed),
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(HeaderRead::Pending),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    match parse(&buf[..seen]) {
        Ok(Parsed::Incomplete) if seen == MAX_HEADER => {
            Err(io::Error::new(io::ErrorKind::InvalidData, HeaderError::TooLong.to_string()))
        }
        Ok(Parsed::Incomplete) => Ok(HeaderRead::Pending),
        Ok(Parsed::Header(header)) => {
            // The peek saw these bytes, so the reads return them at once.
            let mut left = header.len;
            let mut reader = stream;
            while left > 0 {
                match reader.read(&mut buf[..left]) {
                    Ok(0) => return Ok(HeaderRead::Closed),
                    Ok(n) => left -= n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(HeaderRead::Done(header))
        }
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
    }
}

/// `--proxy-protocol-from`: the networks whose connections must start with a PROXY header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses `CIDR[,CIDR...]`; a bare address is a single host.
    ///
    /// # Errors
    /// A message naming the entry that is not an address or a network.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (addr, bits) = match entry.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (entry, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| format!("{entry:?} is not an IP address or CIDR network"))?;
            let ip = canonical_ip(ip);
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => match b.parse::<u8>() {
                    Ok(b) if b <= max => b,
                    _ => return Err(format!("{entry:?}: the prefix length must be 0 to {max}")),
                },
            };
            networks.push((ip, bits));
        }
        if networks.is_empty() && !text.trim().is_empty() {
            return Err(format!("{text:?} names no network"));
        }
        Ok(TrustedProxies { networks })
    }

    /// Whether any network is configured.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether connections from `ip` must start with a header.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.networks.iter().any(|&(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
            _ => false,
        })
    }
}

fn prefix_eq(net: &[u8], addr: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let whole = bits / 8;
    if net[..whole] != addr[..whole] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[whole] & mask == addr[whole] & mask
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn version_1_names_the_client_and_the_front_end() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\nUSER x\r\n";
        let Ok(Parsed::Header(h)) = parse(line) else { panic!("not parsed") };
        assert_eq!(h.len, 44);
        assert_eq!(h.source, Some("192.0.2.7:56324".parse().unwrap()));
        assert_eq!(h.destination, Some("198.51.100.1:21".parse().unwrap()));
        let Ok(Parsed::Header(h)) = parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n") else { panic!() };
        assert_eq!(h.source, Some("[2001:db8::1]:1".parse().unwrap()));
        let Ok(Parsed::Header(h)) = parse(b"PROXY UNKNOWN whatever follows\r\n") else { panic!() };
        assert_eq!((h.source, h.len), (None, 32));
    }

    #[test]
    fn a_partial_header_waits_and_a_bad_one_is_refused() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 21\r\n";
        for cut in 0..line.len() {
            assert_eq!(parse(&line[..cut]), Ok(Parsed::Incomplete), "{cut}");
        }
        assert_eq!(parse(b"USER anonymous\r\n"), Err(HeaderError::Missing));
        for bad in [
            &b"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n"[..],
            b"PROXY TCP4 ::1 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
            b"PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.4\n",
        ] {
            assert!(matches!(parse(bad), Err(HeaderError::Malformed(_))), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b"PROXY UNKNOWN ".to_vec(), vec![b'a'; 200]].concat();
        assert_eq!(parse(&long), Err(HeaderError::TooLong));
    }

    #[test]
    fn version_2_addresses_local_and_bounds() {
        let mut body = vec![192, 0, 2, 7, 127, 0, 0, 2, 0xdc, 0x04, 0, 21];
        body.extend_from_slice(&[0x03, 0, 1, 0]); // a NOOP TLV, skipped with the rest
        let h = v2(1, 0x11, &body);
        let Ok(Parsed::Header(p)) = parse(&[&h[..], b"USER"].concat()) else { panic!() };
        assert_eq!(p.len, 32);
        assert_eq!(p.source, Some("192.0.2.7:56324".parse().unwrap()));
        assert_eq!(p.destination, Some("127.0.0.2:21".parse().unwrap()));
        for cut in 0..h.len() {
            assert_eq!(parse(&h[..cut]), Ok(Parsed::Incomplete), "{cut}");
        }
        let mut six = vec![0u8; 36];
        six[15] = 1;
        six[31] = 2;
        six[33] = 80;
        let Ok(Parsed::Header(p)) = parse(&v2(1, 0x21, &six)) else { panic!() };
        assert_eq!(p.source, Some("[::1]:80".parse().unwrap()));
        // LOCAL: a health check; its addresses do not count.
        let Ok(Parsed::Header(p)) = parse(&v2(0, 0x11, &body)) else { panic!() };
        assert_eq!(p.source, None);
        assert!(matches!(parse(&v2(1, 0x11, &body[..8])), Err(HeaderError::Malformed(_))));
        assert!(matches!(parse(&v2(2, 0x11, &body)), Err(HeaderError::Malformed(_))));
        assert!(matches!(parse(&v2(1, 0x12, &body)), Err(HeaderError::Malformed(_))));
        let mut huge = v2(1, 0x11, &body);
        huge[14..16].copy_from_slice(&5000u16.to_be_bytes());
        assert_eq!(parse(&huge), Err(HeaderError::TooLong));
    }

    #[test]
    fn trusted_networks_match_by_prefix() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1,2001:db8::/32").unwrap();
        assert!(t.contains("10.200.3.4".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(t.contains("192.0.2.1".parse().unwrap()));
        assert!(!t.contains("192.0.2.2".parse().unwrap()));
        assert!(t.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!t.contains("2001:db9::1".parse().unwrap()));
        assert!(TrustedProxies::parse("127.0.0.0/7").unwrap().contains("126.1.1.1".parse().unwrap()));
        assert!(TrustedProxies::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.1/x", ","] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
