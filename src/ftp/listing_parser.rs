//! The client side of listings: MLSD/MLST fact lines (RFC 3659 §7) and the `ls -l` (Unix) and
//! DOS/IIS lines servers send for LIST. Used by the ftp backend; fuzzed by `ftp_client`.
//! Lines that are not files or directories (links, `.`/`..`, `total N`) give `None`.

use std::time::SystemTime;

use crate::backend::{Entry, EntryKind};
use crate::ftp::args::time_val;
use crate::ftp::time::{days_from_civil, from_unix, utc};

/// One MLSD line (`fact=value;...; name`), or an MLST reply's entry line (which starts with a
/// space). The name is the last component of the path given.
pub fn parse_mlsx_line(line: &str) -> Option<Entry> {
    let line = line.strip_prefix(' ').unwrap_or(line);
    let (facts, path) = line.split_once(' ')?;
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut kind = None;
    let mut size = 0;
    let mut mtime = SystemTime::UNIX_EPOCH;
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        let (key, value) = fact.split_once('=')?;
        match key.to_ascii_lowercase().as_str() {
            "type" => {
                kind = match value.to_ascii_lowercase().as_str() {
                    "file" => Some(EntryKind::File),
                    "dir" => Some(EntryKind::Dir),
                    // cdir, pdir, OS.unix=slink...: not listed.
                    _ => return None,
                }
            }
            "size" => size = value.parse().ok()?,
            "modify" => {
                let t = time_val(value).ok()?;
                mtime = from_unix(t.unix_secs, t.nanos);
            }
            _ => {}
        }
    }
    let kind = kind?;
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    Some(Entry { name: name.to_string(), kind, size: if kind == EntryKind::Dir { 0 } else { size }, mtime })
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// One LIST line, Unix (`-rw-r--r-- 1 user group 12 Jan  2 15:04 name`, with or without the
/// group, year or time) or DOS (`01-02-06  03:04PM  <DIR>  name`). `now` dates a Unix line
/// that has a time instead of a year: the latest such date not more than a day ahead.
pub fn parse_list_line(line: &str, now: SystemTime) -> Option<Entry> {
    let first = line.chars().next()?;
    if first.is_ascii_digit() {
        return parse_dos_line(line);
    }
    let kind = match first {
        '-' => EntryKind::File,
        'd' => EntryKind::Dir,
        _ => return None,
    };
    // Fields: perms links owner [group] size month day time|year name...
    let fields = split_fields(line, 9);
    let month_at = (3..fields.len().saturating_sub(3)).find(|&i| month_index(fields[i].1).is_some())?;
    let size: u64 = fields[month_at - 1].1.parse().ok()?;
    let month = month_index(fields[month_at].1)?;
    let day: u32 = fields[month_at + 1].1.parse().ok().filter(|d| (1..=31).contains(d))?;
    let when = fields[month_at + 2].1;
    let name_start = fields.get(month_at + 3)?.0;
    let name = &line[name_start..];
    let secs = if let Some((h, m)) = when.split_once(':') {
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        let this_year = utc(now).year;
        let at = |y: i64| days_from_civil(y, month + 1, day) * 86_400 + i64::from(h * 3600 + m * 60);
        let now_secs = crate::ftp::time::unix_parts(now).0;
        if at(this_year) > now_secs + 86_400 {
            at(this_year - 1)
        } else {
            at(this_year)
        }
    } else {
        let year: i64 = when.parse().ok().filter(|y| (1900..=9999).contains(y))?;
        days_from_civil(year, month + 1, day) * 86_400
    };
    named(name, kind, size, from_unix(secs, 0))
}

fn parse_dos_line(line: &str) -> Option<Entry> {
    let fields = split_fields(line, 3);
    if fields.len() < 4 {
        return None;
    }
    let mut date = fields[0].1.split('-');
    let (mo, d, y): (u32, u32, i64) =
        (date.next()?.parse().ok()?, date.next()?.parse().ok()?, date.next()?.parse().ok()?);
    let y = match y {
        0..=69 => 2000 + y,
        70..=99 => 1900 + y,
        _ => y,
    };
    let time = fields[1].1.to_ascii_uppercase();
    let (clock, pm) = match (time.strip_suffix("PM"), time.strip_suffix("AM")) {
        (Some(c), _) => (c.to_string(), true),
        (_, Some(c)) => (c.to_string(), false),
        _ => (time.clone(), false),
    };
    let (h, m) = clock.split_once(':')?;
    let (mut h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || !(1900..=9999).contains(&y) || h > 23 || m > 59 {
        return None;
    }
    if pm && h < 12 {
        h += 12;
    } else if !pm && h == 12 && time.ends_with("AM") {
        h = 0;
    }
    let (kind, size) = if fields[2].1.eq_ignore_ascii_case("<DIR>") {
        (EntryKind::Dir, 0)
    } else {
        (EntryKind::File, fields[2].1.replace(',', "").parse().ok()?)
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + m * 60);
    named(&line[fields[3].0..], kind, size, from_unix(secs, 0))
}

fn named(name: &str, kind: EntryKind, size: u64, mtime: SystemTime) -> Option<Entry> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return None;
    }
    Some(Entry { name: name.to_string(), kind, size: if kind == EntryKind::Dir { 0 } else { size }, mtime })
}

