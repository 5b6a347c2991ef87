//! Entry points for the fuzz targets in `fuzz/` (and for `cargo test`, which replays their
//! seeds and saved crashes). Not a stable API. Each function panics when the property it
//! checks is broken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{Secret, StaticUser};
use crate::backend::memory::MemoryBackend;
use crate::data::{TransferBody, TransferOutcome};
use crate::ftp::args;
use crate::ftp::command;
use crate::ftp::line::{Frame, LineFramer};
use crate::server::limits::Limits;
use crate::session::{jobs, Action, Session, Shared};
use crate::vfs::{Vfs, VfsOptions, VfsPath};

/// `command_line`: parsing any bytes never panics.
pub fn command_line(data: &[u8]) {
    let _ = command::parse(data);
}

/// `command_roundtrip`: whatever parses formats back to a line that parses to the same command.
pub fn command_roundtrip(data: &[u8]) {
    if let Ok(cmd) = command::parse(data) {
        let again = command::parse(cmd.to_line().as_bytes());
        assert_eq!(again.as_ref(), Ok(&cmd), "round trip of {cmd:?}");
    }
}

/// `line_framer`: splitting the input into reads never changes the lines and over-long-line
/// reports: every split point for short inputs, the one the first byte picks for long ones.
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
    let whole = collect(&[input]);
    if input.len() <= 256 {
        for at in 0..=input.len() {
            assert_eq!(collect(&[&input[..at], &input[at..]]), whole, "split at {at}");
        }
    } else {
        let at = usize::from(split) * input.len() / 255;
        assert_eq!(collect(&[&input[..at], &input[at..]]), whole, "split at {at}");
    }
}

/// `host_port`: PORT/EPRT/EPSV arguments never panic, ports are never 0 where one is
/// required, and PORT and EPRT addresses round-trip through their wire form.
pub fn host_port(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(addr) = args::host_port(text) {
        assert_eq!(args::host_port(&args::format_host_port(addr)), Ok(addr));
    }
    if let Ok(args::EprtTarget::Addr(addr)) = args::eprt(text) {
        assert_ne!(addr.port(), 0);
        let line = command::Command::Eprt(args::EprtTarget::Addr(addr)).to_line();
        assert_eq!(command::parse(line.as_bytes()), Ok(command::Command::Eprt(args::EprtTarget::Addr(addr))));
    }
    let _ = args::epsv(text);
}

/// `path`: resolving any argument against any current directory stays inside the root and
/// agrees with a plain stack model of `.`/`..` handling.
pub fn path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (cwd_arg, arg) = text.split_once('\n').unwrap_or(("/", &text));
    let Ok(cwd) = VfsPath::root().resolve(cwd_arg) else { return };
    let Ok(resolved) = cwd.resolve(arg) else {
        assert!(
            arg.contains(['\0', '\r', '\n'])
                || arg.len() > crate::vfs::path::MAX_PATH
                || arg.split('/').any(|c| c.len() > crate::vfs::path::MAX_NAME)
                || cwd.as_str().len() + arg.len() > crate::vfs::path::MAX_PATH,
            "refused {arg:?}"
        );
        return;
    };
    let p = resolved.as_str();
    assert!(p.starts_with('/'), "{p:?}");
    assert!(p == "/" || !p.ends_with('/'), "{p:?}");
    for c in resolved.components() {
        assert!(!c.is_empty() && c != "." && c != "..", "{p:?}");
        assert!(!c.contains(['\0', '\r', '\n']), "{p:?}");
    }
    // The model: a stack of components, `..` pops (never below the root), `.` and "" vanish.
    let mut stack: Vec<&str> = if arg.starts_with('/') { Vec::new() } else { cwd.components().collect() };
    for c in arg.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            c => stack.push(c),
        }
    }
    assert_eq!(p, format!("/{}", stack.join("/")), "cwd {cwd} arg {arg:?}");
}

/// `remote_spec`: REMOTE:PATH parsing never panics and what parses prints back to text that
/// parses to the same spec; the config-file reader never panics on any text.
pub fn remote_spec(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(spec) = crate::remote::RemoteSpec::parse(&text) {
        let printed = spec.to_string();
        assert_eq!(crate::remote::RemoteSpec::parse(&printed).as_ref(), Ok(&spec), "{text:?} printed as {printed:?}");
    }
    let _ = crate::remote::config_file::ConfigFile::parse(&text, "fuzz");
}

