# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The model of one uWSGI app: what the role derives from its description and the role's variables.

Plain functions of plain data (dicts, lists, strings), shared by the controller-side action plugins and
the modules that run on the host, and tested in-process (tests/unit/plugins/test_uwsgi_model.py).

``role`` is a dict of the role's variables without their ``uwsgi_production_`` prefix (``options``,
``user``, ``group``, ``config_dir``, ``install_method``, ``socket_activation``, ``unit_hardening``,
``health_check``, ``secrets``, ..., and ``host_resources``: the host's usable CPUs and memory that
uwsgi_facts read, which size the workers); ``app`` is one item of ``uwsgi_production_apps``, as given (no
defaults filled in). A key that is missing and a key that is null mean the same, except where a
comment says otherwise.
"""

from __future__ import annotations

import copy
from typing import Any, Collection, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_address as host_port
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as code_release
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_sizing as sizing

# One item of uwsgi_production_apps, as given; the role's variables without their prefix (see above);
# uWSGI options, key -> value (a list repeats its key, None leaves it out).
App = Mapping[str, Any]
Role = Mapping[str, Any]
Options = Mapping[str, Any]

# Debian's uWSGI (install method system): /usr/bin/uwsgi is an alternatives link to it.
SYSTEM_BINARY = "/usr/bin/uwsgi-core"

# What a health check is when neither the role nor the app says otherwise.
HEALTH_BASELINE = {"enabled": True, "path": "/", "status": [200], "host": "localhost", "timeout": 60}

# The kinds of listening socket, in the order the socket unit lists them (fd 3, 4, ... in this order).
LISTEN_KINDS = ("socket", "http-socket", "https-socket")
# The option of an app's `https` (its HTTPS socket), whose value is ADDRESS,CERTIFICATE,KEY.
HTTPS_KIND = "https-socket"
# What `uwsgi --cflags` prints for a binary built with SSL (https-socket exists only then).
SSL_CFLAG = "-DUWSGI_SSL"

# The Python versions on which py-call-osafterfork aborts every worker (uWSGI 2.0.31 and earlier call
# PyOS_AfterFork_Child() without PyOS_BeforeFork(): unbit/uwsgi#2710): 3.13 and later.
OSAFTERFORK_BROKEN_FROM = (3, 13)

# The uWSGI release (2.0 branch) that added each option the role derives for a binary that has it.
OPTION_SINCE = {"max-worker-lifetime-delta": (2, 0, 19), "max-requests-delta": (2, 0, 29)}

# Each recycling bound and the option that adds (worker id - 1) x delta to it, worker by worker.
STAGGERED = (("max-worker-lifetime", "max-worker-lifetime-delta"), ("max-requests", "max-requests-delta"))

# uWSGI's min-worker-lifetime when unset: no worker is recycled younger than this (seconds).
MIN_WORKER_LIFETIME = 10

# JSON logs (uwsgi_production_json_logs, docs/observability.md): every app's master sends each log line, as
# one datagram, to the host's encoder (roles/uwsgi_production/files/uwsgi_jsonlog.py), which systemd listens
# for (JSONLOG_SOCKET_UNIT, ListenDatagram=JSONLOG_SOCKET) and which writes it to the journal as JSON, in the
# app's name. The tag after the comma (uWSGI's logsocket plugin sends it before each datagram) says which
# logger sent it: uWSGI's own lines, or the request lines it keeps.
JSONLOG_SOCKET = "/run/pyops-uwsgi-jsonlog/log.sock"
JSONLOG_SOCKET_UNIT = "pyops-uwsgi-jsonlog.socket"
JSONLOG_TAGS = {"log": "L", "request": "R"}
# The request line: the fields that cannot hold a space first, the URI (which can) last, so the encoder
# splits it unambiguously whatever the URI holds.
JSONLOG_REQUEST_FORMAT = "%(status) %(msecs) %(size) %(pid) %(wid) %(addr) %(method) %(uri)"


def is_list(value: Any) -> bool:
    """A YAML list (not a string, not a dict)."""
    return isinstance(value, (list, tuple))


def as_list(value: Any) -> List[Any]:
    """A list as it is; anything else as a list of itself."""
    return list(value) if is_list(value) else [value]


# --- Names and paths on the host -------------------------------------------------------------------

def unit_name(name: str) -> str:
    return "uwsgi-%s.service" % name


def socket_unit_name(name: str) -> str:
    return "uwsgi-%s.socket" % name


def runtime_name(name: str) -> str:
    """systemd's RuntimeDirectory= (relative to /run) and StateDirectory= (relative to /var/lib)."""
    return "uwsgi-%s" % name


