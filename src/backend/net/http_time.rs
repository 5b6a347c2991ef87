//! The time formats of HTTP and S3: SigV4's `20130524T000000Z`, ISO 8601 (`2009-10-12T17:50:30.000Z`,
//! S3 listings), RFC 1123 (`Wed, 21 Oct 2015 07:28:00 GMT`, `Last-Modified`), and rclone's
//! mtime metadata (decimal seconds since the epoch, up to 9 decimals, trailing zeros cut).

use std::time::SystemTime;

use crate::ftp::time::{civil_from_days, days_from_civil, from_unix, unix_parts};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// `YYYYMMDDTHHMMSSZ` (SigV4's `x-amz-date`).
pub fn amz_date(t: SystemTime) -> String {
    let (secs, _) = unix_parts(t);
    let (y, m, d) = civil_from_days(secs.div_euclid(86400));
    let s = secs.rem_euclid(86400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// RFC 1123 (`Wed, 21 Oct 2015 07:28:00 GMT`).
pub fn rfc1123(t: SystemTime) -> String {
    let (secs, _) = unix_parts(t);
    let days = secs.div_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let s = secs.rem_euclid(86400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn checked(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, nanos: u32) -> Option<SystemTime> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(from_unix(days * 86400 + h * 3600 + mi * 60 + s, nanos))
}

/// ISO 8601 in UTC as S3 writes it: `2009-10-12T17:50:30.000Z` (fraction optional).
pub fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let text = text.trim().strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, mo, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (h, mi, s) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    let nanos = if frac.is_empty() { 0 } else { fraction_nanos(frac)? };
    checked(y, mo, day, h, mi, s, nanos)
}

/// RFC 1123 (`Wed, 21 Oct 2015 07:28:00 GMT`); the weekday is not checked.
pub fn parse_rfc1123(text: &str) -> Option<SystemTime> {
    let rest = text.trim().split_once(", ").map_or(text.trim(), |(_, r)| r);
    let mut parts = rest.split_ascii_whitespace();
    let day = num(parts.next()?)?;
    let month = parts.next()?;
    let mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let y = num(parts.next()?)?;
    let mut t = parts.next()?.splitn(3, ':');
    let (h, mi, s) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if !matches!(parts.next(), Some("GMT" | "UTC" | "+0000") | None) {
        return None;
    }
    checked(y, mo, day, h, mi, s, 0)
}

/// Up to 9 fraction digits as nanoseconds (`5` = 500 ms); more digits are cut.
fn fraction_nanos(frac: &str) -> Option<u32> {
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    digits.parse().ok()
}

/// rclone's mtime metadata: `1354040105.123456789`, `1700000000.5`, `1700000000`.
pub fn mtime_meta(t: SystemTime) -> String {
    let (secs, nanos) = unix_parts(t);
    if nanos == 0 {
        return secs.to_string();
    }
    let frac = format!("{nanos:09}");
    format!("{secs}.{}", frac.trim_end_matches('0'))
}

/// Reads rclone's mtime metadata (a fraction of any length; a negative time is refused).
pub fn parse_mtime_meta(text: &str) -> Option<SystemTime> {
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let secs = num(secs)?;
    let nanos = if frac.is_empty() { 0 } else { fraction_nanos(frac)? };
    Some(from_unix(secs, nanos))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let t = from_unix(1369353600, 0);
        assert_eq!(amz_date(t), "20130524T000000Z");
        assert_eq!(rfc1123(t), "Fri, 24 May 2013 00:00:00 GMT");
        assert_eq!(parse_rfc1123("Fri, 24 May 2013 00:00:00 GMT"), Some(t));
        assert_eq!(parse_iso8601("2013-05-24T00:00:00.000Z"), Some(t));
        assert_eq!(parse_iso8601("2013-05-24T00:00:00.5Z"), Some(from_unix(1369353600, 500_000_000)));
        assert_eq!(parse_iso8601("2013-05-24 00:00:00"), None);
        assert_eq!(parse_rfc1123("Fri, 24 Mey 2013 00:00:00 GMT"), None);
    }

    #[test]
    fn rclone_mtime_metadata() {
        assert_eq!(mtime_meta(from_unix(1354040105, 123_456_789)), "1354040105.123456789");
        assert_eq!(mtime_meta(from_unix(1700000000, 500_000_000)), "1700000000.5");
        assert_eq!(mtime_meta(from_unix(1700000000, 0)), "1700000000");
        assert_eq!(parse_mtime_meta("1700000000.5"), Some(from_unix(1700000000, 500_000_000)));
        assert_eq!(parse_mtime_meta("1354040105.1234567891"), Some(from_unix(1354040105, 123_456_789)));
        assert_eq!(parse_mtime_meta("1700000000"), Some(from_unix(1700000000, 0)));
        assert_eq!(parse_mtime_meta("-5"), None);
        assert_eq!(parse_mtime_meta("x"), None);
    }
}
