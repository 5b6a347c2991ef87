#![no_main]
// Any bytes: the command parser never panics, and what parses round-trips.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::command_line(data));
