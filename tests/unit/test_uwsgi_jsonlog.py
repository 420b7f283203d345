"""The JSON log encoder (roles/uwsgi_production/files/uwsgi_jsonlog.py), run in-process: hostile lines through
its encoding, and real datagram sockets with the kernel's credentials through its serve loop into a stand-in
for journald's socket, read back as journald's native protocol."""

import base64
import importlib.util
import json
import os
import socket
import threading

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from paths import REPO

SCRIPT = REPO / "roles" / "uwsgi_production" / "files" / "uwsgi_jsonlog.py"
spec = importlib.util.spec_from_file_location("uwsgi_jsonlog", SCRIPT)
jsonlog = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jsonlog)

# Every byte but LF (the line separator) and CR (dropped before LF), alone and in a URI.
ALL_BYTES = bytes(b for b in range(256) if b not in (0x0A, 0x0D))
HOSTILE = [
    b'/q"uote',
    b"/back\\slash\\",
    b'/"},{"app":"other","kind":"request"',
    b"/nul\x00byte",
    b"/ctl" + bytes(range(1, 32)).replace(b"\n", b"").replace(b"\r", b""),
    b"/del\x7f",
    b"/latin1\xe9\xff\x80",
    b"/cut-utf8\xe2\x82",
    b"/surrogate\xed\xa0\x80",
    b"/overlong\xc0\xaf",
    b"/ok-utf8-\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80",
    b"/pct%00%0a%22%5c%ff",
    b"/\\x80-literal",
    b"/with space HTTP/1.1 x",
    ALL_BYTES,
]


def request_line(uri, status=404):
    # What uWSGI writes with the role's log-format (uwsgi_model.JSONLOG_REQUEST_FORMAT).
    return b"%d 3 12 4242 1 127.0.0.1 GET " % status + uri + b"\n"


def one_line(text):
    assert "\n" not in text and "\r" not in text
    assert text.isascii()
    return json.loads(text)


def test_the_format_the_model_writes_is_the_one_the_encoder_splits():
    names = [part[2:-1] for part in model.JSONLOG_REQUEST_FORMAT.split(" ")]
    assert names == list(jsonlog.REQUEST_FIELDS) + ["uri"]
    assert {model.JSONLOG_TAGS[kind]: kind for kind in model.JSONLOG_TAGS} == {tag.decode(): kind for tag, kind in jsonlog.KINDS.items()}


@pytest.mark.parametrize("uri", HOSTILE, ids=range(len(HOSTILE)))
def test_each_hostile_request_line_is_one_valid_json_object_that_keeps_the_uri(uri):
    [(text, kind, priority)] = jsonlog.encode("web", b"R" + request_line(uri))
    record = one_line(text)
    assert (record["app"], record["kind"], kind, priority) == ("web", "request", "request", 5)
    assert (record["status"], record["msecs"], record["size"], record["pid"], record["wid"]) == (404, 3, 12, 4242, 1)
    assert (record["addr"], record["method"]) == ("127.0.0.1", "GET")
    assert record["uri"] == uri.decode("utf-8", "backslashreplace")
    try:
        uri.decode("utf-8")
        assert "msg_base64" not in record
        assert record["uri"].encode("utf-8") == uri
    except UnicodeDecodeError:
        # The exact bytes of the line, whatever the \xNN text cannot tell apart (a literal backslash-x).
        assert base64.b64decode(record["msg_base64"]) == request_line(uri)[:-1]


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_each_hostile_log_line_is_one_valid_json_object(line):
    [(text, kind, priority)] = jsonlog.encode("web", b"L" + line + b"\n")
    record = one_line(text)
    assert (record["app"], record["kind"], record["msg"], kind, priority) == (
        "web", "log", line.decode("utf-8", "backslashreplace"), "log", 6)
    assert "status" not in record


def test_a_write_of_several_lines_is_one_object_per_line_and_the_last_needs_no_newline():
    out = jsonlog.encode("web", b"LTraceback (most recent call last):\r\n  File \"x\"\n\nValueError: \xff")
    assert [one_line(text)["msg"] for text, _kind, _priority in out] == [
        "Traceback (most recent call last):", '  File "x"', "ValueError: \\xff"]


