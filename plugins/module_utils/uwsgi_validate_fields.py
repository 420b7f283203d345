# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The field rules of the role's inputs: each variable's and each app's values, and how they relate (the
rules of the role's Jinja preflight up to 0.1.0, with its messages, then HTTPS and releases).

Each rule is a function of the inputs (uwsgi_validate.Inputs) yielding its messages, each naming the
variable (with its index or key), its value as JSON and the rule. Plain functions of plain data.
"""

from __future__ import annotations

import re

from collections.abc import Mapping
from typing import Any, List, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_address as host_port
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_rules as release_rules
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import (
    to_json, DIGITS, as_text, is_str, is_int, is_number, is_list, is_iterable, match, search, to_int, length, whole, as_dict, combine, unique, intersect,
)


PREFIX = "uwsgi_production_"

# Options that must be whole numbers, with their smallest allowed value. 0 would turn harakiri,
# max-requests, max-worker-lifetime and reload-on-rss off: an option is removed with null instead.
INTEGER_OPTIONS = {
    "harakiri": 1,
    "worker-reload-mercy": 1,
    "max-requests": 1,
    "max-worker-lifetime": 1,
    "reload-on-rss": 1,
    "processes": 1,
    "listen": 1,
    "cheaper": 0,
    "cheaper-initial": 0,
    "cheaper-busyness-min": 0,
    "cheaper-busyness-max": 0,
}

# Worker counts that contradict each other, when both are set: (low, high, strict, why).
WORKER_RULES = (
    ("cheaper", "processes", True, "cheaper is how many of the processes stay when idle"),
    ("cheaper", "cheaper-initial", False, "uWSGI starts cheaper-initial workers and never goes below cheaper"),
    ("cheaper-initial", "processes", False, "uWSGI cannot start more workers than processes"),
    ("cheaper-busyness-min", "cheaper-busyness-max", True,
     "workers are killed below the minimum busyness and spawned above the maximum"),
)

# An app's keys that must be text when set (Ansible's `str` type turns a number or a list into text
# instead of rejecting it, and does not change the variable).
TEXT_KEYS = ("module", "wsgi_file", "chdir", "virtualenv", "socket", "http_socket", "procname_prefix", "user",
             "group", "requirements")

NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
ACCOUNT_NAME = r"^[a-z_][a-z0-9_-]{0,31}$"
MULE_FILE = r"^/.+\.py$"
MULE_FUNCTION = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"
LOCK_NAME = r"^[A-Za-z][A-Za-z0-9_-]*$"
CACHE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
CACHE_OPTION_KEY = r"^[a-z_]+$"
CACHE_OPTION_VALUE = r"^[A-Za-z0-9_.:;@/-]+$"
SIGNED_DIGITS = r"^-?[0-9]+$"

# [lowest, highest] of each cron time field; -N means every N (-1: every).
CRON_RANGES = {"minute": (-59, 59), "hour": (-23, 23), "day": (-31, 31), "month": (-12, 12), "week": (-7, 7)}
CRON_TIME_RULE = ("must be a whole number in range (minute -59..59, hour -23..23, day -31..31 and month -12..12 but"
                  " not 0, week -7..7): N runs at N, -1 at every one, -N at every Nth; leave it out for every one")
CRON_RULES = dict(
    {"command": "must be a one-line shell command (the master runs it with /bin/sh as the app's user)",
     "harakiri": "must be a whole number of seconds (0 turns the cron's harakiri off)"},
    **{field: CRON_TIME_RULE for field in CRON_RANGES})
TIMER_RANGES = {"signal": (0, 255), "seconds": (1, 999999999)}
CACHE_RULES = {
    "name": ("must be a unique name of letters, digits, '_', '-' or '.', starting with a letter or digit (the app"
             " names the cache by it, and cache2 splits its value at ',' and '=')"),
    "items": ("must be a whole number of at least 2 (uWSGI keeps the first item for itself, so 100 items hold 99"
              " values)"),
    "blocksize": "must be a whole number of bytes, at least 1 (the largest value the cache holds)",
    "store": ("must be true, false or a unique file name without '/' (the store is a file in the app's state directory,"
              " /var/lib/uwsgi-<name>, which the app's user owns)"),
    "options": "must map cache2 keys (letters and '_') to numbers or words without ',', '=' or spaces",
}
STATS_RULES = {
    "unix": "must be left out with type unix (the socket is /run/uwsgi-<name>/stats.sock)",
    "http": ("must be a loopback HOST:PORT with type http (127.0.0.1:9191, [::1]:9191 or localhost:9191, port 1-65535):"
             " the stats server tells anyone who connects about every worker and request, without any authentication"),
}
NOT_SCALAR = ("must be a scalar (string, number, boolean; null removes the option) or a list of scalars (the key is"
              " repeated); a dict or a nested list cannot be written as uWSGI options.")


def app_label(index: int, app: Mapping) -> str:
    return "uwsgi_production_apps[%d] (app %s)" % (index, to_json(app.get("name")))


def _options_from(index, app, key):
    """The variable an effective option comes from: the app's options, else uwsgi_production_options."""
    if key in as_dict(app.get("options")):
        return "uwsgi_production_apps[%d].options" % index
    return "uwsgi_production_options"


