"""The benchmarks' test app: / says hello, /slow sleeps, /leak keeps memory on purpose.

Bounded on purpose: /slow sleeps at most MAX_SLEEP_MS, /leak adds at most MAX_LEAK_MB per request.
Every answer is JSON with the worker's pid and resident memory.
"""

import json
import os
import resource
import time
from urllib.parse import parse_qs

MAX_SLEEP_MS = 5000
MAX_LEAK_MB = 512
PAGE_SIZE = resource.getpagesize()

# Memory this worker keeps on purpose (/leak): it only grows until uWSGI recycles the worker.
_LEAKED = []


def rss_mb():
    """Resident memory of this process in MB, read from /proc/self/statm."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * PAGE_SIZE / 2**20


def int_param(environ, name, default, highest):
    """The query parameter `name` as an int between 0 and `highest`."""
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])
    return max(0, min(int(values[0]), highest))


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/slow":
        time.sleep(int_param(environ, "ms", 200, MAX_SLEEP_MS) / 1000)
    elif path == "/leak":
        megabytes = int_param(environ, "mb", 64, MAX_LEAK_MB)
        # b"x" * n writes every page, so the memory is resident, not just reserved.
        _LEAKED.append(b"x" * (megabytes * 2**20))
    elif path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    body = json.dumps({"pid": os.getpid(), "rss_mb": round(rss_mb(), 1), "path": path}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
