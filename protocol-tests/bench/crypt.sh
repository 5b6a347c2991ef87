#!/usr/bin/env bash
# Benchmark of the crypt remote (prints, asserts nothing): RETR and STOR of SIZE_MIB through a
# crypt remote over a tmpfs folder, ftpvfs (release) against `rclone serve ftp` on the same
# remote, rounds alternating; MB/s and server CPU-s/GiB. Then the secretbox work alone.
#   cargo build --release && bash protocol-tests/bench/crypt.sh [SIZE_MIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-1024}; rounds=${2:-3}
work=$(mktemp -d /dev/shm/cryptbench-XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/store"
head -c $((size << 20)) /dev/urandom > "$work/src.bin"
pass=$(target/release/ftpvfs obscure bench-password)
printf '[secret]\ntype = crypt\nremote = %s\npassword = %s\n' "$work/store" "$pass" > "$work/rclone.conf"
target/release/ftpvfs serve secret: --config "$work/rclone.conf" --addr 127.0.0.1:2301 --passive-port 48000-48100 2>/dev/null &
ours=$!
rclone serve ftp secret: --config "$work/rclone.conf" --addr 127.0.0.1:2302 --passive-port 48200-48300 2>/dev/null &
theirs=$!
sleep 2
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
measure() { # name pid port direction round
    local c0 t0 c1 t1; c0=$(cpu "$2"); t0=$(date +%s.%N)
    if [ "$4" = STOR ]; then curl -sS -T "$work/src.bin" "ftp://127.0.0.1:$3/up-$5.bin"
    else curl -sS -o /dev/null "ftp://127.0.0.1:$3/up-$5.bin"; fi
    t1=$(date +%s.%N); c1=$(cpu "$2")
    awk -v n="$1" -v d="$4" -v s="$size" -v t="$t1" -v t0="$t0" -v c="$c1" -v c0="$c0" -v k="$tick" \
        'BEGIN { printf "%s %s %.0f MB/s %.2f CPU-s/GiB\n", n, d, s * 1048576 / (t - t0) / 1e6, (c - c0) / k / (s / 1024) }'
}
echo "# crypt over tmpfs, ${size} MiB, ${rounds} rounds, congestion control $(cat /proc/sys/net/ipv4/tcp_congestion_control)"
for r in $(seq 1 "$rounds"); do
    for srv in "ftpvfs $ours 2301" "rclone $theirs 2302"; do
        set -- $srv
        dd if=/dev/zero of=/dev/null bs=64M count=16 2>/dev/null
        measure "$1" "$2" "$3" STOR "$r"
        measure "$1" "$2" "$3" RETR "$r"
        rm -f "$work/store/"*
    done
done