def _where(source, index, app):
    """When the value comes from the baseline, which app's combined options it broke."""
    if source.startswith("uwsgi_production_apps"):
        return ""
    return ", in the effective options of " + app_label(index, app)


# --- The rules, in order ---------------------------------------------------------------------------------
# Each yields its messages: at most one per app (one per user for the accounts, one per field for user
# and group). A rule skips a value of the wrong type that an earlier rule reports.

def _names(inputs):
    for index, app in enumerate(inputs.apps):
        name = app.get("name")
        if not (is_str(name) and match(NAME, name)):
            yield ("uwsgi_production_apps[%d].name = %s is not a usable name: it must be 1-64 characters of letters,"
                   " digits, '_' or '-', starting with a letter or digit, because it names the unit"
                   " uwsgi-<name>.service, the file <name>.ini and the directory /run/uwsgi-<name>."
                   % (index, to_json(name)))


def _unique_names(inputs):
    names = [app.get("name") for app in inputs.apps]
    for index, name in enumerate(names):
        if name in names[:index]:
            yield ("uwsgi_production_apps[%d].name = %s must be unique, but it is already the name of"
                   " uwsgi_production_apps[%d] (each name has its own unit and ini file)."
                   % (index, to_json(name), names.index(name)))


# A user has one primary group: two apps (or an app and the role) cannot give it two.
def _one_group_per_user(inputs):
    for user in unique([pair[0] for pair in inputs.accounts]):
        groups = unique([pair[1] for pair in inputs.accounts if pair[0] == user])
        if len(groups) != 1:
            yield ("uwsgi_production_apps: user %s is given the groups %s (by uwsgi_production_user/uwsgi_production_group"
                   " and the apps' user/group); a user has one primary group, so set the same group on every app that"
                   " runs as %s." % (to_json(user), to_json(groups), to_json(user)))


def bad_environment(env: Mapping) -> List[str]:
    """The keys of an environment (dict) that are not variable names, or whose values are not one-line
    strings, numbers or booleans: as text. Only keys, never values."""
    bad = []
    for key, value in env.items():
        if (not is_str(key) or not match(VARIABLE_NAME, key) or isinstance(value, Mapping)
                or (not is_str(value) and is_iterable(value)) or search("[\n\r]", value)):
            bad.append(as_text(key))
    return bad


# Values are never shown: the messages name the app and the variable only.
def _secrets(inputs):
    secrets = as_dict(inputs.get("secrets"))
    present = [app.get("name") for app in inputs.apps if app.get("state", "present") == "present"]
    unknown = [name for name in secrets if name not in present]
    bad = []
    for name, env in secrets.items():
        if not isinstance(env, Mapping):
            bad.append(as_text(name))
        else:
            bad += ["%s.%s" % (as_text(name), key) for key in bad_environment(env)]
    if unknown:
        yield ("uwsgi_production_secrets has secrets for %s, which is not the name of an app to deploy in"
               " uwsgi_production_apps (a secret for no app is most likely a typo)." % to_json(unknown))
    elif bad:
        yield ("uwsgi_production_secrets.%s is not usable: it must be a dict of variable names (letters, digits and '_',"
               " not starting with a digit) to strings, numbers or booleans without a line break." % bad[0])


