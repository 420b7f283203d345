# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The shape rules of the role's inputs: every value that becomes a path, an address, a unit directive,
a request or an ini value has a shape that works there, checked before anything on the host changes.

Absolute paths where a path is meant; unix socket paths that fit a socket address; TCP addresses that
parse (uwsgi_address, the one HOST:PORT parser), with no hostname where systemd's ListenStream= takes the
address; scalar unit values; health-check requests without control characters; no uWSGI expansion in a
value the role writes into an ini for the app; a unix socket that uWSGI binds itself lies where the app's
sandbox lets it. Each rule yields messages naming the variable, its value and the rule, and skips what an
earlier rule (uwsgi_validate_fields, uwsgi_validate_injection) reports. Plain functions of plain data.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from typing import Any, List, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_address as host_port
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_fields import host_port_form
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_injection import (
    LINE_BREAKS, breaks, inputs_of, key_path, rendered_lines, value_items,
)
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import (
    as_dict, is_list, is_str, to_json,
)

# A unix socket address (struct sockaddr_un) holds a path of 108 bytes, its final NUL included.
SUN_PATH = 108
ABSOLUTE_RULE = "must be an absolute path (starting with '/'): %s"
ABSOLUTE_PATHS = {
    "venv": "the unit of every app runs its bin/uwsgi, and systemd takes no relative command",
    "config_dir": "it holds every app's ini, which the unit of every app names",
}
APP_PATHS = {
    "chdir": "uWSGI changes into it before it loads the app; a relative one would depend on the directory uWSGI starts in",
    "virtualenv": "uWSGI loads the app's packages from it; a relative one would depend on the directory uWSGI starts in",
}
WRITABLE_RULE = ABSOLUTE_RULE % "systemd's ReadWritePaths= takes absolute paths only (a leading '-' may say the path may be missing)"
SUN_PATH_RULE = ("is %d bytes long: a unix socket path must fit a socket address (sun_path holds %d bytes with its final NUL,"
                 " so at most %d)")
ADDRESS_RULE = ("must be HOST:PORT with an IPv4 address (127.0.0.1), an IPv6 address in brackets ([::1]), a hostname (only"
                " without socket activation) or nothing (every address) as HOST, and a port from 1 to 65535")
UNIT_VALUE_RULE = ("must be a scalar (string, number, boolean; null leaves the directive out) or a list of scalars (the"
                   " directive is repeated): a dict or a nested list cannot be written as a unit directive")
HEALTH_RULE = ("must hold no space or control character (CR, LF, NUL, ...): the health check sends it in its request, where"
               " it would end the request line or add a header")
HEALTH_PATH_RULE = "must start with '/' and " + HEALTH_RULE[len("must "):]
EXPANSION = re.compile(r"%|[$@=!]\(")
# A cron's command has its '%' doubled by the role (model.cron_lines); uWSGI expands the rest there too.
CRON_EXPANSION = re.compile(r"[$@=!]\(")
EXPANSION_RULE = ("must not hold '%%', '$(', '@(', '=(' or '!(': uWSGI expands them in %s (%%(option), %%n, $(VARIABLE),"
                  " @(file), ...), so the value it used would not be the one given")
CRON_EXPANSION_RULE = ("must not hold '$(', '@(', '=(' or '!(': uWSGI expands them in the app's ini ($(VARIABLE), @(file), ...);"
                       " put a command that needs them in a script")
SANDBOX_RULE = ("must lie where the app can create it: with socket activation off uWSGI binds it itself, inside the app's"
                " sandbox (ProtectSystem=strict), which lets it write only in %s")
# The options whose values are listening addresses, and those of the app's own unix sockets.
LISTEN_OPTIONS = ("socket", "http-socket", "https-socket")
SOCKET_OPTIONS = ("socket", "stats")


def _app_base(index):
    return "uwsgi_production_apps[%d]" % index


def _strings(path, value):
    """(path, item) of each string of a value or of its list."""
    return [(item_path, item) for item_path, item in value_items(path, value) if is_str(item)]


