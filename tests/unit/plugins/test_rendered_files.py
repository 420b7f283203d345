"""What the rendered ini, unit and socket unit say (plugins/module_utils/uwsgi_render.py, in-process)."""

from types import SimpleNamespace

import pytest
import yaml
from paths import ROLE

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render

DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())

APP = {
    "name": "demo",
    "module": "demo.wsgi:application",
    "chdir": "/srv/demo",
    "http_socket": "127.0.0.1:9000",
    "options": {
        "harakiri": 30,                      # override a baseline value
        "processes": None,                   # remove a baseline option
        "env": ["A=1", "B=2"],               # a list repeats the key
        "lazy-apps": False,                  # booleans render as true/false
        "mule": "",                          # empty strings are not rendered
    },
}


def render(_tmp_path, app, python="", **role_vars):
    """The ini, unit and socket unit of `app`, with `role_vars` laid over the role's defaults."""
    variables = dict(DEFAULTS, **role_vars)
    role = {key[len("uwsgi_production_"):]: value for key, value in variables.items()}
    options = model.ini_options(app, role, python)
    return (uwsgi_render.ini(app, options), uwsgi_render.service(app, role, options, False),
            uwsgi_render.socket(app, role))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("render"), APP)


def ini_lines(ini):
    return [line for line in ini.splitlines() if line and not line.startswith(";")]


def test_ini_is_one_section_of_key_value_lines(rendered):
    lines = ini_lines(rendered[0])
    assert lines[0] == "[uwsgi]"
    assert all(" = " in line for line in lines[1:])
    assert lines[1] == "strict = true"  # strict first, so it guards every later key


def test_overrides_lists_booleans_and_removal(rendered):
    lines = ini_lines(rendered[0])
    assert "harakiri = 30" in lines and "harakiri = 60" not in lines
    assert not any(line.startswith("processes =") for line in lines)
    assert [line for line in lines if line.startswith("env =")] == ["env = A=1", "env = B=2"]
    assert "lazy-apps = false" in lines
    assert "master = true" in lines
    assert not any(line.startswith("mule =") for line in lines)


def test_ini_derives_app_sockets_and_runtime_files(rendered):
    lines = ini_lines(rendered[0])
    for expected in ("chdir = /srv/demo", "module = demo.wsgi:application",
                     "pidfile2 = /run/uwsgi-demo/uwsgi.pid", "stats = /run/uwsgi-demo/stats.sock",
                     "master-fifo = /run/uwsgi-demo/master.fifo", "procname-prefix-spaced = demo"):
        assert expected in lines
    assert not any(line.startswith(("virtualenv =", "wsgi-file =")) for line in lines)


def listen_streams(socket_unit):
    return [line.split("=", 1)[1] for line in socket_unit.splitlines() if line.startswith("ListenStream=")]


def test_socket_activation_hands_the_sockets_to_uwsgi_in_listen_order(rendered):
    """systemd passes the ListenStream= sockets as fd 3, 4, ... in their order; the ini names them so."""
    ini, unit, socket_unit = rendered
    lines = ini_lines(ini)
    assert listen_streams(socket_unit) == ["/run/uwsgi-demo/uwsgi.sock", "127.0.0.1:9000"]
    assert "socket = fd://3" in lines and "http-socket = fd://4" in lines
    # systemd owns the unix socket: uWSGI must not chown what it did not bind. chmod-socket stays for
    # the stats socket, which uWSGI binds itself (it leaves inherited fds alone).
    assert not any(line.startswith("chown-socket =") for line in lines)
    assert "chmod-socket = 660" in lines and "stats = /run/uwsgi-demo/stats.sock" in lines
    for expected in ("SocketUser=uwsgi", "SocketGroup=uwsgi", "SocketMode=0660"):
        assert expected in socket_unit.splitlines()
    assert "Requires=uwsgi-demo.socket" in unit.splitlines() and "After=uwsgi-demo.socket" in unit.splitlines()
    # The runtime directory is made with the service's owner first, or the service's start would
    # chown it recursively and the socket would lose its SocketGroup= (found by nginx_front).
    assert socket_unit.splitlines().index(
        "ExecStartPre=/usr/bin/install -d -o uwsgi -g uwsgi -m 0755 /run/uwsgi-demo"
    ) < socket_unit.splitlines().index("ListenStream=/run/uwsgi-demo/uwsgi.sock")
    assert "RuntimeDirectory=uwsgi-demo" in unit.splitlines() and "RuntimeDirectoryMode=0755" in unit.splitlines()


