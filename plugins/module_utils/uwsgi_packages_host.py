# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""An app's live virtualenv on the host: what it holds, its snapshot made, put back and dropped, pip run into
it, and the app's WSGI callable imported from it in a separate process. The decisions are uwsgi_packages'.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from email.parser import HeaderParser
from typing import Callable

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages as packages
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_host as release_host

BASE_PATH = release_host.BASE_PATH
# The module's run_command: argv -> (rc, stdout, stderr).
Run = Callable[[list], tuple]


def site_packages(venv: str) -> list:
    return sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages")))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _egg_requires(path: str) -> list:
    """The unconditional requirements of an egg-info's requires.txt (its [sections] are extras and markers)."""
    found = []
    for line in _read(os.path.join(path, "requires.txt")).splitlines():
        if line.startswith("["):
            break
        if line.strip():
            found.append(line.strip())
    return found


def installed(venv: str) -> dict:
    """canonical name -> {version, requires, digest} of every distribution in the virtualenv's site-packages;
    digest is the sha256 of its RECORD (what pip wrote for it), or of its metadata for an egg-info."""
    found = {}
    for top in site_packages(venv):
        for meta in sorted(glob.glob(os.path.join(top, "*.dist-info")) + glob.glob(os.path.join(top, "*.egg-info"))):
            egg = meta.endswith(".egg-info")
            text = _read(os.path.join(meta, "PKG-INFO" if egg else "METADATA")) if os.path.isdir(meta) else _read(meta)
            headers = HeaderParser().parsestr(text)
            if not headers.get("Name"):
                continue
            record = _read(os.path.join(meta, "RECORD")) if not egg else text
            found[packages.canonical(headers["Name"])] = {
                "version": headers.get("Version", ""),
                "requires": _egg_requires(meta) if egg else headers.get_all("Requires-Dist") or [],
                "digest": hashlib.sha256(record.encode("utf-8", "replace")).hexdigest(),
            }
    return found


def fingerprint(venv: str) -> dict:
    return {name: (dist["version"], dist["digest"]) for name, dist in installed(venv).items()}


def compared(spec: str) -> str:
    """The specifier to compare for `spec`: a wheel file on the host as `name==version`, as pip compares it (a wheel
    file that is not there stays a path, left to pip, which says it is missing)."""
    wheel = packages.wheel_requirement(spec)
    return wheel if wheel and os.path.isfile(spec.strip()) else spec


def leftovers(venv: str) -> list:
    """What a killed run left beside the virtualenv that recover() sets right."""
    found = [path for path in (packages.staging_of(venv), packages.failed_of(venv)) if os.path.lexists(path)]
    if not os.path.lexists(venv) and os.path.isdir(packages.snapshot_of(venv)):
        found.append(packages.snapshot_of(venv))
    return found


def read_plan(app: dict) -> packages.Plan:
    """What a run does for one app's virtualenv as the host has it now (uwsgi_packages.plan)."""
    venv = app["virtualenv"]
    exists = os.path.exists(os.path.join(venv, "bin", "python"))
    return packages.plan(exists, os.path.isdir(packages.snapshot_of(venv)),
                         why_pip(venv, app, venv_version(venv)) if exists else "")


def due(apps: list) -> dict:
    """app name -> why, for every app whose packages the install step has work for (a virtualenv to make, pip to
    run, a change an earlier run never proved, what a killed run left): read only, for the host read that lets a
    run with nothing to do skip the step's call."""
    found = {}
    for app in packages.wanted_apps(apps):
        left = leftovers(app["virtualenv"])
        if left:
            found[app["name"]] = "a run was killed and left %s" % ", ".join(left)
            continue
        planned = read_plan(app)
        if planned.install or planned.pending:
            found[app["name"]] = planned.why
    return found


def why_pip(venv: str, app: dict, venv_version: str) -> str:
    """Why pip would change the app's virtualenv, '' when it would not (uwsgi_packages.unsatisfied)."""
    specs = [compared(str(spec)) for spec in app.get("packages") or []]
    if app.get("requirements"):
        text = _read(app["requirements"])
        if not text and not os.path.exists(app["requirements"]):
            return "its requirements file %s does not exist" % app["requirements"]
        more, why = packages.requirement_lines(text)
        if why:
            return why
        specs += more
    try:
        from packaging.markers import default_environment  # pylint: disable=import-outside-toplevel
    except ImportError:
        return "the host's Python has no 'packaging' to compare with"
    return packages.unsatisfied(specs, installed(venv), packages.marker_environment(default_environment(), venv_version))