# --- Paths ----------------------------------------------------------------------------------------------
def _absolute_paths(inputs):
    for name, why in ABSOLUTE_PATHS.items():
        value = inputs.get(name)
        if name == "venv" and inputs.get("install_method") == "system":
            continue  # Debian's uWSGI: the role's virtualenv is not used
        if is_str(value) and not value.startswith("/"):
            yield "uwsgi_production_%s = %s %s." % (name, to_json(value), ABSOLUTE_RULE % why)
    for index, app in inputs.deployed:
        for key, why in APP_PATHS.items():
            value = app.get(key)
            if is_str(value) and value and not value.startswith("/"):
                yield "%s.%s = %s %s." % (_app_base(index), key, to_json(value), ABSOLUTE_RULE % why)
        for path, item in _strings(_app_base(index) + ".writable_paths", app.get("writable_paths")):
            if not item.lstrip("-+").startswith("/"):
                yield "%s = %s %s." % (path, to_json(item), WRITABLE_RULE)


def unix_sockets(inputs: Any, index: int, app: dict) -> List[Tuple[str, str]]:
    """(variable, path) of each unix socket app `index` binds: its socket, its options' and the baseline's
    socket and stats (the role's own stats socket is in the app's runtime directory)."""
    found = []
    own, baseline = as_dict(app.get("options")), as_dict(inputs.get("options"))
    for key in SOCKET_OPTIONS:
        if key in own:
            where = "%s.options.%s" % (_app_base(index), key)
        elif key == "socket":
            where = "%s.socket" % _app_base(index)
        elif key in baseline:
            where = "uwsgi_production_options.%s" % key
        else:
            continue
        values = inputs.options(index).get(key)
        found += [(where, item) for item in (values if is_list(values) else [values])
                  if is_str(item) and item.startswith("/")]
    return found


def _socket_lengths(inputs):
    for index, app in inputs.deployed:
        for where, path in unix_sockets(inputs, index, app):
            size = len(path.encode("utf-8"))
            if size >= SUN_PATH and not breaks(path):
                yield "%s = %s %s." % (where, to_json(path), SUN_PATH_RULE % (size, SUN_PATH, SUN_PATH - 1))


def _writable_roots(app, role):
    """The directories a sandbox with ProtectSystem=strict lets the app write in; None without it."""
    hardening = model.hardening(app, role)
    if str(hardening.get("ProtectSystem")).lower() != "strict":
        return None
    roots = [model.runtime_dir(app["name"])]
    if model.cache_stores(app):
        roots.append(model.state_dir(app["name"]))
    for item in model.as_list(hardening.get("ReadWritePaths")):
        roots += [part.lstrip("-+") for part in str(item).split()] if item else []
    return [root.rstrip("/") or "/" for root in roots]


def _socket_sandbox(inputs):
    for index, app in inputs.deployed:
        try:
            if model.activated(app, inputs.role, inputs.options(index)):
                continue
            roots = _writable_roots(app, inputs.role)
        except (KeyError, TypeError, AttributeError, ValueError):
            continue  # a shape the argument spec or an earlier rule rejects
        if roots is None:
            continue
        for where, path in unix_sockets(inputs, index, app):
            folder = path.rsplit("/", 1)[0] or "/"
            if not breaks(path) and not any(folder == root or folder.startswith(root.rstrip("/") + "/") for root in roots):
                yield "%s = %s %s." % (where, to_json(path), SANDBOX_RULE % " and ".join(roots))


# --- Addresses ------------------------------------------------------------------------------------------
def _listen_values(index, app):
    """(variable, address, with the port checked by an earlier rule) of each TCP address the app names."""
    base = _app_base(index)
    found = []
    if is_str(app.get("http_socket")) and host_port_form(app["http_socket"]):
        found.append((base + ".http_socket", app["http_socket"]))
    https = app.get("https")
    if isinstance(https, Mapping) and is_str(https.get("address")) and host_port_form(https["address"]):
        found.append((base + ".https.address", https["address"]))
    return found + _option_addresses(base + ".options", app.get("options"))


def _option_addresses(base, options):
    found = []
    for key in LISTEN_OPTIONS:
        for path, item in _strings(key_path(base, key), as_dict(options).get(key)):
            address = model.https_address(item) if key == "https-socket" else item
            if ":" in address and not address.startswith(("/", "@", "fd://")) and not breaks(address):
                found.append((path, address))
    return found


