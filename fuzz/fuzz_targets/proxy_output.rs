#![no_main]
// What an --auth-proxy program prints: no panic; an accepted answer has type and _root.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::proxy_output(data));