def test_without_socket_activation_uwsgi_binds_its_own_sockets(tmp_path):
    ini, unit, _socket_unit = render(tmp_path, {**APP, "socket_activation": False})
    lines = ini_lines(ini)
    for expected in ("http-socket = 127.0.0.1:9000", "socket = /run/uwsgi-demo/uwsgi.sock",
                     "chmod-socket = 660", "chown-socket = uwsgi:uwsgi"):
        assert expected in lines
    assert "Requires=uwsgi-demo.socket" not in unit


def test_unit_stops_gracefully_through_the_master_fifo(rendered):
    stop = [line for line in rendered[1].splitlines() if line.startswith("ExecStop=")]
    assert len(stop) == 1
    assert 'echo q > /run/uwsgi-demo/master.fifo' in stop[0] and 'kill -0 "$MAINPID"' in stop[0]
    # Only while the master runs: when it exited on its own, writing to its fifo would block until the
    # timeout and fail the stop, and Restart=on-failure would start it again (found by vacuum).
    assert stop[0].index('[ -n "$MAINPID" ]') < stop[0].index("echo q") and stop[0].endswith("exit 0'")


def test_socket_activated_unit_has_no_start_limit(tmp_path, rendered):
    assert "StartLimitIntervalSec=0" in rendered[1].splitlines()
    assert "TriggerLimitIntervalSec=0" in rendered[2].splitlines()
    unit = render(tmp_path, {**APP, "socket_activation": False})[1]
    assert "StartLimitIntervalSec=0" not in unit


def test_socket_activated_uwsgi_takes_its_sockets_only_from_the_ini(tmp_path, rendered):
    """Without this, uWSGI also adds LISTEN_FDS's sockets as uwsgi sockets: each one twice."""
    start = [line for line in rendered[1].splitlines() if line.startswith("ExecStart=")]
    assert start == ["ExecStart=/usr/bin/env -u LISTEN_PID -u LISTEN_FDS -u LISTEN_FDNAMES "
                     "/opt/uwsgi/bin/uwsgi --ini /etc/uwsgi-production/demo.ini"]
    unit = render(tmp_path, {**APP, "socket_activation": False})[1]
    assert "ExecStart=/opt/uwsgi/bin/uwsgi --ini /etc/uwsgi-production/demo.ini" in unit.splitlines()


def test_unit_stops_with_sigterm_and_never_loops_on_a_missing_app(rendered):
    unit = rendered[1].splitlines()
    for expected in ("Type=notify", "NotifyAccess=all", "KillSignal=SIGTERM", "KillMode=mixed",
                     "Restart=on-failure", "RestartPreventExitStatus=22", "TimeoutStopSec=90",
                     "User=uwsgi", "Group=uwsgi", "RuntimeDirectory=uwsgi-demo"):
        assert expected in unit
    assert "KillSignal=SIGQUIT" not in unit


def test_unix_socket_can_be_turned_off(tmp_path):
    ini, _unit, socket_unit = render(tmp_path, {**APP, "socket": ""})
    lines = ini_lines(ini)
    assert not any(line.startswith("socket =") for line in lines)
    assert "chmod-socket = 660" in lines  # for the unix stats socket
    assert "http-socket = fd://3" in lines
    assert listen_streams(socket_unit) == ["127.0.0.1:9000"]


