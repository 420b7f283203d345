"""molecule/system_install: the options follow Debian's uWSGI (2.0.21 on Debian 12), checked on the real binary.

Debian 12's uwsgi-core has max-worker-lifetime-delta (2.0.19+) but not max-requests-delta (2.0.29+). Two runs
of the converge playbook with --check, from the controller, read from the project's record of each run
(tests/record.py): an app that sets max-requests gets no delta for it and the run says so; an app that sets
max-requests-delta itself is rejected by uWSGI's strict mode, naming the app, the key and the release.
Neither run changes anything on the host.
"""

import json
import os
import subprocess
import tempfile

import record
from hostcheck import unit_properties
from paths import REPO, load_yaml

SCENARIO = REPO / "molecule" / "system_install"
APP = load_yaml(SCENARIO / "apps.yml")["uwsgi_production_apps"][0]
PLAYBOOK = REPO / "molecule" / "shared" / "converge.yml"
CONFIG = "Write every app's files (uWSGI checks each changed ini first), switch each app with a new release to it"
SAID = "Say which defaults the host's Python and uWSGI left out"


def check_run(options):
    """The --check run of the converge with the app's options set to `options`: its record and output."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "record.json")
        env = record.environment(path, dict(os.environ, ANSIBLE_NOCOLOR="1", MOLECULE_SCENARIO_DIRECTORY=str(SCENARIO)))
        extra = {"uwsgi_production_apps": [dict(APP, options=options)]}
        out = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK),
                              "--check", "-e", json.dumps(extra)], env=env, capture_output=True, text=True,
                             timeout=600, check=False)
        assert os.path.exists(path), out.stdout[-3000:] + out.stderr[-3000:]
        return record.Record(path), out


def host_state(host):
    return (host.check_output("sha256sum /etc/uwsgi-production/*.ini /etc/systemd/system/uwsgi-*"),
            unit_properties(host, f"uwsgi-{APP['name']}.service", "MainPID", "ActiveState"))


def test_a_default_delta_the_binary_lacks_is_left_out_and_said(host):
    before = host_state(host)
    run, out = check_run({"max-requests": 1000})
    assert run.failed() == [], out.stdout[-3000:]
    (config,) = [result for task in run.tasks() for result in [task["result"]] if record.short_name(task["task"]) == CONFIG]
    assert config["uwsgi_version"].startswith("2.0.21"), config["uwsgi_version"]
    (left,) = [item for item in config["left_out"] if item["option"] == "max-requests-delta"]
    assert left["apps"] == [APP["name"]]
    assert "uWSGI %s has no max-requests-delta (added in 2.0.29)" % config["uwsgi_version"] in left["why"]
    # max-worker-lifetime-delta is 2.0.19's: this binary gets it.
    assert not [item for item in config["left_out"] if item["option"] == "max-worker-lifetime-delta"]
    said = [str(task["result"].get("msg")) for task in run.tasks() if record.short_name(task["task"]) == SAID]
    assert said and left["text"] in said[0], said
    assert host_state(host) == before


def test_a_delta_the_app_sets_itself_is_rejected_naming_app_key_and_release(host):
    before = host_state(host)
    run, out = check_run({"max-requests": 1000, "max-requests-delta": 50})
    failed = run.failed()
    assert len(failed) == 1 and record.short_name(failed[0]["task"]) == CONFIG, out.stdout[-3000:]
    msg = failed[0]["result"]["msg"]
    assert "rejected the options of app '%s'" % APP["name"] in msg, msg
    assert "Option max-requests-delta is unknown to the host's uWSGI 2.0.21" in msg, msg
    assert host_state(host) == before
