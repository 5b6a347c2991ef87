//! A bounded XML reader for the answers of S3 and WebDAV servers: quick-xml's pull parser
//! builds a small tree of elements (local names, text, children), refusing documents that are
//! too large, too deep or hold too many elements, so no answer can exhaust memory or the stack.
//! Namespaces are dropped (`D:href` and `href` are the same element), which is how both S3
//! (one default namespace) and WebDAV (prefixes chosen by the server) are read.

use quick_xml::events::Event;
use quick_xml::Reader;

/// The largest document read (a listing of 1000 keys is about 300 KiB).
pub const MAX_BYTES: usize = 32 << 20;
/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// The most elements in one document.
pub const MAX_ELEMENTS: usize = 500_000;

/// One element: its local name, its text (entities resolved, CDATA included) and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The name without its namespace prefix.
    pub name: String,
    /// The text directly inside it.
    pub text: String,
    /// The elements inside it, in order.
    pub children: Vec<Element>,
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad XML: {}", self.0)
    }
}

impl std::error::Error for XmlError {}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The first element named `name` at any depth below this one (depth first).
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| if c.name == name { Some(c) } else { c.find(name) })
    }
}

fn local(name: &str) -> String {
    name.rsplit_once(':').map_or(name, |(_, local)| local).to_string()
}

/// The character an entity reference (`amp`, `#60`, `#x3C`) stands for.
fn resolve_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)?
        }
    })
}

/// Parses a whole document into its root element.
///
/// # Errors
/// Malformed XML, no root element, or a document past the limits above.
pub fn parse(doc: &[u8]) -> Result<Element, XmlError> {
    if doc.len() > MAX_BYTES {
        return Err(XmlError(format!("document of {} bytes is over the {MAX_BYTES}-byte limit", doc.len())));
    }
    let text = std::str::from_utf8(doc).map_err(|_| XmlError("not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| XmlError(e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(XmlError("content after the root element".into()));
            }
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(XmlError("too many or too deeply nested elements".into()));
                }
                stack.push(Element { name: local(start.name().as_ref()), ..Default::default() });
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(XmlError("too many or too deeply nested elements".into()));
                }
                let element = Element { name: local(start.name().as_ref()), ..Default::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(end) => {
                let element = stack.pop().ok_or_else(|| XmlError("end tag without a start".into()))?;
                if element.name != local(end.name().as_ref()) {
                    return Err(XmlError(format!("</{}> closes <{}>", local(end.name().as_ref()), element.name)));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let c = resolve_entity(&name).ok_or_else(|| XmlError(format!("unknown entity &{name};")))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(format!("<{}> is never closed", stack[stack.len() - 1].name)));
    }
    root.ok_or_else(|| XmlError("no root element".into()))
}

/// `s` with `& < > " '` escaped, for element text and attribute values in request bodies.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_becomes_a_tree_with_entities_resolved() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key>a &amp; b&#x20;&#252;.txt</Key><Size>5</Size></Contents>
<Contents><Key><![CDATA[<raw>]]></Key><Size/></Contents></ListBucketResult>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "ListBucketResult");
        let keys: Vec<&str> = root.children_named("Contents").filter_map(|c| c.child_text("Key")).collect();
        assert_eq!(keys, ["a & b ü.txt", "<raw>"]);
        assert_eq!(root.child_text("Name"), Some("b"));
    }

    #[test]
    fn namespace_prefixes_are_dropped() {
        let root = parse(b"<d:multistatus xmlns:d='DAV:'><d:response><d:href>/x</d:href></d:response></d:multistatus>")
            .unwrap();
        assert_eq!(root.find("href").unwrap().text, "/x");
    }

    #[test]
    fn bad_documents_are_refused() {
        for bad in [&b""[..], b"<a>", b"<a></b>", b"</a>", b"<a>&bogus;</a>", b"<a/><b/>", b"\xff<a/>"] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