/// `ftp_client`: what an FTP server sends the ftp backend. The reply parser never panics,
/// uses no more than it was given and at least one line per reply, and gives the same replies
/// however the bytes are split; the 227/229 and listing-line parsers never panic.
pub fn ftp_client(data: &[u8]) {
    use crate::ftp::reply_parser::{parse_epsv, parse_pasv, parse_reply, ReplyParse};
    let mut whole = Vec::new();
    let mut rest = data;
    while let ReplyParse::Complete(reply, used) = parse_reply(rest) {
        assert!(used > 0 && used <= rest.len(), "used {used} of {}", rest.len());
        assert!((100..600).contains(&reply.code));
        rest = &rest[used..];
        whole.push(reply);
    }
    // Fed in two parts (as reads may split it), the same replies come out.
    let split = data.len() / 3;
    let mut buf = data[..split].to_vec();
    let mut again = Vec::new();
    let mut fed_all = false;
    loop {
        match parse_reply(&buf) {
            ReplyParse::Complete(reply, used) => {
                buf.drain(..used);
                again.push(reply);
            }
            _ if !fed_all => {
                buf.extend_from_slice(&data[split..]);
                fed_all = true;
            }
            _ => break,
        }
    }
    assert_eq!(whole, again, "replies depend on how the bytes were split");
    let text = String::from_utf8_lossy(data);
    let _ = parse_pasv(&text);
    let _ = parse_epsv(&text);
    let now = crate::ftp::time::from_unix(1_790_000_000, 0);
    for line in text.lines() {
        let _ = crate::ftp::listing_parser::parse_mlsx_line(line);
        if let Some(e) = crate::ftp::listing_parser::parse_list_line(line, now) {
            assert!(!e.name.is_empty() && !e.name.contains('/'), "{line:?} gave {:?}", e.name);
        }
    }
}

/// `proxy_output`: whatever an `--auth-proxy` program prints, parsing never panics, and an
/// accepted answer has a `type` and a `_root` and no `_obscure` left.
pub fn proxy_output(data: &[u8]) {
    if let Ok((_, config)) = crate::auth::proxy::parse_output(data) {
        assert!(config.get("type").is_some_and(|t| !t.is_empty()), "{config:?}");
        assert!(config.contains_key("_root") && !config.contains_key("_obscure"), "{config:?}");
    }
}

/// `rc_request`: any bytes on the rc port: parsing never panics, a request is accepted only
/// when whole, and a longer buffer never turns an accepted request into another one.
pub fn rc_request(data: &[u8]) {
    use crate::rc::http::parse_request;
    if let Ok(Some(req)) = parse_request(data) {
        assert!(!req.command.starts_with('/'), "{req:?}");
        let header = req.authorization.as_deref();
        if crate::rc::basic_auth_matches(header, "user", "pass") {
            assert_eq!(header.map(str::trim), Some("Basic dXNlcjpwYXNz"), "other credentials accepted");
        }
        let mut longer = data.to_vec();
        longer.extend_from_slice(b"trailing bytes");
        assert_eq!(parse_request(&longer), Ok(Some(req)), "trailing bytes changed the request");
    }
}

/// `cache_ranges`: the cache's byte-range set agrees with a plain bitmap model. Each 3-byte
/// step is an operation (insert, truncate, or a query checked against the bitmap) on a 256-byte
/// file; after each, the set's ranges must be sorted, disjoint, non-touching and non-empty.
pub fn cache_ranges(data: &[u8]) {
    use crate::vfs::cache::ranges::RangeSet;
    let mut set = RangeSet::new();
    let mut model = [false; 256];
    for step in data.chunks_exact(3) {
        let (op, a, b) = (step[0] % 4, u64::from(step[1]), u64::from(step[2]));
        let (lo, hi) = (a.min(b), a.max(b));
        match op {
            0 => {
                set.insert(lo, hi);
                for bit in &mut model[lo as usize..hi as usize] {
                    *bit = true;
                }
            }
            1 => {
                set.truncate(a);
                for bit in &mut model[a as usize..] {
                    *bit = false;
                }
            }
            2 => {
                let all = model[lo as usize..hi as usize].iter().all(|b| *b);
                assert_eq!(set.contains(lo, hi), all, "contains({lo}, {hi}) of {set:?}");
            }
            _ => {
                let first = (lo..hi).find(|&i| !model[i as usize]);
                let expected = first.map(|s| (s, (s..hi).find(|&i| model[i as usize]).unwrap_or(hi)));
                assert_eq!(set.first_missing(lo, hi), expected, "first_missing({lo}, {hi}) of {set:?}");
            }
        }
        let pairs = set.pairs();
        assert!(pairs.iter().all(|&(s, e)| s < e), "{pairs:?}");
        assert!(pairs.windows(2).all(|w| w[0].1 < w[1].0), "sorted, disjoint, not touching: {pairs:?}");
        assert_eq!(set.total(), model.iter().filter(|b| **b).count() as u64, "{pairs:?}");
    }
}

