#![no_main]
// "cwd" LF "arg": resolution stays inside the root and matches a stack model.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::path(data));
