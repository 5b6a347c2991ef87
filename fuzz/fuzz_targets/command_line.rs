#![no_main]
// Any bytes: the command parser never panics.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::command_line(data));