# --- HTTPS: an app's certificate and its key (never shown: the messages name the app and the variable only)
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN ((RSA |EC |)PRIVATE KEY)-----\s.*?-----END \1-----", re.S)
HTTPS_RULE = ("must be HOST:PORT (for example 0.0.0.0:8443, 127.0.0.1:8443 or [::1]:8443) with a port from 1 to 65535;"
              " it becomes part of https-socket = ADDRESS,CERTIFICATE,KEY, so it holds no ',' or space")
CERTIFICATE_RULE = ("must be the PEM text of the app's certificate (-----BEGIN CERTIFICATE----- ... -----END"
                    " CERTIFICATE-----, then any intermediate ones), not a path: read a file on the controller with"
                    " lookup('ansible.builtin.file', ...)")
KEY_RULE = ("must be the PEM text of an unencrypted private key (-----BEGIN PRIVATE KEY-----, or RSA/EC PRIVATE KEY)"
            " without NUL: uWSGI cannot ask for a passphrase")


def _https(inputs):
    keys = as_dict(inputs.get("tls_keys"))
    with_https = []
    for index, app in inputs.deployed:
        value = app.get("https")
        if value is None:
            continue
        base = "uwsgi_production_apps[%d].https" % index
        if not isinstance(value, Mapping):
            yield "%s = %s must be a dict with address and certificate." % (base, to_json(value))
            continue
        with_https.append(app.get("name"))
        address, certificate = value.get("address"), value.get("certificate")
        if not host_port_form(address):
            yield "%s.address = %s %s." % (base, to_json(address), HTTPS_RULE)
        if not (is_str(certificate) and PEM_CERTIFICATE.search(certificate) and "\x00" not in certificate):
            yield "%s.certificate (app %s) %s." % (base, to_json(app.get("name")), CERTIFICATE_RULE)
        elif "PRIVATE KEY" in certificate:
            yield ("%s.certificate (app %s) holds a private key (not shown): put the key in uwsgi_production_tls_keys,"
                   " which no output shows, and only certificates here." % (base, to_json(app.get("name"))))
        key = keys.get(app.get("name"))
        if key is None:
            yield ("uwsgi_production_tls_keys has no key for app %s, whose %s needs one (the private key of its"
                   " certificate, as PEM text)." % (to_json(app.get("name")), base))
        elif not (is_str(key) and PEM_PRIVATE_KEY.search(key) and "\x00" not in key) or "ENCRYPTED" in key:
            yield "uwsgi_production_tls_keys.%s (app %s; its value is not shown) %s." % (
                as_text(app.get("name")), to_json(app.get("name")), KEY_RULE)
        config_dir = inputs.get("config_dir")
        if is_str(config_dir) and "," in config_dir:
            yield ("uwsgi_production_config_dir = %s must not hold ',' when an app has https (%s): the path of its"
                   " TLS file is part of https-socket = ADDRESS,CERTIFICATE,KEY." % (to_json(config_dir), base))
    unknown = [name for name in keys if name not in with_https]
    if unknown:
        yield ("uwsgi_production_tls_keys has keys for %s, which is not the name of an app with https in"
               " uwsgi_production_apps (a key for no app is most likely a typo; its value is not shown)." % to_json(unknown))


def _remove_user(inputs):
    users = [pair[0] for pair in inputs.accounts]
    for index, app in enumerate(inputs.apps):
        if app.get("state", "present") != "absent" or not app.get("remove_user", False):
            continue
        user = app.get("user")
        if not (is_str(user) and user != inputs.get("user") and user not in users):
            yield ("uwsgi_production_apps[%d].remove_user is true (app %s), so the app must name its own user in"
                   " uwsgi_production_apps[%d].user (it is %s), and that user must not be uwsgi_production_user or run"
                   " any app still deployed." % (index, to_json(app.get("name")), index, to_json(user)))


# --- Each app to deploy: its own keys
def _text_keys(inputs):
    for index, app in inputs.deployed:
        bad = [key for key, value in app.items() if key in TEXT_KEYS and value is not None and not is_str(value)]
        if bad:
            yield "uwsgi_production_apps[%d].%s = %s must be a string." % (index, bad[0], to_json(app[bad[0]]))


