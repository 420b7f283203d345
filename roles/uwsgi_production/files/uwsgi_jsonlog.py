# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The host's JSON log encoder for uWSGI apps (uwsgi_production_json_logs, docs/observability.md).

Each app's master sends every log line it handles as one datagram to the socket systemd holds for this
service (pyops-uwsgi-jsonlog.socket, fd 3): uWSGI's own lines tagged `L`, the request lines it keeps tagged
`R` (its logsocket plugin puts the tag before each datagram). The kernel says which process sent each
datagram (SO_PASSCRED); the sender's cgroup names its unit, uwsgi-<name>.service, and so the app: an app
cannot write in another's name, and datagrams from anything that is not an app's unit are dropped.

Each line becomes one JSON object, written to the journal by its native protocol with the app's identity
(SYSLOG_IDENTIFIER=uwsgi-<name>, PYOPS_APP=<name>, OBJECT_SYSTEMD_UNIT=uwsgi-<name>.service, which
`journalctl -u uwsgi-<name>` shows because this service runs as root). The JSON is pure ASCII
(json.dumps with ensure_ascii): every control character and every non-ASCII character is escaped, and
bytes that are not UTF-8 are kept as \\xNN text (backslashreplace) with the line's exact bytes in
`msg_base64`, so any line, whatever its URI holds, is one valid JSON object on one line.

Python's standard library only; no third-party module.
"""

import base64
import json
import os
import re
import socket
import struct
import sys

LISTEN_FD = 3
JOURNAL_SOCKET = "/run/systemd/journal/socket"
KINDS = {b"L": "log", b"R": "request"}
# uwsgi_model.JSONLOG_REQUEST_FORMAT: "%(status) %(msecs) %(size) %(pid) %(wid) %(addr) %(method) %(uri)".
REQUEST_FIELDS = ("status", "msecs", "size", "pid", "wid", "addr", "method")
NUMERIC = ("status", "msecs", "size", "pid", "wid")
# An app's unit, as the last component of a cgroup path; app names as the role's validator allows them.
APP_UNIT = re.compile(r"(?:^|/)uwsgi-([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.service$")
# Not apps even though named uwsgi-*.service: the metrics exporter.
NOT_APPS = frozenset(["exporter"])
UCRED = struct.Struct("3i")
MAX_DATAGRAM = 1 << 16


def decode(raw):
    """(text, exact): the bytes as text, bytes that are not UTF-8 as \\xNN; exact is False when some were."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), False


def request_fields(text):
    """The request line's fields by name (numbers as int), or {} when it is not in the role's format (an app
    that set its own log-format)."""
    parts = text.split(" ", len(REQUEST_FIELDS))
    if len(parts) != len(REQUEST_FIELDS) + 1:
        return {}
    fields = dict(zip(REQUEST_FIELDS, parts))
    for key in NUMERIC:
        if not fields[key].isdigit() or not fields[key].isascii():
            return {}
        fields[key] = int(fields[key])
    fields["uri"] = parts[-1]
    return fields


def split_lines(payload):
    """The lines of one datagram: uWSGI sends one line per write, but a write of the app's (a traceback)
    may hold several, and the last may lack its newline. Empty lines are dropped; a CR before LF too."""
    lines = []
    for line in payload.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            lines.append(line)
    return lines


def encode(app, datagram):
    """[(json_text, kind, priority)] of one datagram from app `app`."""
    tag, body = datagram[:1], datagram[1:]
    kind = KINDS.get(tag)
    if kind is None:
        kind, body = "log", datagram
    out = []
    for line in split_lines(body):
        text, exact = decode(line)
        record = {"app": app, "kind": kind, "msg": text}
        priority = 6
        if kind == "request":
            record.update(request_fields(text))
            status = record.get("status")
            if isinstance(status, int):
                priority = 3 if status >= 500 else 5 if status >= 400 else 6
        if not exact:
            record["msg_base64"] = base64.b64encode(line).decode("ascii")
        out.append((json.dumps(record, ensure_ascii=True, separators=(",", ":")), kind, priority))
    return out


def journal_entry(app, pid, text, kind, priority):
    """One entry of journald's native protocol: KEY=VALUE lines (every value here is one line of ASCII)."""
    fields = [
        ("MESSAGE", text),
        ("PRIORITY", str(priority)),
        ("SYSLOG_IDENTIFIER", "uwsgi-%s" % app),
        ("SYSLOG_PID", str(pid)),
        ("OBJECT_SYSTEMD_UNIT", "uwsgi-%s.service" % app),
        ("PYOPS_APP", app),
        ("PYOPS_LOG_KIND", kind),
    ]
    return "".join("%s=%s\n" % pair for pair in fields).encode("ascii")


def app_of_cgroup(text):
    """The app whose unit a /proc/<pid>/cgroup text names, or None."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        match = APP_UNIT.search(path)
        if match and match.group(1) not in NOT_APPS:
            return match.group(1)
    return None


def app_of_pid(pid, proc="/proc"):
    try:
        with open("%s/%d/cgroup" % (proc, pid), encoding="utf-8", errors="replace") as handle:
            return app_of_cgroup(handle.read())
    except OSError:
        return None


def sender_pid(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= UCRED.size:
            return UCRED.unpack(data[:UCRED.size])[0]
    return None


class Encoder:
    """Reads datagrams from `source` and writes journal entries to `journal`; remembers each pid's app so
    the last lines of a master that has just exited still carry its name."""

    def __init__(self, source, journal, proc="/proc"):
        self.source, self.journal, self.proc = source, journal, proc
        self.apps = {}
        self.dropped = 0

    def app(self, pid):
        found = app_of_pid(pid, self.proc) if pid else None
        if found:
            if len(self.apps) > 4096:
                self.apps.clear()
            self.apps[pid] = found
            return found
        return self.apps.get(pid)

    def handle(self, datagram, pid):
        app = self.app(pid)
        if app is None:
            self.dropped += 1
            if self.dropped in (1, 10, 100, 1000) or self.dropped % 10000 == 0:
                sys.stderr.write("dropped %d datagrams not from an app's unit (last from pid %s)\n" % (self.dropped, pid))
                sys.stderr.flush()
            return 0
        count = 0
        for text, kind, priority in encode(app, datagram):
            self.journal.send(journal_entry(app, pid, text, kind, priority))
            count += 1
        return count

    def serve(self):
        while True:
            datagram, ancillary, _flags, _address = self.source.recvmsg(MAX_DATAGRAM, socket.CMSG_SPACE(UCRED.size))
            self.handle(datagram, sender_pid(ancillary))


def main():
    if os.environ.get("LISTEN_FDS") != "1":
        sys.exit("uwsgi_jsonlog: run by pyops-uwsgi-jsonlog.socket (one datagram socket as fd 3)")
    source = socket.socket(fileno=LISTEN_FD)
    source.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.connect(JOURNAL_SOCKET)
    Encoder(source, journal).serve()


if __name__ == "__main__":
    main()
