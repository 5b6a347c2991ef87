//! From a link on an index page to a name in the listed directory, as rclone's http remote
//! decides: the link is resolved against the page's URL (RFC 3986 §5), and kept only when it
//! stays on the same scheme and host, has no query, lies directly below the page's path, and
//! is not the page itself.

pub use crate::backend::net::url::{decode_path, escape_path, Url};

/// The name a link on the index page `base` gives to an entry of that directory: `name` for a
/// file, `name/` for a directory; `None` for links rclone leaves out (queries, other hosts or
/// schemes, paths outside the directory or deeper in it, the page itself, bad escapes).
pub fn entry_name(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href)?;
    if url.query.is_some() || url.scheme != base.scheme || !url.host.eq_ignore_ascii_case(&base.host) {
        return None;
    }
    let (path, base_path) = (decode_path(&url.path)?, decode_path(&base.path)?);
    let name = path.strip_prefix(base_path.as_str())?;
    let bare = name.strip_suffix('/').unwrap_or(name);
    if bare.is_empty() || bare.contains('/') || bare == "." || bare == ".." {
        return None;
    }
    Some(name.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn links_become_names_as_in_rclone() {
        let base = Url::parse("http://127.0.0.1:8080/files/sub/").unwrap();
        let name = |href: &str| entry_name(&base, href);
        assert_eq!(name("a%20b.txt").as_deref(), Some("a b.txt"));
        assert_eq!(name("dir/").as_deref(), Some("dir/"));
        assert_eq!(name("./caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(name("/files/sub/abs.txt").as_deref(), Some("abs.txt"));
        assert_eq!(name("http://127.0.0.1:8080/files/sub/full.txt").as_deref(), Some("full.txt"));
        assert_eq!(name("//127.0.0.1:8080/files/sub/proto.txt").as_deref(), Some("proto.txt"));
        assert_eq!(name("%23hash%25.txt#frag").as_deref(), Some("#hash%.txt"));
        for dropped in [
            "../",
            "..",
            "?C=N;O=D",
            "x.txt?download=1",
            "http://other/files/sub/x",
            "https://127.0.0.1:8080/files/sub/x",
            "/files/other/x",
            "deeper/x.txt",
            "",
            "#top",
            "bad%zz",
            "%ff%fe",
            "mailto:someone@example.com",
            "../sub/../../x",
        ] {
            assert_eq!(name(dropped), None, "{dropped}");
        }
        assert_eq!(name("../sub/again.txt").as_deref(), Some("again.txt"));
    }
}
