#![no_main]
// REMOTE:PATH and rclone.conf text: no panic; specs round-trip through their printed form.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::remote_spec(data));