/// `session`: the input is a control stream for one session on an empty memory backend. No
/// panic, and every command taken gets exactly one final reply (a second one only when it is
/// the 421 that closes the session). Jobs run inline; transfers end at once with an outcome
/// picked from the command line's length.
pub fn session(data: &[u8]) {
    let options = VfsOptions { read_only: data.first() == Some(&b'R'), ..VfsOptions::default() };
    let vfs = Vfs::new(Box::new(MemoryBackend::new()), options);
    let shared = Arc::new(Shared {
        auth: Box::new(StaticUser::new("anonymous".into(), Secret::default())),
        vfs: Some(vfs),
        proxy: None,
        vfs_options: options,
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
    let mut now = Instant::now();
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 2121));
    let mut s = Session::new(shared, peer, local, now);
    assert_eq!(drive(&mut s, &mut now, 0), vec![220], "greeting");
    let mut framer = LineFramer::new(Limits::default().max_line);
    framer.push(data);
    while let Some(frame) = framer.peek() {
        if s.is_closed() {
            break;
        }
        let hint = match frame {
            Frame::TooLong => {
                s.on_line_too_long(now);
                0
            }
            Frame::Line(line) => {
                assert!(s.can_take(line) || s.is_closed(), "an idle session takes every line");
                s.on_line(line, now);
                line.len()
            }
        };
        framer.consume();
        let finals: Vec<u16> = drive(&mut s, &mut now, hint).into_iter().filter(|c| *c >= 200).collect();
        let ok = finals.len() == 1 || (finals.len() == 2 && finals[1] == 421 && s.is_closed());
        assert!(ok, "final replies {finals:?} for one command");
    }
}

/// Applies a session's actions until it is idle: jobs run on the VFS, transfers end at once,
/// held login failures are released by moving the clock. Returns the reply codes in order.
fn drive(s: &mut Session, now: &mut Instant, hint: usize) -> Vec<u16> {
    let mut codes = Vec::new();
    for _ in 0..64 {
        let mut progressed = false;
        while let Some(action) = s.poll_action() {
            progressed = true;
            match action {
                Action::Reply(r) => codes.push(r.code.number()),
                Action::Job(job, session_vfs) => {
                    let result = jobs::run(session_vfs.as_ref(), job);
                    s.on_job_done(result, *now);
                }
                Action::OpenPassive => s.on_passive_ready(Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 30000)))),
                Action::StartTransfer(plan) => {
                    let outcome = finish_transfer(plan.body, hint);
                    s.on_transfer_done(outcome, *now);
                }
                Action::AbortTransfer => s.on_transfer_done(TransferOutcome::Aborted, *now),
                Action::DropDataConnection | Action::StartTls | Action::Close => {}
            }
        }
        if let Some(deadline) = s.next_deadline() {
            if !s.is_idle() {
                *now = deadline.max(*now) + Duration::from_millis(1);
                s.on_timeout(*now);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    codes
}

fn finish_transfer(body: TransferBody, hint: usize) -> TransferOutcome {
    match (body, hint % 4) {
        (TransferBody::Upload { mut stream, .. }, 0 | 1) => {
            match stream.write_all(b"fuzz\n").and_then(|_| stream.commit()) {
                Ok(bytes) => TransferOutcome::Complete { bytes },
                Err(e) => TransferOutcome::Storage(e),
            }
        }
        (TransferBody::Upload { stream, .. }, _) => {
            stream.abort();
            TransferOutcome::ConnectionLost("fuzz: data connection lost")
        }
        (TransferBody::Download { mut stream, .. }, 0 | 1) => {
            let mut buf = [0u8; 4096];
            let mut bytes = 0;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break TransferOutcome::Complete { bytes },
                    Ok(n) => bytes += n as u64,
                    Err(e) => break TransferOutcome::Storage(e),
                }
            }
        }
        (TransferBody::Download { .. }, 2) => TransferOutcome::ClosedByPeer { bytes: 0 },
        (TransferBody::Send(b), 0..=2) => TransferOutcome::Complete { bytes: b.len() as u64 },
        (_, _) => TransferOutcome::NoConnection("fuzz: nobody connected"),
    }
}