def runtime_dir(name: str) -> str:
    return "/run/" + runtime_name(name)


def state_dir(name: str) -> str:
    return "/var/lib/" + runtime_name(name)


def last_good_dir(role: Role) -> str:
    return role["config_dir"] + "/last-good"


def paths(role: Role, name: str) -> Dict[str, str]:
    """Every file the role keeps for app `name`: live and last good."""
    config, good = role["config_dir"], last_good_dir(role)
    return {
        "ini": "%s/%s.ini" % (config, name),
        "unit": "/etc/systemd/system/" + unit_name(name),
        "socket_unit": "/etc/systemd/system/" + socket_unit_name(name),
        "env": "%s/%s.env" % (config, name),
        # The app's certificate (chain) and private key, one PEM file (https), root:<app group> 0640.
        "tls": "%s/%s.pem" % (config, name),
        "good_ini": "%s/%s.ini" % (good, name),
        "good_unit": "%s/%s" % (good, unit_name(name)),
        "good_socket_unit": "%s/%s" % (good, socket_unit_name(name)),
        "good_env": "%s/%s.env" % (good, name),
        "good_tls": "%s/%s.pem" % (good, name),
        # The health check the last good configuration passed (a rollback asks the restored app by it).
        "good_health": "%s/%s.health.json" % (good, name),
        "runtime_dir": runtime_dir(name),
        "pidfile": runtime_dir(name) + "/uwsgi.pid",
        "stats_socket": runtime_dir(name) + "/stats.sock",
    }


def atexit_hook(role: Role) -> str:
    """The role's one Python file every app with skip-atexit-teardown imports (py-import): see ATEXIT_HOOK."""
    return role["config_dir"] + "/" + ATEXIT_HOOK_NAME


# The file atexit_hook() names, written by the role as it is here (no value of any variable is in it).
# skip-atexit-teardown makes a worker (and the master) exit without Py_Finalize(), which is what made an
# app with a large interpreter take seconds to stop (each of its workers tearing its interpreter down
# past the master's 1 s reaping tick). Py_Finalize() is also what runs the app's Python atexit handlers;
# uWSGI still calls `uwsgi.atexit` at every exit, so this sets it to run them (atexit._run_exitfuncs(),
# which runs each once, last registered first, as Python's exit does), after whatever an earlier
# py-import set there. It changes nothing else: no sys.path entry, no other module, nothing at import.
ATEXIT_HOOK_NAME = "atexit_handlers.py"
ATEXIT_HOOK = '''"""Installed by the Ansible role pyops.uwsgi.uwsgi_production. Do not edit.

uWSGI's skip-atexit-teardown skips Py_Finalize(), and with it the app's Python atexit handlers. uWSGI still
calls uwsgi.atexit when a process exits: this runs them there, after what uwsgi.atexit was before.
"""

import atexit

import uwsgi

_BEFORE = getattr(uwsgi, "atexit", None)


def _run_atexit_handlers():
    if _BEFORE is not None:
        _BEFORE()
    atexit._run_exitfuncs()


uwsgi.atexit = _run_atexit_handlers
'''


def binary(role: Role) -> str:
    """The uWSGI binary every app runs and that checks each ini."""
    if role.get("install_method") == "system":
        return SYSTEM_BINARY
    return role["venv"] + "/bin/uwsgi"


def check_command(uwsgi: str, ini: str) -> List[str]:
    """How the role checks a candidate ini before it replaces the live one: strict mode rejects unknown
    keys, and --get makes uWSGI exit before binding or importing anything. `--set vacuum=false` must
    come after --ini: without it the check's own exit "vacuums" the pidfile2 and stats socket that the
    ini names, which are the RUNNING app's (seen with uWSGI 2.0.31)."""
    return [uwsgi, "--strict", "--ini", ini, "--set", "vacuum=false", "--get", "master"]


# Where Debian's uwsgi-core and uwsgi-plugin-* packages put their plugins (<name>_plugin.so).
SYSTEM_PLUGIN_DIR = "/usr/lib/uwsgi/plugins"


def plugin_options(role: Role) -> Dict[str, str]:
    """Debian builds the Python support and the busyness algorithm as plugins: need-plugin (which,
    unlike plugins, fails at once on a missing one) comes first, before any key they define."""
    if role.get("install_method") == "system":
        return {"need-plugin": "python3,cheaper_busyness"}
    return {}


def busyness_keys(options: Options) -> List[str]:
    """The keys of the busyness algorithm among the options: cheaper-algo (when busyness) and cheaper-busyness-*."""
    return [key for key in options
            if key.startswith("cheaper-busyness-") or (key == "cheaper-algo" and options[key] == "busyness")]


