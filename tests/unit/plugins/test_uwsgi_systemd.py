"""The one systemctl runner (uwsgi_systemd.Systemd) and its `show` parser, against a fake module."""

import pytest
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import SystemctlError, parse_show

from fake_systemd import fake_systemd


def test_parse_show_keys_each_block_by_its_id_not_its_position():
    text = ("Id=uwsgi-a.service\nActiveState=active\nSubState=running\nUnitFileState=enabled\n\n"
            "Id=uwsgi-a.socket\nActiveState=inactive\nSubState=dead\nUnitFileState=\n")
    assert parse_show(text) == {
        "uwsgi-a.service": {"Id": "uwsgi-a.service", "ActiveState": "active", "SubState": "running",
                            "UnitFileState": "enabled"},
        "uwsgi-a.socket": {"Id": "uwsgi-a.socket", "ActiveState": "inactive", "SubState": "dead", "UnitFileState": ""},
    }


def test_parse_show_splits_on_the_first_equals_and_drops_a_block_without_id():
    text = "ActiveState=active\n\nId=x.service\nStatusText=a=b\n\n\n"
    assert parse_show(text) == {"x.service": {"Id": "x.service", "StatusText": "a=b"}}
    assert parse_show("") == {}


def test_show_asks_once_for_every_unit_and_nothing_for_none():
    module, systemd = fake_systemd(units={"uwsgi-a.service": {"ActiveState": "active", "SubState": "running"}})
    assert systemd.show([]) == {} and module.calls == []
    shown = systemd.show(["uwsgi-a.service", "uwsgi-a.socket"])
    assert module.calls == [["systemctl", "show", "--property=Id,ActiveState,SubState,UnitFileState", "--",
                             "uwsgi-a.service", "uwsgi-a.socket"]]
    assert shown["uwsgi-a.service"]["SubState"] == "running" and shown["uwsgi-a.socket"]["ActiveState"] == "inactive"


def test_run_returns_what_systemctl_answered_whatever_its_code():
    _module, systemd = fake_systemd({("systemctl", "start"): (1, "", "Job failed.\n")})
    answer = systemd.run("start", "uwsgi-a.service")
    assert (answer.argv, answer.returncode, answer.ok, answer.said) == (
        ["systemctl", "start", "uwsgi-a.service"], 1, False, "Job failed.")


def test_must_raises_an_error_keeping_argv_return_code_and_stderr():
    _module, systemd = fake_systemd({("systemctl", "enable"): (1, "ignored\n", "Failed to enable unit: no such file\n")})
    with pytest.raises(SystemctlError) as caught:
        systemd.must("enable", "uwsgi-a.socket")
    error = caught.value
    assert error.argv == ["systemctl", "enable", "uwsgi-a.socket"] and error.returncode == 1
    assert error.stderr == "Failed to enable unit: no such file\n"
    assert str(error) == "systemctl enable uwsgi-a.socket: Failed to enable unit: no such file"
    assert not isinstance(error, RuntimeError)


def test_must_falls_back_on_stdout_when_stderr_is_empty_and_passes_on_success():
    _module, systemd = fake_systemd({("systemctl", "stop"): (5, "Unit not loaded.\n", "")})
    with pytest.raises(SystemctlError, match="^systemctl stop x.service: Unit not loaded.$"):
        systemd.must("stop", "x.service")
    _module, systemd = fake_systemd()
    assert systemd.must("daemon-reload").ok


def test_active_state_and_journal():
    module, systemd = fake_systemd({("systemctl", "show", "--property=ActiveState"): (0, "failed\n", ""),
                                    ("journalctl",): (0, "line 1\nline 2\n", "")})
    assert systemd.active_state("uwsgi-a.service") == "failed"
    assert systemd.journal("uwsgi-a.service", 2) == "line 1\nline 2"
    assert module.calls[-1] == ["journalctl", "--unit", "uwsgi-a.service", "--lines", "2", "--no-pager",
                                "--output", "short-precise"]
