"""The role's normal path on a real systemd host: molecule/default (app "hello"), and the same app
with Debian's uWSGI in molecule/system_install."""

import json
import os
import pathlib
import re
import shlex
import uuid

from paths import REPO, load_yaml
from hostcheck import http_get, process_executable, unit_properties, uwsgi_processes, wait_for

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model

DEFAULTS = load_yaml(REPO / "roles" / "uwsgi_production" / "defaults" / "main.yml")
# The running scenario's apps.yml (molecule sets MOLECULE_SCENARIO_DIRECTORY; by hand: molecule/default).
SCENARIO = pathlib.Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY") or REPO / "molecule" / "default")
SCENARIO_VARS = {**DEFAULTS, **load_yaml(SCENARIO / "apps.yml")}
APP = SCENARIO_VARS["uwsgi_production_apps"][0]
UNIT = f"uwsgi-{APP['name']}.service"
UNITS = [UNIT]
INI = f"{SCENARIO_VARS['uwsgi_production_config_dir']}/{APP['name']}.ini"
# The binary of the scenario's install method (roles/uwsgi_production/vars/main.yml).
METHOD = SCENARIO_VARS["uwsgi_production_install_method"]
UWSGI = {"pip": f"{SCENARIO_VARS['uwsgi_production_venv']}/bin/uwsgi", "system": "/usr/bin/uwsgi-core"}[METHOD]
BASE_URL = f"http://{APP['http_socket']}"