def plugin_fit(app: App, options: Options, role: Role,
               plugins: Optional[Collection[str]]) -> Tuple[Dict[str, Any], List[Tuple[str, str]]]:
    """({key: None or value} that fits the options to the plugins the host's Debian uWSGI has, [(option, why)]):
    without a cheaper_busyness plugin, need-plugin loads python3 alone and the busyness keys are left out
    (uWSGI's default algorithm, spare, scales the workers). `plugins`: the names found in SYSTEM_PLUGIN_DIR,
    or None when not known (the pip method, or uWSGI not installed yet): nothing changes then. What the app's
    own options set is never left out: strict mode then rejects it, naming the key and the binary's release."""
    if role.get("install_method") != "system" or plugins is None or "cheaper_busyness" in plugins:
        return {}, []
    own = app.get("options") or {}
    keys = [key for key in busyness_keys(options) if options[key] is not None and key not in own]
    fit = {} if "need-plugin" in own else {"need-plugin": "python3"}
    fit.update({key: None for key in keys})
    why = ("Debian's uWSGI on this host has no cheaper_busyness plugin (%s holds %s): the busyness algorithm is "
           "left out, uWSGI's spare algorithm scales the workers" % (SYSTEM_PLUGIN_DIR, ", ".join(sorted(plugins)) or "none"))
    return fit, [(key, why) for key in keys]


# --- Users ---------------------------------------------------------------------------------------------

def app_user(app: App, role: Role) -> str:
    """The user the app runs as: its own, or the role's."""
    return app.get("user") or role["user"]


def app_group(app: App, role: Role) -> str:
    """The app's group: its own; else that of its own user, named like it; else the role's."""
    return app.get("group") or app.get("user") or role["group"]


def socket_group(app: App, role: Role) -> str:
    """The group of the app's sockets (a web server's, such as www-data), by default the app's."""
    value = app.get("socket_group")
    return app_group(app, role) if value is None else value


def present_apps(apps: Iterable[App]) -> List[App]:
    return [app for app in apps if app.get("state", "present") != "absent"]


def absent_apps(apps: Iterable[App]) -> List[App]:
    return [app for app in apps if app.get("state", "present") == "absent"]


def accounts(apps: Iterable[App], role: Role) -> List[List[str]]:
    """Each service account [user, group]: the role's first, then each app's to deploy, once each."""
    pairs = [[role["user"], role["group"]]]
    for app in present_apps(apps):
        pair = [app_user(app, role), app_group(app, role)]
        if pair not in pairs:
            pairs.append(pair)
    return pairs


# Every file and directory the role keeps for an app (keys of paths()), deleted with the app.
REMOVED_FILES = ("unit", "socket_unit", "ini", "good_ini", "good_unit", "good_socket_unit", "env", "good_env",
                 "tls", "good_tls", "good_health", "runtime_dir")


def removals(apps: Iterable[App], role: Role) -> List[Dict[str, Any]]:
    """What removing each app with state absent takes, in order: its units to stop and disable (the socket
    first, so that no connection starts the service again while it stops), every file the role keeps for
    it, and its own user and group when it asks (remove_user). Only the app's name is used for the paths.
    A group still used by an account of an app to deploy, or by the role, stays."""
    in_use = {group for _user, group in accounts(apps, role)}
    plan = []
    for app in absent_apps(apps):
        where = paths(role, app["name"])
        entry = {
            "name": app["name"],
            "units": [socket_unit_name(app["name"]), unit_name(app["name"])],
            "files": [where[key] for key in REMOVED_FILES],
            "user": None,
            "group": None,
        }
        if app.get("remove_user"):
            entry["user"] = app_user(app, role)
            group = app_group(app, role)
            entry["group"] = None if group in in_use else group
        plan.append(entry)
    return plan


def secret_apps(secrets: Optional[Mapping[str, Any]]) -> List[str]:
    """The names of the apps that have secrets (only names: the values stay out of every result)."""
    return [name for name, env in (secrets or {}).items() if env]


# --- HTTPS -------------------------------------------------------------------------------------------

def https(app: App) -> Optional[Dict[str, Any]]:
    """The app's HTTPS socket, {address, certificate}, or None when it has none."""
    value = app.get("https")
    return value if isinstance(value, dict) and value.get("address") else None


def https_apps(apps: Iterable[App]) -> List[str]:
    """The names of the apps to deploy that serve HTTPS (their uWSGI must be built with SSL)."""
    return [app["name"] for app in present_apps(apps) if https(app)]


