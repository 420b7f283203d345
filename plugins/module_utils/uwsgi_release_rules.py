# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The input rules of an app's `release` and of the role's release variables: each message names the
variable, its value and the rule. uwsgi_validate runs them with every other rule, before anything on the
host changes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release

# Keys an app with a release must leave to the release: they are the release's code and virtualenv.
RELEASE_OWNS = ("chdir", "virtualenv", "packages", "requirements", "wsgi_file")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SPECIFIER_RULE = ("must be a requirement specifier, a wheel or a directory (one line, not starting with '-': pip "
                  "options are not passed)")


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _text(value: object) -> bool:
    return isinstance(value, str) and value != "" and not CONTROL.search(value)


def _argument(value: object) -> bool:
    """A value passed to a command as an argument of its own: one line, not an option."""
    return _text(value) and not value.startswith("-")


def _relative(value: object) -> bool:
    """A path inside the release's code: relative, without '..', one line."""
    if not _text(value) or value.startswith("/"):
        return False
    return ".." not in value.split("/")


def _source(base: str, source: object):
    if source is None:
        return
    if not isinstance(source, Mapping):
        yield "%s.source = %s must be a dict with one of %s." % (base, _json(source), ", ".join(release.SOURCES))
        return
    kinds = [key for key in release.SOURCES if source.get(key) is not None]
    unknown = sorted(set(source) - set(release.SOURCES) - {"strip_components"})
    if len(kinds) > 1 or unknown:
        yield ("%s.source = %s must set exactly one of %s (or be left out when your own tasks put the code in place)."
               % (base, _json(source), ", ".join(release.SOURCES)))
        return
    kind = kinds[0] if kinds else ""
    value = source.get(kind)
    path = "%s.source.%s" % (base, kind)
    if kind == "pip":
        if not isinstance(value, list) or not value:
            yield "%s = %s must be a non-empty list of requirement specifiers." % (path, _json(value))
        for number, item in enumerate(value if isinstance(value, list) else []):
            if not _text(item) or item.startswith("-"):
                yield "%s[%d] = %s %s." % (path, number, _json(item), SPECIFIER_RULE)
    elif kind == "requirements" and not (_text(value) and value.startswith("/")):
        yield "%s = %s must be the absolute path of a requirements file on the host." % (path, _json(value))
    elif kind == "archive" and not _text(value):
        yield "%s = %s must be the path of an archive on the controller." % (path, _json(value))
    elif kind == "git":
        if not (isinstance(value, Mapping) and _argument(value.get("repo"))
                and (value.get("version") is None or _argument(value.get("version")))):
            yield ("%s = %s must be a dict with repo (the repository's URL or path) and optionally version (a branch, tag"
                   " or commit), each one line, not starting with '-' (git would read an option, such as --upload-pack,"
                   " a command it runs as root)." % (path, _json(value)))
    strip = source.get("strip_components")
    if strip is not None and not (kind == "archive" and isinstance(strip, int) and not isinstance(strip, bool)
                                  and 0 <= strip <= 10):
        yield ("%s.source.strip_components = %s must be a whole number from 0 to 10, and only with archive."
               % (base, _json(strip)))


LISTS = (("packages", "requirement specifiers"), ("shared", "paths relative to the release's code"),
         ("commands", "commands, each a list of arguments"))


def _lists(base: str, spec: Mapping):
    # A list that is not one is refused whole: a string would be read as its characters, a number would stop
    # the check.
    items = {}
    for key, what in LISTS:
        value = spec.get(key)
        if value is not None and not isinstance(value, list):
            yield "%s.%s = %s must be a list of %s." % (base, key, _json(value), what)
        items[key] = value if isinstance(value, list) else []
    yield from _items(base, spec, items)


def _items(base: str, spec: Mapping, items: dict):
    for number, item in enumerate(items["packages"]):
        if not _text(item) or item.startswith("-"):
            yield "%s.packages[%d] = %s %s." % (base, number, _json(item), SPECIFIER_RULE)
    requirements = spec.get("requirements")
    if requirements is not None and not _relative(requirements):
        yield ("%s.requirements = %s must be a path relative to the release's code (a requirements file it ships),"
               " without '..'." % (base, _json(requirements)))
    for number, item in enumerate(items["shared"]):
        if not _relative(item) or item.strip("/") in ("", "."):
            yield ("%s.shared[%d] = %s must be a path relative to the release's code, without '..' (it becomes a link"
                   " to the app's shared directory)." % (base, number, _json(item)))
    for number, argv in enumerate(items["commands"]):
        if not (isinstance(argv, list) and argv and all(isinstance(a, (str, int, float)) and not isinstance(a, bool)
                                                        and "\x00" not in str(a) for a in argv) and _text(str(argv[0]))):
            yield ("%s.commands[%d] = %s must be a command as a non-empty list of arguments (run without a shell), for"
                   " example [python, manage.py, migrate]." % (base, number, _json(argv)))
    timeout = spec.get("verify_timeout")
    if timeout is not None and not (isinstance(timeout, int) and not isinstance(timeout, bool) and 1 <= timeout <= 3600):
        yield "%s.verify_timeout = %s must be a whole number of seconds from 1 to 3600." % (base, _json(timeout))
    root = spec.get("root")
    if root is not None and not (_text(root) and root.startswith("/") and ".." not in root.split("/")
                                 and re.fullmatch(r"[A-Za-z0-9_./@+-]+", root)):
        yield ("%s.root = %s must be an absolute path of letters, digits and _ . / @ + - (its `current` link is written"
               " into the app's ini)." % (base, _json(root)))


def app_violations(index: int, app: Mapping) -> Iterator[str]:
    """The messages of one app's `release` (an app without one has none)."""
    spec = app.get("release")
    if spec is None:
        return
    base = "uwsgi_production_apps[%d].release" % index
    if not isinstance(spec, Mapping):
        yield "%s = %s must be a dict with at least an id." % (base, _json(spec))
        return
    if not release.valid_id(spec.get("id")):
        number = isinstance(spec.get("id"), (int, float)) and not isinstance(spec.get("id"), bool)
        yield ("%s.id = %s must name the release: 1-64 letters, digits, '.', '_', '+' or '-', starting with a letter or"
               " digit (a version or a commit; it names the release's directory).%s"
               % (base, _json(spec.get("id")), " It is a number: YAML reads 2.10 as 2.1; quote it (id: \"2.10\")."
                  if number else ""))
    owned = [key for key in RELEASE_OWNS if app.get(key) is not None]
    if owned:
        yield ("uwsgi_production_apps[%d] (app %s) sets release and %s: an app with a release runs the release's code"
               " with its own virtualenv, so it sets neither chdir, virtualenv, packages, requirements nor wsgi_file"
               " (module is imported from the release's code)." % (index, _json(app.get("name")), ", ".join(owned)))
    yield from _source(base, spec.get("source"))
    yield from _lists(base, spec)


def role_violations(variables: Mapping) -> Iterator[str]:
    keep = variables.get("uwsgi_production_keep_releases")
    if keep is not None and not (isinstance(keep, int) and not isinstance(keep, bool) and keep >= 2):
        yield ("uwsgi_production_keep_releases = %s must be a whole number of at least 2 (the current release and the"
               " one before it, which a failed release goes back to)." % _json(keep))
    where = variables.get("uwsgi_production_releases_dir")
    if where is not None and not (_text(where) and where.startswith("/") and re.fullmatch(r"[A-Za-z0-9_./@+-]+", where)
                                  and ".." not in where.split("/")):
        yield ("uwsgi_production_releases_dir = %s must be an absolute path of letters, digits and _ . / @ + -."
               % _json(where))
