"""molecule/check_mode: --check reports what would change and changes nothing.

The tests run the same converge playbook molecule uses, with --check --diff, from the controller:
against the scenario's configured host, and against a fresh test host started for the purpose. They
read each run's results from the project's own record of it (tests/record.py).
"""

import json
import os
import subprocess
import tempfile

import pytest
import record
from hostcheck import http_get, unit_properties
from paths import REPO, load_yaml

UNIT = "uwsgi-checked.service"
UNITS = [UNIT]
APPS = load_yaml(REPO / "molecule" / "check_mode" / "apps.yml")["uwsgi_production_apps"]
PLAYBOOK = REPO / "molecule" / "shared" / "converge.yml"
WATCHED = ["/etc/uwsgi-production/checked.ini", f"/etc/systemd/system/{UNIT}", "/opt/uwsgi/bin/uwsgi"]
FRESH = "pyops-uwsgi-checkmode-fresh"


def run_check(inventory_args, extra_vars=None):
    """The run's output, its record, and its changed and failed (+ unreachable) totals."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "record.json")
        env = record.environment(path, dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
                                            MOLECULE_SCENARIO_DIRECTORY=str(REPO / "molecule" / "check_mode")))
        cmd = ["ansible-playbook", *inventory_args, str(PLAYBOOK), "--check", "--diff"]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert os.path.exists(path), out.stdout[-3000:] + out.stderr[-3000:]
        run = record.Record(path)
    changed, failed = run.totals()
    return out, run, changed, failed


def diffs(run):
    """Every (before, after) text pair of the run's diffs."""
    pairs = []
    for task in run.tasks():
        found = task["result"].get("diff") or []
        for diff in found if isinstance(found, list) else [found]:
            pairs.append((str(diff.get("before", "")), str(diff.get("after", ""))))
    return pairs


def snapshot(host):
    sums = host.check_output("sha256sum " + " ".join(WATCHED) + " 2>&1 || true")
    listing = host.check_output("ls -la /run/uwsgi-checked")
    return sums, listing, unit_properties(host, UNIT, "MainPID", "ActiveState")


def molecule_inventory():
    return ["-i", os.environ["MOLECULE_INVENTORY_FILE"]]


def test_check_on_the_configured_host_reports_nothing_to_do(host):
    before = snapshot(host)
    out, _run, changed, failed = run_check(molecule_inventory())
    assert failed == 0, out.stdout[-3000:]
    assert changed == 0, out.stdout[-3000:]
    assert snapshot(host) == before


def test_check_with_a_change_shows_the_ini_diff_and_changes_nothing(host):
    before = snapshot(host)
    changed_apps = [dict(APPS[0], options={"harakiri": 30})]
    out, run, changed, failed = run_check(molecule_inventory(), {"uwsgi_production_apps": changed_apps})
    assert failed == 0, out.stdout[-3000:]
    assert changed >= 1
    assert any("harakiri = 60\n" in before and "harakiri = 30\n" in after and "harakiri = 60\n" not in after
               for before, after in diffs(run)), diffs(run)
    assert snapshot(host) == before  # same files, same master PID
    assert http_get(host, "http://127.0.0.1:8094/")[0] == 200


@pytest.fixture()
def fresh_host():
    subprocess.run(["bash", str(REPO / "tools" / "testhost.sh"), "run", FRESH], check=True)
    yield FRESH
    subprocess.run(["docker", "rm", "-f", FRESH], check=False, capture_output=True)


def test_check_on_a_fresh_host_reports_changes_and_installs_nothing(fresh_host):
    out, run, changed, failed = run_check(["-i", f"{fresh_host},", "-c", "community.docker.docker",
                                           "-e", "ansible_python_interpreter=/usr/bin/python3"])
    assert failed == 0, out.stdout[-4000:]
    assert changed >= 5, out.stdout[-3000:]  # packages, user, uWSGI, ini, unit...
    assert any(msg.startswith("Would build uWSGI") for msg in run.messages()), run.messages()
    leftovers = subprocess.run(
        ["docker", "exec", fresh_host, "sh", "-c",
         "ls -d /opt/uwsgi /etc/uwsgi-production /etc/systemd/system/uwsgi-* /srv/hello 2>/dev/null;"
         " getent passwd uwsgi; dpkg -l gcc python3-venv 2>/dev/null | grep ^ii"],
        capture_output=True, text=True, check=False)
    assert leftovers.stdout == "", leftovers.stdout