def tls_pem(app: App, keys: Mapping[str, Any]) -> str:
    """The text of the app's TLS file: its certificate (chain), then its private key (from
    uwsgi_production_tls_keys), each ending in a line break. OpenSSL reads each from the same file."""
    parts = [str(https(app)["certificate"]), str(keys[app["name"]])]
    return "".join(part.strip() + "\n" for part in parts)


def https_value(address: str, role: Role, name: str) -> str:
    """`https-socket = ADDRESS,CERT,KEY`: both from the app's one TLS file."""
    pem = paths(role, name)["tls"]
    return "%s,%s,%s" % (address, pem, pem)


def https_address(value: str) -> str:
    """The address of an https-socket value (before its first ',')."""
    return value.split(",", 1)[0]


def has_ssl(cflags: Optional[str]) -> bool:
    """Whether `uwsgi --cflags` (its output) says the binary was built with SSL."""
    return SSL_CFLAG in (cflags or "").split()


# --- Options -----------------------------------------------------------------------------------------

def unix_socket(app: App) -> str:
    """The app's unix socket path, or '' when the app turned it off (socket: "" or null)."""
    if "socket" not in app:
        return runtime_dir(app["name"]) + "/uwsgi.sock"
    return app["socket"] or ""


def stats(app: App) -> Dict[str, Any]:
    """The app's stats server: a unix socket by default, or an HTTP one on loopback."""
    merged = {"type": "unix"}
    merged.update(app.get("stats") or {})
    return merged


def mule_scripts(app: App) -> List[Any]:
    mules = app.get("mules")
    return list(mules) if is_list(mules) else []


def cron_lines(app: App) -> List[str]:
    """One cron2 value per cron: every time field written out (-1 = every, -N = every N)."""
    lines = []
    for cron in app.get("crons") or []:
        keys = []
        for field in ("minute", "hour", "day", "month", "week"):
            value = cron.get(field)
            keys.append("%s=%s" % (field, -1 if value is None else value))
        if cron.get("unique"):
            keys.append("unique=1")
        if cron.get("harakiri") is not None:
            keys.append("harakiri=%s" % cron["harakiri"])
        # A % doubled: uWSGI would expand %s, %d, ... in the ini as its own magic variables.
        lines.append("%s %s" % (",".join(keys), str(cron["command"]).replace("%", "%%")))
    return lines


def timer_lines(app: App) -> List[str]:
    """`timer = SIGNAL SECONDS`: raise uWSGI signal SIGNAL every SECONDS."""
    return ["%s %s" % (timer["signal"], timer["seconds"]) for timer in app.get("timers") or []]


def lock_placeholders(app: App) -> List[str]:
    """lock.NAME=N for uWSGI's user locks 1..N in list order (lock 0 stays uWSGI's own)."""
    return ["lock.%s=%d" % (name, number) for number, name in enumerate(app.get("locks") or [], 1)]


def cache_stores(app: App) -> List[Any]:
    """The caches' store values that are set (true, or a file name)."""
    return [cache["store"] for cache in app.get("caches") or [] if cache.get("store")]


def _scalar_text(value: Any) -> str:
    """A value as Jinja2 writes it into a file: booleans as Python writes them."""
    return str(value)


def cache_lines(app: App) -> List[str]:
    """One cache2 value per cache; a store is a file in the app's state directory."""
    lines = []
    for cache in app.get("caches") or []:
        keys = ["name=%s" % cache["name"], "items=%s" % cache["items"]]
        if cache.get("blocksize") is not None:
            keys.append("blocksize=%s" % cache["blocksize"])
        store = cache.get("store")
        if store:
            file = ("%s.cache" % cache["name"]) if store is True else store
            keys.append("store=%s/%s" % (state_dir(app["name"]), file))
        for key, value in (cache.get("options") or {}).items():
            keys.append("%s=%s" % (key, int(value) if isinstance(value, bool) else _scalar_text(value)))
        lines.append(",".join(keys))
    return lines


