# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The injection rule of the role's inputs, derived from the renderer itself: every file the role renders
for an app (ini, unit, socket unit, secrets file), rendered from the inputs by uwsgi_render's own functions,
reads exactly the lines the renderer meant, whatever the values.

The renderer gives each file as a list of lines (uwsgi_render.Line: a literal line, or a key/value pair).
Its text is parsed here as its reader would (uWSGI's ini grammar; systemd's unit and EnvironmentFile
grammar) and compared, line by line, with what each meant line reads as on its own (a pair: exactly that
key and value). Where they differ, the input that did it is found by walking every key and string value
of the inputs, with its variable path, for the one that holds the offending character and appears in the
offending line. No list of what is rendered where is kept here.

Plain functions of plain data; the values of the secrets never appear in a message.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render as render
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_fields import PREFIX
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import to_json, is_list, as_dict


# --- The readers' grammars ----------------------------------------------------------------------------
# A line break is anything Python's str.splitlines() breaks at, and NUL: stricter than any one reader, so
# that no value can start a line for some reader of the file.
LINE_BREAKS = "\n\r\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
PHYSICAL_LINES = re.compile("[%s]" % re.escape(LINE_BREAKS))
# A systemd directive name as the role reads it (systemd's own is looser; the role needs no other).
UNIT_KEY = r"[A-Za-z][A-Za-z0-9]*"
COMMENTS = (";", "#")
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# uWSGI reads any non-empty text before the first '=' as a key.
INI_KEY = r".+"

LINE_BREAK_RULE = "must not hold a line break or NUL: the role writes it into %s, where it would start a line of its own"
INI_KEY_RULE = ("is not a usable ini key: it must not be empty, hold '=', start with ';', '#' or '[', or begin or end with"
                " a space (uWSGI would read another key, a comment or a section)")
UNIT_KEY_RULE = "is not a systemd directive name: it must be letters and digits, starting with a letter"
BACKSLASH_RULE = "must not end with a backslash: systemd would join the next line of %s to it"
SECRET_RULE = ("holds a line break or NUL (its value is not shown): the role writes it into %s, one variable"
               " per line")
STRUCTURE_RULE = "makes %s read otherwise than the role means (line %d: %s)"


def _read_entry(line: str, key_grammar: str) -> Optional[tuple]:
    """What a reader makes of one logical line: None (blank, comment), a section, a (key, value) pair when
    the text before its first '=' is a key of `key_grammar`, else a line that sets nothing. uWSGI's ini takes
    any non-empty key (INI_KEY); systemd a directive name (UNIT_KEY), an EnvironmentFile a variable name."""
    line = line.strip()
    if not line or line.startswith(COMMENTS):
        return None
    if line.startswith("["):
        return ("section", line)
    key, equals, value = line.partition("=")
    if equals and re.fullmatch(key_grammar, key.strip()):
        return ("pair", key.strip(), value.strip())
    return ("nothing", line)


def parse(text: str, grammar: str) -> List[Tuple[int, int, Optional[tuple]]]:
    """(first line, last line, entry) of each logical line of a file's text as its reader reads it: uWSGI's
    ini ("ini"), or systemd's unit or EnvironmentFile grammar ("unit", "env"), where a line ending with a backslash goes on in the next."""
    lines = PHYSICAL_LINES.split(text[:-1] if text.endswith("\n") else text)
    entries, number = [], 0
    while number < len(lines):
        first, line = number, lines[number]
        while (grammar != "ini" and not line.strip().startswith(COMMENTS) and line.rstrip().endswith("\\")
               and number + 1 < len(lines)):
            number += 1
            line = line.rstrip()[:-1] + " " + lines[number]
        entries.append((first, number, _entry(line, grammar)))
        number += 1
    return entries


def _meant(line: Any, grammar: str) -> Optional[tuple]:
    """What the renderer means by one line: a pair is exactly its key and value; a literal line is what its
    reader makes of it alone."""
    if isinstance(line, tuple):
        return ("pair", line[0], line[1].strip())
    return _entry(line, grammar)


def _entry(line: str, grammar: str) -> Optional[tuple]:
    return _read_entry(line, {"ini": INI_KEY, "env": ENV_NAME}.get(grammar, UNIT_KEY))


def misread(lines: List[Any], grammar: str, separator: str) -> List[int]:
    """The index of each line the renderer meant that its file's text, as its reader parses it, does not
    read as meant (a line it is continued into is not counted again)."""
    text = render.text(lines, separator)
    if len(PHYSICAL_LINES.split(text[:-1])) != len(lines):
        return [index for index, line in enumerate(lines) if PHYSICAL_LINES.search(_formatted(line, separator))]
    bad = []
    for first, last, entry in parse(text, grammar):
        if entry != _meant(lines[first], grammar) or any(_meant(line, grammar) for line in lines[first + 1:last + 1]):
            bad.append(first)
    return bad


