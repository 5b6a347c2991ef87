//! Entry points for the fuzz targets in `fuzz/` (and for `cargo test`, which replays their
//! seeds). Not a stable API.

use crate::ftp::command;
use crate::ftp::line::{Frame, LineFramer};

/// `command_line`: parsing any bytes never panics, and whatever parses formats back to a line
/// that parses to the same command.
pub fn command_line(data: &[u8]) {
    if let Ok(cmd) = command::parse(data) {
        let again = command::parse(cmd.to_line().as_bytes());
        assert_eq!(again.as_ref(), Ok(&cmd), "round trip of {cmd:?}");
    }
}

/// `line_framer`: any split of the input into reads yields the same lines.
pub fn line_framer(data: &[u8]) {
    let Some((&split, input)) = data.split_first() else { return };
    let collect = |chunks: &[&[u8]]| {
        let mut f = LineFramer::new(64);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            while let Some(frame) = f.peek() {
                out.push(match frame {
                    Frame::Line(l) => Some(l.to_vec()),
                    Frame::TooLong => None,
                });
                f.consume();
            }
        }
        out
    };
    let at = usize::from(split) % (input.len() + 1);
    assert_eq!(collect(&[input]), collect(&[&input[..at], &input[at..]]));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Replays every seed and every saved crash of a fuzz target through its entry point.
    fn replay(target: &str, run: fn(&[u8])) {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut count = 0;
        for dir in [fuzz.join("seeds").join(target), fuzz.join("regressions").join(target)] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).unwrap_or_default();
                run(&data);
                count += 1;
            }
        }
        assert!(count > 0, "no seeds for {target}");
    }

    #[test]
    fn command_line_seeds_replay() {
        replay("command_line", super::command_line);
    }

    #[test]
    fn line_framer_seeds_replay() {
        replay("line_framer", super::line_framer);
    }
}
