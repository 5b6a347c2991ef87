//! UTC calendar arithmetic for the wire: RFC 3659 time-vals (`YYYYMMDDHHMMSS`), `ls -l` dates
//! and log timestamps. Uses Howard Hinnant's days-from-civil algorithms, so no time-zone
//! database is needed; every time on the wire is UTC, as in rclone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ftp::decimal;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number from [`days_from_civil`]: (year, month 1-12, day 1-31).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A moment broken into UTC fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
    /// Milliseconds.
    pub millis: u32,
}

/// Seconds (may be negative) and nanoseconds since the epoch of a `SystemTime`.
pub fn unix_parts(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() == 0 {
                (secs, 0)
            } else {
                (secs - 1, 1_000_000_000 - d.subsec_nanos())
            }
        }
    }
}

/// A `SystemTime` from seconds and nanoseconds since the epoch.
pub fn from_unix(secs: i64, nanos: u32) -> SystemTime {
    let base = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    base + Duration::from_nanos(u64::from(nanos))
}

/// UTC fields of a moment.
pub fn utc(t: SystemTime) -> Utc {
    let (secs, nanos) = unix_parts(t);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u32;
    Utc { year, month, day, hour: sod / 3600, minute: sod / 60 % 60, second: sod % 60, millis: nanos / 1_000_000 }
}

/// RFC 3659 time-val without fraction: `YYYYMMDDHHMMSS` (MDTM, MLSx `modify`).
pub fn time_val(t: SystemTime) -> String {
    let mut s = String::with_capacity(14);
    push_time_val(&mut s, t);
    s
}

/// Appends [`time_val`]'s text.
pub fn push_time_val(out: &mut String, t: SystemTime) {
    let u = utc(t);
    push_year(out, u.year);
    for field in [u.month, u.day, u.hour, u.minute, u.second] {
        decimal::push_zero_padded(out, u64::from(field), 2);
    }
}

/// `{:04}` of a year, without `core::fmt` for the years a file can have.
fn push_year(out: &mut String, year: i64) {
    match u64::try_from(year) {
        Ok(y) if y <= 9999 => decimal::push_zero_padded(out, y, 4),
        _ => {
            use std::fmt::Write;
            let _ = write!(out, "{year:04}");
        }
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The 12-character date column of `ls -l`: `Mon DD HH:MM` for times within the last six
/// months (and up to an hour ahead), else `Mon DD  YYYY`, as GNU ls and every FTP listing
/// parser expect.
pub fn ls_date(t: SystemTime, now: SystemTime) -> String {
    let mut s = String::with_capacity(12);
    push_ls_date(&mut s, t, now);
    s
}

/// Appends [`ls_date`]'s text.
pub fn push_ls_date(out: &mut String, t: SystemTime, now: SystemTime) {
    const SIX_MONTHS: Duration = Duration::from_secs(182 * 86_400);
    let u = utc(t);
    out.push_str(MONTHS[(u.month as usize).saturating_sub(1) % 12]);
    out.push(' ');
    decimal::push_right(out, u64::from(u.day), 2);
    let recent = match now.duration_since(t) {
        Ok(age) => age < SIX_MONTHS,
        Err(ahead) => ahead.duration() <= Duration::from_secs(3600),
    };
    if recent {
        out.push(' ');
        decimal::push_zero_padded(out, u64::from(u.hour), 2);
        out.push(':');
        decimal::push_zero_padded(out, u64::from(u.minute), 2);
    } else {
        out.push_str("  ");
        push_year(out, u.year);
    }
}

/// `YYYY/MM/DD HH:MM:SS` for log lines, as rclone prints them.
pub fn log_stamp(t: SystemTime) -> String {
    let u = utc(t);
    format!("{:04}/{:02}/{:02} {:02}:{:02}:{:02}", u.year, u.month, u.day, u.hour, u.minute, u.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-800_000, -1, 0, 1, 10_957, 18_263, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn time_val_and_ls_dates() {
        let t = from_unix(1_577_934_245, 0); // 2020-01-02 03:04:05 UTC
        assert_eq!(time_val(t), "20200102030405");
        assert_eq!(ls_date(t, from_unix(1_577_934_245 + 86_400, 0)), "Jan  2 03:04");
        assert_eq!(ls_date(t, from_unix(1_577_934_245 + 400 * 86_400, 0)), "Jan  2  2020");
        assert_eq!(
            ls_date(t, from_unix(1_577_934_245 - 400 * 86_400, 0)),
            "Jan  2  2020",
            "future dates show the year"
        );
        assert_eq!(time_val(from_unix(-1, 0)), "19691231235959");
    }
}
