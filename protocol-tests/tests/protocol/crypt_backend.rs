//! The crypt remote against the official rclone, both ways: files that `rclone copy` put into
//! a crypt remote are served byte-identical (sizes, names, REST at any offset), files stored
//! through ftpvfs pass `rclone cat` and `rclone cryptcheck` under the names `rclone
//! cryptdecode --reverse` predicts, a tampered block ends the download with 451, and the
//! obfuscate and off name modes read what rclone wrote.

use std::path::Path;
use std::process::Command;

use protocol_tests::client::Client;
use protocol_tests::{pattern, run_cli, run_ok, sha256, Server};

/// A config file with `[secret]`, a crypt remote over `store` (a local folder).
fn crypt_config(dir: &Path, store: &Path, extra: &str) -> std::path::PathBuf {
    let obscure = |p: &str| run_cli(&["obscure", p]).1.trim().to_string();
    let conf = dir.join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[secret]\ntype = crypt\nremote = {}\npassword = {}\npassword2 = {}\n{extra}",
            store.display(),
            obscure("correct horse"),
            obscure("battery staple")
        ),
    )
    .unwrap();
    conf
}

fn rclone(conf: &Path, args: &[&str]) -> String {
    run_ok(Command::new("rclone").args(args).arg("--config").arg(conf).arg("-q"))
}

/// Plaintext files of the sizes around a block boundary, and awkward names.
fn sample_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("one".into(), vec![7]),
        ("b65535".into(), pattern(65535, 1)),
        ("b65536".into(), pattern(65536, 2)),
        ("b65537".into(), pattern(65537, 3)),
        ("dir x/a b ü.bin".into(), pattern(3 << 20, 4)),
    ];
    for (name, data) in &files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
    files
}

#[test]
fn files_rclone_copied_into_a_crypt_remote_are_served_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, store) = (tmp.path().join("plain"), tmp.path().join("store"));
    std::fs::create_dir_all(&store).unwrap();
    let files = sample_files(&plain);
    let conf = crypt_config(tmp.path(), &store, "");
    rclone(&conf, &["copy", plain.to_str().unwrap(), "secret:"]);
    let s = Server::start_remote("secret:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "b65535\r\nb65536\r\nb65537\r\ndir x\r\nempty\r\none\r\n");
    for (name, data) in &files {
        assert_eq!(sha256(&c.retr(name)), sha256(data), "{name}");
        assert_eq!(c.cmd(&format!("SIZE {name}")).text(), format!("213 {}", data.len()), "{name}");
    }
    let big = &files[5].1;
    for offset in [1usize, 65535, 65536, 65537, 1_000_000, big.len() - 1] {
        assert_eq!(c.cmd(&format!("REST {offset}")).code, 350);
        assert_eq!(sha256(&c.retr("dir x/a b ü.bin")), sha256(&big[offset..]), "REST {offset}");
    }
    // Names on disk are rclone's, not ours to choose.
    let on_disk: Vec<String> =
        std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!on_disk.iter().any(|n| n.contains("one") || n.contains("dir")), "{on_disk:?}");
}

#[test]
fn files_stored_through_ftpvfs_pass_rclone_cat_and_cryptcheck() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, store) = (tmp.path().join("plain"), tmp.path().join("store"));
    std::fs::create_dir_all(&store).unwrap();
    let files = sample_files(&plain);
    let conf = crypt_config(tmp.path(), &store, "");
    let s = Server::start_remote("secret:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("MKD dir x").code, 257);
    for (name, data) in &files {
        c.store(&format!("STOR {name}"), data);
    }
    for (name, data) in &files {
        let out =
            Command::new("rclone").args(["cat", &format!("secret:{name}"), "--config"]).arg(&conf).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sha256(&out.stdout), sha256(data), "rclone cat {name}");
    }
    rclone(&conf, &["cryptcheck", plain.to_str().unwrap(), "secret:"]);
    // The stored names are the ones rclone computes for these names.
    let predicted = rclone(&conf, &["cryptdecode", "--reverse", "secret:", "one", "dir x"]);
    for line in predicted.lines() {
        let enc = line.rsplit(" \t ").next().unwrap().trim();
        assert!(store.join(enc).exists(), "{line}: {enc} is stored");
    }
}

#[test]
fn a_tampered_block_ends_the_download_with_451_and_never_226() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let conf = crypt_config(tmp.path(), &store, "");
    let s = Server::start_remote("secret:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(300_000, 9);
    c.store("STOR f.bin", &data);
    let stored = std::fs::read_dir(&store).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[32 + 65552 + 100] ^= 0x40;
    std::fs::write(&stored, bytes).unwrap();
    let (mut conn, r) = c.open_data("RETR f.bin");
    assert_eq!(r.code, 150);
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut conn, &mut got);
    assert_eq!(c.reply().code, 451, "a bad block is a failed transfer");
    assert!(got.len() < data.len() && data.starts_with(&got), "only the good blocks before it were sent");
}

