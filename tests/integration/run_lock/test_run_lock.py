"""molecule/run_lock: one run of the role at a time on a host, and runs killed mid-way leave it consistent.

Every run is a real ansible-playbook of molecule/run_lock/deploy.yml started here, against the scenario's
host, with the project's run record (tests/record.py). Each run sets the app's harakiri, so each one
changes its ini and reloads it.
"""

import json
import os
import signal
import socket
import subprocess
import time

import pytest
from hostcheck import http_get, unit_properties, wait_for
from paths import REPO
from record import Record, environment

PLAYBOOK = REPO / "molecule" / "run_lock" / "deploy.yml"
LOCK = "/run/uwsgi-production.lock"
CONFIG = "/etc/uwsgi-production"
UNITS = ["uwsgi-locked.service"]
URL = "http://127.0.0.1:8131/"
FACTS = "Take the host's run lock and read what the install steps would find on the host"
SERVICE = "Start, reload or restart each app as its change needs, check its health, keep it as last good"


def start(tmp_path, name, harakiri, *extra):
    """A run of the role that sets the app's harakiri; (process, where its record goes)."""
    record = tmp_path / f"{name}.json"
    env = environment(record, dict(os.environ, ANSIBLE_NOCOLOR="1"))
    proc = subprocess.Popen(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK), "-e", f"harakiri={harakiri}",
         *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, record


def finish(run):
    proc, record = run
    output = proc.communicate(timeout=900)[0]
    return proc.returncode, Record(record), output


def deploy(tmp_path, name, harakiri, *extra):
    rc, record, output = finish(start(tmp_path, name, harakiri, *extra))
    assert rc == 0, output[-4000:]
    return record


def one(record, task):
    [result] = record.results(record.tasks()[0]["host"], task)
    return result


def lock_record(host):
    text = host.check_output(f"cat {LOCK} 2>/dev/null || true").strip()
    return json.loads(text) if text else None


def harakiri(host, path):
    for line in host.file(path).content_string.splitlines():
        if line.startswith("harakiri = "):
            return int(line.split("=", 1)[1])
    return None


def serving(host):
    return http_get(host, URL) == (200, "hello from uWSGI\n")


def master(host):
    return unit_properties(host, "uwsgi-locked.service", "MainPID")["MainPID"]


def leftovers(host):
    """Files that a write cut short would leave: write_atomically's temporary files beside the live ones."""
    return host.check_output(f"find {CONFIG} /etc/systemd/system -maxdepth 2 -name '.*' -type f -print").split()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("run_lock")


@pytest.fixture(scope="module", autouse=True)
def deployed(host, runs):
    record = deploy(runs, "first", 30)
    assert serving(host)
    return record


def test_a_run_releases_the_lock_when_it_is_over(host, runs):
    record = deploy(runs, "release", 31)
    assert one(record, FACTS)["lock"]["verdict"] == "take"
    assert one(record, SERVICE)["apps"]["locked"]["action"] == "reload"
    assert lock_record(host) is None


def test_a_run_limited_to_writing_files_gives_the_lock_up(host, runs):
    """--tags uwsgi_production_configure: the config call is the run's last; it gives the lock up (else a run from
    another controller would wait 10 minutes for its lease to end). The next full run applies and checks the ini."""
    good = harakiri(host, f"{CONFIG}/last-good/locked.ini")
    record = deploy(runs, "configure-only", 33, "--tags", "uwsgi_production_configure")
    assert one(record, FACTS)["lock"]["verdict"] == "take"
    assert lock_record(host) is None
    assert harakiri(host, f"{CONFIG}/locked.ini") == 33 and harakiri(host, f"{CONFIG}/last-good/locked.ini") == good
    record = deploy(runs, "after-configure-only", 33)
    assert one(record, SERVICE)["apps"]["locked"]["action"] == "reload"
    assert harakiri(host, f"{CONFIG}/last-good/locked.ini") == 33 and lock_record(host) is None and serving(host)


