"""uwsgi_rollback's plan (uwsgi_plan.plan_rollback) and its steps carried out in-process, on files in a
temporary directory and a fake runner that records each systemctl argv: what it puts back, the links
it restores, every systemctl result checked, each app named serving or down."""

import json

import pytest
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model, uwsgi_plan
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_record import AppRecord
from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_rollback

from fake_systemd import FakeModule

HEALTH_OFF = {"enabled": False, "socket": "127.0.0.1:8080", "protocol": "http", "path": "/", "host": "localhost",
              "status": [200], "timeout": 5}


def record(name="hello", changed=(), activated=False, **more):
    return AppRecord(name=name, unit="uwsgi-%s.service" % name, socket_unit="uwsgi-%s.socket" % name, group="root",
                     activated=activated, health=HEALTH_OFF, pidfile="/run/uwsgi-%s/uwsgi.pid" % name,
                     changed=tuple(changed), **more)


def test_the_plan_lists_the_changed_apps_with_what_the_service_step_did_to_their_links():
    apps = {"old": record("old", ("ini", "unit", "socket")), "new": record("new", ("ini", "unit")),
            "same": record("same")}
    service = {"touched": ["old", "new"], "apps": {"old": {"action": "restart", "disabled": ["uwsgi-old.socket"],
                                                           "enabled": []},
                                                   "new": {"action": "start", "enabled": ["uwsgi-new.service"]}}}
    plans = uwsgi_plan.plan_rollback(apps, service, ["old", "same"])
    assert list(plans) == ["old", "new"]
    assert plans["old"] == uwsgi_plan.RollbackApp("old", restore=True, touched=True, let_go=True, reload_units=True,
                                                  action="restart", enabled=(), disabled=("uwsgi-old.socket",))
    assert plans["old"].bring_back and not plans["new"].restore and not plans["new"].bring_back
    # A run whose service step never ran: nothing was touched; an app whose sockets changed still comes back.
    assert uwsgi_plan.plan_rollback(apps, {}, ["old"])["old"].bring_back


def test_a_socket_unit_changed_in_its_stop_directives_alone_is_not_let_go_of():
    """Its sockets never changed: the rollback puts its file back and reloads the units, the sockets stay bound."""
    apps = {"hello": record("hello", ("socket",), activated=True, socket_restart=False)}
    service = {"touched": ["hello"], "apps": {"hello": {"action": "reload"}}}
    plan = uwsgi_plan.plan_rollback(apps, service, ["hello"])["hello"]
    assert (plan.let_go, plan.reload_units, plan.bring_back) == (False, True, True)


@pytest.mark.parametrize("health, active, error, expected", [
    ({"status": 200}, "", None, True), ({"status": 500, "msg": "GET / answered 500"}, "active", None, False),
    (None, "active", None, True), (None, "failed", None, False), (None, "active", "Job failed", False)])
def test_serving(health, active, error, expected):
    assert uwsgi_plan.serving(health, active, error) is expected


@pytest.fixture
def host(tmp_path, monkeypatch):
    """model.paths with the unit files in tmp_path/units instead of /etc/systemd/system."""
    real = uwsgi_model.paths
    (tmp_path / "units").mkdir()
    (tmp_path / "last-good").mkdir()

    def paths(role, name):
        return {key: value.replace("/etc/systemd/system", str(tmp_path / "units")) for key, value in real(role, name).items()}
    monkeypatch.setattr(uwsgi_model, "paths", paths)
    return tmp_path


def rollback(tmp_path, apps, service, answers):
    module = FakeModule(answers)
    module.params = {"failure": "uWSGI app 'hello' failed its health check", "host": "web3",
                     "config": {"apps": {name: app.to_result() for name, app in apps.items()}},
                     "service": service, "config_dir": str(tmp_path), "run": None, "releases": {}}
    rb = uwsgi_rollback.Rollback(module, uwsgi_rollback.Systemd(module))
    uwsgi_rollback.plan(rb)
    uwsgi_rollback.restore_all(rb)
    uwsgi_rollback.check(rb)
    return module, rb, uwsgi_rollback.report(rb)


def systemctl_calls(module):
    return [call[1:] for call in module.calls if call[0] == "systemctl"]


