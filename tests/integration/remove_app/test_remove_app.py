"""molecule/remove_app: state: absent removes app 'gone' completely while app 'keep' serves untouched."""

import json

import pytest
from hostcheck import http_get, unit_properties, uwsgi_processes

UNITS = ["uwsgi-keep.service", "uwsgi-gone.service"]
CONFIG = "/etc/uwsgi-production"
GONE_FILES = [
    "/etc/systemd/system/uwsgi-gone.service", "/etc/systemd/system/uwsgi-gone.socket",
    f"{CONFIG}/gone.ini", f"{CONFIG}/last-good/gone.ini", f"{CONFIG}/last-good/uwsgi-gone.service",
    f"{CONFIG}/last-good/uwsgi-gone.socket", f"{CONFIG}/last-good/gone.health.json", "/run/uwsgi-gone",
]


def read_json(host, path):
    return json.loads(host.file(path).content_string)


@pytest.mark.parametrize("unit", ["uwsgi-gone.service", "uwsgi-gone.socket"])
def test_the_removed_apps_units_are_gone_from_systemd(host, unit):
    props = unit_properties(host, unit, "LoadState", "ActiveState")
    assert props == {"LoadState": "not-found", "ActiveState": "inactive"}
    assert not host.file(f"/etc/systemd/system/sockets.target.wants/{unit}").exists
    assert not host.file(f"/etc/systemd/system/multi-user.target.wants/{unit}").exists


def test_every_file_of_the_removed_app_is_deleted(host):
    assert [path for path in GONE_FILES if host.file(path).exists] == []
    runs = read_json(host, "/var/tmp/remove-app-runs.json")
    # Its runtime directory went with its socket unit's stop (ExecStopPost=, vacuum under socket activation),
    # before the removal looked for it: the removal deleted every other file.
    assert sorted(runs["first_run_deleted"]) == sorted(path for path in GONE_FILES if path != "/run/uwsgi-gone")


def test_the_removed_apps_own_user_and_group_are_deleted_the_roles_stay(host):
    assert not host.user("gone").exists
    assert not host.group("gone").exists
    assert host.user("uwsgi").exists and host.group("uwsgi").exists


def test_no_process_of_the_removed_app_is_left_and_its_port_is_closed(host):
    assert uwsgi_processes(host, "gone") == []
    status, body = http_get(host, "http://127.0.0.1:8112/", timeout=5)
    assert status == 0 and "Connection refused" in body


def test_a_second_run_changes_nothing(host):
    runs = read_json(host, "/var/tmp/remove-app-runs.json")
    assert runs["second_run_deleted"] == [] and runs["second_run_stopped"] == []
    assert runs["second_run_changed"] is False


def test_the_other_app_kept_serving_untouched(host):
    before = read_json(host, "/var/tmp/remove-app-before.json")
    assert unit_properties(host, "uwsgi-keep.service", "MainPID")["MainPID"] == before["pid"]
    assert host.check_output(f"sha1sum {CONFIG}/keep.ini").split()[0] == before["ini"]
    load = read_json(host, "/var/tmp/remove-app-load.json")
    print(f"\nkeep: sent {load['sent']}, failed {load['failed']} {load['errors']}, slowest {load['max_latency']:.2f} s")
    assert load["sent"] >= 100  # the load really ran across both runs
    assert load["failed"] == 0, load["errors"]
    assert http_get(host, "http://127.0.0.1:8111/") == (200, "hello from uWSGI\n")
