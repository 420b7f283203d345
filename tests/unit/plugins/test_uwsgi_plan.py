"""The service step's plan (uwsgi_plan) over records and `systemctl show`, and uwsgi_service's plan and
apply steps carried out in-process against a fake runner that records each systemctl argv."""

import pytest
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_plan
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_record import AppRecord
from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_service

from fake_systemd import FakeModule, fake_systemd

HEALTH = {"enabled": True, "socket": "127.0.0.1:8080", "protocol": "http", "path": "/", "host": "localhost",
          "status": [200], "timeout": 5}
RUNNING = {"ActiveState": "active", "SubState": "running", "UnitFileState": "enabled"}
LISTENING = {"ActiveState": "active", "SubState": "listening", "UnitFileState": "enabled"}


def record(name="hello", changed=(), activated=True, **more):
    return AppRecord(name=name, unit="uwsgi-%s.service" % name, socket_unit="uwsgi-%s.socket" % name, group="uwsgi",
                     activated=activated, health=HEALTH, pidfile="/run/uwsgi-%s/uwsgi.pid" % name,
                     changed=tuple(changed), **more)


def shown(name="hello", unit=None, sock=None):
    return {"uwsgi-%s.service" % name: unit or {}, "uwsgi-%s.socket" % name: sock or {}}


# (what changed, activated, unit shown, socket unit shown) -> the plan's fields
PLANS = [
    ("a new app under socket activation: socket unit started and enabled, app started and enabled",
     ("ini", "unit", "socket"), True, {}, {},
     dict(action="start", stop_unit=False, drop_socket=False, socket_verb="start", enable_socket=True, enable_unit=True)),
    ("nothing changed, all running: nothing to do",
     (), True, RUNNING, LISTENING,
     dict(action="none", stop_unit=False, drop_socket=False, socket_verb=None, enable_socket=False, enable_unit=False)),
    ("an ini change: a reload, sockets untouched",
     ("ini",), True, RUNNING, LISTENING,
     dict(action="reload", stop_unit=False, drop_socket=False, socket_verb=None, enable_socket=False, enable_unit=False)),
    ("new listening sockets under socket activation: stop, restart the socket unit, restart",
     ("ini", "socket"), True, RUNNING, LISTENING,
     dict(action="restart", stop_unit=True, drop_socket=False, socket_verb="restart", enable_socket=False,
          enable_unit=False)),
    ("a socket unit changed in its stop directives alone: its sockets kept, a reload (daemon-reload applies it)",
     ("socket",), True, RUNNING, LISTENING,
     dict(action="reload", stop_unit=False, drop_socket=False, socket_verb=None, enable_socket=False,
          enable_unit=False)),
    ("socket activation turned off: stop, socket unit stopped and disabled, restart",
     ("ini", "unit", "socket"), False, RUNNING, LISTENING,
     dict(action="restart", stop_unit=True, drop_socket=True, socket_verb=None, enable_socket=False, enable_unit=False)),
    ("socket activation turned on: socket unit started (it was not active) and enabled",
     ("ini", "unit", "socket"), True, RUNNING, {"ActiveState": "inactive", "UnitFileState": ""},
     dict(action="restart", stop_unit=True, drop_socket=False, socket_verb="start", enable_socket=True,
          enable_unit=False)),
    ("a socket unit someone stopped and disabled: started and enabled again, the app left alone",
     (), True, RUNNING, {"ActiveState": "inactive", "UnitFileState": "disabled"},
     dict(action="none", stop_unit=False, drop_socket=False, socket_verb="start", enable_socket=True,
          enable_unit=False)),
    ("without socket activation the socket unit is never looked at",
     ("ini",), False, {"ActiveState": "failed", "SubState": "failed", "UnitFileState": "disabled"}, {},
     dict(action="start", stop_unit=False, drop_socket=False, socket_verb=None, enable_socket=False, enable_unit=True)),
]