SERVICES = {
    "mules": ["/srv/demo/mule.py", "tasks:loop"],
    "crons": [{"command": "date +%s >> /run/uwsgi-demo/cron.log"},
              {"command": "/srv/demo/nightly a=b,c", "minute": 30, "hour": 3, "unique": True, "harakiri": 600}],
    "timers": [{"signal": 100, "seconds": 5}],
    "locks": ["counter", "sessions"],
    "caches": [{"name": "pages", "items": 100, "blocksize": 4096, "store": True},
               {"name": "tokens", "items": 50, "store": "tok.db", "options": {"purge_lru": True}},
               {"name": "memo", "items": 10}],
}


def test_services_render_as_uwsgi_options(tmp_path):
    ini, unit, _socket_unit = render(tmp_path, {**APP, **SERVICES, "options": {}})
    lines = ini_lines(ini)
    expected = [
        "mule = /srv/demo/mule.py", "mule = tasks:loop",
        # Every time field written out, and % doubled: uWSGI's ini would expand %s itself.
        "cron2 = minute=-1,hour=-1,day=-1,month=-1,week=-1 date +%%s >> /run/uwsgi-demo/cron.log",
        "cron2 = minute=30,hour=3,day=-1,month=-1,week=-1,unique=1,harakiri=600 /srv/demo/nightly a=b,c",
        "timer = 100 5",
        "locks = 2", "set-ph = lock.counter=1", "set-ph = lock.sessions=2",
        "cache2 = name=pages,items=100,blocksize=4096,store=/var/lib/uwsgi-demo/pages.cache",
        "cache2 = name=tokens,items=50,store=/var/lib/uwsgi-demo/tok.db,purge_lru=1",
        "cache2 = name=memo,items=10",
    ]
    assert [line for line in lines if line.split(" =")[0] in ("mule", "cron2", "timer", "locks", "set-ph", "cache2")] == expected
    assert not any(line.startswith("mules =") for line in lines)
    # The stores live in a state directory systemd makes for the service user.
    assert "StateDirectory=uwsgi-demo" in unit.splitlines() and "StateDirectoryMode=0750" in unit.splitlines()


def test_a_mule_count_http_stats_and_no_store(tmp_path):
    ini, unit, _socket_unit = render(tmp_path, {**APP, "socket": "", "mules": 3,
                                                "stats": {"type": "http", "address": "127.0.0.1:9191"}})
    lines = ini_lines(ini)
    assert "mules = 3" in lines and not any(line.startswith("mule =") for line in lines)
    assert "stats = 127.0.0.1:9191" in lines and "stats-http = true" in lines
    assert not any(line.startswith("chmod-socket =") for line in lines)  # no unix socket left to chmod
    assert not any(line.startswith(("cron2 =", "timer =", "locks =", "set-ph =", "cache2 =")) for line in lines)
    assert "StateDirectory=" not in unit


# --- uwsgi_production_install_method: system (Debian's uwsgi-core and its plugins) ---

@pytest.fixture(scope="module")
def rendered_system(tmp_path_factory):
    return render(tmp_path_factory.mktemp("render-system"), APP, uwsgi_production_install_method="system")


def test_system_method_ini_loads_debians_plugins_before_any_other_option(rendered, rendered_system):
    """Debian builds python3 and busyness as plugins: strict mode rejects `module`, `py-call-osafterfork`
    and the cheaper-busyness-* keys unless they are loaded first, and cheaper-algo busyness silently
    falls back to spare without its plugin."""
    lines = ini_lines(rendered_system[0])
    assert lines[0] == "[uwsgi]"
    assert lines[1] == "need-plugin = python3,cheaper_busyness"
    assert [line for line in lines if line.startswith(("need-plugin", "plugin"))] == [lines[1]]
    assert lines[2] == "strict = true"
    # Every other option is the pip method's, in the same order.
    assert lines[2:] == ini_lines(rendered[0])[1:]
    assert not any(line.startswith("need-plugin") for line in ini_lines(rendered[0]))