def _what_uwsgi_loads(inputs):
    for index, app in inputs.deployed:
        sources = [key for key in ("module", "wsgi_file") if app.get(key) is not None]
        if len(sources) != 1:
            yield ("%s must set exactly one of module and wsgi_file (what uWSGI loads); it sets %s."
                   % (app_label(index, app), to_json(sources)))


def _not_empty(inputs):
    for index, app in inputs.deployed:
        key = "module" if app.get("module") is not None else "wsgi_file"
        value = app.get(key)
        if value is not None and not as_text(value).strip():
            yield ("uwsgi_production_apps[%d].%s = %s must not be empty (it is what uWSGI loads)."
                   % (index, key, to_json(value)))


def _socket_absolute(inputs):
    for index, app in inputs.deployed:
        value = app.get("socket")
        if is_str(value) and value and not match("^/", value):
            yield ('uwsgi_production_apps[%d].socket = %s must be an absolute path (or "" for no unix socket).'
                   % (index, to_json(value)))


def _listens_somewhere(inputs):
    for index, app in inputs.deployed:
        if not model.unix_socket(app) and not app.get("http_socket"):
            yield ("uwsgi_production_apps[%d].socket = %s turns the unix socket off, so http_socket must be set (an app"
                   " needs at least one of socket and http_socket)." % (index, to_json(app.get("socket"))))


def _http_socket(inputs):
    for index, app in inputs.deployed:
        value = app.get("http_socket")
        if not (is_str(value) and value):
            continue
        if not host_port_form(value):
            yield ("uwsgi_production_apps[%d].http_socket = %s must be HOST:PORT (for example 127.0.0.1:8080, [::1]:8080,"
                   " or :8080 for every address) with a port from 1 to 65535." % (index, to_json(value)))


def _procname_prefix(inputs):
    for index, app in inputs.deployed:
        value = app.get("procname_prefix")
        if is_str(value) and ('"' in value or "'" in value):
            yield ("uwsgi_production_apps[%d].procname_prefix = %s must not contain quotes (uWSGI would show them"
                   " literally in every process name)." % (index, to_json(value)))


def _accounts(inputs):
    for index, app in inputs.deployed:
        for key in ("user", "group"):
            value = app.get(key)
            if value is not None and not (match(ACCOUNT_NAME, value) and value != "root"):
                yield ("uwsgi_production_apps[%d].%s = %s must be a system account name (1-32 lowercase letters, digits,"
                       " '_' or '-', not starting with a digit or '-') and not root: uWSGI never runs as root."
                       % (index, key, to_json(value)))


def _environment(inputs):
    for index, app in inputs.deployed:
        bad = bad_environment(as_dict(app.get("environment")))
        if bad:
            yield ("uwsgi_production_apps[%d].environment.%s is not usable: each key must be a variable name (letters,"
                   " digits and '_', not starting with a digit) and each value a string, number or boolean without a"
                   " line break." % (index, bad[0]))


def _packages(inputs):
    for index, app in inputs.deployed:
        requirements, virtualenv = app.get("requirements"), app.get("virtualenv")
        if not (length(app.get("packages") or []) > 0 or requirements is not None):
            continue
        if not (is_str(virtualenv) and match("^/", virtualenv)
                and (requirements is None or match("^/", requirements))):
            yield ("%s sets packages or requirements (%s), so it needs virtualenv = an absolute path to install them"
                   " into (it is %s), and requirements must be an absolute path on the host."
                   % (app_label(index, app), to_json(requirements), to_json(virtualenv)))


# --- uWSGI's own services (mules, crons, timers, locks, caches, stats)
# The numbers of crons, timers and caches may be ints or strings of digits (as an inventory file gives
# them); a mule count must be an int.
def _mules(inputs):
    for index, app in inputs.deployed:
        mules = app.get("mules")
        if mules is None:
            continue
        if is_list(mules):
            bad = [number for number, item in enumerate(mules)
                   if not (is_str(item) and (match(MULE_FILE, item) or match(MULE_FUNCTION, item)))]
            where, value = ("[%d]" % bad[0], mules[bad[0]]) if bad else ("", mules)
        else:
            bad = [] if (is_int(mules) and mules >= 1) else [None]
            where, value = "", mules
        if bad:
            yield ("uwsgi_production_apps[%d].mules%s = %s must be a number of mules (1 or more) or a list of mule scripts,"
                   " each the absolute path of a Python file (/srv/app/mule.py) or module:function: a relative path"
                   " would depend on the directory uWSGI happens to be in." % (index, where, to_json(value)))


