#![no_main]
// A web server's directory index: the HTML link parser and URL resolution never panic and give only names of that directory.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::http_index(data));
