"""molecule/faults: each fault provoked on purpose on the test host, with the outcome it measured.

molecule/faults/side_effect.yml provoked them and wrote what it saw to /var/tmp/faults-*.json:
1. each app's master killed with SIGKILL under 100 requests a second ('active' with socket
   activation, 'plain' without);
2. uwsgi_production_version set to a release PyPI does not have;
3. the config directory, or its last good directory, full or read-only (a tiny tmpfs over it holding
   its files) while the role runs with a change, one that then fails its health check too, or one that
   passes it;
4. a new chdir whose code makes the master exit right after it starts.
Every case of 2. to 4. ran while app 'active' served 20 requests a second.
"""

import json

import pytest
from hostcheck import http_get, unit_properties

UNITS = ["uwsgi-active.service", "uwsgi-active.socket", "uwsgi-plain.service"]
CONFIG = "/etc/uwsgi-production"
LAST_GOOD = f"{CONFIG}/last-good"
APPS = {"active": "127.0.0.1:8131", "plain": "127.0.0.1:8132"}
ERRNO = {"full": "[Errno 28] No space left on device", "read-only": "[Errno 30] Read-only file system"}
HELLO = (200, "hello from uWSGI\n")


def read_json(host, path):
    return json.loads(host.file(path).content_string)


def case(host, name):
    return read_json(host, f"/var/tmp/faults-{name}.json")


def load_of(host, name):
    """The steady load that ran across the case's role run: at least 3 s of 20 requests a second."""
    load = read_json(host, f"/var/tmp/faults-{name}-load.json")
    print(f"\n{name}: sent {load['sent']}, failed {load['failed']} {load['errors']}, slowest {load['max_latency']:.2f} s")
    assert load["sent"] >= 60
    return load


def masters(state):
    return {unit: info["pid"] for unit, info in state["units"].items()}


def outage(record):
    """The longest time, from the kill on, in which no successful answer came back (a queued request
    answered late counts when its answer came)."""
    load = record["load"]
    killed = record["killed_at"] - load["started"]
    answers = sorted(t + latency for t, latency, status, _error in load["records"] if 200 <= status < 300)
    edges = [killed] + [answer for answer in answers if answer > killed]
    return max((later - earlier for earlier, later in zip(edges, edges[1:])), default=float("nan"))


# --- 1. the master killed with SIGKILL under load ---------------------------------------------------

@pytest.mark.parametrize("app", ["active", "plain"])
def test_a_master_killed_with_sigkill_is_brought_back_by_systemd(host, app):
    record = case(host, f"kill-{app}")
    load = record["load"]
    killed = record["killed_at"] - load["started"]
    print(f"\n{app}: {load['failed']} of {load['sent']} requests failed {load['errors']}; master back after "
          f"{record['master_back_after']} s, longest time without an answer {outage(record):.2f} s, "
          f"slowest request {load['max_latency']:.2f} s")
    assert load["sent"] == record["rate"] * record["duration"]  # the whole load ran
    assert 1.0 < killed < record["duration"] - 2  # the kill came while the load ran, with time to come back
    assert record["pid_before"] > 0 and record["pid_after"] not in (0, record["pid_before"])
    assert record["restarts_after"] > record["restarts_before"]  # systemd restarted it
    assert record["master_back_after"] is not None and record["master_back_after"] < 30
    # Requests after the new master came up were served.
    back = killed + record["master_back_after"]
    late = [status for t, _latency, status, _error in load["records"] if t > back + 0.5]
    assert late and all(status == 200 for status in late)


def test_with_socket_activation_no_request_fails_while_the_master_is_killed(host):
    """systemd holds the listening socket: connections wait in its queue until the new master serves them."""
    record = case(host, "kill-active")
    assert record["load"]["failed"] == 0, record["load"]["errors"]


def test_without_socket_activation_the_app_comes_back_and_serves(host):
    """uWSGI binds its own socket: while no master runs, connections are refused (the count is printed
    by the test above); once systemd has run the new master it serves again."""
    record = case(host, "kill-plain")
    assert record["pid_after"] not in (0, record["pid_before"])
    assert unit_properties(host, "uwsgi-plain.service", "ActiveState")["ActiveState"] == "active"


# --- 2. a uWSGI release that does not exist -------------------------------------------------------

def test_a_release_pypi_does_not_have_fails_the_run_naming_the_variable(host):
    record = case(host, "bad-version")
    outcome = record["outcome"]
    print(f"\nbad-version: {outcome['msg']}")
    assert outcome["failed"]
    assert outcome["msg"].startswith('uwsgi_production_version = "2.0.999": pip could not install uwsgi==2.0.999')
    assert "The apps keep running on the uWSGI 2.0.31 already installed there" in outcome["msg"]
    assert "ERROR: " in outcome["msg"]  # pip's own words


def test_a_failed_build_leaves_the_apps_on_the_old_binary_with_the_same_masters(host):
    record = case(host, "bad-version")
    before, after = record["state_before"], record["state_after"]
    assert after == before  # same MainPIDs, same executables, same binary (sha1) and release
    assert before["binary"]["version"] == "2.0.31"
    assert {info["exe"] for info in after["units"].values()} == {"/opt/uwsgi/bin/uwsgi"}
    assert record["files_after"] == record["files_before"]  # no file of any app was written
    load = load_of(host, "bad-version")
    assert load["failed"] == 0, load["errors"]


# --- 3. a full or read-only config directory ------------------------------------------------------

def assert_fault_in_place(record):
    """The tmpfs was over the directory, full or read-only, before and after the role's run."""
    for mount in (record["mount_before"], record["mount_after"]):
        assert mount["target"] == record["dir"] and mount["fstype"] == "tmpfs"
        if record["fs"] == "full":
            assert mount["free_bytes"] == 0 and not mount["read_only"]
        else:
            assert mount["read_only"]


