"""Worker counts sized from the host (plugins/module_utils/uwsgi_sizing.py), in-process: the formula on a table
of hosts, what the play sets itself, and how the host's usable CPUs and memory are read from cgroup v1 and v2
files laid out here as a host has them."""

import os

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_sizing as sizing

KEYS = list(sizing.SIZED_KEYS)


# (usable CPUs, memory MB) -> processes, cheaper, cheaper-initial, cheaper-step, reload-on-rss
@pytest.mark.parametrize("cpus, memory_mb, expected", [
    (1, 1024, (2, 1, 1, 1, 384)),             # a 1 CPU / 1 GB VM: 2 workers, recycled at 384 MB
    (2, 4096, (4, 1, 1, 1, 768)),
    (2, 24105, (4, 1, 1, 1, 2048)),           # the test hosts of this machine: reload-on-rss at the cap
    (8, 32768, (16, 2, 4, 2, 1536)),
    (64, 262144, (128, 8, 16, 16, 1536)),     # a big host: the guide's 128 / 8 / 16 / 16
    (256, 1048576, (128, 8, 16, 16, 2048)),   # larger still: no more than the guide's
    (16, 2048, (6, 1, 1, 1, 256)),            # many CPUs, little memory: memory bounds the workers
    (4, 512, (2, 1, 1, 1, 192)),              # too little memory for 2 workers of 256 MB: still 2
    (1, 128, (2, 1, 1, 1, 64)),               # reload-on-rss never below 64 MB
])
def test_a_table_of_hosts(cpus, memory_mb, expected):
    assert sizing.sized(cpus, memory_mb) == dict(zip(KEYS, expected))


@pytest.mark.parametrize("cpus", [1, 2, 3, 8, 63, 64, 65, 500])
@pytest.mark.parametrize("memory_mb", [128, 1000, 4096, 65536, 10 ** 7])
def test_every_sized_host_keeps_uwsgis_rules(cpus, memory_mb):
    """The rules uwsgi_validate holds the play's own values to: cheaper < processes, cheaper <= cheaper-initial
    <= processes; and the workers' bound of memory stays within what the host has (above the 2-worker floor)."""
    got = sizing.sized(cpus, memory_mb)
    assert 2 <= got["processes"] <= 128 and got["processes"] <= max(2, 2 * cpus)
    assert 1 <= got["cheaper"] < got["processes"]
    assert got["cheaper"] <= got["cheaper-initial"] <= got["processes"]
    assert 1 <= got["cheaper-step"] <= 16
    assert 64 <= got["reload-on-rss"] <= 2048
    if got["processes"] > 2:
        assert got["processes"] * got["reload-on-rss"] <= memory_mb * 0.75


def test_what_the_play_sets_is_kept_and_the_rest_agrees_with_it():
    # A value set is never sized; the others are sized around it.
    kept = {"cheaper": 2, "cheaper-initial": 4, "cheaper-step": 2, "reload-on-rss": 2048}
    assert sizing.sized(64, 262144, {"processes": 16}) == kept
    # processes above a cheaper set higher than the host's figure, cheaper-initial up to it.
    assert sizing.sized(1, 1024, {"cheaper": 3}) == {"processes": 4, "cheaper-initial": 3, "cheaper-step": 1,
                                                     "reload-on-rss": 192}
    assert sizing.sized(1, 1024, {"cheaper-initial": 6})["processes"] == 6
    # cheaper no higher than a cheaper-initial set lower.
    assert sizing.sized(64, 262144, {"cheaper-initial": 2})["cheaper"] == 2
    # One process, or processes left out (uWSGI's one worker): no cheaper mode.
    for fixed in ({"processes": 1}, {"processes": None}):
        got = sizing.sized(8, 32768, fixed)
        assert [got["cheaper"], got["cheaper-initial"], got["cheaper-step"]] == [None, None, None]
    assert sizing.sized(8, 32768, {"cheaper": None}) == {"processes": 16, "cheaper-initial": None, "cheaper-step": None,
                                                         "reload-on-rss": 1536}
    # reload-on-rss left out, or set.
    assert "reload-on-rss" not in sizing.sized(8, 32768, {"reload-on-rss": None})
    assert sizing.sized(8, 32768, {"processes": "4"})["reload-on-rss"] == 2048  # digits, as the validator allows


ROLE = {"options": {"harakiri": 60, "cheaper-algo": "busyness", "max-worker-lifetime": 3600}, "user": "uwsgi", "group": "uwsgi",
        "config_dir": "/etc/uwsgi-production", "host_resources": {"cpus": 2, "memory_mb": 4096}}


def test_the_model_sizes_what_neither_the_role_nor_the_app_sets():
    app = {"name": "shop", "module": "shop:app"}
    options = model.effective_options(app, ROLE)
    assert {key: options[key] for key in KEYS} == dict(zip(KEYS, (4, 1, 1, 1, 768)))
    # For every app (uwsgi_production_options), then per app (its options), each winning over the sized value.
    role = dict(ROLE, options=dict(ROLE["options"], processes=32))
    options = model.effective_options(dict(app, options={"reload-on-rss": 512}), role)
    assert [options[key] for key in KEYS] == [32, 4, 8, 4, 512]
    options = model.effective_options(dict(app, options={"processes": 6}), role)
    assert [options[key] for key in KEYS] == [6, 1, 1, 1, 512]
    # The worker lifetimes are staggered over the sized processes.
    ini = model.ini_options(app, ROLE, "3.11", "2.0.31")
    assert (ini["max-worker-lifetime"], ini["max-worker-lifetime-delta"]) == model.stagger(3600, 4, 10) == (2250, 450)


