#![no_main]
// Stored names under rclone's encodings: decoding never panics; encode then decode is the identity.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::name_encoding(data));
