"""molecule/from_tarball: the built collection, installed into an empty path, deploys its example."""

import os
import subprocess

import record
from hostcheck import http_get
from paths import REPO

UNITS = ["uwsgi-hello.service"]


def run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False, **kwargs)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out.stdout


def test_installed_tarball_runs_its_example_playbook(host, tmp_path):
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path)], cwd=REPO)
    tarball = next(tmp_path.glob("pyops-uwsgi-*.tar.gz"))
    installed = tmp_path / "collections"
    # Only this empty path is looked at, so a copy installed elsewhere cannot stand in for the tarball.
    run(["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(installed), str(tarball)],
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"))
    # Only the docker connection plugin comes from elsewhere (it reaches the test host).
    deps = tmp_path / "deps" / "ansible_collections"
    deps.mkdir(parents=True)
    (deps / "community").symlink_to(REPO / ".cache" / "collections" / "ansible_collections" / "community")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=f"{installed}:{tmp_path / 'deps'}",
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    playbook = installed / "ansible_collections" / "pyops" / "uwsgi" / "examples" / "single_host.yml"
    # The run's results from the project's own record of it (tests/record.py), not from its output.
    run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(playbook)],
        env=record.environment(tmp_path / "record.json", env))
    outcome = record.Record(tmp_path / "record.json")
    assert outcome.totals()[1] == 0 and not outcome.failed(), outcome.failed()
    assert "GET http://127.0.0.1:8080/ -> 200: hello from uWSGI" in outcome.messages(), outcome.messages()
    assert http_get(host, "http://127.0.0.1:8080/")[0] == 200
