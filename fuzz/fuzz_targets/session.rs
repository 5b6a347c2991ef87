#![no_main]
// A control stream for one session on the memory backend: one final reply per command.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::session(data));
