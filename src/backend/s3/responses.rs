//! The S3 answers ftpvfs reads, parsed from the bounded XML tree: object listings (v1 and v2,
//! with or without `encoding-type=url`), the bucket list, a new multipart upload's id, the
//! result of a copy or a completed upload, and error bodies. Every parser takes any bytes and
//! gives a value or a message, never a panic (`fuzz/fuzz_targets/s3_response.rs`).

use std::time::SystemTime;

use crate::backend::net::http_time::parse_iso8601;
use crate::backend::net::xml::{self, Element};

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The whole key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// Its ETag, quotes removed.
    pub etag: String,
    /// `LastModified`.
    pub last_modified: SystemTime,
}

/// One page of `ListObjects` / `ListObjectsV2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// `CommonPrefixes/Prefix`: the directories (with their trailing `/`).
    pub prefixes: Vec<String>,
    /// `Contents`: the objects.
    pub objects: Vec<ListedObject>,
    /// `IsTruncated`.
    pub truncated: bool,
    /// v2: `NextContinuationToken`.
    pub next_token: Option<String>,
    /// v1: `NextMarker`, else the last key when truncated.
    pub next_marker: Option<String>,
}

/// An `<Error>` body: its `Code` and `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    /// `NoSuchKey`, `AccessDenied`, `SlowDown`...
    pub code: String,
    /// The server's words.
    pub message: String,
}

fn doc(bytes: &[u8]) -> Result<Element, String> {
    xml::parse(bytes).map_err(|e| e.to_string())
}

/// Form-decodes a value sent under `encoding-type=url` (`+` is a space).
fn url_decode(s: &str) -> Result<String, String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("a listed name is not UTF-8 once decoded: {s:?}"))
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// Parses a listing page; `url_encoded` when the request asked for `encoding-type=url` (the
/// answer's own `EncodingType` decides too).
///
/// # Errors
/// Malformed XML, a root that is not `ListBucketResult`, or a bad number or date.
pub fn parse_list(bytes: &[u8], url_encoded: bool) -> Result<ListPage, String> {
    let root = doc(bytes)?;
    if root.name != "ListBucketResult" {
        return Err(format!("expected ListBucketResult, got <{}>", root.name));
    }
    let encoded = url_encoded || root.child_text("EncodingType").is_some_and(|e| e.eq_ignore_ascii_case("url"));
    let name = |s: &str| if encoded { url_decode(s) } else { Ok(s.to_string()) };
    let mut page = ListPage {
        truncated: root.child_text("IsTruncated").is_some_and(|t| t.trim().eq_ignore_ascii_case("true")),
        next_token: root.child_text("NextContinuationToken").map(str::to_string).filter(|t| !t.is_empty()),
        ..Default::default()
    };
    for p in root.children_named("CommonPrefixes") {
        if let Some(prefix) = p.child_text("Prefix") {
            page.prefixes.push(name(prefix)?);
        }
    }
    for c in root.children_named("Contents") {
        let key = name(c.child_text("Key").ok_or("an object without a Key")?)?;
        let size = c.child_text("Size").unwrap_or("0").trim();
        let size = size.parse().map_err(|_| format!("object {key:?}: bad Size {size:?}"))?;
        let last_modified = c.child_text("LastModified").and_then(parse_iso8601).unwrap_or(SystemTime::UNIX_EPOCH);
        page.objects.push(ListedObject { key, size, etag: unquote(c.child_text("ETag").unwrap_or("")), last_modified });
    }
    page.next_marker = match root.child_text("NextMarker").filter(|m| !m.is_empty()) {
        Some(m) => Some(name(m)?),
        None if page.truncated => page.objects.last().map(|o| o.key.clone()),
        None => None,
    };
    Ok(page)
}

/// Parses `ListAllMyBucketsResult` into bucket names and creation dates.
///
/// # Errors
/// Malformed XML or another root element.
pub fn parse_buckets(bytes: &[u8]) -> Result<Vec<(String, SystemTime)>, String> {
    let root = doc(bytes)?;
    if root.name != "ListAllMyBucketsResult" {
        return Err(format!("expected ListAllMyBucketsResult, got <{}>", root.name));
    }
    let Some(buckets) = root.child("Buckets") else { return Ok(Vec::new()) };
    Ok(buckets
        .children_named("Bucket")
        .filter_map(|b| {
            let name = b.child_text("Name")?.to_string();
            let created = b.child_text("CreationDate").and_then(parse_iso8601).unwrap_or(SystemTime::UNIX_EPOCH);
            Some((name, created))
        })
        .collect())
}

