#!/usr/bin/env bash
# Benchmark of the webdav remote (prints, asserts nothing): `rclone serve webdav` serves a tmpfs
# folder; on it, ftpvfs (release) and `rclone serve ftp` both serve `:webdav,vendor=rclone`,
# and curl talks WebDAV directly (the ceiling). RETR and STOR of SIZE_MIB (MB/s, server
# CPU-s/GiB) in alternating rounds, then LIST of a 10,000-file directory, cold.
#   cargo build --release && bash protocol-tests/bench/webdav.sh [SIZE_MIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-1024}; rounds=${2:-3}
work=$(mktemp -d /dev/shm/davbench-XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/dav/many" "$work/src"
head -c $((size << 20)) /dev/urandom > "$work/src/big.bin"
cp "$work/src/big.bin" "$work/dav/big.bin"
for i in $(seq 1 10000); do echo "$i" > "$work/dav/many/f$i.txt"; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rclone serve webdav "$work/dav" --config /dev/null --addr "127.0.0.1:$port" 2>/dev/null &
dav=$!
remote=":webdav,url='http://127.0.0.1:$port/',vendor=rclone:"
target/release/ftpvfs serve "$remote" --addr 127.0.0.1:2341 --passive-port 49000-49050 2>/dev/null &
ours=$!
rclone serve ftp "$remote" --config /dev/null --addr 127.0.0.1:2342 --passive-port 49100-49150 2>/dev/null &
theirs=$!
sleep 3
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
# Memory handed back to the host costs this VM far more to hand out again than memory freed a
# moment ago (see issue 23): touch some before each upload so every server starts alike.
pretouch() { python3 -c "b = bytearray($((size << 20))); b[::4096] = b'x' * len(b[::4096])"; }
run() { # name pid direction url
    local c0=0 c1=0 t0 t1
    [ "$3" = STOR ] && pretouch
    [ "$2" != - ] && c0=$(cpu "$2"); t0=$(date +%s.%N)
    if [ "$3" = STOR ]; then curl -sS -T "$work/src/big.bin" "$4" -o /dev/null; else curl -sS -o /dev/null "$4"; fi
    t1=$(date +%s.%N); [ "$2" != - ] && c1=$(cpu "$2")
    awk -v n="$1" -v d="$3" -v s="$size" -v t="$t1" -v t0="$t0" -v c="$c1" -v c0="$c0" -v k="$tick" \
        'BEGIN { printf "%s %s %.0f MB/s %.2f CPU-s/GiB\n", n, d, s * 1048576 / (t - t0) / 1e6, (c - c0) / k / (s / 1024) }'
}
list() { # name url
    local t0 t1 n; t0=$(date +%s.%N); n=$(curl -sS "$2" | wc -l); t1=$(date +%s.%N)
    awk -v n="$1" -v c="$n" -v t="$t1" -v t0="$t0" 'BEGIN { printf "%s LIST of %d entries, cold: %.2f s\n", n, c, t - t0 }'
}
echo "# webdav remote over rclone serve webdav on tmpfs, ${size} MiB, ${rounds} rounds, congestion control $(cat /proc/sys/net/ipv4/tcp_congestion_control)"
for r in $(seq 1 "$rounds"); do
    run ftpvfs "$ours" RETR "ftp://127.0.0.1:2341/big.bin"
    run rclone "$theirs" RETR "ftp://127.0.0.1:2342/big.bin"
    run "curl (direct)" - RETR "http://127.0.0.1:$port/big.bin"
    run ftpvfs "$ours" STOR "ftp://127.0.0.1:2341/up-ftpvfs-$r.bin"
    run rclone "$theirs" STOR "ftp://127.0.0.1:2342/up-rclone-$r.bin"
    run "curl (direct)" - STOR "http://127.0.0.1:$port/up-curl-$r.bin"
done
list ftpvfs "ftp://127.0.0.1:2341/many/"
list rclone "ftp://127.0.0.1:2342/many/"
t0=$(date +%s.%N)
n=$(curl -sS -X PROPFIND -H 'Depth: 1' "http://127.0.0.1:$port/many/" | grep -o '<D:href>' | wc -l)
t1=$(date +%s.%N)
awk -v c="$n" -v t="$t1" -v t0="$t0" 'BEGIN { printf "curl (direct) PROPFIND of %d entries: %.2f s\n", c, t - t0 }'
