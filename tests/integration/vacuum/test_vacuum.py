"""molecule/vacuum: uWSGI's vacuum removes the socket, pidfile2 and stats socket on stop.

systemd keeps the runtime directory (RuntimeDirectoryPreserve=yes), so whatever is gone after a
stop was removed by uWSGI itself; the control app with vacuum off shows the files staying.
vacuum-on and vacuum-off bind their own socket (socket_activation: false); vacuum-activated is the
role's default, where systemd holds the socket: there vacuum is off (it would only log a VACUUM
WARNING about that socket) and the unit's ExecStopPost= removes the pidfile2 and stats socket,
leaving the socket alone; once its socket unit stops too, systemd removes the socket (RemoveOnStop=) and
the socket unit's ExecStopPost= the runtime directory with uWSGI's master fifo: nothing of it stays in /run,
and the socket unit started again serves. quiet-activated and quiet-own are a Flask app with an atexit handler:
each stop runs it and logs no warning.
"""

import re

import pytest
from hostcheck import unit_properties, uwsgi_get, uwsgi_processes, wait_for

ON = "vacuum-on"
OFF = "vacuum-off"
ACTIVATED = "vacuum-activated"
UNITS = [f"uwsgi-{ON}.service", f"uwsgi-{OFF}.service"]
FILES = ("uwsgi.sock", "uwsgi.pid", "stats.sock")


def paths(app):
    return [f"/run/uwsgi-{app}/{name}" for name in FILES]


def existing(host, app):
    return [p for p in paths(app) if host.file(p).exists]


def start(host, app):
    host.check_output(f"systemctl start uwsgi-{app}.service")
    assert existing(host, app) == paths(app), "the files must exist while the app runs"
    assert host.file(f"/run/uwsgi-{app}/uwsgi.sock").is_socket
    assert host.file(f"/run/uwsgi-{app}/stats.sock").is_socket


def stopped(host, app):
    return unit_properties(host, f"uwsgi-{app}.service", "ActiveState")["ActiveState"] == "inactive"


@pytest.mark.parametrize("app", [ON, OFF, ACTIVATED])
def test_files_exist_while_running(host, app):
    start(host, app)


def test_systemctl_stop_vacuums_everything(host):
    start(host, ON)
    host.check_output(f"systemctl stop uwsgi-{ON}.service")
    assert existing(host, ON) == []
    assert host.file(f"/run/uwsgi-{ON}").is_directory  # systemd kept it: the removal was uWSGI's
    log = host.check_output(f"journalctl --unit uwsgi-{ON}.service --lines 30 --no-pager --output cat")
    assert "VACUUM: pidfile2 removed." in log
    assert f"VACUUM: unix socket /run/uwsgi-{ON}/uwsgi.sock removed." in log


def test_sigterm_to_master_and_workers_at_once_vacuums_everything(host):
    start(host, ON)
    pids = [row[0] for row in uwsgi_processes(host, ON)]
    assert len(pids) >= 3, "master and at least two workers"
    host.check_output(f"systemctl kill --kill-whom=all --signal=SIGTERM uwsgi-{ON}.service")
    assert wait_for(lambda: stopped(host, ON), timeout=15)
    props = unit_properties(host, f"uwsgi-{ON}.service", "Result", "ExecMainStatus")
    assert props == {"Result": "success", "ExecMainStatus": "0"}
    assert existing(host, ON) == []


def test_control_without_vacuum_leaves_the_files(host):
    start(host, OFF)
    host.check_output(f"systemctl stop uwsgi-{OFF}.service")
    assert stopped(host, OFF)
    assert existing(host, OFF) == paths(OFF)
    # ... and it still starts again over its own stale files.
    start(host, OFF)
    host.check_output(f"systemctl stop uwsgi-{OFF}.service")


def test_with_socket_activation_vacuum_leaves_the_socket_to_systemd(host):
    start(host, ACTIVATED)
    sock = f"/run/uwsgi-{ACTIVATED}/uwsgi.sock"
    host.check_output(f"systemctl stop uwsgi-{ACTIVATED}.service")
    assert stopped(host, ACTIVATED)
    assert existing(host, ACTIVATED) == [sock], "pid file and stats socket removed (ExecStopPost=), the socket kept"
    assert host.file(sock).is_socket
    assert host.file(sock).mode == 0o660
    assert unit_properties(host, f"uwsgi-{ACTIVATED}.socket", "ActiveState")["ActiveState"] == "active"
    # A request to the kept socket starts the app again (systemd queues it meanwhile) and is answered.
    status, body = uwsgi_get(host, sock)
    assert (status, body) == (200, "hello from uWSGI\n")
    assert unit_properties(host, f"uwsgi-{ACTIVATED}.service", "ActiveState")["ActiveState"] == "active"
    host.check_output(f"systemctl stop uwsgi-{ACTIVATED}.service uwsgi-{ACTIVATED}.socket")


# --- Under socket activation, both units stopped: nothing of the app stays in /run -----------------------

RUNTIME = f"/run/uwsgi-{ACTIVATED}"
# Every runtime file of the app while it serves: systemd's socket, and uWSGI's pidfile2, stats socket and
# master fifo, in the runtime directory (its ini names no other path under /run).
RUNTIME_FILES = [RUNTIME] + [f"{RUNTIME}/{name}" for name in ("master.fifo", "stats.sock", "uwsgi.pid", "uwsgi.sock")]


def runtime_files(host):
    return sorted(host.check_output(f"find {RUNTIME} 2>/dev/null || true").split())


