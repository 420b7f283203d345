# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The Jinja-compatible shims of the input rules: Jinja's tests and filters, as the role's Jinja asserts
(tasks/preflight.yml up to 0.1.0) applied them, so the rules in Python keep their semantics.

``integer`` is an int but not a bool, ``number`` includes bools, a regex is matched against the value as
text (so ``$`` also matches before a final newline, as Python's ``re.match`` does), and ``| int`` turns
what it cannot read into 0. Plain functions of plain data.
"""

from __future__ import annotations

import datetime
import json
import re

from collections.abc import Container, Iterable, Mapping
from typing import Any

DIGITS = r"^[0-9]+$"


def to_json(value: Any) -> str:
    """Ansible's to_json: json.dumps with its defaults (", " and ": ", ASCII only); dates as ISO text."""
    return json.dumps(value, default=_json_default)


def _json_default(value):
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def as_text(value: Any) -> str:
    """A value as Jinja writes it into a message."""
    return value if isinstance(value, str) else str(value)


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_int(value: Any) -> bool:
    """Jinja's `integer` test: an int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Jinja's `number` test: bools are numbers."""
    return isinstance(value, (int, float)) or type(value).__name__ == "Decimal"


def is_list(value: Any) -> bool:
    """A YAML list: Jinja's `sequence`, neither a string nor a mapping."""
    return isinstance(value, (list, tuple))


def is_iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


def match(pattern: str, value: Any) -> bool:
    """Ansible's `match` test: re.match on the value as text."""
    return re.match(pattern, as_text(value)) is not None


def search(pattern: str, value: Any) -> bool:
    return re.search(pattern, as_text(value)) is not None


def to_int(value: Any, default: int = 0) -> int:
    """Jinja's `int` filter: int(), else int(float()), else 0."""
    try:
        return int(value, 10) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def length(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 1


def whole(value: Any, pattern: str = DIGITS) -> bool:
    """An int, or a string of digits (as an inventory file gives numbers)."""
    return is_int(value) or (is_str(value) and match(pattern, value))


def as_dict(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def combine(*dicts: Any) -> dict:
    """Ansible's combine (not recursive)."""
    result = {}
    for other in dicts:
        other = as_dict(other)
        if result == {} or result == other:
            result = dict(other)
        else:
            result = dict(result)
            result.update(other)
    return result


def unique(items: Iterable) -> list:
    found = []
    for item in items:
        if item not in found:
            found.append(item)
    return found


def intersect(first: Iterable, second: Container) -> list:
    return unique([item for item in first if item in second])
