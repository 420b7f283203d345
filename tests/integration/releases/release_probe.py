"""What molecule/releases records of app 'shop' on the test host, as one JSON object on stdout.

    python3 release_probe.py ROOT STATS_SOCKET PORT

current (the release `current` names), switched_at (its mtime), releases (per directory under releases/:
complete when it has its marker, failed when its marker was set aside after a failed switch), workers
(id, pid, last_spawn, accepting of each non-cheaped worker, from the stats socket), body (what GET / on
the app's loopback port answers, or the error), shared (where the current release's `uploads` points).
Only Python's standard library; every request goes to the host's own loopback.
"""

import json
import os
import socket
import sys
import urllib.error
import urllib.request


def stats(path):
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(3)
            sock.connect(path)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)
    except (OSError, ValueError):
        return {}


def body(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/" % port, timeout=10) as answer:
            return "%d %s" % (answer.status, answer.read().decode().strip())
    except urllib.error.HTTPError as exc:
        return "%d %s" % (exc.code, exc.read().decode().strip())
    except OSError as exc:
        return "error %s" % exc


def main(root, stats_socket, port):
    current = os.path.join(root, "current")
    releases = {}
    for name in sorted(os.listdir(os.path.join(root, "releases"))) if os.path.isdir(os.path.join(root, "releases")) else []:
        where = os.path.join(root, "releases", name)
        releases[name] = {"complete": os.path.exists(os.path.join(where, "release.json")),
                          "failed": os.path.exists(os.path.join(where, "release.json.failed"))}
    workers = [{key: worker.get(key) for key in ("id", "pid", "last_spawn", "accepting", "status")}
               for worker in stats(stats_socket).get("workers", []) if worker.get("pid") and worker.get("status") != "cheap"]
    uploads = os.path.join(current, "code", "uploads")
    print(json.dumps({
        "current": os.path.basename(os.readlink(current)) if os.path.islink(current) else "",
        "switched_at": os.lstat(current).st_mtime if os.path.lexists(current) else 0,
        "releases": releases,
        "workers": workers,
        "body": body(port),
        "shared": os.readlink(uploads) if os.path.islink(uploads) else "",
        "previews_left": [name for name in os.listdir("/tmp") if name.startswith("uwsgi-release-preview-")],
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
