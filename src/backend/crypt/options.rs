//! `CryptOptions`: the crypt remote's settings with rclone's keys and defaults.

use std::collections::BTreeMap;

use super::names::{Encoding, NameMode};
use crate::remote::obscure::reveal;

/// How a crypt remote encrypts.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptOptions {
    /// `remote`: the wrapped remote (`other:path`, a local path...).
    pub remote: String,
    /// `password`, revealed.
    pub password: String,
    /// `password2` (the salt), revealed; empty for rclone's default salt.
    pub password2: String,
    /// `filename_encryption` with `filename_encoding` and `suffix`.
    pub name_mode: NameMode,
    /// `directory_name_encryption` (true).
    pub directory_name_encryption: bool,
    /// `no_data_encryption`: names only.
    pub no_data_encryption: bool,
    /// `strict_names`: a listing with an undecryptable name fails.
    pub strict_names: bool,
    /// `pass_bad_blocks`: a block that fails authentication reads as zeros (logged).
    pub pass_bad_blocks: bool,
    /// The path after `remote:` (plaintext), inside the crypt remote.
    pub root: String,
}

impl std::fmt::Debug for CryptOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptOptions")
            .field("remote", &self.remote)
            .field("name_mode", &self.name_mode)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Every key this backend reads.
pub const KNOWN: [&str; 10] = [
    "remote",
    "password",
    "password2",
    "filename_encryption",
    "directory_name_encryption",
    "filename_encoding",
    "suffix",
    "no_data_encryption",
    "strict_names",
    "pass_bad_blocks",
];

const IGNORED: [&str; 4] = ["type", "description", "show_mapping", "server_side_across_configs"];

impl CryptOptions {
    /// Reads the options of a crypt remote named `name` (for the self-reference check).
    ///
    /// # Errors
    /// A missing remote or password, a password that is not obscured, an unknown mode.
    pub fn from_map(opts: &BTreeMap<String, String>, root: &str, name: Option<&str>) -> Result<CryptOptions, String> {
        let get = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let flag = |k: &str, default: bool| -> Result<bool, String> {
            match get(k).map(str::to_ascii_lowercase).as_deref() {
                None => Ok(default),
                Some("false" | "0" | "no") => Ok(false),
                Some("true" | "1" | "yes") => Ok(true),
                Some(v) => Err(format!("crypt option {k}: {v:?} is not true or false")),
            }
        };
        for key in opts.keys() {
            if !KNOWN.contains(&key.as_str()) && !IGNORED.contains(&key.as_str()) {
                log::warn!("crypt option {key} is unknown and ignored");
            }
        }
        let remote = get("remote").ok_or("a crypt remote needs remote= (the remote that holds the encrypted files)")?;
        if let Some(n) = name {
            if remote == format!("{n}:") || remote.starts_with(&format!("{n}:")) {
                return Err("can't point crypt remote at itself - check the value of the remote setting".into());
            }
        }
        let password = reveal(get("password").ok_or("password not set in config file")?)
            .map_err(|e| format!("failed to decrypt password: {e}"))?;
        let password2 = match get("password2") {
            None => String::new(),
            Some(p) => reveal(p).map_err(|e| format!("failed to decrypt password2: {e}"))?,
        };
        let encoding = match get("filename_encoding").map(str::to_ascii_lowercase).as_deref() {
            None | Some("base32") => Encoding::Base32,
            Some("base64") => Encoding::Base64,
            Some("base32768") => Encoding::Base32768,
            Some(v) => return Err(format!("crypt option filename_encoding: unknown encoding {v:?}")),
        };
        let name_mode = match get("filename_encryption").map(str::to_ascii_lowercase).as_deref() {
            None | Some("standard") => NameMode::Standard(encoding),
            Some("obfuscate") => NameMode::Obfuscate,
            Some("off") => {
                let suffix = match get("suffix") {
                    None => ".bin".to_string(),
                    Some("none") => String::new(),
                    Some(s) if s.starts_with('.') => s.to_string(),
                    Some(s) => {
                        log::error!("crypt option suffix {s:?} has no leading dot: using .{s}");
                        format!(".{s}")
                    }
                };
                NameMode::Off(suffix)
            }
            Some(v) => return Err(format!("unknown file name encryption mode {v:?}")),
        };
        Ok(CryptOptions {
            remote: remote.to_string(),
            password,
            password2,
            name_mode,
            directory_name_encryption: flag("directory_name_encryption", true)?,
            no_data_encryption: flag("no_data_encryption", false)?,
            strict_names: flag("strict_names", false)?,
            pass_bad_blocks: flag("pass_bad_blocks", false)?,
            root: root.trim_matches('/').to_string(),
        })
    }
}
