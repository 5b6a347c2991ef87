//! rclone's crypt data format: keys from scrypt, the 32-byte header (`RCLONE\0\0` and a 24-byte
//! nonce), 64 KiB blocks sealed with NaCl secretbox (XSalsa20-Poly1305, the 16-byte tag
//! first) under a nonce that counts up by one per block, and the size arithmetic between a
//! plaintext and its encrypted file.

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;

/// The magic that starts every encrypted file.
pub const MAGIC: &[u8; 8] = b"RCLONE\x00\x00";
/// Magic plus nonce.
pub const HEADER_SIZE: u64 = 32;
/// Plaintext bytes per block.
pub const BLOCK_DATA: u64 = 65536;
/// The Poly1305 tag before each block.
pub const BLOCK_OVERHEAD: u64 = 16;
/// A whole encrypted block.
pub const BLOCK_SIZE: u64 = BLOCK_DATA + BLOCK_OVERHEAD;

/// rclone's salt when `password2` is empty.
const DEFAULT_SALT: [u8; 16] =
    [0xA8, 0x0D, 0xF4, 0x3A, 0x8F, 0xBD, 0x03, 0x08, 0xA7, 0xCA, 0xB8, 0x3E, 0x58, 0x1F, 0x86, 0xB1];

/// The three keys scrypt gives: for data, for names (AES-256 in EME), and the EME tweak.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    /// secretbox key.
    pub data: [u8; 32],
    /// AES-256 key of the name cipher.
    pub name: [u8; 32],
    /// EME tweak.
    pub tweak: [u8; 16],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(****)")
    }
}

impl Keys {
    /// `scrypt(password, salt, N=16384, r=8, p=1)` into 80 bytes, split as rclone splits them;
    /// `salt` is `password2` (empty: rclone's default salt). An empty password gives zero
    /// keys, as in rclone (whose config refuses it).
    pub fn derive(password: &str, salt: &str) -> Keys {
        let mut out = [0u8; 80];
        if !password.is_empty() {
            let salt = if salt.is_empty() { &DEFAULT_SALT[..] } else { salt.as_bytes() };
            // SAFETY of the expect: these parameters are valid constants (log2 N = 14; the length
            // is only for password hashes, the output slice sets ours).
            #[allow(clippy::expect_used)]
            let params = scrypt::Params::new(14, 8, 1, 32).expect("valid scrypt parameters");
            #[allow(clippy::expect_used)]
            scrypt::scrypt(password.as_bytes(), salt, &params, &mut out).expect("80 bytes is a valid output length");
        }
        let mut keys = Keys { data: [0; 32], name: [0; 32], tweak: [0; 16] };
        keys.data.copy_from_slice(&out[..32]);
        keys.name.copy_from_slice(&out[32..64]);
        keys.tweak.copy_from_slice(&out[64..80]);
        keys
    }
}

/// A 24-byte nonce, a little-endian counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonce(pub [u8; 24]);

impl Nonce {
    /// Adds one (carrying from byte 0 up; all ones wraps to zero).
    pub fn increment(&mut self) {
        for b in self.0.iter_mut() {
            *b = b.wrapping_add(1);
            if *b != 0 {
                return;
            }
        }
    }

    /// Adds `x` (for a seek by `x` blocks).
    pub fn add(&mut self, x: u64) {
        let mut carry = 0u16;
        for (i, b) in self.0.iter_mut().enumerate() {
            let add = if i < 8 { (x >> (8 * i)) as u8 as u16 } else { 0 };
            let sum = *b as u16 + add + carry;
            *b = sum as u8;
            carry = sum >> 8;
            if i >= 8 && carry == 0 {
                return;
            }
        }
    }
}

/// The encrypted size of `n` plaintext bytes.
pub fn encrypted_size(n: u64) -> u64 {
    let rest = n % BLOCK_DATA;
    HEADER_SIZE + (n / BLOCK_DATA) * BLOCK_SIZE + if rest > 0 { BLOCK_OVERHEAD + rest } else { 0 }
}

/// The plaintext size of an encrypted file of `s` bytes.
///
/// # Errors
/// A size no encrypted file can have.
pub fn decrypted_size(s: u64) -> Result<u64, &'static str> {
    if s < HEADER_SIZE {
        return Err("file is too short to be encrypted");
    }
    let body = s - HEADER_SIZE;
    let rest = body % BLOCK_SIZE;
    if rest > 0 && rest <= BLOCK_OVERHEAD {
        return Err("file has truncated block header");
    }
    Ok((body / BLOCK_SIZE) * BLOCK_DATA + if rest > 0 { rest - BLOCK_OVERHEAD } else { 0 })
}

/// Seals and opens blocks under the data key.
pub struct BlockCipher {
    aead: XSalsa20Poly1305,
}

impl BlockCipher {
    /// The cipher for `keys.data`.
    pub fn new(keys: &Keys) -> BlockCipher {
        BlockCipher { aead: XSalsa20Poly1305::new((&keys.data).into()) }
    }

