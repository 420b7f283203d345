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
        "- app 'shop': files restored, then reloaded; it answers again (GET / -> 200). Now: serving.", "",
        "- app 'quiet': files restored, then restarted (health check off). Now: serving.", "",
        "- app 'later': files restored, before they were applied. Now: serving.", "",
        "Last good files put back, but NOT serving again on host web3 (kept in /etc/uwsgi-production/last-good):",
        "- app 'blog': files restored, then restarted, but it STILL FAILS its health check: GET / answered 500. "
        "Now: DOWN.", "",
        "- app 'api': files restored; bringing it back FAILED: Job failed. Now: DOWN.", "",
        "No earlier configuration to roll back to for app(s) fresh (new to host web3): stopped.",
    ]
    assert rollback_report("failed", "web3", "/x", [], {}, {}, ["fresh"], []).endswith("(new to host web3): left stopped.")
    assert rollback_report("uWSGI rejected", "web3", "/x", [], {}, {}, [], []) == "uWSGI rejected"


def test_an_app_is_said_rolled_back_only_when_it_serves_and_every_failed_systemctl_call_is_named():
    """Health check off and the unit not active, or a systemctl call of the rollback refused: the message
    says so, and names the app's state."""
    outcome = {"quiet": {"state": "restarted", "error": None, "health": None},
               "shop": {"state": "restarted", "error": None, "health": {"status": 200}}}
    text = rollback_report("failed", "web3", "/x", ["quiet", "shop"], outcome, {"quiet": "/", "shop": "/"}, ["fresh"], [],
                           serving={"quiet": False, "shop": True},
                           problems={"shop": ["systemctl enable uwsgi-shop.socket: Unit file does not exist"],
                                     "fresh": ["systemctl disable uwsgi-fresh.socket: Access denied"]})
    assert text.splitlines() == [
        "failed",
        "Rolled back to the last good configuration on host web3 (kept in /x):",
        "- app 'shop': files restored, then restarted; it answers again (GET / -> 200). systemctl FAILED during the "
        "rollback: systemctl enable uwsgi-shop.socket: Unit file does not exist. Now: serving.", "",
        "Last good files put back, but NOT serving again on host web3 (kept in /x):",
        "- app 'quiet': files restored, then restarted (health check off). Now: DOWN.", "",
        "No earlier configuration to roll back to for app(s) fresh (new to host web3): left stopped.",
        "- app 'fresh': systemctl FAILED while stopping it: systemctl disable uwsgi-fresh.socket: Access denied.",
    ]
    assert "Rolled back" not in rollback_report("failed", "web3", "/x", ["quiet"], outcome, {"quiet": "/"}, [], [],
                                                serving={"quiet": False})


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


SOCKET = """[Socket]
ExecStartPre=/usr/bin/install -d -o a -g a -m 0755 /run/uwsgi-a
ListenStream=/run/uwsgi-a/uwsgi.sock
SocketMode=0660
TriggerLimitIntervalSec=0
"""
STOPPED_CLEAN = "TriggerLimitIntervalSec=0\n# Nothing stays.\nRemoveOnStop=yes\nExecStopPost=/bin/rm -rf -- /run/uwsgi-a\n"


@pytest.mark.parametrize("new, restart", [
    (SOCKET, False),
    (SOCKET.replace("TriggerLimitIntervalSec=0\n", STOPPED_CLEAN), False),   # what this release adds to 0.1.0's
    (SOCKET + "ExecStopPre=/bin/true\n", False),
    (SOCKET.replace("uwsgi.sock", "other.sock"), True),                        # new listening sockets
    (SOCKET + "ListenStream=127.0.0.1:8080\n", True),
    (SOCKET.replace("0660", "0666"), True),
    (SOCKET.replace("install -d", "install -d -v"), True),                    # runs at start: read at the next one
    (SOCKET + "TimeoutStopSec=5\n", True),                                   # a service's stop directive is not one
    (None, True),                                                             # socket activation turned off
])
def test_a_socket_unit_changed_in_its_stop_directives_alone_keeps_its_sockets(new, restart):
    assert actions.socket_restart_needed(SOCKET, new) is restart
    assert actions.socket_restart_needed(None, new) is True  # socket activation turned on: nothing to compare with


