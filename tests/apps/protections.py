"""A WSGI app that provokes each failure a production protection exists for.

/sleep?s=N            hold the worker N seconds (harakiri, worker-reload-mercy)
/user-harakiri?h=H&s=N  set a per-request harakiri of H s with uwsgi.set_user_harakiri, then sleep N
/alarm?t=T&s=N        time itself out after T s with signal.alarm (needs py-call-osafterfork)
/leak?mb=M            keep M more MB alive in this worker (reload-on-rss)
/thread?path=P        start a thread that writes P after 0.3 s (enable-threads)
/                     200 "ok" (the role's health check)
/pid                  the worker's PID (recycling)
/crash                an unhandled exception (logged as a 500)
/missing              404
"""

import os
import signal
import threading
import time
from urllib.parse import parse_qs

import uwsgi

_LEAK = []


class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


def _respond(start_response, status, text):
    body = (text + "\n").encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/sleep":
        time.sleep(float(query.get("s", "1")))
        return _respond(start_response, "200 OK", "slept")
    if path == "/user-harakiri":
        uwsgi.set_user_harakiri(int(query["h"]))
        time.sleep(float(query.get("s", "1")))
        uwsgi.set_user_harakiri(0)
        return _respond(start_response, "200 OK", "slept")
    if path == "/alarm":
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(int(query.get("t", "1")))
        try:
            time.sleep(float(query.get("s", "5")))
        except _Timeout:
            return _respond(start_response, "504 Gateway Timeout", "timed out by signal.alarm")
        finally:
            signal.alarm(0)
        return _respond(start_response, "200 OK", "not interrupted")
    if path == "/leak":
        _LEAK.append(bytearray(int(query.get("mb", "50")) * 1024 * 1024))
        return _respond(start_response, "200 OK", f"holding {len(_LEAK)} blocks in pid {os.getpid()}")
    if path == "/thread":
        target = query["path"]

        def work():
            time.sleep(0.3)
            with open(target, "w", encoding="utf-8") as marker:
                marker.write(str(os.getpid()))

        threading.Thread(target=work, daemon=True).start()
        return _respond(start_response, "200 OK", "thread started")
    if path == "/":
        return _respond(start_response, "200 OK", "ok")
    if path == "/pid":
        return _respond(start_response, "200 OK", str(os.getpid()))
    if path == "/crash":
        raise RuntimeError("deliberate unhandled exception")
    return _respond(start_response, "404 Not Found", "not found")