def app_dicts(app: Mapping, key: str) -> List[Tuple[int, Mapping]]:
    """An app's list of dicts (crons, timers, caches), as (number, dict)."""
    value = app.get(key) or []
    return [(number, item) for number, item in enumerate(value if is_list(value) else []) if isinstance(item, Mapping)]


def _first_bad_cron(cron):
    command = cron.get("command")
    if not (is_str(command) and command.strip() and not search("[\n\r]", command)):
        return "command"
    for field, (lowest, highest) in CRON_RANGES.items():
        value = cron.get(field)
        if value is None:
            continue
        if (not whole(value, SIGNED_DIGITS) or not lowest <= to_int(value) <= highest
                or (field in ("day", "month") and to_int(value) == 0)):
            return field
    harakiri = cron.get("harakiri")
    if harakiri is not None and not ((is_int(harakiri) and harakiri >= 0) or (is_str(harakiri) and match(DIGITS, harakiri))):
        return "harakiri"
    return None


def _crons(inputs):
    for index, app in inputs.deployed:
        for number, cron in app_dicts(app, "crons"):
            field = _first_bad_cron(cron)
            if field:
                yield ("uwsgi_production_apps[%d].crons[%d].%s = %s %s."
                       % (index, number, field, to_json(cron.get(field)), CRON_RULES[field]))
                break


def _timers(inputs):
    for index, app in inputs.deployed:
        bad = [(number, field) for number, timer in app_dicts(app, "timers") for field, (lowest, highest) in TIMER_RANGES.items()
               if not whole(timer.get(field)) or not lowest <= to_int(timer.get(field)) <= highest]
        if bad:
            number, field = bad[0]
            rule = "a uWSGI signal number from 0 to 255" if field == "signal" else "a whole number of seconds, at least 1"
            yield ("uwsgi_production_apps[%d].timers[%d].%s = %s must be %s."
                   % (index, number, field, to_json(app["timers"][number].get(field)), rule))


def _locks(inputs):
    for index, app in inputs.deployed:
        locks = app.get("locks") or []
        if not (is_list(locks) or is_str(locks)):
            continue
        locks = list(locks)  # a string (which the argument spec lets through) is a list of its characters
        bad = [number for number, name in enumerate(locks)
               if not (is_str(name) and match(LOCK_NAME, name)) or name in locks[:number]]
        if bad:
            yield ("uwsgi_production_apps[%d].locks[%d] = %s must be a unique name of letters, digits, '_' or '-' starting"
                   " with a letter (the app finds the lock's number in uwsgi.opt['lock.<name>'])."
                   % (index, bad[0], to_json(locks[bad[0]])))


def _bad_caches(caches):
    """[number, key] of each bad value of an app's caches."""
    bad, names, stores = [], [], []
    for number, cache in caches:
        name = cache.get("name")
        if not (is_str(name) and match(CACHE_NAME, name)) or name in names:
            bad.append((number, "name"))
        names.append(name)
        for key, lowest in (("items", 2), ("blocksize", 1)):
            value = cache.get(key)
            if (key == "items" or value is not None) and (not whole(value) or to_int(value) < lowest):
                bad.append((number, key))
        store = cache.get("store")
        if store is not None and not isinstance(store, bool) and not (is_str(store) and match(CACHE_NAME, store)):
            bad.append((number, "store"))
        file = (as_text(name) + ".cache") if store is True else store
        if store and file in stores:
            bad.append((number, "store"))
        if store:
            stores.append(file)
        for key, value in as_dict(cache.get("options")).items():
            if (not (is_str(key) and match(CACHE_OPTION_KEY, key))
                    or not (is_number(value) or (is_str(value) and match(CACHE_OPTION_VALUE, value)))):
                bad.append((number, "options"))
    return bad


def _caches(inputs):
    for index, app in inputs.deployed:
        bad = _bad_caches(app_dicts(app, "caches"))
        if bad:
            number, key = bad[0]
            yield ("uwsgi_production_apps[%d].caches[%d].%s = %s %s."
                   % (index, number, key, to_json(app["caches"][number].get(key)), CACHE_RULES[key]))


