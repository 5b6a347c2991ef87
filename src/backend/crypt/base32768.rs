//! rclone's `filename_encoding = base32768` for crypt names: the base32768 of
//! github.com/Max-Sum/base32768 (`SafeEncoding`, the alphabet of qntm's base32768), which
//! packs 15 bits into each UTF-16 code unit, so encrypted names stay short on remotes that
//! count name length in UTF-16 units (OneDrive). The alphabet is 1,028 blocks of 32 code
//! points; the four lowest blocks carry the last 7 bits of an odd tail, the other 1,024 carry
//! 15 bits; a tail is padded with 1 bits.

/// The blocks of the alphabet, as runs of block starts (each run steps by 32).
const RUNS: [(u16, u16); 54] = [
    (0x0180, 0x0180),
    (0x0240, 0x0280),
    (0x04a0, 0x04a0),
    (0x0500, 0x0500),
    (0x0680, 0x06a0),
    (0x0760, 0x0780),
    (0x07c0, 0x07c0),
    (0x1000, 0x1000),
    (0x10a0, 0x10a0),
    (0x1100, 0x1140),
    (0x1180, 0x1180),
    (0x11e0, 0x1220),
    (0x1260, 0x1260),
    (0x12e0, 0x12e0),
    (0x1320, 0x1320),
    (0x13a0, 0x13c0),
    (0x1420, 0x1640),
    (0x16a0, 0x16c0),
    (0x1780, 0x1780),
    (0x1820, 0x1840),
    (0x18c0, 0x18c0),
    (0x1980, 0x1980),
    (0x19e0, 0x19e0),
    (0x1a20, 0x1a20),
    (0x1bc0, 0x1bc0),
    (0x1c00, 0x1c00),
    (0x1d00, 0x1d00),
    (0x21e0, 0x21e0),
    (0x22c0, 0x22c0),
    (0x2340, 0x23c0),
    (0x2400, 0x2400),
    (0x2500, 0x2740),
    (0x2780, 0x27a0),
    (0x2800, 0x2960),
    (0x29a0, 0x29a0),
    (0x2a20, 0x2a40),
    (0x2a80, 0x2aa0),
    (0x2ae0, 0x2b40),
    (0x2c00, 0x2c00),
    (0x2c80, 0x2cc0),
    (0x2d00, 0x2d00),
    (0x2d40, 0x2d40),
    (0x2ea0, 0x2ec0),
    (0x31c0, 0x31c0),
    (0x3400, 0x4d80),
    (0x4dc0, 0x9fa0),
    (0xa000, 0xa460),
    (0xa4a0, 0xa4a0),
    (0xa500, 0xa5e0),
    (0xa640, 0xa640),
    (0xa6a0, 0xa6c0),
    (0xa700, 0xa740),
    (0xa780, 0xa780),
    (0xa840, 0xa840),
];

/// The block starts, lowest first: 4 for 7-bit tails, then 1,024 for 15-bit units.
fn blocks() -> Vec<u16> {
    RUNS.iter().flat_map(|&(first, last)| (first..=last).step_by(32)).collect()
}

/// Encodes bytes as base32768 text.
pub fn encode(data: &[u8]) -> String {
    let blocks = blocks();
    let (tails, units) = blocks.split_at(4);
    let unit = |bits: u16| units[usize::from((bits & 0x7fff) >> 5)] | (bits & 31);
    let mut out = String::with_capacity(data.len() * 2);
    let push = |out: &mut String, code: u16| out.push(char::from_u32(u32::from(code)).unwrap_or('\u{fffd}'));
    let (mut left, mut left_bits) = (0u16, 0u32);
    let mut rest = data;
    while let Some((&first, after)) = rest.split_first() {
        let mut chunk = (left << (15 - left_bits)) | (u16::from(first) << (7 - left_bits));
        match after.split_first() {
            Some((&second, after_two)) if left_bits < 7 => {
                chunk |= u16::from(second) >> (1 + left_bits);
                left = u16::from(second) & ((1 << (1 + left_bits)) - 1);
                left_bits += 1;
                rest = after_two;
            }
            _ => {
                chunk |= (1 << (7 - left_bits)) - 1;
                (left, left_bits) = (0, 0);
                rest = after;
            }
        }
        push(&mut out, unit(chunk));
    }
    if left_bits > 0 {
        let tail = (left << (7 - left_bits)) | ((1 << (7 - left_bits)) - 1);
        push(&mut out, tails[usize::from((tail & 0x7f) >> 5)] | (tail & 31));
    }
    out
}

/// Decodes base32768 text, as rclone's library does (a 7-bit tail ends the data).
///
/// # Errors
/// A character outside the alphabet.
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let blocks = blocks();
    let splitter = blocks[4];
    // Block start -> its value (index in its table, times 32).
    let value = |code: u16| -> Option<u16> {
        let start = code & !31;
        match blocks.binary_search(&start) {
            Ok(i) if i < 4 => Some((i as u16) << 5 | (code & 31)),
            Ok(i) => Some(((i - 4) as u16) << 5 | (code & 31)),
            Err(_) => None,
        }
    };
    let mut out = Vec::with_capacity(text.len());
    let (mut left, mut left_bits) = (0u16, 0u32);
    for c in text.chars().filter(|c| !matches!(c, '\r' | '\n')) {
        let code = u16::try_from(u32::from(c)).map_err(|_| format!("illegal base32768 character {c:?}"))?;
        let d = value(code).ok_or_else(|| format!("illegal base32768 character {c:?}"))?;
        if code < splitter {
            if left_bits > 0 {
                out.push(((left << (8 - left_bits)) | (d >> (left_bits - 1))) as u8);
            }
            return Ok(out);
        }
        if left_bits > 0 {
            out.push(((left << (8 - left_bits)) | (d >> (7 + left_bits))) as u8);
            out.push((d >> (left_bits - 1)) as u8);
            left = d & ((1 << (left_bits - 1)) - 1);
            left_bits -= 1;
        } else {
            out.push((d >> 7) as u8);
            left = d & 0x7f;
            left_bits = 7;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_1028_blocks_and_every_length_round_trips() {
        let blocks = blocks();
        assert_eq!(blocks.len(), 1028);
        assert!(blocks.windows(2).all(|w| w[0] < w[1]) && blocks.iter().all(|b| b % 32 == 0));
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..data.len() {
            let text = encode(&data[..len]);
            assert_eq!(text.chars().count(), (8 * len).div_ceil(15), "{len}");
            assert_eq!(decode(&text).unwrap(), &data[..len], "{len}");
        }
        assert!(decode("abc").is_err());
    }
}
