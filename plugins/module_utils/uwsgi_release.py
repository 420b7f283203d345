# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Releases of an app's code: where each lives, whether a run builds, switches to or finishes one, which
are pruned, and when a chain reload has moved every worker. Pure functions over plain data: no host.

An app with a ``release`` runs from ``<releases_dir>/<name>/current``, a symlink to
``releases/<id>``, which holds ``code/`` (the app's code), ``venv/`` (its own virtualenv) and, once its
build, commands and import check all passed, the marker file ``release.json``. uWSGI's workers load the
app after they fork (``lazy-apps``) through the loader below, which resolves ``current`` in each worker:
a chain reload then moves the workers one at a time to whatever ``current`` names, code and virtualenv
together. docs/releases.md tells the whole story.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field

RELEASES_DIR = "/srv/uwsgi-releases"
KEEP_RELEASES = 3
RUN_TAG = "uwsgi_production_run"  # the tag of the role's tasks that act on running apps
MARKER = "release.json"
STATE = "release-state.json"
SOURCES = ("pip", "requirements", "archive", "git")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
VERIFY_TIMEOUT = 120
LOADER_NAME = "release_loader.py"
# The loader's environment: the release each worker resolves, and what it loads from it.
CURRENT_VAR, MODULE_VAR = "PYOPS_RELEASE_CURRENT", "PYOPS_RELEASE_MODULE"

LOADER = '''"""Installed by the Ansible role pyops.uwsgi.uwsgi_production. Do not edit.

The WSGI file of every app with releases. uWSGI imports it in each worker after the fork (lazy-apps), so
each worker resolves the app's `current` symlink itself: a chain reload moves the workers one at a time
to the release `current` names, its code and its virtualenv together (uWSGI runs with no-site and no
virtualenv of its own). The role runs the same text, in a separate process, to check a release before
any worker sees it.
"""
import glob
import importlib
import os
import site
import sys

_release = os.path.realpath(os.environ["%(current)s"])
_code = os.path.join(_release, "code")
sys.path.insert(0, _code)
for _dir in sorted(glob.glob(os.path.join(_release, "venv", "lib", "python*", "site-packages"))):
    site.addsitedir(_dir)
os.chdir(_code)
_module, _sep, _name = os.environ["%(module)s"].partition(":")
application = getattr(importlib.import_module(_module), _name or "application")
if not callable(application):
    raise TypeError("%%s:%%s is %%r, not a WSGI callable" %% (_module, _name or "application", application))
''' % {"current": CURRENT_VAR, "module": MODULE_VAR}


@dataclass(frozen=True)
class Layout:
    """Where one app's releases live on the host."""
    root: str

    @property
    def current(self) -> str:
        return os.path.join(self.root, "current")

    @property
    def releases(self) -> str:
        return os.path.join(self.root, "releases")

    @property
    def shared(self) -> str:
        return os.path.join(self.root, "shared")

    @property
    def state(self) -> str:
        return os.path.join(self.root, STATE)

    def release(self, release_id: str) -> str:
        return os.path.join(self.releases, release_id)

    def code(self, release_id: str) -> str:
        return os.path.join(self.releases, release_id, "code")

    def venv(self, release_id: str) -> str:
        return os.path.join(self.releases, release_id, "venv")

    def marker(self, release_id: str) -> str:
        return os.path.join(self.releases, release_id, MARKER)


@dataclass(frozen=True)
class Spec:
    """What the user asked of an app's release (its `release` key), checked by the validator first."""
    app: str
    id: str
    source: str                       # one of SOURCES, or "" when the user's own tasks put the code in place
    value: object                     # the source's value: a list of requirement specifiers, a path, a dict
    packages: tuple = ()              # more requirement specifiers for the release's virtualenv
    requirements: str = ""            # a requirements file, relative to the release's code
    shared: tuple = ()                # paths relative to the code, linked to the app's shared directory
    commands: tuple = ()              # argv lists run in the code before the switch, as the app's user
    verify_timeout: int = VERIFY_TIMEOUT
    layout: Layout = field(default_factory=lambda: Layout(RELEASES_DIR))

    @property
    def fingerprint(self) -> str:
        """What the release was built from: the same id must always mean the same build."""
        what = {"source": self.source, "value": self.value, "packages": list(self.packages),
                "requirements": self.requirements}
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def root(app: dict, role: dict) -> str:
    release = app.get("release") or {}
    return release.get("root") or os.path.join(role.get("releases_dir") or RELEASES_DIR, app["name"])


def spec(app: dict, role: dict) -> Spec | None:
    """The app's release, or None for an app without one (it keeps chdir, virtualenv and packages)."""
    release = app.get("release")
    if not release:
        return None
    source = release.get("source") or {}
    kind = next((key for key in SOURCES if source.get(key) is not None), "")
    value = source.get(kind) if kind else None
    if kind == "pip":
        value = list(value)
    return Spec(
        app=app["name"], id=str(release["id"]), source=kind, value=value,
        packages=tuple(release.get("packages") or ()), requirements=release.get("requirements") or "",
        # normpath: "media/" or "./media" is the path "media" (a trailing slash made the link's own directory).
        shared=tuple(os.path.normpath(path) for path in release.get("shared") or ()),
        commands=tuple(tuple(str(a) for a in c) for c in release.get("commands") or ()),
        verify_timeout=int(release.get("verify_timeout") or VERIFY_TIMEOUT), layout=Layout(root(app, role)))


def build_steps(wanted: Spec, app: dict) -> dict:
    """What the role's build tasks do for one release, each a plain value their loops read: the git checkout
    or the archive to unpack (None when the source is another), the requirement specifiers and the requirements
    file pip installs into the release's virtualenv."""
    source = (app.get("release") or {}).get("source") or {}
    requirements = wanted.value if wanted.source == "requirements" else (
        os.path.join(wanted.layout.code(wanted.id), wanted.requirements) if wanted.requirements else "")
    return {
        "name": wanted.app, "id": wanted.id, "code": wanted.layout.code(wanted.id), "venv": wanted.layout.venv(wanted.id),
        "git": dict({"version": "HEAD"}, **wanted.value) if wanted.source == "git" else None,
        "archive": wanted.value if wanted.source == "archive" else None,
        "unpack_options": ["--strip-components=%d" % source["strip_components"]] if source.get("strip_components") else [],
        "pip_names": (list(wanted.value) if wanted.source == "pip" else []) + list(wanted.packages),
        "pip_requirements": requirements,
    }


def ini_options(app: dict, role: dict) -> dict:
    """The options an app with a release gets in place of chdir, module/wsgi-file and virtualenv."""
    layout = Layout(root(app, role))
    return {
        "chdir": layout.root,
        "module": None,
        "wsgi-file": os.path.join(role["config_dir"], LOADER_NAME),
        "virtualenv": None,
        "lazy-apps": True,
        "no-site": True,
        "env": ["%s=%s" % (CURRENT_VAR, layout.current), "%s=%s" % (MODULE_VAR, app["module"])],
    }


# --- What the host has --------------------------------------------------------------------------------

@dataclass
class HostReleases:
    """An app's releases as the host has them (read by uwsgi_facts)."""
    current: str = ""                 # the id `current` names, "" when there is none
    switched_at: float = 0.0          # when `current` was last switched (its mtime)
    complete: dict = field(default_factory=dict)   # id -> its marker (fingerprint, built_at, import_seconds)
    incomplete: list = field(default_factory=list)  # ids with a directory but no marker: unfinished or failed
    previous: str = ""                # the release served before the last switch
    stale_workers: list = field(default_factory=list)  # ids of workers spawned before the last switch

    @classmethod
    def from_dict(cls, data: dict | None) -> "HostReleases":
        data = data or {}
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True)
class Plan:
    """What a run does with an app's release."""
    build: bool = False     # build the release (and check it) beside the running one
    switch: bool = False    # point `current` at it
    finish: bool = False    # move the workers that still run an earlier release (an interrupted chain)
    error: str = ""
    notes: tuple = ()


