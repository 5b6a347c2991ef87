#![no_main]
// A WebDAV server's PROPFIND answer: the bounded multistatus reader and href resolution never panic and give only names of the listed directory.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::webdav_propfind(data));
