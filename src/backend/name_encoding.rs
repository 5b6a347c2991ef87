//! rclone's name encoding (`lib/encoder`, the `encoding` key of every remote): characters a
//! store cannot hold are kept as look-alikes (`/` as `／`, a trailing space as `␠`, a name `.`
//! as `．`), and a look-alike that was there already is quoted with `‛`, so the mapping can be
//! undone. The names ftpvfs shows its clients are rclone's "standard" names (what `rclone serve
//! ftp` shows): a store's name is decoded with the remote's encoding, then encoded with the
//! standard one, and the other way round for a name a client sends. So a key or a file that
//! rclone wrote under a look-alike reads back under the name rclone shows, and the other way
//! round.

/// A set of rclone encoding flags (the bits of rclone's `MultiEncoder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameEncoding(u32);

/// The quoting rune: `‛` (SINGLE HIGH-REVERSED-9 QUOTATION MARK).
const QUOTE: char = '\u{201B}';
/// `␀`: NUL's look-alike; the control characters map to the runes after it.
const SYMBOL_NUL: u32 = 0x2400;
/// Added to a printable ASCII character, gives its FULLWIDTH form.
const FULL_OFFSET: u32 = 0xFEE0;

const RAW: u32 = 1;
const SLASH: u32 = 1 << 1;
const LT_GT: u32 = 1 << 2;
const DOUBLE_QUOTE: u32 = 1 << 3;
const SINGLE_QUOTE: u32 = 1 << 4;
const BACK_QUOTE: u32 = 1 << 5;
const DOLLAR: u32 = 1 << 6;
const COLON: u32 = 1 << 7;
const QUESTION: u32 = 1 << 8;
const ASTERISK: u32 = 1 << 9;
const PIPE: u32 = 1 << 10;
const HASH: u32 = 1 << 11;
const PERCENT: u32 = 1 << 12;
const BACK_SLASH: u32 = 1 << 13;
const CR_LF: u32 = 1 << 14;
const DEL: u32 = 1 << 15;
const CTL: u32 = 1 << 16;
const LEFT_SPACE: u32 = 1 << 17;
const LEFT_PERIOD: u32 = 1 << 18;
const LEFT_TILDE: u32 = 1 << 19;
const LEFT_CR_LF_HT_VT: u32 = 1 << 20;
const RIGHT_SPACE: u32 = 1 << 21;
const RIGHT_PERIOD: u32 = 1 << 22;
const RIGHT_CR_LF_HT_VT: u32 = 1 << 23;
const INVALID_UTF8: u32 = 1 << 24;
const DOT: u32 = 1 << 25;
const SQUARE_BRACKET: u32 = 1 << 26;
const SEMICOLON: u32 = 1 << 27;

/// rclone's names for the flags (and its aliases `None` and `Raw`).
const NAMES: [(&str, u32); 30] = [
    ("None", 0),
    ("Raw", RAW),
    ("Slash", SLASH),
    ("LtGt", LT_GT),
    ("SquareBracket", SQUARE_BRACKET),
    ("Semicolon", SEMICOLON),
    ("DoubleQuote", DOUBLE_QUOTE),
    ("SingleQuote", SINGLE_QUOTE),
    ("BackQuote", BACK_QUOTE),
    ("Dollar", DOLLAR),
    ("Colon", COLON),
    ("Question", QUESTION),
    ("Asterisk", ASTERISK),
    ("Pipe", PIPE),
    ("Hash", HASH),
    ("Percent", PERCENT),
    ("BackSlash", BACK_SLASH),
    ("CrLf", CR_LF),
    ("Del", DEL),
    ("Ctl", CTL),
    ("LeftSpace", LEFT_SPACE),
    ("LeftPeriod", LEFT_PERIOD),
    ("LeftTilde", LEFT_TILDE),
    ("LeftCrLfHtVt", LEFT_CR_LF_HT_VT),
    ("RightSpace", RIGHT_SPACE),
    ("RightPeriod", RIGHT_PERIOD),
    ("RightCrLfHtVt", RIGHT_CR_LF_HT_VT),
    ("InvalidUtf8", INVALID_UTF8),
    ("Dot", DOT),
    ("Display", SLASH | CTL | DEL | DOT),
];

