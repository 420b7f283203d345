# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The injection rule of the role's inputs: no key or value the role renders into an app's ini, unit,
socket unit or secrets file changes that file's structure (adds a line, a key or a directive).

Plain functions of plain data; the values of the secrets never appear in a message.
"""

from __future__ import annotations

import re

from typing import Any, List, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_fields import PREFIX, VARIABLE_NAME, app_dicts
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import (
    to_json, is_list, match, as_dict,
)


# --- Everything the role renders into a file: one rule ------------------------------------------------
# Every key and value that reaches an app's ini, unit, socket unit or secrets file is one line of it (or
# part of one), so none may hold a line break or NUL: it would start a line, a key or a directive of its
# own. A line break is anything Python's str.splitlines() breaks at. Besides: an ini key must not hold
# '=' nor start with ';', '#' or '[' (a comment or a section) nor begin or end with a space; a unit key
# is a directive name; a value at the end of a unit line must not end with a backslash (systemd would
# join the next line to it); a path in the unit's ExecStart= command line must not split it.
LINE_BREAKS = "\n\r\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
UNIT_KEY = r"[A-Za-z][A-Za-z0-9]*"
COMMAND_LINE_UNSAFE = r"[\s\"'\\$]"
# The characters that the environment, secrets and crons rules already report in their values.
REPORTED_BREAKS = "\n\r"
# The kinds of field of rendered() that are keys (the message's variable shows them).
KEY_KINDS = ("ini key", "unit key", "variable name", "key")

LINE_BREAK_RULE = "must not hold a line break or NUL: the role writes it into %s, where it would start a line of its own"
INI_KEY_RULE = ("is not a usable ini key: it must not be empty, hold '=', start with ';', '#' or '[', or begin or end with"
                " a space (uWSGI would read another key, a comment or a section)")
UNIT_KEY_RULE = "is not a systemd directive name: it must be letters and digits, starting with a letter"
BACKSLASH_RULE = "must not end with a backslash: systemd would join the next line of %s to it"
COMMAND_LINE_RULE = ("must not hold spaces, quotes, backslashes or '$': it is part of the ExecStart= command line of every"
                     " app's unit, where they would split or change its arguments")
# The master fifo is written to by the unit's ExecStop= shell command.
SHELL_PATH = r"/[A-Za-z0-9_./-]*"
SHELL_PATH_RULE = ("must be an absolute path of letters, digits, '_', '.', '-' and '/': the app's unit writes to it in its"
                   " ExecStop= shell command")


def key_path(base: str, key: Any) -> str:
    """A variable's key in messages: `.key` when it is a plain name, else `[<key as JSON>]`."""
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return "%s.%s" % (base, key)
    return "%s[%s]" % (base, to_json(key))


def value_items(path: str, value: Any) -> List[Tuple[str, Any]]:
    """(path, item) of a scalar value, or of each item of a list."""
    if is_list(value):
        return [("%s[%d]" % (path, number), item) for number, item in enumerate(value)]
    return [(path, value)]


def _mapping(base, value, key_kind, value_kind, target):
    """The fields of a dict that is rendered key by key."""
    fields = []
    for key, item in as_dict(value).items():
        path = key_path(base, key)
        fields.append((path, key, key_kind, target))
        fields += [(item_path, element, value_kind, target) for item_path, element in value_items(path, item)]
    return fields


