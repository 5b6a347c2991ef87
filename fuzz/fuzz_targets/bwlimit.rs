#![no_main]
// A --bwlimit or rc core/bwlimit value: the timetable parser never panics and what it accepts is consistent.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::bwlimit(data));
