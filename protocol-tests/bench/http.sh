#!/usr/bin/env bash
# Benchmark of the http remote (prints, asserts nothing): nginx with autoindex serves a tmpfs
# folder; on it, ftpvfs (release) and `rclone serve ftp` both serve `:http,url=...:`, and curl
# reads nginx directly (the ceiling). RETR of SIZE_MIB (MB/s, server CPU-s/GiB) in alternating
# rounds, then LIST of a 2,000-file directory cold (each file costs a HEAD in both servers).
#   cargo build --release && bash protocol-tests/bench/http.sh [SIZE_MIB] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-1024}; rounds=${2:-3}
nginx=$(command -v nginx || echo "$HOME/.cache/ftpvfs-tests/nginx/usr/sbin/nginx")
work=$(mktemp -d /dev/shm/httpbench-XXXX); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/www/many" "$work/ngx"
head -c $((size << 20)) /dev/urandom > "$work/www/big.bin"
for i in $(seq 1 2000); do echo "$i" > "$work/www/many/f$i.txt"; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/ngx/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $work/ngx/pid; error_log stderr;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $work/ngx/b; proxy_temp_path $work/ngx/p;
  fastcgi_temp_path $work/ngx/f; uwsgi_temp_path $work/ngx/u; scgi_temp_path $work/ngx/s;
  types { text/html html; } default_type application/octet-stream; sendfile on;
  server { listen 127.0.0.1:$port; root $work/www; location / { autoindex on; } } }
CONF
"$nginx" -e stderr -p "$work/ngx" -c "$work/ngx/nginx.conf" 2>/dev/null &
remote=":http,url='http://127.0.0.1:$port/':"
target/release/ftpvfs serve "$remote" --addr 127.0.0.1:2331 --passive-port 48800-48850 2>/dev/null &
ours=$!
rclone serve ftp "$remote" --config /dev/null --addr 127.0.0.1:2332 --passive-port 48900-48950 2>/dev/null &
theirs=$!
sleep 2
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
retr() { # name pid url
    local c0=0 c1=0 t0 t1
    [ "$2" != - ] && c0=$(cpu "$2"); t0=$(date +%s.%N)
    curl -sS -o /dev/null "$3"
    t1=$(date +%s.%N); [ "$2" != - ] && c1=$(cpu "$2")
    awk -v n="$1" -v s="$size" -v t="$t1" -v t0="$t0" -v c="$c1" -v c0="$c0" -v k="$tick" \
        'BEGIN { printf "%s RETR %.0f MB/s %.2f CPU-s/GiB\n", n, s * 1048576 / (t - t0) / 1e6, (c - c0) / k / (s / 1024) }'
}
list() { # name url
    local t0 t1 n; t0=$(date +%s.%N); n=$(curl -sS "$2" | wc -l); t1=$(date +%s.%N)
    awk -v n="$1" -v c="$n" -v t="$t1" -v t0="$t0" 'BEGIN { printf "%s LIST of %d entries, cold: %.2f s\n", n, c, t - t0 }'
}
echo "# http remote over nginx on tmpfs, ${size} MiB, ${rounds} rounds, congestion control $(cat /proc/sys/net/ipv4/tcp_congestion_control)"
for r in $(seq 1 "$rounds"); do
    retr ftpvfs "$ours" "ftp://127.0.0.1:2331/big.bin"
    retr rclone "$theirs" "ftp://127.0.0.1:2332/big.bin"
    retr "curl (direct)" - "http://127.0.0.1:$port/big.bin"
done
list ftpvfs "ftp://127.0.0.1:2331/many/"
list rclone "ftp://127.0.0.1:2332/many/"