def plan(wanted: Spec, host: HostReleases) -> Plan:
    """What this run does for one app's release, given what the host has."""
    rid, notes = wanted.id, []
    marker = host.complete.get(rid)
    if marker is not None and marker.get("fingerprint") != wanted.fingerprint:
        return Plan(error=(
            "release %s of app '%s' was built from another source (%s) than the one given now (%s): a release id "
            "names one build. Give the new build a new id, or remove %s to build this id again."
            % (rid, wanted.app, marker.get("fingerprint"), wanted.fingerprint, wanted.layout.release(rid))))
    build = marker is None
    if build and rid in host.incomplete:
        notes.append("release %s of app '%s' has an unfinished or failed build on the host: it is built again from "
                     "scratch." % (rid, wanted.app))
    switch = host.current != rid
    if switch and not build and host.current:
        older = marker.get("built_at", 0) < (host.complete.get(host.current) or {}).get("built_at", 0)
        notes.append("app '%s' %s release %s, kept on the host: no build."
                     % (wanted.app, "goes back to" if older else "switches to", rid))
    finish = not switch and bool(host.stale_workers)
    if finish:
        notes.append("app '%s': an earlier run switched to release %s but not every worker moved to it (workers %s): "
                     "the chain reload is finished now." % (wanted.app, rid, ", ".join(map(str, host.stale_workers))))
    return Plan(build=build, switch=switch, finish=finish, notes=tuple(notes))


