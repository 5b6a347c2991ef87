//! rclone's crypt name encryption, one path segment at a time. `standard`: PKCS#7 padding to
//! 16 bytes, EME (a wide-block mode over AES-256, so equal names under the same key give equal
//! ciphertexts and a name's length shows only to 16 bytes), then lower-case base32hex without
//! padding (or base64url); `obfuscate`: rclone's rotation cipher; `off`: the name and a suffix.
//! A name that does not decrypt is an error for the caller to skip or report.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes256;
use base64::Engine;

use super::cipher::Keys;

/// The longest decoded name EME takes (128 blocks).
const MAX_NAME_BYTES: usize = 2048;

/// How names are encrypted (`filename_encryption`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMode {
    /// EME over AES-256, then an encoding.
    Standard(Encoding),
    /// rclone's rotation cipher.
    Obfuscate,
    /// Names as they are, files with a suffix (`.bin`, or none).
    Off(String),
}

/// `filename_encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// base32hex, lower case, no padding.
    Base32,
    /// base64url, no padding.
    Base64,
    /// base32768 (15 bits per UTF-16 unit: shorter names on remotes that count those).
    Base32768,
}

/// Encrypts and decrypts name segments.
pub struct NameCipher {
    aes: Aes256,
    tweak: [u8; 16],
    key_sum: u32,
    /// The mode.
    pub mode: NameMode,
}

impl NameCipher {
    /// The cipher for `keys` in `mode`.
    pub fn new(keys: &Keys, mode: NameMode) -> NameCipher {
        NameCipher {
            aes: Aes256::new((&keys.name).into()),
            tweak: keys.tweak,
            key_sum: keys.name.iter().map(|b| *b as u32).sum(),
            mode,
        }
    }

    /// The stored form of one segment (`is_file`: the suffix of mode off applies).
    pub fn encrypt(&self, segment: &str, is_file: bool) -> String {
        match &self.mode {
            NameMode::Standard(enc) => {
                let mut data = segment.as_bytes().to_vec();
                let pad = 16 - data.len() % 16;
                data.extend(std::iter::repeat_n(pad as u8, pad));
                let sealed = eme(&self.aes, &self.tweak, &data, true);
                match enc {
                    Encoding::Base32 => base32hex_encode(&sealed),
                    Encoding::Base64 => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed),
                    Encoding::Base32768 => super::base32768::encode(&sealed),
                }
            }
            NameMode::Obfuscate => obfuscate(segment, self.key_sum),
            NameMode::Off(suffix) if is_file => format!("{segment}{suffix}"),
            NameMode::Off(_) => segment.to_string(),
        }
    }

    /// The plaintext of one stored segment.
    ///
    /// # Errors
    /// A name this key and mode did not make.
    pub fn decrypt(&self, stored: &str, is_file: bool) -> Result<String, String> {
        match &self.mode {
            NameMode::Standard(enc) => {
                let data = match enc {
                    Encoding::Base32 => base32hex_decode(stored)?,
                    Encoding::Base64 => base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(stored)
                        .map_err(|e| format!("bad base64 filename encoding: {e}"))?,
                    Encoding::Base32768 => super::base32768::decode(stored)?,
                };
                if data.is_empty() {
                    return Err("too short after base32 decode".into());
                }
                if data.len() > MAX_NAME_BYTES {
                    return Err("too long after base32 decode".into());
                }
                if data.len() % 16 != 0 {
                    return Err("not a multiple of blocksize".into());
                }
                let plain = eme(&self.aes, &self.tweak, &data, false);
                let pad = *plain.last().unwrap_or(&0) as usize;
                if pad == 0
                    || pad > 16
                    || pad > plain.len()
                    || !plain[plain.len() - pad..].iter().all(|b| *b as usize == pad)
                {
                    return Err("bad PKCS#7 padding".into());
                }
                String::from_utf8(plain[..plain.len() - pad].to_vec())
                    .map_err(|_| "decrypted name is not UTF-8".to_string())
            }
            NameMode::Obfuscate => deobfuscate(stored, self.key_sum),
            NameMode::Off(suffix) if is_file => match stored.strip_suffix(suffix.as_str()) {
                Some(rest) if !rest.is_empty() => Ok(rest.to_string()),
                _ => Err("not an encrypted file - does not match suffix".into()),
            },
            NameMode::Off(_) => Ok(stored.to_string()),
        }
    }
}

