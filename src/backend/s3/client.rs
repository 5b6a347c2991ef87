//! The S3 request layer: addressing (path style or virtual host), SigV4 signing, and the
//! low-level retries every request gets (throttling, 5xx, broken connections), each with the
//! client's connect and read timeouts. Bodies are bytes in memory or a range of a local file,
//! so a retried request can send its body again.

use std::io::Read;
use std::time::SystemTime;

use super::credentials::CredentialSource;
use super::options::S3Options;
use super::responses::{parse_error, ErrorBody};
use super::sign::{self, canonical_query, encode_path, SigningInput, UNSIGNED_PAYLOAD};
use crate::backend::net::http_time::amz_date;
use crate::backend::net::{http, retry, transport_error_is_retryable, HttpClient};

pub use crate::backend::net::body::{Body, FileRange};

/// One S3 request.
pub struct Request<'a> {
    /// `GET`, `PUT`, `HEAD`, `POST`, `DELETE`.
    pub method: &'static str,
    /// The bucket, or `None` for the service (ListBuckets).
    pub bucket: Option<&'a str>,
    /// The key (may be empty).
    pub key: &'a str,
    /// Query parameters, not encoded.
    pub query: Vec<(String, String)>,
    /// Extra headers (`Range`, `x-amz-meta-*`, `Content-MD5`...).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> Request<'a> {
    /// A request without query, headers or body.
    pub fn new(method: &'static str, bucket: Option<&'a str>, key: &'a str) -> Request<'a> {
        Request { method, bucket, key, query: Vec::new(), headers: Vec::new(), body: Body::Empty }
    }

    /// Adds a query parameter.
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.to_string(), v.to_string()));
        self
    }

    /// Adds a header.
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Body<'a>) -> Self {
        self.body = body;
        self
    }
}

/// An S3 failure after the retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Error {
    /// The server answered with an error status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The error body's `Code`, or "" (HEAD answers have no body).
        code: String,
        /// Its `Message`.
        message: String,
    },
    /// No answer: the connection failed, timed out or broke.
    Transport(String),
}

impl S3Error {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            S3Error::Status { status, .. } => Some(*status),
            S3Error::Transport(_) => None,
        }
    }

    /// The S3 error code, if any.
    pub fn code(&self) -> &str {
        match self {
            S3Error::Status { code, .. } => code,
            S3Error::Transport(_) => "",
        }
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            S3Error::Status { status, code, message } if code.is_empty() => write!(f, "HTTP {status} {message}"),
            S3Error::Status { status, code, message } => write!(f, "{code}: {message} (HTTP {status})"),
            S3Error::Transport(e) => write!(f, "{e}"),
        }
    }
}

/// A response whose status is 2xx (or 304, 206, 416 where the caller asked for a range).
pub struct Response {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body, unread.
    pub body: ureq::Body,
}

impl Response {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The whole body, at most `limit` bytes.
    ///
    /// # Errors
    /// The body broke off or is larger than `limit`.
    pub fn bytes(self, limit: u64) -> Result<Vec<u8>, S3Error> {
        let mut body = self.body;
        body.with_config().limit(limit).read_to_vec().map_err(|e| S3Error::Transport(e.to_string()))
    }
}

/// Where requests go and how they are signed.
pub struct S3Client {
    http: HttpClient,
    /// `https` or `http`.
    scheme: String,
    /// `host` or `host:port`.
    host: String,
    credentials: CredentialSource,
    region: String,
    path_style: bool,
    unsigned_payload: bool,
    retries: u32,
}

/// Largest error body read.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

impl S3Client {
    /// A client for the store the options describe.
    ///
    /// # Errors
    /// A bad endpoint, or no TLS roots.
    pub fn new(opts: &S3Options) -> Result<S3Client, String> {
        let endpoint = if opts.endpoint.is_empty() {
            if opts.region == "us-east-1" {
                "https://s3.amazonaws.com".to_string()
            } else {
                format!("https://s3.{}.amazonaws.com", opts.region)
            }
        } else {
            opts.endpoint.clone()
        };
        let (scheme, rest) = endpoint.split_once("://").ok_or_else(|| format!("s3: bad endpoint {endpoint:?}"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("s3: endpoint {endpoint:?}: only http:// and https:// are supported"));
        }
        let host = rest.split('/').next().unwrap_or("").to_string();
        if host.is_empty() || rest.trim_end_matches('/') != host {
            return Err(format!("s3: endpoint {endpoint:?}: give a host (and port), without a path"));
        }
        let host = match (scheme.as_str(), host.strip_suffix(":443"), host.strip_suffix(":80")) {
            ("https", Some(h), _) | ("http", _, Some(h)) => h.to_string(),
            _ => host,
        };
        Ok(S3Client {
            http: HttpClient::new(opts.net, !opts.no_check_certificate)?,
            scheme,
            host,
            credentials: CredentialSource::new(
                &opts.access_key_id,
                &opts.secret_access_key,
                &opts.session_token,
                opts.env_auth,
                &opts.shared_credentials_file,
                &opts.profile,
            ),
            region: opts.region.clone(),
            path_style: opts.path_style,
            unsigned_payload: opts.use_unsigned_payload,
            retries: opts.net.low_level_retries.max(1),
        })
    }