def rendered(inputs: Any) -> List[Tuple[str, Any, str, str]]:
    """(variable, value, kind, file) of every key and value the role renders into a file."""
    every_ini, every_unit = "every app's ini", "every app's unit"
    fields = _mapping("uwsgi_production_options", inputs.get("options"), "ini key", "value", every_ini)
    fields += _mapping("uwsgi_production_unit_hardening", inputs.get("unit_hardening"), "unit key", "unit value", every_unit)
    for name in ("user", "group"):
        fields.append((PREFIX + name, inputs.get(name), "unit value", "the unit, socket unit and ini of each app that runs as it"))
    fields.append((PREFIX + "stop_timeout", inputs.get("stop_timeout"), "unit value", every_unit))
    fields.append((PREFIX + "stats_group", inputs.get("stats_group"), "unit value", "every app's unit and ini"))
    for name in ("config_dir", "venv"):
        fields.append((PREFIX + name, inputs.get(name), "command line", every_unit))
    for index, app in enumerate(inputs.apps):
        fields.append(("uwsgi_production_apps[%d].name" % index, app.get("name"), "unit value", "the app's unit and ini"))
    for index, app in inputs.deployed:
        base = "uwsgi_production_apps[%d]" % index
        ini, unit = "the app's ini", "the app's unit"
        for key in ("module", "wsgi_file", "chdir", "virtualenv", "procname_prefix"):
            fields.append(("%s.%s" % (base, key), app.get(key), "value", ini))
        for key in ("socket", "http_socket", "user", "group", "socket_group"):
            fields.append(("%s.%s" % (base, key), app.get(key), "unit value", "the app's ini, unit and socket unit"))
        fields.append((base + ".https.address", as_dict(app.get("https")).get("address"), "unit value",
                       "the app's ini and socket unit"))
        fields += _mapping(base + ".environment", app.get("environment"), "variable name", "reported value", unit)
        fields += [(path, item, "unit value", unit) for path, item in value_items(base + ".writable_paths", app.get("writable_paths"))]
        fields += _mapping(base + ".unit_hardening", app.get("unit_hardening"), "unit key", "unit value", unit)
        fields += _mapping(base + ".options", app.get("options"), "ini key", "value", ini)
        if is_list(app.get("mules")):
            fields += [(path, item, "value", ini) for path, item in value_items(base + ".mules", app["mules"])]
        fields += [(path, item, "value", ini) for path, item in value_items(base + ".locks", app.get("locks"))]
        for kind in ("crons", "timers", "caches"):
            for number, item in app_dicts(app, kind):
                item_base = "%s.%s[%d]" % (base, kind, number)
                for key, value in item.items():
                    if kind == "caches" and key == "options":
                        fields += _mapping(item_base + ".options", value, "key", "value", ini)
                    else:
                        fields.append(("%s.%s" % (item_base, key), value,
                                       "reported value" if (kind, key) == ("crons", "command") else "value", ini))
        fields.append((base + ".stats.address", as_dict(app.get("stats")).get("address"), "value", ini))
    for name, env in as_dict(inputs.get("secrets")).items():
        for key, value in as_dict(env).items():
            path = key_path(key_path("uwsgi_production_secrets", name), key)
            fields += [(path, key, "variable name", "the app's secrets file"), (path, value, "secret", "the app's secrets file")]
    return fields


def breaks(value: str, reported: str = "") -> bool:
    """Whether a value holds a line break or NUL that no earlier rule reports."""
    if any(character in value for character in reported):
        return False
    return any(character in value for character in LINE_BREAKS)


def _ini_key_broken(key):
    return not key or "=" in key or key[0] in ";#[" or key != key.strip()


# Values are never shown for the secrets: the message names the app and the variable only.
def _file_structure(inputs):
    for path, value, kind, target in rendered(inputs):
        if not isinstance(value, str):
            continue
        if kind == "secret":
            if breaks(value, REPORTED_BREAKS):
                yield ("%s holds a line break or NUL (its value is not shown): the role writes it into %s, one variable"
                       " per line." % (path, target))
        elif kind == "variable name" and not match(VARIABLE_NAME, value):
            continue  # the environment and secrets rules report it
        elif breaks(value, REPORTED_BREAKS if kind == "reported value" else ""):
            if kind in KEY_KINDS:  # the path shows the key
                yield "%s %s." % (path, LINE_BREAK_RULE % target)
            else:
                yield "%s = %s %s." % (path, to_json(value), LINE_BREAK_RULE % target)
        elif kind == "ini key" and _ini_key_broken(value):
            yield "%s %s." % (path, INI_KEY_RULE)
        elif kind == "unit key" and not re.fullmatch(UNIT_KEY, value):
            yield "%s %s." % (path, UNIT_KEY_RULE)
        elif kind == "unit value" and value.endswith("\\"):
            yield "%s = %s %s." % (path, to_json(value), BACKSLASH_RULE % target)
        elif kind == "command line" and re.search(COMMAND_LINE_UNSAFE, value):
            yield "%s = %s %s." % (path, to_json(value), COMMAND_LINE_RULE)
        elif kind == "value" and path.endswith(".master-fifo") and not re.fullmatch(SHELL_PATH, value):
            yield "%s = %s %s." % (path, to_json(value), SHELL_PATH_RULE)


RULES = (_file_structure,)
