#![no_main]
// The first bytes a load balancer sends: the PROXY protocol v1/v2 parser never panics, stays in bounds and reads split headers the same.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::proxy_header(data));
