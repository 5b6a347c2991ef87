#![no_main]
// First byte chooses a split point: any split of the input yields the same lines.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::line_framer(data));
