//! The links of an HTML directory index: every `<a href=...>` of the page, in order, with the
//! HTML character references in the value decoded. Only what a listing needs of HTML's
//! tokenizer: comments, doctypes and processing instructions are skipped, the text of
//! `<script>`, `<style>`, `<textarea>` and `<title>` is not searched for tags, attribute values
//! may be double-quoted, single-quoted or bare, and the first `href` of a tag wins (as in HTML5).
//! Bounded: the caller caps the page's size; this caps the links kept.

/// Most links kept from one page (a larger index is cut there, with a warning by the caller).
pub const MAX_LINKS: usize = 1_000_000;

/// The `href` values of the page's `<a>` tags, decoded, at most [`MAX_LINKS`].
pub fn hrefs(page: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(lt) = find(page, i, b"<") {
        i = lt + 1;
        let rest = &page[i..];
        if rest.starts_with(b"!--") {
            i = find(page, i + 3, b"-->").map_or(page.len(), |end| end + 3);
            continue;
        }
        if rest.first().is_some_and(|b| matches!(b, b'!' | b'?' | b'/')) {
            i = find(page, i, b">").map_or(page.len(), |end| end + 1);
            continue;
        }
        let name_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
        if name_len == 0 || !rest[0].is_ascii_alphabetic() {
            continue;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        let (end, href) = attributes(page, i + name_len, name == b"a");
        i = end;
        if let Some(href) = href {
            if out.len() < MAX_LINKS {
                out.push(href);
            }
        }
        if matches!(name.as_slice(), b"script" | b"style" | b"textarea" | b"title") {
            i = raw_text_end(page, i, &name);
        }
    }
    out
}

/// Reads a tag's attributes from `i` to just past its `>`; the first `href` when `want_href`.
fn attributes(page: &[u8], mut i: usize, want_href: bool) -> (usize, Option<String>) {
    let mut href = None;
    loop {
        while i < page.len() && (page[i].is_ascii_whitespace() || page[i] == b'/') {
            i += 1;
        }
        match page.get(i) {
            None => return (page.len(), None),
            Some(b'>') => return (i + 1, href),
            Some(_) => {}
        }
        let start = i;
        while i < page.len() && !page[i].is_ascii_whitespace() && !matches!(page[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        // A name always has a byte: a lone `=` (no name) is taken as one.
        if i == start {
            i += 1;
        }
        let is_href = page[start..i].eq_ignore_ascii_case(b"href");
        let mut j = i;
        while j < page.len() && page[j].is_ascii_whitespace() {
            j += 1;
        }
        if page.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < page.len() && page[j].is_ascii_whitespace() {
            j += 1;
        }
        let value = match page.get(j) {
            None => return (page.len(), None),
            Some(&q @ (b'"' | b'\'')) => match page[j + 1..].iter().position(|&b| b == q) {
                // An unclosed quote runs to the end of the page: no tag is complete.
                None => return (page.len(), None),
                Some(len) => {
                    i = j + 1 + len + 1;
                    &page[j + 1..j + 1 + len]
                }
            },
            Some(_) => {
                let len = page[j..].iter().take_while(|b| !b.is_ascii_whitespace() && **b != b'>').count();
                i = j + len;
                &page[j..j + len]
            }
        };
        if want_href && is_href && href.is_none() {
            href = Some(decode_references(&String::from_utf8_lossy(value)));
        }
    }
}

/// Where the raw text of `<name>` ends: just past its end tag, or the end of the page.
fn raw_text_end(page: &[u8], mut i: usize, name: &[u8]) -> usize {
    while let Some(at) = find(page, i, b"</") {
        let after = at + 2 + name.len();
        if page.len() >= after && page[at + 2..after].eq_ignore_ascii_case(name) {
            return find(page, after, b">").map_or(page.len(), |end| end + 1);
        }
        i = at + 2;
    }
    page.len()
}

/// The first `needle` at or after `from`.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric references
/// (`&#39;`, `&#x27;`); anything else is left as written.
pub fn decode_references(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // A reference is short: look for its `;` in the next few bytes only.
        let Some(semi) = rest.bytes().skip(1).take(10).position(|b| b == b';').map(|s| s + 1) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => entity.strip_prefix('#').and_then(|n| {
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32).filter(|c| *c != '\0')
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_of_python_and_nginx_indexes() {
        let python = br#"<!DOCTYPE HTML>
<html lang="en"><head><title>Directory listing for /</title></head>
<body><ul>
<li><a href="a%20b.txt">a b.txt</a></li>
<li><a href="sub/">sub/</a></li>
<li><a href="%23hash%25.bin">#hash%.bin</a></li>
</ul></body></html>"#;
        assert_eq!(hrefs(python), ["a%20b.txt", "sub/", "%23hash%25.bin"]);
        let nginx = b"<html>\r\n<head><title>Index of /x/</title></head>\r\n<body>\r\n<h1>Index of /x/</h1><hr><pre><a href=\"../\">../</a>\r\n<a href=\"caf%C3%A9.txt\">caf\xc3\xa9.txt</a>  04-Dec-2026 10:00  5\r\n</pre><hr></body>\r\n</html>";
        assert_eq!(hrefs(nginx), ["../", "caf%C3%A9.txt"]);
    }

    #[test]
    fn quoting_references_comments_and_raw_text() {
        let page = br#"<A HREF=bare.txt>x</A><a title='t' href='single.txt'><a class=x href = "a&amp;b&#x27;c&#39;.txt" href="second">
<!-- <a href="commented.txt"> --><script>var s = "<a href='script.txt'>";</script>
<a name="anchor"><a href="last.txt"/><img src="x.png"><a href="unclosed.txt"#;
        assert_eq!(hrefs(page), ["bare.txt", "single.txt", "a&b'c'.txt", "last.txt"]);
        assert_eq!(decode_references("&bogus; &amp &#0; &#x1F600;"), "&bogus; &amp &#0; \u{1F600}");
        assert!(hrefs(b"<a href=\"").is_empty() && hrefs(b"<<<>>><a").is_empty());
    }
}
