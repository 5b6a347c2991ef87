use protocol_tests::{run_cli, Server};

#[test]
fn help_and_version_exit_zero() {
    let (code, out, _) = run_cli(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("ftpvfs serve REMOTE:PATH"));
    let (code, out, _) = run_cli(&["serve", "--help"]);
    assert_eq!(code, 0);
    for flag in ["--addr", "--passive-port", "--vfs-cache-mode", "--read-only", "--umask"] {
        assert!(out.contains(flag), "serve --help lacks {flag}");
    }
    let (code, out, _) = run_cli(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("ftpvfs "));
}

#[test]
fn unknown_flags_and_bad_values_give_one_line_and_exit_2() {
    for args in [
        &["serve", "/tmp", "--bogus"][..],
        &["serve", "/tmp", "--dir-cache-time", "5parsecs"],
        &["serve", "/tmp", "--passive-port", "abc"],
        &["serve", "/tmp", "--file-perms", "0999"],
        &["serve", "/tmp", "--vfs-read-chunk-size", "12Q"],
        &["serve"],
        &["frobnicate"],
    ] {
        let (code, _, err) = run_cli(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ftpvfs: "), "{err}");
    }
}

#[test]
fn backends_of_later_releases_are_refused_by_name() {
    let (code, _, err) = run_cli(&["serve", ":sftp:host"]);
    assert_eq!(code, 1);
    assert!(err.contains("backend \"sftp\" is not supported yet"), "{err}");
}

#[test]
fn serving_line_shows_the_real_port_and_cache_mode_off_is_accepted() {
    let s = Server::start(&["--vfs-cache-mode", "off", "--umask", "022", "--uid", "0", "-v"]);
    assert_ne!(s.addr.port(), 0);
    assert!(s.log().contains(&format!("Serving FTP on {}", s.addr)));
}

#[test]
fn tls_flags_are_checked_before_serving() {
    let (code, _, err) = run_cli(&["serve", "/tmp", "--cert", "c.pem"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--cert and --key must be given together"), "{err}");
    let (code, _, err) = run_cli(&["serve", "/tmp", "--implicit-tls"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--implicit-tls needs --cert and --key"), "{err}");
    let (code, _, err) = run_cli(&["serve", "/tmp", "--cert", "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("ftpvfs: TLS: /nonexistent/c.pem"), "{err}");
}
