"""molecule/rolling_update: releases of app 'shop' rolled out to four hosts in batches of 1, 2, 1.

Every host serves release A, then pyops.uwsgi.rolling_update rolls out (molecule/rolling_update/rollout.yml):
- release B, which cannot be imported on rolling-3 (second batch): the canary rolling-1 switches to B; on
  rolling-3 the build fails before any switch, and the rollout stops with that batch, whose other host
  (rolling-2) was stopped before its switch too; rolling-4 (third batch) is never touched;
- release C, which cannot be imported on the canary rolling-1: the rollout stops at the canary, which
  still serves B; no other host is touched;
- release D, good everywhere: every host switches to it (the fleet figure: seconds per batch).
Every host served 50 requests/s on its own loopback through each rollout. The app's import takes 2 s:
a graceful reload would hold requests that long; a chain reload holds none.

Each host keeps, per release, the app before and after the rollout (/var/tmp/rolling-<id>-before.json and
-after.json: release_probe.py's view, the master's PID, the ini's checksum), the load's report, and the
rollout's exit code and record (tests/callback_plugins/pyops_record.py wrote it).
"""

import json

import pytest
import record
from hostcheck import http_get, unit_properties

UNITS = ["uwsgi-shop.service"]
URL = "http://127.0.0.1:8095/"
HOSTS = ["rolling-1", "rolling-2", "rolling-3", "rolling-4"]
ROOT = "/srv/uwsgi-releases/shop"
ROLLOUTS = ["B", "C", "D"]
# The release each host serves after each rollout.
SERVES = {
    "B": {"rolling-1": "B", "rolling-2": "A", "rolling-3": "A", "rolling-4": "A"},
    "C": {"rolling-1": "B", "rolling-2": "A", "rolling-3": "A", "rolling-4": "A"},
    "D": {"rolling-1": "D", "rolling-2": "D", "rolling-3": "D", "rolling-4": "D"},
}
# The hosts of each batch the rollout ran: it stops with the batch where a host failed.
BATCHES = {
    "B": [["rolling-1"], ["rolling-2", "rolling-3"]],
    "C": [["rolling-1"]],
    "D": [["rolling-1"], ["rolling-2", "rolling-3"], ["rolling-4"]],
}
# The role's config step, which switches each app with a new release to it (uwsgi_config's `switched`).
CONFIG = "Write every app's files (uWSGI checks each changed ini first), switch each app with a new release to it"
# Well under the 2 s import: what a request waits when no worker stalls (loopback, a loaded CI machine).
NO_STALL = 1.0


def name(host):
    return host.backend.get_hostname()


def read_json(host, path):
    return json.loads(host.file(path).content_string)


def noted(host, release):
    """The app before and after the rollout of `release`."""
    return (read_json(host, f"/var/tmp/rolling-{release}-before.json"),
            read_json(host, f"/var/tmp/rolling-{release}-after.json"))


def rollout(host, release):
    """(exit code, record) of the rollout of `release`."""
    outcome = read_json(host, f"/var/tmp/rolling-{release}-rollout.json")
    return outcome["rc"], record.Record(data=outcome["record"])


def run_of(host, release):
    """The record of the rollout of `release`."""
    return rollout(host, release)[1]


def pids(state):
    return {worker["pid"] for worker in state["probe"]["workers"]}


@pytest.mark.parametrize("release", ROLLOUTS)
def test_each_host_serves_the_release_it_should(host, release):
    after = noted(host, release)[1]
    expected = SERVES[release][name(host)]
    assert (after["probe"]["current"], after["probe"]["body"]) == (expected, f"200 shop {expected}")


def test_each_host_serves_release_d_now(host):
    status, body = http_get(host, URL)
    assert (status, body.strip()) == (200, "shop D")
    assert unit_properties(host, "uwsgi-shop.service", "ActiveState")["ActiveState"] == "active"


@pytest.mark.parametrize("release", ROLLOUTS)
def test_no_request_failed_or_waited_during_the_rollout(host, release):
    load = read_json(host, f"/var/tmp/rolling-{release}-load.json")
    longest = max(entry[1] for entry in load["records"])
    print(f"\nrelease {release}, {name(host)}: sent {load['sent']}, failed {load['failed']} {load['errors']}, "
          f"slowest {longest:.3f} s")
    assert load["sent"] >= 100  # the load really ran across the rollout
    assert load["failed"] == 0, load["errors"]
    assert longest < NO_STALL, longest


