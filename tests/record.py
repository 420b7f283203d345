"""Run ansible-playbook with the project's own record of the run (tests/callback_plugins/pyops_record.py)
and read it: tests read results from this file, never from a callback's output format."""

import json
import os

from paths import REPO

CALLBACKS = REPO / "tests" / "callback_plugins"


def environment(path, env=None):
    """env (default: this process's) with the recorder writing the run to `path`."""
    env = dict(os.environ if env is None else env)
    enabled = [name for name in env.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if name.strip()]
    env.update({
        "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(filter(None, [str(CALLBACKS),
                                                                  env.get("ANSIBLE_CALLBACK_PLUGINS", "")])),
        "ANSIBLE_CALLBACKS_ENABLED": ",".join(enabled + ["pyops_record"]),
        "PYOPS_RECORD": str(path),
    })
    return env


class Record:
    """One run: its task results, the hosts of each play, its stats."""

    def __init__(self, path=None, data=None):
        """The record in the file `path`, or the already loaded `data`."""
        if data is None:
            with open(path, encoding="utf-8") as stream:
                data = json.load(stream)
        self.data = data
        self.stats = self.data["stats"]

    def tasks(self, host=None):
        """Every task result, in order (of one host)."""
        return [task for task in self.data["tasks"] if host is None or task["host"] == host]

    def results(self, host, name):
        """The results of the tasks named `name` (without the role's prefix) on `host`."""
        return [task["result"] for task in self.tasks(host) if short_name(task["task"]) == name]

    def failed(self, host=None):
        """The results of the tasks that failed (and were not ignored)."""
        return [task for task in self.tasks(host) if task["status"] == "failed" and not task["ignore_errors"]]

    def messages(self, tasks=None):
        """The msg of each task result (of `tasks`, default every one), '' where there is none."""
        return [str(task["result"].get("msg", "")) for task in (self.tasks() if tasks is None else tasks)]

    def play_hosts(self):
        """The hosts each play ran on, in order."""
        return [play["hosts"] for play in self.data["plays"]]

    def batches(self):
        """(hosts, seconds) of each play run, in order: a play with `serial` runs once per batch. A batch
        lasts from its start to the next one's, the last one to the end of the run."""
        plays = self.data["plays"]
        ends = [play["started"] for play in plays[1:]] + [self.data["ended"]]
        return [(play["hosts"], end - play["started"]) for play, end in zip(plays, ends)]

    def totals(self):
        """changed and failed (failures + unreachable) summed over the hosts."""
        changed = sum(stat["changed"] for stat in self.stats.values())
        failed = sum(stat["failures"] + stat["unreachable"] for stat in self.stats.values())
        return changed, failed


def short_name(name):
    """A task's name without the role's prefix "pyops.uwsgi.uwsgi_production : "."""
    return name.split(" : ", 1)[-1]