@pytest.mark.parametrize("fs", ["full", "read-only"])
def test_a_full_or_read_only_config_dir_fails_the_run_naming_the_file_and_changes_nothing(host, fs):
    record = case(host, f"config-{fs}")
    assert_fault_in_place(record)
    outcome = record["outcome"]
    print(f"\nconfig-{fs}: {outcome['msg']}")
    assert outcome["failed"]
    # Nothing to roll back: the message is the write's failure alone.
    assert outcome["msg"] == (f"The role could not write {CONFIG}/active.ini: {ERRNO[fs]}. So no file of any app "
                              "was replaced: the live configuration is as it was. Free space on (or make writable) "
                              "the file system that holds it, and run the role again.")
    # Every file under the config dir and every unit file: same content, inode, time, mode, owner;
    # no temporary file left; every unit with the same state, master and restart count.
    assert record["files_after"] == record["files_before"]
    assert record["state_after"] == record["state_before"]
    load = load_of(host, f"config-{fs}")
    assert load["failed"] == 0, load["errors"]


@pytest.mark.parametrize("fs", ["full", "read-only"])
def test_a_change_that_fails_its_health_check_is_rolled_back_with_the_last_good_dir_full_or_read_only(host, fs):
    """The rollback only reads the last good copies: it puts the live ini back, reloads, and the app
    answers again, on the same master."""
    record = case(host, f"last-good-{fs}-unhealthy")
    assert_fault_in_place(record)
    outcome = record["outcome"]
    print(f"\nlast-good-{fs}-unhealthy: {outcome['msg']}")
    assert outcome["failed"]
    assert outcome["msg"].startswith("uWSGI app 'active' (uwsgi-active.service) failed its health check after a reload:")
    assert "- app 'active': files restored, then reloaded; it answers again (GET / -> 200)." in outcome["msg"]
    assert_back_as_before(record)
    load = load_of(host, f"last-good-{fs}-unhealthy")
    assert load["failed"] == 0, load["errors"]


@pytest.mark.parametrize("fs", ["full", "read-only"])
def test_a_healthy_change_that_cannot_become_last_good_fails_naming_the_file_and_is_rolled_back(host, fs):
    """The change served and passed its health check, but its last good copy could not be written: the
    run fails naming that file and puts the app back on the configuration on record."""
    record = case(host, f"last-good-{fs}-healthy")
    assert_fault_in_place(record)
    outcome = record["outcome"]
    print(f"\nlast-good-{fs}-healthy: {outcome['msg']}")
    assert outcome["failed"]
    assert outcome["msg"].startswith(f"Every app this run touched passed its health check, but the role could not "
                                     f"write {LAST_GOOD}/active.ini: {ERRNO[fs]}, so this change cannot become the "
                                     "last good configuration")
    assert "- app 'active': files restored, then reloaded; it answers again (GET / -> 200)." in outcome["msg"]
    assert_back_as_before(record)
    load = load_of(host, f"last-good-{fs}-healthy")
    assert load["failed"] == 0, load["errors"]


def last_good(files):
    return {path: meta for path, meta in files.items() if path.startswith(LAST_GOOD + "/")}


def assert_back_as_before(record):
    """The live ini has its content of before again, every last good copy is untouched (content, inode,
    time), and every app runs the same master."""
    before, after = record["files_before"]["files"], record["files_after"]["files"]
    assert after[f"{CONFIG}/active.ini"][0] == before[f"{CONFIG}/active.ini"][0]  # its sha1
    assert set(after) == set(before)  # no file added, none left behind (no temporary file)
    assert last_good(after) == last_good(before)
    # (Not NRestarts: the rollback's reset-failed sets it back to 0.)
    assert masters(record["state_after"]) == masters(record["state_before"])
    assert {unit: info["ActiveState"] for unit, info in record["files_after"]["units"].items()} == \
        {unit: info["ActiveState"] for unit, info in record["files_before"]["units"].items()}


# --- 4. a master that exits right after it starts ----------------------------------------------------

def test_a_change_whose_master_exits_right_after_it_starts_fails_its_health_check_and_is_rolled_back(host):
    """The new code answers once, then its master exits (and socket activation starts another at the next
    connection): an answer alone does not pass the health check, the master must still run a moment later.
    The rollback puts the old ini back and the app serves the old code again."""
    record = case(host, "crash-loop")
    outcome = record["outcome"]
    print(f"\ncrash-loop: {outcome['msg']}")
    assert outcome["failed"]
    assert outcome["msg"].startswith("uWSGI app 'active' (uwsgi-active.service) failed its health check after a ")
    assert "it answered 200, but its uWSGI master " in outcome["msg"] and "s of its start: it exits after starting" \
        in outcome["msg"]
    assert "- app 'active': files restored" in outcome["msg"] and "it answers again (GET / -> 200)" in outcome["msg"]
    before, after = record["files_before"]["files"], record["files_after"]["files"]
    assert after[f"{CONFIG}/active.ini"][0] == before[f"{CONFIG}/active.ini"][0]
    assert last_good(after) == last_good(before)
    assert "chdir = /srv/hello" in host.file(f"{CONFIG}/active.ini").content_string
    load_of(host, "crash-loop")
    assert http_get(host, f"http://{APPS['active']}/") == HELLO


# --- afterwards --------------------------------------------------------------------------------------

def test_after_every_fault_no_tmpfs_is_left_and_both_apps_serve(host):
    assert host.run(f"findmnt --noheadings --mountpoint {CONFIG}").rc != 0
    assert host.run(f"findmnt --noheadings --mountpoint {LAST_GOOD}").rc != 0
    for address in APPS.values():
        assert http_get(host, f"http://{address}/") == HELLO
