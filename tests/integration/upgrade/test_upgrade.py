"""molecule/upgrade: a host configured by the release before the Python core converges with only the
changes made since on purpose, without a restart, and then with nothing to do.

The collection of commit PREVIOUS (the last one whose role rendered its files with Jinja and decided in
vars/main.yml) is built and installed into an empty path, and deploys molecule/upgrade/apps.yml; then
this checkout deploys the same apps. Since PREVIOUS (issue 15): workers recycle by a staggered
max-worker-lifetime instead of max-requests (each ini: no max-requests, max-worker-lifetime per worker
with its delta), and the defaults stop quietly (each ini gains skip-atexit-teardown and the role's atexit
hook, py-import; a socket-activated app's ini has vacuum off and its unit an ExecStopPost= instead; each
unit's ExecStop polls the master every 0.02 s); and the worker counts and reload-on-rss are sized from the
host (issue 22: PREVIOUS wrote processes 8, cheaper 2, cheaper-initial 2, cheaper-step 2, reload-on-rss 2048
on every host; the lifetimes' stagger follows processes); and a socket unit, once stopped, leaves nothing
of its app in /run (issue 23: RemoveOnStop= and an ExecStopPost= that removes the runtime directory). So
the first run of this checkout changes exactly those lines of each ini, unit and socket unit and applies them
with a graceful reload (a unit or socket unit change in stop directives only needs systemd's daemon-reload,
not a restart: uwsgi_actions.STOP_DIRECTIVES and SOCKET_STOP_DIRECTIVES), every master keeps its PID, the
socket unit keeps its listening sockets (not restarted: no connection refused), and the secrets file and its
last good copy stay byte for byte and inode for inode; a second run changes no file and takes no action.
The socket unit started under the old file then applies the new stop directives when it stops.
"""

import json
import os
import subprocess

import pytest
from hostcheck import http_get, unit_properties, usable_resources, uwsgi_stats, wait_for
from paths import REPO

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_sizing as sizing

PREVIOUS = "88cb4545063087591f6141edbf98413537b73d7d"
APPS = ["upgraded", "upgraded-own"]
UNITS = [f"uwsgi-{name}.service" for name in APPS]
PLAYBOOK = REPO / "molecule" / "upgrade" / "deploy.yml"
# The socket-activated app's socket unit and the unix socket it makes.
SOCKET_UNIT = "uwsgi-upgraded.socket"
SOCKET_FILE = "/run/uwsgi-upgraded/uwsgi.sock"
WATCHED = ("/etc/uwsgi-production/{0}.ini /etc/systemd/system/uwsgi-{0}.service /etc/systemd/system/uwsgi-{0}.socket "
           "/etc/uwsgi-production/{0}.env /etc/uwsgi-production/last-good/{0}.ini "
           "/etc/uwsgi-production/last-good/uwsgi-{0}.service /etc/uwsgi-production/last-good/uwsgi-{0}.socket "
           "/etc/uwsgi-production/last-good/{0}.env")


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False, **kwargs)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout


def previous_release(tmp_path):
    """The collection of PREVIOUS, built and installed into an empty collections path."""
    source = tmp_path / "previous"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", PREVIOUS], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path)], cwd=source)
    installed = tmp_path / "collections"
    tarball = next(tmp_path.glob("pyops-uwsgi-*.tar.gz"))
    run(["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(installed), str(tarball)],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"))
    return installed


def deploy(collections, *extra):
    """deploy.yml with `collections` first, then the toolchain's (the docker connection)."""
    others = REPO / ".cache" / "collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=f"{collections}:{others}", ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1")
    return run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(PLAYBOOK), *extra], env=env)


def state(host):
    """{path: (ls -li line, sha256)} of the watched files, and {unit: MainPID, ActiveState}."""
    files = " ".join(WATCHED.format(name) for name in APPS)
    listing = host.check_output(f"ls -li --time-style=full-iso {files} 2>&1 || true").splitlines()
    sums = dict(reversed(line.split(None, 1)) for line in host.check_output(f"sha256sum {files} 2>&1 || true").splitlines()
                if not line.startswith("sha256sum:"))
    entries = {line.split()[-1]: (line, sums.get(line.split()[-1])) for line in listing if line.split()[-1].startswith("/")}
    pids = {unit: unit_properties(host, unit, "MainPID", "ActiveState") for unit in UNITS}
    texts = {path: host.file(path).content_string for path in entries
             if path.endswith((".ini", ".service", ".socket")) and "/last-good/" not in path}
    # The socket unit's listening: when it last started, and the inode of the unix socket it made.
    listening = dict(unit_properties(host, SOCKET_UNIT, "ActiveEnterTimestampMonotonic", "ActiveState"),
                     inode=host.check_output(f"stat -c %i {SOCKET_FILE}"))
    return entries, pids, texts, listening


