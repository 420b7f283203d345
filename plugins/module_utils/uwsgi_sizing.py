# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Worker counts sized from the host: the formula (sized), and how the host's usable CPUs and memory are read.

The formula is a pure function of two figures, the host's usable CPUs and memory in MB, tested in-process
with a table of hosts (tests/unit/plugins/test_uwsgi_sizing.py) and documented in docs/defaults.md.
read_host() reads them once per host in uwsgi_facts (plugins/modules/uwsgi_facts.py): the CPUs this process
may run on (its affinity, which the cpuset limits) and the CPU quota of its cgroups (cgroup v1
cpu.cfs_quota_us, v2 cpu.max), MemTotal and the memory limit of its cgroups (v1 memory.limit_in_bytes, v2
memory.max), each cgroup from its own up to the root of its hierarchy, as a limit set higher up binds too.
"""

from __future__ import annotations

import math
import os
from typing import Callable, Optional

# A file's text by its path, None when it cannot be read.
Read = Callable[[str], Optional[str]]

# The options the formula gives, in the order the ini lists them.
SIZED_KEYS = ("processes", "cheaper", "cheaper-initial", "cheaper-step", "reload-on-rss")

# processes: WORKERS_PER_CPU per usable CPU, no more than the memory share allows at WORKER_MB each, at
# least MIN_PROCESSES (a lone worker leaves the app serving nothing while it is recycled) and at most the
# guide's MAX_PROCESSES.
WORKERS_PER_CPU = 2
WORKER_MB = 256
MIN_PROCESSES = 2
MAX_PROCESSES = 128
# The share of the usable memory that one app's workers may reach together: reload-on-rss is that share
# over processes, rounded down to RSS_STEP_MB, between MIN_RSS_MB and MAX_RSS_MB (the guide's 2048).
MEMORY_SHARE = 0.75
RSS_STEP_MB = 32
MIN_RSS_MB = 64
MAX_RSS_MB = 2048
# cheaper, cheaper-initial and cheaper-step: processes over these, at least 1 and at most the guide's
# figures for its 128 processes (8, 16 and 16).
CHEAPER_DIVISOR, MAX_CHEAPER = 8, 8
INITIAL_DIVISOR, MAX_INITIAL = 4, 16
STEP_DIVISOR, MAX_STEP = 8, 16

# What the cgroup files say when there is no limit (v1 writes the largest page-aligned 64-bit number).
NO_LIMIT = "max"
V1_NO_MEMORY_LIMIT = 1 << 62


def _whole(value):
    try:
        return int(value) if not isinstance(value, bool) and value is not None else None
    except (TypeError, ValueError):
        return None


def _between(value, low, high):
    return max(low, min(high, value))


def sized_processes(cpus: int, memory_mb: int) -> int:
    """The upper bound of workers for the host's usable CPUs and memory."""
    by_memory = int(memory_mb * MEMORY_SHARE) // WORKER_MB
    return _between(min(WORKERS_PER_CPU * cpus, by_memory), MIN_PROCESSES, MAX_PROCESSES)


