#![no_main]
// PORT/EPRT/EPSV arguments: no panic, no port 0, round trips.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::host_port(data));