def derived_options(app: App, role: Role) -> Dict[str, Any]:
    """The options the role derives from the app's description. A None value is not rendered."""
    name = app["name"]
    sock = unix_socket(app)
    stats_server = stats(app)
    stats_http = stats_server["type"] == "http"
    mules = app.get("mules")
    locks = app.get("locks") or []
    return {
        "chdir": app.get("chdir"),
        "module": app.get("module"),
        "wsgi-file": app.get("wsgi_file"),
        "virtualenv": app.get("virtualenv"),
        "socket": sock or None,
        # 0660 for the app's unix socket and, under socket activation too, its unix stats socket.
        "chmod-socket": "660" if (sock or not stats_http) else None,
        # The socket's group may be a web server's (www-data): the unit adds it as a supplementary group.
        "chown-socket": ("%s:%s" % (app_user(app, role), socket_group(app, role))) if sock else None,
        "http-socket": app.get("http_socket"),
        "https-socket": https_value(https(app)["address"], role, name) if https(app) else None,
        "pidfile2": runtime_dir(name) + "/uwsgi.pid",
        "stats": stats_server.get("address") if stats_http else runtime_dir(name) + "/stats.sock",
        "stats-http": "true" if stats_http else None,
        "master-fifo": runtime_dir(name) + "/master.fifo",
        # uWSGI's own services; an app's options may still set any of these keys itself.
        "mules": mules if (isinstance(mules, int) and not isinstance(mules, bool)) else None,
        "mule": mule_scripts(app) or None,
        "cron2": cron_lines(app) or None,
        "timer": timer_lines(app) or None,
        "locks": len(locks) or None,
        "set-ph": lock_placeholders(app) or None,
        "cache2": cache_lines(app) or None,
        # "<prefix> uWSGI master" in ps.
        "procname-prefix-spaced": app.get("procname_prefix", name),
    }


# The workers an app with releases keeps at rest (sized_options).
RELEASE_CHEAPER = 2


def sized_options(role: Role, *explicit: Options, release: bool = False) -> Dict[str, Any]:
    """The worker counts and reload-on-rss sized from the host's usable CPUs and memory (role's
    ``host_resources``, {cpus, memory_mb}, read by uwsgi_facts), for the keys none of the `explicit` option
    layers sets (uwsgi_sizing.sized); none when the host's figures are not known (the controller's checks)."""
    host = role.get("host_resources")
    if not isinstance(host, dict) or not host.get("cpus") or not host.get("memory_mb"):
        return {}
    fixed = {}
    for layer in explicit:
        fixed.update({key: value for key, value in layer.items() if key in sizing.SIZED_KEYS})
    values = sizing.sized(int(host["cpus"]), int(host["memory_mb"]), fixed)
    if release and "cheaper" not in fixed and isinstance(values.get("cheaper"), int) and values["cheaper"] < RELEASE_CHEAPER:
        # An app with releases keeps two workers at rest (and so at least three processes), so that one serves while
        # a chain reload replaces the other: with one, the cheaper algorithm would let every request wait for the
        # new worker's import. Unless the play sets cheaper or processes itself.
        if _whole(fixed.get("processes")) is None or _whole(fixed["processes"]) > RELEASE_CHEAPER:
            resized = dict(sizing.sized(int(host["cpus"]), int(host["memory_mb"]), dict(fixed, cheaper=RELEASE_CHEAPER)),
                           cheaper=RELEASE_CHEAPER)
            values = {key: resized[key] for key in sizing.SIZED_KEYS if key in resized}
    return values


def effective_options(app: App, role: Role) -> Dict[str, Any]:
    """What the user asked for: the plugins Debian's uWSGI must load, the role's baseline, the worker counts
    sized from the host where neither sets them, what the role derives from the app, then the app's own
    options (later ones win; key order is kept)."""
    baseline, app_options = role.get("options") or {}, app.get("options") or {}
    merged = {}
    sized = sized_options(role, baseline, app_options, release=bool(app.get("release")))
    for layer in (plugin_options(role), baseline, sized, derived_options(app, role),
                  json_log_options(role), app_options):
        merged.update(layer)
    if app.get("release"):
        # An app with releases loads the release `current` names in each worker (uwsgi_release.LOADER); the
        # app's own env lines come first.
        own = code_release.ini_options(app, role)
        own["env"] = [item for item in as_list(merged.get("env")) if item is not None and item != ""] + own["env"]
        merged.update(own)
    return merged


# --- Listening sockets and socket activation ---------------------------------------------------------------

def listen(options: Options) -> List[List[str]]:
    """[kind, address] of each address the app listens on: uwsgi-protocol sockets, then HTTP sockets,
    then HTTPS sockets (their address: the value before its certificate and key). The Nth pair is
    inherited from the socket unit as fd 3+N-1."""
    pairs = []
    for kind in LISTEN_KINDS:
        for item in as_list(options.get(kind)):
            if isinstance(item, str) and item:
                pairs.append([kind, https_address(item) if kind == HTTPS_KIND else item])
    return pairs


def unix_sockets(options: Options) -> List[str]:
    """The unix socket paths the options bind (a `socket` starting with /)."""
    return [item for item in as_list(options.get("socket")) if isinstance(item, str) and item.startswith("/")]


