//! REMOTE:PATH beyond a plain folder: `:memory:`, remotes from a config file and from the
//! environment, connection strings, missing sections, and `ftpvfs obscure`.

use std::process::Command;

use protocol_tests::client::Client;
use protocol_tests::{have, pattern, run_cli, sha256, Server};

fn round_trip(s: &Server) {
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.cmd("MKD dir").code, 257);
    let data = pattern(3 << 20, 60);
    c.store("STOR dir/f.bin", &data);
    assert_eq!(sha256(&c.retr("dir/f.bin")), sha256(&data));
    assert_eq!(c.listing("NLST dir"), "f.bin\r\n");
    assert_eq!(c.cmd("SIZE dir/f.bin").text(), format!("213 {}", data.len()));
    c.store("APPE dir/f.bin", b"tail");
    assert_eq!(c.cmd("REST 3145728").code, 350);
    assert_eq!(c.retr("dir/f.bin"), b"tail");
    assert_eq!(c.cmd("RNFR dir/f.bin").code, 350);
    assert_eq!(c.cmd("RNTO g.bin").code, 250);
    assert_eq!(c.cmd("DELE g.bin").code, 250);
    assert_eq!(c.cmd("RMD dir").code, 250);
    assert_eq!(c.listing("NLST"), "");
}

#[test]
fn serves_an_in_memory_remote() {
    let s = Server::start_remote(":memory:", &[], &[]);
    assert!(s.log().contains("(in memory)"), "{}", s.log());
    round_trip(&s);
}

#[test]
fn serves_remotes_from_a_config_file_with_connection_string_options() {
    let conf_dir = tempfile::tempdir().unwrap();
    let served = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("hello.txt"), b"from the config remote").unwrap();
    let conf = conf_dir.path().join("rclone.conf");
    std::fs::write(&conf, "# test config\n[disk]\ntype = local\n\n[scratch]\ntype = memory\n").unwrap();
    let remote = format!("disk:{}", served.path().display());
    let s = Server::start_remote(&remote, &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.retr("hello.txt"), b"from the config remote");
    drop(c);
    // A connection-string option on top of the section (a bare key means true).
    let s = Server::start_remote("scratch,some_option:", &["--config", conf.to_str().unwrap()], &[]);
    round_trip(&s);
    // The same file found through RCLONE_CONFIG rather than --config.
    let s = Server::start_remote("scratch:", &[], &[("RCLONE_CONFIG", conf.to_str().unwrap())]);
    round_trip(&s);
}

#[test]
fn serves_a_remote_defined_only_in_the_environment() {
    let s = Server::start_remote("envmem:", &["--config", "notfound"], &[("RCLONE_CONFIG_ENVMEM_TYPE", "memory")]);
    round_trip(&s);
}