def process_start(pid):
    """The start time of a process of this controller, as plugins/action/uwsgi_facts.py names a run by it."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[19])


def test_a_run_waits_while_a_live_run_of_this_controller_holds_the_lock(host, runs):
    # This test's own process is the live run of this controller that holds the lock.
    now = time.time()
    me = {"controller": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid()),
          "taken": now, "renewed": now}
    host.run(f"printf '%s' {json.dumps(json.dumps(me))} > {LOCK}")
    before = (master(host), host.file(f"{CONFIG}/locked.ini").sha256sum)
    waiting = start(runs, "waiting", 60)
    try:
        held_for = time.monotonic()
        for tick in range(8):  # while this process holds the lock the other run writes nothing
            time.sleep(1)
            assert (master(host), host.file(f"{CONFIG}/locked.ini").sha256sum) == before, f"written after {tick + 1} s"
        held_for = time.monotonic() - held_for
    finally:
        host.run(f"rm -f {LOCK}")
    rc, record, output = finish(waiting)
    assert rc == 0, output[-3000:]
    lock = one(record, FACTS)["lock"]
    assert lock["verdict"] == "take" and lock["waited_for"]["pid"] == os.getpid(), lock
    # It found the lock held by this process (waited_for) and took it once given up, not before.
    assert 0 < lock["waited"] <= held_for + 5, lock
    assert one(record, SERVICE)["apps"]["locked"]["action"] == "reload"
    assert harakiri(host, f"{CONFIG}/locked.ini") == harakiri(host, f"{CONFIG}/last-good/locked.ini") == 60
    assert lock_record(host) is None and serving(host)


def test_a_killed_runs_call_still_running_on_the_host_is_waited_for(host, runs):
    """Killing a controller does not stop the module call it started on the host: a run that takes the killed
    run's lock over waits until that call has ended. The killed run here: a process of this controller that has
    ended, whose call (a process on the host, as the lock records it) runs for 8 s more."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    call_pid = int(host.check_output("nohup sleep 8 >/dev/null 2>&1 & echo $!"))
    call = {"pid": call_pid, "started": int(host.check_output(f"cut -d' ' -f22 /proc/{call_pid}/stat"))}
    now = time.time()
    killed = {"controller": socket.gethostname(), "pid": gone.pid, "started": 1, "taken": now, "renewed": now,
              "call": call}
    host.run(f"printf '%s' {json.dumps(json.dumps(killed))} > {LOCK}")
    before = (master(host), host.file(f"{CONFIG}/locked.ini").sha256sum)
    waiting = start(runs, "after-call", 62)
    try:
        while host.run(f"kill -0 {call_pid}").rc == 0:  # while the call runs the other run writes nothing
            assert (master(host), host.file(f"{CONFIG}/locked.ini").sha256sum) == before
            time.sleep(0.5)
    except BaseException:
        host.run(f"rm -f {LOCK}; kill {call_pid}")
        raise
    rc, record, output = finish(waiting)
    assert rc == 0, output[-3000:]
    lock = one(record, FACTS)["lock"]
    assert lock["verdict"] == "stale" and lock["held"]["pid"] == gone.pid, lock
    assert lock["waited_for_call"] == call and lock["waited"] > 0, lock
    assert harakiri(host, f"{CONFIG}/locked.ini") == harakiri(host, f"{CONFIG}/last-good/locked.ini") == 62
    assert lock_record(host) is None and serving(host)


def test_two_runs_started_together_take_turns(host, runs):
    first, second = start(runs, "a", 40), start(runs, "b", 41)
    (rc_a, record_a, out_a), (rc_b, record_b, out_b) = finish(first), finish(second)
    assert (rc_a, rc_b) == (0, 0), out_a[-3000:] + out_b[-3000:]
    locks = {"a": one(record_a, FACTS)["lock"], "b": one(record_b, FACTS)["lock"]}
    pids = {"a": first[0].pid, "b": second[0].pid}
    values = {"a": 40, "b": 41}
    waiters = [name for name, lock in locks.items() if lock["waited_for"]]
    assert len(waiters) <= 1, locks  # at most one waited: for the other, never both for each other
    for name in waiters:
        other = "b" if name == "a" else "a"
        assert locks[name]["waited_for"]["pid"] == pids[other], locks
        # The one that waited applied its change after the other's: its value is the one left.
        assert harakiri(host, f"{CONFIG}/locked.ini") == values[name]
    assert one(record_a, SERVICE)["apps"]["locked"]["action"] == "reload"
    assert one(record_b, SERVICE)["apps"]["locked"]["action"] == "reload"
    assert harakiri(host, f"{CONFIG}/locked.ini") == harakiri(host, f"{CONFIG}/last-good/locked.ini")
    assert lock_record(host) is None and serving(host)