def _run(run: Run, argv: list) -> tuple:
    """(returncode, stdout and stderr) of argv through `run` (the module's run_command: (rc, out, err))."""
    code, out, err = run(argv)
    return code, (out or "") + (err or "")


def create(run: Run, venv: str, python: str) -> tuple:
    """(returncode, output) of `python -m venv`, made at its final path (a virtualenv cannot move)."""
    return _run(run, [python, "-m", "venv", venv])


def pip_install(run: Run, venv: str, app: dict) -> tuple:
    """(returncode, output) of one pip run of the app's packages and requirements file into its virtualenv."""
    argv = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    argv += [str(spec) for spec in app.get("packages") or []]
    if app.get("requirements"):
        argv += ["-r", app["requirements"]]
    return _run(run, argv)


def recover(venv: str) -> list:
    """What a killed run left beside the virtualenv (leftovers()), made right: a partial snapshot removed, a
    virtualenv set aside removed, a snapshot renamed back when the virtualenv is gone (a run killed while putting it
    back). What it did."""
    done = []
    for path in leftovers(venv):
        if path == packages.snapshot_of(venv):
            os.rename(path, venv)
            done.append("put the snapshot back as %s (a run was killed while putting it back)" % venv)
        else:
            shutil.rmtree(path, ignore_errors=True)
            kind = "the partial snapshot " if path == packages.staging_of(venv) else ""
            done.append("removed %s%s" % (kind, path))
    return done


def snapshot(run: Run, venv: str) -> None:
    """A hard-link copy of the virtualenv beside it, renamed into place only once complete. Safe because pip
    replaces a file (unlink, then write) and never writes an installed file in place."""
    staging = packages.staging_of(venv)
    if os.path.lexists(staging):
        shutil.rmtree(staging)
    code, out = _run(run, ["cp", "-a", "-l", venv, staging])
    if code != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError("making the snapshot %s failed: %s" % (staging, out.strip()))
    os.rename(staging, packages.snapshot_of(venv))


def put_back(venv: str) -> None:
    """The snapshot becomes the virtualenv again (two renames); the virtualenv it replaces is removed."""
    aside = packages.failed_of(venv)
    if os.path.lexists(aside):
        shutil.rmtree(aside)
    os.rename(venv, aside)
    os.rename(packages.snapshot_of(venv), venv)
    shutil.rmtree(aside, ignore_errors=True)


def tail(text: str) -> str:
    return release_host.tail(text or "")


def drop_tree(path: str) -> None:
    shutil.rmtree(path)


def drop(paths: list) -> list:
    """Remove the snapshots of changes the run proved; the ones removed."""
    removed = []
    for path in paths or []:
        if path.endswith(packages.SNAPSHOT) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def check_import(run: Run, venv: str, target: dict, user: str, group: str, env: dict, timeout: float) -> tuple:
    """(returncode or None on a time-out, the output's last lines) of importing the app's WSGI callable with the
    virtualenv's Python, in a separate process, as the app's user, in its directory, with its environment."""
    environ = {"PATH": os.path.join(venv, "bin") + ":" + BASE_PATH, "VIRTUAL_ENV": venv, "LANG": "C.UTF-8",
               "HOME": target["cwd"]}
    environ.update({key: str(value) for key, value in (env or {}).items()})
    environ.update(target["env"])
    code, out, _seconds = release_host.run_as(run, [os.path.join(venv, "bin", "python"), "-c", packages.CHECK], user,
                                              group, environ, target["cwd"], timeout)
    return code, release_host.tail(out)


def venv_version(venv: str) -> str:
    """The full version of the Python that made the virtualenv, from its pyvenv.cfg; '' when it does not say."""
    found = {}
    for line in _read(os.path.join(venv, "pyvenv.cfg")).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip()
    return found.get("version_info") or found.get("version") or ""
