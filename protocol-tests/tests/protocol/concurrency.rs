use protocol_tests::client::Client;
use protocol_tests::{pattern, Server};

#[test]
fn two_hundred_sessions_at_once_each_upload_and_download() {
    let s = Server::start(&[]);
    let addr = s.addr;
    let threads: Vec<_> = (0..200u64)
        .map(|i| {
            std::thread::spawn(move || {
                let data = pattern(4096 + i as usize, i);
                let mut c = Client::login_anonymous(addr);
                c.store(&format!("STOR f{i}"), &data);
                assert_eq!(c.retr(&format!("f{i}")), data);
                assert_eq!(c.cmd("QUIT").code, 221);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("session thread");
    }
    assert_eq!(std::fs::read_dir(s.path()).unwrap().count(), 200);
    // The server still serves a fresh client.
    let mut c = Client::login_anonymous(addr);
    assert_eq!(c.cmd("NOOP").code, 200);
}
