use protocol_tests::client::Client;
use protocol_tests::Server;

fn server_with_files() -> Server {
    let s = Server::start(&["--umask", "022", "--uid", "1234", "--gid", "5678"]);
    std::fs::write(s.path().join("a.txt"), b"hello").unwrap();
    std::fs::create_dir(s.path().join("sub dir")).unwrap();
    std::fs::write(s.path().join("sub dir/inner"), b"x").unwrap();
    let old = std::fs::File::options().write(true).open(s.path().join("a.txt")).unwrap();
    old.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_934_245)).unwrap();
    s
}

#[test]
fn list_is_ls_style_with_perms_owner_and_dates() {
    let s = server_with_files();
    let mut c = Client::login_anonymous(s.addr);
    let list = c.listing("LIST");
    let lines: Vec<&str> = list.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{list:?}");
    assert_eq!(lines[0], "-rw-r--r-- 1 1234     5678                5 Jan  2  2020 a.txt");
    assert!(lines[1].starts_with("drwxr-xr-x 1 1234     5678                0 "), "{}", lines[1]);
    assert!(lines[1].ends_with(" sub dir"), "{}", lines[1]);
    assert!(list.ends_with("\r\n"));
    assert_eq!(c.listing("LIST -la"), list, "ls options are accepted");
    assert_eq!(c.listing("LIST -l /"), list);
    let inner = c.listing("LIST -a sub dir");
    assert!(inner.ends_with(" inner\r\n"), "{inner:?}");
    let one = c.listing("LIST a.txt");
    assert_eq!(one, format!("{}\r\n", lines[0]), "LIST of a file lists that file");
    let (_, r) = c.open_data("LIST nope");
    assert_eq!(r.code, 550);
}

#[test]
fn nlst_gives_bare_names() {
    let s = server_with_files();
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "a.txt\r\nsub dir\r\n");
    assert_eq!(c.listing("NLST sub dir"), "inner\r\n");
}

#[test]
fn mlsd_and_mlst_facts() {
    let s = server_with_files();
    let mut c = Client::login_anonymous(s.addr);
    let mlsd = c.listing("MLSD");
    assert_eq!(
        mlsd.split("\r\n").next().unwrap(),
        "type=file;size=5;modify=20200102030405;perm=adfrw;unix.mode=0644; a.txt"
    );
    assert!(mlsd.contains(";unix.mode=0755; sub dir\r\n"), "{mlsd:?}");
    assert!(mlsd.contains("type=dir;"), "{mlsd:?}");
    let mlst = c.cmd("MLST a.txt");
    assert_eq!(mlst.code, 250);
    assert_eq!(mlst.lines[1], " type=file;size=5;modify=20200102030405;perm=adfrw;unix.mode=0644; /a.txt");
    assert_eq!(c.cmd("OPTS MLST size;").code, 200);
    assert_eq!(c.cmd("MLST a.txt").lines[1], " size=5; /a.txt");
    let (_, r) = c.open_data("MLSD a.txt");
    assert_eq!(r.code, 501, "MLSD of a file");
    assert_eq!(c.cmd("MLST nope").code, 550);
}

#[test]
fn stat_with_a_path_lists_over_the_control_connection() {
    let s = server_with_files();
    let mut c = Client::login_anonymous(s.addr);
    let r = c.cmd("STAT /");
    assert_eq!(r.code, 213);
    assert!(r.lines.iter().any(|l| l.ends_with(" a.txt")), "{r:?}");
    assert_eq!(c.cmd("STAT /nope").code, 550);
}

#[test]
fn a_large_directory_lists_every_file_once_with_its_own_size_and_date() {
    // 5,000 files: over the size at which the local backend stats entries on several threads.
    let s = Server::start(&[]);
    let dir = s.path().join("big");
    std::fs::create_dir(&dir).unwrap();
    let base = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_934_245);
    for i in 0..5000u64 {
        let f = std::fs::File::create(dir.join(format!("f{i:04}"))).unwrap();
        f.set_len(i).unwrap();
        f.set_modified(base + std::time::Duration::from_secs(i * 60)).unwrap();
    }
    std::os::unix::fs::symlink("f0001", dir.join("link")).unwrap();
    std::fs::write(dir.join(".f0002.1.ftpvfs-partial"), b"partial").unwrap();
    let mut c = Client::login_anonymous(s.addr);
    let mlsd = c.listing("MLSD big");
    let lines: Vec<&str> = mlsd.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5000, "every file once; no link, no partial upload");
    for (i, line) in lines.iter().enumerate() {
        let t = base + std::time::Duration::from_secs(i as u64 * 60);
        let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let (days, rem) = (secs / 86_400, secs % 86_400);
        // 2020-01-02 is day 18263; all the dates here fall in January 2020.
        let want = format!(
            "type=file;size={i};modify=202001{:02}{:02}{:02}{:02};perm=adfrw;unix.mode=0644; f{i:04}",
            days - 18_262 + 1,
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        );
        assert_eq!(*line, want);
    }
    let list = c.listing("LIST big");
    assert_eq!(list.lines().count(), 5000);
    assert!(list.starts_with("-rw-r--r-- 1 0        0                   0 Jan  2  2020 f0000\r\n"), "{}", &list[..80]);
}
