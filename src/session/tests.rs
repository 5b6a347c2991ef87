//! Session tests without sockets: lines in, actions out; jobs run inline on a temp dir.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::auth::{Secret, StaticUser};
use crate::backend::local::LocalBackend;
use crate::vfs::VfsOptions;

struct Harness {
    session: Session,
    now: Instant,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(opts: VfsOptions) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let vfs = Vfs::new(Box::new(LocalBackend::new(dir.path().canonicalize().unwrap())), opts);
        let shared = Arc::new(Shared {
            auth: Box::new(StaticUser::new("u".into(), Secret::new("p".into()))),
            vfs: Some(vfs.clone()),
            proxy: None,
            vfs_options: opts,
            public_ip: None,
            limits: Limits::default(),
            login_failures: Default::default(),
            tls: None,
            xferlog: None,
            bandwidth: Default::default(),
            bwlimit_file: Default::default(),
            counters: Default::default(),
            proxy_protocol_from: Default::default(),
        });
        let now = Instant::now();
        let peer = "127.0.0.1:40000".parse().unwrap();
        let local = "127.0.0.1:2121".parse().unwrap();
        let mut h = Harness { session: Session::new(shared, peer, local, now), now, _dir: dir };
        assert_eq!(h.replies(), vec!["220"]);
        h
    }

    /// Sends a line, runs any jobs inline, and returns the reply codes.
    fn send(&mut self, line: &str) -> Vec<String> {
        self.session.on_line(line.as_bytes(), self.now);
        self.replies()
    }

    fn replies(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(a) = self.session.poll_action() {
            match a {
                Action::Reply(r) => out.push(r.to_wire().get(..3).unwrap().to_string()),
                Action::Job(j, vfs) => {
                    let result = jobs::run(vfs.as_ref(), j);
                    self.session.on_job_done(result, self.now);
                }
                Action::OpenPassive => self.session.on_passive_ready(Ok("127.0.0.1:30000".parse().unwrap())),
                Action::StartTransfer(_) => out.push("transfer".into()),
                Action::AbortTransfer => self.session.on_transfer_done(crate::data::TransferOutcome::Aborted, self.now),
                Action::DropDataConnection | Action::StartTls => {}
                Action::Close => out.push("close".into()),
            }
        }
        out
    }

    fn login(&mut self) {
        assert_eq!(self.send("USER u"), ["331"]);
        assert_eq!(self.send("PASS p"), ["230"]);
    }
}

#[test]
fn commands_before_login_get_530_except_info_commands() {
    let mut h = Harness::new(VfsOptions::default());
    assert_eq!(h.send("LIST"), ["530"]);
    assert_eq!(h.send("CWD /"), ["530"]);
    assert_eq!(h.send("SYST"), ["215"]);
    assert_eq!(h.send("FEAT"), ["211"]);
    assert_eq!(h.send("NOOP"), ["200"]);
    assert_eq!(h.send("BOGUS"), ["500"]);
}

#[test]
fn wrong_password_is_answered_after_a_delay_then_the_session_closes() {
    let mut h = Harness::new(VfsOptions::default());
    for attempt in 1..=5u32 {
        assert_eq!(h.send("USER u"), ["331"]);
        assert_eq!(h.send("PASS wrong"), Vec::<String>::new(), "no reply before the delay");
        assert!(!h.session.can_take(b"NOOP"));
        let due = h.session.next_deadline().unwrap();
        assert!(due >= h.now + Duration::from_secs(1));
        h.now = due;
        h.session.on_timeout(h.now);
        let expected: Vec<&str> = if attempt < 5 { vec!["530"] } else { vec!["421", "close"] };
        assert_eq!(h.replies(), expected);
    }
}

#[test]
fn rename_needs_rnfr_immediately_before() {
    let mut h = Harness::new(VfsOptions::default());
    h.login();
    assert_eq!(h.send("MKD a"), ["257"]);
    assert_eq!(h.send("RNTO b"), ["503"]);
    assert_eq!(h.send("RNFR a"), ["350"]);
    assert_eq!(h.send("NOOP"), ["200"]);
    assert_eq!(h.send("RNTO b"), ["503"], "NOOP ended the pending rename");
    assert_eq!(h.send("RNFR a"), ["350"]);
    assert_eq!(h.send("RNTO b"), ["250"]);
    assert_eq!(h.send("CWD b"), ["250"]);
    assert_eq!(h.send("CWD /a"), ["550"]);
}

#[test]
fn transfers_need_a_data_setup_and_abor_answers_426_then_226() {
    let mut h = Harness::new(VfsOptions::default());
    h.login();
    assert_eq!(h.send("LIST"), ["425"]);
    assert_eq!(h.send("PASV"), ["227"]);
    assert_eq!(h.send("LIST"), ["150", "transfer"]);
    assert!(h.session.can_take(b"ABOR"));
    assert!(!h.session.can_take(b"LIST"));
    assert_eq!(h.send("ABOR"), ["426", "226"]);
    assert_eq!(h.send("ABOR"), ["226"], "nothing left to abort");
}

#[test]
fn read_only_refuses_every_change_with_550() {
    let mut h = Harness::new(VfsOptions { read_only: true, ..VfsOptions::default() });
    h.login();
    assert_eq!(h.send("PASV"), ["227"]);
    for cmd in ["STOR x", "APPE x", "STOU", "MKD d", "RMD d", "DELE x", "RNFR x", "MFMT 20200101000000 x"] {
        assert_eq!(h.send(cmd), ["550"], "{cmd}");
    }
}

#[test]
fn port_to_another_host_or_a_privileged_port_is_refused() {
    let mut h = Harness::new(VfsOptions::default());
    h.login();
    assert_eq!(h.send("PORT 10,0,0,1,200,10"), ["504"]);
    assert_eq!(h.send("EPRT |1|127.0.0.2|5000|"), ["504"]);
    assert_eq!(h.send("PORT 127,0,0,1,0,25"), ["504"]);
    assert_eq!(h.send("EPRT |3|x|5|"), ["522"]);
    assert_eq!(h.send("PORT 127,0,0,1,200,10"), ["200"]);
    assert_eq!(h.send("EPSV ALL"), ["200"]);
    assert_eq!(h.send("PASV"), ["503"]);
    assert_eq!(h.send("EPSV"), ["229"]);
}

#[test]
fn paths_with_forbidden_bytes_get_553() {
    let mut h = Harness::new(VfsOptions::default());
    h.login();
    assert_eq!(h.send("MKD a\0b"), ["553"]);
    assert_eq!(h.send("CWD ../../.."), ["250"]);
    assert_eq!(h.send("PWD"), ["257"]);
}
