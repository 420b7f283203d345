"""molecule/config_dir_move: moving uwsgi_production_config_dir keeps the app's rollback.

The app is deployed from the default directory, then a run moves it to another directory with a change
that fails its health check: the run fails, the app is rolled back to what it last served (not stopped),
and a good run then moves it for real.
"""

import os
import subprocess

import pytest
from hostcheck import http_get, unit_properties
from paths import REPO
from record import Record, environment

PLAYBOOK = REPO / "molecule" / "config_dir_move" / "deploy.yml"
OLD, NEW = "/etc/uwsgi-production", "/etc/uwsgi-moved"
UNIT = "/etc/systemd/system/uwsgi-moved.service"
UNITS = ["uwsgi-moved.service"]
URL = "http://127.0.0.1:8132/"


def deploy(tmp_path, name, config_dir, status=200):
    record = tmp_path / f"{name}.json"
    out = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK),
         "-e", f"config_dir={config_dir}", "-e", f"status={status}"],
        env=environment(record, dict(os.environ, ANSIBLE_NOCOLOR="1")), capture_output=True, text=True, timeout=900,
        check=False)
    return out.returncode, Record(record), out.stdout[-4000:]


def ini_of_unit(host):
    for line in host.file(UNIT).content_string.splitlines():
        if line.startswith("ExecStart="):
            return line.split(" --ini ", 1)[1].strip()
    return None


@pytest.fixture(scope="module")
def runs(tmp_path_factory, host):
    tmp = tmp_path_factory.mktemp("config_dir_move")
    rc, _record, output = deploy(tmp, "first", OLD)
    assert rc == 0, output
    before = unit_properties(host, "uwsgi-moved.service", "MainPID")["MainPID"]
    failed = deploy(tmp, "moved-broken", NEW, status=204)
    after_failure = {"pid": unit_properties(host, "uwsgi-moved.service", "MainPID", "ActiveState"),
                     "ini": ini_of_unit(host), "page": http_get(host, URL)}
    good = deploy(tmp, "moved-good", NEW)
    return {"before": before, "failed": failed, "after_failure": after_failure, "good": good}


def test_the_failed_change_after_the_move_is_rolled_back_not_stopped(runs):
    rc, record, output = runs["failed"]
    assert rc != 0, output
    message = "\n".join(record.messages(record.failed()))
    assert "failed its health check" in message, message
    assert "Rolled back to the last good configuration" in message and "it answers again" in message, message
    assert "No earlier configuration" not in message, message
    after = runs["after_failure"]
    # Back on what it last served: the unit names the ini in the earlier directory, and the app answers.
    assert after["ini"] == f"{OLD}/moved.ini"
    assert after["pid"]["ActiveState"] == "active"
    assert after["page"] == (200, "hello from uWSGI\n")


def test_a_good_run_then_moves_the_app(host, runs):
    rc, _record, output = runs["good"]
    assert rc == 0, output
    assert ini_of_unit(host) == f"{NEW}/moved.ini"
    assert host.file(f"{NEW}/last-good/moved.ini").content_string == host.file(f"{NEW}/moved.ini").content_string
    assert http_get(host, URL) == (200, "hello from uWSGI\n")
