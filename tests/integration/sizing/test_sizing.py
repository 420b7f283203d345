"""molecule/sizing: worker counts sized from the host, on a host whose CPUs and memory are limited as a
container's are (1 CPU by its cpuset, 1 GB by its memory limit, while the machine has 2 CPUs and ~24 GB).

Each app's ini and its running workers (the stats server's JSON) agree with the formula (uwsgi_sizing.sized)
fed the figures this test reads on the host itself (hostcheck.usable_resources), which must be the limits
docker was given. Then the host gets both CPUs under a CFS quota of 1.5 CPUs and 3 GB, the role runs again,
and only the sized lines of each ini change, applied by a graceful reload: every master keeps its PID and
serves the new worker count.
"""

import json
import os
import subprocess
import tempfile

import pytest
import record
from hostcheck import http_get, ini_values, unit_properties, usable_resources, uwsgi_stats, wait_for
from paths import REPO, load_yaml

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_sizing as sizing

CONTAINER = "uwsgi-sizing"
SCENARIO = REPO / "molecule" / "sizing"
APPS = {app["name"]: app for app in load_yaml(SCENARIO / "apps.yml")["uwsgi_production_apps"]}
UNITS = [model.unit_name(name) for name in APPS]
PORTS = {"sized": 8101, "sized-own": 8102}
KEYS = list(sizing.SIZED_KEYS)
# What `docker update` gives the host before the second run: both CPUs of this machine under a quota of
# 1.5 CPUs (which counts as 2), and 3 GB.
RESIZED = ["--cpuset-cpus", "0,1", "--cpus", "1.5", "--memory", "3g", "--memory-swap", "3g"]


def docker_limits():
    """{cpus, memory_mb} that docker was told (cpuset, CPU quota, memory), with this machine's CPUs and MemTotal."""
    out = subprocess.run(["docker", "inspect", "-f", "{{json .HostConfig}}", CONTAINER], capture_output=True,
                         text=True, check=True).stdout
    config = json.loads(out)
    cpus = len(os.sched_getaffinity(0))
    if config.get("CpusetCpus"):
        cpus = sum(len(range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1))
                   for part in config["CpusetCpus"].split(","))
    if config.get("NanoCpus"):
        cpus = min(cpus, -(-config["NanoCpus"] // 10 ** 9))
    with open("/proc/meminfo") as meminfo:
        memory_mb = sizing.mem_total_mb(meminfo.read())
    if config.get("Memory"):
        memory_mb = min(memory_mb, config["Memory"] // (1024 * 1024))
    return {"cpus": cpus, "memory_mb": memory_mb}


def expected(name, figures):
    """The sized keys of app `name`'s ini: the formula for `figures`, what the app's options set kept."""
    own = {key: value for key, value in (APPS[name].get("options") or {}).items() if key in KEYS}
    values = dict(own, **sizing.sized(figures["cpus"], figures["memory_mb"], own))
    return {key: str(values[key]) for key in KEYS}


def state(host):
    """Each app's ini values, its unit's MainPID and ActiveState, and its stats JSON."""
    found = {}
    for name in APPS:
        ini = ini_values(host.file(f"/etc/uwsgi-production/{name}.ini").content_string)
        found[name] = (ini, unit_properties(host, model.unit_name(name), "MainPID", "ActiveState"),
                       uwsgi_stats(host, f"/run/uwsgi-{name}/stats.sock"))
    return found


def live_workers(stats):
    return [worker for worker in stats["workers"] if worker["status"] != "cheap" and worker["pid"]]


def check_against_the_formula(host, found, figures):
    for name, (ini, unit, stats) in found.items():
        want = expected(name, figures)
        assert {key: ini.get(key) for key in KEYS} == want, name
        lifetime = model.stagger(3600, int(want["processes"]), model.MIN_WORKER_LIFETIME)
        assert (int(ini["max-worker-lifetime"]), int(ini["max-worker-lifetime-delta"])) == lifetime, name
        assert unit["ActiveState"] == "active", unit
        # The running master has a slot for each of processes, and started cheaper-initial workers (the
        # busyness algorithm keeps at least cheaper of them when idle).
        assert len(stats["workers"]) == int(want["processes"]), stats["workers"]
        assert int(want["cheaper"]) <= len(live_workers(stats)) <= int(want["processes"]), stats["workers"]
        assert http_get(host, f"http://127.0.0.1:{PORTS[name]}/")[0] == 200


@pytest.fixture(scope="module")
def first(host):
    figures = usable_resources(host)
    return figures, state(host)


def test_the_tests_figures_are_the_limits_docker_was_given(host, first):
    figures = first[0]
    assert figures == docker_limits() == {"cpus": 1, "memory_mb": 1024}


def test_each_app_is_sized_for_one_cpu_and_one_gigabyte(host, first):
    figures, found = first
    check_against_the_formula(host, found, figures)
    # For this host: 2 workers, 1 kept idle, recycled at 384 MB; the app that sets processes 3 shares the
    # memory among its 3 (256 MB each).
    assert [found["sized"][0][key] for key in KEYS] == ["2", "1", "1", "1", "384"]
    assert [found["sized-own"][0][key] for key in KEYS] == ["3", "1", "1", "1", "256"]


def test_the_role_read_the_same_figures(host, first):
    """The role's own reader (uwsgi_facts' host_resources), in a check-mode run that changes nothing."""
    out, run = play("--check")
    facts = run.results(CONTAINER, "Take the host's run lock and read what the install steps would find on the host")
    assert facts and facts[0]["host_resources"] == first[0], out.stdout[-3000:]
    assert run.totals() == (0, 0), out.stdout[-3000:]


def play(*extra):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "record.json")
        env = record.environment(path, dict(os.environ, ANSIBLE_NOCOLOR="1", MOLECULE_SCENARIO_DIRECTORY=str(SCENARIO)))
        out = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                              str(REPO / "molecule" / "shared" / "converge.yml"), *extra],
                             env=env, capture_output=True, text=True, timeout=900, check=False)
        assert os.path.exists(path), out.stdout[-3000:] + out.stderr[-3000:]
        return out, record.Record(path)