/// GF(2^128) doubling on little-endian bytes, as EME uses it.
fn double(b: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[0] = b[0] << 1;
    if b[15] >= 128 {
        out[0] ^= 135;
    }
    for j in 1..16 {
        out[j] = (b[j] << 1) | (b[j - 1] >> 7);
    }
    out
}

fn xor(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for i in 0..16 {
        out[i] = a[i] ^ b[i];
    }
    out
}

fn aes_block(aes: &Aes256, block: &[u8; 16], encrypt: bool) -> [u8; 16] {
    let mut b = aes::Block::clone_from_slice(block);
    if encrypt {
        aes.encrypt_block(&mut b);
    } else {
        aes.decrypt_block(&mut b);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&b);
    out
}

/// EME (Halevi-Rogaway), as rfjakob/eme does it: `data` is 1 to 128 blocks of 16 bytes.
fn eme(aes: &Aes256, tweak: &[u8; 16], data: &[u8], encrypt: bool) -> Vec<u8> {
    let m = data.len() / 16;
    let block = |j: usize| -> [u8; 16] {
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[j * 16..j * 16 + 16]);
        b
    };
    // L_0 = 2 * E(0) (always the encryption), L_j = 2 * L_{j-1}.
    let mut l = Vec::with_capacity(m);
    let mut li = aes_block(aes, &[0u8; 16], true);
    for _ in 0..m {
        li = double(&li);
        l.push(li);
    }
    let mut c: Vec<[u8; 16]> = (0..m).map(|j| aes_block(aes, &xor(&block(j), &l[j]), encrypt)).collect();
    let mut mp = xor(&c[0], tweak);
    for cj in c.iter().skip(1) {
        mp = xor(&mp, cj);
    }
    let mc = aes_block(aes, &mp, encrypt);
    let mut mm = xor(&mp, &mc);
    for cj in c.iter_mut().skip(1) {
        mm = double(&mm);
        *cj = xor(cj, &mm);
    }
    let mut ccc0 = xor(&mc, tweak);
    for cj in c.iter().skip(1) {
        ccc0 = xor(&ccc0, cj);
    }
    c[0] = ccc0;
    let mut out = Vec::with_capacity(data.len());
    for (j, cj) in c.iter().enumerate() {
        out.extend_from_slice(&xor(&aes_block(aes, cj, encrypt), &l[j]));
    }
    out
}

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// RFC 4648 base32hex, lower case, no padding.
pub fn base32hex_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(BASE32HEX[((v >> (35 - 5 * i)) & 31) as usize] as char);
        }
    }
    out
}

