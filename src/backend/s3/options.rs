//! `S3Options`: the s3 remote's settings with rclone's keys and defaults, and the provider
//! quirks rclone applies (`backend/s3/provider/*.yaml`, `setQuirks`): which addressing style,
//! listing version and URL encoding a provider gets when the user does not say.

use std::collections::BTreeMap;

use crate::backend::name_encoding::NameEncoding;
use crate::backend::net::NetOptions;
use crate::cli::units::parse_size;

/// How to reach and use an S3 store.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Options {
    /// `provider` as given (`AWS`, `Minio`, `Ceph`, `Cloudflare`, `Wasabi`, `Rclone`, `Other`...).
    pub provider: String,
    /// `env_auth`: find credentials in the environment, files and metadata services.
    pub env_auth: bool,
    /// `access_key_id`.
    pub access_key_id: String,
    /// `secret_access_key`.
    pub secret_access_key: String,
    /// `session_token`.
    pub session_token: String,
    /// `region`, default `us-east-1`.
    pub region: String,
    /// `endpoint` with a scheme (`https://` added when missing); empty for AWS.
    pub endpoint: String,
    /// `location_constraint`, sent when a bucket is created.
    pub location_constraint: String,
    /// Path-style addressing (`force_path_style`, after the provider's rule).
    pub path_style: bool,
    /// `acl` (`X-Amz-Acl` on uploads and copies; empty: none sent).
    pub acl: String,
    /// `bucket_acl`, default `acl`.
    pub bucket_acl: String,
    /// `storage_class`.
    pub storage_class: String,
    /// `server_side_encryption` (`AES256`, `aws:kms`).
    pub server_side_encryption: String,
    /// `sse_kms_key_id`.
    pub sse_kms_key_id: String,
    /// `upload_cutoff` (200 MiB): known sizes at or above it are multipart.
    pub upload_cutoff: u64,
    /// `chunk_size` (5 MiB): the part size.
    pub chunk_size: u64,
    /// `max_upload_parts` (10000).
    pub max_upload_parts: u64,
    /// `upload_concurrency` (4): parts in flight per upload.
    pub upload_concurrency: usize,
    /// `copy_cutoff` (4768 MiB): copies at or above it are multipart copies.
    pub copy_cutoff: u64,
    /// `disable_checksum`: no MD5 before uploads, no `md5chksum` metadata.
    pub disable_checksum: bool,
    /// `no_check_bucket`: never create the bucket before writing.
    pub no_check_bucket: bool,
    /// `no_head`: do not HEAD an object after uploading it.
    pub no_head: bool,
    /// `list_chunk` (1000): keys per listing request.
    pub list_chunk: u32,
    /// `list_version` after the quirk: 1 or 2.
    pub list_version: u8,
    /// `list_url_encode` after the quirk.
    pub list_url_encode: bool,
    /// `directory_markers`: MKD stores a `dir/` object so empty directories persist.
    pub directory_markers: bool,
    /// `use_multipart_uploads` after the quirk (false: every upload is one PUT).
    pub use_multipart_uploads: bool,
    /// `use_multipart_etag` after the quirk: check the `md5-of-md5s-N` ETag.
    pub use_multipart_etag: bool,
    /// `use_unsigned_payload` after the quirk: sign bodies as `UNSIGNED-PAYLOAD`.
    pub use_unsigned_payload: bool,
    /// `shared_credentials_file` for `env_auth`.
    pub shared_credentials_file: String,
    /// `profile` for `env_auth`.
    pub profile: String,
    /// `no_check_certificate` (an ftpvfs extension for test stores with their own CA; rclone
    /// has the global `--no-check-certificate`).
    pub no_check_certificate: bool,
    /// `bucket/dir` after `remote:`.
    pub root: String,
    /// rclone's global network flags.
    pub net: NetOptions,
    /// `--use-server-modtime` or `--no-modtime`: take times from listings, never HEAD for them.
    pub server_modtime: bool,
    /// `encoding`: how names are kept in keys (rclone's default: `Slash,InvalidUtf8,Dot`).
    pub encoding: NameEncoding,
}

