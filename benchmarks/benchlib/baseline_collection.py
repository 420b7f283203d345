"""The baseline collection: the collection of an earlier commit, built and installed apart, so that
the run-time benchmark times it beside this checkout's on the same hosts (BENCH_BASELINE_REF).

Built as tests/integration/upgrade/test_upgrade.py builds it: `git archive REF | tar -x` into the run's
work directory, `ansible-galaxy collection build`, then `ansible-galaxy collection install --offline`
into a collections path of its own. Its playbook runs put that path first and the toolchain's
.cache/collections (community.docker, ansible.posix) after it, never this checkout's copy."""

import os
import subprocess

from . import hosts

# The last commit whose role decided in Jinja (vars/main.yml, per-app loops), before plugins/modules/
# uwsgi_config.py, uwsgi_service.py, uwsgi_facts.py and uwsgi_rollback.py took the decisions over.
PREVIOUS = "88cb4545063087591f6141edbf98413537b73d7d"
TOOLCHAIN_COLLECTIONS = hosts.REPO / ".cache" / "collections"


def resolve(ref):
    """The commit BENCH_BASELINE_REF names: '' or off -> None, 'previous' -> PREVIOUS, else the text."""
    text = (ref or "").strip()
    if text.lower() in ("", "0", "off", "no", "false", "none"):
        return None
    return PREVIOUS if text.lower() == "previous" else text


def collections_path(installed):
    """ANSIBLE_COLLECTIONS_PATH of the baseline's runs: its own path, then the toolchain's."""
    return os.pathsep.join([str(installed), str(TOOLCHAIN_COLLECTIONS)])


def build(ref, work_dir, log=None):
    """Build and install the collection of commit `ref` under work_dir; return what was built:
    {ref, commit, short, subject, path (the installed collection), collections_path}."""
    commit = hosts.run(["git", "-C", str(hosts.REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                       log=log).stdout.strip()
    source, dist, installed = work_dir / "source", work_dir / "dist", work_dir / "collections"
    for path in (source, dist):
        path.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(hosts.REPO), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    hosts.run(["ansible-galaxy", "collection", "build", "--force", "--output-path", str(dist), str(source)], log=log)
    tarball = next(dist.glob("pyops-uwsgi-*.tar.gz"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    hosts.run(["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(installed), str(tarball)],
              log=log, env=env)
    subject = hosts.run(["git", "-C", str(hosts.REPO), "log", "-1", "--format=%h %s", commit], log=log).stdout.strip()
    return {"ref": ref, "commit": commit, "short": commit[:7], "subject": subject,
            "path": str(installed / "ansible_collections" / "pyops" / "uwsgi"),
            "collections_path": collections_path(installed)}
