# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The run lock of a host: one run of the role at a time writes a host's files and drives its apps.

A run is named by the controller it runs on and the PID (with its start time) of its ansible-playbook
process. The lock is a JSON record in LOCK_PATH (on /run, so a reboot, which no run survives, clears it):
the holder's name, when it took the lock and when it last renewed it. Every read-modify-write of the
record happens under an flock of the file, so two runs never both take it.

- uwsgi_facts, the run's first call, takes the lock (waiting for another run to finish); uwsgi_config,
  uwsgi_remove, uwsgi_service and uwsgi_rollback renew it before they write, and fail without writing
  when another run holds it now; the run's last call releases it (uwsgi_config when every app is settled,
  else uwsgi_service when every app is healthy, else uwsgi_rollback).
- A record whose holder runs on this controller and whose process is gone is a killed run's: the next
  run takes it over at once (plugins/action/uwsgi_facts.py checks the process, on the controller).
- Killing a run's controller does not reach the module call it had started on the host, which goes on to
  its end (a reload, a health check, keeping last good). Each call that takes or renews the lock records
  itself in it (`call`: its PID and that PID's start time, on the host); a run that would take the record
  over waits while that call still runs, so that two runs never write at once.
- A record of another controller's run that has not been renewed for LEASE seconds is abandoned: taken
  over too. A run renews it at each call; the longest time between two calls is a uWSGI build or an
  app's packages. A run that ends before its last call (a failed install step, tags that skip the
  configure step) leaves the lock to be taken over so.

Check mode neither takes nor waits for the lock: it writes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import Any, Dict, Mapping, Optional, Tuple

# A run's name, or the lock's record of one (with `taken` and `renewed`): {controller, pid, started, ...}.
Record = Mapping[str, Any]

LOCK_PATH = "/run/uwsgi-production.lock"
# Seconds after its last renewal when another controller's run counts as abandoned. Safe however short:
# a run whose lock was taken over fails before its next write (renew); longer only delays the take-over.
LEASE = 600


def _stat(pid: int) -> list:
    """The fields of /proc/PID/stat after the command name (field 3, the state, first), or []."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            text = stat.read()
    except (OSError, ValueError):
        return []
    # The command name (field 2) is in parentheses and may hold spaces: count after its closing one.
    return text.rsplit(")", 1)[1].split()


def process_start(pid: int) -> Optional[int]:
    """The start time of a process, in clock ticks since boot (field 22 of /proc/PID/stat), or None."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def this_call() -> Dict[str, Any]:
    """The module call this process runs, as the lock records it: its PID and that PID's start time."""
    return {"pid": os.getpid(), "started": process_start(os.getpid())}


def running(call: Any) -> bool:
    """Whether a recorded module call still runs on this host: the same PID, started at the same time."""
    if not isinstance(call, dict) or not isinstance(call.get("pid"), int) or call["pid"] <= 0:
        return False
    fields = _stat(call["pid"])
    # A zombie (Z) has ended: only its parent has not read its exit status yet.
    return bool(fields) and fields[0] != "Z" and int(fields[19]) == call.get("started")


class NotHeld(Exception):
    """This run does not hold the lock (another run took it over): it must not write."""


def same_run(one: Optional[Record], other: Optional[Record]) -> bool:
    return bool(one) and bool(other) and all(one.get(key) == other.get(key) for key in ("controller", "pid", "started"))


def describe(record: Record) -> str:
    """How a message names a run."""
    return "pid %s on controller %s (since %s, last renewed %s)" % (
        record.get("pid"), record.get("controller"), stamp(record.get("taken")), stamp(record.get("renewed")))


def stamp(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def decide(held: Optional[Record], run: Record, now: float, lease: float = LEASE, gone: Optional[Record] = None,
           busy: bool = False) -> str:
    """What a run may do with the record `held` (None: free): 'take', 'ours', 'wait', 'check' or 'stale'.

    gone: the holder (of this same controller) whose process the controller found gone, or None.
    busy: whether the module call the record names still runs on the host.
      take   nobody holds it
      ours   this run holds it
      stale  the holder is a killed run (its process gone) or another controller's run abandoned for `lease` s,
             and no call of it still runs on the host
      check  the holder runs on this controller: only the controller can tell whether its process lives
      wait   another run holds it, or its call still runs
    """
    if not held:
        return "take"
    if same_run(held, run):
        return "ours"
    if gone and same_run(held, gone):
        return "wait" if busy else "stale"
    if held.get("controller") == run.get("controller"):
        return "check"
    renewed = held.get("renewed")
    if not isinstance(renewed, (int, float)) or now - renewed > lease:
        return "wait" if busy else "stale"
    return "wait"


class Lock:
    """The record in `path`, read and changed under its flock."""

    def __init__(self, path: str = LOCK_PATH) -> None:
        self.path = path

    def _locked(self, change):
        """Run change(record or None) -> (new record or None to clear or False to keep, answer) under the flock."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = b""
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                text += chunk
            try:
                held = json.loads(text.decode("utf-8")) if text.strip() else None
            except ValueError:
                held = None  # a record cut short (a full disk): nobody can hold it
            new, answer = change(held)
            if new is not False:
                data = b"" if new is None else json.dumps(new, sort_keys=True).encode("utf-8")
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, data)
                os.fsync(fd)
            return answer
        finally:
            os.close(fd)

    def acquire(self, run: Record, now: Optional[float] = None, gone: Optional[Record] = None,
                lease: float = LEASE, call: Optional[Record] = None) -> Tuple[str, Optional[Dict[str, Any]]]:
        """Take the lock for `run` if the rules allow: (verdict, the record held before, or None). `call`: the
        module call taking it (this_call()), recorded."""
        def change(held):
            at = time.time() if now is None else now
            verdict = decide(held, run, at, lease, gone, busy=bool(held) and running(held.get("call")))
            if verdict in ("take", "stale"):
                return dict(run, taken=at, renewed=at, call=call), (verdict, held)
            if verdict == "ours":
                return dict(held, renewed=at, call=call), (verdict, held)
            return False, (verdict, held)
        return self._locked(change)

    def renew(self, run: Record, now: Optional[float] = None, call: Optional[Record] = None) -> None:
        """Renew this run's hold, recording `call` (the module call about to write); NotHeld when another run
        holds the lock (or nobody does)."""
        def change(held):
            if not same_run(held, run):
                return False, (False, held)
            return dict(held, renewed=time.time() if now is None else now, call=call), (True, held)
        ours, held = self._locked(change)
        if not ours:
            raise NotHeld("this run does not hold the run lock of the host (%s): %s" % (
                self.path, "it is held by the run of " + describe(held) if held else "nobody holds it"))

    def release(self, run: Record) -> None:
        """Give the lock up if this run holds it."""
        def change(held):
            return (None, None) if same_run(held, run) else (False, None)
        if os.path.exists(self.path):
            self._locked(change)

    def holder(self) -> Optional[Dict[str, Any]]:
        return self._locked(lambda held: (False, held))


def hold(module: Any, run: Optional[Record]) -> None:
    """Renew this run's lock before a module writes; fail, writing nothing, when another run holds it.
    No run (check mode, or a caller that takes no lock): nothing to do."""
    if not run or module.check_mode:
        return
    try:
        Lock().renew(run, call=this_call())
    except NotHeld as exc:
        module.fail_json(msg="%s. This step wrote nothing." % exc)


def release(module: Any, run: Optional[Record]) -> None:
    if run and not module.check_mode:
        Lock().release(run)
