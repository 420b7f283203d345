"""Bad input never reaches a host: the real role, run only as far as its preflight, rejects it.

One ansible-playbook run checks every case (no host, no container, well under a minute): each case is a
host of a generated inventory, connected locally and carrying its own variables, and
tests/unit/preflight.yml applies the role pyops.uwsgi.uwsgi_production to all of them with
`--tags uwsgi_production_preflight --check`, so only the role's argument validation and
tasks/preflight.yml run. The ansible.posix.json callback reports each host's results, and each case
asserts on its own host: a bad case must fail with a message naming the variable and the rule, a
good case must pass every check.
"""

import json
import os
import pathlib
import subprocess
from dataclasses import dataclass, field

import pytest
import yaml
from paths import REPO, ROLE, load_yaml

PLAYBOOK = REPO / "tests" / "unit" / "preflight.yml"
DEFAULTS = load_yaml(ROLE / "defaults" / "main.yml")
PREFLIGHT_TASKS = [inner["name"] for task in load_yaml(ROLE / "tasks" / "preflight.yml")
                   for inner in task.get("block", [task])]  # a block's tasks in its place
LAST_PREFLIGHT_TASK = PREFLIGHT_TASKS[-1]
# `listen` above this makes uWSGI refuse to start; the role reads it from the host, as the test does.
SOMAXCONN = int(pathlib.Path("/proc/sys/net/core/somaxconn").read_text())


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
    # --- types, caught by meta/argument_specs.yml (Ansible's own messages) ---
    bad("apps_not_a_list_of_dicts", "uwsgi_production_apps", "convert to dict",
        uwsgi_production_apps=["shop"]),
    bad("app_without_name", "uwsgi_production_apps", "missing required arguments: name",
        uwsgi_production_apps=[app(name=DELETE)]),
    bad("app_with_unknown_key", "uwsgi_production_apps.modul", "Supported parameters",
        uwsgi_production_apps=[app(module=DELETE, modul="shop.wsgi:application")]),
    bad("app_options_not_a_dict", "'options'", "convert to dict",
        uwsgi_production_apps=[app(options=["harakiri=30"])]),
    bad("app_options_null", "'options'", "convert to dict",
        uwsgi_production_apps=[app(options=None)]),
    bad("options_not_a_dict", "uwsgi_production_options", "convert to dict",
        uwsgi_production_options=["strict"]),
    bad("stop_timeout_not_a_number", "uwsgi_production_stop_timeout", "convert to int",
        uwsgi_production_stop_timeout="soon"),
    bad("build_packages_not_a_list", "uwsgi_production_build_packages", "convert to list",
        uwsgi_production_build_packages={"gcc": True}),
    # --- install method ---
    bad("install_method_unknown", "uwsgi_production_install_method", "one of: pip, system",
        uwsgi_production_install_method="apt"),
    bad("system_packages_not_a_list", "uwsgi_production_system_packages", "convert to list",
        uwsgi_production_install_method="system", uwsgi_production_system_packages={"uwsgi-core": True}),
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
    bad("state_unknown", "uwsgi_production_apps", "state|present, absent",
        uwsgi_production_apps=[app(state="gone")]),
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
        uwsgi_production_apps=[app(options={"cheaper": 3})]),
    bad("cheaper_initial_above_processes", "uwsgi_production_apps[0].options.cheaper-initial",
        "cheaper-initial <= processes",
        uwsgi_production_apps=[app(options={"cheaper-initial": 9})]),
    bad("processes_lowered_below_cheaper", "uwsgi_production_apps[0].options.processes", "cheaper < processes",
        uwsgi_production_apps=[app(options={"processes": 2})]),
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
    bad("cron_without_command", "crons", "missing required arguments: command",
        uwsgi_production_apps=[app(crons=[{"minute": 5}])]),
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
    bad("timer_without_seconds", "timers", "missing required arguments: seconds",
        uwsgi_production_apps=[app(timers=[{"signal": 100}])]),
    bad("lock_named_twice", "uwsgi_production_apps[0].locks[1] = \"counter\"", "must be a unique name|uwsgi.opt",
        uwsgi_production_apps=[app(locks=["counter", "counter"])]),
    bad("lock_name_with_equals", "uwsgi_production_apps[0].locks[0]", "letters, digits",
        uwsgi_production_apps=[app(locks=["a=b"])]),
    bad("cache_without_name", "caches", "missing required arguments: name",
        uwsgi_production_apps=[app(caches=[{"items": 10}])]),
    bad("cache_without_items", "caches", "missing required arguments: items",
        uwsgi_production_apps=[app(caches=[{"name": "pages"}])]),
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
    bad("stats_type_tcp", "stats", "value of type must be one of: unix, http",
        uwsgi_production_apps=[app(stats={"type": "tcp"})]),
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
BAD = [case for case in CASES if not case.good]
GOOD = [case for case in CASES if case.good]


