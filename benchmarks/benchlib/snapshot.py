"""A copy of this collection, taken when a run starts and used by every playbook of the run.

The role is developed on the same machine while a run lasts (up to an hour): without the copy, an
edit committed half-way would be measured by the later benchmarks only (a re-run would even report
it as a change). The copy goes into the run's work directory and comes first in
ANSIBLE_COLLECTIONS_PATH; results.json records the commit, whether the checkout differed from it,
and a digest of the copied files."""

import hashlib
import os
import pathlib
import shutil

# What Ansible loads of the collection pyops.uwsgi.
PARTS = ("galaxy.yml", "meta", "playbooks", "plugins", "roles")
NAMESPACE = pathlib.Path("ansible_collections", "pyops", "uwsgi")


def digest(root):
    """sha256 over the relative paths and contents of every file under root, in sorted order."""
    sha = hashlib.sha256()
    for path in sorted(p for p in pathlib.Path(root).rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def take(repo, collections_dir, env=None):
    """Copy the collection under collections_dir and put it first in env's ANSIBLE_COLLECTIONS_PATH
    (the other entries stay: community.docker and ansible.posix come from them)."""
    env = os.environ if env is None else env
    target = pathlib.Path(collections_dir) / NAMESPACE
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for part in PARTS:
        source = pathlib.Path(repo) / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, target / part)
    rest = [entry for entry in env.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if entry]
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([str(collections_dir), *rest])
    return {"path": str(target), "sha256": digest(target)}
