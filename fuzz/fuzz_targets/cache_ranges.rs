#![no_main]
// The disk cache's byte-range set against a plain bitmap model.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::cache_ranges(data));