def test_the_activated_apps_ini_names_no_runtime_path_outside_its_runtime_directory(host):
    ini = host.file(f"/etc/uwsgi-production/{ACTIVATED}.ini").content_string
    assert sorted(set(re.findall(r"/run/[^\s,;]+", ini))) == sorted(set(RUNTIME_FILES[1:]) - {f"{RUNTIME}/uwsgi.sock"})
    socket_unit = host.file(f"/etc/systemd/system/uwsgi-{ACTIVATED}.socket").content_string
    assert re.findall(r"^ListenStream=(/.*)$", socket_unit, re.M) == [f"{RUNTIME}/uwsgi.sock"]


@pytest.mark.parametrize("stop", [f"uwsgi-{ACTIVATED}.service uwsgi-{ACTIVATED}.socket", f"uwsgi-{ACTIVATED}.socket"],
                         ids=["both units", "the socket unit alone"])
def test_with_socket_activation_stopping_both_units_leaves_no_runtime_file(host, stop):
    host.check_output(f"systemctl start uwsgi-{ACTIVATED}.socket uwsgi-{ACTIVATED}.service")
    assert runtime_files(host) == RUNTIME_FILES, "every runtime file exists while the app serves"
    owner = (host.file(RUNTIME).user, host.file(RUNTIME).group)
    host.check_output(f"systemctl stop {stop}")
    for unit in (f"uwsgi-{ACTIVATED}.service", f"uwsgi-{ACTIVATED}.socket"):
        assert unit_properties(host, unit, "ActiveState", "Result") == {"ActiveState": "inactive", "Result": "success"}
    # systemd removed the socket it made (RemoveOnStop=), the socket unit's ExecStopPost= the directory with
    # uWSGI's fifo; the service's ExecStopPost= had removed the pidfile2 and stats socket.
    assert runtime_files(host) == []
    assert [path for path in RUNTIME_FILES if host.file(path).exists] == []
    # Started again, the socket unit makes the directory and the socket as before, and the socket serves.
    host.check_output(f"systemctl start uwsgi-{ACTIVATED}.socket")
    sock = host.file(f"{RUNTIME}/uwsgi.sock")
    assert sock.is_socket and sock.mode == 0o660
    assert (host.file(RUNTIME).user, host.file(RUNTIME).group) == owner
    assert host.file(RUNTIME).mode == 0o755
    assert uwsgi_get(host, f"{RUNTIME}/uwsgi.sock") == (200, "hello from uWSGI\n")
    assert unit_properties(host, f"uwsgi-{ACTIVATED}.service", "ActiveState")["ActiveState"] == "active"
    assert runtime_files(host) == RUNTIME_FILES
    host.check_output(f"systemctl stop uwsgi-{ACTIVATED}.service uwsgi-{ACTIVATED}.socket")


# --- A Flask app's stop: its atexit handlers run, nothing is warned, uWSGI's files are gone -------------

QUIET = {"quiet-activated": ("uwsgi.pid", "stats.sock"), "quiet-own": ("uwsgi.sock", "uwsgi.pid", "stats.sock")}


def journal_since(host, unit, since):
    return host.check_output(f"journalctl --unit {unit} --since @{since} --no-pager --output cat")


@pytest.mark.parametrize("app", sorted(QUIET))
def test_a_flask_apps_stop_runs_its_atexit_handlers_and_logs_no_warning(host, app):
    unit, markers = f"uwsgi-{app}.service", f"/srv/quiet/atexit/{app}"
    host.check_output(f"rm -f {markers}/*")
    host.check_output(f"systemctl start {unit}")
    assert all(host.file(f"/run/uwsgi-{app}/{name}").exists for name in QUIET[app])
    workers = [pid for pid, _user, args in uwsgi_processes(host, app) if "worker" in args]
    assert len(workers) >= 2
    since = host.check_output("date +%s.%N")
    host.check_output(f"systemctl stop {unit}")
    assert stopped(host, app)
    log = journal_since(host, unit, since)
    print(f"{app}: journal of its stop:\n{log}")
    # Every worker ran the app's atexit handler (skip-atexit-teardown skipped Py_Finalize; the role's hook
    # ran the handlers through uwsgi.atexit).
    written = {int(name) for name in host.check_output(f"ls {markers}").split()}
    assert set(workers) <= written, (workers, written)
    assert "goodbye to uWSGI." in log
    assert [line for line in log.splitlines() if "warn" in line.lower()] == []
    assert [name for name in QUIET[app] if host.file(f"/run/uwsgi-{app}/{name}").exists] == []
    assert unit_properties(host, unit, "Result")["Result"] == "success"


def test_under_socket_activation_the_unit_not_vacuum_removes_uwsgis_files(host):
    ini = host.file("/etc/uwsgi-production/quiet-activated.ini").content_string.splitlines()
    assert "vacuum = false" in ini
    assert "skip-atexit-teardown = true" in ini
    assert "py-import = /etc/uwsgi-production/atexit_handlers.py" in ini
    post = host.check_output("systemctl show --property ExecStopPost --value uwsgi-quiet-activated.service")
    assert "/run/uwsgi-quiet-activated/uwsgi.pid /run/uwsgi-quiet-activated/stats.sock" in post
    own = host.file("/etc/uwsgi-production/quiet-own.ini").content_string.splitlines()
    assert "vacuum = true" in own
    # The socket stays, systemd's: the next connection starts the app again, and it answers.
    sock = "/run/uwsgi-quiet-activated/uwsgi.sock"
    assert host.file(sock).is_socket
    assert uwsgi_get(host, sock) == (200, "hello from Flask\n")
    host.check_output("systemctl stop uwsgi-quiet-activated.service uwsgi-quiet-activated.socket")