def test_system_method_unit_runs_debians_binary(tmp_path, rendered_system):
    start = [line for line in rendered_system[1].splitlines() if line.startswith("ExecStart=")]
    assert start == ["ExecStart=/usr/bin/env -u LISTEN_PID -u LISTEN_FDS -u LISTEN_FDNAMES "
                     "/usr/bin/uwsgi-core --ini /etc/uwsgi-production/demo.ini"]
    assert "/opt/uwsgi" not in rendered_system[1]
    unit = render(tmp_path, {**APP, "socket_activation": False}, uwsgi_production_install_method="system")[1]
    assert "ExecStart=/usr/bin/uwsgi-core --ini /etc/uwsgi-production/demo.ini" in unit.splitlines()


def test_system_method_plugins_can_be_set_by_an_app(tmp_path):
    """An app that needs one more plugin names the whole list; it stays the first option."""
    app = {**APP, "options": {**APP["options"], "need-plugin": "python3,cheaper_busyness,router_cache"}}
    lines = ini_lines(render(tmp_path, app, uwsgi_production_install_method="system")[0])
    assert lines[1] == "need-plugin = python3,cheaper_busyness,router_cache"
    assert sum(line.startswith("need-plugin") for line in lines) == 1


@pytest.mark.parametrize("python, kept", [("3.11\n", True), ("3.12\n", True), ("3.13\n", False), ("3.14\n", False), ("", True)])
def test_py_call_osafterfork_is_left_out_on_python_313_and_later(tmp_path, rendered, python, kept):
    """uWSGI 2.0.31 aborts every worker with it on Python 3.13+ (Debian 13); a Python the role could
    not ask (no output) keeps it. Nothing else in the ini changes."""
    lines = ini_lines(render(tmp_path, APP, python=python.strip())[0])
    assert ("py-call-osafterfork = true" in lines) is kept
    others = [line for line in lines if not line.startswith("py-call-osafterfork")]
    assert others == [line for line in ini_lines(rendered[0]) if not line.startswith("py-call-osafterfork")]


# --- Staggered recycling, and the options that follow the host's uWSGI -----------------------------------

ROLE_VARS = {key[len("uwsgi_production_"):]: value for key, value in DEFAULTS.items()}
# A host with 4 usable CPUs and 16 GB: 8 processes (uwsgi_sizing), as the role's fixed default was.
ROLE_VARS["host_resources"] = {"cpus": 4, "memory_mb": 16384}
HELLO = {"name": "hello", "module": "hello:application", "http_socket": "127.0.0.1:8080"}


def lifetimes(options):
    """Each worker's lifetime bound as uWSGI computes it (master_checks.c: max + (id - 1) x delta)."""
    delta = options.get("max-worker-lifetime-delta") or 0
    return [options["max-worker-lifetime"] + (wid - 1) * delta for wid in range(1, options["processes"] + 1)]


def test_each_worker_gets_its_own_lifetime_within_the_bound():
    options = model.ini_options(HELLO, ROLE_VARS, "3.11", "2.0.31")
    assert "max-requests" not in options and "max-requests-delta" not in options
    bounds = lifetimes(options)
    assert bounds[-1] == DEFAULTS["uwsgi_production_options"]["max-worker-lifetime"] == 3600
    assert len(set(bounds)) == len(bounds) == 8
    # Consecutive workers at least 2 master cycles (1 s each) apart, the first at about half the bound.
    assert min(b - a for a, b in zip(bounds, bounds[1:])) >= 2
    assert bounds[0] >= 3600 // 2 and bounds[0] > model.MIN_WORKER_LIFETIME
    assert list(options).index("max-worker-lifetime-delta") == list(options).index("max-worker-lifetime") + 1
    assert model.left_out_options(HELLO, ROLE_VARS, "3.11", "2.0.31") == []