def _address_violation(where, value, hostname):
    try:
        host_port.parse(value, hostname=hostname)
    except ValueError as error:
        return "%s = %s %s: %s." % (where, to_json(value), ADDRESS_RULE, error)
    return None


def _addresses(inputs):
    activation = bool(inputs.get("socket_activation"))
    for where, value in _option_addresses("uwsgi_production_options", inputs.get("options")):
        message = _address_violation(where, value, hostname=not activation)
        if message:
            yield message
    for index, app in inputs.deployed:
        try:
            activated = model.activated(app, inputs.role, inputs.options(index))
        except (KeyError, TypeError, AttributeError, ValueError):
            activated = model.socket_activation(app, inputs.role)
        for where, value in _listen_values(index, app):
            message = _address_violation(where, value, hostname=not activated)
            if message:
                yield message


# --- Unit values, requests, ini values ------------------------------------------------------------------
def _not_scalar(value):
    items = value if is_list(value) else [value]
    return any(isinstance(item, Mapping) or is_list(item) for item in items)


def _unit_values(inputs):
    sources = [("uwsgi_production_unit_hardening", inputs.get("unit_hardening"))]
    sources += [(_app_base(index) + ".unit_hardening", app.get("unit_hardening")) for index, app in inputs.deployed]
    for base, hardening in sources:
        for key, value in as_dict(hardening).items():
            if _not_scalar(value):
                yield "%s = %s %s." % (key_path(base, key), to_json(value), UNIT_VALUE_RULE)
    for index, app in inputs.deployed:
        for path, item in value_items(_app_base(index) + ".writable_paths", app.get("writable_paths")):
            if item is not None and not is_str(item):
                yield "%s = %s must be a string: %s." % (path, to_json(item), WRITABLE_RULE[len("must be "):])


def _unsafe_request_text(value):
    return any(ord(character) < 33 or ord(character) == 127 or character in LINE_BREAKS for character in value)


def _health_requests(inputs):
    role_health = as_dict(inputs.get("health_check"))
    sources = [("uwsgi_production_health_check", role_health)]
    sources += [(_app_base(index) + ".health_check", as_dict(app.get("health_check"))) for index, app in inputs.deployed]
    for base, health in sources:
        for key in ("path", "host"):
            value = health.get(key)
            # A path without its leading '/' is the health check rule's (uwsgi_validate_fields).
            if is_str(value) and _unsafe_request_text(value) and (key == "host" or value.startswith("/")):
                rule = HEALTH_PATH_RULE if key == "path" else HEALTH_RULE
                yield "%s.%s = %s %s." % (base, key, to_json(value), rule)


def _own_ini_value(path):
    """Whether a rendered field is one the role writes into an app's ini from the app's own keys (the
    options are uWSGI's own language, where its expansion is meant)."""
    return not (path.startswith("uwsgi_production_options") or re.match(r"uwsgi_production_apps\[\d+\]\.options", path))


def _ini_values(inputs):
    """(variable, value) of every string value (not a key) that the renderer writes into some app's ini as (part
    of) an option's value, found in the ini the renderer makes (uwsgi_validate_injection.rendered_lines)."""
    seen = set()
    # Both the ini an app gets under socket activation and without it (where its sockets are its own lines).
    files = list(rendered_lines(inputs)) + list(rendered_lines(inputs, {"socket_activation": False}))
    for index, file, _grammar, _separator, lines in files:
        if file != "ini":
            continue
        values = [line[1] for line in lines if isinstance(line, tuple)]
        for path, value, is_key in inputs_of(inputs, index, file):
            if is_key or not value or path in seen:
                continue
            if any(value in text or value.replace("%", "%%") in text for text in values):
                seen.add(path)
                yield path, value


def _uwsgi_expansion(inputs):
    for path, value in _ini_values(inputs):
        if not _own_ini_value(path) or breaks(value):
            continue
        if re.search(r"\.crons\[\d+\]\.command$", path):
            if CRON_EXPANSION.search(value):
                yield "%s = %s %s." % (path, to_json(value), CRON_EXPANSION_RULE)
        elif EXPANSION.search(value):
            yield "%s = %s %s." % (path, to_json(value), EXPANSION_RULE % "the app's ini")


RULES = (_absolute_paths, _socket_lengths, _addresses, _unit_values, _health_requests, _uwsgi_expansion,
         _socket_sandbox)
