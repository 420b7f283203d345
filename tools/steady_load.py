"""Steady request load against one app, run INSIDE a test host against its own loopback.

Sends GET requests at a fixed rate (one new connection each, like a web server in front would) to an
HTTP address (host:port) or a uwsgi-protocol unix socket, until --duration runs out or --stop-file
appears (but not before --min-duration). Every request is recorded; at the end a JSON report goes to --out (or stdout):

  {"sent": N, "ok": N, "failed": N, "errors": {"<kind>": N}, "rate": R, "started": T0,
   "records": [[t_offset_s, latency_s, status_or_0, error_or_""], ...]}

A request counts as ok if it got a 2xx answer. Only Python's standard library is used, so it runs on
a bare Debian host.
    python3 steady_load.py --http 127.0.0.1:8080 --rate 200 --duration 30 --out /tmp/load.json
    python3 steady_load.py --uwsgi /run/uwsgi-hello/uwsgi.sock --stop-file /tmp/stop
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def uwsgi_packet(path):
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "REQUEST_URI": path, "QUERY_STRING": "",
           "SERVER_PROTOCOL": "HTTP/1.0", "SERVER_NAME": "localhost", "SERVER_PORT": "0",
           "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost"}
    body = b"".join(struct.pack("<H", len(part)) + part
                    for key, value in env.items() for part in (key.encode(), value.encode()))
    return struct.pack("<BHB", 0, len(body), 0) + body


def one_request(target, path, timeout):
    """Return (status, error): status 0 with an error kind when no HTTP answer came."""
    kind, address = target
    try:
        if kind == "uwsgi":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(address)
            payload = uwsgi_packet(path)
        else:
            host, port = address.rsplit(":", 1)
            sock = socket.create_connection((host, int(port)), timeout=timeout)
            payload = f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode()
        with sock:
            sock.sendall(payload)
            answer = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError as exc:
        return 0, type(exc).__name__
    words = answer.split(b" ", 2)
    if len(words) < 2 or not words[1].isdigit():
        return 0, "no answer" if not answer else "bad answer"
    return int(words[1]), ""


def run(target, path, rate, duration, stop_file, timeout, min_duration=0.0, concurrency=0):
    records = []
    lock = threading.Lock()
    started = time.time()
    t0 = time.monotonic()

    def job(scheduled):
        begin = time.monotonic()
        status, error = one_request(target, path, timeout)
        with lock:
            records.append([round(scheduled, 4), round(time.monotonic() - begin, 4), status, error])

    # Enough threads that no request waits for a free thread (its latency is measured from its own start):
    # a stall of S seconds at R requests/s needs R x S of them.
    with ThreadPoolExecutor(max_workers=concurrency or max(8, int(rate))) as pool:
        n = 0
        while True:
            offset = n / rate
            if duration and offset >= duration:
                break
            if stop_file and offset >= min_duration and n % max(1, int(rate / 10)) == 0 and os.path.exists(stop_file):
                break
            delay = t0 + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(job, offset)
            n += 1
    records.sort()
    errors = {}
    for _t, _latency, status, error in records:
        if not 200 <= status < 300:
            key = error or str(status)
            errors[key] = errors.get(key, 0) + 1
    failed = sum(errors.values())
    return {"target": list(target), "path": path, "rate": rate, "started": started,
            "sent": len(records), "ok": len(records) - failed, "failed": failed, "errors": errors,
            "max_latency": max((r[1] for r in records), default=0.0), "records": records}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--http", help="host:port of an HTTP socket (loopback)")
    where.add_argument("--uwsgi", help="path of a uwsgi-protocol unix socket")
    parser.add_argument("--path", default="/")
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument("--duration", type=float, default=0, help="seconds (0: until --stop-file)")
    parser.add_argument("--stop-file", help="stop once this file exists")
    parser.add_argument("--min-duration", type=float, default=0,
                        help="seconds to run at least, even when --stop-file appears sooner")
    parser.add_argument("--timeout", type=float, default=30, help="seconds one request may take")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="requests in flight at most (default: the rate, at least 8); a stall of S seconds "
                             "needs rate x S, or later requests wait for a thread and their wait goes unmeasured")
    parser.add_argument("--out", help="write the JSON report here (default: stdout)")
    args = parser.parse_args()
    if not args.duration and not args.stop_file:
        parser.error("give --duration or --stop-file")
    if args.http and not args.http.startswith(("127.", "localhost:", "[::1]:")):
        parser.error("--http must be a loopback address: load stays inside the host")
    target = ("http", args.http) if args.http else ("uwsgi", args.uwsgi)
    report = run(target, args.path, args.rate, args.duration, args.stop_file, args.timeout, args.min_duration,
                 args.concurrency)
    text = json.dumps(report)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text + "\n")
    print(f"sent {report['sent']}, ok {report['ok']}, failed {report['failed']} {report['errors']}, "
          f"max latency {report['max_latency']:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
