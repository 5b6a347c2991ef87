#!/usr/bin/env python3
"""Benchmark of the s3 remote (prints, asserts nothing).

Starts one local S3 server (`rclone serve s3`, or s3s-fs with `--store PATH`, on a tmpfs
folder), then on the same bucket:
ftpvfs (release build) and `rclone serve ftp`, and measures with curl as the FTP client:
RETR and STOR of a SIZE_MIB file (MB/s, server CPU-s/GiB, peak RSS), LIST of a 10,000-object
prefix cold and warm, and small-file sessions; plus the S3 server's own ceiling measured by a
direct client (the official rclone's `cat` and `rcat`). Every figure of one run comes from
the same machine state; rounds alternate between the servers.

    cargo build --release && python3 protocol-tests/bench/s3.py [--size-mib 1024] [--rounds 3]
"""
import argparse, os, re, shutil, socket, subprocess, sys, tempfile, time

AK, SK = "AKIDFTPVFSBENCH", "SECRETFTPVFSBENCH123"
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "..", "target", "release", "ftpvfs")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing listens on {port}")


PROVIDER = "Rclone"


def remote(endpoint, extra=""):
    return f":s3,provider={PROVIDER},endpoint='{endpoint}',access_key_id={AK},secret_access_key={SK}{extra}:"


def timed(cmd, pid=None, **kw):
    c0 = cpu_seconds(pid) if pid else 0
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.time() - t0, (cpu_seconds(pid) - c0) if pid else 0


def pre_touch():
    # The VM hands out memory it took back slowly: give every sample the same start.
    subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=16"], stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--list-files", type=int, default=10000)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--store", default="rclone", help="rclone (rclone serve s3) or the path of an s3s-fs binary")
    a = ap.parse_args()
    global PROVIDER
    work = tempfile.mkdtemp(prefix="s3bench-", dir="/dev/shm")
    procs = []
    try:
        os.makedirs(f"{work}/root/bucket/list")
        s3port = free_port()
        if a.store == "rclone":
            store_cmd = ["rclone", "serve", "s3", "--addr", f"127.0.0.1:{s3port}", "--auth-key", f"{AK},{SK}",
                         f"{work}/root", "--config", "/dev/null"]
        else:
            PROVIDER = "Other"
            store_cmd = [a.store, "--host", "127.0.0.1", "--port", str(s3port), "--access-key", AK, "--secret-key", SK, f"{work}/root"]
        procs.append(subprocess.Popen(store_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(s3port)
        endpoint = f"http://127.0.0.1:{s3port}"
        s3pid = procs[-1].pid
        src = f"{work}/src.bin"
        with open(src, "wb") as f:
            for _ in range(a.size_mib):
                f.write(os.urandom(1 << 20))
        for i in range(a.list_files):
            open(f"{work}/root/bucket/list/f{i:05}", "w").close()
        servers = {}
        p = free_port()
        procs.append(subprocess.Popen([BIN, "serve", remote(endpoint) + "bucket", "--addr", f"127.0.0.1:{p}",
                                       "--passive-port", "45000-45999"], stderr=subprocess.DEVNULL))
        servers["ftpvfs"] = (p, procs[-1].pid)
        p = free_port()
        procs.append(subprocess.Popen(["rclone", "serve", "ftp", remote(endpoint) + "bucket", "--addr", f"127.0.0.1:{p}",
                                       "--passive-port", "46000-46999", "--config", "/dev/null"], stderr=subprocess.DEVNULL))
        servers["rclone serve ftp"] = (p, procs[-1].pid)
        for port, _ in servers.values():
            wait_port(port)
        size = a.size_mib << 20
        gib = size / (1 << 30)
        rows = {name: {"retr": [], "stor": [], "rss": []} for name in list(servers) + ["direct (rclone cat/rcat)"]}
        for r in range(a.rounds):
            for name, (port, pid) in servers.items():
                pre_touch()
                reset_peak(pid)
                t, cpu = timed(["curl", "-sS", "-T", src, f"ftp://127.0.0.1:{port}/up-{r}.bin"], pid)
                rows[name]["stor"].append((size / t / 1e6, cpu / gib))
                rows[name]["rss"].append(peak_rss_mib(pid))
                t, cpu = timed(["curl", "-sS", "-o", "/dev/null", f"ftp://127.0.0.1:{port}/up-{r}.bin"], pid)
                rows[name]["retr"].append((size / t / 1e6, cpu / gib))
                os.remove(f"{work}/root/bucket/up-{r}.bin")
            pre_touch()
            t, _ = timed(["rclone", "rcat", remote(endpoint) + f"bucket/direct-{r}.bin", "--config", "/dev/null"], stdin=open(src, "rb"))
            rows["direct (rclone cat/rcat)"]["stor"].append((size / t / 1e6, 0))
            t, _ = timed(["rclone", "cat", remote(endpoint) + f"bucket/direct-{r}.bin", "--config", "/dev/null"])
            rows["direct (rclone cat/rcat)"]["retr"].append((size / t / 1e6, 0))
            os.remove(f"{work}/root/bucket/direct-{r}.bin")
        med = lambda xs: sorted(xs)[len(xs) // 2]
        store_name = "rclone serve s3" if a.store == "rclone" else os.path.basename(a.store)
        print(f"# S3 benchmark: {a.size_mib} MiB, {a.rounds} rounds, {store_name} on tmpfs, "
              f"congestion control {open('/proc/sys/net/ipv4/tcp_congestion_control').read().strip()}")
        print("| server | RETR MB/s (CPU-s/GiB) | STOR MB/s (CPU-s/GiB) | peak RSS in STOR MiB | LIST 10k cold / warm s | small files sess/s |")
        print("|---|---|---|---|---|---|")
        for name, row in rows.items():
            retr = med(row["retr"]); stor = med(row["stor"])
            extra = ["", ""]
            if name in servers:
                port, pid = servers[name]
                try:
                    cold = timed(["curl", "-sS", "-o", "/dev/null", f"ftp://127.0.0.1:{port}/list/"])[0]
                    warm = timed(["curl", "-sS", "-o", "/dev/null", f"ftp://127.0.0.1:{port}/list/"])[0]
                    extra[0] = f"{cold:.3f} / {warm:.3f}"
                except subprocess.CalledProcessError as e:
                    extra[0] = f"failed (curl exit {e.returncode})"
                try:
                    t0 = time.time()
                    for i in range(a.sessions):
                        subprocess.run(["curl", "-sS", "-T", "-", f"ftp://127.0.0.1:{port}/small-{i}.txt"], input=b"x" * 4096,
                                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    extra[1] = f"{a.sessions / (time.time() - t0):.0f}"
                except subprocess.CalledProcessError as e:
                    extra[1] = f"failed (curl exit {e.returncode})"
                cpu = lambda v: f"{v[1]:.2f}"
                print(f"| {name} | {retr[0]:.0f} ({cpu(retr)}) | {stor[0]:.0f} ({cpu(stor)}) | {max(row['rss']):.1f} | {extra[0]} | {extra[1]} |")
            else:
                print(f"| {name} | {retr[0]:.0f} | {stor[0]:.0f} | | | |")
        print(f"S3 server pid {s3pid}: CPU {cpu_seconds(s3pid):.1f} s in all")
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
