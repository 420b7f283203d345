"""molecule/system_install: Debian's uWSGI runs the app, and switching the install method works.

molecule runs these next to tests/integration/default, twice: after the converge (system method) and
after the side effect, which switched the host to pip and back to system with one role run each and
recorded what ran after each switch (molecule/system_install/side_effect.yml). The switch tests skip
until those records exist.
"""

import json
import os
import pathlib

import pytest
from hostcheck import http_get, unit_properties
from paths import REPO, load_yaml

SCENARIO = pathlib.Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", REPO / "molecule" / "system_install"))
SCENARIO_VARS = load_yaml(SCENARIO / "apps.yml")
APP = SCENARIO_VARS["uwsgi_production_apps"][0]
UNIT = f"uwsgi-{APP['name']}.service"
UNITS = [UNIT]
DEFAULTS = load_yaml(REPO / "roles" / "uwsgi_production" / "defaults" / "main.yml")
VENV = DEFAULTS["uwsgi_production_venv"]
BINARY = {"pip": f"{VENV}/bin/uwsgi", "system": "/usr/bin/uwsgi-core"}
RECORDS = "/var/tmp/system-install-switches.json"
HELLO = "hello from uWSGI\n"


def app_processes(snapshot):
    """[pid, executable, command line] of the app's master and workers."""
    return [row for row in snapshot["processes"] if row[2].startswith(f"{APP['name']} uWSGI")]


def assert_only(snapshot, method):
    """The app's master and every worker run `method`'s binary, and no other uWSGI process runs."""
    processes = app_processes(snapshot)
    names = [row[2] for row in processes]
    assert f"{APP['name']} uWSGI master" in names, snapshot
    assert sum(name.startswith(f"{APP['name']} uWSGI worker") for name in names) >= 1, snapshot
    assert {row[1] for row in processes} == {BINARY[method]}, snapshot
    assert snapshot["main_pid"] in [row[0] for row in processes], snapshot
    # Every process of either binary (also one whose file was deleted) is one of the app's.
    assert snapshot["processes"] == processes, snapshot


@pytest.fixture(scope="module")
def records(host):
    if not host.file(RECORDS).exists:
        pytest.skip("the side effect has not switched the install method yet")
    return json.loads(host.file(RECORDS).content_string)


def test_the_scenario_deploys_with_the_system_method():
    assert SCENARIO_VARS["uwsgi_production_install_method"] == "system"


def executables(host):
    """{pid: /proc/PID/exe target} of every process on the host (root needs the owner's help in a
    container: see hostcheck.process_executable)."""
    out = host.check_output(
        'for p in /proc/[0-9]*; do e=$(readlink "$p/exe" 2>/dev/null'
        ' || runuser -u "$(stat -c %U "$p")" -- readlink "$p/exe" 2>/dev/null) && echo "${p#/proc/} $e"; done; true')
    return {int(pid): exe for pid, exe in (line.split(" ", 1) for line in out.splitlines())}


def test_only_debians_uwsgi_runs_the_app_now(host):
    """The master and its workers run /usr/bin/uwsgi-core, and no other process on the host runs a
    uWSGI binary (not even a deleted one: /proc/PID/exe then ends in " (deleted)")."""
    main_pid = int(unit_properties(host, UNIT, "MainPID")["MainPID"])
    workers = [int(pid) for pid in host.check_output(f"pgrep -P {main_pid}").split()]
    assert workers
    uwsgi = {pid: exe for pid, exe in executables(host).items()
             if exe.removesuffix(" (deleted)") in BINARY.values() or exe.startswith(f"{VENV}/")}
    assert uwsgi == {pid: BINARY["system"] for pid in [main_pid, *workers]}


def test_the_system_method_needs_no_build_of_its_own(host):
    """Debian's packages and what Ansible's pip module needs; no virtualenv of the role's, and on the
    fresh host (before the switches: the pip method installs them and they stay) no compiler."""
    assert not host.file(VENV).exists
    for package in ("uwsgi-core", "uwsgi-plugin-python3", "python3-venv", "python3-packaging"):
        assert host.package(package).is_installed, package
    if not host.file(RECORDS).exists:
        assert not host.package("gcc").is_installed and not host.package("python3-dev").is_installed


def test_before_the_switches_debians_uwsgi_served(records):
    assert_only(records["before"], "system")
    assert records["before"]["http"] == [200, HELLO]


@pytest.mark.parametrize("method", ["pip", "system"])
def test_after_each_switch_the_app_serves_on_the_new_binary_only(records, method):
    snapshot = records[method]
    assert_only(snapshot, method)
    assert snapshot["http"] == [200, HELLO]


@pytest.mark.parametrize("method", ["pip", "system"])
def test_each_switch_was_a_health_checked_restart(records, method):
    """The unit changed (ExecStart), so the role restarted the app and asked it for its page."""
    before = records["before" if method == "pip" else "pip"]
    assert records[method]["role"] == {"action": ["restarted"], "health": [200]}
    assert records[method]["main_pid"] != before["main_pid"]


def test_switching_to_pip_leaves_debians_packages_and_back_deletes_the_virtualenv(records):
    assert records["before"]["venv_exists"] is False
    assert records["pip"]["venv_exists"] is True
    assert records["pip"]["packages"] == {"uwsgi-core": "installed", "uwsgi-plugin-python3": "installed"}
    assert records["system"]["venv_exists"] is False


def test_no_request_failed_across_both_switches(host, records):
    load = json.loads(host.file("/var/tmp/system-install-load.json").content_string)
    print(f"\nacross both switches: sent {load['sent']}, failed {load['failed']} {load['errors']}, "
          f"slowest {load['max_latency']:.2f} s")
    assert load["sent"] >= 100  # the load ran across both role runs
    assert load["failed"] == 0, load["errors"]
    assert http_get(host, f"http://{APP['http_socket']}/") == (200, HELLO)