fn month_index(s: &str) -> Option<u32> {
    let lower = s.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == lower).map(|i| i as u32)
}

/// The first `max + 1` whitespace-separated fields with their byte offsets (the last one's
/// offset is where the rest of the line, a name that may hold spaces, starts).
fn split_fields(line: &str, max: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while out.len() <= max {
        let Some(start) = line[rest..].find(|c: char| c != ' ' && c != '\t').map(|s| s + rest) else { break };
        let end = line[start..].find([' ', '\t']).map_or(line.len(), |e| e + start);
        out.push((start, &line[start..end]));
        rest = end;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(y: i64, mo: u32, d: u32, h: u32, mi: u32) -> SystemTime {
        from_unix(days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60), 0)
    }

    #[test]
    fn mlsd_lines() {
        let e = parse_mlsx_line("type=file;size=42;modify=20240102030405.5;perm=r; my file.txt").unwrap();
        assert_eq!((e.name.as_str(), e.kind, e.size), ("my file.txt", EntryKind::File, 42));
        assert_eq!(e.mtime, from_unix(days_from_civil(2024, 1, 2) * 86_400 + 3 * 3600 + 4 * 60 + 5, 500_000_000));
        let d = parse_mlsx_line(" Type=dir;Modify=20240102030405; /a/b/sub").unwrap();
        assert_eq!((d.name.as_str(), d.kind), ("sub", EntryKind::Dir));
        assert_eq!(parse_mlsx_line("type=cdir; ."), None);
        assert_eq!(parse_mlsx_line("type=OS.unix=slink:/x; link"), None);
        assert_eq!(parse_mlsx_line("size=1; nokind"), None);
        assert_eq!(parse_mlsx_line("type=file;size=x; bad"), None);
    }

    #[test]
    fn unix_list_lines() {
        let now = at(2026, 3, 1, 12, 0);
        let e = parse_list_line("-rw-r--r--   1 ftp  ftp   1234 Feb 28 23:59 a  b", now).unwrap();
        assert_eq!((e.name.as_str(), e.size, e.mtime), ("a  b", 1234, at(2026, 2, 28, 23, 59)));
        // A time-only date in the future (beyond a day) is last year's.
        let e = parse_list_line("-rw-r--r-- 1 ftp ftp 5 Dec 24 10:00 old", now).unwrap();
        assert_eq!(e.mtime, at(2025, 12, 24, 10, 0));
        let d = parse_list_line("drwxr-xr-x 2 owner 0 Jan  1  2020 dir", now).unwrap();
        assert_eq!((d.kind, d.size, d.mtime), (EntryKind::Dir, 0, at(2020, 1, 1, 0, 0)));
        assert_eq!(parse_list_line("lrwxrwxrwx 1 a a 4 Jan 1 2020 l -> x", now), None);
        assert_eq!(parse_list_line("total 12", now), None);
        assert_eq!(parse_list_line("drwxr-xr-x 2 a a 0 Jan 1 2020 .", now), None);
    }

    #[test]
    fn dos_list_lines() {
        let e = parse_list_line("01-02-06  03:04PM       1,234 report.txt", SystemTime::now()).unwrap();
        assert_eq!((e.name.as_str(), e.size, e.mtime), ("report.txt", 1234, at(2006, 1, 2, 15, 4)));
        let d = parse_list_line("12-31-99  12:00AM  <DIR>  My Dir", SystemTime::now()).unwrap();
        assert_eq!((d.name.as_str(), d.kind, d.mtime), ("My Dir", EntryKind::Dir, at(1999, 12, 31, 0, 0)));
        // A year no calendar arithmetic can hold (found by fuzzing: it overflowed).
        assert_eq!(parse_list_line("12-31-99777777777776  1:00AM 1 x", SystemTime::now()), None);
    }
}
