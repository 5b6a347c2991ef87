//! AWS Signature Version 4 for S3, header form (`Authorization: AWS4-HMAC-SHA256 ...`), written
//! on the `hmac` and `sha2` crates and checked against AWS's published examples.
//!
//! Canonical request: method, URI (each path segment percent-encoded once, `/` kept), query
//! (sorted, RFC 3986-encoded), the signed headers (lower-case, trimmed, sorted) and the payload
//! hash; the string to sign binds it to the date, region and service; the key is the HMAC chain
//! `"AWS4" + secret -> date -> region -> "s3" -> "aws4_request"`.

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The payload hash for a body that is not hashed (allowed over every S3 API but AWS's
/// checksum-trailer mode).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Characters SigV4 leaves as they are: RFC 3986's unreserved set.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// RFC 3986 encoding as SigV4 wants it (also for query values and `x-amz-copy-source`).
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A path encoded segment by segment, `/` kept.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

/// Hex of SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // SAFETY of the expect: HMAC accepts keys of any length.
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// What one request's signature covers.
pub struct SigningInput<'a> {
    /// `GET`, `PUT`...
    pub method: &'a str,
    /// The path as sent, already encoded (`/bucket/key%20name`).
    pub encoded_path: &'a str,
    /// Query parameters, not encoded (a key with an empty value is `("uploads", "")`).
    pub query: &'a [(String, String)],
    /// Headers to sign, names in any case; `host` and `x-amz-date` must be among them.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
    /// The region (`us-east-1`).
    pub region: &'a str,
}

/// The query string as sent and as signed: sorted by key then value, both encoded.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query.iter().map(|(k, v)| (uri_encode(k), uri_encode(v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The `Authorization` header value for `input` under the given credentials.
pub fn authorization(input: &SigningInput<'_>, access_key: &str, secret_key: &str) -> String {
    let mut headers: Vec<(String, String)> = input
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        input.method,
        input.encoded_path,
        canonical_query(input.query),
        canonical_headers,
        signed_headers,
        input.payload_hash
    );
    let date = &input.amz_date[..8.min(input.amz_date.len())];
    let scope = format!("{date}/{}/s3/aws4_request", input.region);
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", input.amz_date, sha256_hex(canonical_request.as_bytes()));
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, input.region.as_bytes());
    let k_service = hmac(&k_region, b"s3");
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes()));
    format!("AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // The examples of "Signature Calculations for the Authorization Header" in the S3 API
    // reference (sig-v4-header-based-auth), with its example credentials.
    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn signature(auth: &str) -> &str {
        auth.rsplit("Signature=").next().unwrap()
    }

    #[test]
    fn aws_example_get_object() {
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let input = SigningInput {
            method: "GET",
            encoded_path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        let auth = authorization(&input, AK, SK);
        assert_eq!(signature(&auth), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        ));
    }

    #[test]
    fn aws_example_put_object() {
        let body_hash = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &body_hash),
        ]);
        let input = SigningInput {
            method: "PUT",
            encoded_path: &encode_path("/test$file.text"),
            query: &[],
            headers: &headers,
            payload_hash: &body_hash,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        assert_eq!(
            signature(&authorization(&input, AK, SK)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn aws_example_get_bucket_lifecycle_and_list_objects() {
        let headers = h(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY),
        ]);
        let lifecycle = [("lifecycle".to_string(), String::new())];
        let input = SigningInput {
            method: "GET",
            encoded_path: "/",
            query: &lifecycle,
            headers: &headers,
            payload_hash: EMPTY,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        assert_eq!(
            signature(&authorization(&input, AK, SK)),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        let list = [("max-keys".to_string(), "2".to_string()), ("prefix".to_string(), "J".to_string())];
        let input = SigningInput { query: &list, ..input };
        assert_eq!(
            signature(&authorization(&input, AK, SK)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(uri_encode("a b+c/ü~_.-"), "a%20b%2Bc%2F%C3%BC~_.-");
        assert_eq!(encode_path("/bucket/dir/a b"), "/bucket/dir/a%20b");
        assert_eq!(
            canonical_query(&[("prefix".into(), "a b/".into()), ("delimiter".into(), "/".into())]),
            "delimiter=%2F&prefix=a%20b%2F"
        );
    }
}