@pytest.fixture(scope="module")
def upgrade(host, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("upgrade")
    previous = previous_release(tmp_path)
    deploy(previous)
    before = state(host)
    outcomes = []
    outputs = []
    # This checkout, twice: the symlinked collection that tools/setup.sh put in the toolchain's path.
    for number in (1, 2):
        outcome = tmp_path / f"outcome{number}.json"
        outputs.append(deploy(REPO / ".cache" / "collections", "-e", f"outcome_file={outcome}", "--diff", "-v"))
        outcomes.append(json.loads(outcome.read_text()))
        if number == 1:
            middle = state(host)
    return before, middle, state(host), outcomes, "".join(outputs)


def test_the_previous_release_deployed_every_app(upgrade):
    before = upgrade[0]
    for unit in UNITS:
        assert before[1][unit]["ActiveState"] == "active", before[1]


def test_the_upgrade_rewrites_each_ini_and_unit_and_reloads_each_app(upgrade):
    before, middle, _after, outcomes, _output = upgrade
    outcome = outcomes[0]
    assert outcome["config_changed"] is True, outcome
    assert outcome["changed_files"]["ini"] == sorted(APPS), outcome
    assert outcome["changed_files"]["unit"] == sorted(APPS), outcome
    assert outcome["changed_files"]["socket"] == ["upgraded"] and outcome["changed_files"]["env"] == [], outcome
    assert outcome["actions"] == ["reload", "reload"], outcome
    assert middle[1] == before[1]  # same MainPID: a graceful reload, no restart


def changed_lines(before, after):
    old, new = before.splitlines(), after.splitlines()
    return sorted(line for line in old if line not in new), sorted(line for line in new if line not in old)


# The worker counts and reload-on-rss that PREVIOUS wrote into every ini, whatever the host.
PREVIOUS_COUNTS = {"processes": 8, "cheaper": 2, "cheaper-initial": 2, "cheaper-step": 2, "reload-on-rss": 2048}


def sized(host):
    """The sized keys for this host, from the figures the test reads on it (not the role's reader)."""
    figures = usable_resources(host)
    return sizing.sized(figures["cpus"], figures["memory_mb"])


def test_the_ini_changes_are_the_new_defaults_only(host, upgrade):
    before, middle = upgrade[0][2], upgrade[1][2]
    hook = "py-import = /etc/uwsgi-production/atexit_handlers.py"
    counts = sized(host)
    # The lifetimes staggered over the sized processes: the last worker at 3600 (uwsgi_model.stagger).
    base, delta = model.stagger(3600, counts["processes"], model.MIN_WORKER_LIFETIME)
    changed = [key for key in sizing.SIZED_KEYS if counts[key] != PREVIOUS_COUNTS[key]]
    assert "processes" in changed, counts  # a host of this machine gets other counts than PREVIOUS's
    # memory-report and stats-no-cores: every app's baseline since the exporter (issue 22).
    recycling = (["max-requests = 1000", "max-worker-lifetime = 3600"] + [f"{key} = {PREVIOUS_COUNTS[key]}" for key in changed],
                 [f"max-worker-lifetime = {base}", f"max-worker-lifetime-delta = {delta}"]
                 + [f"{key} = {counts[key]}" for key in changed] + ["memory-report = true", "stats-no-cores = true"])
    activated = changed_lines(before["/etc/uwsgi-production/upgraded.ini"], middle["/etc/uwsgi-production/upgraded.ini"])
    assert activated == (sorted(recycling[0] + ["vacuum = true"]),
                         sorted(recycling[1] + [hook, "skip-atexit-teardown = true", "vacuum = false"]))
    own = changed_lines(before["/etc/uwsgi-production/upgraded-own.ini"], middle["/etc/uwsgi-production/upgraded-own.ini"])
    assert own == (sorted(recycling[0]), sorted(recycling[1] + [hook, "skip-atexit-teardown = true"]))


def test_the_unit_changes_are_the_stop_post_and_the_shorter_poll(upgrade):
    before, middle = upgrade[0][2], upgrade[1][2]
    for name in APPS:
        path = f"/etc/systemd/system/uwsgi-{name}.service"
        removed, added = changed_lines(before[path], middle[path])
        directives = [line for line in added if not line.startswith("#")]
        stop = [line for line in directives if line.startswith("ExecStop=")]
        assert len(stop) == 1 and "do sleep 0.02; done" in stop[0]
        post = [line for line in directives if line.startswith("ExecStopPost=")]
        if name == "upgraded":
            assert post == [f"ExecStopPost=+/bin/rm -f -- /run/uwsgi-{name}/uwsgi.pid /run/uwsgi-{name}/stats.sock"]
        else:
            assert post == []  # binds its own sockets: vacuum cleans up
        assert sorted(directives) == sorted(stop + post), directives
        assert [line for line in removed if not line.startswith("#")] == [stop[0].replace("sleep 0.02", "sleep 0.1")]


def test_the_socket_unit_gains_its_stop_directives_and_keeps_its_sockets(upgrade):
    before, middle = upgrade[0], upgrade[1]
    path = f"/etc/systemd/system/{SOCKET_UNIT}"
    removed, added = changed_lines(before[2][path], middle[2][path])
    assert removed == []
    assert [line for line in added if not line.startswith("#")] == [
        "ExecStopPost=/bin/rm -rf -- /run/uwsgi-upgraded", "RemoveOnStop=yes"]
    # Not restarted: it has listened since before the upgrade, on the same unix socket.
    assert middle[3] == before[3] and before[3]["ActiveState"] == "active", (before[3], middle[3])


def test_secrets_are_untouched(upgrade):
    before, middle = upgrade[0][0], upgrade[1][0]
    kept = [path for path in before if path.endswith(".env") and "/last-good/" not in path]
    assert len(kept) == 1, before
    for path in kept:
        assert middle[path] == before[path], path  # content, inode, mode, owner and time


def test_a_second_run_changes_no_file_and_takes_no_action(upgrade):
    _before, middle, after, outcomes, _output = upgrade
    assert outcomes[1]["config_changed"] is False, outcomes[1]
    # Every app is settled, so the role does not even call its service step (uwsgi_service).
    assert outcomes[1]["settled"] is True, outcomes[1]
    assert outcomes[1]["service_changed"] is False, outcomes[1]
    assert outcomes[1]["actions"] == [], outcomes[1]
    assert after[0] == middle[0]  # contents, inodes, modes, owners and times: nothing was rewritten
    assert after[1] == middle[1]  # same MainPID: no restart, no reload
    assert after[3] == middle[3]  # the socket unit still listening since before the upgrade


def test_the_reloaded_masters_run_the_sized_worker_count(host, upgrade):
    """The graceful reload applied the new processes: each master (same PID) has a slot for each of them."""
    processes = sized(host)["processes"]
    assert wait_for(lambda: len(uwsgi_stats(host, "/run/uwsgi-upgraded/stats.sock")["workers"]) == processes)
    assert len(json.loads(http_get(host, "http://127.0.0.1:9197/")[1])["workers"]) == processes


def test_the_apps_still_answer(host, upgrade):
    assert http_get(host, "http://127.0.0.1:8097/")[0] == 200
    assert http_get(host, "http://127.0.0.1:8098/")[0] == 200


def test_the_secret_never_shows_in_the_output(upgrade):
    assert "upgrade-s3cret" not in upgrade[4]


def test_the_upgraded_socket_unit_stopped_leaves_nothing_in_run_and_serves_when_started(host, upgrade):
    """Last: daemon-reload gave the socket unit, started under 0.1.0's file, the new stop directives."""
    host.check_output(f"systemctl stop uwsgi-upgraded.service {SOCKET_UNIT}")
    assert host.check_output("find /run/uwsgi-upgraded 2>/dev/null || true") == ""
    host.check_output(f"systemctl start {SOCKET_UNIT}")
    assert host.file(SOCKET_FILE).is_socket
    assert http_get(host, "http://127.0.0.1:8097/")[0] == 200