@pytest.mark.parametrize("label, changed, activated, unit, sock, expected", PLANS, ids=[row[0] for row in PLANS])
def test_each_apps_plan(label, changed, activated, unit, sock, expected):
    # socket_restart as uwsgi_config says it: False only where the socket unit changed in its stop directives alone.
    stop_only = "stop directives alone" in label
    app_plan = uwsgi_plan.plan_app(record(changed=changed, activated=activated, socket_restart=not stop_only),
                                   shown(unit=unit, sock=sock))
    assert {key: getattr(app_plan, key) for key in expected} == expected, label


def test_new_binary_and_new_packages_restart_or_reload_a_running_app():
    app = record()
    assert uwsgi_plan.plan_service({"hello": app}, shown(unit=RUNNING, sock=LISTENING), install_changed=True)[
        "hello"].action == "restart"
    assert uwsgi_plan.plan_service({"hello": app}, shown(unit=RUNNING, sock=LISTENING),
                                   packages_changed=["hello"])["hello"].action == "reload"


def test_daemon_reload_changes_and_what_is_applied():
    apps = {"a": record("a", changed=("ini",)), "b": record("b", changed=("unit",))}
    assert uwsgi_plan.needs_daemon_reload(apps) and not uwsgi_plan.needs_daemon_reload({"a": apps["a"]})
    both = dict(shown("a", RUNNING, LISTENING), **shown("b", RUNNING, LISTENING))
    plans = uwsgi_plan.plan_service(apps, both)
    assert [plans["a"].action, plans["b"].action] == ["reload", "restart"]
    assert uwsgi_plan.to_apply(plans) == ["a", "b"] and uwsgi_plan.to_apply(plans, failed=["a"]) == ["b"]
    assert uwsgi_plan.changes(apps, plans) and uwsgi_plan.units_to_enable(apps, plans) == []
    quiet = {"a": record("a")}
    assert not uwsgi_plan.changes(quiet, uwsgi_plan.plan_service(quiet, shown("a", RUNNING, LISTENING)))


def module_for(apps, units, answers=None, check=False):
    module = FakeModule(answers, units)
    module.params = {"apps": {name: app.to_result() for name, app in apps.items()}, "config_dir": "/etc/uwsgi-production",
                     "install_changed": False, "packages_changed": [], "journal_lines": 5, "run": None}
    module.check_mode = check

    def fail_json(**result):
        raise Failed(result)
    module.fail_json = fail_json
    return module


class Failed(Exception):
    pass


def systemctl_calls(module):
    return [call[1:] for call in module.calls if call[0] == "systemctl" and call[1] != "show"]


def test_the_service_step_turns_socket_activation_off_and_says_which_link_it_removed():
    apps = {"hello": record(changed=("ini", "unit", "socket"), activated=False)}
    module = module_for(apps, {"uwsgi-hello.service": RUNNING, "uwsgi-hello.socket": LISTENING})
    step = uwsgi_service.Step(module, uwsgi_service.Systemd(module))
    uwsgi_service.plan(step)
    uwsgi_service.apply(step)
    assert systemctl_calls(module) == [["daemon-reload"], ["stop", "uwsgi-hello.service"],
                                       ["stop", "uwsgi-hello.socket"], ["disable", "uwsgi-hello.socket"],
                                       ["restart", "uwsgi-hello.service"]]
    entry = step.result["apps"]["hello"]
    assert (entry["action"], entry["disabled"], entry["enabled"]) == ("restart", ["uwsgi-hello.socket"], [])
    assert step.result["touched"] == ["hello"] and step.result["changed"]