def switched(host, release):
    """Whether the host moved to another release in the rollout of `release` (SERVES)."""
    earlier = {"B": "A", "C": SERVES["B"][name(host)], "D": SERVES["C"][name(host)]}[release]
    return SERVES[release][name(host)] != earlier


@pytest.mark.parametrize("release", ROLLOUTS)
def test_a_host_moved_by_a_chain_reload_or_left_as_it_was(host, release):
    before, after = noted(host, release)
    run = run_of(host, release)
    # Never a restart or a graceful reload: the same master and the same ini on every host.
    assert (after["master"], after["ini"]) == (before["master"], before["ini"])
    assert before["probe"]["workers"] and after["probe"]["workers"]
    if switched(host, release):
        moved = run.results(name(host), CONFIG)[0]["switched"]["shop"]
        assert (moved["loaded"], moved["from"], moved["to"]) == ("chain", before["probe"]["current"], release)
        assert not pids(after) & pids(before), (before, after)  # every worker a new process
    else:
        assert [result["switched"] for result in run.results(name(host), CONFIG)] in ([], [{}])
        assert pids(after) == pids(before), (before, after)  # the same workers serve


def test_no_host_was_ever_reloaded_or_restarted_by_systemd(host):
    # Every release moved by a chain reload through the master fifo: systemd started the app once.
    assert host.run("journalctl --unit uwsgi-shop.service --grep 'Reloading' --no-pager --quiet").stdout == ""
    after = noted(host, "D")[1]
    before = noted(host, "B")[0]
    assert after["master"] == before["master"]


@pytest.mark.parametrize("release", ROLLOUTS)
def test_the_rollout_ran_the_batches_it_should_and_stopped_there(host, release):
    rc, run = rollout(host, release)
    assert [batch[0] for batch in run.batches()] == BATCHES[release]
    touched = {one for hosts in BATCHES[release] for one in hosts}
    assert set(run.stats) == touched
    assert (rc == 0) == (release == "D"), rc


def test_release_b_failed_on_rolling_3_before_any_switch_naming_app_release_and_what_it_serves(host):
    run = run_of(host, "B")
    failed = run.failed()
    assert {task["host"] for task in failed} == {"rolling-3"}, failed
    text = "\n".join(run.messages(failed))
    for words in ("Release B of app 'shop' on host rolling-3 was NOT switched to",
                  "importing release_shop:application failed", "it still serves release A",
                  "ImportError: release B is broken on purpose"):
        assert words in text, (words, text)
    if name(host) == "rolling-3":
        # Kept for inspection, without the marker that would make it a release to switch to.
        after = noted(host, "B")[1]
        assert after["probe"]["releases"]["B"] == {"complete": False, "failed": False}


def test_release_c_stopped_at_the_canary_which_serves_its_previous_release(host):
    run = run_of(host, "C")
    failed = run.failed()
    assert {task["host"] for task in failed} == {"rolling-1"}, failed
    text = "\n".join(run.messages(failed))
    for words in ("Release C of app 'shop' on host rolling-1 was NOT switched to", "it still serves release B",
                  "ImportError: release C is broken on purpose"):
        assert words in text, (words, text)


def test_the_fleet_figure_seconds_per_batch(host):
    """The figure of issue 24: a release rolled over the four hosts, in seconds per batch (release D; B and C
    stopped where a host failed). From the project's own record of each run."""
    figures = {}
    for release in ROLLOUTS:
        run = run_of(host, release)
        figures[release] = run.batches()
        assert all(batch[1] > 0 for batch in figures[release])
    if name(host) == HOSTS[0]:
        for release, batches in figures.items():
            text = ", ".join(f"{'+'.join(hosts)} {seconds:.1f} s" for hosts, seconds in batches)
            whole = sum(batch[1] for batch in batches)
            print(f"\nfleet figure, release {release}: {text}; whole run {whole:.1f} s")


def test_every_host_keeps_the_live_ini_as_its_last_good_config(host):
    ini = host.file("/etc/uwsgi-production/shop.ini").content_string
    assert f"env = PYOPS_RELEASE_CURRENT={ROOT}/current" in ini.splitlines()
    assert host.file("/etc/uwsgi-production/last-good/shop.ini").content_string == ini
