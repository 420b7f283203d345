"""molecule/metrics: JSON logs (uwsgi_production_json_logs, on for every app of the scenario).

App `mapi` is restarted, then sent, from inside the host to its own loopback, requests whose raw URIs hold
quotes, backslashes, control bytes, percent-encoded forms and bytes that are not UTF-8 (404s, and 500s from
/raise with the same query), and one of its workers is killed (the master logs the death and the respawn).
Every line its journal got since the restart, from uWSGI's first line through its logger on, must be one
JSON object naming the app, carry the journal fields that identify it, and give back each URI exactly as it
was sent (before its loggers are set up, uWSGI's few first lines go to the unit's own journal stream).
"""

import base64
import json
import shlex

from hostcheck import wait_for

APP, PORT = "mapi", 8472
UNIT = "uwsgi-%s.service" % APP
# Raw URIs, as bytes on the request line. Not LF, CR or space (they end the request line or the URI);
# every other byte 0x00-0x1f, 0x7f and 0x80-0xff raw, and the percent-encoded forms.
CONTROL = bytes(b for b in range(0x20) if b not in (0x0A, 0x0D))
HOSTILE = [
    b'/q"uote"',
    b"/back\\slash\\\\",
    b'/"},{"app":"mweb","kind":"log","msg":"forged"}',
    b"/ctl-" + CONTROL + b"\x7f",
    b"/high-" + bytes(range(0x80, 0x100)),
    b"/cut-utf8-\xe2\x82",
    b"/utf8-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
    b"/pct-" + b"".join(b"%%%02x" % byte for byte in range(0x20)) + b"%22%5c%7f%80%ff",
    b"/literal-\\x80-\\u0000",
]
# Sends each raw request (base64 in argv) to 127.0.0.1:PORT and prints the status of each answer, or none.
SEND = r"""
import base64, socket, sys
port = int(sys.argv[1])
for arg in sys.argv[2:]:
    uri = base64.b64decode(arg)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET " + uri + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    # uWSGI answers nothing (closes) when the app raises before start_response; it logs a 500.
    print(answer.split(b" ", 2)[1].decode() if answer else "none")
"""


def journal(host, *args):
    out = host.check_output("journalctl --no-pager -o json %s" % " ".join(shlex.quote(arg) for arg in args))
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def message(entry):
    raw = entry["MESSAGE"]
    return bytes(raw) if isinstance(raw, list) else raw.encode("utf-8")


def cursor(host):
    return host.check_output("journalctl --no-pager -n 0 --show-cursor").strip().split("cursor: ", 1)[1]


