"""The change table of the docs' "Safe changes", as the test table of the action function."""

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_actions import choose_action, rollback_action, rollback_report, settled
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_model import effective_options
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_state import restart_needed

TABLE = [
    # (what changed, was running, files changed, restart option changed, install changed, packages changed, action)
    ("nothing", True, [], False, False, False, "none"),
    ("the app is not running", False, [], False, False, False, "start"),
    ("a new app", False, ["ini", "unit", "socket"], True, False, False, "start"),
    ("a stopped app whose ini changed", False, ["ini"], False, False, False, "start"),
    ("only options a graceful reload applies", True, ["ini"], False, False, False, "reload"),
    ("the app's packages", True, [], False, False, True, "reload"),
    ("an option in uwsgi_production_restart_options", True, ["ini"], True, False, False, "restart"),
    ("the unit", True, ["unit"], False, False, False, "restart"),
    ("the socket unit", True, ["socket"], False, False, False, "restart"),
    ("the secrets file", True, ["env"], False, False, False, "restart"),
    ("the uWSGI binary", True, [], False, True, False, "restart"),
    ("a reload-class ini change and the binary", True, ["ini"], False, True, False, "restart"),
    ("a restart option that did not change an ini", True, [], True, False, False, "none"),
]


@pytest.mark.parametrize("what, running, changed, restart_option, install, packages, action", TABLE,
                         ids=[row[0] for row in TABLE])
def test_the_gentlest_action_that_applies_the_change(what, running, changed, restart_option, install, packages, action):
    assert choose_action(running, changed, restart_option, install, packages) == action


@pytest.mark.parametrize("active, action, changed, back", [
    (True, "reload", ["ini"], "reload"),       # still serving: a reload takes it back without a gap
    (False, "reload", ["ini"], "restart"),     # it died on the reload
    (True, "restart", ["ini"], "restart"),
    (True, "reload", ["ini", "env"], "restart"),
    (True, "start", [], "restart"),
])
def test_a_rollback_reloads_only_what_a_reload_can_take_back(active, action, changed, back):
    assert rollback_action(active, action, changed) == back


ROLE = {"options": {"strict": True, "master": True, "harakiri": 60}, "user": "uwsgi", "group": "uwsgi",
        "config_dir": "/etc/uwsgi-production", "socket_activation": True}
KEYS = ["socket", "http-socket", "listen", "master", "stats"]


def test_restart_needed_compares_the_last_good_ini_with_the_new_options(tmp_path):
    app = {"name": "shop", "module": "shop:app", "http_socket": "127.0.0.1:8080"}
    good = tmp_path / "shop.ini"
    good.write_text("[uwsgi]\nstrict = true\nmaster = true\nharakiri = 30\nsocket = /run/uwsgi-shop/uwsgi.sock\n"
                    "http-socket = 127.0.0.1:8080\nstats = /run/uwsgi-shop/stats.sock\n")
    assert restart_needed(str(good), effective_options(app, ROLE), KEYS) is False  # harakiri 30 -> 60: a reload
    moved = dict(app, http_socket="127.0.0.1:8081")
    assert restart_needed(str(good), effective_options(moved, ROLE), KEYS) is True
    listen = dict(app, options={"listen": 128})
    assert restart_needed(str(good), effective_options(listen, ROLE), KEYS) is True
    assert restart_needed(str(tmp_path / "none.ini"), effective_options(app, ROLE), KEYS) is True  # a new app


def test_the_rollback_report_says_what_failed_and_how_each_app_went_back():
    outcome = {
        "shop": {"state": "reloaded", "error": None, "health": {"status": 200}},
        "blog": {"state": "restarted", "error": None, "health": {"status": 0, "msg": "GET / answered 500"}},
        "api": {"state": "restarted", "error": "Job failed", "health": None},
        "quiet": {"state": "restarted", "error": None, "health": None},
    }
    paths = {"shop": "/", "blog": "/", "api": "/", "quiet": "/", "later": "/"}
    text = rollback_report("uWSGI app 'shop' failed its health check", "web3", "/etc/uwsgi-production/last-good",
                           ["shop", "blog", "api", "quiet", "later"], outcome, paths, ["fresh"], ["fresh"])
    assert text.splitlines() == [
        "uWSGI app 'shop' failed its health check",
        "Rolled back to the last good configuration on host web3 (kept in /etc/uwsgi-production/last-good):",
        "- app 'shop': files restored, then reloaded; it answers again (GET / -> 200).", "",
        "- app 'blog': files restored, then restarted, but it STILL FAILS its health check: GET / answered 500", "",
        "- app 'api': files restored; bringing it back FAILED: Job failed", "",
        "- app 'quiet': files restored, then restarted (health check off).", "",
        "- app 'later': files restored, before they were applied.", "",
        "No earlier configuration to roll back to for app(s) fresh (new to host web3): stopped.",
    ]
    assert rollback_report("failed", "web3", "/x", [], {}, {}, ["fresh"], []).endswith("(new to host web3): left stopped.")
    assert rollback_report("uWSGI rejected", "web3", "/x", [], {}, {}, [], []) == "uWSGI rejected"


