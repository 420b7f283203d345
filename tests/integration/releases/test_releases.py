"""Releases of app 'shop' (molecule/releases): what each role run did to the app under 50 requests a second.

Each case's record (/var/tmp/releases-<case>.json) holds the role's outcome, the host before and after
(tests/integration/releases/release_probe.py) and the release notes and switch result the role's own
modules returned; the load's report (tools/steady_load.py) holds every request. The app's import takes
2 s: a graceful reload would make requests wait that long; a chain reload makes none wait.
"""

import json

import pytest

UNITS = ["uwsgi-shop.service", "uwsgi-shop.socket"]
ROOT = "/srv/uwsgi-releases/shop"
# Well under the 2 s import: what a request waits when no worker stalls (loopback, a loaded CI machine).
NO_STALL = 1.0


def record(host, case):
    return json.loads(host.file("/var/tmp/releases-%s.json" % case).content_string)


def load(host, case):
    report = json.loads(host.file("/var/tmp/releases-%s-load.json" % case).content_string)
    latencies = [entry[1] for entry in report["records"]]
    return report, max(latencies)


def served(entry):
    return entry["after"]["body"]


@pytest.mark.parametrize("case", ["good", "back", "dependency", "killed-after-switch", "killed-while-building",
                                  "user-code"])
def test_a_release_serves_with_no_request_failed_or_stalled(host, case):
    entry = record(host, case)
    report, longest = load(host, case)
    print("release case %s: %d requests, %d failed, longest wait %.3f s" % (case, report["sent"], report["failed"], longest))
    assert not entry["outcome"]["failed"], entry["outcome"]
    assert report["sent"] >= 100 and report["failed"] == 0, (report["sent"], report["failed"], report["errors"])
    assert longest < NO_STALL, longest
    expected = {"good": "200 shop 2", "back": "200 shop 1", "dependency": "200 shop 6 shopdep 1.0",
                "killed-after-switch": "200 shop 2", "killed-while-building": "200 shop 7", "user-code": "200 shop 8"}
    assert served(entry) == expected[case]
    assert entry["after"]["current"] == entry["case"]["release"]["id"]


@pytest.mark.parametrize("case", ["good", "back", "dependency", "killed-while-building", "user-code"])
def test_every_worker_moved_to_the_release_by_a_chain_reload(host, case):
    entry = record(host, case)
    switched = entry["switched"]["shop"]
    assert switched["loaded"] == "chain" and switched["to"] == entry["case"]["release"]["id"], switched
    assert switched["from"] == entry["before"]["current"]
    old = {worker["pid"] for worker in entry["before"]["workers"]}
    assert entry["after"]["workers"] and all(worker["pid"] not in old for worker in entry["after"]["workers"]), entry


@pytest.mark.parametrize("case, words", [
    ("broken-import", ["Release 3 of app 'shop'", "NOT switched", "importing release_shop:application failed",
                       "it still serves release 2", "ImportError: release 3 is broken on purpose"]),
    ("failing-command", ["Release 4 of app 'shop'", "NOT switched", "exited with status 1", "it still serves release 2",
                         "migrating release 4", "migration of release 4 failed"]),
    ("unhealthy", ["Release 5 of app 'shop'", "NOT switched", "failed the app's health check", "answered 500",
                   "it still serves release 2"]),
])
def test_a_release_that_fails_before_the_switch_leaves_the_old_one_serving_untouched(host, case, words):
    entry = record(host, case)
    report, longest = load(host, case)
    print("release case %s: %d requests, %d failed, longest wait %.3f s" % (case, report["sent"], report["failed"], longest))
    assert entry["outcome"]["failed"], entry
    for word in words:
        assert word in entry["outcome"]["msg"], (word, entry["outcome"]["msg"])
    assert "host" not in entry["outcome"]["msg"] or "on host" in entry["outcome"]["msg"]
    assert report["failed"] == 0 and longest < NO_STALL, (report["failed"], report["errors"], longest)
    assert served(entry) == "200 shop 2"
    assert entry["after"]["current"] == "2" and entry["switched"] == {}
    # Its directory is kept for inspection, never complete.
    release_id = entry["case"]["release"]["id"]
    assert entry["after"]["releases"][release_id] == {"complete": False, "failed": False}
    # The workers serving before are the ones serving after: nothing was reloaded.
    assert {w["pid"] for w in entry["after"]["workers"]} == {w["pid"] for w in entry["before"]["workers"]}


def test_a_release_failing_after_the_switch_is_switched_back_and_the_run_says_so(host):
    entry = record(host, "fails-after-switch")
    assert entry["before"]["current"] == "8" and entry["outcome"]["failed"], entry
    msg = entry["outcome"]["msg"]
    for word in ["App 'shop' on host ", "release 9 failed its health check after the chain reload", "answered 500",
                 "Releases on host ", "- app 'shop': rolled back to release 8, its workers moved back one at a time "
                 "(chain reload); it answers its health check again."]:
        assert word in msg, (word, msg)
    assert "DOWN" not in msg
    switched = entry["switched"]["shop"]
    assert (switched["from"], switched["to"], switched["loaded"]) == ("8", "9", "chain"), switched
    # Answering 500 from every worker, it failed once every request had answered wrong for 3 s, not at the end of
    # its health check's timeout (10 s): 3 s of errors, not 10.
    assert "a wrong answer to every request for 3.0 s" in msg, msg
    assert 3.0 <= switched["health"]["elapsed"] < 6, switched
    # Release 8 serves again, from new workers; release 9 lost its marker: never switched to again unbuilt.
    assert entry["after"]["current"] == "8" and served(entry) == "200 shop 8"
    assert entry["after"]["releases"]["9"] == {"complete": False, "failed": True}
    old = {worker["pid"] for worker in entry["before"]["workers"]}
    assert entry["after"]["workers"] and all(worker["pid"] not in old for worker in entry["after"]["workers"])