def _formatted(line: Any, separator: str) -> str:
    return "%s%s%s" % (line[0], separator, line[1]) if isinstance(line, tuple) else line


# --- Every file of every app to deploy, as the renderer means it ----------------------------------------
# (file, grammar, separator) of each file, in the order of messages.
FILES = (("ini", "ini", render.INI_SEPARATOR), ("unit", "unit", render.UNIT_SEPARATOR),
         ("socket unit", "unit", render.UNIT_SEPARATOR), ("secrets file", "env", render.UNIT_SEPARATOR))


def _app_lines(app: Mapping, role: Mapping, secrets: Mapping) -> Dict[str, List[Any]]:
    """The lines of each file of an app, rendered as the role renders them (uwsgi_config.wanted_texts)."""
    options = model.ini_options(app, role)
    activated = model.activated(app, role, model.effective_options(app, role))
    env = secrets.get(app["name"])
    has_secrets = isinstance(env, Mapping) and bool(env)
    return {
        "ini": render.ini_lines(app, options),
        "unit": render.service_lines(app, role, options, has_secrets),
        "socket unit": render.socket_lines(app, role) if activated else [],
        "secrets file": render.env_lines(app, env) if has_secrets else [],
    }


# With no app to deploy, the role's variables are checked in the files of this one, as they will be in those
# of the first app.
STAND_IN = {"name": "app", "module": "app:application"}


def rendered_lines(inputs: Any, changes: Optional[Mapping] = None) -> Iterator[Tuple[Optional[int], str, str, str, List[Any]]]:
    """(app index, file, grammar, separator, lines) of every file of every app to deploy (with `changes` laid
    over each app); with none, of STAND_IN (index None). The rule runs after the others, on whatever they
    left: an app the renderer cannot render (a shape the argument spec or an earlier rule rejects) is skipped."""
    secrets = as_dict(inputs.get("secrets"))
    for index, app in inputs.deployed or [(None, STAND_IN)]:
        try:
            files = _app_lines(dict(app, **(changes or {})), inputs.role, secrets)
        except Exception:  # pylint: disable=broad-except  # an earlier rule or the argument spec reports it
            continue
        for name, grammar, separator in FILES:
            yield index, name, grammar, separator, files[name]


# --- Blame: the input that made a line read otherwise ----------------------------------------------------

def strings(base: str, value: Any) -> Iterator[Tuple[str, str, bool]]:
    """(variable path, text, is a key) of every key and string value in a variable, at any depth."""
    if isinstance(value, str):
        yield base, value, False
    elif isinstance(value, Mapping):
        for key, item in value.items():
            path = key_path(base, key)
            if isinstance(key, str):
                yield path, key, True
            yield from strings(path, item)
    elif is_list(value):
        for number, item in enumerate(value):
            yield from strings("%s[%d]" % (base, number), item)


def inputs_of(inputs: Any, index: int, file: str) -> List[Tuple[str, str, bool]]:
    """Every key and string value that may reach a file of app `index`: the role's variables, that app's item
    of uwsgi_production_apps and, for its secrets file, its secrets only."""
    found = []
    for name, value in inputs.variables.items():
        if name == PREFIX + "apps":
            if index is not None and is_list(value):
                found += strings("%s[%d]" % (name, index), value[index])
        elif name == PREFIX + "secrets":
            if file == "secrets file" and index is not None:
                app_name = inputs.apps[index].get("name")
                found += strings(key_path(name, app_name), as_dict(value).get(app_name))
        elif name.startswith(PREFIX):
            found += strings(name, value)
    return found


def _blame(line: Any, file: str, separator: str, candidates: List[Tuple[str, str, bool]]) -> Tuple[str, list]:
    """The rule a misread line breaks, and the inputs that hold its offending character and appear in it."""
    formatted = _formatted(line, separator)
    if PHYSICAL_LINES.search(formatted):
        return "break", [c for c in candidates if PHYSICAL_LINES.search(c[1]) and _appears(c[1], formatted)]
    if isinstance(line, tuple) and _entry(formatted, _grammar(file)) != _meant(line, _grammar(file)):
        rule = "ini key" if file == "ini" else "unit key"
        return rule, [c for c in candidates if c[2] and c[1] == line[0]]
    if formatted.rstrip().endswith("\\"):
        return "backslash", [c for c in candidates if c[1].endswith("\\") and formatted.endswith(c[1])]
    return "structure", []


def _grammar(file: str) -> str:
    return next(grammar for name, grammar, _separator in FILES if name == file)


def _appears(value: str, line: str) -> bool:
    """Whether a value appears in a line: as it is, or (where the renderer escapes it) each of its pieces
    between line breaks."""
    return value in line or all(piece in line for piece in PHYSICAL_LINES.split(value) if piece)