impl std::fmt::Debug for S3Options {
    /// Everything but the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("provider", &self.provider)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Keys rclone's s3 backend has that this one refuses rather than silently ignoring them.
const UNSUPPORTED: [&str; 12] = [
    "v2_auth",
    "sse_customer_algorithm",
    "sse_customer_key",
    "sse_customer_key_base64",
    "sse_customer_key_md5",
    "role_arn",
    "versions",
    "version_at",
    "download_url",
    "requester_pays",
    "sts_endpoint",
    "use_accelerate_endpoint",
];

/// Accepted and not needed here.
const IGNORED: [&str; 6] =
    ["type", "description", "memory_pool_flush_time", "memory_pool_use_mmap", "no_head_object", "leave_parts_on_error"];

/// Every key this backend reads (also what `RCLONE_S3_<KEY>` may set).
pub const KNOWN: [&str; 36] = [
    "provider",
    "encoding",
    "env_auth",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "region",
    "endpoint",
    "location_constraint",
    "force_path_style",
    "acl",
    "bucket_acl",
    "storage_class",
    "server_side_encryption",
    "sse_kms_key_id",
    "upload_cutoff",
    "chunk_size",
    "max_upload_parts",
    "upload_concurrency",
    "copy_cutoff",
    "disable_checksum",
    "no_check_bucket",
    "no_head",
    "list_chunk",
    "list_version",
    "list_url_encode",
    "directory_markers",
    "use_multipart_uploads",
    "use_multipart_etag",
    "use_unsigned_payload",
    "shared_credentials_file",
    "profile",
    "no_check_certificate",
    "use_already_exists",
    "might_gzip",
    "use_dual_stack",
];

/// A provider's defaults where rclone's YAML sets a quirk.
struct Quirks {
    path_style_allowed: bool,
    list_version: u8,
    list_url_encode: bool,
    use_multipart_etag: bool,
    use_unsigned_payload: bool,
    copy_cutoff: Option<u64>,
}

fn quirks(provider: &str) -> Quirks {
    let base = Quirks {
        path_style_allowed: true,
        list_version: 2,
        list_url_encode: true,
        use_multipart_etag: true,
        use_unsigned_payload: true,
        copy_cutoff: None,
    };
    match provider.to_ascii_lowercase().as_str() {
        "aws" => Quirks { path_style_allowed: false, use_unsigned_payload: false, ..base },
        "wasabi" => Quirks { path_style_allowed: false, ..base },
        "ceph" => Quirks { list_version: 1, list_url_encode: false, ..base },
        "cloudflare" => Quirks { use_multipart_etag: false, ..base },
        "rclone" => Quirks { use_multipart_etag: false, copy_cutoff: Some(u64::MAX), ..base },
        "minio" => base,
        // Other, and every provider without its own quirks file here.
        _ => Quirks { list_version: 1, list_url_encode: false, use_multipart_etag: false, ..base },
    }
}

/// The largest part S3 accepts.
const MAX_PART: u64 = 5 << 30;

impl S3Options {
    /// Reads the options of an s3 remote; `root` is the path after `remote:`.
    ///
    /// # Errors
    /// A message naming the option that is missing, malformed or not supported.
    pub fn from_map(opts: &BTreeMap<String, String>, root: &str) -> Result<S3Options, String> {
        let get = |k: &str| opts.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let flag = |k: &str| -> Result<Option<bool>, String> {
            match get(k).map(str::to_ascii_lowercase).as_deref() {
                None => Ok(None),
                Some("false" | "0" | "no") => Ok(Some(false)),
                Some("true" | "1" | "yes") => Ok(Some(true)),
                Some(v) => Err(format!("s3 option {k}: {v:?} is not true or false")),
            }
        };
        let size = |k: &str, default: u64| -> Result<u64, String> {
            match get(k) {
                None => Ok(default),
                Some(v) => match parse_size(v) {
                    Ok(Some(n)) => Ok(n),
                    Ok(None) => Ok(u64::MAX),
                    Err(e) => Err(format!("s3 option {k}: {e}")),
                },
            }
        };
        let int = |k: &str, default: u64| -> Result<u64, String> {
            get(k)
                .map_or(Ok(default), |v| v.parse::<u64>().map_err(|_| format!("s3 option {k}: {v:?} is not a number")))
        };
        for key in opts.keys() {
            if UNSUPPORTED.contains(&key.as_str()) && get(key).is_some_and(|v| v != "false") {
                return Err(format!("s3 option {key} is not supported yet"));
            }
            if !KNOWN.contains(&key.as_str())
                && !IGNORED.contains(&key.as_str())
                && !UNSUPPORTED.contains(&key.as_str())
            {
                log::warn!("s3 option {key} is unknown and ignored");
            }
        }
        let provider = get("provider").unwrap_or("").to_string();
        if provider.is_empty() {
            log::info!("s3: no provider given: using the quirks of provider Other");
        }
        let q = quirks(&provider);
        let access_key_id = get("access_key_id").unwrap_or("").to_string();
        let secret_access_key = get("secret_access_key").unwrap_or("").to_string();
        match (access_key_id.is_empty(), secret_access_key.is_empty()) {
            (false, true) => return Err("s3: access_key_id is set but secret_access_key not found".into()),
            (true, false) => return Err("s3: secret_access_key is set but access_key_id not found".into()),
            _ => {}
        }
        let endpoint = match get("endpoint") {
            None => String::new(),
            Some(e) if e.contains("://") => e.trim_end_matches('/').to_string(),
            Some(e) => format!("https://{}", e.trim_end_matches('/')),
        };
        // rclone: a provider without a path-style quirk is always virtual-host style, whatever
        // force_path_style says; the others keep the user's choice (default true).
        let path_style = q.path_style_allowed && flag("force_path_style")?.unwrap_or(true);
        let chunk_size = size("chunk_size", 5 << 20)?;
        if !(5 << 20..=MAX_PART).contains(&chunk_size) {
            return Err(format!("s3 option chunk_size: {chunk_size} is outside 5Mi..5Gi"));
        }
        let upload_cutoff = size("upload_cutoff", 200 << 20)?;
        if upload_cutoff > MAX_PART {
            return Err("s3 option upload_cutoff: at most 5Gi".into());
        }
        let list_version = match int("list_version", 0)? {
            0 => q.list_version,
            1 => 1,
            2 => 2,
            v => return Err(format!("s3 option list_version: {v} (0, 1 or 2)")),
        };
        let list_chunk = int("list_chunk", 1000)?;
        if !(1..=1000).contains(&list_chunk) {
            return Err(format!("s3 option list_chunk: {list_chunk} (1 to 1000)"));
        }
        let upload_concurrency = int("upload_concurrency", 4)?.clamp(1, 64) as usize;
        let max_upload_parts = int("max_upload_parts", 10_000)?.clamp(1, 10_000);
        let use_multipart_uploads = flag("use_multipart_uploads")?.unwrap_or(true);
        let acl = get("acl").unwrap_or("").to_string();
        Ok(S3Options {
            env_auth: flag("env_auth")?.unwrap_or(false),
            access_key_id,
            secret_access_key,
            session_token: get("session_token").unwrap_or("").to_string(),
            region: get("region").unwrap_or("us-east-1").to_string(),
            endpoint,
            location_constraint: get("location_constraint").unwrap_or("").to_string(),
            path_style,
            bucket_acl: get("bucket_acl").map_or_else(|| acl.clone(), str::to_string),
            acl,
            storage_class: get("storage_class").unwrap_or("").to_string(),
            server_side_encryption: get("server_side_encryption").unwrap_or("").to_string(),
            sse_kms_key_id: get("sse_kms_key_id").unwrap_or("").to_string(),
            upload_cutoff: if use_multipart_uploads { upload_cutoff } else { u64::MAX },
            chunk_size,
            max_upload_parts,
            upload_concurrency,
            copy_cutoff: q.copy_cutoff.unwrap_or(size("copy_cutoff", 4768 << 20)?).clamp(5 << 20, u64::MAX),
            disable_checksum: flag("disable_checksum")?.unwrap_or(false),
            no_check_bucket: flag("no_check_bucket")?.unwrap_or(false),
            no_head: flag("no_head")?.unwrap_or(false),
            list_chunk: list_chunk as u32,
            list_version,
            list_url_encode: flag("list_url_encode")?.unwrap_or(q.list_url_encode),
            directory_markers: flag("directory_markers")?.unwrap_or(false),
            use_multipart_uploads,
            use_multipart_etag: flag("use_multipart_etag")?.unwrap_or(q.use_multipart_etag),
            use_unsigned_payload: flag("use_unsigned_payload")?.unwrap_or(q.use_unsigned_payload),
            shared_credentials_file: get("shared_credentials_file").unwrap_or("").to_string(),
            profile: get("profile").unwrap_or("").to_string(),
            no_check_certificate: flag("no_check_certificate")?.unwrap_or(false),
            provider,
            root: root.trim_matches('/').to_string(),
            net: NetOptions::default(),
            server_modtime: false,
            encoding: get("encoding")
                .map_or(Ok(NameEncoding::S3), NameEncoding::parse)
                .map_err(|e| format!("s3 option encoding: {e}"))?,
        })
    }