def test_going_back_to_a_kept_release_builds_nothing(host):
    entry = record(host, "back")
    assert entry["before"]["releases"]["1"]["complete"]
    assert any("goes back to release 1" in note for note in entry["notes"]), entry["notes"]


def test_a_chain_reload_a_killed_run_left_is_finished_and_said(host):
    entry = record(host, "killed-after-switch")
    assert entry["before"]["current"] == "2" and entry["before"]["body"] == "200 shop 6 shopdep 1.0"
    assert any("not every worker moved" in note for note in entry["notes"]), entry["notes"]
    switched = entry["switched"]["shop"]
    assert switched["loaded"] == "chain", switched
    assert all(worker["last_spawn"] >= int(entry["before"]["switched_at"]) for worker in entry["after"]["workers"])


def test_a_build_a_killed_run_left_is_built_again_and_said(host):
    entry = record(host, "killed-while-building")
    assert entry["before"]["releases"]["7"] == {"complete": False, "failed": False}
    assert any("unfinished or failed build" in note for note in entry["notes"]), entry["notes"]
    assert entry["after"]["releases"]["7"]["complete"]


def test_old_releases_are_pruned_but_never_the_current_or_the_previous_one(host):
    last = record(host, "user-code")
    releases = last["after"]["releases"]
    complete = sorted(name for name, state in releases.items() if state["complete"])
    # keep_releases 3 (the default): the three newest complete ones (6, 7 and 8 by build time; 7 is also the
    # previous one), 1 and 2 pruned; the unfinished ones (3, 4, 5) went with the next successful release.
    assert complete == ["6", "7", "8"], releases
    assert set(releases) == set(complete), releases
    assert last["after"]["current"] == "8"


def test_shared_paths_link_into_the_apps_shared_directory(host):
    entry = record(host, "user-code")
    assert entry["after"]["shared"] == ROOT + "/shared/uploads"
    unit = host.file("/etc/systemd/system/uwsgi-shop.service").content_string
    assert "ReadWritePaths=" + ROOT + "/shared" in unit


def test_no_preview_is_left_behind(host):
    entry = record(host, "user-code")
    assert entry["after"]["previews_left"] == []


def test_the_ini_loads_current_in_each_worker(host):
    ini = host.file("/etc/uwsgi-production/shop.ini").content_string.splitlines()
    for line in ("lazy-apps = true", "no-site = true", "wsgi-file = /etc/uwsgi-production/release_loader.py",
                 "chdir = " + ROOT, "env = PYOPS_RELEASE_CURRENT=" + ROOT + "/current",
                 "env = PYOPS_RELEASE_MODULE=release_shop:application"):
        assert line in ini, line
    assert not any(line.startswith(("virtualenv", "module =")) for line in ini)
    loader = host.file("/etc/uwsgi-production/release_loader.py")
    assert loader.user == "root" and loader.mode == 0o644


# App 'shopapp' has no release: each of its versions is a directory pip installs into its live virtualenv.

def test_a_broken_version_shipped_through_packages_fails_the_run_and_the_old_code_serves(host):
    entry = record(host, "packages-broken")
    report, _longest = load(host, "packages-broken")
    assert entry["before"]["body"] == "200 shopapp 2", entry["before"]
    assert entry["outcome"]["failed"], entry
    msg = entry["outcome"]["msg"]
    for word in ["App 'shopapp' on host ", "its new packages were NOT applied",
                 "importing shopapp:application with the new packages failed", "it still serves its old code",
                 "ImportError: shopapp 3 is broken on purpose"]:
        assert word in msg, (word, msg)
    assert report["sent"] >= 100 and report["failed"] == 0, (report["sent"], report["failed"], report["errors"])
    assert served(entry) == "200 shopapp 2"
    # Never reloaded: the workers serving before are the ones serving after.
    assert {w["pid"] for w in entry["after"]["workers"]} == {w["pid"] for w in entry["before"]["workers"]}
    assert not entry["snapshot_left"]


def test_the_old_virtualenv_is_in_place_after_the_failed_version(host):
    version = host.run("/srv/shopapp/venv/bin/python -c 'import shopapp; print(shopapp.VERSION)'")
    assert version.rc == 0 and version.stdout.strip() == "2", version.stderr
    assert not host.file("/srv/shopapp/venv.pyops-snapshot").exists
    assert not host.file("/srv/shopapp/venv.pyops-failed").exists


def test_a_version_failing_its_health_check_after_the_reload_is_undone_and_said(host):
    entry = record(host, "packages-unhealthy")
    assert entry["outcome"]["failed"], entry
    msg = entry["outcome"]["msg"]
    for word in ["uWSGI app 'shopapp'", "failed its health check after a reload", "a wrong answer to every request",
                 "Packages on host ",
                 "- app 'shopapp': its virtualenv was put back and the app reloaded; it answers its health check "
                 "again: it serves its old code."]:
        assert word in msg, (word, msg)
    assert "DOWN" not in msg
    assert served(entry) == "200 shopapp 2"
    assert not entry["snapshot_left"]


def test_the_same_directory_installed_again_changes_nothing(host):
    # Version 2 was deployed by the first case's setup run; the second case's setup run installed it again.
    assert record(host, "packages-broken")["setup_changed"] == ["shopapp"]
    assert record(host, "packages-unhealthy")["setup_changed"] == []
