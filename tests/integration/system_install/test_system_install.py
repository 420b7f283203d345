"""molecule/system_install: Debian's uWSGI runs the app.

molecule runs these next to tests/integration/default, twice: after the converge (system method) and
after the side effect, which switched the host to pip and back to system (on a host switched back
they hold too). The switches themselves are tested by test_switches.py, which the side effect runs
once it has recorded them.
"""

import os
import pathlib

from hostcheck import unit_properties
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
