"""The role's input rules (plugins/module_utils/uwsgi_validate.py), in-process: every bad input is rejected
with a message naming the variable and the rule, every good input passes, and the messages are the
role's messages of 0.1.0 (when it checked them with Jinja asserts, tasks/preflight.yml).

The cases are those of tests/unit/test_bad_input.py before the rules moved to Python, except the type
cases that meta/argument_specs.yml rejects with Ansible's own messages: those stay there, end to end
through the role. Then the cases of the rules that keep every rendered file's structure and identity
the role's (INJECTION_CASES: what an attacker would write into inventory). Each case's variables are laid
over the role's defaults, as the role's task does.
"""

import base64
import copy
import json
import pathlib
import re
from dataclasses import dataclass, field
from unittest import mock

import pytest
import yaml

from ansible_collections.pyops.uwsgi.plugins.action import uwsgi_validate as action
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate as validator
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_shape as shape

REPO = pathlib.Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "uwsgi_production"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
# The host's net.core.somaxconn (the role reads it from the host when some app sets `listen`).
SOMAXCONN = 4096

DELETE = object()


def app(**changes):
    """A valid app, with `changes` laid over it (the value DELETE deletes a key)."""
    base = {"name": "shop", "module": "shop.wsgi:application", "chdir": "/srv/shop"}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not DELETE}


def baseline(**changes):
    """The role's default uwsgi_production_options with `changes` (keys with '_' for '-')."""
    options = dict(DEFAULTS["uwsgi_production_options"])
    options.update({key.replace("_", "-"): value for key, value in changes.items()})
    return options


def role_variables(variables):
    """The case's variables over the role's defaults: what the role's task passes."""
    merged = copy.deepcopy(DEFAULTS)
    merged.update(copy.deepcopy(variables))
    return merged


def check(variables, somaxconn=SOMAXCONN):
    return validator.validate(role_variables(variables), somaxconn)


@dataclass
class Case:
    id: str
    vars: dict
    variable: str = ""                          # bad cases: the variable the message must name
    words: list = field(default_factory=list)   # bad cases: words of the rule the message must say
    good: bool = False


def bad(id, variable, words, **variables):
    """A case the role must reject, naming `variable` and saying each of the '|'-separated `words`."""
    return Case(id, variables, variable, words.split("|"))


def good(id, **variables):
    """A case that must pass every check."""
    return Case(id, variables, good=True)


