# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Ask a uWSGI app for a page from inside its host, over its HTTP socket or its uwsgi-protocol socket,
until it answers with an expected status: the health check of the uwsgi_health and uwsgi_service
modules. After a graceful reload it first waits until the master has created a file anew."""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any, Dict, Optional, Sequence, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_address as host_port


def _connect(address, timeout):
    if address.startswith("/"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except Exception:
            sock.close()
            raise
        return sock
    # uWSGI's "any address" forms are asked on loopback.
    return socket.create_connection(host_port.target(address), timeout=timeout)


def _uwsgi_packet(path, host, address):
    path_info, _sep, query = path.partition("?")
    port = "0" if address.startswith("/") else str(host_port.port(address))
    env = {
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": path,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.0",
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host,
    }
    body = b""
    for key, value in env.items():
        for item in (key.encode(), value.encode()):
            body += struct.pack("<H", len(item)) + item
    return struct.pack("<BHB", 0, len(body), 0) + body


def _http_request(path, host):
    return ("GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode()


def exchange(address: str, payload: bytes, timeout: float) -> bytes:
    """Send `payload` (maybe empty) to a unix path or HOST:PORT and read the answer until the peer closes it."""
    sock = _connect(address, timeout)
    try:
        if payload:
            sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return b"".join(chunks)


def request(address: str, protocol: str, path: str, host: str, timeout: float) -> Tuple[int, str]:
    """Send one GET; return (status, body text)."""
    payload = _uwsgi_packet(path, host, address) if protocol == "uwsgi" else _http_request(path, host)
    answer = exchange(address, payload, timeout).decode("utf-8", "replace")
    head, _sep, body = answer.partition("\r\n\r\n")
    words = head.split(" ", 2)
    if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
        return 0, "no HTTP answer (%d bytes): %r" % (len(answer), answer[:80])
    return int(words[1]), body


def inode(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _pid(path):
    try:
        with open(path) as pidfile:
            return int(pidfile.read().strip())
    except (OSError, ValueError):
        return None


class Unhealthy(Exception):
    """The app did not answer as expected; `result` says what was seen."""

    def __init__(self, msg: str, result: Dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


# After the expected answer of an app the role started, reloaded or restarted, its master must still run,
# the same one, this long after it (re)started (steady).
STEADY_S = 2.0


def _running(pid: Optional[int]) -> bool:
    return pid is not None and os.path.exists("/proc/%d" % pid)


def _written(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return time.time()


def steady(pidfile: str, settle: float, result: Dict[str, Any], start: float, reloaded: Optional[str] = None) -> None:
    """After an expected answer: the master that ran then still runs, the same one, `settle` seconds after it
    (re)started: after its pidfile was written (at a start) and, after a graceful reload, after the file the
    reload made anew (`reloaded`: uWSGI does not write its pidfile again when it reloads). A master that exits
    right after it starts (under socket activation, systemd starts another at the next connection) can answer
    one request and be gone: that answer proves nothing."""
    answered = _pid(pidfile)
    began = max(_written(pidfile), _written(reloaded) if reloaded else 0.0)
    time.sleep(max(0.0, began + settle - time.time()))
    now = _pid(pidfile)
    result["master"] = now
    if _running(now) and answered in (None, now):
        return
    result["elapsed"] = round(time.monotonic() - start, 3)
    raise Unhealthy(
        "it answered %s, but its uWSGI master %s within %.1f s of its start: it exits after starting (and, with "
        "socket activation, is started again at the next connection)"
        % (result["status"],
           "had been replaced (pid %s, then %s)" % (answered, now) if _running(now)
           else "was gone (pidfile %s: %s)" % (pidfile, "gone" if now is None else "pid %d not running" % now),
           settle),
        result)


# An app that answers, but with a status other than the expected one, to every request for this long is unhealthy
# at once: not waited for to the end of the check's timeout (a release live on every worker and answering 500 would
# serve 500 to every client all that time). Connection errors (an app still starting) are waited for as before.
WRONG_FOR_S = 3.0


def check(socket: str, protocol: str, path: str = "/", host: str = "localhost", status: Sequence[int] = (200,),
          timeout: float = 30, request_timeout: float = 5, interval: float = 0.5, recreated_file: Optional[str] = None,
          recreated_file_inode: Optional[int] = None, pidfile: Optional[str] = None, settle: float = 0.0,
          wrong_for: float = WRONG_FOR_S) -> Dict[str, Any]:
    """Return the result dict (status, body, attempts, elapsed) of the first expected answer, or raise
    Unhealthy with the message the role shows. With a pidfile and `settle` seconds, the master must also
    still run, the same one, that long after the answer (steady). Wrong answers to every request for `wrong_for`
    seconds (0: never) end the check there."""
    address = socket
    start = time.monotonic()
    deadline = start + timeout
    result = dict(status=0, body="", attempts=0, elapsed=0.0)

    if recreated_file:
        while inode(recreated_file) in (None, recreated_file_inode):
            master = _pid(pidfile) if pidfile else -1
            if master is None or (master > 0 and not os.path.exists("/proc/%d" % master)):
                result["elapsed"] = round(time.monotonic() - start, 3)
                raise Unhealthy(
                    "the uWSGI master exited during the reload (pidfile %s: %s)"
                    % (pidfile, "gone" if master is None else "pid %d not running" % master), result)
            if time.monotonic() >= deadline:
                result["elapsed"] = round(time.monotonic() - start, 3)
                raise Unhealthy(
                    "uWSGI did not create %s anew within %s s: the reload did not happen or has not finished"
                    % (recreated_file, timeout), result)
            time.sleep(0.05)

    wrong_since = None
    while True:
        result["attempts"] += 1
        try:
            result["status"], body = request(address, protocol, path, host, request_timeout)
            result["body"] = body[:200]
        except (OSError, ValueError) as exc:
            result["status"], result["body"] = 0, "%s: %s" % (type(exc).__name__, exc)
        result["elapsed"] = round(time.monotonic() - start, 3)
        if result["status"] in status:
            if pidfile and settle:
                steady(pidfile, settle, result, start, recreated_file)
            return result
        wrong_since = (wrong_since or time.monotonic()) if result["status"] else None
        if wrong_for and wrong_since and time.monotonic() - wrong_since >= wrong_for:
            raise Unhealthy(_wrong(path, address, protocol, status, result)
                            + ", a wrong answer to every request for %.1f s: not waited for to the end of the check's "
                            "%.0f s" % (wrong_for, timeout), result)
        if time.monotonic() + interval >= deadline:
            break
        time.sleep(interval)
    raise Unhealthy(_wrong(path, address, protocol, status, result), result)


def _wrong(path: str, address: str, protocol: str, status: Sequence[int], result: Dict[str, Any]) -> str:
    return "GET %s on %s (%s) answered %s after %d attempts in %.1f s; expected %s" % (
        path, address, protocol, result["status"] or result["body"], result["attempts"], result["elapsed"],
        " or ".join(str(code) for code in status))