def test_a_socket_unit_changed_in_its_stop_directives_alone_is_neither_stopped_nor_restarted():
    """The upgrade that adds RemoveOnStop= and ExecStopPost= to every socket unit: no request refused."""
    apps = {"hello": record(changed=("unit", "socket"), unit_restart=False, socket_restart=False)}
    module = module_for(apps, {"uwsgi-hello.service": RUNNING, "uwsgi-hello.socket": LISTENING})
    step = uwsgi_service.Step(module, uwsgi_service.Systemd(module))
    uwsgi_service.plan(step)
    uwsgi_service.apply(step)
    assert systemctl_calls(module) == [["daemon-reload"], ["reload", "uwsgi-hello.service"]]
    assert step.result["apps"]["hello"]["action"] == "reload"


def test_a_new_app_is_bound_started_and_enabled_and_says_what_it_enabled():
    apps = {"new": record("new", changed=("ini", "unit", "socket"))}
    module = module_for(apps, {})
    step = uwsgi_service.Step(module, uwsgi_service.Systemd(module))
    uwsgi_service.plan(step)
    uwsgi_service.apply(step)
    assert systemctl_calls(module) == [["daemon-reload"], ["start", "uwsgi-new.socket"], ["enable", "uwsgi-new.socket"],
                                       ["start", "uwsgi-new.service"], ["enable", "uwsgi-new.service"]]
    assert step.result["apps"]["new"]["enabled"] == ["uwsgi-new.socket", "uwsgi-new.service"]


def test_a_socket_unit_that_cannot_bind_fails_the_app_which_is_not_started():
    apps = {"taken": record("taken", changed=("ini", "unit", "socket"))}
    module = module_for(apps, {}, {("systemctl", "start", "uwsgi-taken.socket"): (1, "", "Job failed.\n"),
                                   ("journalctl",): (0, "Address already in use\n", "")})
    step = uwsgi_service.Step(module, uwsgi_service.Systemd(module))
    uwsgi_service.plan(step)
    with pytest.raises(Failed) as caught:
        uwsgi_service.apply(step)
    msg = caught.value.args[0]["msg"]
    assert msg.startswith("uWSGI app 'taken': systemd could not start its socket unit uwsgi-taken.socket: "
                          "systemctl start uwsgi-taken.socket: Job failed.")
    assert "Address already in use" in msg
    assert ["start", "uwsgi-taken.service"] not in systemctl_calls(module)
    assert caught.value.args[0]["touched"] == ["taken"] and caught.value.args[0]["apps"]["taken"]["enabled"] == [
        "uwsgi-taken.service"]


def test_check_mode_runs_nothing_but_show_and_reports_the_change():
    apps = {"hello": record(changed=("ini",))}
    module = module_for(apps, {"uwsgi-hello.service": RUNNING, "uwsgi-hello.socket": LISTENING}, check=True)
    step = uwsgi_service.Step(module, uwsgi_service.Systemd(module))
    uwsgi_service.plan(step)
    uwsgi_service.apply(step)
    uwsgi_service.check(step)
    uwsgi_service.keep(step)
    assert systemctl_calls(module) == [] and step.result["changed"]
    assert step.result["apps"]["hello"]["action"] == "reload"


def test_every_action_has_a_runner():
    from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_actions import ACTIONS
    assert set(uwsgi_service.APPLY) == set(ACTIONS)
    _module, systemd = fake_systemd({("systemctl", "reload"): (1, "", "Job failed.\n")})
    assert uwsgi_service.apply_systemctl(systemd, record(), "none") is None
    assert uwsgi_service.apply_systemctl(systemd, record(), "reload") == "Job failed."


def test_a_daemon_reload_systemd_refuses_fails_the_step_naming_it():
    apps = {"hello": record(changed=("unit",))}
    module = module_for(apps, {}, {("systemctl", "daemon-reload"): (1, "", "Access denied\n")})
    step = uwsgi_service.Step(module, uwsgi_service.Systemd(module))
    with pytest.raises(Failed) as caught:
        uwsgi_service.plan(step)
    assert caught.value.args[0]["msg"] == "systemctl daemon-reload: Access denied"