/// `s3_response`: whatever an S3 server answers: the bounded XML reader and every S3 answer
/// parser (listings v1/v2, URL-encoded or not, buckets, upload ids, copy and completion
/// results, errors) and the HTTP time parsers never panic; an accepted tree is within the
/// depth limit.
#[cfg(feature = "s3")]
pub fn s3_response(data: &[u8]) {
    use crate::backend::net::{http_time, xml};
    if let Ok(root) = xml::parse(data) {
        fn depth(e: &xml::Element) -> usize {
            1 + e.children.iter().map(depth).max().unwrap_or(0)
        }
        assert!(depth(&root) <= xml::MAX_DEPTH, "an accepted tree deeper than the limit");
    }
    crate::backend::s3::responses::parse_all(data);
    let text = String::from_utf8_lossy(data);
    let _ = http_time::parse_iso8601(&text);
    let _ = http_time::parse_rfc1123(&text);
    if let Some(t) = http_time::parse_mtime_meta(&text) {
        assert_eq!(http_time::parse_mtime_meta(&http_time::mtime_meta(t)), Some(t), "mtime metadata round trip");
    }
}

/// `crypt`: bytes as an encrypted file and as stored names. The block decoder (after the
/// header's magic, every 65,552-byte block opened under zero keys and the header's nonce)
/// and the name decoders of every mode never panic; a name that encrypts decrypts back; a
/// block sealed and tampered with never opens.
#[cfg(feature = "crypt")]
pub fn crypt(data: &[u8]) {
    use crate::backend::crypt::cipher::{decrypted_size, BlockCipher, Keys, Nonce, BLOCK_SIZE, HEADER_SIZE, MAGIC};
    use crate::backend::crypt::names::{Encoding, NameCipher, NameMode};
    let keys = Keys::derive("", "");
    let blocks = BlockCipher::new(&keys);
    let _ = decrypted_size(data.len() as u64);
    if data.len() >= HEADER_SIZE as usize && &data[..8] == MAGIC {
        let mut nonce = Nonce([0u8; 24]);
        nonce.0.copy_from_slice(&data[8..32]);
        for chunk in data[32..].chunks(BLOCK_SIZE as usize) {
            let mut block = chunk.to_vec();
            let _ = blocks.open(&nonce, &mut block);
            nonce.increment();
        }
    }
    // rclone never writes an empty block (an empty file is its header alone), and refuses one.
    if let Some((&first, rest)) = data.split_first().filter(|(_, rest)| !rest.is_empty()) {
        let mut sealed = Vec::new();
        let nonce = Nonce([first; 24]);
        blocks.seal(&nonce, &rest[..rest.len().min(65536)], &mut sealed);
        let mut copy = sealed.clone();
        assert_eq!(blocks.open(&nonce, &mut copy).ok(), Some(rest.len().min(65536)), "a sealed block opens");
        let at = first as usize % sealed.len();
        sealed[at] ^= 1;
        assert!(blocks.open(&nonce, &mut sealed).is_err(), "a tampered block never opens");
    }
    let text = String::from_utf8_lossy(data);
    // base32768 on its own: any text decodes or is refused, any bytes round-trip.
    let _ = crate::backend::crypt::base32768::decode(&text);
    let encoded = crate::backend::crypt::base32768::encode(data);
    assert_eq!(crate::backend::crypt::base32768::decode(&encoded).as_deref(), Ok(data), "base32768 round trip");
    for mode in [
        NameMode::Standard(Encoding::Base32),
        NameMode::Standard(Encoding::Base64),
        NameMode::Standard(Encoding::Base32768),
        NameMode::Obfuscate,
        NameMode::Off(".bin".into()),
    ] {
        let names = NameCipher::new(&keys, mode.clone());
        let _ = names.decrypt(&text, true);
        let plain: String = text.chars().filter(|c| *c != '/' && !c.is_control()).take(100).collect();
        if !plain.is_empty() {
            let stored = names.encrypt(&plain, true);
            assert_eq!(names.decrypt(&stored, true).as_deref(), Ok(plain.as_str()), "{mode:?} round trip of {plain:?}");
        }
    }
}