    /// Seals `plain` (at most one block) into `out` as tag, then ciphertext.
    pub fn seal(&self, nonce: &Nonce, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; BLOCK_OVERHEAD as usize]);
        out.extend_from_slice(plain);
        let body = &mut out[start + BLOCK_OVERHEAD as usize..];
        // SAFETY of the expect: secretbox encryption fails only past 2^38 bytes; a block is 64 KiB.
        #[allow(clippy::expect_used)]
        let tag = self.aead.encrypt_in_place_detached((&nonce.0).into(), b"", body).expect("a block is small enough");
        out[start..start + BLOCK_OVERHEAD as usize].copy_from_slice(&tag);
    }

    /// Opens one sealed block (tag, then ciphertext) in place; returns the plaintext's length.
    ///
    /// # Errors
    /// The block is too short or fails authentication.
    pub fn open(&self, nonce: &Nonce, block: &mut [u8]) -> Result<usize, &'static str> {
        if block.len() <= BLOCK_OVERHEAD as usize {
            return Err("file has truncated block header");
        }
        let (tag, body) = block.split_at_mut(BLOCK_OVERHEAD as usize);
        let tag = crypto_secretbox::Tag::clone_from_slice(tag);
        self.aead
            .decrypt_in_place_detached((&nonce.0).into(), b"", body, &tag)
            .map_err(|_| "failed to authenticate decrypted block - bad password?")?;
        let n = body.len();
        block.copy_within(BLOCK_OVERHEAD as usize.., 0);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rclones_key_vectors() {
        let k = Keys::derive("potato", "");
        assert_eq!(hex(&k.data), "7455c71ab17c865b8471f47b79acb07eb31d5678b80c7e2eaf4fc8066a9ee468");
        assert_eq!(hex(&k.name), "765da27ab15d77f95796711f7b93ad63bbb484072e7180a8d17a9bbec14270d0");
        assert_eq!(hex(&k.tweak), "c18d5932f55b2828c5e1e87215520310");
        let k = Keys::derive("potato", "sausage");
        assert_eq!(hex(&k.data), "8e9b6b99f8690467a071f9cb92d0aa787f8ff178bec96f999fd5206e644a1b50");
        assert_eq!(hex(&k.name), "3ea95ef681782dc9d9955d225bfd442c6f5d6897b029015c6f462e2a9dae2ce3");
        assert_eq!(hex(&k.tweak), "f17fd7141d65274f363fc2a04dd2148a");
        assert_eq!(Keys::derive("", ""), Keys { data: [0; 32], name: [0; 32], tweak: [0; 16] });
    }

    #[test]
    fn rclones_data_vectors() {
        let c = BlockCipher::new(&Keys::derive("", ""));
        let mut nonce = [0u8; 24];
        for (i, b) in nonce.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        let nonce = Nonce(nonce);
        let mut out = Vec::new();
        c.seal(&nonce, &[1], &mut out);
        assert_eq!(hex(&out), "095b446cd6237bbcb08d09fb524ce565aa");
        let mut out = Vec::new();
        let plain: Vec<u8> = (1..=16).collect();
        c.seal(&nonce, &plain, &mut out);
        assert_eq!(hex(&out), "b9c4552a2710062918960a3e608c29b9aa8a5e1e165b6d075de4e9bb367fd6d4");
        let n = c.open(&nonce, &mut out).unwrap();
        assert_eq!(&out[..n], &plain[..]);
        out[20] ^= 1;
        assert!(c.open(&nonce, &mut out).is_err(), "a changed byte fails authentication");
    }

    /// The secretbox work alone, for the crypt benchmark: seal and open 256 MiB in 64 KiB
    /// blocks and print the CPU per GiB (`cargo test --release --lib -- --ignored --nocapture
    /// secretbox_cost`). Prints, asserts nothing.
    #[test]
    #[ignore]
    fn secretbox_cost() {
        let c = BlockCipher::new(&Keys::derive("bench", ""));
        let plain = vec![7u8; BLOCK_DATA as usize];
        let nonce = Nonce([3; 24]);
        let mut sealed = Vec::with_capacity(BLOCK_SIZE as usize);
        let blocks = 4096u32; // 256 MiB
        let t = std::time::Instant::now();
        for _ in 0..blocks {
            sealed.clear();
            c.seal(&nonce, &plain, &mut sealed);
        }
        let seal = t.elapsed().as_secs_f64() * 4.0;
        let mut block = sealed.clone();
        let t = std::time::Instant::now();
        for _ in 0..blocks {
            block.clear();
            block.extend_from_slice(&sealed);
            assert!(c.open(&nonce, &mut block).is_ok());
        }
        let open = t.elapsed().as_secs_f64() * 4.0;
        println!("secretbox: seal {seal:.2} s/GiB, open {open:.2} s/GiB");
    }

    #[test]
    fn sizes_and_nonces() {
        for (plain, enc) in [(0, 32), (1, 49), (65536, 65584), (65537, 65601), (1 << 20, 1048864)] {
            assert_eq!(encrypted_size(plain), enc);
            assert_eq!(decrypted_size(enc), Ok(plain));
        }
        for bad in [0, 1, 7, 33, 48, 65585, 65600] {
            assert!(decrypted_size(bad).is_err(), "{bad}");
        }
        let mut n = Nonce([0; 24]);
        n.0[0] = 0xFF;
        n.add(0xFF);
        assert_eq!(&n.0[..2], &[0xFE, 0x01]);
        let mut n = Nonce([0xFF; 24]);
        n.increment();
        assert_eq!(n, Nonce([0; 24]));
    }
}