def http_ports(options: Options) -> List[int]:
    """The TCP ports the options' http-socket and https-socket addresses bind (an address ending in :PORT)."""
    ports = []
    https_items = [https_address(item) for item in as_list(options.get(HTTPS_KIND)) if isinstance(item, str)]
    items = as_list(options.get("http-socket")) + https_items
    for item in items:
        port = host_port.port(item)
        if port is not None:
            ports.append(port)
    return ports


def socket_activation(app: App, role: Role) -> bool:
    value = app.get("socket_activation")
    return bool(role.get("socket_activation") if value is None else value)


def activated(app: App, role: Role, options: Options) -> bool:
    """Whether systemd holds the app's listening sockets (uwsgi-<name>.socket)."""
    return socket_activation(app, role) and len(listen(options)) > 0


def _is_unix_stats(options: Options) -> bool:
    value = options.get("stats")
    return isinstance(value, str) and value.startswith("/")


def activation_options(options: Options) -> Dict[str, Any]:
    """The inherited fds replace the addresses in the ini; systemd sets the sockets' owner and mode.
    An https-socket keeps its certificate and key after the fd (`fd://5,CERT,KEY`, seen serving with
    uWSGI 2.0.31). uWSGI still binds a unix stats socket itself and gives it chmod-socket (the inherited
    fds it leaves alone): without it the stats socket would be 0750 (UMask=0027)."""
    pairs = listen(options)
    fds = ["fd://%d" % number for number in range(3, 3 + len(pairs))]
    by_kind = {kind: [fd for (pair_kind, _address), fd in zip(pairs, fds) if pair_kind == kind] for kind in LISTEN_KINDS}
    tls_parts = [item.partition(",")[1:] for item in as_list(options.get(HTTPS_KIND)) if isinstance(item, str) and item]
    https_fds = [fd + sep + rest for fd, (sep, rest) in zip(by_kind[HTTPS_KIND], tls_parts)]
    return {
        "socket": by_kind["socket"] or None,
        "http-socket": by_kind["http-socket"] or None,
        HTTPS_KIND: https_fds or None,
        "chmod-socket": options.get("chmod-socket") if _is_unix_stats(options) else None,
        "chown-socket": None,
    }


def is_on(value: Any) -> bool:
    """An ini boolean that is set: true, 1, "true", "yes", "on" (not None, false, 0, "", "false", ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on", "y", "t")
    return bool(value) and not is_list(value)


def atexit_options(options: Options, role: Role) -> Dict[str, List[Any]]:
    """With skip-atexit-teardown on, the role's atexit hook comes after the app's own py-import lines."""
    if not is_on(options.get("skip-atexit-teardown")):
        return {}
    own = [item for item in as_list(options.get("py-import")) if item is not None and item != ""]
    return {"py-import": own + [atexit_hook(role)]}


def stats_group(app: App, role: Role, options: Options) -> Optional[str]:
    """The group the app's unix stats socket is given to (uwsgi_production_stats_group, the metrics exporter's),
    or None: without the role's stats group, or for an app whose stats server is not a unix socket."""
    group = role.get("stats_group")
    return group if group and _is_unix_stats(options) else None


def stats_group_options(app: App, role: Role, options: Options) -> Dict[str, List[Any]]:
    """With a stats group, the master gives its stats socket to that group once it has bound it, at every start and
    reload (uWSGI binds the stats socket before the master-start hooks): `chown` by its owner, to a group the app's
    unit adds as a supplementary group (render.service), so no privilege is needed. With chmod-socket 660 the
    socket is then readable by the app's user and that group only. After the app's own hook-master-start lines."""
    group = stats_group(app, role, options)
    if not group:
        return {}
    own = [item for item in as_list(options.get("hook-master-start")) if item is not None and item != ""]
    return {"hook-master-start": own + ["chown:%s %s %s" % (options["stats"], app_user(app, role), group)]}


def json_logs(role: Mapping[str, Any]) -> bool:
    """Whether the apps log JSON lines through the host's encoder (uwsgi_production_json_logs)."""
    return role.get("json_logs") is True


def json_log_options(role: Mapping[str, Any]) -> Dict[str, Any]:
    """With JSON logs, uWSGI's own lines (`logger`) and the request lines it keeps (`req-logger`: with the
    baseline's disable-logging, the 4xx, 5xx and slow ones) each go as a datagram to the encoder's socket,
    tagged by kind, the request lines in a format the encoder splits (JSONLOG_REQUEST_FORMAT). The master
    writes them from a thread of its own (`threaded-logger`), so an encoder that does not read blocks no
    master: the workers' lines then wait in uWSGI's log pipe, and beyond it are dropped. An app's own
    options win (a layer under them in effective_options)."""
    if not json_logs(role):
        return {}
    return {
        "logger": "socket:%s,%s" % (JSONLOG_SOCKET, JSONLOG_TAGS["log"]),
        "req-logger": "socket:%s,%s" % (JSONLOG_SOCKET, JSONLOG_TAGS["request"]),
        "log-format": JSONLOG_REQUEST_FORMAT,
        "threaded-logger": True,
    }


