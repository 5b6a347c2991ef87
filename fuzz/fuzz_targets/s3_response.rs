#![no_main]
// Whatever an S3 server answers: the XML reader, the S3 answer parsers and the HTTP times never panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpvfs::fuzzing::s3_response(data));
