//! The rc server's HTTP/1.1 side: one request per connection (`Connection: close`), parsed
//! with httparse, bounded in size, on the reactor's non-blocking sockets; and the request
//! parameters rclone's rc accepts (JSON body, form body, query string).

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use serde_json::{Map, Value};

/// The largest request accepted (headers and body).
pub const MAX_REQUEST: usize = 1 << 20;

/// One parsed request.
#[derive(Debug, Clone, PartialEq)]
pub struct RcRequest {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The command: the path without its leading `/` and query (`vfs/forget`).
    pub command: String,
    /// Parameters from the query string and the body.
    pub params: Map<String, Value>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// Why a request could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRequest {
    /// Not HTTP/1.x, or unparseable parameters: 400.
    Malformed(&'static str),
    /// Over [`MAX_REQUEST`]: 413.
    TooLarge,
}

/// Parses a complete request from `buf`, `Ok(None)` when more bytes are needed.
///
/// # Errors
/// A malformed or over-long request.
pub fn parse_request(buf: &[u8]) -> Result<Option<RcRequest>, BadRequest> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST => return Err(BadRequest::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(BadRequest::Malformed("not an HTTP request")),
    };
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let length: usize = match header("content-length") {
        Some(v) => v.parse().map_err(|_| BadRequest::Malformed("bad Content-Length"))?,
        None => 0,
    };
    if header("transfer-encoding").is_some() {
        return Err(BadRequest::Malformed("chunked bodies are not accepted; send Content-Length"));
    }
    // Compared before adding: a Content-Length near usize::MAX must not wrap (fuzz found it).
    if length > MAX_REQUEST || head_len + length > MAX_REQUEST {
        return Err(BadRequest::TooLarge);
    }
    if buf.len() < head_len + length {
        return Ok(None);
    }
    let body = &buf[head_len..head_len + length];
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params = Map::new();
    for (k, v) in form_pairs(query)? {
        params.insert(k, Value::String(v));
    }
    let content_type = header("content-type").unwrap_or_default().to_ascii_lowercase();
    let trimmed = body.iter().position(|b| !b.is_ascii_whitespace()).map_or(&body[..0], |i| &body[i..]);
    if content_type.starts_with("application/json") || trimmed.first() == Some(&b'{') {
        if !trimmed.is_empty() {
            match serde_json::from_slice::<Value>(trimmed) {
                Ok(Value::Object(map)) => params.extend(map),
                _ => return Err(BadRequest::Malformed("the body is not a JSON object")),
            }
        }
    } else {
        let text = std::str::from_utf8(body).map_err(|_| BadRequest::Malformed("the body is not UTF-8"))?;
        for (k, v) in form_pairs(text)? {
            params.insert(k, Value::String(v));
        }
    }
    Ok(Some(RcRequest {
        method: req.method.unwrap_or("").to_string(),
        command: percent_decode(path)?.trim_start_matches('/').to_string(),
        params,
        authorization: header("authorization"),
    }))
}

/// `a=1&b=x%20y` pairs.
fn form_pairs(text: &str) -> Result<Vec<(String, String)>, BadRequest> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((percent_decode(&k.replace('+', " "))?, percent_decode(&v.replace('+', " "))?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, BadRequest> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(BadRequest::Malformed("bad %-escape"))?;
            let hex = std::str::from_utf8(hex).map_err(|_| BadRequest::Malformed("bad %-escape"))?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| BadRequest::Malformed("bad %-escape"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| BadRequest::Malformed("parameters must be UTF-8"))
}

/// A whole 200 response with a text body of `content_type` (`/metrics`).
pub fn text_response(content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A whole HTTP response with a JSON body (a 401 names the rc's realm).
pub fn response(status: u16, body: &Value) -> Vec<u8> {
    response_with_realm(status, body, "ftpvfs rc")
}

/// A whole HTTP response with a JSON body; a 401 asks for Basic auth in `realm`.
pub fn response_with_realm(status: u16, body: &Value, realm: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    };
    let mut text = serde_json::to_string_pretty(body).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    let realm: String = realm.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    let auth = if status == 401 { format!("WWW-Authenticate: Basic realm=\"{realm}\"\r\n") } else { String::new() };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}

/// One rc client connection: reads one request, then writes one response and closes.
pub struct HttpConn {
    /// The socket.
    pub stream: TcpStream,
    /// Which use of the slot this is (stale worker results are dropped).
    pub generation: u64,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// A request was taken; the response is being prepared or sent.
    pub answered: bool,
}

impl HttpConn {
    /// A new connection.
    pub fn new(stream: TcpStream, generation: u64) -> HttpConn {
        HttpConn { stream, generation, inbuf: Vec::new(), out: Vec::new(), out_pos: 0, answered: false }
    }

    /// Reads what is there; returns a request once one is complete (or the reason it is bad).
    /// `Ok(None)`: nothing yet. A closed peer is `Err`.
    ///
    /// # Errors
    /// The peer closed or the socket failed.
    pub fn read_request(&mut self) -> io::Result<Option<Result<RcRequest, BadRequest>>> {
        if self.answered {
            return Ok(None);
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.inbuf.extend_from_slice(&chunk[..n]);
                    if self.inbuf.len() > MAX_REQUEST + 8192 {
                        self.answered = true;
                        return Ok(Some(Err(BadRequest::TooLarge)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match parse_request(&self.inbuf) {
            Ok(None) => Ok(None),
            other => {
                self.answered = true;
                self.inbuf = Vec::new();
                Ok(other.transpose())
            }
        }
    }

    /// Queues the response.
    pub fn respond(&mut self, bytes: Vec<u8>) {
        self.out = bytes;
        self.out_pos = 0;
    }

    /// Writes what the socket takes; true once everything is out (the connection is done).
    ///
    /// # Errors
    /// The socket failed.
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(!self.out.is_empty())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_form_and_query_parameters() {
        let r = parse_request(b"POST /vfs/forget?x=1 HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"dir\":\"a b\"}\n")
            .unwrap()
            .unwrap();
        assert_eq!((r.method.as_str(), r.command.as_str()), ("POST", "vfs/forget"));
        assert_eq!(r.params.get("dir"), Some(&Value::String("a b".into())));
        assert_eq!(r.params.get("x"), Some(&Value::String("1".into())));
        let r = parse_request(b"POST /vfs/refresh HTTP/1.1\r\nContent-Length: 26\r\n\r\ndir=a%2Fb&recursive=true+x")
            .unwrap()
            .unwrap();
        assert_eq!(r.params.get("dir"), Some(&Value::String("a/b".into())));
        assert_eq!(r.params.get("recursive"), Some(&Value::String("true x".into())));
    }

    #[test]
    fn partial_bad_and_huge_requests() {
        assert_eq!(parse_request(b"POST /rc/noop HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}"), Ok(None));
        assert_eq!(parse_request(b"POST /rc/no"), Ok(None));
        assert!(matches!(parse_request(b"\x00\x01 nonsense\r\n\r\n"), Err(BadRequest::Malformed(_))));
        assert!(matches!(
            parse_request(b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n[1]"),
            Err(BadRequest::Malformed(_))
        ));
        let huge = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_REQUEST + 1);
        assert_eq!(parse_request(huge.as_bytes()), Err(BadRequest::TooLarge));
        let wraps = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", usize::MAX);
        assert_eq!(parse_request(wraps.as_bytes()), Err(BadRequest::TooLarge), "no overflow");
    }
}