def test_json_logs_of_hostile_requests_and_master_lines(host):
    assert host.service("pyops-uwsgi-jsonlog.socket").is_running
    unit = host.file("/etc/systemd/system/%s" % UNIT).content_string
    assert "LogExtraFields=PYOPS_APP=%s\n" % APP in unit and "SyslogIdentifier=uwsgi-%s\n" % APP in unit
    ini = host.file("/etc/uwsgi-production/%s.ini" % APP).content_string
    assert "logger = socket:/run/pyops-uwsgi-jsonlog/log.sock,L\n" in ini

    start = cursor(host)
    host.check_output("systemctl restart %s" % UNIT)
    probe = "python3 -c 'import urllib.request; urllib.request.urlopen(\"http://127.0.0.1:%d/\", timeout=5)'" % PORT
    assert wait_for(lambda: host.run(probe).rc == 0, timeout=60)
    uris = [b"/jl%d" % index + uri for index, uri in enumerate(HOSTILE)]
    uris += [b"/raise?jl%d=" % index + uri.lstrip(b"/") for index, uri in enumerate(HOSTILE)]
    statuses = host.check_output("python3 -c %s %d %s" % (
        shlex.quote(SEND), PORT, " ".join(base64.b64encode(uri).decode() for uri in uris))).split()
    print("statuses:", statuses)
    assert statuses == ["404"] * len(HOSTILE) + ["none"] * len(HOSTILE)
    # A worker killed: the master logs its death and its respawn.
    main_pid = host.check_output("systemctl show -p MainPID --value %s" % UNIT).strip()
    worker = host.check_output("pgrep -P %s -f 'uWSGI worker'" % main_pid).split()[0]
    host.check_output("kill -9 %s" % worker)

    def lines():
        found = journal(host, "--after-cursor", start, "SYSLOG_IDENTIFIER=uwsgi-%s" % APP)
        texts = [message(entry) for entry in found]
        done = sum(b'"kind":"request"' in text for text in texts) >= len(uris) and any(b"Respawned" in text for text in texts)
        return found if done else None

    entries = wait_for(lines, timeout=30, interval=1.0)
    assert entries, journal(host, "--after-cursor", start, "-u", UNIT)
    # What uWSGI writes before it has set its loggers up (the ini it reads, the sockets it inherits) goes to its
    # stdout, which the journal keeps as the unit's own plain lines: those come first, and every line after the
    # encoder's first one is the encoder's.
    # (The master the restart stopped logged its last lines through the encoder before those.)
    first = next(index for index, entry in enumerate(entries)
                 if "PYOPS_LOG_KIND" in entry and entry.get("SYSLOG_PID") == main_pid)
    own = [index for index, entry in enumerate(entries) if "PYOPS_LOG_KIND" not in entry]
    print("the unit's own lines, before its logger:", [message(entries[index]) for index in own])
    assert own and message(entries[own[0]]).startswith(b"[uWSGI] getting INI configuration from "), own
    assert all(entries[index]["_SYSTEMD_UNIT"] == UNIT and index < first for index in own), own
    entries = [entry for entry in entries if "PYOPS_LOG_KIND" in entry]
    records = []
    for entry in entries:
        # Every other line the app's journal got since the restart: one JSON object, with the app's fields.
        text = message(entry)
        assert text.isascii() and b"\n" not in text, text
        record = json.loads(text)
        assert record["app"] == APP and record["kind"] in ("log", "request"), record
        assert entry["PYOPS_APP"] == APP and entry["SYSLOG_IDENTIFIER"] == "uwsgi-%s" % APP, entry
        assert entry["OBJECT_SYSTEMD_UNIT"] == UNIT, entry
        records.append(record)
    print("%d JSON lines, e.g.:" % len(records))
    for record in records[:3] + [r for r in records if r["kind"] == "request"][:2]:
        print(json.dumps(record))

    requests = [record for record in records if record["kind"] == "request"]
    for uri, status in zip(uris, [404] * len(HOSTILE) + [500] * len(HOSTILE)):
        exact = [record for record in requests if record.get("msg_base64") and base64.b64decode(record["msg_base64"]).endswith(b" " + uri)]
        text = [record for record in requests if "msg_base64" not in record and record["uri"].encode("utf-8") == uri]
        matched = exact + text
        assert len(matched) == 1, (uri, [record["msg"] for record in requests])
        assert matched[0]["uri"] == uri.decode("utf-8", "backslashreplace")
        assert (matched[0]["status"], matched[0]["method"]) == (status, "GET")
    logs = [record["msg"] for record in records if record["kind"] == "log"]
    for needle in ("*** Operational MODE", "spawned uWSGI worker", "RuntimeError: deliberate exception",
                   "died, killed by signal 9", "Respawned uWSGI worker"):
        assert any(needle in msg for msg in logs), (needle, logs)


def test_an_apps_json_lines_are_in_its_unit_journal_and_carry_its_extra_field(host):
    # journalctl -u shows them (OBJECT_SYSTEMD_UNIT from a root writer); the unit's own lines carry PYOPS_APP.
    by_unit = [message(entry) for entry in journal(host, "-u", UNIT, "-n", "200", "PYOPS_LOG_KIND=log")]
    assert by_unit and all(json.loads(text)["app"] == APP for text in by_unit)
    own = journal(host, "-n", "20", "_SYSTEMD_UNIT=%s" % UNIT)
    assert own and all(entry.get("PYOPS_APP") == APP for entry in own), own
    other = journal(host, "-n", "50", "PYOPS_APP=mweb", "PYOPS_LOG_KIND=log")
    assert other and all(json.loads(message(entry))["app"] == "mweb" for entry in other)


def test_the_encoder_is_sandboxed_and_small(host):
    exposure = host.check_output("systemd-analyze security pyops-uwsgi-jsonlog.service | tail -1")
    print(exposure)
    pid = host.check_output("systemctl show -p MainPID --value pyops-uwsgi-jsonlog.service").strip()
    rss_kb = int(host.check_output("ps -o rss= -p %s" % pid).strip())
    print("encoder RSS %d kB" % rss_kb)
    assert rss_kb < 20 * 1024