def test_the_rollback_report_names_an_app_whose_last_good_files_could_not_be_put_back():
    text = rollback_report("uWSGI app 'shop' failed its health check", "web3", "/etc/uwsgi-production/last-good",
                           [], {}, {}, [], [], {"shop": "could not write /etc/uwsgi-production/shop.ini: "
                                                        "[Errno 28] No space left on device"})
    assert text.splitlines() == [
        "uWSGI app 'shop' failed its health check",
        "Could NOT roll back on host web3 (the last good configuration is kept in /etc/uwsgi-production/last-good):",
        "- app 'shop': putting its last good files back failed, so it was left as it was: could not write "
        "/etc/uwsgi-production/shop.ini: [Errno 28] No space left on device",
    ]


RUNNING = {"ActiveState": "active", "SubState": "running", "UnitFileState": "enabled"}
LISTENING = {"ActiveState": "active", "SubState": "listening", "UnitFileState": "enabled"}


@pytest.mark.parametrize("changed, unit, socket_unit, activated, current, install, packages, expected", [
    ([], RUNNING, LISTENING, True, True, False, False, True),           # a run that changes nothing
    ([], RUNNING, {}, False, True, False, False, True),                 # no socket activation: its unit is not asked
    (["ini"], RUNNING, LISTENING, True, True, False, False, False),     # a file changed (or is unproven)
    ([], dict(RUNNING, SubState="dead", ActiveState="inactive"), LISTENING, True, True, False, False, False),  # stopped
    ([], dict(RUNNING, SubState="failed", ActiveState="failed"), LISTENING, True, True, False, False, False),  # crashed
    ([], dict(RUNNING, UnitFileState="disabled"), LISTENING, True, True, False, False, False),  # not enabled at boot
    ([], RUNNING, dict(LISTENING, ActiveState="inactive"), True, True, False, False, False),   # socket stopped
    ([], RUNNING, dict(LISTENING, UnitFileState="disabled"), True, True, False, False, False),  # socket not enabled
    ([], RUNNING, LISTENING, True, False, False, False, False),         # last good copies not current
    ([], RUNNING, LISTENING, True, True, True, False, False),           # a new uWSGI binary
    ([], RUNNING, LISTENING, True, True, False, True, False),           # new packages: a reload loads them
])
def test_an_app_is_settled_only_when_the_service_step_has_nothing_to_do(
        changed, unit, socket_unit, activated, current, install, packages, expected):
    assert settled(changed, unit, socket_unit, activated, current, install, packages) is expected


UNIT = """[Service]
# The master stops on q.
ExecStart=/opt/uwsgi/bin/uwsgi --ini /etc/uwsgi-production/a.ini
ExecStop=/bin/sh -c 'echo q > /run/uwsgi-a/master.fifo; sleep 0.1'
User=a
"""


@pytest.mark.parametrize("new, restart", [
    (UNIT, False),
    (UNIT.replace("sleep 0.1", "sleep 0.02"), False),
    (UNIT.replace("User=a\n", "User=a\nExecStopPost=+/bin/rm -f -- /run/uwsgi-a/uwsgi.pid\n"), False),
    (UNIT.replace("# The master stops on q.", "# The master stops on q (a new comment)."), False),
    (UNIT.replace("User=a", "User=b"), True),
    (UNIT.replace("--ini", "--strict --ini"), True),
    (UNIT + "Environment=A=1\n", True),
])
def test_a_unit_changed_in_its_stop_directives_alone_needs_no_restart(new, restart):
    assert actions.unit_restart_needed(UNIT, new) is restart
    assert actions.unit_restart_needed("", new) is True  # no last good unit: nothing to compare with


def test_a_stop_directives_change_is_a_reload_and_with_anything_else_a_restart():
    assert actions.choose_action(True, ["unit"], unit_restart=False) == "reload"
    assert actions.choose_action(True, ["unit", "ini"], unit_restart=False) == "reload"
    assert actions.choose_action(True, ["unit", "ini"], restart_needed=True, unit_restart=False) == "restart"
    assert actions.choose_action(True, ["unit", "env"], unit_restart=False) == "restart"
    assert actions.choose_action(True, ["unit"], install_changed=True, unit_restart=False) == "restart"
    assert actions.choose_action(True, ["unit"]) == "restart"
    assert actions.choose_action(False, ["unit"], unit_restart=False) == "start"
