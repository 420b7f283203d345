"""Test hosts (containers named pyops-bench*) and the commands run on them."""

import json
import os
import pathlib
import subprocess
import time

from . import parse

REPO = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "benchmarks" / "playbooks"
HOST_PREFIX = "pyops-bench"
PROBE = "/opt/pyops-bench/probe.py"


class CommandFailed(RuntimeError):
    """A command on the controller or in a test host exited non-zero."""


def check_name(name):
    """Refuse any container that is not one of ours."""
    if not name.startswith(HOST_PREFIX):
        raise ValueError(f"benchmark hosts are named {HOST_PREFIX}*, not {name!r}")
    return name


def run(cmd, log=None, timeout=None, check=True, env=None):
    """Run cmd on the controller; append its output to `log`; return the CompletedProcess."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(f"$ {' '.join(map(str, cmd))}\n{result.stdout}{result.stderr}[exit {result.returncode}]\n")
    if check and result.returncode != 0:
        raise CommandFailed(f"{' '.join(map(str, cmd))} exited {result.returncode}:\n{result.stdout[-3000:]}\n"
                            f"{result.stderr[-3000:]}")
    return result


def start(name, log=None):
    """Start a fresh test host `name` (tools/testhost.sh run replaces one of that name)."""
    run(["bash", str(REPO / "tools" / "testhost.sh"), "run", check_name(name)], log=log)


def remove(name, log=None):
    """Remove our test host `name`."""
    run(["docker", "rm", "-f", check_name(name)], log=log, check=False)


def execute(name, *cmd, log=None, timeout=None, check=True):
    """Run cmd inside test host `name`."""
    return run(["docker", "exec", check_name(name), *cmd], log=log, timeout=timeout, check=check)


def probe(name, *args, log=None, timeout=600):
    """Run benchmarks/host/probe.py inside the host; return the JSON it printed."""
    result = execute(name, "python3", PROBE, *map(str, args), log=log, timeout=timeout)
    return json.loads(result.stdout)


def ansible_env():
    """The environment of every ansible-playbook run (tools/env.sh was sourced by run.sh)."""
    env = dict(os.environ)
    env.update(ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_PIPELINING=env.get("ANSIBLE_PIPELINING", "true"),
               # Per-task times, to say where a run's time goes.
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    return env


def ansible_playbook(names, book, extra_vars=(), log=None, collections_path=None):
    """ansible-playbook `book` on the hosts `names` over docker; (CompletedProcess, wall seconds).

    book: a file in benchmarks/playbooks, or a collection's playbook by name (pyops.uwsgi.rolling_update);
    extra_vars: paths of JSON files or KEY=VALUE strings; collections_path: the ANSIBLE_COLLECTIONS_PATH
    of this run (default: the run's, with this checkout's copy first)."""
    inventory = ",".join(check_name(name) for name in names) + ","
    path = PLAYBOOKS / book
    cmd = ["ansible-playbook", "-i", inventory, "-c", "community.docker.docker", str(path if path.exists() else book)]
    for item in extra_vars:
        text = str(item)
        cmd += ["-e", f"@{text}" if text.endswith(".json") and "=" not in text else text]
    env = ansible_env()
    if collections_path:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    began = time.monotonic()
    result = run(cmd, log=log, env=env)
    return result, time.monotonic() - began


def playbook(name, book, extra_vars=(), log=None, collections_path=None, keep_output=False):
    """Run playbook `book` on host `name` (arguments: ansible_playbook). Returns the wall time in
    seconds, the PLAY RECAP counters of the host and its five slowest tasks; with keep_output also what
    the playbook printed (`stdout`) and every task time the profile_tasks callback listed (`task_times`)."""
    result, seconds = ansible_playbook([name], book, extra_vars, log, collections_path)
    times = parse.task_times(result.stdout)
    out = {"seconds": round(seconds, 3), "recap": parse.play_recap(result.stdout, name), "slowest_tasks": times[:5]}
    if keep_output:
        out["stdout"], out["task_times"] = result.stdout, times
    return out


def fleet_playbook(names, book, extra_vars=(), log=None, collections_path=None):
    """Run playbook `book` on every host of `names` in one ansible-playbook (arguments: ansible_playbook).
    Returns the wall time, each host's PLAY RECAP counters and how many plays ran (a play with `serial`
    runs once per batch)."""
    result, seconds = ansible_playbook(names, book, extra_vars, log, collections_path)
    return {"seconds": round(seconds, 3), "recaps": {name: parse.play_recap(result.stdout, name) for name in names},
            "plays": parse.plays(result.stdout), "slowest_tasks": parse.task_times(result.stdout)[:5]}


def write_json(path, data):
    """Write data as indented JSON to path; return the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