/// The characters each flag replaces anywhere in a name, mapped to FULLWIDTH forms.
const FULLWIDTH: [(u32, &[char]); 16] = [
    (ASTERISK, &['*']),
    (LT_GT, &['<', '>']),
    (SQUARE_BRACKET, &['[', ']']),
    (SEMICOLON, &[';']),
    (QUESTION, &['?']),
    (COLON, &[':']),
    (PIPE, &['|']),
    (DOUBLE_QUOTE, &['"']),
    (SINGLE_QUOTE, &['\'']),
    (BACK_QUOTE, &['`']),
    (DOLLAR, &['$']),
    (SLASH, &['/']),
    (BACK_SLASH, &['\\']),
    (HASH, &['#']),
    (PERCENT, &['%']),
    (0, &[]),
];

fn shift(c: char, by: u32) -> char {
    char::from_u32(c as u32 + by).unwrap_or(c)
}

fn unshift(c: char, by: u32) -> char {
    char::from_u32((c as u32).wrapping_sub(by)).unwrap_or(c)
}

fn symbol(c: char) -> char {
    shift(c, SYMBOL_NUL)
}

const SPACE_SYMBOL: char = '\u{2420}';
const FULL_STOP: char = '\u{FF0E}';
const FULL_TILDE: char = '\u{FF5E}';
const DEL_SYMBOL: char = '\u{2421}';

fn is_cr_lf_ht_vt(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{b}' | '\r')
}

fn is_cr_lf_ht_vt_symbol(c: char) -> bool {
    is_cr_lf_ht_vt(unshift(c, SYMBOL_NUL)) && c as u32 >= SYMBOL_NUL
}

impl NameEncoding {
    /// rclone's standard encoding (the names its VFS and `rclone serve ftp` use):
    /// `Slash,Ctl,Del,Dot`.
    pub const STANDARD: NameEncoding = NameEncoding(SLASH | CTL | DEL | DOT);
    /// The s3 remote's default: `Slash,InvalidUtf8,Dot`.
    pub const S3: NameEncoding = NameEncoding(SLASH | INVALID_UTF8 | DOT);
    /// The ftp remote's default: `Slash,Del,Ctl,RightSpace,Dot`.
    pub const FTP: NameEncoding = NameEncoding(SLASH | DEL | CTL | RIGHT_SPACE | DOT);

