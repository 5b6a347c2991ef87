//! The VFS read path and space figures seen through FTP: a file that shrinks during a download
//! fails the transfer instead of ending it as complete, the read flags are taken, and STAT
//! shows the space figures (summed over every file with `--vfs-used-is-size`).

use std::io::Read;

use protocol_tests::client::Client;
use protocol_tests::{pattern, Server};

#[test]
fn a_file_that_shrinks_during_a_download_is_not_reported_complete() {
    let s = Server::start(&["--buffer-size", "0"]);
    let path = s.path().join("big");
    std::fs::write(&path, pattern(64 << 20, 5)).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let (mut data, r) = c.open_data("RETR big");
    assert_eq!(r.code, 150);
    let mut first = vec![0u8; 64 * 1024];
    data.read_exact(&mut first).unwrap();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(1 << 20).unwrap();
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    let r = c.reply();
    assert!(r.code == 451 || r.code == 426 || r.code == 450, "a short file is not a complete transfer: {r:?}");
    assert!(first.len() + rest.len() < 64 << 20);
}

#[test]
fn read_flags_are_taken_and_downloads_stay_byte_identical() {
    let s = Server::start(&[
        "--buffer-size",
        "4M",
        "--vfs-read-wait",
        "5ms",
        "--vfs-write-wait",
        "2s",
        "--no-checksum",
        "--vfs-read-chunk-size",
        "1M",
        "--vfs-read-chunk-size-limit",
        "3M",
    ]);
    let data = pattern(9 << 20, 21);
    std::fs::write(s.path().join("f"), &data).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert!(c.retr("f") == data);
    assert_eq!(c.cmd("REST 5000000").code, 350);
    assert!(c.retr("f") == data[5_000_000..]);
}

fn space_line(c: &mut Client) -> String {
    let r = c.cmd("STAT");
    assert_eq!(r.code, 211, "{r:?}");
    r.lines.iter().find(|l| l.starts_with(" Space: ")).cloned().unwrap_or_else(|| panic!("no space line: {r:?}"))
}

#[test]
fn stat_shows_space_figures_and_used_is_size_sums_the_files() {
    // The local disk knows all three figures.
    let s = Server::start(&[]);
    let line = space_line(&mut Client::login_anonymous(s.addr));
    assert!(!line.contains("unknown"), "{line}");

    // Memory knows none; --vfs-used-is-size sums the files (in every directory).
    let s = Server::start_remote(":memory:", &[], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(space_line(&mut c), " Space: unknown bytes used, unknown bytes free, unknown bytes total");
    let s = Server::start_remote(":memory:", &["--vfs-used-is-size", "--dir-cache-time", "0s"], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("MKD d").code, 257);
    c.store("STOR a", &pattern(1000, 1));
    c.store("STOR d/b", &pattern(234, 2));
    assert_eq!(space_line(&mut c), " Space: 1234 bytes used, unknown bytes free, unknown bytes total");
    // Before login STAT still answers, without the figures.
    let r = Client::connect(s.addr).cmd("STAT");
    assert_eq!(r.code, 211);
    assert!(!r.text().contains("Space:"), "{r:?}");
}