    /// The part size for an upload of `size` bytes (`None`: unknown), as rclone's
    /// `chunksize.Calculator`: the chunk size, unless that needs more than `max_upload_parts`
    /// parts; then the size over the part count, rounded up to a whole MiB.
    pub fn part_size(&self, size: Option<u64>) -> u64 {
        let Some(size) = size else { return self.chunk_size };
        if size.div_ceil(self.chunk_size) <= self.max_upload_parts {
            return self.chunk_size;
        }
        let per_part = size.div_ceil(self.max_upload_parts);
        let mib = 1 << 20;
        (per_part.div_ceil(mib) * mib).min(MAX_PART)
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
    fn defaults_are_rclones() {
        let o = S3Options::from_map(&map(&[("provider", "Minio"), ("endpoint", "127.0.0.1:9000")]), "/b/dir/").unwrap();
        assert_eq!(o.endpoint, "https://127.0.0.1:9000");
        assert_eq!((o.region.as_str(), o.root.as_str()), ("us-east-1", "b/dir"));
        assert_eq!((o.upload_cutoff, o.chunk_size, o.upload_concurrency), (200 << 20, 5 << 20, 4));
        assert_eq!((o.list_chunk, o.list_version, o.list_url_encode, o.path_style), (1000, 2, true, true));
        assert_eq!(o.copy_cutoff, 4768 << 20);
        assert!(!o.env_auth && !o.directory_markers && o.use_multipart_etag);
    }

    #[test]
    fn provider_quirks_apply_as_in_rclone() {
        let aws = S3Options::from_map(&map(&[("provider", "AWS"), ("force_path_style", "true")]), "").unwrap();
        assert!(!aws.path_style, "AWS is virtual-host style even with force_path_style");
        assert!(!aws.use_unsigned_payload);
        let ceph = S3Options::from_map(&map(&[("provider", "Ceph")]), "").unwrap();
        assert_eq!((ceph.list_version, ceph.list_url_encode), (1, false));
        let other = S3Options::from_map(&map(&[("provider", "Other"), ("list_version", "2")]), "").unwrap();
        assert_eq!((other.list_version, other.use_multipart_etag), (2, false));
        let rclone = S3Options::from_map(&map(&[("provider", "Rclone"), ("force_path_style", "false")]), "").unwrap();
        assert_eq!((rclone.copy_cutoff, rclone.path_style), (u64::MAX, false));
    }

    #[test]
    fn part_sizes_grow_so_that_the_part_limit_suffices() {
        let o = S3Options::from_map(&map(&[]), "").unwrap();
        assert_eq!(o.part_size(None), 5 << 20);
        assert_eq!(o.part_size(Some(1 << 30)), 5 << 20);
        assert_eq!(o.part_size(Some(10_000 * (5 << 20))), 5 << 20);
        assert_eq!(o.part_size(Some(10_000 * (5 << 20) + 1)), 6 << 20);
        let big = 1u64 << 40;
        assert!(big.div_ceil(o.part_size(Some(big))) <= 10_000);
    }

    #[test]
    fn bad_options_are_named() {
        let err = |pairs: &[(&str, &str)]| S3Options::from_map(&map(pairs), "").unwrap_err();
        assert!(err(&[("access_key_id", "a")]).contains("secret_access_key"));
        assert!(err(&[("chunk_size", "1M")]).contains("chunk_size"));
        assert!(err(&[("list_version", "3")]).contains("list_version"));
        assert!(err(&[("v2_auth", "true")]).contains("not supported"));
        assert!(err(&[("env_auth", "maybe")]).contains("env_auth"));
    }
}