#[test]
fn obfuscated_and_plain_names_read_what_rclone_wrote() {
    for (mode, probe) in [("obfuscate", "dir x/a b ü.bin"), ("off", "one")] {
        let tmp = tempfile::tempdir().unwrap();
        let (plain, store) = (tmp.path().join("plain"), tmp.path().join("store"));
        std::fs::create_dir_all(&store).unwrap();
        let files = sample_files(&plain);
        let conf = crypt_config(tmp.path(), &store, &format!("filename_encryption = {mode}\n"));
        rclone(&conf, &["copy", plain.to_str().unwrap(), "secret:"]);
        let s = Server::start_remote("secret:", &["--config", conf.to_str().unwrap()], &[]);
        let mut c = Client::login_anonymous(s.addr);
        let data = &files.iter().find(|(n, _)| n == probe).unwrap().1;
        assert_eq!(sha256(&c.retr(probe)), sha256(data), "{mode}");
        c.store("STOR new.txt", b"from ftpvfs");
        assert_eq!(rclone(&conf, &["cat", "secret:new.txt"]), "from ftpvfs", "{mode}");
    }
}

#[test]
fn an_alias_of_a_crypt_remote_over_an_s3_bucket_reads_and_writes_rclones_format() {
    use protocol_tests::s3::{S3Store, ACCESS_KEY, SECRET_KEY};
    let store = S3Store::rclone();
    let tmp = tempfile::tempdir().unwrap();
    let obscure = |p: &str| run_cli(&["obscure", p]).1.trim().to_string();
    let conf = tmp.path().join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[store]\ntype = s3\nprovider = Rclone\nendpoint = {}\naccess_key_id = {ACCESS_KEY}\nsecret_access_key = {SECRET_KEY}\n\n\
             [secret]\ntype = crypt\nremote = store:bucket/enc\npassword = {}\n\n[scans]\ntype = alias\nremote = secret:inbox\n",
            store.endpoint,
            obscure("pw")
        ),
    )
    .unwrap();
    rclone(&conf, &["mkdir", "secret:inbox"]);
    let s = Server::start_remote("scans:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(200_000, 5);
    c.store("STOR page 1.pdf", &data);
    let out = Command::new("rclone").args(["cat", "secret:inbox/page 1.pdf", "--config"]).arg(&conf).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sha256(&out.stdout), sha256(&data));
    let local = tmp.path().join("from-rclone.txt");
    std::fs::write(&local, b"rclone wrote this").unwrap();
    rclone(&conf, &["copyto", local.to_str().unwrap(), "secret:inbox/from rclone.txt"]);
    assert_eq!(c.retr("from rclone.txt"), b"rclone wrote this");
    assert_eq!(c.listing("NLST"), "from rclone.txt\r\npage 1.pdf\r\n");
    // The bucket holds only encrypted names.
    let stored: Vec<String> = std::fs::read_dir(store.bucket_dir("bucket").join("enc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!stored.iter().any(|n| n.contains("inbox") || n.contains("page")), "{stored:?}");
}

#[test]
fn base32768_names_read_what_rclone_wrote_and_are_stored_as_rclone_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, store) = (tmp.path().join("plain"), tmp.path().join("store"));
    std::fs::create_dir_all(&store).unwrap();
    let files = sample_files(&plain);
    let conf = crypt_config(tmp.path(), &store, "filename_encoding = base32768\n");
    rclone(&conf, &["copy", plain.to_str().unwrap(), "secret:"]);
    let s = Server::start_remote("secret:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "b65535\r\nb65536\r\nb65537\r\ndir x\r\nempty\r\none\r\n");
    for (name, data) in &files {
        assert_eq!(sha256(&c.retr(name)), sha256(data), "{name}");
    }
    c.store("STOR dir x/new from ftpvfs.txt", b"from ftpvfs");
    assert_eq!(rclone(&conf, &["cat", "secret:dir x/new from ftpvfs.txt"]), "from ftpvfs");
    let predicted = rclone(&conf, &["cryptdecode", "--reverse", "secret:", "dir x/new from ftpvfs.txt"]);
    let enc = predicted.lines().next().unwrap().rsplit(" \t ").next().unwrap().trim().to_string();
    assert!(store.join(&enc).exists(), "{predicted}: {enc} is stored");
    assert!(enc.chars().all(|ch| ch == '/' || !ch.is_ascii()), "base32768 names are not ASCII: {enc}");
}