def _findings(inputs: Any) -> Tuple[Dict[tuple, List[str]], List[str]]:
    """{(variable, text, is a key, rule): [file, ...]} of every blamed input, in order, and the messages of
    the misread lines no input could be blamed for."""
    blamed, unexplained = {}, []
    for index, file, grammar, separator, lines in rendered_lines(inputs):
        candidates = None
        for number in misread(lines, grammar, separator):
            candidates = candidates if candidates is not None else inputs_of(inputs, index, file)
            rule, guilty = _blame(lines[number], file, separator, candidates)
            for path, value, is_key in guilty:
                files = blamed.setdefault((path, value, is_key, rule), [])
                if file not in files:
                    files.append(file)
            if not guilty:
                shown = "not shown" if file == "secrets file" else to_json(_formatted(lines[number], separator))
                owner = PREFIX + ("apps[%d]" % index if index is not None else "options")
                unexplained.append("%s %s." % (owner, STRUCTURE_RULE % ("the app's " + file, number + 1, shown)))
    return blamed, unexplained


# --- Messages --------------------------------------------------------------------------------------------

def _target(path: str, files: List[str]) -> str:
    """The files a variable reached, as the message names them."""
    names = files[0] if len(files) == 1 else "%s and %s" % (", ".join(files[:-1]), files[-1])
    return ("the app's " if path.startswith((PREFIX + "apps[", PREFIX + "secrets")) else "every app's ") + names


def _message(path: str, value: str, is_key: bool, rule: str, files: List[str]) -> str:
    target = _target(path, files)
    if path.startswith(PREFIX + "secrets") and not is_key:
        return "%s %s." % (path, SECRET_RULE % target)
    text = {"break": LINE_BREAK_RULE % target, "ini key": INI_KEY_RULE, "unit key": UNIT_KEY_RULE,
            "backslash": BACKSLASH_RULE % target}[rule]
    if is_key:  # the path shows the key
        return "%s %s." % (path, text)
    return "%s = %s %s." % (path, to_json(value), text)


def _reported(inputs: Any, path: str, value: str, is_key: bool) -> bool:
    """Whether an earlier rule already refused this variable's line break (the environment, secrets and crons
    rules do, a key as it is; uwsgi_validate.violations keeps their messages)."""
    paths = [path]
    if is_key and path.endswith("]"):
        paths.append(path[:path.rindex("[")] + "." + value)
    return any(message.startswith(name + " ") and ("line break" in message or "one-line" in message)
               for _rule, message in getattr(inputs, "reported", ()) for name in paths)


def _file_structure(inputs):
    blamed, unexplained = _findings(inputs)
    for (path, value, is_key, rule), files in blamed.items():
        if not (rule == "break" and _reported(inputs, path, value, is_key)):
            yield _message(path, value, is_key, rule, files)
    yield from unexplained


# --- What is not the file's structure: kept explicit ------------------------------------------------------
# Two values are parsed again inside one line, by another reader than the file's: the paths in the unit's
# ExecStart= (systemd splits its command line into arguments, expands '$' and '%') and the master fifo in its
# ExecStop= (a shell command). The line reads as meant whatever they hold; what their reader then makes of
# them is this small explicit list, with the variables it is about.
COMMAND_LINE_UNSAFE = r"[\s\"'\\$]"
COMMAND_LINE_RULE = ("must not hold spaces, quotes, backslashes or '$': it is part of the ExecStart= command line of every"
                     " app's unit, where they would split or change its arguments")
COMMAND_LINE_VARIABLES = ("config_dir", "venv")
SHELL_PATH = r"/[A-Za-z0-9_./-]*"
SHELL_PATH_RULE = ("must be an absolute path of letters, digits, '_', '.', '-' and '/': the app's unit writes to it in its"
                   " ExecStop= shell command")


def _command_lines(inputs):
    for name in COMMAND_LINE_VARIABLES:
        value = inputs.get(name)
        if isinstance(value, str) and not breaks(value) and re.search(COMMAND_LINE_UNSAFE, value):
            yield "%s = %s %s." % (PREFIX + name, to_json(value), COMMAND_LINE_RULE)
    for path, value, is_key in strings(PREFIX + "options", inputs.get("options")):
        if path == PREFIX + "options.master-fifo" and not breaks(value) and not re.fullmatch(SHELL_PATH, value):
            yield "%s = %s %s." % (path, to_json(value), SHELL_PATH_RULE)
    for index, app in inputs.deployed:
        base = "uwsgi_production_apps[%d].options" % index
        for path, value, is_key in strings(base, app.get("options")):
            if path == base + ".master-fifo" and not breaks(value) and not re.fullmatch(SHELL_PATH, value):
                yield "%s = %s %s." % (path, to_json(value), SHELL_PATH_RULE)


# --- Helpers the other rules share ----------------------------------------------------------------------

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


def breaks(value: str, reported: str = "") -> bool:
    """Whether a value holds a line break or NUL (and none of `reported`, which an earlier rule reports)."""
    if any(character in value for character in reported):
        return False
    return any(character in value for character in LINE_BREAKS)


RULES = (_file_structure, _command_lines)
