"""molecule/https: an app serving HTTPS (https-socket under socket activation) with a certificate for
localhost signed by a CA made on the host.

Every request is made from inside the host to its own loopback by tests/integration/https/tls_client.py,
which verifies the certificate against that CA. A new certificate is one role run (molecule/https/rotate.yml):
it restarts the app (a new MainPID), and the new certificate is what it serves.
"""

import json
import os
import pathlib
import shlex
import subprocess

import pytest
from hostcheck import unit_properties, wait_for
from paths import REPO
from record import Record, environment, short_name

UNIT = "uwsgi-tls.service"
SOCKET_UNIT = "uwsgi-tls.socket"
UNITS = [UNIT, SOCKET_UNIT]
PORT = 8141
CA = "/var/tmp/https-tls/ca.crt"
PEM = "/etc/uwsgi-production/tls.pem"
PLAYBOOK = REPO / "molecule" / "https" / "rotate.yml"
CLIENT = (pathlib.Path(__file__).parent / "tls_client.py").read_text(encoding="utf-8")


def client(host, *args):
    """tls_client.py run inside the host with `args`: its JSON."""
    run = host.run("python3 -c %s %s" % (shlex.quote(CLIENT), " ".join(shlex.quote(str(arg)) for arg in args)))
    assert run.rc == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def main_pid(host):
    return unit_properties(host, UNIT, "MainPID")["MainPID"]


CONFIG_TASK = "Write every app's files (uWSGI checks each changed ini first), switch each app with a new release to it"


def rotate(tmp_path, serial):
    """One role run with certificate `serial`, with --diff: (what the role's modules reported, the run's
    output and its record, tests/record.py)."""
    number = len(list(tmp_path.iterdir()))
    outcome = tmp_path / ("outcome-%d-%d.json" % (serial, number))
    record = tmp_path / ("record-%d-%d.json" % (serial, number))
    env = environment(record, dict(os.environ, ANSIBLE_NOCOLOR="1"))
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK), "--diff",
                          "-e", "tls_serial=%d" % serial, "-e", "outcome_file=%s" % outcome],
                         capture_output=True, text=True, timeout=900, check=False, env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return json.loads(outcome.read_text()), run.stdout + run.stderr, Record(record)


def test_uwsgi_was_built_again_with_ssl_for_the_https_app(host):
    before = host.file("/var/tmp/https-cflags-before").content_string.split()
    assert "-DUWSGI_SSL" not in before, before
    assert "-DUWSGI_SSL" in host.check_output("/opt/uwsgi/bin/uwsgi --cflags").split()
    assert host.check_output("sha256sum /opt/uwsgi/bin/uwsgi") != host.file("/var/tmp/https-sha-before").content_string.strip()
    assert host.package("libssl-dev").is_installed


def test_the_app_answers_over_https_with_its_certificate_verified_by_the_ca(host):
    got = client(host, "get", CA, PORT)
    assert got["status"] == 200 and got["body"] == "hello over TLS\n", got
    assert got["serial"] == 1 and got["version"].startswith("TLSv1."), got


def test_without_the_ca_the_certificate_is_refused(host):
    """The check above is a real verification: the system's CAs alone do not trust the certificate."""
    assert client(host, "untrusted", PORT)["error"] == "verify"


def test_systemd_holds_the_https_address_and_uwsgi_inherits_it_with_its_certificate(host):
    listen = host.check_output("systemctl show -p Listen %s" % SOCKET_UNIT)
    assert "127.0.0.1:%d" % PORT in listen, listen
    ini = host.file("/etc/uwsgi-production/tls.ini").content_string
    assert "https-socket = fd://4,%s,%s" % (PEM, PEM) in ini.splitlines(), ini
    assert "PRIVATE KEY" not in ini


def test_the_key_file_is_root_and_the_app_group_0640(host):
    pem = host.file(PEM)
    assert (pem.user, pem.group, pem.mode) == ("root", "uwsgi", 0o640)
    assert "PRIVATE KEY" in pem.content_string and "CERTIFICATE" in pem.content_string
    good = host.file("/etc/uwsgi-production/last-good/tls.pem")
    assert (good.user, good.group, good.mode) == ("root", "root", 0o600)
    # Others (not root, not the app's group) cannot read it.
    assert host.run("runuser -u nobody -- cat %s" % PEM).rc != 0


def test_a_websocket_handshake_over_tls_echoes_a_frame(host):
    got = client(host, "ws", CA, PORT, "ping over TLS")
    assert got["status"] == 101 and got["accept_ok"] and got["upgrade"].lower() == "websocket", got
    assert got["echo"] == "echo: ping over TLS" and got["fin"], got


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("rotate")


def test_a_new_certificate_restarts_the_app_and_is_served_never_shown(host, runs):
    before = main_pid(host)
    outcome, output, record = rotate(runs, 2)
    assert outcome["changed_files"]["tls"] == ["tls"] and outcome["actions"] == ["restart"], outcome
    assert main_pid(host) != before
    got = wait_for(lambda: client(host, "get", CA, PORT))
    assert got["status"] == 200 and got["serial"] == 2, got
    # Neither the new key nor the old one shows in the run's output or in any task's result, --diff included;
    # the TLS file's diff says only that it changed.
    recorded = json.dumps(record.data)
    for serial in (1, 2):
        key = host.file("/var/tmp/https-tls/server-%d.key" % serial).content_string
        body = [line for line in key.splitlines() if line and not line.startswith("-----")]
        assert body and not any(line in output or line in recorded for line in body), "a private key shows"
    diffs = [diff for task in record.tasks() if short_name(task["task"]) == CONFIG_TASK for diff in task["result"].get("diff", [])]
    assert {"before_header": PEM, "after_header": PEM,
            "before": "(the TLS certificate and key of app tls: its content is never shown)\n",
            "after": "(the TLS certificate and key of app tls: its content is never shown)\n"} in diffs, diffs


def test_the_same_certificate_again_changes_nothing(host, runs):
    before = main_pid(host)
    outcome, _output, _record = rotate(runs, 2)
    assert outcome["config_changed"] is False and outcome["settled"] is True and outcome["actions"] == [], outcome
    assert main_pid(host) == before