def socket_activation_was_turned_off(tmp_path):
    """The failed run turned socket activation off: its socket unit file is gone, its ini and unit new."""
    good = tmp_path / "last-good"
    for path, text in ((good / "hello.ini", "socket = fd://3\n"), (good / "uwsgi-hello.service", "[Service] old\n"),
                       (good / "uwsgi-hello.socket", "[Socket] old\n"), (good / "hello.health.json", json.dumps(HEALTH_OFF)),
                       (tmp_path / "hello.ini", "socket = /elsewhere\n"),
                       (tmp_path / "units" / "uwsgi-hello.service", "[Service] new\n")):
        path.write_text(text)
    apps = {"hello": record(changed=("ini", "unit", "socket"), activated=False)}
    service = {"touched": ["hello"], "apps": {"hello": {"action": "restart", "state": "restarted",
                                                        "disabled": ["uwsgi-hello.socket"], "enabled": []}}}
    return apps, service


ACTIVE = {("systemctl", "show", "--property=ActiveState"): (0, "active\n", ""),
          # The socket unit's file was gone: systemd no longer knows it.
          ("systemctl", "stop", "uwsgi-hello.socket"): (5, "", "Failed to stop uwsgi-hello.socket: Unit not loaded.\n")}


def test_socket_activation_turned_off_then_failed_gets_its_socket_unit_back_enabled_and_listening(host):
    apps, service = socket_activation_was_turned_off(host)
    module, rb, text = rollback(host, apps, service, ACTIVE)
    assert systemctl_calls(module) == [
        ["stop", "uwsgi-hello.service"], ["stop", "uwsgi-hello.socket"], ["daemon-reload"],
        ["enable", "uwsgi-hello.socket"], ["start", "uwsgi-hello.socket"],
        ["show", "--property=ActiveState", "--value", "uwsgi-hello.service"],
        ["reset-failed", "uwsgi-hello.service", "uwsgi-hello.socket"], ["restart", "uwsgi-hello.service"],
        ["show", "--property=ActiveState", "--value", "uwsgi-hello.service"]]
    assert (host / "units" / "uwsgi-hello.socket").read_text() == "[Socket] old\n"
    assert (host / "hello.ini").read_text() == "socket = fd://3\n"
    assert rb.problems == {} and rb.serving == {"hello": True}
    assert "Rolled back to the last good configuration on host web3" in text
    assert "- app 'hello': files restored, then restarted (health check off). Now: serving." in text


def test_a_systemctl_call_that_fails_is_named_and_a_down_app_is_not_said_rolled_back(host):
    apps, service = socket_activation_was_turned_off(host)
    answers = {**ACTIVE, ("systemctl", "enable", "uwsgi-hello.socket"): (1, "", "Failed to enable: Access denied\n"),
               ("systemctl", "show", "--property=ActiveState"): (0, "failed\n", "")}
    _module, rb, text = rollback(host, apps, service, answers)
    assert rb.problems == {"hello": ["systemctl enable uwsgi-hello.socket: Failed to enable: Access denied"]}
    assert rb.serving == {"hello": False}
    assert "Rolled back" not in text
    assert ("- app 'hello': files restored, then restarted (health check off). systemctl FAILED during the rollback: "
            "systemctl enable uwsgi-hello.socket: Failed to enable: Access denied. Now: DOWN.") in text


def test_a_unit_the_service_step_enabled_is_disabled_before_its_file_goes(host):
    """Socket activation turned on, then the app failed: the socket unit the service step enabled is
    disabled while its file is still there, then its file removed (the last good has none)."""
    good = host / "last-good"
    for path, text in ((good / "hello.ini", "socket = /run/uwsgi-hello/uwsgi.sock\n"),
                       (good / "uwsgi-hello.service", "[Service] old\n"), (host / "hello.ini", "socket = fd://3\n"),
                       (host / "units" / "uwsgi-hello.socket", "[Socket] new\n")):
        path.write_text(text)
    apps = {"hello": record(changed=("ini", "unit", "socket"), activated=True)}
    service = {"touched": ["hello"], "apps": {"hello": {"action": "restart", "enabled": ["uwsgi-hello.socket"],
                                                        "disabled": []}}}
    module, rb, _text = rollback(host, apps, service, {("systemctl", "show", "--property=ActiveState"): (0, "active\n", "")})
    calls = systemctl_calls(module)
    assert calls[:4] == [["stop", "uwsgi-hello.service"], ["stop", "uwsgi-hello.socket"],
                         ["disable", "uwsgi-hello.socket"], ["daemon-reload"]]
    assert not (host / "units" / "uwsgi-hello.socket").exists()
    assert ["start", "uwsgi-hello.socket"] not in calls and ["reset-failed", "uwsgi-hello.service"] in calls
    assert rb.problems == {} and rb.serving == {"hello": True}