@pytest.mark.parametrize("processes, bound, floor, expected", [
    (8, 3600, 10, (2025, 225)), (2, 3600, 10, (2700, 900)), (128, 3600, 10, (1822, 14)),
    (1, 3600, 10, None),           # one worker: nothing to stagger
    (2, 12, 10, (11, 1)),          # the first worker's lifetime stays above min-worker-lifetime
    (2, 11, 10, None),             # no room above it: uWSGI would refuse to start
    (8, 1000, 0, (566, 62)),       # max-requests: no floor
])
def test_stagger(processes, bound, floor, expected):
    assert model.stagger(bound, processes, floor) == expected


def test_a_binary_without_the_delta_keeps_the_bound_and_says_so():
    options = model.ini_options(HELLO, ROLE_VARS, "3.11", "2.0.18")
    assert options["max-worker-lifetime"] == 3600 and "max-worker-lifetime-delta" not in options
    (key, why), = model.left_out_options(HELLO, ROLE_VARS, "3.11", "2.0.18")
    assert key == "max-worker-lifetime-delta"
    assert "uWSGI 2.0.18 has no max-worker-lifetime-delta (added in 2.0.19)" in why


def test_max_requests_set_by_the_user_is_staggered_where_the_binary_has_the_delta():
    app = dict(HELLO, options={"max-requests": 1000})
    new = model.ini_options(app, ROLE_VARS, "3.11", "2.0.31")
    assert (new["max-requests"], new["max-requests-delta"]) == (566, 62)
    assert new["max-requests"] + 7 * new["max-requests-delta"] == 1000
    debian12 = model.ini_options(app, ROLE_VARS, "3.11", "2.0.21-debian")
    assert debian12["max-requests"] == 1000 and "max-requests-delta" not in debian12
    assert debian12["max-worker-lifetime-delta"] == 225  # 2.0.19 and later have this one
    (key, why), = model.left_out_options(app, ROLE_VARS, "3.11", "2.0.21-debian")
    assert key == "max-requests-delta" and "uWSGI 2.0.21-debian has no max-requests-delta (added in 2.0.29)" in why


def test_a_delta_the_options_set_is_theirs_even_null():
    for delta in (30, None):
        app = dict(HELLO, options={"max-worker-lifetime-delta": delta})
        options = model.ini_options(app, ROLE_VARS, "3.11", "2.0.31")
        assert options["max-worker-lifetime"] == 3600 and options["max-worker-lifetime-delta"] == delta
        assert model.left_out_options(app, ROLE_VARS, "3.11", "2.0.31") == []


def test_an_unknown_release_gets_no_delta_and_python_313_no_osafterfork():
    options = model.ini_options(HELLO, ROLE_VARS, "3.13", "")
    assert "max-worker-lifetime-delta" not in options and options["py-call-osafterfork"] is None  # not rendered
    keys = [key for key, _why in model.left_out_options(HELLO, ROLE_VARS, "3.13", "")]
    assert keys == ["py-call-osafterfork", "max-worker-lifetime-delta"]
    report = model.left_out_report({name: SimpleNamespace(left_out=left_out) for name, left_out in (
        ("a", [{"option": "k", "why": "w"}]), ("b", [{"option": "k", "why": "w"}]), ("c", []))})
    assert report == [{"option": "k", "why": "w", "apps": ["a", "b"], "text": "k is left out of the ini of 'a', 'b': w"}]


@pytest.mark.parametrize("text, expected", [("2.0.31", (2, 0, 31)), ("2.0.21-debian", (2, 0, 21)),
                                            ("2.0", (2, 0, 0)), ("", None), ("x", None)])
def test_release(text, expected):
    assert model.release(text) == expected