#[test]
fn a_missing_section_or_unsupported_backend_is_a_clear_error_with_exit_1() {
    let (code, _, err) = run_cli(&["serve", "nosuch:dir", "--config", "notfound"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("didn't find section in config file") && err.contains("nosuch"), "{err}");
    let (code, _, err) = run_cli(&["serve", ":sftp,host=example.com:"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("backend \"sftp\" is not supported yet"), "{err}");
    let (code, _, err) = run_cli(&["serve", ":ftp,port=21:"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("needs host="), "{err}");
    // No server there: the start stops, saying so.
    let (code, _, err) = run_cli(&["serve", ":ftp,host=127.0.0.1,port=1:"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ftp://") && err.contains("refused"), "{err}");
    let (code, _, err) = run_cli(&["serve", "bad name!:x"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn obscure_prints_what_rclone_reveals() {
    let (code, out, _) = run_cli(&["obscure", "pässwörd"]);
    assert_eq!(code, 0);
    let obscured = out.trim();
    assert_ne!(obscured, run_cli(&["obscure", "pässwörd"]).1.trim(), "a fresh IV each time");
    assert!(have("rclone"), "rclone is not installed: the README's test command installs it");
    // `--`: a base64url value may start with '-' (one time in 64), which rclone would take for
    // a flag.
    let revealed = Command::new("rclone").args(["reveal", "--", obscured]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&revealed.stdout).trim(), "pässwörd");
    let (code, _, err) = run_cli(&["obscure"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn case_insensitive_fixup_finds_names_that_differ_only_by_case() {
    let s = Server::start(&["--vfs-case-insensitive"]);
    std::fs::create_dir(s.path().join("Sub")).unwrap();
    std::fs::write(s.path().join("Sub/Report.PDF"), b"pdf").unwrap();
    std::fs::write(s.path().join("a.txt"), b"lower").unwrap();
    std::fs::write(s.path().join("A.TXT"), b"upper").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.retr("sub/report.pdf"), b"pdf");
    assert_eq!(c.cmd("SIZE SUB/REPORT.pdf").text(), "213 3");
    assert_eq!(c.cmd("CWD sub").code, 250);
    assert_eq!(c.retr("report.pdf"), b"pdf");
    c.store("STOR New.Txt", b"n");
    assert!(s.path().join("Sub/New.Txt").exists(), "new names keep the case given");
    assert_eq!(c.cmd("CWD /").code, 250);
    assert_eq!(c.retr("a.txt"), b"lower", "an exact match wins");
    let (_, r) = c.open_data("RETR A.txt");
    assert_eq!(r.code, 550, "two names match ignoring case: no guess");
    assert_eq!(c.cmd("DELE sub/new.txt").code, 250);
    assert!(!s.path().join("Sub/New.Txt").exists());
    drop(c);
    let s = Server::start(&[]);
    std::fs::write(s.path().join("Report.PDF"), b"pdf").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let (_, r) = c.open_data("RETR report.pdf");
    assert_eq!(r.code, 550, "case-sensitive by default on Linux");
}

#[test]
fn small_read_chunks_still_give_byte_identical_downloads_and_resume() {
    let s = Server::start(&["--vfs-read-chunk-size", "100k", "--vfs-read-chunk-size-limit", "300k"]);
    let data = pattern(3 << 20, 61);
    std::fs::write(s.path().join("f.bin"), &data).unwrap();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data));
    assert_eq!(c.cmd("REST 1234567").code, 350);
    assert_eq!(sha256(&c.retr("f.bin")), sha256(&data[1_234_567..]));
}

#[test]
fn an_encrypted_config_file_is_read_with_rclones_password_sources() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("rclone.conf");
    std::fs::write(&conf, "[mem]\ntype = memory\n").unwrap();
    protocol_tests::run_ok(
        std::process::Command::new("rclone")
            .args(["config", "encryption", "set", "--password-command", "echo s3cret pw", "--config"])
            .arg(&conf)
            .stdin(std::process::Stdio::null()),
    );
    assert!(std::fs::read_to_string(&conf).unwrap().contains("RCLONE_ENCRYPT_V0:"));
    let conf_arg = conf.to_str().unwrap();
    let s = Server::start_remote("mem:", &["--config", conf_arg], &[("RCLONE_CONFIG_PASS", "s3cret pw")]);
    let mut c = protocol_tests::client::Client::login_anonymous(s.addr);
    c.store("STOR f", b"x");
    let s = Server::start_remote("mem:", &["--config", conf_arg, "--password-command", "echo s3cret pw"], &[]);
    assert!(!s.log().contains("s3cret"), "the password is never logged");
    let started = std::time::Instant::now();
    let (code, _, err) =
        run_cli(&["serve", "mem:", "--config", conf_arg, "--password-command", "echo wrong", "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unable to decrypt configuration"), "{err}");
    let (code, _, err) =
        run_cli(&["serve", "mem:", "--config", conf_arg, "--ask-password=false", "--addr", "127.0.0.1:0"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("set RCLONE_CONFIG_PASS"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "refused promptly");
    assert!(std::fs::read_to_string(&conf).unwrap().contains("RCLONE_ENCRYPT_V0:"), "never written back");
}

#[test]
fn a_combine_remote_serves_its_upstreams_side_by_side_as_rclone_does() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(a.join("sub")).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("sub/one.txt"), b"one").unwrap();
    let conf = dir.path().join("rclone.conf");
    std::fs::write(
        &conf,
        format!("[both]\ntype = combine\nupstreams = \"docs={}\" \"photos 2={}\"\n", a.display(), b.display()),
    )
    .unwrap();
    let s = Server::start_remote("both:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "docs\r\nphotos 2\r\n");
    assert_eq!(c.retr("docs/sub/one.txt"), b"one");
    c.store("STOR photos 2/p.jpg", &pattern(100_000, 3));
    assert_eq!(std::fs::read(b.join("p.jpg")).unwrap(), pattern(100_000, 3));
    assert_eq!(c.cmd("MFMT 20200101000000 docs/sub/one.txt").code, 213);
    // A rename between upstreams moves the file and keeps its time.
    assert_eq!(c.cmd("RNFR docs/sub/one.txt").code, 350);
    assert_eq!(c.cmd("RNTO photos 2/one.txt").code, 250);
    assert!(!a.join("sub/one.txt").exists());
    assert_eq!(std::fs::read(b.join("one.txt")).unwrap(), b"one");
    assert_eq!(c.cmd("MDTM photos 2/one.txt").text(), "213 20200101000000");
    // The root holds only the upstreams.
    let (_d, r) = c.open_data("STOR loose.txt");
    assert_eq!(r.code, 550, "{r:?}");
    assert_eq!(c.cmd("MKD newdir").code, 550);
    assert_eq!(c.cmd("RMD docs").code, 550);
    // rclone's own combine sees the same tree.
    let listed = protocol_tests::run_ok(Command::new("rclone").args(["lsf", "-R", "both:", "--config"]).arg(&conf));
    let mut ours: Vec<&str> = listed.lines().collect();
    ours.sort_unstable();
    assert_eq!(ours, ["docs/", "docs/sub/", "photos 2/", "photos 2/one.txt", "photos 2/p.jpg"]);
    // A path inside an upstream serves that upstream below it, as rclone lists it.
    std::fs::create_dir_all(b.join("2026")).unwrap();
    std::fs::write(b.join("2026/q.jpg"), b"q").unwrap();
    let inner = Server::start_remote("both:photos 2/2026", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(inner.addr);
    assert_eq!(c.listing("NLST"), "q.jpg\r\n");
    c.store("STOR r.jpg", b"r");
    assert_eq!(std::fs::read(b.join("2026/r.jpg")).unwrap(), b"r");
    let theirs =
        protocol_tests::run_ok(Command::new("rclone").args(["lsf", "both:photos 2/2026", "--config"]).arg(&conf));
    assert_eq!(theirs, "q.jpg\nr.jpg\n");
    let (code, _, err) = run_cli(&["serve", "both:nowhere", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not inside any upstream"), "{err}");
}

#[test]
fn a_union_remote_merges_its_upstreams_and_follows_the_policies() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, ro) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("ro"));
    for d in [&a, &b, &ro] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(b.join("only-b")).unwrap();
    std::fs::write(a.join("both.txt"), b"from a").unwrap();
    std::fs::write(b.join("both.txt"), b"from b").unwrap();
    std::fs::write(ro.join("archive.txt"), b"old").unwrap();
    let conf = dir.path().join("rclone.conf");
    std::fs::write(
        &conf,
        format!("[u]\ntype = union\nupstreams = {} {} {}:ro\n", a.display(), b.display(), ro.display()),
    )
    .unwrap();
    let s = Server::start_remote("u:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "archive.txt\r\nboth.txt\r\nonly-b\r\n");
    assert_eq!(c.retr("both.txt"), b"from a", "search ff: the first upstream in config order");
    // epmfs: a new file goes to an upstream whose copy of the directory exists.
    c.store("STOR only-b/new.txt", b"new");
    assert!(b.join("only-b/new.txt").exists() && !a.join("only-b").exists());
    // epall: an overwrite updates every writable copy, as rclone's union does.
    c.store("STOR both.txt", b"updated");
    assert_eq!(
        (std::fs::read(a.join("both.txt")).unwrap(), std::fs::read(b.join("both.txt")).unwrap()),
        (b"updated".to_vec(), b"updated".to_vec())
    );
    // epall: a removal reaches every writable upstream holding the file.
    assert_eq!(c.cmd("DELE both.txt").code, 250);
    assert!(!a.join("both.txt").exists() && !b.join("both.txt").exists());
    // :ro is never written.
    assert_eq!(c.cmd("DELE archive.txt").code, 550);
    assert!(ro.join("archive.txt").exists());
    c.store("STOR top.txt", b"top");
    assert!(!ro.join("top.txt").exists());
    // rclone's own union sees the same tree.
    let listed = protocol_tests::run_ok(Command::new("rclone").args(["lsf", "-R", "u:", "--config"]).arg(&conf));
    let mut theirs: Vec<&str> = listed.lines().collect();
    theirs.sort_unstable();
    assert_eq!(theirs, ["archive.txt", "only-b/", "only-b/new.txt", "top.txt"]);
    assert_eq!(c.listing("NLST"), "archive.txt\r\nonly-b\r\ntop.txt\r\n");
}

/// (available, used) bytes of the file system holding `dir`, as df reports them.
fn df(dir: &std::path::Path) -> (u64, u64) {
    let out = protocol_tests::run_ok(Command::new("df").args(["-B1", "--output=avail,used"]).arg(dir));
    let line = out.lines().nth(1).unwrap();
    let mut it = line.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn union_space_random_and_newest_policies_pick_as_rclones_do() {
    // Two upstreams on different file systems where the machine has them (tmpfs and disk), so
    // their free and used space differ; the expected pick comes from df (ties: the first).
    let shm = std::path::Path::new("/dev/shm");
    let first = if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() };
    let second = tempfile::tempdir().unwrap();
    let (a, b) = (first.path(), second.path());
    let ((free_a, used_a), (free_b, used_b)) = (df(a), df(b));
    let conf_dir = tempfile::tempdir().unwrap();
    let serve = |create: &str, search: &str, action: &str| {
        let conf = conf_dir.path().join(format!("{create}-{search}-{action}.conf"));
        std::fs::write(
            &conf,
            format!(
                "[u]\ntype = union\nupstreams = {} {}\ncreate_policy = {create}\nsearch_policy = {search}\naction_policy = {action}\nmin_free_space = 1M\n",
                a.display(),
                b.display()
            ),
        )
        .unwrap();
        let s = Server::start_remote("u:", &["--config", conf.to_str().unwrap()], &[]);
        let c = Client::login_anonymous(s.addr);
        (s, c)
    };
    let landed = |name: &str| -> Vec<bool> { [a, b].iter().map(|d| d.join(name).exists()).collect() };
    for (policy, pick_a) in
        [("mfs", free_a >= free_b), ("lfs", free_a <= free_b), ("lus", used_a <= used_b), ("lno", true)]
    {
        let (_s, mut c) = serve(policy, "ff", "epall");
        let name = format!("{policy}.txt");
        c.store(&format!("STOR {name}"), policy.as_bytes());
        assert_eq!(landed(&name), [pick_a, !pick_a], "{policy}: free {free_a}/{free_b}, used {used_a}/{used_b}");
    }
    // rand puts each new file on exactly one upstream, and over many files on both.
    let (_s, mut c) = serve("rand", "ff", "epall");
    let mut on_a = 0;
    for i in 0..40 {
        let name = format!("rand{i}.txt");
        c.store(&format!("STOR {name}"), b"r");
        let where_ = landed(&name);
        assert!(where_[0] ^ where_[1], "{name}: {where_:?}");
        on_a += usize::from(where_[0]);
    }
    assert!(on_a > 0 && on_a < 40, "{on_a} of 40 on the first upstream");
    // newest: reads and listings show the newest copy; a removal reaches only that copy; a
    // new file goes where its directory is newest.
    std::fs::write(a.join("same.txt"), b"older copy").unwrap();
    std::fs::write(b.join("same.txt"), b"newer copy!").unwrap();
    let at = |p: std::path::PathBuf, when: &str| {
        protocol_tests::run_ok(Command::new("touch").args(["-d", when]).arg(p));
    };
    at(a.join("same.txt"), "2020-01-01 00:00:00 UTC");
    at(b.join("same.txt"), "2021-01-01 00:00:00 UTC");
    for d in [a, b] {
        std::fs::create_dir_all(d.join("inbox")).unwrap();
    }
    at(a.join("inbox"), "2022-01-01 00:00:00 UTC");
    at(b.join("inbox"), "2019-01-01 00:00:00 UTC");
    let (_s, mut c) = serve("newest", "newest", "newest");
    assert_eq!(c.retr("same.txt"), b"newer copy!");
    assert!(c.listing("LIST same.txt").contains(" 11 "), "the newer copy's size");
    c.store("STOR inbox/new.txt", b"n");
    assert_eq!(landed("inbox/new.txt"), [true, false]);
    assert_eq!(c.cmd("DELE same.txt").code, 250);
    assert_eq!((a.join("same.txt").exists(), b.join("same.txt").exists()), (true, false));
    assert_eq!(c.retr("same.txt"), b"older copy");
}

#[test]
fn a_chunker_remote_with_sha1_keeps_the_hash_rclone_checks() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let conf = dir.path().join("rclone.conf");
    std::fs::write(
        &conf,
        format!("[ch]\ntype = chunker\nremote = {}\nchunk_size = 1Mi\nhash_type = sha1\n", store.display()),
    )
    .unwrap();
    let s = Server::start_remote("ch:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    let data = pattern(2 << 20 | 9, 21);
    c.store("STOR two.bin", &data);
    let meta = std::fs::read_to_string(store.join("two.bin")).unwrap();
    assert!(meta.starts_with(&format!("{{\"ver\":1,\"size\":{},\"nchunks\":3,\"sha1\":\"", data.len())), "{meta}");
    let local = dir.path().join("two.bin");
    std::fs::write(&local, &data).unwrap();
    let expected = protocol_tests::run_ok(Command::new("sha1sum").arg(&local));
    let sums = protocol_tests::run_ok(Command::new("rclone").args(["sha1sum", "ch:", "--config"]).arg(&conf));
    assert_eq!(sums.trim(), format!("{}  two.bin", &expected[..40]), "rclone reads our metadata's SHA-1");
    // md5all changes how small files are stored: refused rather than half done.
    std::fs::write(&conf, format!("[ch]\ntype = chunker\nremote = {}\nhash_type = md5all\n", store.display())).unwrap();
    let (code, _, err) = run_cli(&["serve", "ch:", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not supported yet"), "{err}");
}

#[test]
fn a_chunker_remote_reads_and_writes_rclones_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (store, plain) = (dir.path().join("store"), dir.path().join("plain"));
    std::fs::create_dir_all(&store).unwrap();
    std::fs::create_dir_all(&plain).unwrap();
    let big = pattern(2_621_440 + 7, 11);
    std::fs::write(plain.join("big.bin"), &big).unwrap();
    std::fs::write(plain.join("small.txt"), b"small").unwrap();
    let conf = dir.path().join("rclone.conf");
    std::fs::write(&conf, format!("[ch]\ntype = chunker\nremote = {}\nchunk_size = 1Mi\n", store.display())).unwrap();
    let rclone = |args: &[&str]| protocol_tests::run_ok(Command::new("rclone").args(args).arg("--config").arg(&conf));
    rclone(&["copy", plain.to_str().unwrap(), "ch:"]);
    let mut stored: Vec<String> =
        std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    stored.sort();
    assert_eq!(
        stored,
        ["big.bin", "big.bin.rclone_chunk.001", "big.bin.rclone_chunk.002", "big.bin.rclone_chunk.003", "small.txt"]
    );
    let s = Server::start_remote("ch:", &["--config", conf.to_str().unwrap()], &[]);
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "big.bin\r\nsmall.txt\r\n");
    assert_eq!(c.cmd("SIZE big.bin").text(), format!("213 {}", big.len()));
    assert_eq!(sha256(&c.retr("big.bin")), sha256(&big));
    assert_eq!(c.cmd("REST 1500000").code, 350);
    assert_eq!(sha256(&c.retr("big.bin")), sha256(&big[1_500_000..]), "REST reads from the right chunk");
    assert_eq!(c.retr("small.txt"), b"small");
    // Written by ftpvfs: chunks and metadata rclone reads, with the MD5 it checks.
    let ours = pattern(3 << 20 | 5, 12);
    c.store("STOR ours.bin", &ours);
    assert!(store.join("ours.bin.rclone_chunk.004").exists() && !store.join("ours.bin.rclone_chunk.005").exists());
    let meta = std::fs::read_to_string(store.join("ours.bin")).unwrap();
    assert!(meta.starts_with(&format!("{{\"ver\":1,\"size\":{},\"nchunks\":4,\"md5\":\"", ours.len())), "{meta}");
    let out = Command::new("rclone").args(["cat", "ch:ours.bin", "--config"]).arg(&conf).output().unwrap();
    assert_eq!(sha256(&out.stdout), sha256(&ours));
    let sums = rclone(&["md5sum", "ch:"]);
    let local_sum = protocol_tests::run_ok(Command::new("md5sum").arg(plain.join("big.bin")));
    assert!(sums.contains(&format!("{}  big.bin", &local_sum[..32])), "{sums}");
    std::fs::write(plain.join("ours.bin"), &ours).unwrap();
    let our_sum = protocol_tests::run_ok(Command::new("md5sum").arg(plain.join("ours.bin")));
    assert!(sums.contains(&format!("{}  ours.bin", &our_sum[..32])), "rclone reads our metadata's MD5: {sums}");
    // Replaced by a small file, then removed: no chunk is left behind.
    c.store("STOR ours.bin", b"now small");
    assert_eq!(std::fs::read(store.join("ours.bin")).unwrap(), b"now small");
    assert!(!store.join("ours.bin.rclone_chunk.001").exists());
    assert_eq!(c.cmd("DELE big.bin").code, 250);
    let left: Vec<String> =
        std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!left.iter().any(|n| n.starts_with("big.bin")), "{left:?}");
}