    /// Reads an `encoding` value as rclone writes it: flag names joined by commas
    /// (`Slash,InvalidUtf8,Dot`), `None`, `Raw`, or numbers (`0x2000002`).
    ///
    /// # Errors
    /// The part that is neither a flag name nor a number.
    pub fn parse(value: &str) -> Result<NameEncoding, String> {
        let mut bits = 0u32;
        for part in value.split(',').map(str::trim) {
            if let Some((_, b)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(part)) {
                bits |= b;
                continue;
            }
            let number = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => part.parse::<u32>(),
            };
            bits |= number.map_err(|_| {
                let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!("bad encoding {part:?}: possible values are: {}", names.join(", "))
            })?;
        }
        Ok(NameEncoding(bits))
    }

    fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    /// The FULLWIDTH-mapped character `c` is under this encoding, if it is one.
    fn fullwidth_raw(self, c: char) -> bool {
        FULLWIDTH.iter().any(|(flag, chars)| self.has(*flag) && chars.contains(&c))
    }

    /// Whether `c` is a look-alike this encoding produces anywhere in a name.
    fn is_lookalike(self, c: char) -> bool {
        (c as u32 > FULL_OFFSET && self.fullwidth_raw(unshift(c, FULL_OFFSET)))
            || (self.has(CR_LF) && (c == symbol('\r') || c == symbol('\n')))
            || (self.has(DEL) && c == DEL_SYMBOL)
            || (self.has(CTL) && (SYMBOL_NUL + 1..=SYMBOL_NUL + 0x1F).contains(&(c as u32)))
    }

    /// The look-alike for `c` anywhere in a name, if this encoding replaces it.
    fn lookalike(self, c: char) -> Option<char> {
        if self.fullwidth_raw(c) {
            Some(shift(c, FULL_OFFSET))
        } else if (self.has(CR_LF) && (c == '\r' || c == '\n')) || (self.has(CTL) && ('\u{1}'..='\u{1f}').contains(&c))
        {
            Some(symbol(c))
        } else if self.has(DEL) && c == '\u{7f}' {
            Some(DEL_SYMBOL)
        } else {
            None
        }
    }

    /// A raw name as the store keeps it (rclone's `Encode`).
    pub fn encode(self, name: &str) -> String {
        if self.0 == RAW || name.is_empty() {
            return name.to_string();
        }
        if self.has(DOT) {
            match name {
                "." => return FULL_STOP.to_string(),
                ".." => return format!("{FULL_STOP}{FULL_STOP}"),
                "\u{FF0E}" => return format!("{QUOTE}{FULL_STOP}"),
                "\u{FF0E}\u{FF0E}" => return format!("{QUOTE}{FULL_STOP}{QUOTE}{FULL_STOP}"),
                _ => {}
            }
        }
        let mut rest = name;
        let mut prefix = String::new();
        let first = rest.chars().next().unwrap_or(' ');
        let mut take_first = |to: String| {
            prefix = to;
            rest = &rest[first.len_utf8()..];
        };
        if self.has(LEFT_SPACE) && first == ' ' {
            take_first(SPACE_SYMBOL.to_string());
        } else if self.has(LEFT_SPACE) && first == SPACE_SYMBOL {
            take_first(format!("{QUOTE}{SPACE_SYMBOL}"));
        } else if self.has(LEFT_PERIOD) && first == '.' {
            take_first(FULL_STOP.to_string());
        } else if self.has(LEFT_PERIOD) && first == FULL_STOP {
            take_first(format!("{QUOTE}{FULL_STOP}"));
        } else if self.has(LEFT_TILDE) && first == '~' {
            take_first(FULL_TILDE.to_string());
        } else if self.has(LEFT_TILDE) && first == FULL_TILDE {
            take_first(format!("{QUOTE}{FULL_TILDE}"));
        } else if self.has(LEFT_CR_LF_HT_VT) && is_cr_lf_ht_vt(first) {
            take_first(symbol(first).to_string());
        } else if self.has(LEFT_CR_LF_HT_VT) && is_cr_lf_ht_vt_symbol(first) {
            take_first(format!("{QUOTE}{first}"));
        }
        let mut suffix = String::new();
        if let Some(last) = rest.chars().next_back() {
            let mut take_last = |to: String| {
                suffix = to;
                rest = &rest[..rest.len() - last.len_utf8()];
            };
            if self.has(RIGHT_SPACE) && last == ' ' {
                take_last(SPACE_SYMBOL.to_string());
            } else if self.has(RIGHT_SPACE) && last == SPACE_SYMBOL {
                take_last(format!("{QUOTE}{SPACE_SYMBOL}"));
            } else if self.has(RIGHT_PERIOD) && last == '.' {
                take_last(FULL_STOP.to_string());
            } else if self.has(RIGHT_PERIOD) && last == FULL_STOP {
                take_last(format!("{QUOTE}{FULL_STOP}"));
            } else if self.has(RIGHT_CR_LF_HT_VT) && is_cr_lf_ht_vt(last) {
                take_last(symbol(last).to_string());
            } else if self.has(RIGHT_CR_LF_HT_VT) && is_cr_lf_ht_vt_symbol(last) {
                take_last(format!("{QUOTE}{last}"));
            }
        }
        let mut out = String::with_capacity(name.len() + 8);
        out.push_str(&prefix);
        for c in rest.chars() {
            if c == '\0' {
                out.push(char::from_u32(SYMBOL_NUL).unwrap_or('\0'));
            } else if c == QUOTE || c as u32 == SYMBOL_NUL || self.is_lookalike(c) {
                out.push(QUOTE);
                out.push(c);
            } else if let Some(l) = self.lookalike(c) {
                out.push(l);
            } else {
                out.push(c);
            }
        }
        out.push_str(&suffix);
        out
    }

    /// The raw name a stored name stands for (rclone's `Decode`); bytes, as a quoted invalid
    /// UTF-8 byte (`‛FF`) decodes to itself.
    pub fn decode(self, stored: &str) -> Vec<u8> {
        if self.0 == RAW {
            return stored.as_bytes().to_vec();
        }
        if self.has(DOT) {
            match stored {
                "\u{FF0E}" => return b".".to_vec(),
                "\u{FF0E}\u{FF0E}" => return b"..".to_vec(),
                "\u{201B}\u{FF0E}" => return FULL_STOP.to_string().into_bytes(),
                "\u{201B}\u{FF0E}\u{201B}\u{FF0E}" => return format!("{FULL_STOP}{FULL_STOP}").into_bytes(),
                _ => {}
            }
        }
        let mut rest = stored;
        let mut prefix = String::new();
        let mut chars = rest.chars();
        let (first, second) = (chars.next(), chars.next());
        if let Some(r) = first {
            let l1 = r.len_utf8();
            if self.has(LEFT_SPACE) && r == SPACE_SYMBOL {
                (prefix, rest) = (" ".into(), &rest[l1..]);
            } else if self.has(LEFT_PERIOD) && r == FULL_STOP {
                (prefix, rest) = (".".into(), &rest[l1..]);
            } else if self.has(LEFT_TILDE) && r == FULL_TILDE {
                (prefix, rest) = ("~".into(), &rest[l1..]);
            } else if self.has(LEFT_CR_LF_HT_VT) && is_cr_lf_ht_vt_symbol(r) {
                (prefix, rest) = (unshift(r, SYMBOL_NUL).to_string(), &rest[l1..]);
            } else if r == QUOTE {
                if let Some(r2) = second {
                    let l = l1 + r2.len_utf8();
                    let quoted = (self.has(LEFT_SPACE) && r2 == SPACE_SYMBOL)
                        || (self.has(LEFT_PERIOD) && r2 == FULL_STOP)
                        || (self.has(LEFT_TILDE) && r2 == FULL_TILDE)
                        || (self.has(LEFT_CR_LF_HT_VT) && is_cr_lf_ht_vt_symbol(r2));
                    if quoted {
                        (prefix, rest) = (r2.to_string(), &rest[l..]);
                    }
                }
            }
        }
        let mut suffix = String::new();
        if let Some(r) = rest.chars().next_back() {
            let cut = &rest[..rest.len() - r.len_utf8()];
            let quoted = cut.ends_with(QUOTE);
            let uncut = if quoted { &cut[..cut.len() - QUOTE.len_utf8()] } else { cut };
            let plain = if self.has(RIGHT_SPACE) && r == SPACE_SYMBOL {
                Some(' ')
            } else if self.has(RIGHT_PERIOD) && r == FULL_STOP {
                Some('.')
            } else if self.has(RIGHT_CR_LF_HT_VT) && is_cr_lf_ht_vt_symbol(r) {
                Some(unshift(r, SYMBOL_NUL))
            } else {
                None
            };
            if let Some(p) = plain {
                suffix = if quoted { r.to_string() } else { p.to_string() };
                rest = uncut;
            }
        }
        let mut out: Vec<u8> = Vec::with_capacity(stored.len());
        out.extend_from_slice(prefix.as_bytes());
        let mut buf = [0u8; 4];
        let mut push = |out: &mut Vec<u8>, c: char| out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        let mut unquote_next = false;
        let mut skip_next = false;
        for (i, r) in rest.char_indices() {
            if skip_next {
                skip_next = false;
                continue;
            }
            let unquote = std::mem::take(&mut unquote_next);
            if r as u32 == SYMBOL_NUL {
                if unquote {
                    push(&mut out, r);
                } else {
                    out.push(0);
                }
                continue;
            }
            if r == QUOTE {
                if unquote {
                    push(&mut out, r);
                } else {
                    unquote_next = true;
                }
                continue;
            }
            if self.is_lookalike(r) {
                let plain = if r == DEL_SYMBOL {
                    '\u{7f}'
                } else if r as u32 > FULL_OFFSET {
                    unshift(r, FULL_OFFSET)
                } else {
                    unshift(r, SYMBOL_NUL)
                };
                push(&mut out, if unquote { r } else { plain });
                continue;
            }
            if unquote {
                if self.has(INVALID_UTF8) {
                    if let Some(byte) = rest.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        if !rest[i..i + 2].starts_with('+') {
                            out.push(byte);
                            skip_next = true;
                            continue;
                        }
                    }
                }
                push(&mut out, QUOTE);
            }
            push(&mut out, r);
        }
        if unquote_next {
            push(&mut out, QUOTE);
        }
        out.extend_from_slice(suffix.as_bytes());
        out
    }

    /// The name a client sees for a name stored under this encoding (rclone's
    /// `ToStandardName`); `None` when it is not valid UTF-8.
    pub fn to_standard(self, stored: &str) -> Option<String> {
        if self.is_identity() {
            return Some(stored.to_string());
        }
        let raw = String::from_utf8(self.decode(stored)).ok()?;
        Some(NameEncoding::STANDARD.encode(&raw))
    }

    /// The name stored for a name a client sent (rclone's `FromStandardName`).
    pub fn from_standard(self, name: &str) -> String {
        if self.is_identity() {
            return name.to_string();
        }
        // The standard decoding of UTF-8 is UTF-8: it has no quoted bytes.
        let raw = String::from_utf8_lossy(&NameEncoding::STANDARD.decode(name)).into_owned();
        self.encode(&raw)
    }

    /// A `/`-separated path of client names as stored, one part at a time.
    pub fn from_standard_path(self, path: &str) -> String {
        if self.is_identity() {
            return path.to_string();
        }
        path.split('/').map(|part| self.from_standard(part)).collect::<Vec<_>>().join("/")
    }

    /// Whether names go through unchanged (`Raw`, or the standard encoding itself).
    pub fn is_identity(self) -> bool {
        self.0 == RAW || self == NameEncoding::STANDARD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(e: NameEncoding, s: &str) -> String {
        String::from_utf8_lossy(&e.decode(s)).into_owned()
    }

    #[test]
    fn dots_and_quotes_round_trip() {
        let e = NameEncoding::S3;
        assert_eq!(e.encode("."), "．");
        assert_eq!(e.encode(".."), "．．");
        assert_eq!(e.encode("．"), "‛．");
        assert_eq!(e.encode("a/b"), "a／b");
        assert_eq!(e.encode("a／b"), "a‛／b");
        assert_eq!(e.encode("it‛s"), "it‛‛s");
        assert_eq!(e.encode("a\0b"), "a␀b");
        for name in [".", "..", "．", "a/b", "a／b", "it‛s", "a␀b", "plain name.txt", "ü ö"] {
            assert_eq!(dec(e, &e.encode(name)), name, "{name:?}");
        }
    }

    #[test]
    fn invalid_utf8_bytes_are_quoted_hex() {
        assert_eq!(NameEncoding::S3.decode("a‛FFb"), b"a\xffb");
        assert_eq!(NameEncoding::S3.decode("a‛ffb"), b"a\xffb");
        // Without the flag the quote stays.
        assert_eq!(NameEncoding::STANDARD.decode("a‛FFb"), "a‛FFb".as_bytes());
        assert_eq!(NameEncoding::S3.to_standard("a‛FFb"), None);
    }

    #[test]
    fn ftp_encoding_keeps_trailing_space_and_controls() {
        let e = NameEncoding::FTP;
        assert_eq!(e.encode("report "), "report␠");
        assert_eq!(e.encode("report␠"), "report‛␠");
        assert_eq!(e.encode("a\u{1}b\u{7f}"), "a␁b␡");
        assert_eq!(dec(e, "report␠"), "report ");
        assert_eq!(dec(e, "report‛␠"), "report␠");
        assert_eq!(dec(e, "a␁b␡"), "a\u{1}b\u{7f}");
        // What a client sees: the standard names (controls as their symbols).
        assert_eq!(e.to_standard("report␠").as_deref(), Some("report "));
        assert_eq!(e.from_standard("report "), "report␠");
        assert_eq!(e.from_standard_path("/a /b "), "/a␠/b␠");
        assert_eq!(e.to_standard("a␁b").as_deref(), Some("a␁b"));
    }

    #[test]
    fn standard_names_of_s3_keys() {
        let e = NameEncoding::S3;
        // Common names are the same both ways.
        for name in ["a b.txt", "日本語／ファイル", "x．", "．hidden"] {
            assert_eq!(e.from_standard(name), name);
            assert_eq!(e.to_standard(name).as_deref(), Some(name));
        }
        // A control character in a key is shown as its symbol, and stored back as it was.
        assert_eq!(e.to_standard("a\u{1}b").as_deref(), Some("a␁b"));
        assert_eq!(e.from_standard("a␁b"), "a\u{1}b");
        // A key named "." is shown as "．".
        assert_eq!(e.to_standard(".").as_deref(), Some("．"));
    }

    #[test]
    fn left_and_right_classes() {
        let e = NameEncoding::parse("LeftSpace,LeftPeriod,LeftTilde,RightPeriod,RightCrLfHtVt").expect("flags");
        assert_eq!(e.encode(" a"), "␠a");
        assert_eq!(e.encode(".a"), "．a");
        assert_eq!(e.encode("~a"), "～a");
        assert_eq!(e.encode("a."), "a．");
        assert_eq!(e.encode("a\t"), "a␉");
        assert_eq!(e.encode("～a"), "‛～a");
        for name in [" a", ".a", "~a", "a.", "a\t", "～a", "a．", " "] {
            assert_eq!(dec(e, &e.encode(name)), name, "{name:?}");
        }
    }

    #[test]
    fn parse_names_and_numbers() {
        assert_eq!(NameEncoding::parse("Slash,InvalidUtf8,Dot"), Ok(NameEncoding::S3));
        assert_eq!(NameEncoding::parse("0x2000002, InvalidUtf8"), Ok(NameEncoding::S3));
        assert_eq!(NameEncoding::parse("Raw").map(NameEncoding::is_identity), Ok(true));
        assert!(NameEncoding::parse("Slash,Nope").is_err());
    }

    #[test]
    fn fullwidth_classes() {
        let e = NameEncoding::parse("Colon,Question,Asterisk,LtGt,Pipe,DoubleQuote,BackSlash").expect("flags");
        assert_eq!(e.encode("a:b?c*<d>|\"\\"), "a：b？c＊＜d＞｜＂＼");
        assert_eq!(e.encode("a：b"), "a‛：b");
        assert_eq!(dec(e, "a：b？c＊"), "a:b?c*");
        assert_eq!(dec(e, "a‛：b"), "a：b");
    }
}
