//! What a WebDAV server answers to `PROPFIND` (RFC 4918 §9.1): a `multistatus` with one
//! `response` per resource, read through the bounded XML reader (size, depth and element count
//! capped there). Namespaces are dropped, as servers choose their own prefixes; rclone reads the
//! same few properties: `resourcetype` (or Microsoft's `iscollection`), `getcontentlength`,
//! `getlastmodified`, ownCloud's `checksums` and `permissions`, and the quota pair.

use std::time::SystemTime;

use crate::backend::net::http_time::parse_rfc1123;
use crate::backend::net::url::{decode_path, Url};
use crate::backend::net::xml::{self, Element, XmlError};

/// The body of a `PROPFIND` that asks for what a listing needs (rclone's `standardProps`).
pub const STANDARD_PROPS: &str = r#"<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:">
 <d:prop>
  <d:displayname/>
  <d:getlastmodified/>
  <d:getcontentlength/>
  <d:resourcetype/>
 </d:prop>
</d:propfind>
"#;

/// The same with ownCloud's checksums and permissions (rclone's `owncloudProps`).
pub const OWNCLOUD_PROPS: &str = r#"<?xml version="1.0"?>
<d:propfind  xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
 <d:prop>
  <d:displayname />
  <d:getlastmodified />
  <d:getcontentlength />
  <d:resourcetype />
  <oc:checksums />
  <oc:permissions />
 </d:prop>
</d:propfind>
"#;

/// The body that asks for the quota (RFC 4331).
pub const QUOTA_PROPS: &str = r#"<?xml version="1.0" ?>
<D:propfind xmlns:D="DAV:">
 <D:prop>
  <D:quota-available-bytes/>
  <D:quota-used-bytes/>
 </D:prop>
</D:propfind>
"#;

/// One resource of a multistatus answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    /// The `href`, as the server wrote it (still percent-encoded, maybe relative).
    pub href: String,
    /// Whether a status of the resource is a success (2xx, or 425 as rclone accepts it).
    pub ok: bool,
    /// A collection.
    pub is_dir: bool,
    /// `getcontentlength` (0 when absent).
    pub size: u64,
    /// `getlastmodified`, when it parses.
    pub mtime: Option<SystemTime>,
    /// ownCloud's `checksums` (`SHA1:… MD5:…`) or Fastmail's `sha1hex` (`SHA1:…`), space separated.
    pub checksums: String,
    /// ownCloud's `permissions` (`S` shared, `M` mounted, ...).
    pub permissions: String,
    /// `quota-available-bytes`.
    pub quota_available: Option<u64>,
    /// `quota-used-bytes`.
    pub quota_used: Option<u64>,
}

/// Whether a status line (`HTTP/1.1 200 OK`) says success.
fn status_ok(line: &str) -> bool {
    let code = line.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok());
    code.is_some_and(|c| (200..300).contains(&c) || c == 425)
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Reads one `response` element.
fn item(response: &Element) -> Item {
    let mut it = Item { href: response.child_text("href").unwrap_or("").trim().to_string(), ..Item::default() };
    let propstats: Vec<&Element> = response.children_named("propstat").collect();
    if propstats.is_empty() {
        it.ok = response.child_text("status").is_some_and(status_ok);
    }
    for propstat in propstats {
        // A propstat without a status is taken as success, as rclone takes it.
        if !propstat.child_text("status").is_none_or(status_ok) {
            continue;
        }
        it.ok = true;
        let Some(prop) = propstat.child("prop") else { continue };
        for p in &prop.children {
            match p.name.as_str() {
                "resourcetype" => it.is_dir |= p.child("collection").is_some(),
                "iscollection" => {
                    it.is_dir |= matches!(p.text.trim().to_ascii_lowercase().as_str(), "1" | "true");
                }
                "getcontentlength" => it.size = number(&p.text).unwrap_or(0),
                "getlastmodified" => it.mtime = parse_rfc1123(p.text.trim()),
                "checksums" => {
                    for c in p.children_named("checksum") {
                        push_word(&mut it.checksums, c.text.trim());
                    }
                }
                "sha1hex" if !p.text.trim().is_empty() => {
                    push_word(&mut it.checksums, &format!("SHA1:{}", p.text.trim()));
                }
                "permissions" => it.permissions = p.text.trim().to_string(),
                "quota-available-bytes" => it.quota_available = number(&p.text),
                "quota-used-bytes" => it.quota_used = number(&p.text),
                _ => {}
            }
        }
    }
    it
}

fn push_word(to: &mut String, word: &str) {
    if !word.is_empty() {
        if !to.is_empty() {
            to.push(' ');
        }
        to.push_str(word);
    }
}

/// The resources of a multistatus document, in document order.
///
/// # Errors
/// Not XML, beyond the reader's bounds, or not a `multistatus`.
pub fn parse(doc: &[u8]) -> Result<Vec<Item>, XmlError> {
    let root = xml::parse(doc)?;
    if root.name != "multistatus" {
        return Err(XmlError(format!("expected a multistatus, got <{}>", root.name)));
    }
    Ok(root.children_named("response").map(item).collect())
}