def as_uwsgi_value(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_unit_is_active_with_the_production_properties(host):
    props = unit_properties(
        host, UNIT, "ActiveState", "SubState", "Type", "NotifyAccess", "KillSignal", "KillMode",
        "RestartPreventExitStatus", "Restart", "TimeoutStopUSec", "User", "Group", "RuntimeDirectory",
        "RuntimeDirectoryPreserve", "StandardOutput", "StandardError", "UnitFileState", "StatusText",
    )
    assert props["ActiveState"] == "active" and props["SubState"] == "running"
    assert props["Type"] == "notify"
    assert props["NotifyAccess"] == "all"
    assert props["KillSignal"] == "15"  # SIGTERM: die-on-term makes it a clean stop
    assert props["KillMode"] == "mixed"
    assert props["RestartPreventExitStatus"] == "22"
    assert props["Restart"] == "on-failure"
    # Stop timeout above worker-reload-mercy.
    mercy = DEFAULTS["uwsgi_production_options"]["worker-reload-mercy"]
    assert DEFAULTS["uwsgi_production_stop_timeout"] > mercy
    assert props["TimeoutStopUSec"] == "1min 30s"
    assert props["User"] == "uwsgi" and props["Group"] == "uwsgi"
    assert props["RuntimeDirectory"] == "uwsgi-hello"
    assert props["StandardOutput"] == "journal" and props["StandardError"] == "journal"
    assert props["UnitFileState"] == "enabled"
    assert props["StatusText"] == "uWSGI is ready"  # sent by uWSGI itself over NOTIFY_SOCKET


def test_installed_unit_passes_systemd_analyze_verify(host):
    out = host.run(f"systemd-analyze verify /etc/systemd/system/{UNIT}")
    assert out.rc == 0, out.stderr
    assert "uwsgi-hello.service" not in out.stderr, out.stderr


def test_processes_run_as_the_service_user_not_root(host):
    rows = uwsgi_processes(host, "hello")
    assert rows, "no uWSGI process of app hello"
    assert {row[1] for row in rows} == {"uwsgi"}


def test_ps_shows_the_procname_prefix(host):
    names = [row[2] for row in uwsgi_processes(host, "hello")]
    assert "hello uWSGI master" in names
    assert "hello uWSGI worker 1" in names


def python_version(host):
    """(major, minor) of the Python the role's uWSGI runs the apps on."""
    out = host.check_output(f"{SCENARIO_VARS['uwsgi_production_python']} -c 'import sys; print(*sys.version_info[:2])'")
    return tuple(int(part) for part in out.split())


def test_effective_config_holds_every_recommended_option(host):
    """uWSGI itself parses the live ini; every recommended option has the default's value (on Python
    3.13+ but py-call-osafterfork, which aborts every worker there: uwsgi_model.python_options)."""
    options = DEFAULTS["uwsgi_production_options"]
    py313 = python_version(host) >= (3, 13)
    rendered = {key: value for key, value in options.items() if not (py313 and key == "py-call-osafterfork")}
    # Recycling is staggered per worker (every uWSGI here has max-worker-lifetime-delta, 2.0.19+): the first
    # worker's lifetime is about half the default, the last one's the default itself.
    # The number of workers is sized from the host (uwsgi_sizing; molecule/sizing proves the formula): read it back.
    processes = int(host.check_output(f"{UWSGI} --ini {INI} --set vacuum=false --get processes"))
    base, delta = model.stagger(options["max-worker-lifetime"], processes, model.MIN_WORKER_LIFETIME)
    assert base + (processes - 1) * delta == options["max-worker-lifetime"]
    rendered["max-worker-lifetime"], rendered["max-worker-lifetime-delta"] = base, delta
    # Under socket activation systemd holds the sockets: vacuum is off in the ini (it would only warn about
    # the socket it did not make) and the unit's ExecStopPost= removes the pidfile2 and stats socket.
    if all(app.get("socket_activation", SCENARIO_VARS.get("uwsgi_production_socket_activation", True))
           for app in SCENARIO_VARS["uwsgi_production_apps"]):
        rendered["vacuum"] = False
    gets = " ".join(f"--get {key}" for key in rendered)
    # No --strict on the command line: it would hide the ini's own "strict" from --get.
    # --set vacuum=false keeps this check from removing the live app's files; --get prints the
    # first value of a key, so it still shows the ini's own vacuum.
    out = host.run(f"{UWSGI} --ini {INI} --set vacuum=false {gets}")
    assert out.rc == 0, out.stderr
    got = out.stdout.splitlines()
    assert got == [as_uwsgi_value(v) for v in rendered.values()]
    for key in ("strict", "master", "enable-threads", "vacuum", "single-interpreter", "die-on-term",
                "need-app", "disable-logging", "log-4xx", "log-5xx", "py-call-osafterfork", "auto-procname"):
        assert options[key] is True, key
    ini = host.file(INI).content_string
    if py313:
        assert "py-call-osafterfork" not in ini
    else:
        assert "py-call-osafterfork = true" in ini
    assert "py-callos-afterfork" not in ini


def test_running_master_applied_the_busyness_settings(host):
    log = host.check_output(f"journalctl --unit {UNIT} --no-pager --output cat")
    o = DEFAULTS["uwsgi_production_options"]
    assert (f"[busyness] settings: min={o['cheaper-busyness-min']}%, max={o['cheaper-busyness-max']}%, "
            f"overload={o['cheaper-overload']}, multiplier={o['cheaper-busyness-multiplier']}") in log
    assert f"your mercy for graceful operations on workers is {o['worker-reload-mercy']} seconds" in log


def test_the_check_the_role_runs_leaves_the_live_files_alone(host):
    """The role checks a new ini with uWSGI before installing it; that check must not vacuum the
    running app's pidfile2 and stats socket (uWSGI's --get alone does)."""
    out = host.run(" ".join(model.check_command(UWSGI, INI)))
    assert out.rc == 0, out.stderr
    assert "VACUUM" not in out.stdout + out.stderr
    for name in ("uwsgi.pid", "stats.sock", "uwsgi.sock"):
        assert host.file(f"/run/uwsgi-hello/{name}").exists, name


def test_app_answers_200_from_inside_the_host(host):
    status, body = http_get(host, BASE_URL + "/")
    assert status == 200
    assert body == "hello from uWSGI\n"


def test_404_and_500_are_logged_and_200_is_not(host):
    marker = uuid.uuid4().hex  # unique, so the whole journal can be searched for it

    def logged():
        return host.check_output(f"journalctl --unit {UNIT} --no-pager --output cat --grep {marker} || true")

    assert http_get(host, f"{BASE_URL}/?m={marker}-200")[0] == 200
    assert http_get(host, f"{BASE_URL}/nothing-here-{marker}-404")[0] == 404
    assert http_get(host, f"{BASE_URL}/error?m={marker}-500")[0] == 500

    def both_logged():
        text = logged()
        return text if f"{marker}-404" in text and f"{marker}-500" in text else ""

    log = wait_for(both_logged, timeout=10)
    assert f"{marker}-404" in log and "(HTTP/1.1 404)" in log, logged()
    assert f"{marker}-500" in log and "(HTTP/1.1 500)" in log
    assert f"{marker}-200" not in logged()


def test_stop_is_clean_and_under_two_seconds_then_start_works(host):
    timed = host.run(f"s=$(date +%s.%N); systemctl stop {UNIT}; rc=$?; e=$(date +%s.%N); echo $rc $s $e")
    rc, start, end = timed.stdout.split()
    seconds = float(end) - float(start)
    print(f"systemctl stop took {seconds:.3f} s")
    assert rc == "0"
    assert seconds < 2.0
    props = unit_properties(host, UNIT, "ActiveState", "Result", "ExecMainStatus", "ExecMainCode")
    assert props["ActiveState"] == "inactive"
    assert props["Result"] == "success"
    assert props["ExecMainCode"] == "1" and props["ExecMainStatus"] == "0"  # exited, status 0
    assert "goodbye to uWSGI" in host.check_output(f"journalctl --unit {UNIT} --lines 20 --no-pager --output cat")
    assert not uwsgi_processes(host, "hello")

    host.check_output(f"systemctl start {UNIT}")
    assert unit_properties(host, UNIT, "ActiveState")["ActiveState"] == "active"
    assert http_get(host, BASE_URL + "/")[0] == 200


def security(host, unit):
    """systemd-analyze security: (overall exposure, {check name: exposure or None})."""
    text = host.check_output(f"systemd-analyze security {unit} --no-pager")
    overall = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", text).group(1))
    rows = json.loads(host.check_output(f"systemd-analyze security {unit} --no-pager --json=short"))
    return overall, {row["name"]: (float(row["exposure"]) if row["exposure"] else 0.0) for row in rows}


def test_sandbox_brings_systemd_exposure_to_at_most_2(host):
    """Compare the role's unit with the same unit minus its sandboxing block, loaded side by side."""
    probe = "uwsgi-hello-unsandboxed-probe.service"
    host.check_output(
        f"sed '/^# Sandboxing/,/^$/d' /etc/systemd/system/{UNIT} > /etc/systemd/system/{probe}"
        " && systemctl daemon-reload")
    try:
        before, before_rows = security(host, probe)
    finally:
        host.run(f"rm -f /etc/systemd/system/{probe} && systemctl daemon-reload")
    after, after_rows = security(host, UNIT)
    moved = sorted(((name, before_rows[name], after_rows.get(name, 0.0)) for name in before_rows
                    if before_rows[name] != after_rows.get(name, 0.0)), key=lambda r: r[2] - r[1])
    print(f"\nsystemd-analyze security {UNIT}: {before} without the sandboxing, {after} with it")
    for name, was, now in moved:
        print(f"  {name:<45} {was:.1f} -> {now:.1f}")
    assert after <= 2.0
    assert before > after


def test_socket_and_ini_permissions(host):
    sock = host.file("/run/uwsgi-hello/uwsgi.sock")
    assert sock.is_socket and sock.mode == 0o660 and sock.user == "uwsgi" and sock.group == "uwsgi"
    ini = host.file(INI)
    assert ini.mode == 0o640 and ini.user == "root" and ini.group == "uwsgi"
    assert host.file("/run/uwsgi-hello/master.fifo").mode == 0o600


def test_each_socket_systemd_holds_is_registered_once_with_its_protocol(host):
    """uWSGI takes the sockets from the ini's fd:// lines only, not again from LISTEN_FDS."""
    script = (
        "import json, socket\n"
        "s = socket.socket(socket.AF_UNIX); s.connect('/run/uwsgi-hello/stats.sock')\n"
        "data = b''\n"
        "while True:\n"
        "    chunk = s.recv(65536)\n"
        "    if not chunk: break\n"
        "    data += chunk\n"
        "print(json.dumps([[k['name'], k['proto']] for k in json.loads(data)['sockets']]))\n"
    )
    sockets = json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))
    assert sorted(sockets) == sorted([["/run/uwsgi-hello/uwsgi.sock", "uwsgi"], [APP["http_socket"], "http"]])


def test_master_and_workers_run_the_install_methods_binary(host):
    """pip: the role's virtualenv's uwsgi; system: Debian's uwsgi-core (with need-plugin first in the ini)."""
    rows = uwsgi_processes(host, APP["name"])
    assert len(rows) >= 2  # a master and at least one worker
    for pid, unused_user, name in rows:
        assert process_executable(host, pid) == UWSGI, name
    options = [line for line in host.file(INI).content_string.splitlines() if line and not line.startswith(";")]
    if METHOD == "system":
        assert options[:3] == ["[uwsgi]", "need-plugin = python3,cheaper_busyness", "strict = true"]
    else:
        assert options[:2] == ["[uwsgi]", "strict = true"]
