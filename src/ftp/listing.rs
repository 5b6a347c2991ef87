//! Listing formats: LIST (`ls -l` style that curl, lftp, FileZilla and rclone parse), NLST
//! (bare names), and MLSD/MLST fact lines (RFC 3659 §7).

use std::time::SystemTime;

use crate::backend::Entry;
use crate::ftp::{decimal, time};
use crate::vfs::VfsOptions;

/// MLSx facts this server knows, in the order they are printed (RFC 3659 §7.5).
pub const MLST_FACTS: &[&str] = &["type", "size", "modify", "perm", "unix.mode"];

/// Which MLSx facts a session asked for with `OPTS MLST` (all by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactSet(u8);

impl FactSet {
    /// Every fact.
    pub fn all() -> FactSet {
        FactSet((1 << MLST_FACTS.len()) - 1)
    }

    /// The facts named (unknown names are ignored, as RFC 3659 §7.9 says).
    pub fn from_names(names: &[String]) -> FactSet {
        let mut bits = 0;
        for n in names {
            if let Some(i) = MLST_FACTS.iter().position(|f| f.eq_ignore_ascii_case(n)) {
                bits |= 1 << i;
            }
        }
        FactSet(bits)
    }

    /// Whether fact `i` of [`MLST_FACTS`] is on.
    pub fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// `type;size;...;` for OPTS MLST replies.
    pub fn names(self) -> String {
        MLST_FACTS.iter().enumerate().filter(|(i, _)| self.has(*i)).map(|(_, f)| format!("{f};")).collect()
    }
}

/// Appends the `-rw-r--r--` mode string.
fn push_mode(out: &mut String, is_dir: bool, mode: u32) {
    out.push(if is_dir { 'd' } else { '-' });
    for shift in [6, 3, 0] {
        let bits = mode >> shift;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
}

/// Appends one LIST line: `drwxr-xr-x 1 uid gid size Mon DD HH:MM name\r\n`. Sizes are never
/// truncated; the date follows `ls` (time for the last six months, else the year), in UTC.
pub fn list_line(out: &mut String, e: &Entry, opts: &VfsOptions, now: SystemTime) {
    let mode = if e.is_dir() { opts.dir_mode() } else { opts.file_mode() };
    push_mode(out, e.is_dir(), mode);
    out.push_str(" 1 ");
    decimal::push_left(out, u64::from(opts.uid), 8);
    out.push(' ');
    decimal::push_left(out, u64::from(opts.gid), 8);
    out.push(' ');
    decimal::push_right(out, e.size, 12);
    out.push(' ');
    time::push_ls_date(out, e.mtime, now);
    out.push(' ');
    out.push_str(&e.name);
    out.push_str("\r\n");
}

/// Appends one NLST line: the bare name.
pub fn nlst_line(out: &mut String, e: &Entry) {
    out.push_str(&e.name);
    out.push_str("\r\n");
}

/// The fact list of one entry without the name: `type=file;size=3;modify=...;` (RFC 3659).
pub fn facts(e: &Entry, opts: &VfsOptions, read_only: bool, wanted: FactSet) -> String {
    let mut s = String::new();
    push_facts(&mut s, e, opts, read_only, wanted);
    s
}

/// Appends [`facts`]' text.
fn push_facts(out: &mut String, e: &Entry, opts: &VfsOptions, read_only: bool, wanted: FactSet) {
    for (i, fact) in MLST_FACTS.iter().enumerate() {
        if !wanted.has(i) {
            continue;
        }
        match *fact {
            "type" => out.push_str(if e.is_dir() { "type=dir;" } else { "type=file;" }),
            "size" => {
                out.push_str("size=");
                decimal::push_left(out, e.size, 0);
                out.push(';');
            }
            "modify" => {
                out.push_str("modify=");
                time::push_time_val(out, e.mtime);
                out.push(';');
            }
            "perm" => {
                out.push_str("perm=");
                out.push_str(perm_fact(e.is_dir(), read_only));
                out.push(';');
            }
            "unix.mode" => {
                out.push_str("unix.mode=0");
                decimal::push_octal(out, u64::from(if e.is_dir() { opts.dir_mode() } else { opts.file_mode() }));
                out.push(';');
            }
            _ => {}
        }
    }
}

/// RFC 3659 §7.5.5 perm letters: files a(ppend) d(elete) f(rename) r(etrieve) w(rite);
/// directories c(reate) d e(nter) f l(ist) m(kdir) p(urge).
fn perm_fact(is_dir: bool, read_only: bool) -> &'static str {
    match (is_dir, read_only) {
        (false, false) => "adfrw",
        (false, true) => "r",
        (true, false) => "cdeflmp",
        (true, true) => "el",
    }
}

/// Appends one MLSD line: `facts name\r\n`.
pub fn mlsd_line(out: &mut String, e: &Entry, opts: &VfsOptions, read_only: bool, wanted: FactSet) {
    push_facts(out, e, opts, read_only, wanted);
    out.push(' ');
    out.push_str(&e.name);
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::EntryKind;

    fn entry(name: &str, kind: EntryKind, size: u64) -> Entry {
        Entry { name: name.into(), kind, size, mtime: time::from_unix(1_577_934_245, 0) }
    }

    #[test]
    fn list_lines_look_like_ls() {
        let opts = VfsOptions { umask: 0o022, uid: 1000, gid: 100, ..VfsOptions::default() };
        let now = time::from_unix(1_577_934_245 + 3600, 0);
        let mut out = String::new();
        list_line(&mut out, &entry("a b.txt", EntryKind::File, 1234), &opts, now);
        list_line(&mut out, &entry("sub", EntryKind::Dir, 0), &opts, now);
        list_line(&mut out, &entry("huge", EntryKind::File, 123_456_789_012_345), &opts, now);
        assert_eq!(
            out,
            "-rw-r--r-- 1 1000     100              1234 Jan  2 03:04 a b.txt\r\n\
             drwxr-xr-x 1 1000     100                 0 Jan  2 03:04 sub\r\n\
             -rw-r--r-- 1 1000     100      123456789012345 Jan  2 03:04 huge\r\n"
        );
    }

    #[test]
    fn mlsd_facts() {
        let opts = VfsOptions::default();
        let mut out = String::new();
        mlsd_line(&mut out, &entry("f", EntryKind::File, 3), &opts, false, FactSet::all());
        assert_eq!(out, "type=file;size=3;modify=20200102030405;perm=adfrw;unix.mode=0644; f\r\n");
        let some = FactSet::from_names(&["Size".into(), "bogus".into()]);
        assert_eq!(facts(&entry("f", EntryKind::File, 3), &opts, false, some), "size=3;");
        assert_eq!(some.names(), "size;");
    }
}
