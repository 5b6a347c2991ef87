//! `LineFramer`: cuts the control stream into command lines under a fixed maximum length.
//!
//! Framing happens before parsing (habit 1 in STYLE.md), so the parser only ever sees one
//! complete line. Rules, in order:
//! * A line ends at LF; one CR before the LF is dropped (RFC 959 says CRLF; bare LF is a named
//!   tolerance for hand-typed sessions and some embedded clients).
//! * Telnet commands (RFC 854) are removed: `IAC IAC` is a literal 0xFF, `IAC WILL|WONT|DO|DONT
//!   x` is dropped whole, any other `IAC x` command is dropped, and an `IAC` followed by an
//!   ordinary byte (what is left of `IAC IP IAC DM` once the kernel has taken the urgent `DM`
//!   out of band, as Python's ftplib sends before `ABOR`) is dropped alone.
//! * `CR NUL` stands for a bare CR inside a line (RFC 1123 / RFC 2640); it becomes CR, which the
//!   path rules then refuse.
//! * A line longer than the maximum is never buffered: the framer reports [`Frame::TooLong`]
//!   once and discards bytes up to and including its LF, then carries on.
//!
//! The framer keeps no buffer at all between lines: a session that is idle holds an empty
//! `Vec`, and only a partial line in flight occupies memory.

/// What the framer has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line, without its line end and with Telnet commands removed.
    Line(&'a [u8]),
    /// A line exceeded the maximum length; its bytes are being discarded.
    TooLong,
}

const IAC: u8 = 0xFF;

/// Bounded splitter of control-channel bytes into lines.
#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    max_line: usize,
    /// Discarding the rest of an over-long line up to its LF.
    discarding: bool,
    /// Over-long lines detected and not yet reported (one report each).
    too_long_pending: usize,
    /// Length of the cleaned line at the front of `buf`, and the bytes it used up.
    ready: Option<(usize, usize)>,
}

impl LineFramer {
    /// A framer that accepts lines of at most `max_line` bytes (line end excluded).
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer { buf: Vec::new(), max_line, discarding: false, too_long_pending: 0, ready: None }
    }

    /// Bytes buffered and not yet consumed (a partial line, or lines waiting their turn).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether a complete line (or an over-long-line report) is waiting.
    pub fn has_line(&self) -> bool {
        self.too_long_pending > 0 || self.ready.is_some() || self.buf.contains(&b'\n')
    }

    /// Appends bytes read from the control connection.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.discarding {
            match data.iter().position(|&b| b == b'\n') {
                None => return,
                Some(i) => {
                    self.discarding = false;
                    data = &data[i + 1..];
                }
            }
        }
        self.buf.extend_from_slice(data);
        self.check_overflow();
    }

    fn check_overflow(&mut self) {
        // The first line in the buffer is over-long when its content (without CR LF) exceeds
        // the maximum, or when, still unterminated, it already holds more than the maximum
        // plus a possible CR.
        let first_lf = self.buf.iter().position(|&b| b == b'\n');
        let too_long = match first_lf {
            Some(i) => i - usize::from(i > 0 && self.buf[i - 1] == b'\r') > self.max_line,
            None => self.buf.len() > self.max_line + 1,
        };
        if !too_long {
            return;
        }
        self.too_long_pending += 1;
        self.ready = None;
        match first_lf {
            Some(i) => {
                self.buf.drain(..=i);
                self.check_overflow();
            }
            None => {
                self.buf = Vec::new();
                self.discarding = true;
            }
        }
    }

    /// The next line or error, without consuming it; `None` when no complete line is buffered.
    pub fn peek(&mut self) -> Option<Frame<'_>> {
        if self.too_long_pending > 0 {
            return Some(Frame::TooLong);
        }
        if self.ready.is_none() {
            let lf = self.buf.iter().position(|&b| b == b'\n')?;
            let len = clean_line(&mut self.buf[..lf]);
            self.ready = Some((len, lf + 1));
        }
        let (len, _) = self.ready?;
        Some(Frame::Line(&self.buf[..len]))
    }

    /// Consumes what [`peek`](Self::peek) returned.
    pub fn consume(&mut self) {
        if self.too_long_pending > 0 {
            self.too_long_pending -= 1;
            return;
        }
        if let Some((_, used)) = self.ready.take() {
            self.buf.drain(..used);
            if self.buf.is_empty() {
                // Give the memory back: idle sessions hold no buffer.
                self.buf = Vec::new();
            } else {
                self.check_overflow();
            }
        }
    }
}