def sized_rss(memory_mb: int, processes: int) -> int:
    """reload-on-rss (MB) for `processes` workers sharing the memory share."""
    share = int(memory_mb * MEMORY_SHARE) // max(processes, 1)
    return _between(share // RSS_STEP_MB * RSS_STEP_MB, MIN_RSS_MB, MAX_RSS_MB)


def _cheaper(processes, fixed):
    """cheaper, cheaper-initial and cheaper-step for `processes` (a whole number, or None when unset), each
    kept as `fixed` sets it and otherwise consistent with it: cheaper < processes, cheaper <= cheaper-initial
    <= processes. None (no cheaper mode) for fewer than 2 processes, or when cheaper is left out."""
    if processes is None or processes < 2 or ("cheaper" in fixed and _whole(fixed["cheaper"]) is None):
        return {key: fixed.get(key) for key in ("cheaper", "cheaper-initial", "cheaper-step")}
    cheaper = _whole(fixed["cheaper"]) if "cheaper" in fixed else _between(processes // CHEAPER_DIVISOR, 1, MAX_CHEAPER)
    initial_fixed = _whole(fixed.get("cheaper-initial"))
    if "cheaper" not in fixed and initial_fixed is not None:
        cheaper = min(cheaper, initial_fixed)
    if "cheaper-initial" in fixed:
        initial = fixed["cheaper-initial"]
    else:
        initial = min(max(min(processes // INITIAL_DIVISOR, MAX_INITIAL), cheaper), processes)
    step = fixed["cheaper-step"] if "cheaper-step" in fixed else _between(processes // STEP_DIVISOR, 1, MAX_STEP)
    return {"cheaper": fixed.get("cheaper", cheaper), "cheaper-initial": initial, "cheaper-step": step}


def sized(cpus: int, memory_mb: int, fixed: dict | None = None) -> dict:
    """{key: value} of the SIZED_KEYS that `fixed` does not set, for a host with `cpus` usable CPUs and
    `memory_mb` MB of usable memory. `fixed` holds what the play sets itself (a number, or None to leave the
    option out): what is sized is made consistent with it (processes above a fixed cheaper, cheaper within a
    fixed processes, reload-on-rss shared by the fixed processes)."""
    fixed = {key: value for key, value in (fixed or {}).items() if key in SIZED_KEYS}
    if "processes" in fixed:
        processes = _whole(fixed["processes"])
    else:
        processes = sized_processes(cpus, memory_mb)
        low = max((_whole(fixed.get("cheaper")) or 0) + 1, _whole(fixed.get("cheaper-initial")) or 0)
        processes = max(processes, low)
    values = {"processes": processes}
    values.update(_cheaper(processes, fixed))
    values["reload-on-rss"] = sized_rss(memory_mb, processes or 1)
    return {key: values[key] for key in SIZED_KEYS if key not in fixed}


# --- Reading the host -----------------------------------------------------------------------------------

def cgroup_paths(proc_cgroup: str) -> dict:
    """{controller: path} of /proc/self/cgroup; the cgroup v2 path under the key ''."""
    paths = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            paths[controller] = parts[2]
    return paths


def cgroup_mounts(mountinfo: str) -> dict:
    """{controller: (root, mount point)} of the cgroup file systems in /proc/self/mountinfo; cgroup2 under ''."""
    mounts = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if len(fields) < dash + 4 or len(fields) < 5:
            continue
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        where = (fields[3], fields[4].replace("\\040", " "))
        if fstype == "cgroup2":
            mounts.setdefault("", where)
        elif fstype == "cgroup":
            for option in options:
                mounts.setdefault(option, where)
    return mounts


def cgroup_dirs(paths: dict, mounts: dict, controller: str) -> list:
    """The directories of the process's cgroup for `controller` ('' for v2), its own first, then each parent
    up to the root of the mounted hierarchy; empty when the controller is not mounted."""
    if controller not in paths or controller not in mounts:
        return []
    root, mount_point = mounts[controller]
    path = paths[controller]
    if root != "/" and (path + "/").startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")):]
    parts = [part for part in path.split("/") if part]
    return [os.path.join(mount_point, *parts[:depth]) for depth in range(len(parts), -1, -1)]


def _number(text: Optional[str]) -> Optional[int]:
    text = (text or "").strip()
    return int(text) if text.lstrip("-").isdigit() else None


def cpu_quota(read: Read, paths: dict, mounts: dict) -> Optional[float]:
    """The smallest CPU quota of the process's cgroups, in CPUs (1.5 for 150000/100000), or None."""
    quotas = []
    for folder in cgroup_dirs(paths, mounts, "cpu"):
        quota, period = _number(read(folder + "/cpu.cfs_quota_us")), _number(read(folder + "/cpu.cfs_period_us"))
        if quota and quota > 0 and period:
            quotas.append(quota / period)
    for folder in cgroup_dirs(paths, mounts, ""):
        words = (read(folder + "/cpu.max") or "").split()
        if len(words) == 2 and words[0] != NO_LIMIT and _number(words[0]) and _number(words[1]):
            quotas.append(_number(words[0]) / _number(words[1]))
    return min(quotas) if quotas else None


def memory_limit_mb(read: Read, paths: dict, mounts: dict) -> Optional[int]:
    """The smallest memory limit of the process's cgroups, in MB, or None."""
    limits = []
    for folder in cgroup_dirs(paths, mounts, "memory"):
        value = _number(read(folder + "/memory.limit_in_bytes"))
        if value and value < V1_NO_MEMORY_LIMIT:
            limits.append(value)
    for folder in cgroup_dirs(paths, mounts, ""):
        value = _number(read(folder + "/memory.max"))
        if value:
            limits.append(value)
    return min(limits) // (1024 * 1024) if limits else None


def mem_total_mb(meminfo: str) -> Optional[int]:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def usable(affinity: int, quota: Optional[float], mem_total: Optional[int], memory_limit: Optional[int]) -> dict:
    """{cpus, memory_mb}: the CPUs the process may run on, fewer under a quota (1.5 CPUs count as 2), and
    MemTotal, less under a cgroup memory limit."""
    cpus = max(1, affinity)
    if quota:
        cpus = min(cpus, max(1, math.ceil(quota)))
    memories = [value for value in (mem_total, memory_limit) if value]
    return {"cpus": cpus, "memory_mb": min(memories) if memories else 0}


def _read(path: str) -> Optional[str]:
    """A file's text, or None when it cannot be read (no such controller, no such file)."""
    try:
        with open(path) as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def read_host(read: Read = _read) -> dict:
    """{cpus, memory_mb}: the usable CPUs and memory of the host this runs on (see the module's docstring)."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 1
    paths, mounts = cgroup_paths(read("/proc/self/cgroup") or ""), cgroup_mounts(read("/proc/self/mountinfo") or "")
    return usable(affinity, cpu_quota(read, paths, mounts), mem_total_mb(read("/proc/meminfo") or ""),
                  memory_limit_mb(read, paths, mounts))