def test_a_new_app_is_stopped_its_socket_unit_first_and_a_refusal_is_named(host):
    apps = {"fresh": record("fresh", ("ini", "unit", "socket"), activated=True)}
    service = {"touched": ["fresh"], "apps": {"fresh": {"action": "start", "enabled": ["uwsgi-fresh.service"]}}}
    answers = {("systemctl", "show", "--property=ActiveState"): (0, "active\n", ""),
               ("systemctl", "disable", "uwsgi-fresh.socket"): (1, "", "Access denied\n")}
    module, rb, text = rollback(host, apps, service, answers)
    assert systemctl_calls(module) == [
        ["stop", "uwsgi-fresh.socket"], ["disable", "uwsgi-fresh.socket"], ["reset-failed", "uwsgi-fresh.socket"],
        ["show", "--property=ActiveState", "--value", "uwsgi-fresh.service"], ["stop", "uwsgi-fresh.service"],
        # Enabled by the service step: disabled, or the failed app would start again at boot.
        ["disable", "uwsgi-fresh.service"]]
    assert rb.stopped == ["fresh"]
    assert text.endswith("No earlier configuration to roll back to for app(s) fresh (new to host web3): stopped.\n"
                         "- app 'fresh': systemctl FAILED while stopping it: systemctl disable uwsgi-fresh.socket: "
                         "Access denied.")


def test_an_app_whose_packages_the_run_changed_is_reported_with_its_old_virtualenv(host):
    """Only its packages changed (no file of the role): the configuration's rollback has nothing to restore, and the
    message still says what became of it (uwsgi_packages' step restore put its virtualenv back and reloaded it)."""
    apps = {"shopapp": record("shopapp")}
    module = FakeModule({})
    module.params = {"failure": "uWSGI app 'shopapp' failed its health check after a reload", "host": "web3",
                     "config": {"apps": {name: app.to_result() for name, app in apps.items()}},
                     "service": {"touched": ["shopapp"], "apps": {"shopapp": {"action": "reload"}}},
                     "config_dir": str(host), "run": None, "releases": {},
                     "packages": {"shopapp": {"restored": True, "action": "reload", "serving": True, "error": None}}}
    rb = uwsgi_rollback.Rollback(module, uwsgi_rollback.Systemd(module))
    uwsgi_rollback.plan(rb)
    uwsgi_rollback.restore_all(rb)
    uwsgi_rollback.check(rb)
    assert rb.restored == [] and systemctl_calls(module) == []
    assert uwsgi_rollback.report(rb).endswith(
        "Packages on host web3:\n- app 'shopapp': its virtualenv was put back and the app reloaded; it answers its "
        "health check again: it serves its old code.")


def test_a_reload_that_does_not_bring_the_app_back_is_followed_by_a_restart(host):
    """Its master was on its way out (a crash loop the health check caught): the reload fails, a restart
    starts a master afresh on the restored files."""
    good = host / "last-good"
    for path, text in ((good / "hello.ini", "chdir = /srv/hello\n"), (good / "hello.health.json", json.dumps(HEALTH_OFF)),
                       (host / "hello.ini", "chdir = /srv/crashloop\n")):
        path.write_text(text)
    apps = {"hello": record(changed=("ini",))}
    service = {"touched": ["hello"], "apps": {"hello": {"action": "reload", "state": "reloaded"}}}
    answers = {("systemctl", "show", "--property=ActiveState"): (0, "active\n", ""),
               ("systemctl", "reload", "uwsgi-hello.service"): (1, "", "Job for uwsgi-hello.service failed.\n")}
    module, rb, text = rollback(host, apps, service, answers)
    calls = systemctl_calls(module)
    assert calls[calls.index(["reload", "uwsgi-hello.service"]) + 1:] == [
        ["reset-failed", "uwsgi-hello.service"], ["restart", "uwsgi-hello.service"],
        ["show", "--property=ActiveState", "--value", "uwsgi-hello.service"]]
    assert (host / "hello.ini").read_text() == "chdir = /srv/hello\n"
    assert rb.serving == {"hello": True}
    assert "- app 'hello': files restored, then restarted (health check off). Now: serving." in text