def host_port_form(value: Any) -> bool:
    """Whether a value is HOST:PORT with a port from 1 to 65535 (what its host may be is the shape rules')."""
    parts = host_port.split(value)
    return parts is not None and 1 <= parts[1] <= 65535


def _loopback(value):
    try:
        return host_port.is_loopback(host_port.parse(value))
    except ValueError:
        return False


def _stats(inputs):
    for index, app in inputs.deployed:
        if app.get("stats") is None:
            continue
        stats = combine({"type": "unix"}, app["stats"])
        kind, value = stats.get("type"), stats.get("address")
        address = as_text(stats.get("address", ""))
        if kind not in STATS_RULES:
            # Not a type the argument spec allows (null): neither rule can hold.
            yield "uwsgi_production_apps[%d].stats.type = %s must be unix or http." % (index, to_json(kind))
        elif not ((kind == "unix" or _loopback(address)) and (kind == "http" or value is None)):
            yield "uwsgi_production_apps[%d].stats.address = %s %s." % (index, to_json(value), STATS_RULES[kind])


# --- uWSGI options: one `key = value` line per option and per list item, so keys are text and values
# are scalars (null removes an option) or lists of scalars.
def _nonscalar_keys(options):
    bad = []
    for key, value in options.items():
        items = value if is_list(value) else [value]
        if any(isinstance(item, Mapping) or is_list(item) for item in items):
            bad.append(key)
    return bad


def _option_keys(inputs):
    bad = [key for key in as_dict(inputs.get("options")) if not is_str(key)]
    if bad:
        yield ("uwsgi_production_options has keys that are not strings: %s. Option names must be text (quote them in"
               " YAML)." % to_json(bad))


def _option_values(inputs):
    options = as_dict(inputs.get("options"))
    bad = _nonscalar_keys(options)
    if bad:
        yield "uwsgi_production_options.%s = %s %s" % (as_text(bad[0]), to_json(options[bad[0]]), NOT_SCALAR)


def _app_option_keys(inputs):
    for index, app in inputs.deployed:
        bad = [key for key in as_dict(app.get("options")) if not is_str(key)]
        if bad:
            yield ("uwsgi_production_apps[%d].options has keys that are not strings: %s. Option names must be text (quote"
                   " them in YAML)." % (index, to_json(bad)))


def _app_option_values(inputs):
    for index, app in inputs.deployed:
        options = as_dict(app.get("options"))
        bad = _nonscalar_keys(options)
        if bad:
            yield "uwsgi_production_apps[%d].options.%s = %s %s" % (index, as_text(bad[0]), to_json(options[bad[0]]), NOT_SCALAR)


# --- Installation: Debian's python3 plugin embeds /usr/bin/python3, so apps' virtualenvs made by another
# Python (the role makes them with uwsgi_production_python) could not be imported by it.
def _system_python(inputs):
    if inputs.get("install_method") == "system" and inputs.get("python") != "/usr/bin/python3":
        yield ("uwsgi_production_python = %s must be /usr/bin/python3 with uwsgi_production_install_method = system:"
               " Debian's python3 plugin embeds /usr/bin/python3, so the apps' virtualenvs must be made with it (or use"
               " uwsgi_production_install_method = pip)." % to_json(inputs.get("python")))


# --- systemd
def _stop_timeout(inputs):
    if to_int(inputs.get("stop_timeout")) < 1:
        yield ("uwsgi_production_stop_timeout = %s must be a positive integer (seconds systemd waits for a clean stop)."
               % to_json(inputs.get("stop_timeout")))


def _lock_wait(inputs):
    if to_int(inputs.get("lock_wait")) < 0:
        yield ("uwsgi_production_lock_wait = %s must be 0 or a positive integer (seconds a run waits for another run of"
               " the role on the same host)." % to_json(inputs.get("lock_wait")))


def _journal_lines(inputs):
    if to_int(inputs.get("journal_lines")) < 1:
        yield ("uwsgi_production_journal_lines = %s must be a positive integer (journal lines shown when an app fails to"
               " start)." % to_json(inputs.get("journal_lines")))