def test_without_the_hosts_figures_nothing_is_sized():
    """The controller's checks (uwsgi_validate) run before the host is read: they see what the play sets only."""
    options = model.effective_options({"name": "shop", "module": "shop:app"}, dict(ROLE, host_resources=None))
    assert not [key for key in KEYS if key in options]


# --- Reading the host ---------------------------------------------------------------------------------

V1_ID = "/docker/38d7"
# A Debian 12 test host (cgroup v1 with an empty unified hierarchy, the host's cgroup namespace), as read.
V1_CGROUP = ("13:hugetlb:/\n4:memory:%s\n3:cpuset:%s\n2:cpuacct:%s\n1:cpu:%s\n0::%s\n"
             % (V1_ID, V1_ID, V1_ID, V1_ID, V1_ID))
V1_MOUNTINFO = """\
625 617 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,size=4096k,nr_inodes=1024,mode=755
626 625 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
627 625 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
629 625 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
635 625 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
MEMINFO = "MemTotal:       24683784 kB\nMemFree:        21956000 kB\n"


def files(mapping):
    return mapping.get


def v1_host(quota="-1", limit="9223372036854771712"):
    return {
        "/proc/self/cgroup": V1_CGROUP, "/proc/self/mountinfo": V1_MOUNTINFO, "/proc/meminfo": MEMINFO,
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
        "/sys/fs/cgroup/cpu/docker/38d7/cpu.cfs_quota_us": quota + "\n",
        "/sys/fs/cgroup/cpu/docker/38d7/cpu.cfs_period_us": "100000\n",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
        "/sys/fs/cgroup/memory/docker/38d7/memory.limit_in_bytes": limit + "\n",
    }


def test_cgroup_v1_quota_and_memory_limit():
    paths, mounts = sizing.cgroup_paths(V1_CGROUP), sizing.cgroup_mounts(V1_MOUNTINFO)
    upwards = ["/sys/fs/cgroup/cpu/docker/38d7", "/sys/fs/cgroup/cpu/docker", "/sys/fs/cgroup/cpu"]
    assert sizing.cgroup_dirs(paths, mounts, "cpu") == upwards
    unlimited = files(v1_host())
    assert sizing.cpu_quota(unlimited, paths, mounts) is None
    assert sizing.memory_limit_mb(unlimited, paths, mounts) is None
    limited = files(v1_host(quota="150000", limit=str(1 << 30)))
    assert sizing.cpu_quota(limited, paths, mounts) == 1.5
    assert sizing.memory_limit_mb(limited, paths, mounts) == 1024
    assert sizing.mem_total_mb(MEMINFO) == 24105


def test_usable_cpus_and_memory_are_the_smallest_limit():
    assert sizing.usable(2, None, 24105, None) == {"cpus": 2, "memory_mb": 24105}
    assert sizing.usable(2, 1.0, 24105, 1024) == {"cpus": 1, "memory_mb": 1024}
    assert sizing.usable(2, 1.5, 24105, None) == {"cpus": 2, "memory_mb": 24105}   # 1.5 CPUs count as 2
    assert sizing.usable(1, 4.0, 24105, None)["cpus"] == 1                          # a cpuset of one CPU
    assert sizing.usable(8, 0.2, 1024, 1 << 20)["cpus"] == 1                        # never below 1
    assert sizing.usable(4, None, 2048, 8192)["memory_mb"] == 2048                  # a limit above MemTotal


def test_cgroup_v2_and_a_limit_set_higher_up():
    """A unified host (systemd's slices): the limit on the slice above binds the service below it."""
    cgroup = "0::/system.slice/ansible.scope\n"
    mountinfo = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
    read = files({
        "/sys/fs/cgroup/system.slice/ansible.scope/cpu.max": "max 100000\n",
        "/sys/fs/cgroup/system.slice/ansible.scope/memory.max": "max\n",
        "/sys/fs/cgroup/system.slice/cpu.max": "300000 100000\n",
        "/sys/fs/cgroup/system.slice/memory.max": "4294967296\n",
    })
    paths, mounts = sizing.cgroup_paths(cgroup), sizing.cgroup_mounts(mountinfo)
    upwards = ["/sys/fs/cgroup/system.slice/ansible.scope", "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup"]
    assert sizing.cgroup_dirs(paths, mounts, "") == upwards
    assert sizing.cpu_quota(read, paths, mounts) == 3.0
    assert sizing.memory_limit_mb(read, paths, mounts) == 4096


def test_a_hierarchy_mounted_at_the_containers_own_cgroup():
    """Docker without the host's cgroup namespace (v1): the mount's root is the container's cgroup."""
    mounts = sizing.cgroup_mounts("40 30 0:32 /docker/38d7 /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n")
    paths = sizing.cgroup_paths("4:memory:/docker/38d7\n")
    assert sizing.cgroup_dirs(paths, mounts, "memory") == ["/sys/fs/cgroup/memory"]
    assert sizing.cgroup_dirs(paths, mounts, "cpu") == []


def test_read_host_on_this_machine():
    """The reader on the machine the tests run on: its figures are within what os and /proc say."""
    found = sizing.read_host()
    assert 1 <= found["cpus"] <= len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as meminfo:
        assert 0 < found["memory_mb"] <= sizing.mem_total_mb(meminfo.read())


def test_read_host_with_files_of_a_limited_host():
    found = sizing.read_host(files(v1_host(quota="100000", limit=str(1 << 30))))
    assert found == {"cpus": 1, "memory_mb": 1024}
    assert sizing.sized(found["cpus"], found["memory_mb"]) == dict(zip(KEYS, (2, 1, 1, 1, 384)))