def stop_cleanup(app: App, role: Role) -> List[str]:
    """The files uWSGI made that a stop must remove where vacuum is off because systemd holds the app's
    sockets: there vacuum only logs `VACUUM WARNING: unix socket ... changed inode` for the socket it
    did not make. Its pidfile2 and unix stats socket, when they are the role's own paths (an app that moved
    one elsewhere keeps it); none when the app turned vacuum off itself."""
    options = effective_options(app, role)
    if not (activated(app, role, options) and is_on(options.get("vacuum"))):
        return []
    where = paths(role, app["name"])
    return [where[key] for key, option in (("pidfile", "pidfile2"), ("stats_socket", "stats"))
            if options.get(option) == where[key]]


def python_options(python_version: Optional[str]) -> Dict[str, None]:
    """Options the Python uWSGI embeds rules out; `python_version` is "3.11", or "" when unknown."""
    try:
        version = tuple(int(part) for part in (python_version or "0").split(".")[:2])
    except ValueError:
        version = (0,)
    if version >= OSAFTERFORK_BROKEN_FROM:
        return {"py-call-osafterfork": None}
    return {}


def release(version: Any) -> Optional[Tuple[int, ...]]:
    """(major, minor, patch) of a uWSGI version text ("2.0.31", "2.0.21-debian"); None when unknown."""
    parts = []
    for part in str(version or "").split("-", maxsplit=1)[0].split(".")[:3]:
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts + [0] * (3 - len(parts))) if parts else None


