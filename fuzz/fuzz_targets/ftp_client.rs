#![no_main]
// What an upstream FTP server sends the ftp backend: replies (split anywhere), 227/229
// addresses, MLSD and LIST lines. No panic; replies do not depend on read boundaries.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::ftp_client(data));