CASES = [
    # --- install method ---
    bad("system_method_with_another_python", "uwsgi_production_python", "/usr/bin/python3|Debian's python3 plugin",
        uwsgi_production_install_method="system", uwsgi_production_python="/opt/python3.12/bin/python3"),
    good("good_system_method", uwsgi_production_install_method="system", uwsgi_production_apps=[app()]),
    # --- names ---
    bad("name_climbs_out", "uwsgi_production_apps[0].name", "not a usable name|uwsgi-<name>.service",
        uwsgi_production_apps=[app(name="../x")]),
    bad("name_with_space", "uwsgi_production_apps[0].name", "not a usable name",
        uwsgi_production_apps=[app(name="a b")]),
    bad("name_empty", "uwsgi_production_apps[0].name", "not a usable name",
        uwsgi_production_apps=[app(name="")]),
    bad("name_too_long", "uwsgi_production_apps[0].name", "1-64 characters",
        uwsgi_production_apps=[app(name="a" * 65)]),
    bad("name_starts_with_dash", "uwsgi_production_apps[0].name", "starting with a letter or digit",
        uwsgi_production_apps=[app(name="-x")]),
    bad("name_not_text", "uwsgi_production_apps[0].name = 123", "not a usable name",
        uwsgi_production_apps=[app(name=123)]),
    bad("name_twice", "uwsgi_production_apps[1].name", "must be unique|uwsgi_production_apps[0]",
        uwsgi_production_apps=[app(), app(http_socket="127.0.0.1:8081")]),
    # --- what uWSGI loads ---
    bad("module_and_wsgi_file", "uwsgi_production_apps[0]", "exactly one of module and wsgi_file",
        uwsgi_production_apps=[app(wsgi_file="/srv/shop/wsgi.py")]),
    bad("neither_module_nor_wsgi_file", "uwsgi_production_apps[0]", "exactly one of module and wsgi_file",
        uwsgi_production_apps=[app(module=DELETE)]),
    bad("module_empty", "uwsgi_production_apps[0].module", "must not be empty",
        uwsgi_production_apps=[app(module="")]),
    bad("wsgi_file_blank", "uwsgi_production_apps[0].wsgi_file", "must not be empty",
        uwsgi_production_apps=[app(module=DELETE, wsgi_file="  ")]),
    bad("module_not_text", "uwsgi_production_apps[0].module", "must be a string",
        uwsgi_production_apps=[app(module=["shop.wsgi"])]),
    # --- sockets ---
    bad("socket_relative", "uwsgi_production_apps[0].socket", "absolute path",
        uwsgi_production_apps=[app(socket="run/shop.sock")]),
    bad("socket_not_text", "uwsgi_production_apps[0].socket", "must be a string",
        uwsgi_production_apps=[app(socket=["/run/a.sock"])]),
    bad("no_socket_at_all", "uwsgi_production_apps[0].socket", "http_socket must be set",
        uwsgi_production_apps=[app(socket="")]),
    bad("http_socket_without_port", "uwsgi_production_apps[0].http_socket", "HOST:PORT",
        uwsgi_production_apps=[app(http_socket="127.0.0.1")]),
    bad("http_socket_port_zero", "uwsgi_production_apps[0].http_socket", "from 1 to 65535",
        uwsgi_production_apps=[app(http_socket="127.0.0.1:0")]),
    bad("http_socket_port_too_big", "uwsgi_production_apps[0].http_socket", "from 1 to 65535",
        uwsgi_production_apps=[app(http_socket="127.0.0.1:70000")]),
    bad("http_socket_url", "uwsgi_production_apps[0].http_socket", "HOST:PORT",
        uwsgi_production_apps=[app(http_socket="http://127.0.0.1:8080/")]),
    bad("http_socket_a_number", "uwsgi_production_apps[0].http_socket = 8080", "must be a string",
        uwsgi_production_apps=[app(http_socket=8080)]),
    bad("same_unix_socket", "uwsgi_production_apps[1].socket", "must be unique|uwsgi_production_apps[0]",
        uwsgi_production_apps=[app(socket="/run/shared.sock"), app(name="blog", socket="/run/shared.sock")]),
    bad("same_unix_socket_through_options", "uwsgi_production_apps[1].options.socket",
        "must be unique|uwsgi_production_apps[0]",
        uwsgi_production_apps=[app(), app(name="blog", options={"socket": "/run/uwsgi-shop/uwsgi.sock"})]),
    bad("same_http_port", "uwsgi_production_apps[1].http_socket", "port 8080|uwsgi_production_apps[0]",
        uwsgi_production_apps=[app(http_socket="127.0.0.1:8080"), app(name="blog", http_socket="0.0.0.0:8080")]),
    # --- process names ---
    bad("procname_prefix_double_quotes", "uwsgi_production_apps[0].procname_prefix", "must not contain quotes",
        uwsgi_production_apps=[app(procname_prefix='"shop "')]),
    bad("procname_prefix_single_quote", "uwsgi_production_apps[0].procname_prefix", "must not contain quotes",
        uwsgi_production_apps=[app(procname_prefix="shop's")]),
    # --- option keys and values ---
    bad("app_option_dict_value", "uwsgi_production_apps[0].options.env", "scalar|a dict",
        uwsgi_production_apps=[app(options={"env": {"LANG": "C.UTF-8"}})]),
    bad("app_option_list_of_dicts", "uwsgi_production_apps[0].options.env", "list of scalars",
        uwsgi_production_apps=[app(options={"env": [{"LANG": "C.UTF-8"}]})]),
    bad("app_option_nested_list", "uwsgi_production_apps[0].options.env", "list of scalars",
        uwsgi_production_apps=[app(options={"env": [["A=1"]]})]),
    bad("app_option_key_not_text", "uwsgi_production_apps[0].options", "keys that are not strings",
        uwsgi_production_apps=[app(options={1: "one"})]),
    bad("baseline_option_dict_value", "uwsgi_production_options.env", "scalar|a dict",
        uwsgi_production_options=baseline(env={"LANG": "C.UTF-8"}), uwsgi_production_apps=[app()]),
    bad("baseline_option_key_not_text", "uwsgi_production_options", "keys that are not strings",
        uwsgi_production_options={**baseline(), True: "yes"}, uwsgi_production_apps=[app()]),
    # --- numbers ---
    bad("harakiri_zero", "uwsgi_production_apps[0].options.harakiri", "a positive integer",
        uwsgi_production_apps=[app(options={"harakiri": 0})]),
    bad("harakiri_negative_in_baseline", "uwsgi_production_options.harakiri", "a positive integer",
        uwsgi_production_options=baseline(harakiri=-5), uwsgi_production_apps=[app()]),
    bad("max_requests_words", "uwsgi_production_apps[0].options.max-requests", "a positive integer",
        uwsgi_production_apps=[app(options={"max-requests": "many"})]),
    bad("max_worker_lifetime_boolean", "uwsgi_production_apps[0].options.max-worker-lifetime", "a positive integer",
        uwsgi_production_apps=[app(options={"max-worker-lifetime": True})]),
    bad("reload_on_rss_fraction", "uwsgi_production_apps[0].options.reload-on-rss", "a positive integer",
        uwsgi_production_apps=[app(options={"reload-on-rss": 1.5})]),
    bad("worker_reload_mercy_zero", "uwsgi_production_apps[0].options.worker-reload-mercy", "a positive integer",
        uwsgi_production_apps=[app(options={"worker-reload-mercy": 0})]),
    bad("stop_timeout_zero", "uwsgi_production_stop_timeout", "a positive integer",
        uwsgi_production_stop_timeout=0),
    bad("journal_lines_negative", "uwsgi_production_journal_lines", "a positive integer",
        uwsgi_production_journal_lines=-1),
    bad("lock_wait_negative", "uwsgi_production_lock_wait", "0 or a positive integer",
        uwsgi_production_lock_wait=-1),
    good("lock_wait_zero", uwsgi_production_lock_wait=0),
    # --- health checks ---
    bad("health_path_relative", "uwsgi_production_health_check", "path must start with '/'",
        uwsgi_production_health_check={"path": "healthz"}, uwsgi_production_apps=[app()]),
    bad("health_status_out_of_range", "uwsgi_production_apps[0].health_check", "HTTP statuses (100-599)",
        uwsgi_production_apps=[app(health_check={"status": [200, 999]})]),
    bad("health_timeout_zero", "uwsgi_production_apps[0].health_check", "timeout must be a whole number",
        uwsgi_production_apps=[app(health_check={"timeout": 0})]),
    bad("health_protocol_unknown", "uwsgi_production_apps[0].health_check", "protocol must be http or uwsgi",
        uwsgi_production_apps=[app(health_check={"protocol": "https"})]),
    # --- contradictions ---
    bad("cheaper_equals_processes", "uwsgi_production_apps[0].options.cheaper", "cheaper < processes",
        uwsgi_production_apps=[app(options={"processes": 4, "cheaper": 4, "cheaper-initial": 4})]),
    bad("cheaper_above_cheaper_initial", "uwsgi_production_apps[0].options.cheaper", "cheaper <= cheaper-initial",
        uwsgi_production_apps=[app(options={"cheaper": 3, "cheaper-initial": 2})]),
    bad("cheaper_initial_above_processes", "uwsgi_production_apps[0].options.cheaper-initial",
        "cheaper-initial <= processes",
        uwsgi_production_apps=[app(options={"cheaper-initial": 9, "processes": 8})]),
    bad("processes_lowered_below_cheaper", "uwsgi_production_apps[0].options.processes", "cheaper < processes",
        uwsgi_production_options=baseline(cheaper=2), uwsgi_production_apps=[app(options={"processes": 2})]),
    bad("busyness_min_not_below_max", "uwsgi_production_options.cheaper-busyness-min",
        "cheaper-busyness-min < cheaper-busyness-max",
        uwsgi_production_options=baseline(cheaper_busyness_min=70), uwsgi_production_apps=[app()]),
    bad("max_lifetime_not_above_default_min", "uwsgi_production_apps[0].options.max-worker-lifetime = 4",
        "greater than min-worker-lifetime|uWSGI's default|refuses to start",
        uwsgi_production_apps=[app(options={"max-worker-lifetime": 4})]),
    good("short_lifetime_with_a_shorter_min",
         uwsgi_production_apps=[app(options={"max-worker-lifetime": 4, "min-worker-lifetime": 1})]),
    bad("stop_timeout_equals_mercy", "uwsgi_production_stop_timeout = 60", "greater than|worker-reload-mercy",
        uwsgi_production_stop_timeout=60, uwsgi_production_apps=[app()]),
    bad("stop_timeout_below_app_mercy", "uwsgi_production_stop_timeout",
        "greater than|from uwsgi_production_apps[0].options",
        uwsgi_production_apps=[app(options={"worker-reload-mercy": 120})]),
    # --- the host ---
    bad("listen_above_somaxconn", "uwsgi_production_apps[0].options.listen", f"net.core.somaxconn ({SOMAXCONN})",
        uwsgi_production_apps=[app(options={"listen": SOMAXCONN + 1})]),
    bad("listen_above_somaxconn_in_baseline", "uwsgi_production_options.listen", "net.core.somaxconn",
        uwsgi_production_options=baseline(listen=SOMAXCONN * 2), uwsgi_production_apps=[app()]),
    bad("listen_words", "uwsgi_production_apps[0].options.listen", "a positive integer",
        uwsgi_production_apps=[app(options={"listen": "long"})]),
    # --- users, environment, secrets, packages ---
    bad("user_root", "uwsgi_production_apps[0].user", "not root",
        uwsgi_production_apps=[app(user="root")]),
    bad("group_with_space", "uwsgi_production_apps[0].group", "system account name",
        uwsgi_production_apps=[app(user="shop", group="shop staff")]),
    bad("user_two_groups", "user \"shop\"", "one primary group",
        uwsgi_production_apps=[app(user="shop"), app(name="blog", user="shop", group="blog",
                                                     http_socket="127.0.0.1:8081")]),
    bad("environment_bad_name", "uwsgi_production_apps[0].environment.1BAD", "variable name",
        uwsgi_production_apps=[app(environment={"1BAD": "x"})]),
    bad("environment_newline", "uwsgi_production_apps[0].environment.MOTD", "without a line break",
        uwsgi_production_apps=[app(environment={"MOTD": "hello\nworld"})]),
    bad("secrets_for_unknown_app", "uwsgi_production_secrets", "\"shoop\"|not the name of an app",
        uwsgi_production_secrets={"shoop": {"TOKEN": "s3cret-value"}}, uwsgi_production_apps=[app()]),
    bad("secrets_bad_variable", "uwsgi_production_secrets.shop.DB-URL", "variable names",
        uwsgi_production_secrets={"shop": {"DB-URL": "s3cret-value"}}, uwsgi_production_apps=[app()]),
    bad("packages_without_virtualenv", "uwsgi_production_apps[0]", "needs virtualenv",
        uwsgi_production_apps=[app(packages=["flask==3.1.2"])]),
    bad("requirements_relative", "uwsgi_production_apps[0]", "requirements must be an|absolute path",
        uwsgi_production_apps=[app(virtualenv="/srv/shop/venv", requirements="requirements.txt")]),
    bad("remove_user_of_the_role", "uwsgi_production_apps[0].remove_user", "own user",
        uwsgi_production_apps=[{"name": "old", "state": "absent", "remove_user": True}]),
    bad("remove_user_still_used", "uwsgi_production_apps[0].remove_user", "run any app still deployed",
        uwsgi_production_apps=[{"name": "old", "state": "absent", "user": "shop", "remove_user": True},
                               app(user="shop")]),
    # --- uWSGI's own services: mules, crons, timers, locks, caches, stats ---
    bad("mule_script_relative", "uwsgi_production_apps[0].mules[0] = \"mule.py\"", "absolute path of a Python file",
        uwsgi_production_apps=[app(mules=["mule.py"])]),
    bad("mule_script_not_python", "uwsgi_production_apps[0].mules[1]", "absolute path of a Python file|module:function",
        uwsgi_production_apps=[app(mules=["/srv/shop/mule.py", "/srv/shop/mule.sh"])]),
    bad("mules_zero", "uwsgi_production_apps[0].mules = 0", "a number of mules (1 or more)",
        uwsgi_production_apps=[app(mules=0)]),
    bad("mules_a_dict", "uwsgi_production_apps[0].mules", "a number of mules",
        uwsgi_production_apps=[app(mules={"count": 2})]),
    bad("cron_minute_60", "uwsgi_production_apps[0].crons[0].minute = 60", "minute -59..59",
        uwsgi_production_apps=[app(crons=[{"command": "true", "minute": 60}])]),
    bad("cron_day_zero", "uwsgi_production_apps[0].crons[1].day = 0", "but not 0",
        uwsgi_production_apps=[app(crons=[{"command": "true"}, {"command": "true", "day": 0}])]),
    bad("cron_command_two_lines", "uwsgi_production_apps[0].crons[0].command", "one-line shell command",
        uwsgi_production_apps=[app(crons=[{"command": "true\nreboot"}])]),
    bad("cron_harakiri_negative", "uwsgi_production_apps[0].crons[0].harakiri", "whole number of seconds",
        uwsgi_production_apps=[app(crons=[{"command": "true", "harakiri": -1}])]),
    bad("timer_signal_256", "uwsgi_production_apps[0].timers[0].signal = 256", "from 0 to 255",
        uwsgi_production_apps=[app(timers=[{"signal": 256, "seconds": 1}])]),
    bad("timer_seconds_zero", "uwsgi_production_apps[0].timers[1].seconds = 0", "at least 1",
        uwsgi_production_apps=[app(timers=[{"signal": 100, "seconds": 5}, {"signal": 101, "seconds": 0}])]),
    bad("lock_named_twice", "uwsgi_production_apps[0].locks[1] = \"counter\"", "must be a unique name|uwsgi.opt",
        uwsgi_production_apps=[app(locks=["counter", "counter"])]),
    bad("lock_name_with_equals", "uwsgi_production_apps[0].locks[0]", "letters, digits",
        uwsgi_production_apps=[app(locks=["a=b"])]),
    bad("cache_of_one_item", "uwsgi_production_apps[0].caches[0].items = 1", "at least 2",
        uwsgi_production_apps=[app(caches=[{"name": "pages", "items": 1}])]),
    bad("cache_named_twice", "uwsgi_production_apps[0].caches[1].name", "unique name",
        uwsgi_production_apps=[app(caches=[{"name": "pages", "items": 10}, {"name": "pages", "items": 20}])]),
    bad("cache_name_with_comma", "uwsgi_production_apps[0].caches[0].name", "splits its value",
        uwsgi_production_apps=[app(caches=[{"name": "a,store=/etc/passwd", "items": 10}])]),
    bad("cache_blocksize_zero", "uwsgi_production_apps[0].caches[0].blocksize = 0", "at least 1",
        uwsgi_production_apps=[app(caches=[{"name": "pages", "items": 10, "blocksize": 0}])]),
    bad("cache_store_outside_the_state_directory", "uwsgi_production_apps[0].caches[0].store = \"/tmp/pages.cache\"",
        "without '/'|/var/lib/uwsgi-<name>",
        uwsgi_production_apps=[app(caches=[{"name": "pages", "items": 10, "store": "/tmp/pages.cache"}])]),
    bad("cache_stores_shared", "uwsgi_production_apps[0].caches[1].store", "unique file name",
        uwsgi_production_apps=[app(caches=[{"name": "a", "items": 10, "store": True},
                                           {"name": "b", "items": 10, "store": "a.cache"}])]),
    bad("cache_option_smuggles_a_key", "uwsgi_production_apps[0].caches[0].options", "without ',', '='",
        uwsgi_production_apps=[app(caches=[{"name": "pages", "items": 10, "options": {"bitmap": "1,store=/etc/x"}}])]),
    bad("stats_http_on_every_address", "uwsgi_production_apps[0].stats.address = \"0.0.0.0:9191\"", "loopback HOST:PORT",
        uwsgi_production_apps=[app(stats={"type": "http", "address": "0.0.0.0:9191"})]),
    bad("stats_http_without_address", "uwsgi_production_apps[0].stats.address = null", "loopback HOST:PORT",
        uwsgi_production_apps=[app(stats={"type": "http"})]),
    bad("stats_http_port_zero", "uwsgi_production_apps[0].stats.address", "port 1-65535",
        uwsgi_production_apps=[app(stats={"type": "http", "address": "127.0.0.1:0"})]),
    bad("stats_unix_with_address", "uwsgi_production_apps[0].stats.address", "left out with type unix",
        uwsgi_production_apps=[app(stats={"address": "127.0.0.1:9191"})]),
    good("good_services", uwsgi_production_apps=[
        app(mules=["/srv/shop/mule.py", "shop.tasks:loop"],
            crons=[{"command": "date +%s >> /run/uwsgi-shop/cron.log"},
                   {"command": "/srv/shop/nightly", "minute": 30, "hour": 3, "week": 7, "unique": True, "harakiri": 0},
                   {"command": "true", "minute": -5, "day": "-2"}],
            timers=[{"signal": 100, "seconds": 5}, {"signal": "255", "seconds": "60"}],
            locks=["counter", "Sessions_2", "x-y"],
            caches=[{"name": "pages", "items": 100, "blocksize": 4096, "store": True},
                    {"name": "tokens.v2", "items": "50", "store": "tokens.db", "options": {"purge_lru": 1, "bitmap": True}},
                    {"name": "memo", "items": 2, "store": False}],
            stats={"type": "unix"}),
        app(name="blog", http_socket="127.0.0.1:8081", mules=2, stats={"type": "http", "address": "[::1]:9191"}),
        app(name="api", http_socket="127.0.0.1:8082", stats={"type": "http", "address": "localhost:9192"},
            caches=[{"name": "pages", "items": 10, "store": True}])]),
    # --- good inputs: every check passes ---
    good("good_no_apps"),
    good("good_readme_example", uwsgi_production_apps=[app(
        virtualenv="/srv/shop/venv", http_socket="127.0.0.1:8080",
        options={"harakiri": 30, "env": ["DJANGO_SETTINGS_MODULE=shop.settings", "LANG=C.UTF-8"]})]),
    good("good_several_apps", uwsgi_production_apps=[
        app(http_socket="127.0.0.1:8080"),
        app(name="blog_2", module=DELETE, wsgi_file="/srv/blog/wsgi.py", socket="", http_socket="[::1]:8081"),
        app(name="Api-v3", socket="/run/api.sock", http_socket=":8082", procname_prefix="api v3"),
    ]),
    good("good_name_of_64_characters", uwsgi_production_apps=[app(name="a" * 64)]),
    good("good_options_removed_with_null", uwsgi_production_apps=[app(options={
        "processes": None, "cheaper": None, "harakiri": None, "worker-reload-mercy": None, "env": None})]),
    good("good_numbers_as_digit_strings", uwsgi_production_stop_timeout="120", uwsgi_production_apps=[app(
        options={"harakiri": "30", "max-requests": "500", "processes": "16", "cheaper": "4", "cheaper-initial": "8"})]),
    good("good_guide_worker_counts", uwsgi_production_options=baseline(
        processes=128, cheaper=8, cheaper_initial=16, cheaper_step=16), uwsgi_production_apps=[app()]),
    good("good_minimal_baseline_without_worker_counts", uwsgi_production_options={"strict": True, "master": True},
         uwsgi_production_apps=[app(), app(name="blog", http_socket="127.0.0.1:8080")]),
    good("good_listen_at_somaxconn", uwsgi_production_apps=[app(options={"listen": SOMAXCONN})]),
    # An app to remove needs only its name; its sockets no longer count against the other apps'.
    good("good_absent_app_with_only_a_name", uwsgi_production_apps=[
        {"name": "old", "state": "absent"}, app(http_socket="127.0.0.1:8080"),
        {"name": "older", "state": "absent", "http_socket": "127.0.0.1:8080", "options": {"cheaper": 99}}]),
    good("good_own_users_environment_secrets_packages",
         uwsgi_production_apps=[
             app(user="shop", virtualenv="/srv/shop/venv", packages=["flask==3.1.2"],
                 environment={"DJANGO_SETTINGS_MODULE": "shop.settings", "WORKERS": 4}),
             app(name="blog", user="blog", group="web", http_socket="127.0.0.1:8081",
                 virtualenv="/srv/blog/venv", requirements="/srv/blog/requirements.txt"),
             {"name": "old", "state": "absent", "user": "old", "remove_user": True}],
         uwsgi_production_secrets={"shop": {"DATABASE_URL": "postgres://u:p@db/shop", "DEBUG": False}}),
    good("good_stop_timeout_above_app_mercy", uwsgi_production_stop_timeout=61,
         uwsgi_production_apps=[app(options={"worker-reload-mercy": 30}), app(name="blog")]),
]