def ansible_env(tmp_path):
    """Environment in which `pyops.uwsgi` is this checkout, whatever else is installed."""
    collections = tmp_path / "collections"
    (collections / "ansible_collections" / "pyops").mkdir(parents=True)
    (collections / "ansible_collections" / "pyops" / "uwsgi").symlink_to(REPO)
    env = dict(os.environ)
    # ansible.posix (the json callback) comes from the toolchain's collections.
    others = env.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".cache" / "collections")
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(collections), others]),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def write_inventory(path, cases):
    hosts = {case.id: case.vars for case in cases}
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "hosts": hosts,
    }}
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def run_preflight(tmp_path, cases, callback):
    tmp_path.mkdir(exist_ok=True)
    env = ansible_env(tmp_path)
    env["ANSIBLE_STDOUT_CALLBACK"] = callback
    return subprocess.run(
        ["ansible-playbook", "-i", str(write_inventory(tmp_path / "inventory.yml", cases)), str(PLAYBOOK),
         "--tags", "uwsgi_production_preflight", "--check", "--forks", str(min(len(cases), 32))],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )


def task_name(task):
    """A task's name in the report, without the role's prefix "pyops.uwsgi.uwsgi_production : "."""
    return task["task"]["name"].split(" : ", 1)[-1]


@dataclass
class Outcome:
    stats: dict
    results: dict       # task name -> this host's result
    messages: list      # the messages of every failure, a loop's failed items included


class Report:
    def __init__(self, run):
        self.run = run
        self.data = json.loads(run.stdout)

    def tasks(self):
        return [task for play in self.data["plays"] for task in play["tasks"]]

    def outcome(self, host):
        results, messages = {}, []
        for task in self.tasks():
            result = task["hosts"].get(host)
            if result is None:
                continue
            results[task_name(task)] = result
            if result.get("failed"):
                items = [item for item in result.get("results", []) if item.get("failed")]
                messages += [item["msg"] for item in items] or [result["msg"]]
        return Outcome(self.data["stats"][host], results, messages)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = run_preflight(tmp_path_factory.mktemp("preflight"), CASES, "ansible.posix.json")
    assert run.stdout.lstrip().startswith("{"), run.stdout + run.stderr
    return Report(run)


def test_one_run_checked_every_case_and_nothing_but_the_preflight(report):
    assert sorted(report.data["stats"]) == sorted(case.id for case in CASES)
    assert report.run.returncode == 2, report.run.stderr  # some hosts failed, none unreachable
    for task in report.tasks():
        name = task_name(task)
        assert name.startswith("Validating arguments against arg spec 'main'") or name in PREFLIGHT_TASKS, name
    for host, stats in report.data["stats"].items():
        assert stats["changed"] == 0 and stats["unreachable"] == 0, host


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_input_is_rejected_naming_the_variable_and_the_rule(report, case):
    outcome = report.outcome(case.id)
    assert outcome.stats["failures"] == 1, f"{case.id} was not rejected; these checks passed: {list(outcome.results)}"
    text = "\n".join(outcome.messages)
    assert case.variable in text, text
    for word in case.words:
        assert word in text, text


@pytest.mark.parametrize("case", GOOD, ids=[case.id for case in GOOD])
def test_good_input_passes_every_check(report, case):
    outcome = report.outcome(case.id)
    assert outcome.stats["failures"] == 0, outcome.messages
    assert LAST_PREFLIGHT_TASK in outcome.results  # reached the end of the preflight


def test_the_run_fails_for_one_bad_case_and_passes_for_one_good_case(tmp_path):
    """The same checks with the default output: the exit status an operator sees."""
    name_case = next(case for case in BAD if case.id == "name_climbs_out")
    failed = run_preflight(tmp_path / "bad", [name_case], "ansible.builtin.default")
    assert failed.returncode != 0
    assert 'uwsgi_production_apps[0].name = "../x" is not a usable name' in failed.stdout + failed.stderr
    readme_case = next(case for case in GOOD if case.id == "good_readme_example")
    passed = run_preflight(tmp_path / "good", [readme_case], "ansible.builtin.default")
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_secret_values_never_appear_in_the_output(report):
    """uwsgi_production_secrets are checked without showing a value, even in the full JSON results."""
    secrets = [value for case in CASES for env in case.vars.get("uwsgi_production_secrets", {}).values()
               for value in env.values() if isinstance(value, str)]
    assert len(secrets) >= 3
    for value in secrets:
        assert value not in report.run.stdout + report.run.stderr
