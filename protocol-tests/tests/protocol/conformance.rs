//! One conformance suite, run against every backend: the same FTP calls through the real
//! server, with the same expected replies and bytes, whether it serves a local folder,
//! `:memory:`, or another FTP server (a second ftpvfs, and pyftpdlib) through the ftp backend.

use protocol_tests::client::Client;
use protocol_tests::s3::{no_files_below, S3Store};
use protocol_tests::{pattern, sha256, PyFtpd, Server};

/// The suite. Leaves the served root empty.
fn conformance(s: &Server) {
    conformance_of(s, true);
}

/// The suite, for a remote that can set file times (MFMT) or one that refuses to.
fn conformance_of(s: &Server, sets_times: bool) {
    let mut c = Client::login_anonymous(s.addr);
    assert_eq!(c.listing("NLST"), "", "starts empty");

    // Directories.
    assert_eq!(c.cmd("MKD dir").code, 257);
    assert_eq!(c.cmd("MKD dir").code, 550, "MKD of an existing directory");
    assert_eq!(c.cmd("MKD missing/child").code, 550, "MKD under a missing parent");
    assert_eq!(c.cmd("CWD dir").code, 250);
    assert_eq!(c.cmd("PWD").text(), "257 \"/dir\" is the current directory");
    assert_eq!(c.cmd("CWD /").code, 250);
    assert_eq!(c.cmd("CWD nowhere").code, 550);

    // A 3 MiB file round trip, then its facts.
    let data = pattern(3 << 20, 77);
    c.store("STOR dir/f.bin", &data);
    assert_eq!(sha256(&c.retr("dir/f.bin")), sha256(&data));
    assert_eq!(c.cmd("SIZE dir/f.bin").text(), format!("213 {}", data.len()));
    assert_eq!(c.listing("NLST dir"), "f.bin\r\n");
    let mlsd = c.listing("MLSD dir");
    assert!(mlsd.contains(&format!("type=file;size={};", data.len())) && mlsd.ends_with(" f.bin\r\n"), "{mlsd}");
    if sets_times {
        assert_eq!(c.cmd("MFMT 20200102030405 dir/f.bin").code, 213);
        assert_eq!(c.cmd("MDTM dir/f.bin").text(), "213 20200102030405");
    } else {
        assert_eq!(c.cmd("MFMT 20200102030405 dir/f.bin").code, 550, "a remote that cannot set times says so");
        assert_ne!(c.cmd("MDTM dir/f.bin").text(), "213 20200102030405");
    }

    // Resume a download, append, replace with a smaller file.
    assert_eq!(c.cmd("REST 3000000").code, 350);
    assert_eq!(c.retr("dir/f.bin"), &data[3_000_000..]);
    c.store("APPE dir/f.bin", b"tail");
    assert_eq!(c.cmd("SIZE dir/f.bin").text(), format!("213 {}", data.len() + 4));
    assert_eq!(c.cmd("REST 3145728").code, 350);
    assert_eq!(c.retr("dir/f.bin"), b"tail");
    c.store("STOR dir/f.bin", b"smaller");
    assert_eq!(c.retr("dir/f.bin"), b"smaller");

    // Empty files and names with spaces and non-ASCII letters.
    c.store("STOR dir/empty", b"");
    assert_eq!(c.retr("dir/empty"), b"");
    c.store("STOR dir/a b ü.txt", b"unicode");
    assert_eq!(c.retr("dir/a b ü.txt"), b"unicode");
    assert_eq!(c.listing("NLST dir"), "a b ü.txt\r\nempty\r\nf.bin\r\n");

    // What cannot be done.
    assert_eq!(c.cmd("SIZE dir/nothing").code, 550);
    let (_data, r) = c.open_data("RETR dir/nothing");
    assert_eq!(r.code, 550, "RETR of a missing file: {r:?}");
    let (_data, r) = c.open_data("RETR dir");
    assert_eq!(r.code, 550, "RETR of a directory: {r:?}");
    assert_eq!(c.cmd("DELE dir").code, 550, "DELE of a directory");
    assert_eq!(c.cmd("RMD dir").code, 550, "RMD of a directory that is not empty");
    assert_eq!(c.cmd("DELE dir/nothing").code, 550);
    assert_eq!(c.cmd("RNFR dir/nothing").code, 550);

    // Renames: a file into another directory, over an existing file, a directory.
    assert_eq!(c.cmd("MKD other").code, 257);
    assert_eq!(c.cmd("RNFR dir/f.bin").code, 350);
    assert_eq!(c.cmd("RNTO other/g.bin").code, 250);
    assert_eq!(c.cmd("RNFR dir/empty").code, 350);
    assert_eq!(c.cmd("RNTO other/g.bin").code, 250, "rename over a file replaces it");
    assert_eq!(c.retr("other/g.bin"), b"");
    assert_eq!(c.cmd("RNFR other").code, 350);
    assert_eq!(c.cmd("RNTO dir/moved").code, 250);
    assert_eq!(c.listing("NLST dir/moved"), "g.bin\r\n");
    let names: Vec<String> = c.listing("LIST dir").lines().map(|l| l.rsplit(' ').next().unwrap().to_string()).collect();
    assert_eq!(names, ["ü.txt", "moved"], "LIST shows the last word of each name");

    // Clean up: files, then directories deepest first.
    for f in ["dir/moved/g.bin", "dir/a b ü.txt"] {
        assert_eq!(c.cmd(&format!("DELE {f}")).code, 250, "DELE {f}");
    }
    for d in ["dir/moved", "dir"] {
        assert_eq!(c.cmd(&format!("RMD {d}")).code, 250, "RMD {d}");
    }
    assert_eq!(c.listing("NLST"), "");
    assert_eq!(c.cmd("QUIT").code, 221);
}

