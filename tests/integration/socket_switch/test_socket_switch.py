"""molecule/socket_switch: socket activation turned off for a running app, then on again.

Each switch is one role run (a restart: the app lets go of its sockets, systemd's socket unit goes or
comes); after each, the app serves on its http socket and on its unix socket, the right process holds
them, and a second run changes nothing and keeps it serving. Last, a switch off that fails its health
check is rolled back: the socket unit comes back enabled (its sockets.target.wants link) and listening.
"""

import json
import os
import subprocess

import pytest
from hostcheck import http_get, unit_properties
from paths import REPO

UNIT = "uwsgi-switched.service"
SOCKET_UNIT = "uwsgi-switched.socket"
UNITS = [UNIT, SOCKET_UNIT]
PLAYBOOK = REPO / "molecule" / "socket_switch" / "switch.yml"
URL = "http://127.0.0.1:8099/"
UNIX = "/run/uwsgi-switched/uwsgi.sock"


def switch(tmp_path, activation, *extra):
    outcome = tmp_path / f"outcome-{activation}-{len(list(tmp_path.iterdir()))}.json"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK),
                          "-e", f"socket_activation={activation}", "-e", f"outcome_file={outcome}", *extra],
                         capture_output=True, text=True, timeout=900, check=False, env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return json.loads(outcome.read_text())


def ini_sockets(host):
    """The socket and http-socket lines of the app's ini: addresses uWSGI binds, or fd:// from systemd."""
    ini = host.file("/etc/uwsgi-production/switched.ini").content_string
    return [line for line in ini.splitlines() if line.startswith(("socket =", "http-socket ="))]


def serves(host):
    status, body = http_get(host, URL)
    unix = host.run(f"python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{UNIX}'); print('ok')\"")
    return status == 200 and body == "hello from uWSGI\n" and unix.stdout.strip() == "ok"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("switch")


def test_off_the_app_binds_its_own_sockets_and_serves(host, runs):
    outcome = switch(runs, False)
    assert outcome["actions"] == ["restart"] and outcome["settled"] is False, outcome
    assert not host.file(f"/etc/systemd/system/{SOCKET_UNIT}").exists
    assert unit_properties(host, SOCKET_UNIT, "ActiveState")["ActiveState"] == "inactive"
    assert serves(host)
    # uWSGI binds the addresses itself now; systemd holds nothing.
    assert ini_sockets(host) == [f"socket = {UNIX}", "http-socket = 127.0.0.1:8099"]


def test_off_a_second_run_changes_nothing_and_it_still_serves(host, runs):
    outcome = switch(runs, False)
    assert outcome == {"config_changed": False, "settled": True, "service_changed": False, "actions": []}, outcome
    assert serves(host)


def test_on_again_systemd_holds_the_sockets_and_it_serves(host, runs):
    outcome = switch(runs, True)
    assert outcome["actions"] == ["restart"] and outcome["settled"] is False, outcome
    props = unit_properties(host, SOCKET_UNIT, "ActiveState", "UnitFileState")
    assert props == {"ActiveState": "active", "UnitFileState": "enabled"}
    assert serves(host)
    # systemd holds both addresses and hands them to uWSGI as fd 3 and 4.
    listen = host.check_output(f"systemctl show -p Listen {SOCKET_UNIT}")  # one Listen= line per address
    assert UNIX in listen and "127.0.0.1:8099" in listen, listen
    assert ini_sockets(host) == ["socket = fd://3", "http-socket = fd://4"]


def test_on_a_second_run_changes_nothing(host, runs):
    outcome = switch(runs, True)
    assert outcome == {"config_changed": False, "settled": True, "service_changed": False, "actions": []}, outcome
    assert serves(host)


def test_off_with_a_failing_health_check_is_rolled_back_with_its_socket_unit_enabled_again(host, runs):
    """Issue 23: the failed switch stopped and disabled the socket unit (its sockets.target.wants link
    removed); the rollback puts its file back, enables it again and starts it, and the app serves."""
    link = f"/etc/systemd/system/sockets.target.wants/{SOCKET_UNIT}"
    assert host.file(link).is_symlink
    outcome = switch(runs, False, "-e", "health_path=/missing")
    assert outcome["failed"] is True, outcome
    msg = outcome["msg"]
    assert "uWSGI app 'switched' (uwsgi-switched.service) failed its health check after a restart" in msg, msg
    assert "Rolled back to the last good configuration" in msg, msg
    assert "- app 'switched': files restored, then restarted; it answers again (GET / -> 200). Now: serving." in msg, msg
    assert "systemctl FAILED" not in msg, msg
    assert host.file(link).is_symlink and host.file(link).linked_to == f"/etc/systemd/system/{SOCKET_UNIT}"
    props = unit_properties(host, SOCKET_UNIT, "ActiveState", "UnitFileState")
    assert props == {"ActiveState": "active", "UnitFileState": "enabled"}, props
    assert unit_properties(host, UNIT, "ActiveState")["ActiveState"] == "active"
    assert serves(host)
    assert ini_sockets(host) == ["socket = fd://3", "http-socket = fd://4"]


def test_after_the_rollback_the_host_is_where_it_was_and_a_run_changes_nothing(host, runs):
    """settled needs the socket unit active and enabled: a link left missing would make this run change."""
    outcome = switch(runs, True)
    assert outcome == {"config_changed": False, "settled": True, "service_changed": False, "actions": []}, outcome
    assert serves(host)
