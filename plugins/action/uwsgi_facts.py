# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""pyops.uwsgi.uwsgi_facts: the module of that name, run for a run that it names, taking the host's run lock.

The run is this ansible-playbook process: its controller's host name, its PID and the start time of that
PID (plugins/module_utils/uwsgi_lock.py). The module takes the lock on the host; when a run of this same
controller holds it, only the controller can tell whether that process still lives: a gone one (a killed
run) is taken over at once, a live one is waited for, up to `lock_wait` seconds in all, and then this run
fails, changing nothing.
"""

from __future__ import annotations

import os
import socket
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock

MODULE = "pyops.uwsgi.uwsgi_facts"
POLL = 2.0


def this_run():
    """This run: the ansible-playbook process, the parent of the worker that runs an action plugin."""
    pid = os.getppid()
    return {"controller": socket.gethostname(), "pid": pid, "started": uwsgi_lock.process_start(pid)}


def alive(run):
    """Whether the run's process (on this controller) still lives: the same PID, started at the same time."""
    pid = run.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it lives, as another user
    started = uwsgi_lock.process_start(pid)
    return started is None or run.get("started") is None or started == run.get("started")


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # not used
        args = dict(self._task.args)
        wait = int(args.pop("lock_wait", 0) or 0)
        run = this_run() if boolean(args.get("lock", True)) else None
        begun = time.time()
        deadline = begun + wait
        gone = waited_for = call = None
        try:
            while True:
                left = max(0, int(deadline - time.time()))
                answer = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                              module_args=dict(args, run=run, gone=gone, lock_wait=left))
                lock = answer.get("lock") or {}
                if answer.get("failed") or lock.get("verdict") not in ("wait", "check"):
                    if lock:
                        lock["waited"] = round(time.time() - begun, 1)  # in all, on the host and here
                        lock["waited_for"] = waited_for or lock.get("waited_for")
                        lock["waited_for_call"] = call or lock.get("waited_for_call")
                    result.update(answer)
                    return result
                held = lock.get("held") or {}
                if lock["verdict"] == "check" and not alive(held):
                    gone = held  # a killed run of this controller: taken over at once
                    continue
                waited_for = waited_for or held
                call = call or lock.get("waited_for_call")
                if time.time() >= deadline:
                    break
                time.sleep(POLL)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        still = ""
        if call:
            still = (" Its module call (pid %s on the host) still runs: killing a controller does not stop what it "
                     "started on the host, and no run takes over while that call runs." % call.get("pid"))
        raise AnsibleActionFail(
            "Another run of the role is working on this host: the run of %s. This run waited %d s "
            "(uwsgi_production_lock_wait) and changed nothing.%s It can run once that run is over. If that run was "
            "killed, a run from controller %s takes its lock over as soon as its call on the host has ended, and any "
            "run does once the lock has not been renewed for %d minutes; or remove %s on the host once you are sure "
            "it is over." % (uwsgi_lock.describe(held), wait, still, held.get("controller"), uwsgi_lock.LEASE // 60,
                             uwsgi_lock.LOCK_PATH))
