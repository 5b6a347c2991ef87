#![no_main]
// Bytes as an encrypted file and as stored names: the crypt decoders never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::crypt(data));
