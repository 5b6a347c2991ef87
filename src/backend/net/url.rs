//! URLs as the HTTP remotes need them: an absolute `http(s)://` URL in its parts, a reference
//! resolved against it (RFC 3986 §5, for index links and WebDAV hrefs), and a path escaped into
//! URL text as rclone escapes it, or decoded back.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// An absolute URL in its parts (RFC 3986 §3), the path still percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Lower case: `http`, `https`.
    pub scheme: String,
    /// `host[:port]`, without user information.
    pub host: String,
    /// Starts with `/`.
    pub path: String,
    /// After `?`, if there is one (even empty).
    pub query: Option<String>,
}

/// The parts of a reference (a link as written); each absent part is `None`.
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn split(text: &str) -> Reference<'_> {
    let text = text.split_once('#').map_or(text, |(before, _)| before);
    let (text, query) = match text.split_once('?') {
        Some((before, q)) => (before, Some(q)),
        None => (text, None),
    };
    let scheme_len = text
        .find(':')
        .filter(|&i| {
            let s = &text[..i];
            s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .unwrap_or(0);
    let (scheme, rest) =
        if scheme_len > 0 { (Some(&text[..scheme_len]), &text[scheme_len + 1..]) } else { (None, text) };
    let (authority, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    Reference { scheme, authority, path, query }
}

/// The host of an authority, without `user:pass@`.
fn host_of(authority: &str) -> &str {
    authority.rsplit_once('@').map_or(authority, |(_, host)| host)
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL; `None` for anything else.
    pub fn parse(text: &str) -> Option<Url> {
        let r = split(text);
        let scheme = r.scheme?.to_ascii_lowercase();
        let authority = r.authority.filter(|a| !host_of(a).is_empty())?;
        if !matches!(scheme.as_str(), "http" | "https") || text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return None;
        }
        let path = if r.path.is_empty() { "/".to_string() } else { r.path.to_string() };
        Some(Url { scheme, host: host_of(authority).to_string(), path, query: r.query.map(str::to_string) })
    }

    /// `reference` resolved against this URL (RFC 3986 §5.2.2).
    pub fn join(&self, reference: &str) -> Option<Url> {
        if reference.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return None;
        }
        let r = split(reference);
        if let Some(scheme) = r.scheme {
            let mut url = Url::parse(reference)?;
            url.scheme = scheme.to_ascii_lowercase();
            url.path = remove_dot_segments(&url.path);
            return Some(url);
        }
        let query = r.query.map(str::to_string);
        if let Some(authority) = r.authority {
            let path = if r.path.is_empty() { "/".to_string() } else { remove_dot_segments(r.path) };
            return Some(Url { scheme: self.scheme.clone(), host: host_of(authority).to_string(), path, query });
        }
        let (path, query) = if r.path.is_empty() {
            (self.path.clone(), query.or_else(|| self.query.clone()))
        } else if r.path.starts_with('/') {
            (remove_dot_segments(r.path), query)
        } else {
            let dir = &self.path[..self.path.rfind('/').map_or(0, |i| i + 1)];
            (remove_dot_segments(&format!("{dir}{}", r.path)), query)
        };
        Some(Url { scheme: self.scheme.clone(), host: self.host.clone(), path, query })
    }

    /// The URL as text.
    pub fn text(&self) -> String {
        match &self.query {
            Some(q) => format!("{}://{}{}?{q}", self.scheme, self.host, self.path),
            None => format!("{}://{}{}", self.scheme, self.host, self.path),
        }
    }
}

/// RFC 3986 §5.2.4: `.` and `..` segments taken out of an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// Percent-decodes a URL path; `None` when a `%` is not followed by two hex digits or the
/// result is not UTF-8.
pub fn decode_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok().filter(|_| hex.iter().all(u8::is_ascii_hexdigit))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What rclone's `URLPathEscape` leaves as it is in a path: letters, digits, `-._~` and the
/// path's own `$&+,/:;=@`.
const PATH_KEEPS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b',')
    .remove(b'/')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@');

/// A path (`dir/name`) as URL text: escaped as rclone escapes it, or as it is (`no_escape`).
pub fn escape_path(path: &str, no_escape: bool) -> String {
    if no_escape {
        path.to_string()
    } else {
        utf8_percent_encode(path, PATH_KEEPS).to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_join_and_escape() {
        let u = Url::parse("HTTPS://user:pw@example.com").unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str(), u.path.as_str()), ("https", "example.com", "/"));
        assert!(
            Url::parse("ftp://x/").is_none() && Url::parse("/relative").is_none() && Url::parse("http:///").is_none()
        );
        let base = Url::parse("http://h/a/b/c").unwrap();
        assert_eq!(base.join("../../../../g").unwrap().path, "/g");
        assert_eq!(base.join("./").unwrap().path, "/a/b/");
        assert_eq!(base.join("..").unwrap().path, "/a/");
        assert_eq!(escape_path("dir/a b#%?é+$.txt", false), "dir/a%20b%23%25%3F%C3%A9+$.txt");
        assert_eq!(escape_path("a b", true), "a b");
    }
}