# What an attacker (or a careless survey answer) writes into inventory to smuggle a line or a directive into
# a file the role renders, or to run the app with another identity (issue 14). Each is rejected before
# anything changes, naming the variable and the rule; no secret's value is shown.
INJECTION = "\nExecStartPost=/bin/touch /x"
INJECTION_CASES = [
    # --- a line break or NUL in anything that reaches a file ---
    bad("socket_unit_injection", "uwsgi_production_apps[0].socket", "line break or NUL|socket unit",
        uwsgi_production_apps=[app(socket="/run/uwsgi-shop/uwsgi.sock" + INJECTION)]),
    bad("http_socket_unit_injection", "uwsgi_production_apps[0].http_socket", "line break or NUL",
        uwsgi_production_apps=[app(http_socket="127.0.0.1:8080" + INJECTION)]),
    bad("http_socket_trailing_newline", "uwsgi_production_apps[0].http_socket = \"127.0.0.1:8080\\n\"", "line break or NUL",
        uwsgi_production_apps=[app(http_socket="127.0.0.1:8080\n")]),
    bad("socket_group_injection", "uwsgi_production_apps[0].socket_group", "line break or NUL",
        uwsgi_production_apps=[app(socket_group="www-data" + INJECTION)]),
    bad("hardening_value_injection", "uwsgi_production_apps[0].unit_hardening.ProtectHome", "line break or NUL|unit",
        uwsgi_production_apps=[app(unit_hardening={"ProtectHome": "yes" + INJECTION})]),
    bad("hardening_key_injection", "uwsgi_production_apps[0].unit_hardening[\"PrivateTmp=yes\\nUser\"]", "line break or NUL",
        uwsgi_production_apps=[app(unit_hardening={"PrivateTmp=yes\nUser": "root"})]),
    bad("role_hardening_list_item_injection", "uwsgi_production_unit_hardening.ReadOnlyPaths[1]", "line break or NUL",
        uwsgi_production_unit_hardening={**DEFAULTS["uwsgi_production_unit_hardening"],
                                         "ReadOnlyPaths": ["/srv", "/opt" + INJECTION]}),
    bad("writable_path_injection", "uwsgi_production_apps[0].writable_paths[0]", "line break or NUL",
        uwsgi_production_apps=[app(writable_paths=["/srv/shop/media" + INJECTION])]),
    bad("environment_key_trailing_newline", "uwsgi_production_apps[0].environment[\"LANG\\n\"]", "line break or NUL",
        uwsgi_production_apps=[app(environment={"LANG\n": "C.UTF-8"})]),
    bad("environment_value_nul", "uwsgi_production_apps[0].environment.LANG", "line break or NUL",
        uwsgi_production_apps=[app(environment={"LANG": "C\x00UTF-8"})]),
    bad("environment_value_line_separator", "uwsgi_production_apps[0].environment.LANG", "line break or NUL",
        uwsgi_production_apps=[app(environment={"LANG": "C\u2028ExecStartPost=/x"})]),
    bad("ini_value_injection", "uwsgi_production_apps[0].options.env", "line break or NUL|the app's ini",
        uwsgi_production_apps=[app(options={"env": "A=1\nharakiri = 0"})]),
    bad("ini_list_item_injection", "uwsgi_production_apps[0].options.env[1]", "line break or NUL",
        uwsgi_production_apps=[app(options={"env": ["A=1", "B=2\rharakiri = 0"]})]),
    bad("ini_key_with_equals", "uwsgi_production_apps[0].options[\"harakiri = 0 ;\"]", "not a usable ini key|'='",
        uwsgi_production_apps=[app(options={"harakiri = 0 ;": "x"})]),
    bad("ini_key_comment", "uwsgi_production_apps[0].options[\";harakiri\"]", "not a usable ini key",
        uwsgi_production_apps=[app(options={";harakiri": 0})]),
    bad("ini_key_hash", "uwsgi_production_apps[0].options[\"#x\"]", "not a usable ini key", uwsgi_production_apps=[app(options={"#x": 1})]),
    bad("ini_key_section", "uwsgi_production_apps[0].options[\"[other]\"]", "not a usable ini key|a section",
        uwsgi_production_apps=[app(options={"[other]": "x"})]),
    bad("ini_key_leading_space", "uwsgi_production_apps[0].options[\" harakiri\"]", "begin or end with a space",
        uwsgi_production_apps=[app(options={" harakiri": 0})]),
    bad("ini_key_empty", "uwsgi_production_apps[0].options[\"\"]", "must not be empty", uwsgi_production_apps=[app(options={"": "x"})]),
    bad("baseline_ini_key_newline", "uwsgi_production_options[\"master\\nharakiri\"]", "line break or NUL|every app's ini",
        uwsgi_production_options={**baseline(), "master\nharakiri": 0}, uwsgi_production_apps=[app()]),
    bad("master_fifo_shell_injection", "uwsgi_production_apps[0].options.master-fifo", "ExecStop= shell command",
        uwsgi_production_apps=[app(options={"master-fifo": "/run/uwsgi-shop/f'; touch /x; '"})]),
    bad("procname_prefix_injection", "uwsgi_production_apps[0].procname_prefix", "line break or NUL",
        uwsgi_production_apps=[app(procname_prefix="shop\nharakiri = 0")]),
    bad("module_injection", "uwsgi_production_apps[0].module", "line break or NUL",
        uwsgi_production_apps=[app(module="shop:app\nharakiri = 0")]),
    bad("chdir_injection", "uwsgi_production_apps[0].chdir", "line break or NUL", uwsgi_production_apps=[app(chdir="/srv\n[x]")]),
    bad("name_trailing_newline", "uwsgi_production_apps[0].name", "line break or NUL", uwsgi_production_apps=[app(name="shop\n")]),
    bad("cron_command_nul", "uwsgi_production_apps[0].crons[0].command", "line break or NUL",
        uwsgi_production_apps=[app(crons=[{"command": "true\x00reboot"}])]),
    bad("cron_minute_trailing_newline", "uwsgi_production_apps[0].crons[0].minute", "line break or NUL",
        uwsgi_production_apps=[app(crons=[{"command": "true", "minute": "5\n"}])]),
    bad("timer_signal_trailing_newline", "uwsgi_production_apps[0].timers[0].signal", "line break or NUL",
        uwsgi_production_apps=[app(timers=[{"signal": "100\n", "seconds": 1}])]),
    bad("lock_name_trailing_newline", "uwsgi_production_apps[0].locks[0]", "line break or NUL",
        uwsgi_production_apps=[app(locks=["counter\n"])]),
    bad("mule_trailing_newline", "uwsgi_production_apps[0].mules[0]", "line break or NUL",
        uwsgi_production_apps=[app(mules=["/srv/shop/mule.py\n"])]),
    bad("cache_name_trailing_newline", "uwsgi_production_apps[0].caches[0].name", "line break or NUL",
        uwsgi_production_apps=[app(caches=[{"name": "pages\n", "items": 10}])]),
    bad("cache_option_trailing_newline", "uwsgi_production_apps[0].caches[0].options.bitmap", "line break or NUL",
        uwsgi_production_apps=[app(caches=[{"name": "pages", "items": 10, "options": {"bitmap": "1\n"}}])]),
    bad("stats_address_trailing_newline", "uwsgi_production_apps[0].stats.address", "line break or NUL",
        uwsgi_production_apps=[app(stats={"type": "http", "address": "127.0.0.1:9191\n"})]),
    bad("stop_timeout_trailing_newline", "uwsgi_production_stop_timeout", "line break or NUL",
        uwsgi_production_stop_timeout="90\n", uwsgi_production_apps=[app()]),
    bad("secret_name_trailing_newline", "uwsgi_production_secrets.shop[\"TOKEN\\n\"]", "line break or NUL|secrets file",
        uwsgi_production_secrets={"shop": {"TOKEN\n": "s3cret-behind-a-newline-name"}}, uwsgi_production_apps=[app()]),
    bad("secret_value_nul", "uwsgi_production_secrets.shop.TOKEN", "line break or NUL|its value is not shown",
        uwsgi_production_secrets={"shop": {"TOKEN": "s3cret-with\x00nul"}}, uwsgi_production_apps=[app()]),
    bad("secret_value_line_separator", "uwsgi_production_secrets.shop.TOKEN", "its value is not shown",
        uwsgi_production_secrets={"shop": {"TOKEN": "s3cret\u2029B=2"}}, uwsgi_production_apps=[app()]),
    # --- what else changes a unit's structure ---
    bad("hardening_value_continues_the_line", "uwsgi_production_apps[0].unit_hardening.ReadOnlyPaths",
        "must not end with a backslash", uwsgi_production_apps=[app(unit_hardening={"ReadOnlyPaths": "/srv\\"})]),
    bad("writable_path_continues_the_line", "uwsgi_production_apps[0].writable_paths[0]", "must not end with a backslash",
        uwsgi_production_apps=[app(writable_paths=["/srv/shop\\"])]),
    bad("hardening_key_not_a_directive", "uwsgi_production_apps[0].unit_hardening.Protect-Home",
        "not a systemd directive name", uwsgi_production_apps=[app(unit_hardening={"Protect-Home": True})]),
    bad("config_dir_with_a_space", "uwsgi_production_config_dir", "ExecStart= command line",
        uwsgi_production_config_dir="/etc/uwsgi production"),
    bad("venv_with_an_expansion", "uwsgi_production_venv", "'$'", uwsgi_production_venv="/opt/$UWSGI"),
    # --- identity and privilege are the role's alone ---
    bad("hardening_user_root", "uwsgi_production_apps[0].unit_hardening.User = \"root\"", "not a sandboxing directive|role's alone",
        uwsgi_production_apps=[app(unit_hardening={"User": "root"})]),
    bad("hardening_group", "uwsgi_production_apps[0].unit_hardening.Group", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"Group": "root"})]),
    bad("hardening_dynamic_user", "uwsgi_production_apps[0].unit_hardening.DynamicUser", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"DynamicUser": True})]),
    bad("hardening_supplementary_groups", "uwsgi_production_apps[0].unit_hardening.SupplementaryGroups",
        "not a sandboxing directive", uwsgi_production_apps=[app(unit_hardening={"SupplementaryGroups": "shadow"})]),
    bad("hardening_exec_start_pre", "uwsgi_production_apps[0].unit_hardening.ExecStartPre", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"ExecStartPre": "+/bin/sh -c 'id > /x'"})]),
    bad("hardening_exec_stop_post", "uwsgi_production_apps[0].unit_hardening.ExecStopPost", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"ExecStopPost": "/bin/true"})]),
    bad("hardening_exec_reload", "uwsgi_production_apps[0].unit_hardening.ExecReload", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"ExecReload": "/bin/true"})]),
    bad("hardening_environment_file", "uwsgi_production_apps[0].unit_hardening.EnvironmentFile", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"EnvironmentFile": "/tmp/env"})]),
    bad("hardening_root_directory", "uwsgi_production_apps[0].unit_hardening.RootDirectory", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"RootDirectory": "/tmp/root"})]),
    bad("hardening_pam", "uwsgi_production_apps[0].unit_hardening.PAMName", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"PAMName": "login"})]),
    bad("hardening_typo", "uwsgi_production_apps[0].unit_hardening.ProtectSytem", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"ProtectSytem": "strict"})]),
    bad("role_hardening_user", "uwsgi_production_unit_hardening.User", "not a sandboxing directive",
        uwsgi_production_unit_hardening={**DEFAULTS["uwsgi_production_unit_hardening"], "User": "root"}),
    bad("hardening_user_removed_with_null", "uwsgi_production_apps[0].unit_hardening.User = null", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"User": None})]),
    bad("ambient_setuid", "uwsgi_production_apps[0].unit_hardening.AmbientCapabilities", "CAP_NET_BIND_SERVICE|root",
        uwsgi_production_apps=[app(unit_hardening={"CapabilityBoundingSet": "CAP_SETUID", "AmbientCapabilities": "CAP_SETUID"})]),
    bad("ambient_list_with_sys_admin", "uwsgi_production_apps[0].unit_hardening.AmbientCapabilities", "CAP_NET_BIND_SERVICE",
        uwsgi_production_apps=[app(unit_hardening={"AmbientCapabilities": ["CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"]})]),
    bad("role_user_root", "uwsgi_production_user = \"root\"", "not root", uwsgi_production_user="root"),
    bad("role_user_with_a_space", "uwsgi_production_user", "system account name", uwsgi_production_user="uwsgi -o"),
    bad("role_group_root", "uwsgi_production_group = \"root\"", "grants privilege", uwsgi_production_group="root"),
    bad("role_group_sudo", "uwsgi_production_group", "grants privilege", uwsgi_production_group="sudo"),
    bad("app_group_docker", "uwsgi_production_apps[0].group = \"docker\"", "grants privilege",
        uwsgi_production_apps=[app(user="shop", group="docker")]),
    bad("app_user_names_a_privileged_group", "uwsgi_production_apps[0].user = \"shadow\"", "grants privilege|sets no group",
        uwsgi_production_apps=[app(user="shadow")]),
    bad("socket_group_shadow", "uwsgi_production_apps[0].socket_group = \"shadow\"", "grants privilege|supplementary group",
        uwsgi_production_apps=[app(socket_group="shadow")]),
    bad("socket_group_adds_a_second_group", "uwsgi_production_apps[0].socket_group = \"www-data shadow\"",
        "system account name", uwsgi_production_apps=[app(socket_group="www-data shadow")]),
    # --- what legitimately holds %, $, \\ or quotes keeps working (the app_settings scenario), and so do the
    # scenarios' and benchmarks' own hardening ---
    good("good_values_with_quotes_percent_dollar_backslash",
         uwsgi_production_apps=[app(environment={"GREETING": 'hello "quoted" 100% $HOME \\ back', "WIN": "C:\\"},
                                    options={"env": "MOTD=50% of $HOME's \"quota\""},
                                    crons=[{"command": "date +%s >> /run/uwsgi-shop/cron.log"}])],
         uwsgi_production_secrets={"shop": {"API_TOKEN": 'tok"en $PATH 50% \\ end', "TAB": "a\tb"}}),
    good("good_sandbox_relaxed_and_tightened", uwsgi_production_apps=[app(
        writable_paths=["/srv/shop/media"], socket_group="www-data",
        unit_hardening={"MemoryDenyWriteExecute": None, "ReadOnlyPaths": ["/srv/shop", "-/etc/shop"], "PrivateNetwork": False,
                        "LimitNOFILE": 4096, "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
                        "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "SystemCallFilter": ["@system-service", "~@privileged"]})]),
    good("good_role_hardening_without_a_directive",
         uwsgi_production_unit_hardening={**DEFAULTS["uwsgi_production_unit_hardening"], "ProtectProc": None, "UMask": "0077"}),
]
CASES += INJECTION_CASES

# The shape rules (issue 23): each value that becomes a path, an address, a unit directive, a request or an
# ini value has a shape that works there. Classes of cases, each refused naming the variable, its value and the rule.
LONG_SOCKET = "/run/uwsgi-shop/" + "s" * (107 - len("/run/uwsgi-shop/") - len(".sock")) + ".sock"  # 107 bytes: fits
EXPANSIONS = ["%(x)", "%n", "$(HOME)", "@(/etc/shadow)", "=(0)", "!(id)"]
SHAPE_CASES = [
    # --- absolute paths where a path is meant ---
    bad("venv_relative", "uwsgi_production_venv = \"opt/uwsgi\"", "absolute path|systemd takes no relative command",
        uwsgi_production_venv="opt/uwsgi"),
    bad("venv_dot_relative", "uwsgi_production_venv = \"./venv\"", "absolute path", uwsgi_production_venv="./venv"),
    bad("config_dir_relative", "uwsgi_production_config_dir = \"etc/uwsgi\"", "absolute path",
        uwsgi_production_config_dir="etc/uwsgi"),
    bad("chdir_relative", "uwsgi_production_apps[0].chdir = \"srv/shop\"", "absolute path|changes into it",
        uwsgi_production_apps=[app(chdir="srv/shop")]),
    bad("chdir_dot", "uwsgi_production_apps[0].chdir = \".\"", "absolute path", uwsgi_production_apps=[app(chdir=".")]),
    bad("virtualenv_relative", "uwsgi_production_apps[0].virtualenv = \"venv\"", "absolute path",
        uwsgi_production_apps=[app(virtualenv="venv")]),
    bad("writable_path_relative", "uwsgi_production_apps[0].writable_paths[1] = \"media\"", "absolute path|ReadWritePaths=",
        uwsgi_production_apps=[app(writable_paths=["/srv/shop/cache", "media"])]),
    good("good_venv_relative_with_system_method", uwsgi_production_install_method="system", uwsgi_production_venv="venv",
         uwsgi_production_apps=[app()]),
    good("good_writable_path_may_be_missing", uwsgi_production_apps=[app(writable_paths=["-/srv/shop/cache"])]),
    # --- a unix socket path fits a socket address (108 bytes with its NUL) ---
    bad("socket_108_bytes", "uwsgi_production_apps[0].socket", "is 108 bytes long|at most 107",
        uwsgi_production_apps=[app(socket=LONG_SOCKET.replace(".sock", "x.sock"))]),
    bad("socket_far_too_long", "uwsgi_production_apps[0].socket", "bytes long|sun_path holds 108 bytes",
        uwsgi_production_apps=[app(socket="/run/uwsgi-shop/" + "a" * 200)]),
    bad("socket_multibyte_too_long", "uwsgi_production_apps[0].socket", "is 112 bytes long",
        uwsgi_production_apps=[app(socket="/run/uwsgi-shop/" + "é" * 48)]),
    bad("option_socket_too_long", "uwsgi_production_apps[0].options.socket", "bytes long",
        uwsgi_production_apps=[app(options={"socket": ["/run/uwsgi-shop/a.sock", "/run/uwsgi-shop/" + "b" * 100]})]),
    bad("stats_socket_too_long", "uwsgi_production_apps[0].options.stats", "bytes long",
        uwsgi_production_apps=[app(options={"stats": "/run/uwsgi-shop/" + "c" * 110})]),
    good("good_socket_of_107_bytes", uwsgi_production_apps=[app(socket=LONG_SOCKET)]),
    # --- addresses through the one HOST:PORT parser ---
    bad("http_socket_octet_above_255", "uwsgi_production_apps[0].http_socket = \"127.0.0.256:8080\"",
        "not an IPv4 address|0 to 255", uwsgi_production_apps=[app(http_socket="127.0.0.256:8080")]),
    bad("http_socket_five_octets", "uwsgi_production_apps[0].http_socket", "not an IPv4 address",
        uwsgi_production_apps=[app(http_socket="10.0.0.1.2:8080")]),
    bad("http_socket_three_octets", "uwsgi_production_apps[0].http_socket", "not an IPv4 address",
        uwsgi_production_apps=[app(http_socket="10.0.1:8080")]),
    bad("http_socket_bad_ipv6", "uwsgi_production_apps[0].http_socket", "not an IPv6 address",
        uwsgi_production_apps=[app(http_socket="[::1::2]:8080")]),
    bad("http_socket_bad_hostname", "uwsgi_production_apps[0].http_socket", "not a hostname",
        uwsgi_production_apps=[app(http_socket="shop_host:8080", socket_activation=False)]),
    bad("http_socket_hostname_under_activation", "uwsgi_production_apps[0].http_socket = \"localhost:8080\"",
        "ListenStream=|not a hostname", uwsgi_production_apps=[app(http_socket="localhost:8080")]),
    bad("http_socket_star_under_activation", "uwsgi_production_apps[0].http_socket", "ListenStream=|'*'",
        uwsgi_production_apps=[app(http_socket="*:8080")]),
    bad("http_socket_hostname_with_role_activation", "uwsgi_production_apps[0].http_socket", "ListenStream=",
        uwsgi_production_socket_activation=True, uwsgi_production_apps=[app(http_socket="web.internal:8080")]),
    bad("https_address_octet_above_255", "uwsgi_production_apps[0].https.address", "not an IPv4 address",
        uwsgi_production_apps=[app(https={"address": "0.0.0.300:8443", "certificate": "x"})]),
    bad("option_http_socket_octet", "uwsgi_production_apps[0].options.http-socket", "not an IPv4 address",
        uwsgi_production_apps=[app(options={"http-socket": "192.168.1.999:8080"})]),
    bad("option_tcp_socket_port_zero", "uwsgi_production_apps[0].options.socket = \"127.0.0.1:0\"", "port from 1 to 65535",
        uwsgi_production_apps=[app(options={"socket": "127.0.0.1:0"})]),
    bad("baseline_http_socket_hostname", "uwsgi_production_options.http-socket", "ListenStream=",
        uwsgi_production_options=baseline(**{"http_socket": "localhost:8080"}), uwsgi_production_apps=[app()]),
    bad("stats_loopback_octet", "uwsgi_production_apps[0].stats.address", "loopback HOST:PORT",
        uwsgi_production_apps=[app(stats={"type": "http", "address": "127.0.0.300:9191"})]),
    good("good_addresses", uwsgi_production_apps=[
        app(http_socket="[::1]:8080"),
        app(name="blog", http_socket=":8081"),
        app(name="api", http_socket="0.0.0.0:8082", options={"socket": "127.0.0.1:3031"}),
        app(name="intra", http_socket="intra.example:8083", socket_activation=False),
        app(name="star", http_socket="*:8084", socket_activation=False),
        app(name="v6any", http_socket="[::]:8085"),
        app(name="local", http_socket="127.0.0.1:8086", stats={"type": "http", "address": "localhost:9191"})]),
    # --- scalar unit values ---
    bad("hardening_value_dict", "uwsgi_production_apps[0].unit_hardening.ProtectSystem = {\"strict\": true}",
        "must be a scalar|unit directive", uwsgi_production_apps=[app(unit_hardening={"ProtectSystem": {"strict": True}})]),
    bad("hardening_value_nested_list", "uwsgi_production_apps[0].unit_hardening.ReadOnlyPaths", "must be a scalar",
        uwsgi_production_apps=[app(unit_hardening={"ReadOnlyPaths": ["/srv", ["/opt"]]})]),
    bad("hardening_list_of_dicts", "uwsgi_production_apps[0].unit_hardening.SystemCallFilter", "must be a scalar",
        uwsgi_production_apps=[app(unit_hardening={"SystemCallFilter": [{"allow": "@system-service"}]})]),
    bad("role_hardening_value_dict", "uwsgi_production_unit_hardening.TasksMax", "must be a scalar",
        uwsgi_production_unit_hardening={**DEFAULTS["uwsgi_production_unit_hardening"], "TasksMax": {"max": 10}}),
    bad("writable_path_dict", "uwsgi_production_apps[0].writable_paths[0]", "must be a string",
        uwsgi_production_apps=[app(writable_paths=[{"path": "/srv"}])]),
    # --- health-check requests: no control characters ---
    bad("health_path_crlf", "uwsgi_production_apps[0].health_check.path = \"/\\r\\nX-Injected: 1\"",
        "control character|add a header", uwsgi_production_apps=[app(health_check={"path": "/\r\nX-Injected: 1"})]),
    bad("health_path_lf", "uwsgi_production_apps[0].health_check.path", "control character",
        uwsgi_production_apps=[app(health_check={"path": "/health\n"})]),
    bad("health_path_nul", "uwsgi_production_apps[0].health_check.path", "control character",
        uwsgi_production_apps=[app(health_check={"path": "/\x00"})]),
    bad("health_path_space", "uwsgi_production_apps[0].health_check.path", "no space",
        uwsgi_production_apps=[app(health_check={"path": "/a b HTTP/1.1"})]),
    bad("health_path_delete", "uwsgi_production_apps[0].health_check.path", "control character",
        uwsgi_production_apps=[app(health_check={"path": "/\x7f"})]),
    bad("role_health_path_tab", "uwsgi_production_health_check.path", "control character",
        uwsgi_production_health_check={**DEFAULTS["uwsgi_production_health_check"], "path": "/\tx"},
        uwsgi_production_apps=[app()]),
    bad("health_host_crlf", "uwsgi_production_apps[0].health_check.host", "control character",
        uwsgi_production_apps=[app(health_check={"host": "localhost\r\nX: 1"})]),
    good("good_health_path_with_query", uwsgi_production_apps=[app(health_check={"path": "/health?deep=1&x=%20"})]),
    # --- no uWSGI expansion smuggled through a value the role writes into the ini (every kind, every field) ---
    *[bad("module_expansion_%d" % number, "uwsgi_production_apps[0].module = %s" % json.dumps("shop:app" + magic),
          "uWSGI expands them|the app's ini", uwsgi_production_apps=[app(module="shop:app" + magic)])
      for number, magic in enumerate(EXPANSIONS)],
    bad("wsgi_file_expansion", "uwsgi_production_apps[0].wsgi_file", "uWSGI expands them",
        uwsgi_production_apps=[app(module=DELETE, wsgi_file="/srv/shop/@(/etc/shadow).py")]),
    bad("chdir_expansion", "uwsgi_production_apps[0].chdir", "uWSGI expands them", uwsgi_production_apps=[app(chdir="/srv/$(HOME)")]),
    bad("virtualenv_expansion", "uwsgi_production_apps[0].virtualenv", "uWSGI expands them",
        uwsgi_production_apps=[app(virtualenv="/srv/%n/venv")]),
    bad("procname_prefix_expansion", "uwsgi_production_apps[0].procname_prefix", "uWSGI expands them",
        uwsgi_production_apps=[app(procname_prefix="shop%(x)")]),
    bad("socket_expansion", "uwsgi_production_apps[0].socket", "uWSGI expands them",
        uwsgi_production_apps=[app(socket="/run/uwsgi-shop/%(x).sock")]),
    bad("mule_expansion", "uwsgi_production_apps[0].mules[0]", "uWSGI expands them",
        uwsgi_production_apps=[app(mules=["/srv/shop/!(id).py"])]),
    bad("cron_command_expansion", "uwsgi_production_apps[0].crons[0].command", "$(|in a script",
        uwsgi_production_apps=[app(crons=[{"command": "echo $(date)"}])]),
    bad("cron_command_include", "uwsgi_production_apps[0].crons[0].command", "@(",
        uwsgi_production_apps=[app(crons=[{"command": "cat @(/etc/shadow)"}])]),
    good("good_options_keep_uwsgi_expansion", uwsgi_production_apps=[app(
        options={"logto": "/var/log/uwsgi/%n.log", "env": "HOME_DIR=$(HOME)"}, crons=[{"command": "date +%s"}])]),
    # --- a unix socket uWSGI binds itself (socket activation off) lies where its sandbox lets it write ---
    bad("socket_outside_the_sandbox", "uwsgi_production_apps[0].socket = \"/srv/shop/shop.sock\"",
        "where the app can create it|/run/uwsgi-shop", uwsgi_production_apps=[app(socket="/srv/shop/shop.sock", socket_activation=False)]),
    bad("socket_in_another_apps_runtime_dir", "uwsgi_production_apps[0].socket", "where the app can create it",
        uwsgi_production_apps=[app(socket="/run/uwsgi-blog/shop.sock", socket_activation=False)]),
    bad("socket_in_run", "uwsgi_production_apps[0].socket", "where the app can create it",
        uwsgi_production_socket_activation=False, uwsgi_production_apps=[app(socket="/run/shop.sock")]),
    bad("socket_in_tmp", "uwsgi_production_apps[0].options.socket", "where the app can create it",
        uwsgi_production_apps=[app(options={"socket": "/tmp/shop.sock"}, socket_activation=False)]),
    bad("socket_in_a_prefix_of_a_writable_path", "uwsgi_production_apps[0].socket", "/srv/shop/media",
        uwsgi_production_apps=[app(socket="/srv/shop/media-x/s.sock", writable_paths=["/srv/shop/media"],
                                   socket_activation=False)]),
    good("good_socket_in_a_writable_path", uwsgi_production_apps=[app(
        socket="/srv/shop/run/shop.sock", writable_paths=["/srv/shop/run"], socket_activation=False)]),
    good("good_socket_anywhere_under_activation", uwsgi_production_apps=[app(socket="/srv/shop/shop.sock")]),
    good("good_socket_without_strict_sandbox", uwsgi_production_apps=[app(
        socket="/run/shop.sock", socket_activation=False, unit_hardening={"ProtectSystem": "full"})]),
]
CASES += SHAPE_CASES
BAD = [case for case in CASES if not case.good]
GOOD = [case for case in CASES if case.good]


# One case per rule with the whole message the role's Jinja assert of 0.1.0 rendered for it (recorded by
# running that preflight on the case): the messages are the same, word for word.
TODAYS_MESSAGES = {
    'system_method_with_another_python': (
        'uwsgi_production_python = "/opt/python3.12/bin/python3" must be /usr/bin/python3 with '
        "uwsgi_production_install_method = system: Debian's python3 plugin embeds /usr/bin/python3, so the apps' "
        'virtualenvs must be made with it (or use uwsgi_production_install_method = pip).'),
    'name_climbs_out': (
        'uwsgi_production_apps[0].name = "../x" is not a usable name: it must be 1-64 characters of letters, digits, '
        "'_' or '-', starting with a letter or digit, because it names the unit uwsgi-<name>.service, the file "
        '<name>.ini and the directory /run/uwsgi-<name>.'),
    'name_twice': (
        'uwsgi_production_apps[1].name = "shop" must be unique, but it is already the name of '
        'uwsgi_production_apps[0] (each name has its own unit and ini file).'),
    'module_and_wsgi_file': (
        'uwsgi_production_apps[0] (app "shop") must set exactly one of module and wsgi_file (what uWSGI loads); it '
        'sets ["module", "wsgi_file"].'),
    'module_empty': (
        'uwsgi_production_apps[0].module = "" must not be empty (it is what uWSGI loads).'),
    'module_not_text': (
        'uwsgi_production_apps[0].module = ["shop.wsgi"] must be a string.'),
    'socket_relative': (
        'uwsgi_production_apps[0].socket = "run/shop.sock" must be an absolute path (or "" for no unix socket).'),
    'no_socket_at_all': (
        'uwsgi_production_apps[0].socket = "" turns the unix socket off, so http_socket must be set (an app needs at '
        'least one of socket and http_socket).'),
    'http_socket_without_port': (
        'uwsgi_production_apps[0].http_socket = "127.0.0.1" must be HOST:PORT (for example 127.0.0.1:8080, '
        '[::1]:8080, or :8080 for every address) with a port from 1 to 65535.'),
    'same_unix_socket': (
        'uwsgi_production_apps[1].socket = "/run/shared.sock" must be unique, but it is already the unix socket of '
        'uwsgi_production_apps[0] (two apps cannot bind one socket).'),
    'same_http_port': (
        'uwsgi_production_apps[1].http_socket = "0.0.0.0:8080" must use a port of its own, but port 8080 is already '
        'an http-socket port of uwsgi_production_apps[0] (two apps cannot bind one port).'),
    'procname_prefix_double_quotes': (
        'uwsgi_production_apps[0].procname_prefix = "\\"shop \\"" must not contain quotes (uWSGI would show them '
        'literally in every process name).'),
    'app_option_dict_value': (
        'uwsgi_production_apps[0].options.env = {"LANG": "C.UTF-8"} must be a scalar (string, number, boolean; null '
        'removes the option) or a list of scalars (the key is repeated); a dict or a nested list cannot be written '
        'as uWSGI options.'),
    'app_option_key_not_text': (
        'uwsgi_production_apps[0].options has keys that are not strings: [1]. Option names must be text (quote them '
        'in YAML).'),
    'baseline_option_dict_value': (
        'uwsgi_production_options.env = {"LANG": "C.UTF-8"} must be a scalar (string, number, boolean; null removes '
        'the option) or a list of scalars (the key is repeated); a dict or a nested list cannot be written as uWSGI '
        'options.'),
    'baseline_option_key_not_text': (
        'uwsgi_production_options has keys that are not strings: [true]. Option names must be text (quote them in '
        'YAML).'),
    'harakiri_zero': (
        'uwsgi_production_apps[0].options.harakiri = 0 must be a positive integer (null removes the option).'),
    'stop_timeout_zero': (
        'uwsgi_production_stop_timeout = 0 must be a positive integer (seconds systemd waits for a clean stop).'),
    'lock_wait_negative': (
        'uwsgi_production_lock_wait = -1 must be 0 or a positive integer (seconds a run waits for another run of the '
        'role on the same host).'),
    'journal_lines_negative': (
        'uwsgi_production_journal_lines = -1 must be a positive integer (journal lines shown when an app fails to '
        'start).'),
    'health_path_relative': (
        'uwsgi_production_health_check = {"enabled": true, "path": "healthz", "status": [200], "host": "localhost", '
        '"timeout": 60} is not a usable health check: path must start with \'/\', status must be a non-empty list of '
        'HTTP statuses (100-599), timeout must be a whole number of seconds of at least 1, protocol must be http or '
        'uwsgi, and an app with neither socket nor http_socket needs health_check.socket (or enabled: false).'),
    'cheaper_equals_processes': (
        'uwsgi_production_apps[0].options.cheaper = 4 breaks the rule cheaper < processes: cheaper is 4 and '
        'processes is 4 in the effective options of uwsgi_production_apps[0] (app "shop"); cheaper is how many of '
        'the processes stay when idle.'),
    'max_lifetime_not_above_default_min': (
        'uwsgi_production_apps[0].options.max-worker-lifetime = 4 must be greater than min-worker-lifetime (10, '
        'uWSGI\'s default) in the effective options of uwsgi_production_apps[0] (app "shop"), or uWSGI refuses to '
        'start.'),
    'stop_timeout_equals_mercy': (
        'uwsgi_production_stop_timeout = 60 must be greater than worker-reload-mercy (60, from '
        'uwsgi_production_options) of uwsgi_production_apps[0] (app "shop"), or systemd kills workers uWSGI is still '
        'allowed to finish.'),
    'listen_above_somaxconn': (
        "uwsgi_production_apps[0].options.listen = 4097 must not be above this host's net.core.somaxconn (4096): "
        'uWSGI refuses to start with a listen queue the kernel would cut short. Lower it, or raise the sysctl first.'),
    'user_root': (
        'uwsgi_production_apps[0].user = "root" must be a system account name (1-32 lowercase letters, digits, \'_\' '
        "or '-', not starting with a digit or '-') and not root: uWSGI never runs as root."),
    'user_two_groups': (
        'uwsgi_production_apps: user "shop" is given the groups ["shop", "blog"] (by '
        "uwsgi_production_user/uwsgi_production_group and the apps' user/group); a user has one primary group, so "
        'set the same group on every app that runs as "shop".'),
    'environment_bad_name': (
        'uwsgi_production_apps[0].environment.1BAD is not usable: each key must be a variable name (letters, digits '
        "and '_', not starting with a digit) and each value a string, number or boolean without a line break."),
    'secrets_for_unknown_app': (
        'uwsgi_production_secrets has secrets for ["shoop"], which is not the name of an app to deploy in '
        'uwsgi_production_apps (a secret for no app is most likely a typo).'),
    'packages_without_virtualenv': (
        'uwsgi_production_apps[0] (app "shop") sets packages or requirements (null), so it needs virtualenv = an '
        'absolute path to install them into (it is null), and requirements must be an absolute path on the host.'),
    'remove_user_of_the_role': (
        'uwsgi_production_apps[0].remove_user is true (app "old"), so the app must name its own user in '
        'uwsgi_production_apps[0].user (it is null), and that user must not be uwsgi_production_user or run any app '
        'still deployed.'),
    'mule_script_relative': (
        'uwsgi_production_apps[0].mules[0] = "mule.py" must be a number of mules (1 or more) or a list of mule '
        'scripts, each the absolute path of a Python file (/srv/app/mule.py) or module:function: a relative path '
        'would depend on the directory uWSGI happens to be in.'),
    'cron_minute_60': (
        'uwsgi_production_apps[0].crons[0].minute = 60 must be a whole number in range (minute -59..59, hour '
        '-23..23, day -31..31 and month -12..12 but not 0, week -7..7): N runs at N, -1 at every one, -N at every '
        'Nth; leave it out for every one.'),
    'timer_signal_256': (
        'uwsgi_production_apps[0].timers[0].signal = 256 must be a uWSGI signal number from 0 to 255.'),
    'lock_named_twice': (
        'uwsgi_production_apps[0].locks[1] = "counter" must be a unique name of letters, digits, \'_\' or \'-\' starting '
        "with a letter (the app finds the lock's number in uwsgi.opt['lock.<name>'])."),
    'cache_of_one_item': (
        'uwsgi_production_apps[0].caches[0].items = 1 must be a whole number of at least 2 (uWSGI keeps the first '
        'item for itself, so 100 items hold 99 values).'),
    'stats_http_on_every_address': (
        'uwsgi_production_apps[0].stats.address = "0.0.0.0:9191" must be a loopback HOST:PORT with type http '
        '(127.0.0.1:9191, [::1]:9191 or localhost:9191, port 1-65535): the stats server tells anyone who connects '
        'about every worker and request, without any authentication.'),
}


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_input_is_rejected_naming_the_variable_and_the_rule(case):
    messages = check(case.vars)
    assert any(case.variable in message and all(word in message for word in case.words) for message in messages), messages


@pytest.mark.parametrize("case", GOOD, ids=[case.id for case in GOOD])
def test_good_input_passes_every_rule(case):
    assert check(case.vars) == []


@pytest.mark.parametrize("case_id", sorted(TODAYS_MESSAGES))
def test_the_message_is_the_one_of_the_jinja_rule(case_id):
    case = next(case for case in BAD if case.id == case_id)
    assert check(case.vars)[0] == TODAYS_MESSAGES[case_id]


def test_every_rule_has_a_case_with_its_whole_message():
    cases = {case.id: case for case in BAD}
    first_rules = [validator.violations(role_variables(cases[case_id].vars), SOMAXCONN)[0][0] for case_id in TODAYS_MESSAGES]
    assert sorted(first_rules) == sorted(rule.__name__.lstrip("_") for rule in validator.JINJA_RULES)


def test_every_violation_is_reported_at_once_in_the_order_of_the_rules():
    """One run names every broken rule of every app (the Jinja asserts stopped at the first)."""
    variables = {
        "uwsgi_production_stop_timeout": 30,
        "uwsgi_production_secrets": {"nope": {"TOKEN": "s3cret-value"}},
        "uwsgi_production_apps": [
            app(name="a b", socket="run/a.sock", user="root", options={"harakiri": 0, "listen": SOMAXCONN + 1}),
            app(name="blog", module="", procname_prefix="'blog'", mules=0, options={"cheaper": 9, "processes": 8}),
            app(name="blog", http_socket="127.0.0.1:0", health_check={"timeout": 0}),
        ]}
    found = validator.violations(role_variables(variables), SOMAXCONN)
    assert [rule for rule, _message in found] == [
        "names", "unique_names", "secrets", "not_empty", "socket_absolute", "http_socket", "procname_prefix", "accounts",
        "mules", "integer_options", "worker_counts", "stop_timeout_above_mercy", "stop_timeout_above_mercy",
        "stop_timeout_above_mercy", "shared_sockets", "health_checks", "listen_queue"]
    rules = [rule.__name__.lstrip("_") for rule in validator.RULES]
    assert [rule for rule, _message in found] == sorted((rule for rule, _message in found), key=rules.index)
    messages = [message for _rule, message in found]
    assert [message.split(" ", 1)[0] for message in messages] == [
        "uwsgi_production_apps[0].name", "uwsgi_production_apps[2].name", "uwsgi_production_secrets",
        "uwsgi_production_apps[1].module", "uwsgi_production_apps[0].socket", "uwsgi_production_apps[2].http_socket",
        "uwsgi_production_apps[1].procname_prefix", "uwsgi_production_apps[0].user", "uwsgi_production_apps[1].mules",
        "uwsgi_production_apps[0].options.harakiri", "uwsgi_production_apps[1].options.cheaper",
        "uwsgi_production_stop_timeout", "uwsgi_production_stop_timeout", "uwsgi_production_stop_timeout",
        "uwsgi_production_apps[2].socket", "uwsgi_production_apps[2].health_check", "uwsgi_production_apps[0].options.listen"]
    assert [message for message in messages if message.startswith("uwsgi_production_stop_timeout")] == [
        "uwsgi_production_stop_timeout = 30 must be greater than worker-reload-mercy (60, from uwsgi_production_options) of"
        " uwsgi_production_apps[%d] (app %s), or systemd kills workers uWSGI is still allowed to finish." % (index, name)
        for index, name in enumerate(['"a b"', '"blog"', '"blog"'])]
    assert validator.validate(role_variables(variables), SOMAXCONN) == messages


# The whole messages of the rules on what is rendered into a file and on identity (issue 14).
NEW_MESSAGES = {
    "socket_unit_injection": (
        'uwsgi_production_apps[0].socket = "/run/uwsgi-shop/uwsgi.sock\\nExecStartPost=/bin/touch /x" must not hold a '
        "line break or NUL: the role writes it into the app's socket unit, where it would start a line of its own."),
    "ini_key_with_equals": (
        'uwsgi_production_apps[0].options["harakiri = 0 ;"] is not a usable ini key: it must not be empty, hold \'=\', '
        "start with ';', '#' or '[', or begin or end with a space (uWSGI would read another key, a comment or a section)."),
    "hardening_user_root": (
        'uwsgi_production_apps[0].unit_hardening.User = "root" is not a sandboxing directive that unit_hardening may set '
        "(the allow-list is in the description of uwsgi_production_unit_hardening): the app's user, groups, commands and "
        "environment are the role's alone."),
    "secret_value_nul": (
        "uwsgi_production_secrets.shop.TOKEN holds a line break or NUL (its value is not shown): the role writes it into "
        "the app's secrets file, one variable per line."),
    "socket_group_shadow": (
        'uwsgi_production_apps[0].socket_group = "shadow" must not be root or a group that grants privilege (adm, admin, '
        "bin, daemon, dialout, disk, docker, input, kmem, kvm, libvirt, lp, lxd, operator, root, shadow, staff, sudo, sys, "
        "systemd-journal, tty, utmp, wheel): the app's processes get it as a supplementary group."),
}


@pytest.mark.parametrize("case_id", sorted(NEW_MESSAGES))
def test_the_messages_of_the_new_rules(case_id):
    case = next(case for case in BAD if case.id == case_id)
    assert check(case.vars) == [NEW_MESSAGES[case_id]]


def test_every_directive_of_the_default_sandbox_is_allowed():
    assert set(DEFAULTS["uwsgi_production_unit_hardening"]) <= validator.SANDBOXING
    assert not {"User", "Group", "DynamicUser", "SupplementaryGroups", "ExecStart", "ExecStartPre", "ExecStartPost",
                "ExecStop", "ExecStopPost", "ExecReload", "Environment", "EnvironmentFile"} & validator.SANDBOXING


def test_the_allow_list_is_the_documented_one():
    """The description of uwsgi_production_unit_hardening names every allowed directive the default does not set."""
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    description = " ".join(specs["argument_specs"]["main"]["options"]["uwsgi_production_unit_hardening"]["description"])
    allow_list = description.split("(the allow-list)", 1)[1].split("Any other directive", 1)[0]
    documented = set(re.findall(r"C\(([A-Za-z]+)\)", allow_list))
    assert documented == validator.SANDBOXING - set(DEFAULTS["uwsgi_production_unit_hardening"])


# What a templated certificate or key (read from a file on the host or the controller) stands for here.
TEMPLATED_PEM = {"certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                 "key": "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"}


def untemplated(value, key=None):
    """A value with each Jinja expression in its strings replaced by a path (the examples' app directory), or,
    for a whole templated certificate or TLS key, by PEM text, for a whole templated release id by an id."""
    if isinstance(value, dict):
        if key == "uwsgi_production_tls_keys":
            return {name: TEMPLATED_PEM["key"] if re.fullmatch(r"\{\{[^}]*\}\}", str(item)) else item
                    for name, item in value.items()}
        return {name: untemplated(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [untemplated(item) for item in value]
    if key == "certificate" and isinstance(value, str) and re.fullmatch(r"\{\{[^}]*\}\}", value):
        return TEMPLATED_PEM["certificate"]
    if key == "id" and isinstance(value, str) and re.fullmatch(r"\{\{[^}]*\}\}", value):
        return "templated"
    return re.sub(r"\{\{[^}]*\}\}", "/srv/templated", value) if isinstance(value, str) else value


def scenario_inputs():
    """The role's variables that each molecule scenario's apps.yml and each example playbook sets."""
    found = []

    def walk(where, data):
        if isinstance(data, dict):
            variables = untemplated({key: value for key, value in data.items() if key.startswith("uwsgi_production_")})
            if variables and all(isinstance(app, dict) for app in variables.get("uwsgi_production_apps", [])):
                found.append(pytest.param(variables, id=where))
            for value in data.values():
                walk(where, value)
        elif isinstance(data, list):
            for item in data:
                walk(where, item)

    for path in sorted(REPO.glob("molecule/*/apps.yml")) + sorted(REPO.glob("examples/*.yml")):
        walk(str(path.relative_to(REPO)), yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("variables", scenario_inputs())
def test_the_scenarios_and_examples_pass_every_rule(variables):
    assert check(variables) == []


# --- Secrets ---------------------------------------------------------------------------------------------
SECRET_CASES = [
    {"shop": {"DB-URL": "s3cret-dash"}},
    {"shop": {"MOTD": "s3cret-line\nbreak"}},
    {"shop": {"OK": "s3cret-ok", "LIST": ["s3cret-in-a-list"]}},
    {"shop": {"NESTED": {"KEY": "s3cret-nested"}}},
    {"shop": "s3cret-not-a-dict"},
    {"shoop": {"TOKEN": "s3cret-unknown-app"}},
    {"shop": {5: "s3cret-number-key"}},
    {"shop": {"A\nB": "s3cret-newline-key"}},
    {"shop": {"CR": "s3cret\rcr"}},
]


def secret_values(value):
    if isinstance(value, dict):
        return [text for item in value.values() for text in secret_values(item)]
    if isinstance(value, list):
        return [text for item in value for text in secret_values(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("secrets", SECRET_CASES, ids=range(len(SECRET_CASES)))
def test_a_bad_secret_is_named_but_its_value_never_shown(secrets):
    messages = check({"uwsgi_production_secrets": secrets, "uwsgi_production_apps": [app()]})
    assert len(messages) == 1 and messages[0].startswith("uwsgi_production_secrets"), messages
    for value in secret_values(secrets):
        assert value not in messages[0]
        assert value.split("\n")[0].split("\r")[0] not in messages[0]


def test_no_message_of_any_case_shows_a_secret_value():
    values = [value for case in CASES for value in secret_values(case.vars.get("uwsgi_production_secrets", {}))]
    assert len(values) >= 3
    for case in CASES:
        text = "\n".join(check(case.vars))
        assert not [value for value in values if value in text], case.id
        assert "s3cret" not in text, case.id


# --- The host's somaxconn ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("variables", "needed"), [
    ({}, False),
    ({"uwsgi_production_apps": [app(options={"harakiri": 30})]}, False),
    ({"uwsgi_production_apps": [app(options={"listen": 100})]}, True),
    ({"uwsgi_production_apps": [app(options={"listen": None})]}, True),
    ({"uwsgi_production_options": baseline(listen=100)}, True),
    # An app to remove binds nothing, but the role read somaxconn for it too; so does this.
    ({"uwsgi_production_apps": [{"name": "old", "state": "absent", "options": {"listen": 100}}]}, True),
])
def test_somaxconn_is_needed_only_when_some_options_set_listen(variables, needed):
    assert validator.needs_somaxconn(role_variables(variables)) is needed


def test_without_somaxconn_the_listen_queue_is_not_checked():
    variables = {"uwsgi_production_apps": [app(options={"listen": SOMAXCONN * 100})]}
    assert check(variables, somaxconn=None) == []
    assert check(variables, somaxconn=SOMAXCONN)


# --- The role's task and the action plugin -----------------------------------------------------------------
def test_the_preflight_is_one_task_that_passes_every_public_variable():
    tasks = yaml.safe_load((ROLE / "tasks" / "preflight.yml").read_text(encoding="utf-8"))
    assert len(tasks) == 1
    args = tasks[0]["pyops.uwsgi.uwsgi_validate"]
    public = sorted(name for name in DEFAULTS if name not in ("uwsgi_production_secrets", "uwsgi_production_tls_keys"))
    assert sorted(args["variables"]) == public
    for name, value in args["variables"].items():
        assert value == "{{ %s }}" % name
    # The secrets in their own argument, never among the variables.
    assert args["secrets"] == "{{ uwsgi_production_secrets }}"
    assert args["tls_keys"] == "{{ uwsgi_production_tls_keys }}"
    assert "no_log" not in tasks[0]  # the messages must show


def run_action(variables, secrets=None, check_mode=False, somaxconn="4096\n"):
    task = mock.MagicMock()
    task.args = {"variables": role_variables(variables)}
    task.args["variables"].pop("uwsgi_production_secrets")
    if secrets is not None:
        task.args["secrets"] = secrets
    task.async_val = 0
    task.check_mode = check_mode
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    plugin = action.ActionModule(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    read = {"content": base64.b64encode(somaxconn.encode()).decode(), "encoding": "base64"}
    with mock.patch.object(plugin, "_execute_module", return_value=read) as execute, \
            mock.patch.object(plugin, "_remove_tmp_path"), mock.patch.object(plugin, "_early_needs_tmp_path", return_value=False):
        result = plugin.run(task_vars={})
    return result, execute


def test_the_action_passes_good_input_without_asking_the_host():
    result, execute = run_action({"uwsgi_production_apps": [app()]}, secrets={"shop": {"TOKEN": "s3cret"}})
    assert result == {"changed": False, "violations": [], "msg": "Every input rule holds."}
    execute.assert_not_called()


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_action_reads_somaxconn_when_an_app_sets_listen(check_mode):
    result, execute = run_action({"uwsgi_production_apps": [app(options={"listen": 200})]}, check_mode=check_mode,
                                 somaxconn="128\n")
    execute.assert_called_once()
    assert execute.call_args.kwargs["module_name"] == "ansible.builtin.slurp"
    assert execute.call_args.kwargs["module_args"] == {"src": "/proc/sys/net/core/somaxconn"}
    assert result["failed"] and result["somaxconn"] == 128
    assert "net.core.somaxconn (128)" in result["msg"]


def test_the_action_fails_with_every_message_and_no_secret_value():
    secrets = {"shop": {"DB-URL": "s3cret-value"}, "nope": {"A": "other-s3cret"}}
    result, _execute = run_action({"uwsgi_production_apps": [app(name="../x"), app(http_socket="127.0.0.1:0")]},
                                  secrets=secrets)
    assert result["failed"] is True and result["changed"] is False
    assert len(result["violations"]) == 3
    assert result["msg"] == "\n".join(result["violations"])
    assert "s3cret" not in repr(result)


# --- The shape rules (issue 23): one whole message per rule, and the rules that need the host ----------------
SHAPE_MESSAGES = {
    "venv_relative": (
        'uwsgi_production_venv = "opt/uwsgi" must be an absolute path (starting with \'/\'): the unit of every app runs '
        "its bin/uwsgi, and systemd takes no relative command."),
    "socket_108_bytes": (
        'uwsgi_production_apps[0].socket = "%s" is 108 bytes long: a unix socket path must fit a socket address '
        "(sun_path holds 108 bytes with its final NUL, so at most 107)." % LONG_SOCKET.replace(".sock", "x.sock")),
    "http_socket_octet_above_255": (
        'uwsgi_production_apps[0].http_socket = "127.0.0.256:8080" must be HOST:PORT with an IPv4 address (127.0.0.1), an '
        "IPv6 address in brackets ([::1]), a hostname (only without socket activation) or nothing (every address) as "
        "HOST, and a port from 1 to 65535: 127.0.0.256 is not an IPv4 address (four numbers from 0 to 255, separated by "
        "'.')."),
    "hardening_value_dict": (
        'uwsgi_production_apps[0].unit_hardening.ProtectSystem = {"strict": true} must be a scalar (string, number, '
        "boolean; null leaves the directive out) or a list of scalars (the directive is repeated): a dict or a nested "
        "list cannot be written as a unit directive."),
    "health_path_crlf": (
        'uwsgi_production_apps[0].health_check.path = "/\\r\\nX-Injected: 1" must start with \'/\' and hold no space or '
        "control character (CR, LF, NUL, ...): the health check sends it in its request, where it would end the "
        "request line or add a header."),
    "module_expansion_0": (
        'uwsgi_production_apps[0].module = "shop:app%(x)" must not hold \'%\', \'$(\', \'@(\', \'=(\' or \'!(\': uWSGI '
        "expands them in the app's ini (%(option), %n, $(VARIABLE), @(file), ...), so the value it used would not be the "
        "one given."),
    "socket_outside_the_sandbox": (
        'uwsgi_production_apps[0].socket = "/srv/shop/shop.sock" must lie where the app can create it: with socket '
        "activation off uWSGI binds it itself, inside the app's sandbox (ProtectSystem=strict), which lets it write only "
        "in /run/uwsgi-shop."),
}


@pytest.mark.parametrize("case_id", sorted(SHAPE_MESSAGES))
def test_the_messages_of_the_shape_rules(case_id):
    case = next(case for case in BAD if case.id == case_id)
    assert check(case.vars) == [SHAPE_MESSAGES[case_id]]


def test_every_shape_rule_has_a_case_with_its_whole_message():
    cases = {case.id: case for case in BAD}
    rules = {validator.violations(role_variables(cases[case_id].vars), SOMAXCONN)[0][0] for case_id in SHAPE_MESSAGES}
    assert rules == {rule.__name__.lstrip("_") for rule in validator.RULES[-len(rules):]}
    assert validator.RULES[-len(rules):] == shape.RULES


def test_host_port_is_parsed_in_one_place():
    """Nothing in plugins/ but uwsgi_address splits HOST:PORT itself (issue 23: it was done in five places)."""
    for path in sorted((REPO / "plugins").rglob("*.py")):
        if path.name == "uwsgi_address.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert 'rpartition(":")' not in text and '"^.*:"' not in text and "HTTP_SOCKET" not in text, path


def host(existing):
    """A host's answer to `isdir`, from the directories it has."""
    return lambda path: path in existing


def host_check(apps, existing, **variables):
    variables = role_variables(dict(variables, uwsgi_production_apps=apps))
    role = {key[len("uwsgi_production_"):]: value for key, value in variables.items()}
    role.pop("apps")
    return validator.validate_host(apps, role, host(existing))


@pytest.mark.parametrize("apps, existing, variable, words", [
    ([app(chdir="/srv/missing")], {"/srv"}, 'uwsgi_production_apps[0].chdir = "/srv/missing"', "directory on the host"),
    ([app(), app(name="blog", chdir="/srv/blog", http_socket="127.0.0.1:8081")], {"/srv/shop"},
     "uwsgi_production_apps[1].chdir", "does not make it"),
    ([{"name": "old", "state": "absent"}, app(chdir="/nope")], set(), "uwsgi_production_apps[1].chdir", "directory"),
    ([app(socket="/srv/shop/run/shop.sock", writable_paths=["/srv/shop/run"], socket_activation=False)], {"/srv/shop"},
     'uwsgi_production_apps[0].socket = "/srv/shop/run/shop.sock"', "(/srv/shop/run does not)"),
    ([app(options={"socket": "/var/run/shop/s.sock"}, socket_activation=False, unit_hardening={"ProtectSystem": "full"})],
     {"/srv/shop"}, "uwsgi_production_apps[0].options.socket", "makes no directory"),
])
def test_what_an_app_names_must_exist_on_the_host(apps, existing, variable, words):
    messages = host_check(apps, existing)
    assert any(variable in message and words in message for message in messages), messages


@pytest.mark.parametrize("apps, existing", [
    ([app()], {"/srv/shop"}),
    # systemd makes the runtime directory; under socket activation systemd makes the socket's directory.
    ([app(socket="/run/uwsgi-shop/other.sock", socket_activation=False)], {"/srv/shop"}),
    ([app(socket="/srv/shop/run/shop.sock")], {"/srv/shop"}),
    ([app(socket="/srv/shop/run/shop.sock", writable_paths=["/srv/shop/run"], socket_activation=False)],
     {"/srv/shop", "/srv/shop/run"}),
    # An app to remove, and an app with a release (its chdir is the release's), name nothing that must exist.
    ([{"name": "old", "state": "absent", "chdir": "/gone"}], set()),
    ([{"name": "shop", "module": "shop.wsgi:application",
       "release": {"id": "2.0", "source": {"pip": ["shop==2.0"]}}}], set()),
])
def test_what_exists_on_the_host_passes(apps, existing):
    assert host_check(apps, existing) == []


# --- The injection rule is the renderer's (uwsgi_validate_injection): no list of what goes where ---------

def _with_motd(monkeypatch, where):
    """The renderer writes a new app key, `motd`, into a file the validator was never told about."""
    from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render
    if where == "unit":
        original = uwsgi_render._service_hardening
        monkeypatch.setattr(uwsgi_render, "_service_hardening",
                            lambda app, role: original(app, role) + [("Description", app.get("motd", ""))])
    else:
        original = uwsgi_render.ini_lines
        monkeypatch.setattr(uwsgi_render, "ini_lines",
                            lambda app, options, managed="x": original(app, options) + [("motd", app.get("motd", ""))])


@pytest.mark.parametrize("where, file", [("unit", "the app's unit"), ("ini", "the app's ini")])
def test_a_value_the_renderer_newly_writes_is_held_to_the_rule(monkeypatch, where, file):
    variables = {"uwsgi_production_apps": [app(motd="hello\nExecStartPre=/bin/touch /x")]}
    assert check(variables) == []  # the renderer does not write `motd` (yet)
    _with_motd(monkeypatch, where)
    assert check(variables) == [
        'uwsgi_production_apps[0].motd = "hello\\nExecStartPre=/bin/touch /x" must not hold a line break or NUL: the role'
        " writes it into %s, where it would start a line of its own." % file]
    assert check({"uwsgi_production_apps": [app(motd="hello")]}) == []


def test_a_value_the_renderer_newly_ends_a_unit_line_with_may_not_continue_it(monkeypatch):
    _with_motd(monkeypatch, "unit")
    assert check({"uwsgi_production_apps": [app(motd="C:\\")]}) == [
        'uwsgi_production_apps[0].motd = "C:\\\\" must not end with a backslash: systemd would join the next line of the'
        " app's unit to it."]


def test_role_variables_are_checked_with_no_app_to_deploy():
    messages = check({"uwsgi_production_stop_timeout": "90\nExecStartPre=/bin/touch /x"})
    assert any(message.startswith("uwsgi_production_stop_timeout = ") and "every app's unit" in message
               for message in messages), messages


def test_every_file_of_a_good_app_is_rendered_and_read_as_meant():
    """The guard that skips what cannot render skips nothing good: every file is parsed, and reads as meant."""
    from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_injection as injection
    variables = role_variables({"uwsgi_production_apps": [app(http_socket="127.0.0.1:8080", environment={"A": "1"})],
                                "uwsgi_production_secrets": {"shop": {"TOKEN": "x"}}})
    files = {file: lines for _index, file, _grammar, _separator, lines in
             injection.rendered_lines(validator.Inputs(variables, SOMAXCONN))}
    assert all(files[name] for name in ("ini", "unit", "socket unit", "secrets file"))
    for name, grammar, separator in injection.FILES:
        assert injection.misread(files[name], grammar, separator) == []
    assert any(isinstance(line, tuple) for line in files["ini"]) and any(isinstance(line, tuple) for line in files["unit"])


@pytest.mark.parametrize("text, grammar, entries", [
    ("a = 1\n; c\nb=2\n[x]\n", "ini", [("pair", "a", "1"), None, ("pair", "b", "2"), ("section", "[x]")]),
    ("A=1 \\\nB=2\n# c \\\nC=3\n", "unit", [("pair", "A", "1  B=2"), None, ("pair", "C", "3")]),
])
def test_the_readers_grammars(text, grammar, entries):
    from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate_injection as injection
    assert [entry for _first, _last, entry in injection.parse(text, grammar)] == entries