def test_another_controllers_run_is_waited_for_then_refused_with_nothing_changed(host, runs):
    now = time.time()
    other = {"controller": "elsewhere.example", "pid": 4242, "started": 1, "taken": now, "renewed": now}
    host.run(f"printf '%s' {json.dumps(json.dumps(other))} > {LOCK}")
    before = (master(host), host.file(f"{CONFIG}/locked.ini").sha256sum)
    started = time.monotonic()
    rc, record, output = finish(start(runs, "refused", 50, "-e", "uwsgi_production_lock_wait=5"))
    took = time.monotonic() - started
    try:
        assert rc != 0, output[-3000:]
        [failed] = record.failed()
        message = failed["result"]["msg"]
        assert "Another run of the role is working on this host: the run of pid 4242 on controller elsewhere.example" in message
        assert "This run waited 5 s (uwsgi_production_lock_wait) and changed nothing" in message
        assert took >= 5
        assert (master(host), host.file(f"{CONFIG}/locked.ini").sha256sum) == before and serving(host)
        assert lock_record(host)["controller"] == "elsewhere.example"  # still theirs
    finally:
        host.run(f"rm -f {LOCK}")


@pytest.mark.parametrize("point", ["lock", "ini"])
def test_a_killed_run_leaves_the_host_consistent_and_the_next_run_converges(host, runs, point):
    old = harakiri(host, f"{CONFIG}/locked.ini")
    new = old + 10
    proc = start(runs, f"killed-{point}", new)[0]

    def reached():
        if point == "lock":
            return (lock_record(host) or {}).get("pid") == proc.pid
        return harakiri(host, f"{CONFIG}/locked.ini") == new

    assert wait_for(reached, timeout=300, interval=0.05), f"the run never reached the point '{point}'"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # A module call the killed run had started on the host goes on to its end: killing the controller does not
    # reach it. Wait until none runs, to see what the killed run left (that the next run waits for such a call
    # itself is test_a_killed_runs_call_still_running_on_the_host_is_waited_for): the role's play runs with
    # become, so each call runs under a shell that echoes BECOME-SUCCESS.
    assert wait_for(lambda: host.run("pgrep -f 'BECOME-[S]UCCESS'").rc == 1, timeout=120, interval=0.5)
    good = harakiri(host, f"{CONFIG}/last-good/locked.ini")
    # Last good only ever holds a configuration that passed its health check: the old one, unless the
    # killed run's service step had already checked the new one.
    assert good in (old, new)
    assert leftovers(host) == [] and serving(host)
    left = lock_record(host)

    record = deploy(runs, f"after-{point}", new)
    lock = one(record, FACTS)["lock"]
    held = lock_record(host)
    assert held is None, held
    if left is None:
        # The killed run's service step, left running on the host, ended the run and gave the lock up.
        assert lock["verdict"] == "take", lock
    else:
        # The killed run's lock (its process is gone, no call of it runs) was taken over at once.
        assert left["pid"] == proc.pid, left
        assert lock["verdict"] == "stale" and lock["held"]["pid"] == proc.pid, lock
        assert lock["waited"] < 30 and lock["waited_for_call"] is None, lock
    if good == old:
        # The ini the killed run wrote was never checked: this run applies and checks it.
        assert one(record, SERVICE)["apps"]["locked"]["action"] == "reload"
    assert harakiri(host, f"{CONFIG}/locked.ini") == harakiri(host, f"{CONFIG}/last-good/locked.ini") == new
    assert leftovers(host) == [] and serving(host)