def _whole(value: Any) -> Optional[int]:
    try:
        return int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def stagger(bound: Optional[int], workers: int, floor: int = 0) -> Optional[Tuple[int, int]]:
    """(base, delta) so that worker w of `workers` is recycled at base + (w - 1) x delta: the last one at
    `bound` itself, the first at about half of it, consecutive workers `delta` apart. Workers spawned
    together (at start, after a reload) then never reach their bound together. The base stays above
    `floor` (min-worker-lifetime: uWSGI refuses a max-worker-lifetime that is not above it). None when
    there is nothing to stagger (one worker) or no room for a delta of at least 1."""
    if workers < 2 or bound is None or bound < 2:
        return None
    delta = bound // (2 * workers)
    if floor:
        delta = min(delta, (bound - floor - 1) // (workers - 1))
    if delta < 1:
        return None
    return bound - (workers - 1) * delta, delta


def recycling_options(options: Options, uwsgi_version: Any) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """({key: value} that staggers the app's recycling bounds per worker, [(option, why)] of the deltas left
    out). A delta the options set themselves (even to null) is left as it is, and so is its bound; a binary
    older than the release that added a delta (OPTION_SINCE), or one whose release is unknown, gets no delta."""
    workers = _whole(options.get("processes")) or 1
    have = release(uwsgi_version)
    derived, left_out = {}, []
    for bound_key, delta_key in STAGGERED:
        bound = _whole(options.get(bound_key))
        if delta_key in options or not bound:
            continue
        floor = (_whole(options.get("min-worker-lifetime")) or MIN_WORKER_LIFETIME) if bound_key == "max-worker-lifetime" else 0
        staggered = stagger(bound, workers, floor)
        if staggered is None:
            continue
        since = ".".join(str(part) for part in OPTION_SINCE[delta_key])
        if have is None:
            left_out.append((delta_key, "the uWSGI release of the host is not known yet (uWSGI is not installed), and "
                             "%s needs %s or later: %s stays %s for every worker" % (delta_key, since, bound_key, bound)))
            continue
        if have < OPTION_SINCE[delta_key]:
            left_out.append((delta_key, "uWSGI %s has no %s (added in %s): %s stays %s for every worker, so workers "
                             "spawned together reach it together" % (uwsgi_version, delta_key, since, bound_key, bound)))
            continue
        derived[bound_key], derived[delta_key] = staggered
    return derived, left_out


def left_out_options(app: App, role: Role, python_version: str = "", uwsgi_version: str = "",
                     plugins: Optional[Collection[str]] = None) -> List[Tuple[str, str]]:
    """[(option, why)] of the defaults the role leaves out of the app's ini for the host's Python and uWSGI
    (its release, and with the system method its plugins)."""
    options = effective_options(app, role)
    found = list(plugin_fit(app, options, role, plugins)[1])
    if "py-call-osafterfork" in python_options(python_version) and options.get("py-call-osafterfork") is not None:
        found.append(("py-call-osafterfork", "uWSGI aborts every worker with it on Python %s (3.13 and later, "
                      "unbit/uwsgi#2710)" % python_version))
    return found + recycling_options(options, uwsgi_version)[1]


def left_out_report(apps: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Each (option, why) of the records' `left_out` ({name: uwsgi_record.AppRecord}) once, with the apps it
    concerns, in first-seen order."""
    merged = {}
    for name, record in apps.items():
        for item in record.left_out:
            entry = merged.setdefault((item["option"], item["why"]), {"option": item["option"], "why": item["why"], "apps": []})
            entry["apps"].append(name)
    for entry in merged.values():
        # What the run's output says, one line per left-out default.
        entry["text"] = "%s is left out of the ini of %s: %s" % (
            entry["option"], ", ".join("'%s'" % name for name in entry["apps"]), entry["why"])
    return list(merged.values())


def ini_options(app: App, role: Role, python_version: str = "", uwsgi_version: str = "",
                plugins: Optional[Collection[str]] = None) -> Dict[str, Any]:
    """The options rendered into the app's ini, in order (None values are left out by the renderer).
    `uwsgi_version` is the host's uWSGI release ("2.0.31"), "" when unknown: it decides which of the
    options the role derives the binary gets (recycling_options); `plugins` (system method) those the
    host's plugins allow (plugin_fit)."""
    options = effective_options(app, role)
    options.update(plugin_fit(app, options, role, plugins)[0])
    derived = recycling_options(options, uwsgi_version)[0]
    rendered = {}
    for key, value in options.items():
        # Each delta right after its bound.
        rendered[key] = derived.get(key, value)
        delta_key = dict(STAGGERED).get(key)
        if delta_key in derived:
            rendered[delta_key] = derived[delta_key]
    if activated(app, role, options):
        rendered.update(activation_options(options))
    if stop_cleanup(app, role):
        # The unit's ExecStopPost= removes what vacuum would (model.stop_cleanup).
        rendered["vacuum"] = False
    rendered.update(atexit_options(options, role))
    rendered.update(stats_group_options(app, role, options))
    rendered.update(python_options(python_version))
    return rendered


def option_lines(options: Options) -> List[Tuple[str, str]]:
    """(key, value) of each ini line the options make, in order: a list repeats its key, booleans are
    true/false, None and '' are left out (the generic ini loop)."""
    pairs = []
    for key, value in options.items():
        if value is None or value == "":
            continue
        for item in as_list(value):
            pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return pairs


def reload_marker(options: Options) -> str:
    """A file uWSGI creates anew when a graceful reload has re-executed the master: the master fifo,
    else a unix stats socket; '' when there is none. The health check waits for it after a reload."""
    for key in ("master-fifo", "stats"):
        value = options.get(key)
        if isinstance(value, str) and value.startswith("/"):
            return value
    return ""


# --- The unit -----------------------------------------------------------------------------------------

def hardening(app: App, role: Role) -> Dict[str, Any]:
    """The unit's sandboxing: the role's baseline, the app's writable paths, then its own overrides."""
    merged = dict(role.get("unit_hardening") or {})
    writable = list(app.get("writable_paths") or [])
    if app.get("release"):
        # The release's shared paths (uploads, ...) are links into this directory.
        writable.append(code_release.Layout(code_release.root(app, role)).shared)
    merged["ReadWritePaths"] = writable or None
    merged.update(app.get("unit_hardening") or {})
    return merged


# --- Health check -------------------------------------------------------------------------------------

def health_check(app: App, role: Role, options: Options) -> Dict[str, Any]:
    """The app's health check: the baseline with the role's and the app's overrides, and where and how
    to ask: the app's http-socket (a wildcard address asked on loopback), else its unix socket."""
    health = copy.deepcopy(HEALTH_BASELINE)
    health.update(role.get("health_check") or {})
    health.update(app.get("health_check") or {})
    pairs = listen(options)
    http = next((address for kind, address in pairs if kind == "http-socket"), "")
    if http:
        for wildcard, loopback in (("0.0.0.0:", "127.0.0.1:"), ("*:", "127.0.0.1:"), ("[::]:", "[::1]:")):
            if http.startswith(wildcard):
                http = loopback + http[len(wildcard):]
                break
        else:
            if http.startswith(":"):
                http = "127.0.0.1" + http
    uwsgi = next((address for kind, address in pairs if kind == "socket"), "")
    health["socket"] = health.get("socket") or http or uwsgi
    health["protocol"] = health.get("protocol") or ("http" if http else "uwsgi")
    return health
