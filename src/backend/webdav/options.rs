//! `WebdavOptions`: the webdav remote's settings, with rclone's keys and defaults, and the
//! vendor quirks rclone's `setQuirks` applies (each one overridable by its own key, as in
//! rclone: `can_stream`, `can_chunk`, `use_oc_mtime`, `propset_mtime`, `has_ocmd5`,
//! `has_ocsha1`, `has_mesha1`).

use std::collections::BTreeMap;

use crate::backend::net::url::Url;
use crate::backend::net::{settings, NetOptions};
use crate::cli::units::parse_size;
use crate::remote::obscure::reveal;

/// The WebDAV server software, as rclone's `vendor` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// `other` (the default): any WebDAV server; only the standard properties are asked for.
    Other,
    /// `rclone`: `rclone serve webdav`.
    Rclone,
    /// `owncloud`: ownCloud 10.
    Owncloud,
    /// `nextcloud`: Nextcloud, with its chunked uploads.
    Nextcloud,
    /// `infinitescale`: ownCloud Infinite Scale.
    InfiniteScale,
    /// `fastmail`: Fastmail Files.
    Fastmail,
}

/// What the server can do beyond RFC 4918, from the vendor and the override keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// Uploads of unknown size may be sent with chunked transfer encoding.
    pub can_stream: bool,
    /// Nextcloud's chunked upload protocol above `nextcloud_chunk_size`.
    pub can_chunk: bool,
    /// `X-OC-Mtime` on uploads and moves sets the file's time.
    pub use_oc_mtime: bool,
    /// A `PROPPATCH` of `lastmodified` sets the file's time (MFMT).
    pub propset_mtime: bool,
    /// `oc:checksums` carries an MD5.
    pub has_oc_md5: bool,
    /// `oc:checksums` carries a SHA-1.
    pub has_oc_sha1: bool,
    /// Fastmail's `ME:sha1hex` carries a SHA-1.
    pub has_me_sha1: bool,
    /// A PUT replaces the old file only once the new one is whole (the server writes a
    /// temporary file and renames it): no upload to a temporary name is needed.
    pub atomic_put: bool,
}

/// How to reach a WebDAV server.
#[derive(Clone, PartialEq, Eq)]
pub struct WebdavOptions {
    /// `url`, ending in `/`, without user information.
    pub url: Url,
    /// `vendor`.
    pub vendor: Vendor,
    /// `user` and the revealed `pass`, sent as HTTP Basic auth (also `user:pass@` in `url`).
    pub basic_auth: Option<(String, String)>,
    /// `bearer_token`.
    pub bearer_token: Option<String>,
    /// `bearer_token_command`, split on spaces: run for a token at start and after a 401.
    pub bearer_token_command: Vec<String>,
    /// `headers`: sent with every request, in order.
    pub headers: Vec<(String, String)>,
    /// `nextcloud_chunk_size` (10 MiB; 0 turns chunked uploads off).
    pub chunk_size: u64,
    /// `owncloud_exclude_shares`: listings leave out what others shared.
    pub exclude_shares: bool,
    /// `owncloud_exclude_mounts`: listings leave out mounted storages.
    pub exclude_mounts: bool,
    /// The vendor's quirks with the overrides applied.
    pub quirks: Quirks,
    /// The path after `remote:`, without slashes at either end.
    pub root: String,
    /// rclone's global network flags.
    pub net: NetOptions,
}