/// Decodes base32hex in any case, without padding (a `=` is refused, as rclone refuses it).
///
/// # Errors
/// A character outside the alphabet, or a length no encoding gives.
pub fn base32hex_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u64, 0u32);
    for (i, c) in text.bytes().enumerate() {
        let v = match c.to_ascii_lowercase() {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'a'..=b'v' => l - b'a' + 10,
            _ => return Err(format!("illegal base32 data at input byte {i}")),
        };
        acc = (acc << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if !matches!(text.len() % 8, 0 | 2 | 4 | 5 | 7) || acc != 0 {
        return Err("bad base32 filename encoding".into());
    }
    Ok(out)
}

/// rclone's `obfuscate` for one segment.
fn obfuscate(plain: &str, key_sum: u32) -> String {
    let dir: u32 = plain.chars().map(|c| c as u32).sum::<u32>() % 256;
    let mut out = format!("{dir}.");
    let rot = dir.wrapping_add(key_sum);
    for c in plain.chars() {
        let cp = c as u32;
        let shifted = match cp {
            0x21 if c == '!' => {
                out.push_str("!!");
                continue;
            }
            0x30..=0x39 => Some(0x30 + (cp - 0x30 + rot % 9 + 1) % 10),
            0x41..=0x5A | 0x61..=0x7A => {
                let idx = if cp >= 0x61 { cp - 0x61 + 26 } else { cp - 0x41 };
                let n = (idx + rot % 25 + 1) % 52;
                Some(if n >= 26 { 0x61 + n - 26 } else { 0x41 + n })
            }
            0xA0..=0xFF => Some(0xA0 + (cp - 0xA0 + rot % 95 + 1) % 96),
            0x100.. => {
                let base = cp - cp % 256;
                let n = base + (cp - base + rot % 127 + 1) % 256;
                match char::from_u32(n) {
                    Some(_) => Some(n),
                    None => {
                        out.push('!');
                        out.push(c);
                        continue;
                    }
                }
            }
            _ => None,
        };
        match shifted.and_then(char::from_u32) {
            Some(s) => out.push(s),
            None => out.push(c),
        }
    }
    out
}

/// The inverse of [`obfuscate`].
fn deobfuscate(stored: &str, key_sum: u32) -> Result<String, String> {
    let bad = || "not an encrypted file - does not match suffix".to_string();
    if let Some(rest) = stored.strip_prefix("!.") {
        return Ok(rest.to_string());
    }
    let (num, text) = stored.split_once('.').ok_or_else(bad)?;
    let dir: u32 = num.parse().map_err(|_| bad())?;
    let rot = dir.wrapping_add(key_sum);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '!' {
            out.push(chars.next().ok_or_else(bad)?);
            continue;
        }
        let cp = c as u32;
        let back = match cp {
            0x30..=0x39 => Some(0x30 + (cp - 0x30 + 10 - (rot % 9 + 1)) % 10),
            0x41..=0x5A | 0x61..=0x7A => {
                let idx = if cp >= 0x61 { cp - 0x61 + 26 } else { cp - 0x41 };
                let n = (idx + 52 - (rot % 25 + 1)) % 52;
                Some(if n >= 26 { 0x61 + n - 26 } else { 0x41 + n })
            }
            0xA0..=0xFF => Some(0xA0 + (cp - 0xA0 + 96 - (rot % 95 + 1)) % 96),
            0x100.. => {
                let base = cp - cp % 256;
                Some(base + (cp - base + 256 - (rot % 127 + 1)) % 256)
            }
            _ => None,
        };
        match back.and_then(char::from_u32) {
            Some(b) => out.push(b),
            None => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn zero(mode: NameMode) -> NameCipher {
        NameCipher::new(&Keys::derive("", ""), mode)
    }

    #[test]
    fn eme_vector() {
        let aes = Aes256::new(&[0u8; 32].into());
        let out = eme(&aes, &[0u8; 16], &[0u8; 16], true);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "f1b9ce8ca15a4ba9fb476905434b9fd3");
        assert_eq!(eme(&aes, &[0u8; 16], &out, false), vec![0u8; 16]);
    }

    #[test]
    fn rclones_standard_name_vectors() {
        let c = zero(NameMode::Standard(Encoding::Base32));
        for (plain, enc) in [
            ("1", "p0e52nreeaj0a5ea7s64m4j72s"),
            ("12", "l42g6771hnv3an9cgc8cr2n1ng"),
            ("123", "qgm4avr35m5loi1th53ato71v0"),
            ("1234567890123456", "mijbj0frqf6ms7frcr6bd9h0env53jv96pjaaoirk7forcgpt70g"),
        ] {
            assert_eq!(c.encrypt(plain, true), enc);
            assert_eq!(c.decrypt(enc, true).unwrap(), plain);
            assert_eq!(c.decrypt(&enc.to_ascii_uppercase(), true).unwrap(), plain, "case-insensitive");
        }
        let b64 = zero(NameMode::Standard(Encoding::Base64));
        assert_eq!(b64.encrypt("1", true), "yBxRX25ypgUVyj8MSxJnFw");
        assert_eq!(b64.decrypt("yBxRX25ypgUVyj8MSxJnFw", true).unwrap(), "1");
        assert_eq!(base32hex_encode(b"12345"), "64p36d1l");
        assert!(base32hex_decode("64=").is_err());
        assert!(c.decrypt("!", true).is_err() && c.decrypt("", true).is_err() && c.decrypt("64p36d1l", true).is_err());
    }

    #[test]
    fn rclones_obfuscate_and_off_vectors() {
        let c = zero(NameMode::Obfuscate);
        for (plain, enc) in [
            ("1", "49.6"),
            ("12", "99.23"),
            ("123", "150.890"),
            ("!hello", "53.!!lipps"),
            ("¡", "161.ä"),
            ("Π", "160.ς"),
        ] {
            assert_eq!(c.encrypt(plain, true), enc, "{plain}");
            assert_eq!(c.decrypt(enc, true).unwrap(), plain, "{enc}");
        }
        assert_eq!(c.decrypt("!.hello", true).unwrap(), "hello");
        let off = zero(NameMode::Off(".bin".into()));
        assert_eq!(off.encrypt("123", true), "123.bin");
        assert_eq!(off.encrypt("dir", false), "dir");
        assert_eq!(off.decrypt("123.bin", true).unwrap(), "123");
        assert!(off.decrypt(".bin", true).is_err() && off.decrypt("123.bix", true).is_err());
    }
}