/// `config_file`: any bytes as an rclone.conf: telling plain from encrypted, decrypting with
/// a wrong password, and the INI reader never panic.
pub fn config_file(data: &[u8]) {
    use crate::remote::config_crypt::{decrypt, kind, Kind};
    let text = String::from_utf8_lossy(data);
    if let Kind::Encrypted(payload) = kind(&text) {
        let _ = decrypt(payload, "fuzz");
    }
    let _ = decrypt(&text, "");
    let _ = crate::remote::config_file::ConfigFile::parse(&text, "fuzz");
}

/// `name_encoding`: any stored name under rclone's encodings (the s3 and ftp defaults, the
/// standard one, every flag at once): decoding never panics; under the s3 and ftp defaults
/// a name without the quote rune `‛` encodes and decodes back to itself.
pub fn name_encoding(data: &[u8]) {
    use crate::backend::name_encoding::NameEncoding;
    let text = String::from_utf8_lossy(data);
    let every = NameEncoding::parse("0xFFFFFFE").unwrap_or(NameEncoding::S3);
    for enc in [NameEncoding::S3, NameEncoding::FTP, NameEncoding::STANDARD, every] {
        let _ = enc.decode(&text);
        let _ = enc.to_standard(&text);
        let _ = enc.from_standard_path(&text);
    }
    // rclone's decoder reads "‛‛␠" at the end of a name as "‛" + a quoted "␠" (its suffix
    // rule looks one rune back), so names holding the quote itself do not always round-trip,
    // in rclone as here; the others must.
    if !text.contains('\u{201B}') {
        for enc in [NameEncoding::S3, NameEncoding::FTP] {
            assert_eq!(enc.decode(&enc.encode(&text)), text.as_bytes(), "{enc:?} round trip of {text:?}");
        }
    }
}

/// `proxy_header`: any bytes at the start of a balancer's connection. The PROXY header parser
/// never panics; a header it finds lies within the bytes and the bound, parses the same
/// without what follows it, and every shorter prefix of it is "incomplete" (so a header split
/// across reads is read the same); the `--proxy-protocol-from` list parser never panics and a
/// listed host is contained.
pub fn proxy_header(data: &[u8]) {
    use crate::server::proxy_header::{parse, Parsed, TrustedProxies, MAX_HEADER};
    if let Ok(Parsed::Header(h)) = parse(data) {
        assert!(h.len <= data.len() && h.len <= MAX_HEADER, "a header longer than its bytes or the bound");
        assert_eq!(parse(&data[..h.len]), Ok(Parsed::Header(h)), "the header depends on what follows it");
        let step = if h.len <= 256 { 1 } else { h.len / 64 };
        for cut in (0..h.len).step_by(step) {
            assert_eq!(parse(&data[..cut]), Ok(Parsed::Incomplete), "a prefix of a header that is not incomplete");
        }
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(list) = TrustedProxies::parse(&text) {
        for entry in text.split(',').map(str::trim) {
            if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
                assert!(list.contains(ip), "{ip} is listed but not contained");
            }
        }
    }
}

/// `http_index`: whatever a web server answers for a directory. The index parser never panics
/// and finds no more links than the page has `<`; each link resolved against the page's URL
/// (and a second one, to vary the base) never panics, and a name it gives is one entry of the
/// directory: not empty, not `.` or `..`, no `/` but a final one, no control character.
#[cfg(feature = "http")]
pub fn http_index(data: &[u8]) {
    use crate::backend::http::index::hrefs;
    use crate::backend::http::links::{entry_name, Url};
    let links = hrefs(data);
    assert!(links.len() <= data.iter().filter(|&&b| b == b'<').count(), "more links than tags");
    let bases = ["http://127.0.0.1:8080/pub/dir/", "https://h/"].map(|u| Url::parse(u).expect("a base"));
    for link in &links {
        for base in &bases {
            if let Some(name) = entry_name(base, link) {
                let bare = name.strip_suffix('/').unwrap_or(&name);
                assert!(!bare.is_empty() && bare != "." && bare != ".." && !bare.contains('/'), "{link:?} -> {name:?}");
            }
        }
    }
}

