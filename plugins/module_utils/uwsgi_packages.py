# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The `packages` and `requirements` of apps without a release: whether pip would change an app's live
virtualenv, what a run does about it, how its WSGI callable is imported to check it, and what the messages
say. Pure functions over plain data: no host (uwsgi_packages_host carries the decisions out).

A run that would change a virtualenv first keeps a snapshot of it beside it (``<virtualenv>.pyops-snapshot``,
a hard-link copy: pip never writes an installed file in place, it unlinks and writes anew), then installs,
then imports the app's WSGI callable in a separate process. If either fails the snapshot is renamed back, so
the running app keeps its code and its next reload is safe. Otherwise the snapshot stays until the run's
service step has reloaded the app and it answered its health check; the rollback renames it back.
A snapshot found at the start of a run is a change no run proved yet (a killed run, a run limited by tags):
the app is checked and reloaded as if its packages had just changed.
docs/many-apps.md tells the user's side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

SNAPSHOT = ".pyops-snapshot"          # the live virtualenv before this change, beside it
STAGING = ".pyops-snapshot-partial"   # a snapshot being made: never put back
FAILED = ".pyops-failed"              # a virtualenv set aside while its snapshot is put back
IMPORT_TIMEOUT = 120
# The check's environment: what it imports, and from where (the app's own chdir and pythonpath).
TARGET_VAR, FILE_VAR, CALLABLE_VAR, PATH_VAR = ("PYOPS_CHECK_MODULE", "PYOPS_CHECK_WSGI_FILE", "PYOPS_CHECK_CALLABLE",
                                                "PYOPS_CHECK_PYTHONPATH")
# What a check outside uWSGI cannot import: an app that needs uWSGI's own module at import time.
# A wheel file named by its absolute path: /dir/name-version[-build]-python-abi-platform.whl
WHEEL_FILE = re.compile(r"^/(?:[^/]+/)*(?P<name>[A-Za-z0-9._]+)-(?P<version>[A-Za-z0-9.!+_]+)(?:-\d[A-Za-z0-9._]*)?"
                        r"-[A-Za-z0-9._]+-[A-Za-z0-9._]+-[A-Za-z0-9._]+\.whl$")
UWSGI_ONLY = re.compile(r"^ModuleNotFoundError: No module named 'uwsgi'$", re.MULTILINE)

CHECK = '''import importlib, importlib.util, os, sys
for _dir in reversed([d for d in os.environ.get("%(path)s", "").split(os.pathsep) if d]):
    sys.path.insert(0, _dir)
sys.path.insert(0, os.getcwd())
_file, _module = os.environ.get("%(file)s"), os.environ.get("%(module)s")
_name = os.environ.get("%(callable)s") or "application"
if _file:
    _spec = importlib.util.spec_from_file_location("uwsgi_file_check", _file)
    _loaded = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_loaded)
else:
    _module, _sep, _own = _module.partition(":")
    _name = _own or _name
    _loaded = importlib.import_module(_module)
_app = getattr(_loaded, _name)
if not callable(_app):
    raise TypeError("%%s is %%r, not a WSGI callable" %% (_name, _app))
''' % {"path": PATH_VAR, "file": FILE_VAR, "module": TARGET_VAR, "callable": CALLABLE_VAR}


def snapshot_of(venv: str) -> str:
    return venv.rstrip("/") + SNAPSHOT


def staging_of(venv: str) -> str:
    return venv.rstrip("/") + STAGING


def failed_of(venv: str) -> str:
    return venv.rstrip("/") + FAILED


def wanted_apps(apps: list) -> list:
    """The apps (present, without a release) that list packages or a requirements file."""
    return [app for app in apps if app.get("state", "present") == "present" and not app.get("release")
            and (app.get("packages") or app.get("requirements"))]


# --- Would pip change anything? -----------------------------------------------------------------------