#[test]
fn local_backend() {
    conformance(&Server::start(&[]));
}

#[test]
fn memory_backend() {
    conformance(&Server::start_remote(":memory:", &[], &[]));
}

#[test]
fn ftp_backend_in_front_of_ftpvfs() {
    let upstream = Server::start(&[]);
    let front =
        Server::start_remote(&format!(":ftp,host=127.0.0.1,port={},user=anonymous:", upstream.addr.port()), &[], &[]);
    conformance(&front);
    let left: Vec<_> = std::fs::read_dir(upstream.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing left on the upstream server: {left:?}");
}

#[test]
fn ftp_backend_in_front_of_pyftpdlib() {
    let upstream = PyFtpd::start();
    let front = Server::start_remote(&format!(":ftp,host=127.0.0.1,port={},user=anonymous:", upstream.port), &[], &[]);
    conformance(&front);
}

#[test]
fn ftp_backend_in_front_of_pyftpdlib_with_list_instead_of_mlsd() {
    let upstream = PyFtpd::start();
    let remote = format!(":ftp,host=127.0.0.1,port={},user=anonymous,disable_mlsd,disable_epsv:", upstream.port);
    let front = Server::start_remote(&remote, &[], &[]);
    conformance(&front);
}

/// S3 writes whole objects, so APPE and REST+STOR need the disk cache (rclone's advice for
/// S3 as well); uploads go out at once.
const S3_CACHE: [&str; 4] = ["--vfs-cache-mode", "writes", "--vfs-write-back", "0s"];

#[test]
fn s3_backend_on_rclone_serve_s3() {
    let store = S3Store::rclone();
    let cache = tempfile::tempdir().unwrap();
    let mut args = S3_CACHE.to_vec();
    args.extend(["--cache-dir", cache.path().to_str().unwrap()]);
    let s = Server::start_remote(&store.remote("", "bucket"), &args, &[]);
    conformance(&s);
    protocol_tests::wait::wait_until(std::time::Duration::from_secs(20), "the bucket is empty", || {
        no_files_below(&store.bucket_dir("bucket"))
    });
}

#[test]
fn s3_backend_on_moto_with_directory_markers() {
    let store = S3Store::moto();
    let cache = tempfile::tempdir().unwrap();
    let mut args = S3_CACHE.to_vec();
    args.extend(["--cache-dir", cache.path().to_str().unwrap()]);
    let s = Server::start_remote(&store.remote(",directory_markers", "bucket/served"), &args, &[]);
    conformance(&s);
    protocol_tests::wait::wait_until(std::time::Duration::from_secs(20), "the bucket is empty", || {
        !store.curl(&[&format!("{}/bucket?list-type=2", store.endpoint)]).contains("<Key>served/")
    });
}

#[test]
fn crypt_backend_over_a_local_folder() {
    let store = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (_, pass, _) = protocol_tests::run_cli(&["obscure", "conformance"]);
    let remote = format!(":crypt,remote='{}',password={}:", store.path().display(), pass.trim());
    let s = Server::start_remote(
        &remote,
        &["--vfs-cache-mode", "writes", "--vfs-write-back", "0s", "--cache-dir", cache.path().to_str().unwrap()],
        &[],
    );
    conformance(&s);
    protocol_tests::wait::wait_until(std::time::Duration::from_secs(20), "the store is empty", || {
        no_files_below(store.path())
    });
}

/// WebDAV writes whole files, so APPE and REST+STOR need the disk cache (as for S3).
fn webdav_conformance(server: &protocol_tests::dav::DavServer, options: &str, sets_times: bool) {
    let cache = tempfile::tempdir().unwrap();
    let mut args = S3_CACHE.to_vec();
    args.extend(["--cache-dir", cache.path().to_str().unwrap()]);
    let s = Server::start_remote(&format!(":webdav,url='{}'{options}:", server.url), &args, &[]);
    conformance_of(&s, sets_times);
    // Nothing left behind: no temporary uploads, no directories.
    protocol_tests::wait::wait_until(std::time::Duration::from_secs(20), "the served folder is empty", || {
        std::fs::read_dir(server.path()).unwrap().next().is_none()
    });
}

#[test]
fn webdav_backend_on_rclone_serve_webdav() {
    webdav_conformance(&protocol_tests::dav::DavServer::rclone(&[]), ",vendor=rclone", false);
}

#[test]
fn webdav_backend_on_rclone_serve_webdav_as_owncloud() {
    webdav_conformance(&protocol_tests::dav::DavServer::rclone(&["--etag-hash", "MD5"]), ",vendor=owncloud", true);
}

#[test]
fn webdav_backend_on_wsgidav() {
    webdav_conformance(&protocol_tests::dav::DavServer::wsgidav(), "", false);
}

#[test]
fn webdav_backend_on_apache_mod_dav() {
    webdav_conformance(&protocol_tests::dav::DavServer::apache(), "", false);
}

#[test]
fn webdav_backend_on_the_nextcloud_stand_in() {
    let (_, pass, _) = protocol_tests::run_cli(&["obscure", "secret"]);
    let nc = protocol_tests::dav::DavServer::nextcloud();
    webdav_conformance(&nc, &format!(",vendor=nextcloud,user=ann,pass={},nextcloud_chunk_size=1Mi", pass.trim()), true);
    let asked = nc.requests();
    assert!(asked.contains("MOVE /remote.php/dav/uploads/ann/"), "the 3 MiB file went up in chunks:\n{asked}");
}