/// The `UploadId` of `InitiateMultipartUploadResult`.
///
/// # Errors
/// Malformed XML or no upload id.
pub fn parse_upload_id(bytes: &[u8]) -> Result<String, String> {
    let root = doc(bytes)?;
    root.child_text("UploadId")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("no UploadId in <{}>", root.name))
}

/// The outcome of a copy, a part copy or a completed multipart upload, which S3 may report as
/// an `<Error>` inside a 200: the new ETag, or the error.
///
/// # Errors
/// The error body, or a message for a malformed one.
pub fn parse_result_etag(bytes: &[u8]) -> Result<String, Result<ErrorBody, String>> {
    let root = doc(bytes).map_err(Err)?;
    if root.name == "Error" {
        return Err(Ok(error_from(&root)));
    }
    Ok(unquote(root.child_text("ETag").unwrap_or("")))
}

fn error_from(root: &Element) -> ErrorBody {
    ErrorBody {
        code: root.child_text("Code").unwrap_or("").trim().to_string(),
        message: root.child_text("Message").unwrap_or("").trim().to_string(),
    }
}

/// An `<Error>` body, if that is what `bytes` holds.
pub fn parse_error(bytes: &[u8]) -> Option<ErrorBody> {
    let root = xml::parse(bytes).ok()?;
    (root.name == "Error").then(|| error_from(&root))
}

/// Every parser on the same bytes, for the fuzz target: none may panic.
pub fn parse_all(bytes: &[u8]) {
    let _ = parse_list(bytes, false);
    let _ = parse_list(bytes, true);
    let _ = parse_buckets(bytes);
    let _ = parse_upload_id(bytes);
    let _ = parse_result_etag(bytes);
    let _ = parse_error(bytes);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_page_with_url_encoded_names() {
        let page = parse_list(
            br#"<ListBucketResult><Name>b</Name><Prefix>d%2F</Prefix><EncodingType>url</EncodingType>
            <IsTruncated>true</IsTruncated><NextContinuationToken>tok==</NextContinuationToken>
            <Contents><Key>d/a+b%C3%BC%2B.txt</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>
            <ETag>&quot;0123&quot;</ETag><Size>12</Size></Contents>
            <CommonPrefixes><Prefix>d/sub%20dir/</Prefix></CommonPrefixes></ListBucketResult>"#,
            true,
        )
        .unwrap();
        assert_eq!(page.objects[0].key, "d/a bü+.txt");
        assert_eq!((page.objects[0].size, page.objects[0].etag.as_str()), (12, "0123"));
        assert_eq!(page.prefixes, ["d/sub dir/"]);
        assert_eq!((page.truncated, page.next_token.as_deref()), (true, Some("tok==")));
        assert_eq!(page.next_marker.as_deref(), Some("d/a bü+.txt"), "v1 falls back to the last key");
    }

    #[test]
    fn errors_and_other_answers() {
        let e = parse_error(b"<Error><Code>NoSuchBucket</Code><Message>The bucket does not exist</Message></Error>");
        assert_eq!(e.unwrap().code, "NoSuchBucket");
        assert_eq!(
            parse_upload_id(b"<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>")
                .unwrap(),
            "u-1"
        );
        assert!(
            matches!(parse_result_etag(b"<Error><Code>InternalError</Code></Error>"), Err(Ok(e)) if e.code == "InternalError")
        );
        assert_eq!(parse_result_etag(b"<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>").unwrap(), "e");
        let buckets = parse_buckets(b"<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name><CreationDate>2020-01-01T00:00:00Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>").unwrap();
        assert_eq!(buckets[0].0, "a");
        assert!(parse_list(
            b"<ListBucketResult><Contents><Size>x</Size><Key>k</Key></Contents></ListBucketResult>",
            false
        )
        .is_err());
        assert!(parse_list(b"<Other/>", false).is_err());
        parse_all(b"\x00<<>");
    }
}