# --- Each app's effective options: uwsgi_production_options combined with what the role derives from the
# app and the app's own options (model.effective_options).
def _integer_options(inputs):
    for index, app in inputs.deployed:
        options = inputs.options(index)
        bad = [key for key, minimum in INTEGER_OPTIONS.items() if options.get(key) is not None
               and (not whole(options[key]) or to_int(options[key]) < minimum)]
        if bad:
            key = bad[0]
            minimum = INTEGER_OPTIONS[key]
            source = _options_from(index, app, key)
            yield ("%s.%s = %s must be %s (null removes the option)%s."
                   % (source, key, to_json(options[key]), "a positive integer" if minimum == 1 else "an integer >= %d" % minimum,
                      _where(source, index, app)))


def _worker_counts(inputs):
    for index, app in inputs.deployed:
        options = inputs.options(index)
        broken = [rule for rule in WORKER_RULES if options.get(rule[0]) is not None and options.get(rule[1]) is not None
                  and not ((to_int(options[rule[0]]) < to_int(options[rule[1]])) if rule[2]
                           else (to_int(options[rule[0]]) <= to_int(options[rule[1]])))]
        if broken:
            low, high, strict, why = broken[0]
            # The key to blame: the one the app's own options set, else the lower one.
            key = next((key for key in (low, high) if key in as_dict(app.get("options"))), low)
            yield ("%s.%s = %s breaks the rule %s %s %s: %s is %s and %s is %s in the effective options of %s; %s."
                   % (_options_from(index, app, key), key, to_json(options.get(key)), low, "<" if strict else "<=", high,
                      low, to_json(options.get(low)), high, to_json(options.get(high)), app_label(index, app), why))


# uWSGI refuses to start (exit 1, which systemd would restart every 2 s) when a worker's maximum lifetime
# is not above its minimum, and the minimum is 10 s when unset.
def _worker_lifetime(inputs):
    for index, app in inputs.deployed:
        options = inputs.options(index)
        maximum = options.get("max-worker-lifetime") or 0
        minimum = options.get("min-worker-lifetime") or 10
        if not (to_int(maximum) == 0 or to_int(minimum) < to_int(maximum)):
            yield ("%s.max-worker-lifetime = %s must be greater than min-worker-lifetime (%s%s) in the effective options"
                   " of %s, or uWSGI refuses to start."
                   % (_options_from(index, app, "max-worker-lifetime"), to_json(maximum), as_text(minimum),
                      ", uWSGI's default" if options.get("min-worker-lifetime") is None else "", app_label(index, app)))


def _stop_timeout_above_mercy(inputs):
    stop_timeout = inputs.get("stop_timeout")
    for index, app in inputs.deployed:
        # Unset, it is uWSGI's own default: 60 s.
        mercy = inputs.options(index).get("worker-reload-mercy") or 60
        if not to_int(stop_timeout) > to_int(mercy):
            yield ("uwsgi_production_stop_timeout = %s must be greater than worker-reload-mercy (%s, from %s) of %s, or"
                   " systemd kills workers uWSGI is still allowed to finish."
                   % (to_json(stop_timeout), as_text(mercy), _options_from(index, app, "worker-reload-mercy"),
                      app_label(index, app)))


# --- Apps against each other (an app to remove binds nothing)
def _bound(inputs, what):
    """What each app of uwsgi_production_apps binds, by index: model.unix_sockets or model.http_ports."""
    deployed = dict(inputs.deployed)
    return [what(inputs.options(index)) if index in deployed else [] for index in range(len(inputs.apps))]


def _shared(bound, index):
    """What app `index` binds that an earlier app binds too (in its own order), and the first earlier app
    that binds the first of them. (The Jinja rule took the first of a set, and skipped an earlier app that
    shared two items: its `| bool` of 2 is false.)"""
    shared = intersect(bound[index], [item for items in bound[:index] for item in items])
    other = next((number for number, items in enumerate(bound[:index]) if shared and shared[0] in items), None)
    return shared, other


def _shared_sockets(inputs):
    bound = _bound(inputs, model.unix_sockets)
    for index, app in inputs.deployed:
        shared, other = _shared(bound, index)
        if shared:
            source = ".options.socket" if "socket" in as_dict(app.get("options")) else ".socket"
            yield ("uwsgi_production_apps[%d]%s = %s must be unique, but it is already the unix socket of"
                   " uwsgi_production_apps[%s] (two apps cannot bind one socket)." % (index, source, to_json(shared[0]), other))


