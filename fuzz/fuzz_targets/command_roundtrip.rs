#![no_main]
// What parses formats back to a line that parses to the same command.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::command_roundtrip(data));