    /// Where requests go, for messages (`http://127.0.0.1:9000`).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// Sends the request, retrying what is worth retrying; a status of 300 or more is an
    /// error (with the body's code and message), except those listed in `allowed`.
    ///
    /// # Errors
    /// The last failure once the tries are used up, or the first one that is not retryable.
    pub fn execute(&self, req: &Request<'_>, allowed: &[u16]) -> Result<Response, S3Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (error, pause) = match self.execute_once(req) {
                Ok(resp) if resp.status < 300 || allowed.contains(&resp.status) => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status;
                    let after = retry::retry_after(resp.header("retry-after"));
                    let body = if req.method == "HEAD" {
                        Vec::new()
                    } else {
                        resp.bytes(ERROR_BODY_LIMIT).unwrap_or_default()
                    };
                    let ErrorBody { code, message } = parse_error(&body).unwrap_or(ErrorBody {
                        code: String::new(),
                        message: http::StatusCode::from_u16(status)
                            .ok()
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("")
                            .to_string(),
                    });
                    let retryable = retry::status_is_retryable(status)
                        || matches!(
                            code.as_str(),
                            "SlowDown" | "RequestTimeout" | "InternalError" | "RequestTimeTooSkewed"
                        );
                    let error = S3Error::Status { status, code, message };
                    if !retryable {
                        return Err(error);
                    }
                    (error, after)
                }
                Err(e) => {
                    let retryable = transport_error_is_retryable(&e);
                    let error = S3Error::Transport(e.to_string());
                    if !retryable {
                        return Err(error);
                    }
                    (error, None)
                }
            };
            if attempt >= self.retries {
                return Err(error);
            }
            let pause = pause.unwrap_or_else(|| retry::backoff(attempt));
            log::debug!(
                "s3: {} {}/{}: {error}; try {} of {} in {} ms",
                req.method,
                req.bucket.unwrap_or(""),
                req.key,
                attempt + 1,
                self.retries,
                pause.as_millis()
            );
            std::thread::sleep(pause);
        }
    }

    fn execute_once(&self, req: &Request<'_>) -> Result<Response, ureq::Error> {
        let (host, path) = match req.bucket {
            None => (self.host.clone(), "/".to_string()),
            Some(b) if self.path_style => (self.host.clone(), format!("/{b}/{}", req.key)),
            Some(b) => (format!("{b}.{}", self.host), format!("/{}", req.key)),
        };
        let encoded_path = encode_path(&path);
        let query = canonical_query(&req.query);
        let url = if query.is_empty() {
            format!("{}://{host}{encoded_path}", self.scheme)
        } else {
            format!("{}://{host}{encoded_path}?{query}", self.scheme)
        };
        let now = amz_date(SystemTime::now());
        let payload_hash = match req.body {
            Body::Empty => sign::sha256_hex(b""),
            _ if self.unsigned_payload => UNSIGNED_PAYLOAD.to_string(),
            Body::Bytes(b) => sign::sha256_hex(b),
            Body::File { file, offset, len } => hash_file(file, offset, len).map_err(ureq::Error::Io)?,
        };
        let mut headers: Vec<(String, String)> = req.headers.clone();
        headers.push(("host".into(), host));
        headers.push(("x-amz-date".into(), now.clone()));
        headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
        let credentials = self.credentials.current().map_err(|e| ureq::Error::Io(std::io::Error::other(e)))?;
        if let Some(token) = credentials.as_ref().and_then(|c| c.session_token.clone()) {
            headers.push(("x-amz-security-token".into(), token));
        }
        let mut builder = http::Request::builder().method(req.method).uri(&url);
        if let Some(c) = &credentials {
            // Every header we send is signed (rclone serve s3 refuses unsigned x-amz-* headers).
            let input = SigningInput {
                method: req.method,
                encoded_path: &encoded_path,
                query: &req.query,
                headers: &headers,
                payload_hash: &payload_hash,
                amz_date: &now,
                region: &self.region,
            };
            builder = builder.header("authorization", sign::authorization(&input, &c.access_key, &c.secret_key));
        }
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let len = req.body.len();
        if req.method == "PUT" || req.method == "POST" {
            builder = builder.header("content-length", len.to_string());
        }
        let map = |e: http::Error| ureq::Error::Io(std::io::Error::other(e.to_string()));
        let resp = match req.body {
            Body::Empty => self.http.send(builder.body(()).map_err(map)?)?,
            Body::Bytes(b) => self.http.send(builder.body(b).map_err(map)?)?,
            Body::File { file, offset, len } => {
                let mut reader = FileRange::new(file, offset, len);
                self.http.send(builder.body(ureq::SendBody::from_reader(&mut reader)).map_err(map)?)?
            }
        };
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        Ok(Response { status, headers: parts.headers, body })
    }
}

/// SHA-256 of a file range, for stores that want signed payloads.
fn hash_file(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut r = FileRange::new(file, offset, len);
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(sign::hex(&hasher.finalize()))
}
