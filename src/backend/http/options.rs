//! `HttpOptions`: the http remote's settings, with rclone's keys and defaults (`url`,
//! `headers`, `no_slash`, `no_head`, `no_escape`).

use std::collections::BTreeMap;

use super::links::Url;
use crate::backend::net::{settings, NetOptions};

/// How to reach a web directory.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// `url`, ending in `/`, without the user information.
    pub url: Url,
    /// `user:pass@` of the URL, sent as HTTP Basic auth (as Go's client does).
    pub basic_auth: Option<(String, String)>,
    /// `headers`: sent with every request, in order.
    pub headers: Vec<(String, String)>,
    /// `no_slash`: directories may lack the trailing `/`; a `text/html` file is a directory.
    pub no_slash: bool,
    /// `no_escape`: paths go into URLs as they are.
    pub no_escape: bool,
    /// The path after `remote:`.
    pub root: String,
    /// rclone's global network flags (`--contimeout`, `--timeout`, `--low-level-retries`).
    pub net: NetOptions,
}

impl std::fmt::Debug for HttpOptions {
    /// Everything but the credentials and the header values (which often hold tokens).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("url", &self.url.text())
            .field("headers", &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("no_slash", &self.no_slash)
            .field("no_escape", &self.no_escape)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Every option of rclone's http remote (also what `RCLONE_HTTP_<KEY>` may set).
pub const KNOWN: [&str; 5] = ["url", "headers", "no_slash", "no_head", "no_escape"];
/// Options accepted and not needed here.
const IGNORED: [&str; 2] = ["type", "description"];

impl HttpOptions {
    /// Reads the options of an http remote; `root` is the path after `remote:`.
    ///
    /// # Errors
    /// A message naming the option that is missing, malformed or not supported.
    pub fn from_map(opts: &BTreeMap<String, String>, root: &str) -> Result<HttpOptions, String> {
        let get = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let flag = |k: &str| crate::remote::bool_option("http", k, get(k));
        for key in opts.keys() {
            if !KNOWN.contains(&key.as_str()) && !IGNORED.contains(&key.as_str()) {
                log::warn!("http option {key} is unknown and ignored");
            }
        }
        if flag("no_head")? {
            return Err("http option no_head is not supported yet: ftpvfs serves a file by its size, which \
                        only HEAD tells"
                .into());
        }
        let text = get("url").ok_or("an http remote needs url= (the address of the web directory)")?;
        let mut url = Url::parse(text)
            .ok_or_else(|| format!("http option url: {text:?} is not an http:// or https:// address"))?;
        if !url.path.ends_with('/') {
            url.path.push('/');
        }
        url.query = None;
        let basic_auth = settings::user_info("http", text)?;
        let headers = settings::header_list("http", get("headers").unwrap_or(""))?;
        Ok(HttpOptions {
            url,
            basic_auth,
            headers,
            no_slash: flag("no_slash")?,
            no_escape: flag("no_escape")?,
            root: root.trim_matches('/').to_string(),
            net: NetOptions::default(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn options_as_rclone_reads_them() {
        let o = HttpOptions::from_map(&map(&[("url", "https://u%40x:p%3Aw@example.com/pub")]), "/dir/").unwrap();
        assert_eq!(o.url.text(), "https://example.com/pub/");
        assert_eq!(o.basic_auth, Some(("u@x".into(), "p:w".into())));
        assert_eq!(o.root, "dir");
        let o = HttpOptions::from_map(
            &map(&[("url", "http://h/"), ("headers", r#""Cookie","a=b, c","X-Token",t"#), ("no_slash", "true")]),
            "",
        )
        .unwrap();
        assert_eq!(o.headers, [("Cookie".into(), "a=b, c".into()), ("X-Token".into(), "t".into())]);
        assert!(o.no_slash && !o.no_escape && o.basic_auth.is_none());
        assert!(!format!("{o:?}").contains("a=b"), "header values stay out of logs");
    }

    #[test]
    fn bad_options_are_named() {
        let err = |pairs: &[(&str, &str)]| HttpOptions::from_map(&map(pairs), "").unwrap_err();
        assert!(err(&[]).contains("url"));
        assert!(err(&[("url", "ftp://h/")]).contains("http://"));
        assert!(err(&[("url", "http://h/"), ("headers", "a,b,c")]).contains("odd"));
        assert!(err(&[("url", "http://h/"), ("headers", "\"a,b")]).contains("quoted"));
        assert!(err(&[("url", "http://h/"), ("headers", "Bad Name,v")]).contains("header name"));
        assert!(err(&[("url", "http://h/"), ("no_head", "true")]).contains("not supported yet"));
        assert!(err(&[("url", "http://h/"), ("no_slash", "maybe")]).contains("no_slash"));
    }
}
