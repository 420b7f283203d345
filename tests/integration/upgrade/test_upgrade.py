"""molecule/upgrade: a host configured by the release before the Python core converges with nothing to do.

The collection of commit PREVIOUS (the last one whose role rendered its files with Jinja and decided in
vars/main.yml) is built and installed into an empty path, and deploys molecule/upgrade/apps.yml; then
this checkout deploys the same apps. The upgrade promise is the same effective configuration; a default
that changed since (NEW_DEFAULT_KEYS) changes it, and only it: each app's ini differs from the release's
in those keys' lines alone and is applied by a graceful reload (no option of them needs a restart), every
other file (unit, socket unit, secrets file, live and last good) is byte for byte and inode for inode the
same, and every master keeps its PID.
"""

import json
import os
import subprocess

import pytest
from hostcheck import http_get, unit_properties
from paths import REPO

PREVIOUS = "88cb4545063087591f6141edbf98413537b73d7d"
APPS = ["upgraded", "upgraded-own"]
UNITS = [f"uwsgi-{name}.service" for name in APPS]
PLAYBOOK = REPO / "molecule" / "upgrade" / "deploy.yml"
WATCHED = ("/etc/uwsgi-production/{0}.ini /etc/systemd/system/uwsgi-{0}.service /etc/systemd/system/uwsgi-{0}.socket "
           "/etc/uwsgi-production/{0}.env /etc/uwsgi-production/last-good/{0}.ini "
           "/etc/uwsgi-production/last-good/uwsgi-{0}.service /etc/uwsgi-production/last-good/uwsgi-{0}.socket "
           "/etc/uwsgi-production/last-good/{0}.env")
# The files a changed default rewrites (the ini, live and last good) and the option lines it changes:
# staggered recycling (issue 15): no max-requests, max-worker-lifetime per worker with its delta.
INIS = ("/etc/uwsgi-production/{0}.ini", "/etc/uwsgi-production/last-good/{0}.ini")
NEW_DEFAULT_KEYS = ("max-requests", "max-worker-lifetime", "max-worker-lifetime-delta")


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
    """(ls -li of the files a new default leaves alone, their sha256sums, each unit's MainPID and state,
    each ini's lines by path)."""
    inis = {path.format(name) for name in APPS for path in INIS}
    files = " ".join(path for name in APPS for path in WATCHED.format(name).split() if path not in inis)
    listing = host.check_output(f"ls -li --time-style=full-iso {files} 2>&1 || true")
    sums = host.check_output(f"sha256sum {files} 2>&1 || true")
    pids = {unit: unit_properties(host, unit, "MainPID", "ActiveState") for unit in UNITS}
    lines = {path: host.file(path).content_string.splitlines() for path in sorted(inis)}
    return listing, sums, pids, lines


def option_key(line):
    return line.split("=", 1)[0].strip() if "=" in line and not line.startswith(";") else None


@pytest.fixture(scope="module")
def upgrade(host, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("upgrade")
    previous = previous_release(tmp_path)
    deploy(previous)
    before = state(host)
    outcome = tmp_path / "outcome.json"
    # This checkout: the symlinked collection that tools/setup.sh put in the toolchain's path.
    output = deploy(REPO / ".cache" / "collections", "-e", f"outcome_file={outcome}", "--diff", "-v")
    return before, state(host), json.loads(outcome.read_text()), output


def test_the_previous_release_deployed_every_app(upgrade):
    before = upgrade[0]
    for unit in UNITS:
        assert before[2][unit]["ActiveState"] == "active", before[2]


def test_the_upgrade_rewrites_only_the_inis_and_reloads(upgrade):
    _before, _after, outcome, _output = upgrade
    assert outcome["config_changed"] is True, outcome
    assert outcome["settled"] is False, outcome
    files = outcome["changed_files"]
    assert files["ini"] == sorted(APPS), outcome
    assert files["unit"] == files["socket"] == files["env"] == [], outcome
    assert outcome["actions"] == ["reload", "reload"], outcome


def test_each_ini_changes_in_the_new_defaults_lines_only(upgrade):
    before, after, _outcome, _output = upgrade
    for path, old in before[3].items():
        new = after[3][path]
        assert new != old, path
        assert [line for line in old if option_key(line) not in NEW_DEFAULT_KEYS] == \
            [line for line in new if option_key(line) not in NEW_DEFAULT_KEYS], path
        assert "max-requests = 1000" in old and not any(option_key(line) == "max-requests" for line in new), path


def test_every_other_file_and_master_is_the_same(upgrade):
    before, after, _outcome, _output = upgrade
    assert after[1] == before[1]  # contents
    assert after[0] == before[0]  # inodes, modes, owners and times: nothing was rewritten
    assert after[2] == before[2]  # same MainPID: a graceful reload, no restart


def test_the_apps_still_answer(host, upgrade):
    assert http_get(host, "http://127.0.0.1:8097/")[0] == 200
    assert http_get(host, "http://127.0.0.1:8098/")[0] == 200


def test_the_secret_never_shows_in_the_output(upgrade):
    assert "upgrade-s3cret" not in upgrade[3]