def test_a_socket_units_stop_directives_change_is_a_reload_and_with_anything_else_a_restart():
    assert actions.choose_action(True, ["socket"], socket_restart=False) == "reload"
    assert actions.choose_action(True, ["socket", "unit", "ini"], unit_restart=False, socket_restart=False) == "reload"
    assert actions.choose_action(True, ["socket", "unit"], socket_restart=False) == "restart"
    assert actions.choose_action(True, ["socket", "unit"], unit_restart=False) == "restart"
    assert actions.choose_action(True, ["socket", "env"], socket_restart=False) == "restart"
    assert actions.choose_action(True, ["socket", "ini"], restart_needed=True, socket_restart=False) == "restart"
    assert actions.choose_action(True, ["socket"]) == "restart"
    assert actions.choose_action(False, ["socket"], socket_restart=False) == "start"


# --- releases: which release each app was pointed back at, and whether it serves (actions.release_report) ---

HEALTHY = {"status": 200, "attempts": 1, "elapsed": 0.01}
CONFIG_FAILURE = "App 'shop' on host web3: release 2.0 failed its health check after the chain reload: GET / answered 500."


def release_lines(text):
    lines = text.splitlines()
    return lines[lines.index("Releases on host web3:") + 1:]


def test_the_release_report_says_how_each_app_went_back_and_that_it_serves():
    reverted = {
        "shop": {"release": "1.0", "action": "chain", "serving": True, "error": None, "health": HEALTHY},
        "blog": {"release": "3.1", "action": "restart", "serving": True, "error": None, "health": HEALTHY},
        "api": {"release": "0.9", "action": "service", "serving": None, "error": None},
    }
    outcome = {"api": {"state": "restarted", "error": None, "health": HEALTHY}}
    text = actions.release_report(CONFIG_FAILURE, "web3", reverted, outcome)
    assert text.splitlines()[:2] == [CONFIG_FAILURE, ""]
    assert release_lines(text) == [
        "- app 'shop': rolled back to release 1.0, its workers moved back one at a time (chain reload); it answers its "
        "health check again.",
        "- app 'blog': rolled back to release 3.1, restarted; it answers its health check again.",
        "- app 'api': rolled back to release 0.9, brought back with its last good configuration; it answers its health "
        "check again.",
    ]


def test_an_app_without_a_health_check_is_not_said_to_answer_it():
    reverted = {
        "shop": {"release": "1.0", "action": "chain", "serving": True, "error": None, "health": None},
        "blog": {"release": "3.1", "action": "restart", "serving": True, "error": None, "health": None},
        "api": {"release": "0.9", "action": "service", "serving": None, "error": None},
    }
    outcome = {"api": {"state": "restarted", "error": None, "health": None}}
    lines = release_lines(actions.release_report(CONFIG_FAILURE, "web3", reverted, outcome))
    assert lines == [
        "- app 'shop': rolled back to release 1.0, its workers moved back one at a time (chain reload); it runs again "
        "(health check off).",
        "- app 'blog': rolled back to release 3.1, restarted; it runs again (health check off).",
        "- app 'api': rolled back to release 0.9, brought back with its last good configuration; it runs again "
        "(health check off).",
    ]


DOWN = [
    # (how it went back, its reverted entry, the configuration rollback's outcome of it, the reason shown)
    ("chain that did not finish", {"action": "chain", "serving": False,
                                   "error": "the chain reload onto release 1.0 did not finish within 21 s"}, None,
     "did not finish within 21 s"),
    ("chain, then its health check failed", {"action": "chain", "serving": False,
                                             "error": "release 1.0 failed its health check after the chain reload: "
                                                      "GET / answered 502"}, None, "GET / answered 502"),
    ("restart that failed", {"action": "restart", "serving": False,
                             "error": "Job for uwsgi-shop.service failed because the control process exited"}, None,
     "Job for uwsgi-shop.service failed"),
    ("restart, then no answer", {"action": "restart", "serving": False, "error": "no answer within 30 s"}, None,
     "no answer within 30 s"),
    ("the service's rollback could not start it", {"action": "service", "serving": None, "error": None},
     {"state": "restarted", "error": "Job failed", "health": None}, "Job failed"),
    ("the service's rollback, then its health check failed", {"action": "service", "serving": None, "error": None},
     {"state": "restarted", "error": None, "health": {"status": 500, "msg": "GET / answered 500"}}, "GET / answered 500"),
    ("the service's rollback never reached it", {"action": "service", "serving": None, "error": None}, None,
     "it was not brought back"),
]


