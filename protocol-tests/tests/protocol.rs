//! The single protocol test binary: each module starts the real ftpvfs and talks FTP to it.

#[path = "protocol/auth_proxy.rs"]
mod auth_proxy; // --auth-proxy: per-user backends, the cache, bad programs, concurrency
#[path = "protocol/bandwidth.rs"]
mod bandwidth; // --bwlimit, --bwlimit-file: every data path, rc core/bwlimit, SIGUSR2
#[path = "protocol/cache.rs"]
mod cache; // --vfs-cache-mode: every mode, write-back, recovery, eviction, partial reads
#[path = "protocol/cli.rs"]
mod cli; // command line: help, version, bad flags, refused flags
#[path = "protocol/clients.rs"]
mod clients; // real clients: curl, Python ftplib, lftp, rclone
#[path = "protocol/commands.rs"]
mod commands; // every verb's replies on the control connection
#[path = "protocol/concurrency.rs"]
mod concurrency; // many sessions at once
#[path = "protocol/conformance.rs"]
mod conformance; // the same calls against every backend (local, memory, ftp, s3)
#[path = "protocol/crypt_backend.rs"]
mod crypt_backend; // rclone's crypt: both ways with the official rclone, tampering, name modes
#[path = "protocol/dir_cache.rs"]
mod dir_cache; // --dir-cache-time, changes through the server, SIGHUP
#[path = "protocol/ftp_backend.rs"]
mod ftp_backend; // serving another FTP server: TLS, config remotes, failures, limits
#[path = "protocol/hardening.rs"]
mod hardening; // the bad-input suite and the limits that bound hostile clients
#[path = "protocol/http_backend.rs"]
mod http_backend; // the http remote on Python http.server and nginx autoindex: listings, ranges, refusals, faults
#[path = "protocol/lifecycle.rs"]
mod lifecycle; // timeouts, signals, shutdown
#[path = "protocol/listing.rs"]
mod listing; // LIST, NLST, MLSD, MLST, STAT formats
#[path = "protocol/login.rs"]
mod login; // USER/PASS rules and delays
#[path = "protocol/proxy_protocol.rs"]
mod proxy_protocol; // --proxy-protocol-from: v1/v2 headers, HAProxy in front of two instances
#[path = "protocol/remote_control.rs"]
mod remote_control; // --rc: ftpvfs rc, curl and rclone rc as clients
#[path = "protocol/remotes.rs"]
mod remotes; // :memory:, config-file and env remotes, connection strings, obscure
#[path = "protocol/s3_backend.rs"]
mod s3_backend; // the s3 remote on rclone serve s3 and moto: interop, multipart, faults, credentials
#[path = "protocol/security.rs"]
mod security; // every safety refusal
#[path = "protocol/systemd.rs"]
mod systemd; // socket activation by systemd-socket-activate, and the notify protocol
#[path = "protocol/tls.rs"]
mod tls; // FTPS: explicit and implicit TLS, PROT, session reuse, reload
#[path = "protocol/transfer.rs"]
mod transfer; // RETR/STOR/APPE/STOU, REST, ASCII, ABOR, active and passive
#[path = "protocol/vfs.rs"]
mod vfs; // the read path, its flags, and the space figures
#[path = "protocol/webdav_backend.rs"]
mod webdav_backend; // the webdav remote on rclone serve webdav, WsgiDAV, Apache and a Nextcloud stand-in