def test_debian_without_the_busyness_plugin_gets_spare_and_says_so():
    system = dict(ROLE_VARS, install_method="system")
    assert model.ini_options(HELLO, system, "3.11", "2.0.21-debian", ["cheaper_busyness", "python3"]) == \
        model.ini_options(HELLO, system, "3.11", "2.0.21-debian", None)
    options = model.ini_options(HELLO, system, "3.11", "2.0.21-debian", ["python3"])
    lines = [key for key, _value in model.option_lines(options)]
    assert lines[0] == "need-plugin" and options["need-plugin"] == "python3"
    assert not [key for key in lines if key.startswith("cheaper-busyness") or key == "cheaper-algo"]
    assert "cheaper" in lines and "processes" in lines  # the cheaper subsystem itself is in the core
    left = model.left_out_options(HELLO, system, "3.11", "2.0.21-debian", ["python3"])
    assert [key for key, _why in left][0] == "cheaper-algo" and len(left) == 7
    assert "no cheaper_busyness plugin (/usr/lib/uwsgi/plugins holds python3)" in left[0][1]
    # The pip method's build has what it has: the plugin list changes nothing.
    assert model.ini_options(HELLO, ROLE_VARS, "3.11", "2.0.31", ["python3"]) == model.ini_options(HELLO, ROLE_VARS, "3.11", "2.0.31")


def test_debian_without_the_busyness_plugin_keeps_what_the_app_sets_itself():
    """A busyness key the app's own options set is the user's explicit choice: it stays in the ini, where strict
    mode rejects it (naming the key and the binary's release), instead of being silently dropped."""
    system = dict(ROLE_VARS, install_method="system")
    app = dict(HELLO, options={**(HELLO.get("options") or {}), "cheaper-busyness-max": 80})
    options = model.ini_options(app, system, "3.11", "2.0.21-debian", ["python3"])
    assert options["cheaper-busyness-max"] == 80
    assert options["cheaper-algo"] is None and options["need-plugin"] == "python3"
    left = [key for key, _why in model.left_out_options(app, system, "3.11", "2.0.21-debian", ["python3"])]
    assert "cheaper-busyness-max" not in left and "cheaper-algo" in left
    own_plugins = dict(app, options={**app["options"], "need-plugin": "python3,cheaper_busyness"})
    assert model.ini_options(own_plugins, system, "3.11", "2.0.21-debian", ["python3"])["need-plugin"] == \
        "python3,cheaper_busyness"


# --- A quiet stop that still runs the app's atexit handlers (issue 15) ------------------------------

def unit_lines(unit, prefix):
    return [line for line in unit.splitlines() if line.startswith(prefix)]


def test_defaults_skip_the_teardown_and_import_the_roles_atexit_hook_last(tmp_path):
    app = dict(APP, options={"py-import": ["tracing", "/srv/demo/boot.py"]})
    lines = ini_lines(render(tmp_path, app)[0])
    assert "skip-atexit-teardown = true" in lines
    hook = "/etc/uwsgi-production/" + model.ATEXIT_HOOK_NAME
    assert [line for line in lines if line.startswith("py-import =")] == [
        "py-import = tracing", "py-import = /srv/demo/boot.py", "py-import = " + hook]


def test_the_hook_follows_the_config_dir_and_goes_with_skip_atexit_teardown(tmp_path):
    moved = ini_lines(render(tmp_path, APP, uwsgi_production_config_dir="/etc/apps")[0])
    assert "py-import = /etc/apps/" + model.ATEXIT_HOOK_NAME in moved
    for value in (None, False, "false"):
        app = dict(APP, options={"skip-atexit-teardown": value})
        lines = ini_lines(render(tmp_path, app)[0])
        assert not any(line.startswith("py-import =") for line in lines), value


def test_the_hook_is_a_constant_that_runs_python_atexit_handlers_after_an_earlier_uwsgi_atexit():
    # Nothing of any variable reaches the file: it is this constant, written as it is.
    calls = []
    fake = type("uwsgi", (), {"atexit": staticmethod(lambda: calls.append("earlier"))})
    import atexit
    import sys
    saved = sys.modules.get("uwsgi")
    sys.modules["uwsgi"] = fake
    try:
        namespace = {}
        exec(compile(model.ATEXIT_HOOK, model.ATEXIT_HOOK_NAME, "exec"), namespace)  # noqa: S102 - the hook itself
        atexit.register(calls.append, "handler")
        fake.atexit()
    finally:
        if saved is None:
            del sys.modules["uwsgi"]
        else:
            sys.modules["uwsgi"] = saved
    assert calls == ["earlier", "handler"]
    atexit.unregister(calls.append)