@pytest.mark.parametrize("how, entry, brought, reason", DOWN, ids=[row[0] for row in DOWN])
def test_an_app_left_down_is_named_down_and_never_rolled_back(how, entry, brought, reason):
    reverted = {"shop": dict(entry, release="1.0"),
                "blog": {"release": "3.1", "action": "chain", "serving": True, "error": None, "health": HEALTHY}}
    outcome = {"shop": brought} if brought else {}
    text = actions.release_report(CONFIG_FAILURE, "web3", reverted, outcome)
    shop, blog = release_lines(text)
    assert shop.startswith("- app 'shop': pointed back at release 1.0, but it is DOWN: "), how
    assert reason in shop and "rolled back" not in shop.lower()
    assert blog.startswith("- app 'blog': rolled back to release 3.1")
    # Nothing in the whole message says the app that is down was rolled back or answers.
    for line in text.splitlines():
        if "'shop'" in line and line.startswith("- app"):
            assert "rolled back" not in line.lower() and "answers" not in line


def test_an_app_on_its_first_release_is_not_rolled_back_and_says_so():
    reverted = {"shop": {"release": "", "action": "none", "serving": False,
                         "error": "no earlier release to go back to (its first release)"}}
    assert release_lines(actions.release_report(CONFIG_FAILURE, "web3", reverted, {})) == [
        "- app 'shop': NOT rolled back: no earlier release to go back to (its first release); it is DOWN: its first "
        "release failed and there is no earlier release to serve."]
    failed = {"state": "restarted", "error": None, "health": {"status": 500, "msg": "GET / answered 500"}}
    (line,) = release_lines(actions.release_report(CONFIG_FAILURE, "web3", reverted, {"shop": failed}))
    assert "it is DOWN" in line and line.endswith("(GET / answered 500).") and "rolled back" not in line.replace(
        "NOT rolled back", "")
    # An app that served from a chdir before its first release: the configuration's rollback brings that back.
    brought = {"state": "restarted", "error": None, "health": {"status": 200, "attempts": 1, "elapsed": 0.2}}
    (line,) = release_lines(actions.release_report(CONFIG_FAILURE, "web3", reverted, {"shop": brought}))
    assert line.startswith("- app 'shop': its first release failed") and "last good configuration" in line
    assert "DOWN" not in line


def test_the_release_report_is_the_rollback_s_text_when_no_release_was_switched():
    assert actions.release_report(CONFIG_FAILURE, "web3", {}, {"shop": {"error": None}}) == CONFIG_FAILURE


def test_the_rollback_and_release_reports_together_name_a_down_app_down():
    """The configuration's rollback and the release's, as uwsgi_rollback joins them, for one app that is down."""
    outcome = {"shop": {"state": "restarted", "error": "Job failed", "health": None}}
    text = rollback_report(CONFIG_FAILURE, "web3", "/etc/uwsgi-production/last-good", ["shop"], outcome, {"shop": "/"},
                           [], [])
    text = actions.release_report(text, "web3", {"shop": {"release": "1.0", "action": "service", "serving": None,
                                                          "error": None}}, outcome)
    named = [line for line in text.splitlines() if "'shop'" in line and line.startswith("- app")]
    assert named == ["- app 'shop': files restored; bringing it back FAILED: Job failed. Now: DOWN.",
                     "- app 'shop': pointed back at release 1.0, but it is DOWN: Job failed"]
