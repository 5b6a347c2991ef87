//! `FtpOptions`: the ftp backend's settings, read from a remote's options (config file,
//! environment, connection string) with rclone's names and defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::name_encoding::NameEncoding;
use crate::cli::units::parse_duration;
use crate::remote::obscure::reveal;

/// How to reach and use an FTP server.
#[derive(Clone, PartialEq, Eq)]
pub struct FtpOptions {
    /// `host`: name or address of the server (required).
    pub host: String,
    /// `port`, default 21.
    pub port: u16,
    /// `user`, default the `USER` of the environment, else `anonymous`.
    pub user: String,
    /// `pass`, revealed (config files hold it obscured).
    pub pass: String,
    /// `tls`: implicit TLS (the connection starts with a handshake).
    pub implicit_tls: bool,
    /// `explicit_tls`: `AUTH TLS` after the greeting.
    pub explicit_tls: bool,
    /// `no_check_certificate`: accept any server certificate.
    pub no_check_certificate: bool,
    /// `disable_tls13`: offer TLS 1.2 only (for servers with buggy TLS 1.3).
    pub disable_tls13: bool,
    /// `concurrency`: most connections open at once (0: no limit).
    pub concurrency: usize,
    /// `disable_epsv`: use PASV only.
    pub disable_epsv: bool,
    /// `disable_mlsd`: list with LIST even if the server has MLSD.
    pub disable_mlsd: bool,
    /// `disable_utf8`: do not send `OPTS UTF8 ON`.
    pub disable_utf8: bool,
    /// `force_list_hidden`: `LIST -a`, for servers that hide dot files.
    pub force_list_hidden: bool,
    /// `writing_mdtm`: set times with `MDTM time path` when the server lacks MFMT.
    pub writing_mdtm: bool,
    /// `idle_timeout`: idle pooled connections are closed after this (0: kept).
    pub idle_timeout: Duration,
    /// `close_timeout`: how long to wait for a reply when a transfer ends.
    pub close_timeout: Duration,
    /// `encoding`: how names are kept on the server (rclone's default:
    /// `Slash,Del,Ctl,RightSpace,Dot`).
    pub encoding: NameEncoding,
    /// The directory served: relative to the login directory unless it starts with `/`.
    pub root: String,
}

impl std::fmt::Debug for FtpOptions {
    /// Everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FtpOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("implicit_tls", &self.implicit_tls)
            .field("explicit_tls", &self.explicit_tls)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Options rclone's ftp backend has that this one refuses rather than silently ignores.
const UNSUPPORTED: [&str; 3] = ["socks_proxy", "ask_password", "http_proxy"];
/// Options accepted and not needed here (rclone tuning with no equivalent, or comments).
const IGNORED: [&str; 5] = ["type", "description", "tls_cache_size", "shut_timeout", "allow_insecure_tls_ciphers"];

impl FtpOptions {
    /// Reads the options of an ftp remote; `root` is the path after `remote:`.
    ///
    /// # Errors
    /// A message naming the option that is missing, malformed or not supported.
    pub fn from_map(opts: &BTreeMap<String, String>, root: &str) -> Result<FtpOptions, String> {
        let get = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let flag = |k: &str| crate::remote::bool_option("ftp", k, get(k));
        let duration = |k: &str, default: Duration| -> Result<Duration, String> {
            get(k).map_or(Ok(default), |v| parse_duration(v).map_err(|e| format!("ftp option {k}: {e}")))
        };
        for key in opts.keys() {
            if UNSUPPORTED.contains(&key.as_str()) && get(key).is_some() {
                return Err(format!("ftp option {key} is not supported yet"));
            }
            if !KNOWN.contains(&key.as_str()) && !IGNORED.contains(&key.as_str()) {
                log::warn!("ftp option {key} is unknown and ignored");
            }
        }
        let host = get("host").ok_or("an ftp remote needs host= (the server's name or address)")?.to_string();
        let port = get("port").map_or(Ok(21), |p| p.parse::<u16>().map_err(|_| format!("ftp option port: {p:?}")))?;
        let user = get("user")
            .map(str::to_string)
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "anonymous".into());
        let pass = match get("pass") {
            None => String::new(),
            Some(p) => reveal(p)
                .map_err(|e| format!("ftp option pass: {e} (passwords must be obscured: ftpvfs obscure PASSWORD)"))?,
        };
        let implicit_tls = flag("tls")?;
        let explicit_tls = flag("explicit_tls")?;
        if implicit_tls && explicit_tls {
            return Err("ftp options tls and explicit_tls cannot both be set".into());
        }
        let concurrency = get("concurrency")
            .map_or(Ok(0), |c| c.parse::<usize>().map_err(|_| format!("ftp option concurrency: {c:?}")))?;
        Ok(FtpOptions {
            host,
            port,
            user,
            pass,
            implicit_tls,
            explicit_tls,
            no_check_certificate: flag("no_check_certificate")?,
            disable_tls13: flag("disable_tls13")?,
            concurrency,
            disable_epsv: flag("disable_epsv")?,
            disable_mlsd: flag("disable_mlsd")?,
            disable_utf8: flag("disable_utf8")?,
            force_list_hidden: flag("force_list_hidden")?,
            writing_mdtm: flag("writing_mdtm")?,
            idle_timeout: duration("idle_timeout", Duration::from_secs(60))?,
            close_timeout: duration("close_timeout", Duration::from_secs(60))?,
            encoding: get("encoding")
                .map_or(Ok(NameEncoding::FTP), NameEncoding::parse)
                .map_err(|e| format!("ftp option encoding: {e}"))?,
            root: root.to_string(),
        })
    }