def test_a_request_line_in_another_format_keeps_its_text_only():
    [(text, _kind, priority)] = jsonlog.encode("web", b"R[pid: 1|app: 0|req: 1/1] 127.0.0.1 () GET / => generated\n")
    record = one_line(text)
    assert record["msg"].startswith("[pid: 1") and "status" not in record and priority == 6


def test_status_sets_the_journal_priority():
    assert jsonlog.encode("web", b"R" + request_line(b"/", 503))[0][2] == 3
    assert jsonlog.encode("web", b"R" + request_line(b"/", 200))[0][2] == 6


def test_an_untagged_datagram_is_a_log_line():
    assert one_line(jsonlog.encode("web", b"plain\n")[0][0])["kind"] == "log"


@pytest.mark.parametrize("cgroup, app", [
    ("0::/system.slice/uwsgi-web.service\n", "web"),
    ("9:name=systemd:/docker/abc/system.slice/uwsgi-my_app-2.service\n0::/docker/abc/system.slice/uwsgi-my_app-2.service\n", "my_app-2"),
    ("0::/system.slice/uwsgi-exporter.service\n", None),
    ("0::/system.slice/nginx.service\n", None),
    ("0::/user.slice/user-0.slice/session-1.scope\n", None),
    ("0::/system.slice/uwsgi-web.service/extra\n", None),
    ("0::/system.slice/xuwsgi-web.service\n", None),
])
def test_the_app_is_read_from_the_senders_unit(cgroup, app):
    assert jsonlog.app_of_cgroup(cgroup) == app


def parse_entry(data):
    fields = {}
    for line in data.decode("ascii").splitlines():
        key, _sep, value = line.partition("=")
        assert key not in fields
        fields[key] = value
    return fields


def test_datagrams_from_an_app_reach_the_journal_in_its_name_and_others_are_dropped(tmp_path):
    # The kernel's credentials name this test's own pid; a /proc stand-in gives that pid an app's cgroup.
    source, sender = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    source.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    journal, journald = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    proc = tmp_path / "proc"
    (proc / str(os.getpid())).mkdir(parents=True)
    cgroup = proc / str(os.getpid()) / "cgroup"
    cgroup.write_text("0::/system.slice/uwsgi-web.service\n")
    encoder = jsonlog.Encoder(source, journal, proc=str(proc))
    threading.Thread(target=encoder.serve, daemon=True).start()
    hostile = b'/a"b\\c\x01\x1b[31m\xff'
    sender.send(b"R" + request_line(hostile, 500))
    sender.send(b"L*** uWSGI is running in multiple interpreter mode ***\n")
    journald.settimeout(5)
    entries = [parse_entry(journald.recv(1 << 16)) for _count in range(2)]
    for entry, kind in zip(entries, ("request", "log")):
        assert entry["SYSLOG_IDENTIFIER"] == "uwsgi-web"
        assert entry["PYOPS_APP"] == "web"
        assert entry["OBJECT_SYSTEMD_UNIT"] == "uwsgi-web.service"
        assert entry["SYSLOG_PID"] == str(os.getpid())
        assert entry["PYOPS_LOG_KIND"] == kind
        assert one_line(entry["MESSAGE"])["app"] == "web"
    record = json.loads(entries[0]["MESSAGE"])
    assert (record["status"], record["uri"], entries[0]["PRIORITY"]) == (500, hostile.decode("utf-8", "backslashreplace"), "3")
    # The same pid, now in a unit that is not an app: its lines are dropped, counted.
    cgroup.write_text("0::/system.slice/cron.service\n")
    encoder.apps.clear()
    sender.send(b"Lforged\n")
    sender.send(b"L")
    journald.settimeout(0.5)
    with pytest.raises(socket.timeout):
        journald.recv(1 << 16)
    assert encoder.dropped == 2
