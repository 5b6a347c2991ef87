//! Appending numbers to strings without `core::fmt`: a listing writes a line per entry, and
//! `write!` with padding was a quarter of a cold 10,000-file LIST's profile. Output is exactly
//! what the matching format specifier prints (`{:>w}`, `{:<w}`, `{:0w}`, `{:o}`).

/// Appends `n` in decimal, right-aligned in `width` columns (`{:>width}`; never truncated).
pub fn push_right(out: &mut String, n: u64, width: usize) {
    let mut buf = [0u8; 24];
    let digits = to_digits(n, 10, &mut buf);
    pad(out, width.saturating_sub(digits.len()), ' ');
    out.push_str(digits);
}

/// Appends `n` in decimal, left-aligned in `width` columns (`{:<width}`; never truncated).
pub fn push_left(out: &mut String, n: u64, width: usize) {
    let mut buf = [0u8; 24];
    let digits = to_digits(n, 10, &mut buf);
    out.push_str(digits);
    pad(out, width.saturating_sub(digits.len()), ' ');
}

/// Appends `n` in decimal with leading zeros up to `width` digits (`{:0width}`).
pub fn push_zero_padded(out: &mut String, n: u64, width: usize) {
    let mut buf = [0u8; 24];
    let digits = to_digits(n, 10, &mut buf);
    pad(out, width.saturating_sub(digits.len()), '0');
    out.push_str(digits);
}

/// Appends `n` in octal (`{:o}`).
pub fn push_octal(out: &mut String, n: u64) {
    let mut buf = [0u8; 24];
    out.push_str(to_digits(n, 8, &mut buf));
}

fn pad(out: &mut String, count: usize, fill: char) {
    for _ in 0..count {
        out.push(fill);
    }
}

/// The digits of `n` in `radix` (2-10), written at the end of `buf`.
fn to_digits(mut n: u64, radix: u64, buf: &mut [u8; 24]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        // n % radix < 10: the cast cannot truncate.
        buf[start] = b'0' + (n % radix) as u8;
        n /= radix;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only, so this never fails.
    std::str::from_utf8(&buf[start..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_format_specifiers() {
        for n in [0u64, 7, 10, 99, 1234, 99_999_999, 123_456_789_012_345, u64::MAX] {
            for width in [0usize, 2, 4, 8, 12] {
                let mut s = String::new();
                push_right(&mut s, n, width);
                assert_eq!(s, format!("{n:>width$}"));
                s.clear();
                push_left(&mut s, n, width);
                assert_eq!(s, format!("{n:<width$}"));
                s.clear();
                push_zero_padded(&mut s, n, width);
                assert_eq!(s, format!("{n:0width$}"));
            }
            let mut s = String::new();
            push_octal(&mut s, n);
            assert_eq!(s, format!("{n:o}"));
        }
    }
}