def test_socket_activated_app_has_vacuum_off_and_the_unit_removes_uwsgis_own_files(rendered):
    ini, unit, _socket = rendered
    assert "vacuum = false" in ini_lines(ini)
    assert unit_lines(unit, "ExecStopPost=") == [
        "ExecStopPost=+/bin/rm -f -- /run/uwsgi-demo/uwsgi.pid /run/uwsgi-demo/stats.sock"]


def test_the_socket_unit_leaves_nothing_of_the_app_in_run_when_it_stops(rendered):
    """systemd removes the socket it made, then the runtime directory goes; the next start makes it again."""
    socket = rendered[2].splitlines()
    assert "RemoveOnStop=yes" in socket
    assert unit_lines(rendered[2], "ExecStopPost=") == ["ExecStopPost=/bin/rm -rf -- /run/uwsgi-demo"]
    assert unit_lines(rendered[2], "ExecStartPre=") == [
        "ExecStartPre=/usr/bin/install -d -o uwsgi -g uwsgi -m 0755 /run/uwsgi-demo"]
    # The service only stops after the socket unit's removal can run: it Requires= and is After= it.
    assert {"Requires=uwsgi-demo.socket", "After=uwsgi-demo.socket"} <= set(rendered[1].splitlines())


def test_an_app_binding_its_own_sockets_keeps_vacuum_and_has_no_stop_post(tmp_path):
    ini, unit, _socket = render(tmp_path, dict(APP, socket_activation=False))
    assert "vacuum = true" in ini_lines(ini)
    assert unit_lines(unit, "ExecStopPost=") == []


@pytest.mark.parametrize("options, removed", [
    ({"vacuum": False}, None),                                    # the app's own choice: nothing removed
    ({"vacuum": None}, None),
    ({"pidfile2": "/srv/demo/demo.pid"}, ["/run/uwsgi-demo/stats.sock"]),   # moved elsewhere: kept
    ({"stats": "127.0.0.1:9191", "stats-http": True}, ["/run/uwsgi-demo/uwsgi.pid"]),
    ({"vacuum": "true"}, ["/run/uwsgi-demo/uwsgi.pid", "/run/uwsgi-demo/stats.sock"]),
])
def test_stop_cleanup_names_only_the_roles_own_paths_of_files_vacuum_would_remove(tmp_path, options, removed):
    ini, unit, _socket = render(tmp_path, dict(APP, options=options))
    lines = unit_lines(unit, "ExecStopPost=")
    if removed is None:
        assert lines == []
        assert "vacuum = true" not in ini_lines(ini)
    else:
        assert lines == ["ExecStopPost=+/bin/rm -f -- " + " ".join(removed)]
        assert "vacuum = false" in ini_lines(ini)


def test_an_app_without_listening_sockets_is_not_activated_and_keeps_vacuum(tmp_path):
    app = {key: value for key, value in APP.items() if key != "http_socket"}
    app["socket"] = ""
    ini, unit, _socket = render(tmp_path, app)
    assert "vacuum = true" in ini_lines(ini)
    assert unit_lines(unit, "ExecStopPost=") == []


def test_the_stop_waits_for_the_master_in_short_steps(rendered):
    stop = unit_lines(rendered[1], "ExecStop=")[0]
    assert "do sleep 0.02; done" in stop


@pytest.mark.parametrize("value, on", [
    (True, True), ("true", True), ("1", True), (1, True), ("yes", True),
    (False, False), ("false", False), (None, False), ("", False), (0, False), ("0", False), ([True], False)])
def test_is_on_reads_ini_booleans(value, on):
    assert model.is_on(value) is on