def is_direct(spec: str) -> bool:
    """A directory, a wheel or archive, a URL or a `name @ url`: pip alone can tell what it holds."""
    text = spec.strip()
    return (text.startswith(("/", ".", "~")) or "://" in text or "@" in text or "/" in text
            or text.endswith((".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2")))


def wheel_requirement(spec: str) -> str:
    """`name==version` of a wheel file named by its absolute path ('' for any other specifier): pip installs such
    a wheel only when that version of its distribution is not installed ("already installed with the same version
    as the provided wheel"), so comparing name and version, with its dependencies, is pip's own decision. The
    name and version come from the file name (PEP 427: name-version[-build]-python-abi-platform.whl)."""
    match = WHEEL_FILE.match(spec.strip())
    return "%s==%s" % (match.group("name"), match.group("version")) if match else ""


def requirement_lines(text: str) -> tuple:
    """(specifiers, why pip must decide) of a requirements file's text: each line's specifier; a line with an
    option (-r, -c, -e, --index-url, --hash...), an environment variable or a direct reference leaves it to pip."""
    specs, joined = [], text.replace("\\\n", "")
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-") or " -" in line or "${" in line:
            return specs, "its requirements file has a line only pip reads (%s)" % line
        if is_direct(line):
            return specs, "its requirements file names %s, which only pip can compare" % line
        specs.append(line)
    return specs, ""


def marker_environment(base: dict, venv_version: str) -> dict:
    """The marker environment of the virtualenv's Python: the host's, with the virtualenv's Python version."""
    env = dict(base)
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", venv_version or "")
    if match:
        env["python_version"] = "%s.%s" % match.group(1, 2)
        env["python_full_version"] = "%s.%s.%s" % (match.group(1), match.group(2), match.group(3) or "0")
    return env


def unsatisfied(specs: list, installed: dict, env: dict, requirement: Any = None) -> str:
    """Why pip would change the virtualenv ('' when it would not): a specifier, or one of the dependencies of
    what satisfies it (recursively, markers evaluated for the virtualenv's Python), not installed or not in
    the version asked. installed: canonical name -> {version, requires}. requirement: packaging's class."""
    if requirement is None:
        from packaging.requirements import Requirement as requirement  # pylint: disable=import-outside-toplevel
    todo, seen = [(spec, "") for spec in specs], set()
    while todo:
        text, extra = todo.pop()
        if is_direct(text):
            return "%s is a path or URL: pip alone can tell what it holds" % text
        try:
            req = requirement(text)
        except Exception:  # pylint: disable=broad-except  # packaging's InvalidRequirement: pip says why
            return "%s is not a plain requirement specifier" % text
        if req.marker is not None and not req.marker.evaluate(dict(env, extra=extra)):
            continue
        name = canonical(req.name)
        dist = installed.get(name)
        if dist is None:
            return "%s is not installed" % req.name
        if req.specifier and not req.specifier.contains(dist["version"], prereleases=True):
            return "%s %s is installed, %s is asked" % (req.name, dist["version"], req)
        for wanted_extra in [""] + sorted(req.extras):
            if (name, wanted_extra) not in seen:
                seen.add((name, wanted_extra))
                todo += [(dep, wanted_extra) for dep in dist.get("requires") or []]
    return ""


def canonical(name: str) -> str:
    """A distribution's name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def fingerprint_changed(before: dict, after: dict) -> list:
    """The distributions pip added, removed or rewrote: name -> (version, RECORD digest) before and after."""
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


# --- What a run does ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What this run does with one app's virtualenv."""
    create: bool = False     # make the virtualenv (python -m venv) first
    install: bool = False    # snapshot (unless one is kept), run pip, compare
    check: bool = False      # import the app's callable afterwards (always after a change)
    pending: bool = False    # a snapshot an earlier run left: a change no run proved yet
    why: str = ""


def plan(venv_exists: bool, snapshot_exists: bool, why_pip: str) -> Plan:
    """What a run does for one app: why_pip is unsatisfied()'s answer ('' when pip would change nothing)."""
    if not venv_exists:
        return Plan(create=True, install=True, check=True, why="its virtualenv does not exist yet")
    return Plan(install=bool(why_pip), check=snapshot_exists, pending=snapshot_exists,
                why=why_pip or ("an earlier run changed its packages and never proved them" if snapshot_exists else ""))


def import_target(options: dict) -> dict:
    """What uWSGI imports for the app, from its effective options: the check's environment and directory."""
    pythonpath = options.get("pythonpath") or []
    pythonpath = [pythonpath] if isinstance(pythonpath, str) else [str(item) for item in pythonpath]
    module = options.get("module") or options.get("wsgi") or ""
    return {
        "cwd": options.get("chdir") or "/",
        "env": {TARGET_VAR: str(module), FILE_VAR: str(options.get("wsgi-file") or options.get("file") or ""),
                CALLABLE_VAR: str(options.get("callable") or ""), PATH_VAR: os.pathsep.join(pythonpath)},
        "label": str(module or options.get("wsgi-file") or options.get("file") or ""),
    }


def check_unavailable(output: str) -> bool:
    """Whether a failed import check failed only because the app needs uWSGI's own `uwsgi` module at import
    time, which no process outside uWSGI has: the reload and its health check then prove the change."""
    lines = output.rstrip("\n").splitlines()
    return bool(lines) and UWSGI_ONLY.match(lines[-1]) is not None


# --- Messages -----------------------------------------------------------------------------------------

def failure(host: str, app: str, what: str, output: str, restored: str) -> str:
    """The message of an app whose new packages failed to install or import. restored: 'snapshot' (its
    virtualenv as before this run), 'removed' (a virtualenv this run made), or why it could not be put back."""
    if restored == "snapshot":
        after = ("Its virtualenv was put back as it was before this run, and the app was not reloaded: it still "
                 "serves its old code, and its next reload or restart loads that code.")
    elif restored == "removed":
        after = ("The virtualenv this run made for it was removed; the app had none before, so it serves no code of "
                 "this run.")
    else:
        after = "Its virtualenv could NOT be put back (%s): the app may be DOWN at its next reload or restart." % restored
    text = "App '%s' on host %s: its new packages were NOT applied: %s. %s" % (app, host, what, after)
    if output:
        text += "\nLast lines of its output:\n" + output
    return text


def restore_report(text: str, host: str, restored: dict, outcome: dict) -> str:
    """The rollback's message with, per app whose packages this run changed, whether its old virtualenv serves
    again. An app brought back by the configuration's rollback (`outcome`) serves again only when that rollback
    says it answers; one that answers nothing is named as DOWN."""
    if not restored:
        return text
    lines = [text, "", "Packages on host %s:" % host]
    for name, entry in restored.items():
        error = entry.get("error")
        if not entry.get("restored"):
            lines.append("- app '%s': its virtualenv could NOT be put back: %s; it may be DOWN." % (name, error))
            continue
        if entry.get("action") == "service":
            brought = outcome.get(name) or {}
            health = brought.get("health") or {}
            error = brought.get("error") or health.get("msg") or (None if brought else "it was not brought back")
        if entry.get("action") == "none":
            lines.append("- app '%s': its virtualenv was put back before any reload; it still serves its old code."
                         % name)
        elif error:
            lines.append("- app '%s': its virtualenv was put back, but the app is DOWN: %s" % (name, error))
        else:
            how = {"reload": "reloaded", "restart": "restarted",
                   "service": "brought back with its last good configuration"}[entry["action"]]
            lines.append("- app '%s': its virtualenv was put back and the app %s; it answers its health check "
                         "again: it serves its old code." % (name, how))
    return "\n".join(lines)


def restore_action(touched: bool, files_changed: bool, active: bool) -> str:
    """How an app whose old virtualenv was put back serves its old code again: not at all when no reload reached it
    (it still runs the old code), by the configuration's rollback when its files changed too, else a reload
    while it runs (it keeps serving) or a restart."""
    if not touched:
        return "none"
    if files_changed:
        return "service"
    return "reload" if active else "restart"