    /// Whether the connections use TLS.
    pub fn tls(&self) -> bool {
        self.implicit_tls || self.explicit_tls
    }
}

/// Every option of rclone's ftp backend this one reads (also what `RCLONE_FTP_<KEY>` may set).
pub const KNOWN: [&str; 18] = [
    "host",
    "port",
    "user",
    "pass",
    "tls",
    "explicit_tls",
    "no_check_certificate",
    "disable_tls13",
    "concurrency",
    "disable_epsv",
    "disable_mlsd",
    "disable_utf8",
    "force_list_hidden",
    "writing_mdtm",
    "idle_timeout",
    "close_timeout",
    "socks_proxy",
    "encoding",
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn defaults_and_values() {
        let o = FtpOptions::from_map(&map(&[("host", "h"), ("user", "u")]), "dir").unwrap();
        assert_eq!((o.port, o.concurrency, o.tls(), o.root.as_str()), (21, 0, false, "dir"));
        assert_eq!(o.idle_timeout, Duration::from_secs(60));
        let pass = crate::remote::obscure::obscure("s3cret").unwrap();
        let o = FtpOptions::from_map(
            &map(&[("host", "h"), ("pass", &pass), ("explicit_tls", "true"), ("port", "2121"), ("concurrency", "3")]),
            "",
        )
        .unwrap();
        assert_eq!((o.pass.as_str(), o.explicit_tls, o.port, o.concurrency), ("s3cret", true, 2121, 3));
    }

    #[test]
    fn bad_options_are_named() {
        let err = |pairs: &[(&str, &str)]| FtpOptions::from_map(&map(pairs), "").unwrap_err();
        assert!(err(&[]).contains("host"));
        assert!(err(&[("host", "h"), ("port", "x")]).contains("port"));
        assert!(err(&[("host", "h"), ("tls", "true"), ("explicit_tls", "true")]).contains("both"));
        assert!(err(&[("host", "h"), ("pass", "plain")]).contains("obscure"));
        assert!(err(&[("host", "h"), ("socks_proxy", "x:1")]).contains("not supported"));
        assert!(err(&[("host", "h"), ("tls", "maybe")]).contains("tls"));
        assert!(err(&[("host", "h"), ("encoding", "Slash,Sideways")]).contains("encoding"));
    }
}