/// Removes the CR before LF and Telnet commands in place; returns the cleaned length.
fn clean_line(line: &mut [u8]) -> usize {
    let mut end = line.len();
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    let (mut r, mut w) = (0, 0);
    while r < end {
        let b = line[r];
        match b {
            IAC => match line.get(r + 1).copied().filter(|_| r + 1 < end) {
                Some(IAC) => {
                    line[w] = IAC;
                    w += 1;
                    r += 2;
                }
                // WILL WONT DO DONT take an option byte.
                Some(251..=254) => r += 3,
                Some(240..=250) => r += 2,
                _ => r += 1,
            },
            b'\r' if line.get(r + 1) == Some(&0) && r + 1 < end => {
                line[w] = b'\r';
                w += 1;
                r += 2;
            }
            _ => {
                line[w] = b;
                w += 1;
                r += 1;
            }
        }
    }
    w.min(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(framer: &mut LineFramer) -> Vec<Result<Vec<u8>, ()>> {
        let mut out = Vec::new();
        while let Some(f) = framer.peek() {
            out.push(match f {
                Frame::Line(l) => Ok(l.to_vec()),
                Frame::TooLong => Err(()),
            });
            framer.consume();
        }
        out
    }

    #[test]
    fn splits_crlf_and_bare_lf() {
        let mut f = LineFramer::new(100);
        f.push(b"USER a\r\nPASS b\nNO");
        assert_eq!(lines(&mut f), vec![Ok(b"USER a".to_vec()), Ok(b"PASS b".to_vec())]);
        f.push(b"OP\r\n");
        assert_eq!(lines(&mut f), vec![Ok(b"NOOP".to_vec())]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn over_long_line_is_reported_once_and_the_next_line_survives() {
        let mut f = LineFramer::new(10);
        f.push(&[b'x'; 30]);
        f.push(&[b'y'; 30]);
        f.push(b"zz\r\nNOOP\r\n");
        assert_eq!(lines(&mut f), vec![Err(()), Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn two_over_long_lines_in_one_read_get_two_reports() {
        // Found by the line_framer fuzz target: a bool flag merged the two reports.
        let mut f = LineFramer::new(4);
        f.push(b"123456\r\n1234567");
        f.push(b"\r\nNOOP\r\n");
        assert_eq!(lines(&mut f), vec![Err(()), Err(()), Ok(b"NOOP".to_vec())]);
        let mut f = LineFramer::new(4);
        f.push(b"12345\n");
        assert_eq!(lines(&mut f), vec![Err(())], "one byte over without CR is over");
    }

    #[test]
    fn line_of_exactly_the_maximum_is_accepted() {
        let mut f = LineFramer::new(4);
        f.push(b"NOOP\r\n");
        assert_eq!(lines(&mut f), vec![Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn telnet_ip_and_synch_before_abor_are_removed() {
        let mut f = LineFramer::new(100);
        // ftplib: IAC IP IAC, then DM out of band (gone), then ABOR.
        f.push(b"\xff\xf4\xffABOR\r\n");
        f.push(b"\xff\xf4\xff\xf2ABOR\r\n");
        f.push(b"a\xff\xffb\xff\xfb\x01c\r\n");
        assert_eq!(lines(&mut f), vec![Ok(b"ABOR".to_vec()), Ok(b"ABOR".to_vec()), Ok(b"a\xffbc".to_vec())]);
    }

    #[test]
    fn every_split_of_the_input_gives_the_same_lines() {
        let input: &[u8] = b"USER anonymous\r\nPASS x\r\n\xff\xf4\xffABOR\r\nRETR a b\n";
        let mut whole = LineFramer::new(64);
        whole.push(input);
        let expected = lines(&mut whole);
        for split in 0..input.len() {
            let mut f = LineFramer::new(64);
            f.push(&input[..split]);
            let mut got = lines(&mut f);
            f.push(&input[split..]);
            got.extend(lines(&mut f));
            assert_eq!(got, expected, "split at {split}");
        }
    }
}
