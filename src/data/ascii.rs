//! TYPE A line-end conversion (RFC 959 §3.1.1.1): LF becomes CRLF on the way out, CRLF becomes
//! LF on the way in. Both work in place on the transfer buffer and carry one byte of state
//! across buffer boundaries, so a CRLF split between two reads is still one line end.

/// LF → CRLF for downloads. A LF already preceded by CR is left alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct ToCrlf {
    prev_cr: bool,
}

impl ToCrlf {
    /// Expands `buf` in place (it may grow up to twice its length).
    pub fn convert(&mut self, buf: &mut Vec<u8>) {
        let mut prev = self.prev_cr;
        let mut extra = 0;
        for &b in buf.iter() {
            if b == b'\n' && !prev {
                extra += 1;
            }
            prev = b == b'\r';
        }
        if extra == 0 {
            self.prev_cr = prev;
            return;
        }
        let old_len = buf.len();
        buf.resize(old_len + extra, 0);
        let (mut r, mut w) = (old_len, old_len + extra);
        while r > 0 {
            r -= 1;
            let b = buf[r];
            w -= 1;
            buf[w] = b;
            let before_is_cr = if r > 0 { buf[r - 1] == b'\r' } else { self.prev_cr };
            if b == b'\n' && !before_is_cr {
                w -= 1;
                buf[w] = b'\r';
            }
        }
        self.prev_cr = prev;
    }
}

/// CRLF → LF for uploads. A CR at the end of a buffer is held until the next byte is seen.
#[derive(Debug, Default, Clone, Copy)]
pub struct FromCrlf {
    pending_cr: bool,
}

impl FromCrlf {
    /// Compacts `buf[..len]` in place and returns the new length. A held CR from the previous
    /// buffer is written back first when it turns out not to start a CRLF.
    pub fn convert(&mut self, buf: &mut Vec<u8>, len: usize) -> usize {
        buf.truncate(len);
        if self.pending_cr && buf.first() != Some(&b'\n') {
            buf.insert(0, b'\r');
        }
        self.pending_cr = false;
        let n = buf.len();
        let mut w = 0;
        for r in 0..n {
            let b = buf[r];
            if b == b'\r' {
                if r + 1 == n {
                    self.pending_cr = true;
                    continue;
                }
                if buf[r + 1] == b'\n' {
                    continue;
                }
            }
            buf[w] = b;
            w += 1;
        }
        buf.truncate(w);
        w
    }

    /// What remains at the end of the upload: a lone CR that was held.
    pub fn finish(&mut self) -> &'static [u8] {
        if std::mem::take(&mut self.pending_cr) {
            b"\r"
        } else {
            b""
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_becomes_crlf_across_chunks() {
        let mut c = ToCrlf::default();
        let mut a = b"a\nb\r".to_vec();
        c.convert(&mut a);
        let mut b = b"\nc\n".to_vec();
        c.convert(&mut b);
        assert_eq!([a, b].concat(), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn crlf_becomes_lf_across_chunks() {
        let mut c = FromCrlf::default();
        let mut out = Vec::new();
        for chunk in [&b"a\r\nb\r"[..], b"\nc\r", b"d\r"] {
            let mut v = chunk.to_vec();
            let n = c.convert(&mut v, chunk.len());
            out.extend_from_slice(&v[..n]);
        }
        out.extend_from_slice(c.finish());
        assert_eq!(out, b"a\nb\nc\rd\r");
    }
}
