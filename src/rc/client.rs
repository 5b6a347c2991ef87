//! `ftpvfs rc COMMAND [key=value ...] [--url URL] [--user U] [--pass P]`: a client for the rc
//! server (ours, or rclone's), for operators without rclone. Sends one POST with a JSON body
//! and returns the JSON answer.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value};

/// What `ftpvfs rc` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcCall {
    /// `vfs/forget`, ...
    pub command: String,
    /// `key=value` parameters, in order.
    pub params: Vec<(String, String)>,
    /// `--url`, default `http://localhost:5572/`.
    pub url: String,
    /// `--user`/`--pass` for Basic auth.
    pub auth: Option<(String, String)>,
}

/// Sends the call; returns the HTTP status and the answer's body.
///
/// # Errors
/// A bad URL, or the server cannot be reached or answers with something that is not HTTP.
pub fn call(rc: &RcCall) -> Result<(u16, String), String> {
    let rest = rc.url.strip_prefix("http://").ok_or_else(|| format!("{}: only http:// URLs are supported", rc.url))?;
    let (host_port, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:80") };
    let addr = host_port
        .to_socket_addrs()
        .map_err(|e| format!("{host_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host_port}: no address"))?;
    let mut body = Map::new();
    for (k, v) in &rc.params {
        body.insert(k.clone(), Value::String(v.clone()));
    }
    let body = Value::Object(body).to_string();
    let path = format!(
        "/{}{}{}",
        prefix.trim_matches('/'),
        if prefix.trim_matches('/').is_empty() { "" } else { "/" },
        rc.command
    );
    let auth = rc.auth.as_ref().map_or(String::new(), |(u, p)| {
        format!("Authorization: Basic {}\r\n", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")))
    });
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("{}: {e}", rc.url))?;
    stream.set_read_timeout(Some(Duration::from_secs(300))).map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|e| format!("{}: {e}", rc.url))?;
    let mut answer = Vec::new();
    stream.take(16 << 20).read_to_end(&mut answer).map_err(|e| format!("{}: {e}", rc.url))?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(&answer) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(format!("{}: the answer is not HTTP", rc.url)),
    };
    Ok((response.code.unwrap_or(0), String::from_utf8_lossy(&answer[head..]).into_owned()))
}

/// Parses `ftpvfs rc`'s arguments (after `rc`).
///
/// # Errors
/// A usage message.
pub fn parse_args(args: &[String]) -> Result<RcCall, String> {
    const USAGE: &str = "usage: ftpvfs rc COMMAND [key=value ...] [--url URL] [--user USER --pass PASS]";
    let mut call =
        RcCall { command: String::new(), params: Vec::new(), url: "http://localhost:5572/".into(), auth: None };
    let (mut user, mut pass) = (None, None);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value =
            || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{flag} needs a value; {USAGE}"));
        match flag {
            "--url" => call.url = value()?,
            "--user" | "--rc-user" => user = Some(value()?),
            "--pass" | "--rc-pass" => pass = Some(value()?),
            f if f.starts_with('-') => return Err(format!("unknown flag {f}; {USAGE}")),
            _ if call.command.is_empty() => call.command = arg.trim_matches('/').to_string(),
            _ => {
                let (k, v) = arg.split_once('=').ok_or_else(|| format!("{arg:?} is not key=value; {USAGE}"))?;
                call.params.push((k.to_string(), v.to_string()));
            }
        }
    }
    if call.command.is_empty() {
        return Err(USAGE.into());
    }
    call.auth = match (user, pass) {
        (Some(u), p) => Some((u, p.unwrap_or_default())),
        (None, Some(_)) => return Err(format!("--pass needs --user; {USAGE}")),
        (None, None) => None,
    };
    Ok(call)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_string()).collect()
    }

    #[test]
    fn arguments() {
        let c = parse_args(&s(&["vfs/forget", "dir=a b", "--url", "http://127.0.0.1:1/", "--user=u", "--pass", "p"]))
            .unwrap();
        assert_eq!(c.command, "vfs/forget");
        assert_eq!(c.params, vec![("dir".to_string(), "a b".to_string())]);
        assert_eq!(c.url, "http://127.0.0.1:1/");
        assert_eq!(c.auth, Some(("u".into(), "p".into())));
        assert!(parse_args(&s(&[])).is_err());
        assert!(parse_args(&s(&["x", "novalue"])).is_err());
        assert!(parse_args(&s(&["x", "--frob"])).is_err());
    }
}
