//! The low-level retry rule of every HTTP remote, as rclone's pacer applies it: an answer that
//! says "later" (408, 429, 500, 502, 503, 504, S3's `SlowDown`) or a broken connection is tried
//! again after a growing pause, up to `--low-level-retries` tries in all, before the error
//! reaches the client (as 451).

use std::time::Duration;

use super::body::{Body, FileRange};

/// The statuses that mean "try again later".
pub fn status_is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504 | 509)
}

/// The pause before try number `attempt` (1 for the first retry): 100 ms doubling, at most 2 s,
/// as rclone's pacer for S3 (minimum 10 ms, maximum 2 s, decay 2) grows it under errors.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(5));
    Duration::from_millis(ms.min(2000))
}

/// A `Retry-After` header in seconds, honoured up to 10 s.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(10)))
}

/// Sends the request `make` builds, with `body` on every try (and its `Content-Length` when it
/// is not empty or the method is `PUT`), again after a pause while the answer says "later" or
/// the connection broke, up to `tries` tries in all (`what` names it in the debug log). Returns
/// the first answer that is not worth retrying, or the last one, whatever its status; the
/// caller decides what a status means.
///
/// # Errors
/// The connection failed every time, or in a way another try cannot mend (a bad URL, TLS).
pub fn send_with_body(
    client: &super::HttpClient,
    tries: u32,
    what: &str,
    body: Body<'_>,
    make: &dyn Fn() -> Result<super::http::request::Builder, String>,
) -> Result<super::http::Response<ureq::Body>, String> {
    let tries = tries.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut builder = make()?;
        let with_length = !body.is_empty() || builder.method_ref().is_some_and(|m| m == "PUT");
        if with_length {
            builder = builder.header("content-length", body.len().to_string());
        }
        let bad = |e: super::http::Error| format!("{what}: {e}");
        let sent = match body {
            Body::Empty => client.send(builder.body(()).map_err(bad)?),
            Body::Bytes(b) => client.send(builder.body(b).map_err(bad)?),
            Body::File { file, offset, len } => {
                let mut reader = FileRange::new(file, offset, len);
                client.send(builder.body(ureq::SendBody::from_reader(&mut reader)).map_err(bad)?)
            }
        };
        let (failure, pause) = match sent {
            Ok(resp) if !status_is_retryable(resp.status().as_u16()) || attempt >= tries => return Ok(resp),
            Ok(resp) => {
                let after = retry_after(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()));
                (format!("HTTP {}", resp.status().as_u16()), after)
            }
            Err(e) if attempt >= tries || !super::transport_error_is_retryable(&e) => return Err(e.to_string()),
            Err(e) => (e.to_string(), None),
        };
        let pause = pause.unwrap_or_else(|| backoff(attempt));
        log::debug!("{what}: {failure}; try {} of {tries} in {} ms", attempt + 1, pause.as_millis());
        std::thread::sleep(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_two_seconds() {
        let pauses: Vec<u64> = (1..=8).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert!(status_is_retryable(503) && status_is_retryable(429) && !status_is_retryable(404));
        assert_eq!(retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("3600")), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }
}