/// `webdav_propfind`: whatever a WebDAV server answers to PROPFIND or PROPPATCH. The bounded
/// multistatus reader never panics; each href resolved against a listing's URL is either left
/// out or one name of that directory (no `/`, not `.` or `..`, no control character); checksums
/// come out lower case.
#[cfg(feature = "webdav")]
pub fn webdav_propfind(data: &[u8]) {
    use crate::backend::net::url::Url;
    use crate::backend::webdav::propfind::{name_in, parse};
    let Ok(items) = parse(data) else { return };
    let base = Url::parse("http://127.0.0.1:8080/remote.php/dav/files/ann/sub%20dir/").expect("a base");
    for item in &items {
        if let Some(name) = name_in(&base, &item.href) {
            assert!(!name.contains('/') && name != "." && name != "..", "{:?} -> {name:?}", item.href);
            assert!(!name.chars().any(char::is_control), "{:?} -> {name:?}", item.href);
        }
        for kind in ["SHA1", "MD5"] {
            if let Some(sum) = item.checksum(kind) {
                assert_eq!(sum, sum.to_ascii_lowercase());
            }
        }
    }
}

/// `bwlimit`: any text for `--bwlimit` or `rc core/bwlimit rate=` (which comes from the
/// network). The timetable parser never panics; what it accepts has valid days and times, stays
/// within its entry bound, answers every minute of the week with one of its own limits, and
/// prints limits that parse again.
pub fn bwlimit(data: &[u8]) {
    use crate::data::bandwidth::{BwPair, Timetable};
    let text = String::from_utf8_lossy(data);
    let Ok(table) = Timetable::parse(&text) else { return };
    assert!(!table.0.is_empty() && table.0.len() <= 10_000, "{} entries", table.0.len());
    for slot in &table.0 {
        assert!(slot.weekday < 7 && slot.hhmm / 100 < 24 && slot.hhmm % 100 < 60, "{slot:?}");
        let printed = slot.bandwidth.to_string();
        let again = BwPair::parse(&printed).unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
        assert_eq!(again.is_set(), slot.bandwidth.is_set(), "{printed:?}");
    }
    let step = data.first().map_or(1, |b| u32::from(*b) + 1);
    for week_minute in (0..7 * 24 * 60).step_by(step as usize) {
        let (day, minute) = (week_minute / (24 * 60), week_minute % (24 * 60));
        let limit = table.limit_at(day, minute / 60 * 100 + minute % 60);
        assert!(table.0.iter().any(|s| s.bandwidth == limit), "{limit:?} is in no entry");
    }
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

    #[test]
    fn command_roundtrip_seeds_replay() {
        replay("command_line", super::command_roundtrip);
    }

    #[test]
    fn host_port_seeds_replay() {
        replay("host_port", super::host_port);
    }

    #[test]
    fn path_seeds_replay() {
        replay("path", super::path);
    }

    #[test]
    fn remote_spec_seeds_replay() {
        replay("remote_spec", super::remote_spec);
    }

    #[test]
    fn ftp_client_seeds_replay() {
        replay("ftp_client", super::ftp_client);
    }

    #[test]
    fn proxy_output_seeds_replay() {
        replay("proxy_output", super::proxy_output);
    }

    #[test]
    fn rc_request_seeds_replay() {
        replay("rc_request", super::rc_request);
    }

    #[test]
    fn cache_ranges_seeds_replay() {
        replay("cache_ranges", super::cache_ranges);
    }

    #[test]
    #[cfg(feature = "s3")]
    fn s3_response_seeds_replay() {
        replay("s3_response", super::s3_response);
    }

    #[test]
    #[cfg(feature = "crypt")]
    fn crypt_seeds_replay() {
        replay("crypt", super::crypt);
    }

    #[test]
    fn config_file_seeds_replay() {
        replay("config_file", super::config_file);
    }

    #[test]
    fn name_encoding_seeds_replay() {
        replay("name_encoding", super::name_encoding);
    }

    #[test]
    fn proxy_header_seeds_replay() {
        replay("proxy_header", super::proxy_header);
    }

    #[test]
    #[cfg(feature = "http")]
    fn http_index_seeds_replay() {
        replay("http_index", super::http_index);
    }

    #[test]
    #[cfg(feature = "webdav")]
    fn webdav_propfind_seeds_replay() {
        replay("webdav_propfind", super::webdav_propfind);
    }

    #[test]
    fn bwlimit_seeds_replay() {
        replay("bwlimit", super::bwlimit);
    }

    #[test]
    fn session_seeds_replay() {
        replay("session", super::session);
    }
}