impl std::fmt::Debug for WebdavOptions {
    /// Everything but credentials and header values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebdavOptions")
            .field("url", &self.url.text())
            .field("vendor", &self.vendor)
            .field("quirks", &self.quirks)
            .field("chunk_size", &self.chunk_size)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Every option of rclone's webdav remote (also what `RCLONE_WEBDAV_<KEY>` may set).
pub const KNOWN: [&str; 22] = [
    "url",
    "vendor",
    "user",
    "pass",
    "bearer_token",
    "bearer_token_command",
    "encoding",
    "headers",
    "pacer_min_sleep",
    "nextcloud_chunk_size",
    "owncloud_exclude_shares",
    "owncloud_exclude_mounts",
    "unix_socket",
    "auth_redirect",
    "can_stream",
    "can_tus",
    "can_chunk",
    "use_oc_mtime",
    "propset_mtime",
    "has_ocmd5",
    "has_ocsha1",
    "has_mesha1",
];
/// Options accepted and not needed here: the pacer's pause is the one every HTTP remote of
/// ftpvfs uses (100 ms doubling to 2 s).
const IGNORED: [&str; 3] = ["type", "description", "pacer_min_sleep"];

/// rclone's `setQuirks` table.
fn vendor_quirks(vendor: Vendor) -> Quirks {
    let q = Quirks::default();
    match vendor {
        Vendor::Fastmail => Quirks { can_stream: true, use_oc_mtime: true, has_me_sha1: true, ..q },
        Vendor::Owncloud => Quirks {
            can_stream: true,
            use_oc_mtime: true,
            propset_mtime: true,
            has_oc_md5: true,
            has_oc_sha1: true,
            atomic_put: true,
            ..q
        },
        Vendor::InfiniteScale => {
            Quirks { use_oc_mtime: true, propset_mtime: true, has_oc_sha1: true, atomic_put: true, ..q }
        }
        Vendor::Nextcloud => Quirks {
            use_oc_mtime: true,
            propset_mtime: true,
            has_oc_sha1: true,
            can_chunk: true,
            atomic_put: true,
            ..q
        },
        Vendor::Rclone => Quirks { can_stream: true, use_oc_mtime: true, ..q },
        Vendor::Other => q,
    }
}

impl WebdavOptions {
    /// Reads the options of a webdav remote; `root` is the path after `remote:`.
    ///
    /// # Errors
    /// A message naming the option that is missing, malformed or not supported.
    pub fn from_map(opts: &BTreeMap<String, String>, root: &str) -> Result<WebdavOptions, String> {
        let get = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let flag = |k: &str| crate::remote::bool_option("webdav", k, get(k));
        let tristate = |k: &str| get(k).map(|_| flag(k)).transpose();
        for key in opts.keys() {
            if !KNOWN.contains(&key.as_str()) && !IGNORED.contains(&key.as_str()) {
                log::warn!("webdav option {key} is unknown and ignored");
            }
        }
        let vendor = match get("vendor").unwrap_or("other") {
            "other" => Vendor::Other,
            "rclone" => Vendor::Rclone,
            "owncloud" => Vendor::Owncloud,
            "nextcloud" => Vendor::Nextcloud,
            "infinitescale" => Vendor::InfiniteScale,
            "fastmail" => Vendor::Fastmail,
            v @ ("sharepoint" | "sharepoint-ntlm") => {
                return Err(format!(
                    "webdav vendor {v} is not supported yet (it needs Microsoft's cookie or NTLM sign-in)"
                ))
            }
            v => {
                log::warn!("webdav: unknown vendor {v:?}: using the quirks of vendor other");
                Vendor::Other
            }
        };
        for key in ["unix_socket", "encoding"] {
            if get(key).is_some() {
                return Err(format!("webdav option {key} is not supported yet"));
            }
        }
        if flag("auth_redirect")? {
            return Err("webdav option auth_redirect is not supported yet: ftpvfs follows no redirects".into());
        }
        if tristate("can_tus")? == Some(true) {
            return Err("webdav option can_tus is not supported yet: uploads use PUT".into());
        }
        let text = get("url").ok_or("a webdav remote needs url= (the address of the WebDAV server)")?;
        let mut url = Url::parse(text)
            .ok_or_else(|| format!("webdav option url: {text:?} is not an http:// or https:// address"))?;
        if !url.path.ends_with('/') {
            url.path.push('/');
        }
        url.query = None;
        let pass = match get("pass") {
            None => String::new(),
            Some(p) => reveal(p).map_err(|e| {
                format!("webdav option pass: {e} (passwords must be obscured: ftpvfs obscure PASSWORD)")
            })?,
        };
        let user = get("user").unwrap_or("").to_string();
        let basic_auth = if !user.is_empty() || !pass.is_empty() {
            Some((user, pass))
        } else {
            settings::user_info("webdav", text)?
        };
        let chunk_size = match get("nextcloud_chunk_size") {
            None => 10 << 20,
            Some(v) => match parse_size(v) {
                Ok(Some(n)) => n,
                Ok(None) => 0,
                Err(e) => return Err(format!("webdav option nextcloud_chunk_size: {e}")),
            },
        };
        let mut quirks = vendor_quirks(vendor);
        let overrides: [(&str, &mut bool); 7] = [
            ("can_stream", &mut quirks.can_stream),
            ("can_chunk", &mut quirks.can_chunk),
            ("use_oc_mtime", &mut quirks.use_oc_mtime),
            ("propset_mtime", &mut quirks.propset_mtime),
            ("has_ocmd5", &mut quirks.has_oc_md5),
            ("has_ocsha1", &mut quirks.has_oc_sha1),
            ("has_mesha1", &mut quirks.has_me_sha1),
        ];
        for (key, quirk) in overrides {
            if let Some(v) = tristate(key)? {
                *quirk = v;
            }
        }
        if quirks.can_chunk && chunk_size > 0 && !url.path.contains("/dav/files/") {
            return Err("webdav: nextcloud chunked uploads need the /dav/files/USER endpoint as url, not \
                        /webdav (or set nextcloud_chunk_size = 0)"
                .into());
        }
        Ok(WebdavOptions {
            url,
            vendor,
            basic_auth,
            bearer_token: get("bearer_token").map(str::to_string),
            bearer_token_command: get("bearer_token_command").map(crate::remote::split_quoted).unwrap_or_default(),
            headers: settings::header_list("webdav", get("headers").unwrap_or(""))?,
            chunk_size,
            exclude_shares: flag("owncloud_exclude_shares")?,
            exclude_mounts: flag("owncloud_exclude_mounts")?,
            quirks,
            root: root.trim_matches('/').to_string(),
            net: NetOptions::default(),
        })
    }

