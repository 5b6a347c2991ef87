#![no_main]
// Any bytes on the rc port: the HTTP request and parameter parser never panics.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::rc_request(data));
