# Copyright: the pyops.uwsgi authors. Apache-2.0 (see LICENSE).
"""A record of a playbook run in a format this project controls, for tests to read.

Tests that run ansible-playbook read this file instead of a callback's output (whose text, and even
the JSON of ansible.posix.json, changes between ansible-core releases). Enabled by
ANSIBLE_CALLBACK_PLUGINS=<this directory> and ANSIBLE_CALLBACKS_ENABLED=pyops_record; it writes the
JSON file named by PYOPS_RECORD when the run ends (tests.record.read loads it):

    {"tasks": [{"task": name, "action": action, "host": host, "status": "ok|failed|skipped|unreachable",
                "ignore_errors": bool, "result": {...}}, ...],
     "plays": [{"name": play, "hosts": [host, ...], "started": t}, ...],
     "stats": {host: {"ok": n, "changed": n, "failures": n, "unreachable": n, "skipped": n,
                      "rescued": n, "ignored": n}},
     "ended": t}

A play with `serial` starts once per batch, so "plays" holds one entry per batch, with its hosts.
"started" and "ended" are the controller's clock (time.time()) when the play (or batch) started and
when the run ended.

Results are what Ansible gives every callback: already censored for no_log tasks.
"""

import json
import os
import time

from ansible.parsing.ajson import AnsibleJSONEncoder
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: pyops_record
type: aggregate
short_description: writes the run's results to the JSON file PYOPS_RECORD (tests only)
description: [The project's tests read this file rather than a callback's output.]
requirements: [PYOPS_RECORD set to a file path]
"""


class CallbackModule(CallbackBase):
    """Collects every task result, the hosts of every play and the final stats."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "pyops_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = os.environ.get("PYOPS_RECORD", "")
        self.record = {"tasks": [], "plays": [], "stats": {}, "ended": None}

    def v2_playbook_on_play_start(self, play):
        hosts = play.get_variable_manager()._inventory.get_hosts(play.hosts)  # pylint: disable=protected-access
        self.record["plays"].append({"name": play.get_name(), "hosts": [host.name for host in hosts],
                                    "started": time.time()})

    def _add(self, result, status, ignore_errors=False):
        self.record["tasks"].append({
            "task": result.task.get_name(), "action": result.task.action, "host": result.host.get_name(),
            "status": status, "ignore_errors": bool(ignore_errors), "result": dict(result.result),
        })
        self._write()  # as it goes, so a killed run leaves what it did

    def v2_runner_on_ok(self, result):
        self._add(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._add(result, "failed", ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._add(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._add(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self.record["stats"] = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self.record["ended"] = time.time()
        self._write()

    def _write(self):
        if not self.path:
            return
        temp = f"{self.path}.tmp"
        with open(temp, "w", encoding="utf-8") as stream:
            json.dump(self.record, stream, cls=AnsibleJSONEncoder, indent=1)
        os.replace(temp, temp[:-4])