@pytest.fixture(scope="module")
def resized(host, first):
    subprocess.run(["docker", "update", *RESIZED, CONTAINER], capture_output=True, check=True)
    out, run = play()
    assert run.totals()[1] == 0, out.stdout[-4000:]
    figures = usable_resources(host)
    # The masters re-spawn their workers after the reload: wait until each has its new slots.
    wait_for(lambda: all(len(uwsgi_stats(host, f"/run/uwsgi-{name}/stats.sock")["workers"])
                         == int(expected(name, figures)["processes"]) for name in APPS), timeout=30)
    return figures, state(host), run


def test_a_bigger_host_gets_more_workers_by_a_graceful_reload(host, first, resized):
    figures, found, run = resized
    assert figures == docker_limits() == {"cpus": 2, "memory_mb": 3072}
    check_against_the_formula(host, found, figures)
    assert [found["sized"][0][key] for key in KEYS] == ["4", "1", "1", "1", "576"]
    assert [found["sized-own"][0][key] for key in KEYS] == ["3", "1", "1", "1", "768"]
    for name in APPS:
        assert found[name][1]["MainPID"] == first[1][name][1]["MainPID"], name  # reloaded, not restarted
    service = run.results(CONTAINER, "Start, reload or restart each app as its change needs, check its health, keep it "
                                     "as last good")
    assert {name: info["action"] for name, info in service[0]["apps"].items()} == {name: "reload" for name in APPS}


def test_only_the_sized_lines_changed(first, resized):
    stagger = {"max-worker-lifetime", "max-worker-lifetime-delta"}
    for name in APPS:
        before, after = first[1][name][0], resized[1][name][0]
        changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
        assert changed <= set(KEYS) | stagger, (name, changed)
    assert resized[1]["sized"][0]["processes"] != first[1]["sized"][0]["processes"]
