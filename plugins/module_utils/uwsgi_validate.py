# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The role's input rules: every rule that types alone cannot express, checked at once.

``validate(variables, somaxconn)`` returns one message per broken rule and app (an empty list for good
input), in the order of the rules below, each naming the variable (with its index or key), its value
as JSON and the rule. The values of ``uwsgi_production_secrets`` never appear in a message: the rules
on secrets name the app and the variable only.

``variables`` are the role's variables by their full names (``uwsgi_production_apps``, ...) with the
role's defaults laid under them. Their types have been checked by meta/argument_specs.yml, which does
not convert them: a number given where the spec says str is still a number here, and rules reject it
(the rules also do not fail on the shapes the argument spec rejects; they leave them to it).

The rules were Jinja asserts (tasks/preflight.yml up to 0.1.0) and keep their semantics, which are
Python's with Jinja's tests: ``integer`` is an int but not a bool, ``number`` includes bools, a regex
is matched against the value as text (so ``$`` also matches before a final newline, as Python's
``re.match`` does), and ``| int`` turns what it cannot read into 0. After them come the rules that keep
every rendered file's structure (no key or value adds a line, a key or a directive) and identity and
privilege the role's (JINJA_RULES, then RULES).

Plain functions of plain data, tested in-process (tests/unit/plugins/test_uwsgi_validate.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, List, Optional, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_fields as fields
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_host as host_rules
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_injection as injection
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_privilege as privilege
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_shape as shape
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import as_dict

PREFIX = fields.PREFIX
# The directives unit_hardening may set (uwsgi_validate_privilege).
SANDBOXING = privilege.SANDBOXING

# The host's longest allowed listen queue: uWSGI refuses to start with a longer `listen`.
SOMAXCONN_PATH = "/proc/sys/net/core/somaxconn"


# --- The role's variables ----------------------------------------------------------------------------

class Inputs:
    """The variables, the apps and what the rules work out from them once."""

    def __init__(self, variables: Mapping, somaxconn: Optional[int]) -> None:
        self.variables = variables
        self.somaxconn = somaxconn
        # The `role` of the model: the variables without their prefix.
        self.role = {key[len(PREFIX):]: value for key, value in variables.items() if key.startswith(PREFIX)}
        apps = variables.get(PREFIX + "apps")
        # (An app that is not a dict or has no name is the argument spec's to reject.)
        self.apps = [dict({"name": None}, **app) if isinstance(app, Mapping) else {"name": None}
                     for app in apps] if isinstance(apps, list) else []
        # Each app to deploy, with its index; an app with state absent is only removed.
        self.deployed = [(index, app) for index, app in enumerate(self.apps) if app.get("state", "present") != "absent"]
        self.accounts = model.accounts(self.apps, self.role)
        self._options = {}
        self.reported: List[Tuple[str, str]] = []

    def get(self, name: str, default: Any = None) -> Any:
        return self.variables.get(PREFIX + name, default)

    def options(self, index: int) -> dict:
        """The effective options of app `index` (to deploy)."""
        if index not in self._options:
            self._options[index] = _effective_options(self.apps[index], self.role)
        return self._options[index]


def _effective_options(app, role):
    """model.effective_options; for an app whose service keys (crons, caches, ...) have a shape the argument
    spec rejects, the layers the rules read (the derived keys they check are the sockets only)."""
    try:
        return model.effective_options(app, role)
    except (KeyError, TypeError, AttributeError, ValueError):
        merged = dict(model.plugin_options(role))
        merged.update(as_dict(role.get("options")))
        merged.update({"socket": model.unix_socket(app) or None, "http-socket": app.get("http_socket")})
        merged.update(as_dict(app.get("options")))
        return merged


# The rules of the role's Jinja preflight up to 0.1.0, in its order, with its messages.
JINJA_RULES = fields.JINJA_RULES
# Then: an app's HTTPS socket, certificate and key, its release; nothing smuggles a line into a file, identity and
# privilege are the role's; every value has a shape that works where the role puts it.
RULES = JINJA_RULES + fields.LATER_RULES + injection.RULES + privilege.RULES + shape.RULES


def violations(variables: Mapping, somaxconn: Optional[int] = None) -> List[Tuple[str, str]]:
    """(rule, message) of every broken rule, in the order of RULES; `rule` is the rule function's name."""
    inputs = Inputs(variables, somaxconn)
    # What the earlier rules said: a later rule (the injection rule) does not report a variable twice.
    found = inputs.reported = []
    for rule in RULES:
        found += [(rule.__name__.lstrip("_"), message) for message in rule(inputs)]
    return found


def validate(variables: Mapping, somaxconn: Optional[int] = None) -> List[str]:
    """Every violation of the role's input rules, as messages (an empty list when the input is good).

    `somaxconn` is the host's net.core.somaxconn, needed only when needs_somaxconn(variables)."""
    return [message for _rule, message in violations(variables, somaxconn)]


def needs_somaxconn(variables: Mapping) -> bool:
    """Whether some app's effective options may set `listen`, so the host's somaxconn must be read."""
    keys = list(as_dict(variables.get(PREFIX + "options")))
    apps = variables.get(PREFIX + "apps")
    for app in apps if isinstance(apps, list) else []:
        keys += list(as_dict(app.get("options") if isinstance(app, Mapping) else None))
    return "listen" in keys


def validate_host(apps: list, role: dict, isdir: Callable[[str], bool]) -> List[str]:
    """Every violation of the rules that need the host (uwsgi_validate_host), as messages: `apps` are
    uwsgi_production_apps, `role` the role's variables without their prefix, `isdir` the host's answer to
    whether a path is a directory. Run by uwsgi_facts on the host, after validate() passed."""
    variables = {PREFIX + key: value for key, value in role.items()}
    variables[PREFIX + "apps"] = apps
    return host_rules.violations(Inputs(variables, None), isdir)