def prune(host: HostReleases, keep: int, current: str, building: str = "") -> list:
    """The releases to remove: the complete ones beyond the `keep` newest, and every unfinished one, never the
    current release, the previous one, or the one being built."""
    protected = {current, host.previous, building} - {""}
    newest = sorted(host.complete, key=lambda rid: (host.complete[rid].get("built_at", 0), rid), reverse=True)
    kept = set(newest[:max(keep, 1)])
    return sorted(rid for rid in list(host.complete) + list(host.incomplete) if rid not in kept | protected)


# --- The chain reload ---------------------------------------------------------------------------------

def serving_workers(stats: dict) -> list:
    """The workers that count for a chain reload: those with a process (cheaped workers are skipped)."""
    return [worker for worker in stats.get("workers") or [] if worker.get("pid") and worker.get("status") != "cheap"]


def needs_spare(stats: dict) -> bool:
    """Whether a chain reload needs one more worker first: with a single worker serving (the cheaper algorithm keeps
    one at rest on a small host), replacing it would leave none to serve for its whole import. A cheaped slot, woken
    by `+` on the master fifo, serves while it is replaced. (With `processes: 1` there is no slot: it stalls.)"""
    cheap = [worker for worker in stats.get("workers") or [] if worker.get("status") == "cheap"]
    return len(serving_workers(stats)) == 1 and bool(cheap)


def spare_ready(before: set, stats: dict) -> bool:
    """Whether a worker woken for the chain (one not in `before`) accepts requests with the app loaded."""
    return any(worker["pid"] not in before and worker.get("accepting") and worker.get("apps")
               for worker in serving_workers(stats))


def chain_progress(old_pids: set, stats: dict) -> tuple:
    """(done, waiting) of a chain reload started when the workers had `old_pids`: done when every worker
    is a new process that accepts requests and has loaded the app; waiting, the ids of those that are not."""
    waiting = [worker["id"] for worker in serving_workers(stats)
               if worker["pid"] in old_pids or not worker.get("accepting") or not worker.get("apps")]
    return (not waiting and bool(serving_workers(stats)), waiting)


def chain_deadline(workers: int, import_seconds: float) -> float:
    """Seconds a chain reload of `workers` workers may take: the master starts the next worker once the
    previous one accepts (it looks every second), so each takes its import time and up to a second more."""
    return max(1, workers) * (1.5 * max(import_seconds, 0.1) + 2.0) + 15.0


def stale_workers(stats: dict, switched_at: float) -> list:
    """The workers spawned before `current` was switched: they may still run an earlier release."""
    return [worker["id"] for worker in serving_workers(stats) if worker.get("last_spawn", 0) < int(switched_at)]


def valid_id(value: object) -> bool:
    # fullmatch: with re.match, ID_PATTERN's '$' also matches before a final newline ("1.0\n").
    return isinstance(value, str) and re.fullmatch(ID_PATTERN, value) is not None and value not in (".", "..")


# --- Switching and going back -------------------------------------------------------------------------

def switch_allowed(run_tags: list, skip_tags: list) -> bool:
    """Whether this run moves apps to their new releases: only when it runs the role's actions on running apps too (its
    tasks tagged uwsgi_production_run). A run limited to writing files (--tags uwsgi_production_configure, or
    --skip-tags uwsgi_production_run) leaves every app on the release it serves; the next full run switches."""
    return bool(set(run_tags or ["all"]) & {"all", RUN_TAG}) and RUN_TAG not in set(skip_tags or [])


def load_by_chain(running: bool, changed: list) -> bool:
    """Whether the switch (uwsgi_config's, uwsgi_release_switch) itself moves a running app to the release it switched to, with a chain reload:
    only when nothing else of the app changed. Otherwise the service step's start, reload or restart loads it."""
    return running and not changed


def revert_action(master_alive: bool, chain_finished: bool) -> str:
    """How an app goes back to the release it served: a chain reload while its master lives and its last chain
    finished (no stall); else a restart (its master is gone, or a worker of the failed release never accepted)."""
    return "chain" if master_alive and chain_finished else "restart"
