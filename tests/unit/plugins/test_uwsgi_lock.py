"""The run lock (uwsgi_lock, and the controller's side in the uwsgi_facts action plugin), on real files,
real flocks and real processes."""

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.pyops.uwsgi.plugins.action import uwsgi_facts as action
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_lock import Lock, NotHeld, decide

A = {"controller": "ctl1", "pid": 100, "started": 5}
B = {"controller": "ctl1", "pid": 200, "started": 7}
OTHER = {"controller": "ctl2", "pid": 100, "started": 5}


@pytest.mark.parametrize("held, run, now, gone, verdict", [
    (None, A, 0, None, "take"),                                 # free
    (dict(A, taken=0, renewed=0), A, 10, None, "ours"),          # a later call of the same run
    (dict(B, taken=0, renewed=0), A, 10, None, "check"),         # the same controller: is B's process alive?
    (dict(B, taken=0, renewed=0), A, 10, B, "stale"),            # ... it is gone: a killed run
    (dict(OTHER, taken=0, renewed=0), A, 10, None, "wait"),      # another controller's live run
    (dict(OTHER, taken=0, renewed=0), A, uwsgi_lock.LEASE + 1, None, "stale"),  # abandoned
    (dict(A, pid=100, started=6, taken=0, renewed=0), A, 10, None, "check"),  # same PID, started later: another run
])
def test_who_may_take_the_lock(held, run, now, gone, verdict):
    assert decide(held, run, now, gone=gone) == verdict
    if verdict == "stale":
        # ... unless the module call the holder was making on the host still runs: waited for.
        assert decide(held, run, now, gone=gone, busy=True) == "wait"


def test_a_killed_runs_call_that_still_runs_on_the_host_is_waited_for(tmp_path):
    lock = Lock(str(tmp_path / "lock"))
    call = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.acquire(B, now=1, call={"pid": call.pid, "started": uwsgi_lock.process_start(call.pid)})
        assert uwsgi_lock.running(lock.holder()["call"])
        assert lock.acquire(A, now=2, gone=B)[0] == "wait"
    finally:
        call.kill()
        call.wait()
    assert not uwsgi_lock.running(lock.holder()["call"])
    verdict, held = lock.acquire(A, now=3, gone=B, call=uwsgi_lock.this_call())
    assert verdict == "stale" and held["pid"] == B["pid"]
    assert lock.holder()["call"] == {"pid": os.getpid(), "started": uwsgi_lock.process_start(os.getpid())}
    assert not uwsgi_lock.running({"pid": os.getpid(), "started": 1})  # the PID now names another process


def test_take_renew_release(tmp_path):
    lock = Lock(str(tmp_path / "lock"))
    assert lock.acquire(A, now=1) == ("take", None)
    assert lock.holder() == dict(A, taken=1, renewed=1, call=None)
    lock.renew(A, now=5)
    assert lock.holder()["renewed"] == 5
    assert lock.acquire(OTHER, now=6)[0] == "wait"
    with pytest.raises(NotHeld, match="held by the run of pid 100 on controller ctl1"):
        lock.renew(OTHER)
    lock.release(OTHER)  # not its lock: nothing happens
    assert lock.holder()["pid"] == 100
    lock.release(A)
    assert lock.holder() is None
    with pytest.raises(NotHeld, match="nobody holds it"):
        lock.renew(A)
    assert lock.acquire(OTHER, now=7) == ("take", None)


def test_a_taken_over_run_may_not_write_any_more(tmp_path):
    lock = Lock(str(tmp_path / "lock"))
    lock.acquire(OTHER, now=0)
    verdict, held = lock.acquire(A, now=uwsgi_lock.LEASE + 10)  # OTHER abandoned it
    assert verdict == "stale" and held["controller"] == "ctl2"
    with pytest.raises(NotHeld):
        lock.renew(OTHER)


def test_a_record_cut_short_holds_nothing(tmp_path):
    path = tmp_path / "lock"
    path.write_text('{"controller": "ct')
    assert Lock(str(path)).acquire(A, now=1) == ("take", None)
    assert json.loads(path.read_text())["pid"] == 100


# One run of the race: a process of its own (started with subprocess, not forked from pytest, whose threads
# can leave a forked child deadlocked) that waits for the start file, then tries to take the lock.
RACER = """
import os, sys, time
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_lock import Lock
path, start, name = sys.argv[1], sys.argv[2], int(sys.argv[3])
while not os.path.exists(start):
    time.sleep(0.001)
print(Lock(path).acquire({"controller": "ctl", "pid": name, "started": 1})[0])
"""


def test_of_many_runs_at_once_exactly_one_takes_it(tmp_path):
    path, start = str(tmp_path / "lock"), tmp_path / "start"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, "-c", RACER, path, str(start), str(n)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(1, 9)]
    time.sleep(0.5)
    start.touch()  # all eight at once
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert sorted(out.strip() for out, _err in outputs) == ["check"] * 7 + ["take"]


def test_the_controller_tells_a_live_run_from_a_killed_one():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = {"controller": "x", "pid": child.pid, "started": uwsgi_lock.process_start(child.pid)}
        assert action.alive(run)
        assert not action.alive(dict(run, started=run["started"] - 1))  # the PID now names another process
    finally:
        child.kill()
        child.wait()
    time.sleep(0.1)
    assert not action.alive(run)
    assert action.this_run()["started"] == uwsgi_lock.process_start(action.this_run()["pid"])


def test_uwsgi_facts_waits_for_a_killed_runs_call_then_takes_over_and_says_which(tmp_path, monkeypatch):
    """uwsgi_facts.take_lock on a real lock file: the killed run B's call (a real process here) runs 1.5 s more."""
    from types import SimpleNamespace

    from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_facts as facts

    path = str(tmp_path / "lock")
    monkeypatch.setattr(facts.uwsgi_lock, "Lock", lambda: Lock(path))
    call = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        recorded = {"pid": call.pid, "started": uwsgi_lock.process_start(call.pid)}
        Lock(path).acquire(B, call=recorded)
        warnings = []
        module = SimpleNamespace(params={"run": A, "lock": True, "lock_wait": 30, "gone": B}, check_mode=False,
                                 warn=warnings.append)
        got = facts.take_lock(module, poll=0.1)
    finally:
        call.kill()
        call.wait()
    assert got["verdict"] == "stale" and got["held"]["pid"] == B["pid"], got
    assert got["waited_for_call"] == recorded and got["waited"] >= 1.0, got
    assert len(warnings) == 1 and "took over the run lock" in warnings[0]
    # Another controller's live run is waited for too, but it is no killed run's call: none is named.
    Lock(path).release(A)
    assert Lock(path).acquire(OTHER, now=time.time(), call=uwsgi_lock.this_call())[0] == "take"
    module.params.update(lock_wait=0, gone=None)
    got = facts.take_lock(module, poll=0.1)
    assert got["verdict"] == "wait" and got["waited_for_call"] is None, got