    /// Where Nextcloud takes the chunks of an upload: `…/dav/uploads/USER/` for a URL
    /// `…/dav/files/USER/…` (rclone's `getChunksUploadURL`).
    pub fn chunks_url(&self) -> Option<Url> {
        let (base, rest) = self.url.path.split_once("/dav/files/")?;
        let user = rest.split('/').next().filter(|u| !u.is_empty())?;
        Some(Url { path: format!("{base}/dav/uploads/{user}/"), ..self.url.clone() })
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
    fn vendors_set_rclones_quirks_and_keys_override_them() {
        let o = WebdavOptions::from_map(&map(&[("url", "http://h/dav")]), "/a/b/").unwrap();
        assert_eq!((o.vendor, o.quirks, o.chunk_size), (Vendor::Other, Quirks::default(), 10 << 20));
        assert_eq!((o.url.text().as_str(), o.root.as_str()), ("http://h/dav/", "a/b"));
        let o = WebdavOptions::from_map(&map(&[("url", "http://h/"), ("vendor", "rclone")]), "").unwrap();
        assert!(o.quirks.can_stream && o.quirks.use_oc_mtime && !o.quirks.propset_mtime);
        let o = WebdavOptions::from_map(
            &map(&[("url", "http://h/"), ("vendor", "rclone"), ("propset_mtime", "true"), ("can_stream", "false")]),
            "",
        )
        .unwrap();
        assert!(o.quirks.propset_mtime && !o.quirks.can_stream);
        let o = WebdavOptions::from_map(
            &map(&[("url", "https://n.example/remote.php/dav/files/ann/"), ("vendor", "nextcloud")]),
            "",
        )
        .unwrap();
        assert!(o.quirks.can_chunk && o.quirks.atomic_put && !o.quirks.can_stream);
        assert_eq!(o.chunks_url().unwrap().text(), "https://n.example/remote.php/dav/uploads/ann/");
    }

    #[test]
    fn credentials_are_revealed_and_kept_out_of_logs() {
        let pass = crate::remote::obscure::obscure("s3cret").unwrap();
        let o = WebdavOptions::from_map(&map(&[("url", "http://h/"), ("user", "ann"), ("pass", &pass)]), "").unwrap();
        assert_eq!(o.basic_auth, Some(("ann".into(), "s3cret".into())));
        assert!(!format!("{o:?}").contains("s3cret"));
        let o = WebdavOptions::from_map(&map(&[("url", "http://bo:pw@h/")]), "").unwrap();
        assert_eq!(o.basic_auth, Some(("bo".into(), "pw".into())));
    }

    #[test]
    fn what_cannot_work_is_refused_by_name() {
        let err = |pairs: &[(&str, &str)]| WebdavOptions::from_map(&map(pairs), "").unwrap_err();
        assert!(err(&[]).contains("url"));
        assert!(err(&[("url", "http://h/"), ("vendor", "sharepoint-ntlm")]).contains("not supported yet"));
        assert!(err(&[("url", "http://h/"), ("unix_socket", "/s")]).contains("not supported yet"));
        assert!(err(&[("url", "http://h/"), ("can_tus", "true")]).contains("can_tus"));
        assert!(err(&[("url", "http://h/"), ("auth_redirect", "true")]).contains("auth_redirect"));
        assert!(err(&[("url", "http://h/"), ("pass", "plain")]).contains("obscured"));
        assert!(err(&[("url", "http://h/remote.php/webdav/"), ("vendor", "nextcloud")]).contains("/dav/files/"));
        assert!(WebdavOptions::from_map(
            &map(&[("url", "http://h/remote.php/webdav/"), ("vendor", "nextcloud"), ("nextcloud_chunk_size", "0")]),
            ""
        )
        .is_ok());
    }
}