def _shared_ports(inputs):
    bound = _bound(inputs, model.http_ports)
    for index, app in inputs.deployed:
        shared, other = _shared(bound, index)
        if shared:
            options = as_dict(app.get("options"))
            https = as_dict(app.get("https"))
            if "http-socket" in options:
                source, value = ".options['http-socket']", options["http-socket"]
            elif model.http_ports({"https-socket": https.get("address")}) == [shared[0]]:
                source, value = ".https.address", https.get("address")
            else:
                source, value = ".http_socket", app.get("http_socket")
            yield ("uwsgi_production_apps[%d]%s = %s must use a port of its own, but port %s is already an http-socket port"
                   " of uwsgi_production_apps[%s] (two apps cannot bind one port)." % (index, source, to_json(value), shared[0], other))


def _health_checks(inputs):
    for index, app in inputs.deployed:
        health = combine(model.HEALTH_BASELINE, inputs.get("health_check"), app.get("health_check"))
        status, timeout = health.get("status"), health.get("timeout")
        statuses = status if is_list(status) else []
        usable = (
            is_str(health.get("path")) and match("^/", health["path"])
            and is_list(status) and len(status) > 0
            and all(is_int(item) and 100 <= item <= 599 for item in statuses)
            and is_int(timeout) and timeout >= 1
            and health.get("protocol") in (None, "http", "uwsgi")
            and (not health.get("enabled") or _health_socket(app, inputs, index)))
        if not usable:
            source = ("uwsgi_production_apps[%d].health_check combined with uwsgi_production_health_check" % index
                      if app.get("health_check") else "uwsgi_production_health_check")
            yield ("%s = %s is not a usable health check: path must start with '/', status must be a non-empty list of HTTP"
                   " statuses (100-599), timeout must be a whole number of seconds of at least 1, protocol must be http or"
                   " uwsgi, and an app with neither socket nor http_socket needs health_check.socket (or enabled: false)."
                   % (source, to_json(health)))


def _health_socket(app, inputs, index):
    """Where the health check asks: its own socket, else the app's http_socket, else its unix socket."""
    try:
        return model.health_check(app, inputs.role, inputs.options(index))["socket"]
    except (TypeError, ValueError, AttributeError):
        return ""


# --- The host: uWSGI refuses to start when its listen queue is longer than the kernel allows ("Listen
# queue size is greater than the system max net.core.somaxconn").
def _listen_queue(inputs):
    if inputs.somaxconn is None:
        return
    for index, app in inputs.deployed:
        listen = inputs.options(index).get("listen")
        if listen is not None and not to_int(listen) <= to_int(inputs.somaxconn):
            source = _options_from(index, app, "listen")
            yield ("%s.listen = %s must not be above this host's net.core.somaxconn (%s)%s: uWSGI refuses to start with a"
                   " listen queue the kernel would cut short. Lower it, or raise the sysctl first."
                   % (source, to_json(listen), as_text(inputs.somaxconn), _where(source, index, app)))


def _releases(inputs):
    yield from release_rules.role_violations(inputs.variables)
    for index, app in inputs.deployed:
        yield from release_rules.app_violations(index, app)


# The rules of the role's Jinja preflight up to 0.1.0, in its order, with its messages.
JINJA_RULES = (
    _names, _unique_names, _one_group_per_user, _secrets, _remove_user,
    _text_keys, _what_uwsgi_loads, _not_empty, _socket_absolute, _listens_somewhere, _http_socket, _procname_prefix,
    _accounts, _environment, _packages,
    _mules, _crons, _timers, _locks, _caches, _stats,
    _option_keys, _option_values, _app_option_keys, _app_option_values,
    _system_python, _stop_timeout, _journal_lines, _lock_wait,
    _integer_options, _worker_counts, _worker_lifetime, _stop_timeout_above_mercy,
    _shared_sockets, _shared_ports, _health_checks, _listen_queue,
)
# Then: an app's HTTPS socket, certificate and key; nothing smuggles a line into a file, identity and
# privilege are the role's.
# Then an app's HTTPS socket, certificate and key, and its release.
LATER_RULES = (_https, _releases)