/// The name the resource at `href` has in the collection listed at `base` (`""` for the
/// collection itself), as rclone finds it: the href resolved against the collection's URL, its
/// decoded path below the collection's. `None` for resources elsewhere or deeper, and for bad
/// escapes or names (`.`, `..`, control characters).
pub fn name_in(base: &Url, href: &str) -> Option<String> {
    let base_path = decode_path(&base.path)?;
    let path = decode_path(&base.join(href)?.path)?;
    let Some(rest) = path.strip_prefix(base_path.as_str()) else {
        // The collection's own href without its slash.
        return (format!("{path}/") == base_path).then(String::new);
    };
    let name = rest.trim_start_matches('/').trim_end_matches('/');
    if name.contains('/') || name == "." || name == ".." || name.chars().any(char::is_control) {
        return None;
    }
    Some(name.to_string())
}

impl Item {
    /// The checksum of `kind` (`SHA1`, `MD5`), lower case, if the server gave one.
    pub fn checksum(&self, kind: &str) -> Option<String> {
        self.checksums.split_whitespace().find_map(|c| {
            let (k, v) = c.split_once(':')?;
            k.eq_ignore_ascii_case(kind).then(|| v.to_ascii_lowercase())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_as_servers_write_it() {
        // Apache's form: properties in their own namespace prefixes, a 404 propstat beside.
        let doc = br#"<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns">
<D:response xmlns:lp1="DAV:"><D:href>/d/</D:href><D:propstat><D:prop>
<lp1:resourcetype><D:collection/></lp1:resourcetype>
<lp1:getlastmodified>Fri, 04 Dec 2026 20:50:00 GMT</lp1:getlastmodified></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/d/a%20b.txt</D:href><D:propstat><D:prop><lp1:resourcetype xmlns:lp1="DAV:"/>
<lp1:getcontentlength xmlns:lp1="DAV:">3</lp1:getcontentlength>
<oc:checksums><oc:checksum>SHA1:ABCD MD5:ef01 ADLER32:084b021f</oc:checksum></oc:checksums>
<oc:permissions>RGDNVW</oc:permissions></D:prop>
<D:status>HTTP/1.1 200 OK</D:status></D:propstat>
<D:propstat><D:prop><D:displayname/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>
<D:response><D:href>/d/gone</D:href><D:propstat><D:prop/><D:status>HTTP/1.1 403 Forbidden</D:status></D:propstat></D:response>
</D:multistatus>"#;
        let items = parse(doc).unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_dir && items[0].ok && items[0].mtime.is_some());
        let f = &items[1];
        assert_eq!((f.href.as_str(), f.size, f.is_dir, f.ok), ("/d/a%20b.txt", 3, false, true));
        assert_eq!(f.checksum("sha1").as_deref(), Some("abcd"));
        assert_eq!(f.checksum("MD5").as_deref(), Some("ef01"));
        assert_eq!(f.permissions, "RGDNVW");
        assert!(!items[2].ok, "a resource whose only status is 403 is not listed");
    }

    #[test]
    fn hrefs_become_names_as_rclone_finds_them() {
        let base = Url::parse("http://127.0.0.1:8080/dav/sub%20dir/").unwrap();
        let name = |href: &str| name_in(&base, href);
        assert_eq!(name("/dav/sub%20dir/").as_deref(), Some(""));
        assert_eq!(name("/dav/sub%20dir").as_deref(), Some(""), "its own href without the slash");
        assert_eq!(name("/dav/sub%20dir/a%23b%25c.txt").as_deref(), Some("a#b%c.txt"));
        assert_eq!(name("http://127.0.0.1:8080/dav/sub%20dir/caf%C3%A9/").as_deref(), Some("café"));
        assert_eq!(name("relative.txt").as_deref(), Some("relative.txt"));
        assert_eq!(name("//dav/sub%20dir/x").as_deref(), None, "another host's root");
        for dropped in ["/dav/other/x", "/dav/sub%20dir/deeper/x", "/dav/sub%20dir/bad%zz", "/dav/sub%20dir/%0a"] {
            assert_eq!(name(dropped), None, "{dropped}");
        }
    }

    #[test]
    fn collections_by_microsofts_flag_and_the_quota() {
        let doc = br#"<multistatus xmlns="DAV:"><response><href>x</href><propstat><prop>
<iscollection>TRUE</iscollection><quota-available-bytes>100</quota-available-bytes>
<quota-used-bytes> 7 </quota-used-bytes></prop></propstat></response></multistatus>"#;
        let it = &parse(doc).unwrap()[0];
        assert!(it.is_dir && it.ok);
        assert_eq!((it.quota_available, it.quota_used), (Some(100), Some(7)));
        assert!(parse(b"<error/>").is_err() && parse(b"not xml <").is_err());
    }
}
