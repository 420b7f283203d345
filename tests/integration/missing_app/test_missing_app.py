"""molecule/missing_app: an app whose module does not exist must fail loudly and stay down."""

import json
import time

from hostcheck import http_get, unit_properties, uwsgi_processes

UNIT = "uwsgi-missing.service"
CONTROL = "uwsgi-missing-tolerated.service"
UNITS = [UNIT, CONTROL]
RESULT = "/var/tmp/molecule-missing-app-result.json"


def test_converge_failed_naming_the_app_and_showing_its_journal(host):
    outcome = json.loads(host.file(RESULT).content_string)
    assert outcome["failed"] is True
    assert "uWSGI app 'missing' (uwsgi-missing.service) failed to start" in outcome["msg"]
    # The journal lines in the message say why.
    assert "no app loaded. GAME OVER" in outcome["msg"]
    assert "ModuleNotFoundError: No module named 'no_such_module'" in outcome["msg"]


def test_unit_ended_failed_with_exit_22_and_no_restart_loop(host):
    props = unit_properties(host, UNIT, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus", "NRestarts")
    assert props["ActiveState"] == "failed"
    assert props["Result"] == "exit-code"
    assert props["ExecMainCode"] == "1" and props["ExecMainStatus"] == "22"
    assert props["NRestarts"] == "0"
    # Restart=on-failure would have tried again after RestartSec=2 s; RestartPreventExitStatus=22 stops it.
    time.sleep(3)
    later = unit_properties(host, UNIT, "ActiveState", "NRestarts")
    assert later == {"ActiveState": "failed", "NRestarts": "0"}


def test_its_sockets_are_closed_so_no_connection_starts_it_again(host):
    """systemd held the app's socket (socket activation): the failed new app's socket unit is stopped
    and disabled, so a connection is refused instead of starting the broken app again."""
    props = unit_properties(host, "uwsgi-missing.socket", "ActiveState", "UnitFileState")
    assert props == {"ActiveState": "inactive", "UnitFileState": "disabled"}
    status, body = http_get(host, "http://127.0.0.1:8091/", timeout=5)
    assert status == 0 and "Connection refused" in body
    later = unit_properties(host, UNIT, "ActiveState", "NRestarts")
    assert later == {"ActiveState": "failed", "NRestarts": "0"}


def test_no_uwsgi_process_is_left(host):
    assert uwsgi_processes(host, "missing") == []
    assert unit_properties(host, UNIT, "MainPID")["MainPID"] == "0"
    assert host.run(f"systemd-cgls --no-pager --unit {UNIT}").stdout.count("uwsgi") == 0


def test_control_with_need_app_off_runs_and_answers_500_to_everything(host):
    """What need-app prevents: without it the same broken app is 'active' and serves only errors."""
    assert unit_properties(host, CONTROL, "ActiveState")["ActiveState"] == "active"
    assert uwsgi_processes(host, "missing-tolerated")
    for path in ("/", "/anything"):
        status = http_get(host, "http://127.0.0.1:8092" + path)[0]
        assert status == 500, path
