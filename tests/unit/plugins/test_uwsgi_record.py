"""The per-app record (uwsgi_record.AppRecord): what uwsgi_config returns per app and the executors read."""

import json

import yaml
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_record
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_record import AppRecord
from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_config

RESULT = {
    "unit": "uwsgi-hello.service", "socket_unit": "uwsgi-hello.socket", "group": "uwsgi", "activated": True,
    "changed": ["ini", "socket"], "restart_needed": False, "unit_restart": True,
    "socket_restart": False,
    "health": {"enabled": True, "path": "/", "status": [200], "host": "localhost", "timeout": 60,
               "socket": "127.0.0.1:8080", "protocol": "http"},
    "reload_marker": "/run/uwsgi-hello/master.fifo", "pidfile": "/run/uwsgi-hello/uwsgi.pid",
    "left_out": [{"option": "max-worker-lifetime-delta", "why": "too old"}],
}


def test_the_record_goes_over_the_wire_and_back_unchanged():
    record = AppRecord.from_result("hello", RESULT)
    assert record.name == "hello" and record.changed == ("ini", "socket") and record.activated is True
    assert record.units == ["uwsgi-hello.service", "uwsgi-hello.socket"] and record.health_enabled
    assert json.loads(json.dumps(record.to_result())) == RESULT
    assert uwsgi_record.records(uwsgi_record.results({"hello": record})) == {"hello": record}


def test_a_result_without_changed_or_optional_keys_reads_as_nothing_changed():
    """What a failed uwsgi_config call (uWSGI rejected an ini) returns: no `changed` yet."""
    bare = {key: RESULT[key] for key in ("unit", "socket_unit", "group", "activated", "health", "pidfile")}
    record = AppRecord.from_result("hello", bare)
    assert (record.changed, record.restart_needed, record.unit_restart, record.reload_marker) == ((), False, True, None)
    assert record.socket_restart is True  # nothing known of its socket unit: a change of it restarts it
    assert uwsgi_record.records(None) == {}


def test_with_changed_keeps_the_kinds_order():
    record = AppRecord.from_result("hello", RESULT).with_changed({"tls", "ini", "unit"})
    assert record.changed == ("ini", "unit", "tls")


def test_uwsgi_configs_return_sample_documents_every_key_of_the_record():
    sample = yaml.safe_load(uwsgi_config.RETURN)["apps"]["sample"]["hello"]
    assert set(sample) == set(RESULT)
    assert set(AppRecord.from_result("hello", sample).to_result()) == set(RESULT)


def test_an_app_with_releases_carries_its_release_plan_and_the_others_no_key():
    plan = {"switch": True, "target": "r2"}
    record = AppRecord.from_result("hello", dict(RESULT, release=plan))
    assert record.release == plan and record.to_result()["release"] == plan
    assert "release" not in AppRecord.from_result("hello", RESULT).to_result()
