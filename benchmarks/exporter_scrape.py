"""Exporter scrape time and RSS (issue 22's target: 20 apps x 8 workers, median <= 50 ms, RSS <= 40 MB).

    python benchmarks/exporter_scrape.py [--apps 20] [--workers 8] [--rounds 200]

Runs the real exporter (roles/uwsgi_exporter/files/uwsgi_exporter.py, a subprocess on loopback) against
APPS unix stats sockets, each answering with a stats document shaped as uWSGI 2.0.31 writes one for WORKERS
workers with stats-no-cores (tests/unit/exporter's shape), and times full HTTP scrapes of /metrics,
interleaved with the baseline: reading the same sockets raw (connect, read the JSON, parse it), which any
exporter must do. Prints the medians, the ratio per round and the exporter's RSS (VmRSS) after the rounds.
Not the real uWSGI: the stats server's own time is the master's, and molecule/metrics scrapes real apps.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORTER = os.path.join(HERE, "..", "roles", "uwsgi_exporter", "files", "uwsgi_exporter.py")


def document(workers):
    return json.dumps({
        "version": "2.0.31", "listen_queue": 0, "listen_queue_errors": 0, "signal_queue": 0, "load": 0, "pid": 1,
        "uid": 999, "gid": 999, "cwd": "/srv/app", "locks": [{"user 0": 0}, {"signal": 0}, {"rpc": 0}],
        "sockets": [{"name": "fd://3", "proto": "uwsgi", "queue": 0, "max_queue": 100, "shared": 0, "can_offload": 0}],
        "workers": [{"id": w, "pid": 100 + w, "accepting": 1, "requests": 1000 * w, "delta_requests": 3, "exceptions": 0,
                     "harakiri_count": 0, "signals": 0, "signal_queue": 0, "status": "idle", "rss": 40 << 20,
                     "vsz": 200 << 20, "running_time": 123456, "last_spawn": 1700000000, "respawn_count": 1, "tx": 99999,
                     "avg_rt": 1234,
                     "apps": [{"id": 0, "modifier1": 0, "mountpoint": "", "startup_time": 0, "requests": 1000 * w,
                               "exceptions": 0, "chdir": "/srv/app"}],
                     "cores": []} for w in range(1, workers + 1)],
    }).encode()


def serve(path, body):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(64)

    def loop():
        while True:
            conn, _peer = sock.accept()
            with conn:
                conn.sendall(body)

    threading.Thread(target=loop, daemon=True).start()


def raw_read(paths):
    for path in paths:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        json.loads(b"".join(chunks))


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--port", type=int, default=19117)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="exporter-bench-")
    units, run = os.path.join(root, "units"), os.path.join(root, "run")
    os.makedirs(units)
    body, paths = document(args.workers), []
    for number in range(args.apps):
        name = "app%02d" % number
        with open(os.path.join(units, "uwsgi-%s.service" % name), "w") as unit:
            unit.write("[Service]\nSupplementaryGroups=uwsgi-exporter\n")
        os.makedirs(os.path.join(run, "uwsgi-" + name))
        paths.append(os.path.join(run, "uwsgi-" + name, "stats.sock"))
        serve(paths[-1], body)
    proc = subprocess.Popen([sys.executable, "-I", EXPORTER, "--web.listen-address", "127.0.0.1:%d" % args.port,
                             "--units-dir", units, "--runtime-root", run], stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/metrics" % args.port
    try:
        for _round in range(100):
            try:
                size = len(urllib.request.urlopen(url, timeout=5).read())
                break
            except OSError:
                time.sleep(0.1)
        scrape, raw = [], []
        for _round in range(args.rounds):
            start = time.perf_counter()
            urllib.request.urlopen(url, timeout=5).read()
            scrape.append(time.perf_counter() - start)
            start = time.perf_counter()
            raw_read(paths)
            raw.append(time.perf_counter() - start)
        rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    ratios = [a / b for a, b in zip(scrape, raw)]
    median_ms = statistics.median(scrape) * 1000
    print("exporter scrape, %d apps x %d workers, %d interleaved rounds, %d bytes per scrape" % (args.apps, args.workers, args.rounds, size))
    print("  scrape median %.1f ms (p90 %.1f ms); raw socket reads median %.1f ms; ratio median %.2fx"
          % (median_ms, sorted(scrape)[int(0.9 * len(scrape))] * 1000, statistics.median(raw) * 1000, statistics.median(ratios)))
    print("  exporter RSS after the rounds: %.1f MB" % rss)
    print("  goals: median <= 50 ms %s; RSS <= 40 MB %s" % ("MET" if median_ms <= 50 else "NOT MET", "MET" if rss <= 40 else "NOT MET"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
