#![no_main]
// Any bytes as an rclone.conf, plain or encrypted: no panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::config_file(data));
