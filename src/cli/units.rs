//! rclone's value syntax for durations (`1h30m`, `300ms`, `10` = seconds, `off`), sizes
//! (`128M`, `128Mi`, `1.5G`, `off`; a bare number is KiB), octal file modes (`0777`) and port
//! ranges (`30000-32000`). Pure parsing, no I/O; every parser says what it accepts.

use std::fmt;
use std::time::Duration;

/// Why a flag value was refused; the text completes "invalid value for --flag: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError(pub String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnitError {}

fn err<T>(msg: impl Into<String>) -> Result<T, UnitError> {
    Err(UnitError(msg.into()))
}

/// A duration as rclone's `fs.Duration` reads it. `off` means "never" and is kept as
/// [`Duration::MAX`]; callers compare with [`is_off`].
///
/// Grammar: `off` | `[+]number unit { number unit }` | `number` (seconds), where number is a
/// decimal with an optional fraction and unit is one of `ns us µs ms s m h d w M y`
/// (`d`=24h, `w`=7d, `M`=30d, `y`=365d, as rclone does).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let s = text.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(Duration::MAX);
    }
    if s.is_empty() {
        return err("empty duration");
    }
    if s.starts_with('-') {
        return err(format!("duration {s:?} can't be negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    // A bare number means seconds.
    if let Ok(secs) = s.parse::<f64>() {
        return seconds_to_duration(secs, text);
    }
    let mut total = 0f64; // nanoseconds
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return err(format!("invalid duration {text:?}"));
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| UnitError(format!("invalid duration {text:?}")))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 7.0 * 86_400e9,
            "M" => 30.0 * 86_400e9,
            "y" => 365.0 * 86_400e9,
            "" => return err(format!("missing unit in duration {text:?}")),
            other => return err(format!("unknown unit {other:?} in duration {text:?}")),
        };
        total += value * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    seconds_to_duration(total / 1e9, text)
}

fn seconds_to_duration(secs: f64, text: &str) -> Result<Duration, UnitError> {
    if !secs.is_finite() || secs < 0.0 {
        return err(format!("invalid duration {text:?}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| UnitError(format!("duration {text:?} is too large")))
}

/// True when a duration parsed from `off`.
pub fn is_off(d: Duration) -> bool {
    d == Duration::MAX
}

/// Formats a duration the way rclone prints defaults (`5m0s`, `1h0m0s`, `20ms`, `off`).
pub fn format_duration(d: Duration) -> String {
    if is_off(d) {
        return "off".into();
    }
    if d.is_zero() {
        return "0s".into();
    }
    let total_ms = d.as_millis();
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// A size as rclone's `SizeSuffix` reads it; `None` means `off`.
///
/// Grammar: `off` | number \[suffix\], number a non-negative decimal (fraction allowed),
/// suffix one of `b B` (bytes), `k K M G T P E` with an optional `i` and optional `B`
/// (all binary: `M` and `Mi` are both 2^20). A bare number is KiB.
pub fn parse_size(text: &str) -> Result<Option<u64>, UnitError> {
    let s = text.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if s.is_empty() {
        return err("empty size");
    }
    let num_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_end);
    let multiplier: u64 = match suffix {
        "" => 1 << 10,
        "b" | "B" => 1,
        _ => {
            let mut chars = suffix.chars();
            let shift = match chars.next() {
                Some('k' | 'K') => 10,
                Some('m' | 'M') => 20,
                Some('g' | 'G') => 30,
                Some('t' | 'T') => 40,
                Some('p' | 'P') => 50,
                Some('e' | 'E') => 60,
                _ => return err(format!("bad suffix in size {text:?}")),
            };
            match chars.as_str() {
                "" | "i" | "I" | "B" | "iB" | "IB" | "ib" | "b" => 1u64 << shift,
                _ => return err(format!("bad suffix in size {text:?}")),
            }
        }
    };
    let value: f64 = num.parse().map_err(|_| UnitError(format!("invalid size {text:?}")))?;
    if value < 0.0 || !value.is_finite() {
        return err(format!("size {text:?} can't be negative"));
    }
    let bytes = value * multiplier as f64;
    if bytes > u64::MAX as f64 {
        return err(format!("size {text:?} is too large"));
    }
    Ok(Some(bytes as u64))
}

/// Formats a size as rclone prints defaults (`128Mi`, `16Mi`, `off`, `0`).
pub fn format_size(size: Option<u64>) -> String {
    let Some(n) = size else { return "off".into() };
    const UNITS: [(u32, &str); 6] = [(60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")];
    for (shift, unit) in UNITS {
        if n >= 1 << shift && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// An octal permission mode (`0777`, `755`), at most `07777`.
pub fn parse_mode(text: &str) -> Result<u32, UnitError> {
    let s = text.trim();
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return err(format!("invalid octal mode {text:?}"));
    }
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => err(format!("mode {text:?} is out of range (max 07777)")),
    }
}

/// An inclusive TCP port range for passive data connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port of the range.
    pub first: u16,
    /// Last port of the range (inclusive; rclone never uses it, we do).
    pub last: u16,
}

impl PortRange {
    /// Parses `first-last` with optional spaces, as rclone's `^\s*\d+\s*-\s*\d+\s*$`.
    /// Both ends must be 1..=65535 and `first <= last`.
    pub fn parse(text: &str) -> Result<PortRange, UnitError> {
        let bad = || UnitError(format!("invalid format for passive ports {text:?}"));
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() || b.is_empty() || !a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let first: u16 = a.parse().map_err(|_| bad())?;
        let last: u16 = b.parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return err(format!("passive port range {text:?} must go from a lower to a higher port, both 1-65535"));
        }
        Ok(PortRange { first, last })
    }

    /// Number of ports in the range.
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// Always false: a range holds at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_rclone_syntax() {
        assert_eq!(parse_duration("5m0s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(is_off(parse_duration("off").unwrap()));
        for bad in ["", "5x", "h", "-1s", "1h-", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn durations_format_like_rclone_defaults() {
        assert_eq!(format_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
    }

    #[test]
    fn sizes_in_rclone_syntax() {
        assert_eq!(parse_size("128M").unwrap(), Some(128 << 20));
        assert_eq!(parse_size("128Mi").unwrap(), Some(128 << 20));
        assert_eq!(parse_size("128MiB").unwrap(), Some(128 << 20));
        assert_eq!(parse_size("1G").unwrap(), Some(1 << 30));
        assert_eq!(parse_size("10").unwrap(), Some(10 << 10), "a bare number is KiB");
        assert_eq!(parse_size("100b").unwrap(), Some(100));
        assert_eq!(parse_size("1.5k").unwrap(), Some(1536));
        assert_eq!(parse_size("off").unwrap(), None);
        for bad in ["", "12Q", "-1M", "M", "1Mx"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(format_size(Some(128 << 20)), "128Mi");
        assert_eq!(format_size(None), "off");
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0777").unwrap(), 0o777);
        assert_eq!(parse_mode("644").unwrap(), 0o644);
        assert_eq!(parse_mode("2").unwrap(), 0o2);
        for bad in ["", "0789", "rwx", "077777"] {
            assert!(parse_mode(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::parse("30000-32000").unwrap(), PortRange { first: 30000, last: 32000 });
        assert_eq!(PortRange::parse(" 5 - 5 ").unwrap().len(), 1);
        for bad in ["abc", "30000", "2-1", "0-5", "1-70000", "-5", "1-2-3"] {
            assert!(PortRange::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
