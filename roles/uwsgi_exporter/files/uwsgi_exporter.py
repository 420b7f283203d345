# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The host's uWSGI metrics exporter: every app's stats socket, read at each scrape, on one Prometheus endpoint.

Installed by the role pyops.uwsgi.uwsgi_exporter (docs/observability.md). Needs Python 3.9+ and
prometheus-client 0.16+ (Debian's python3-prometheus-client); PyYAML for a web config file and bcrypt
for its basic-auth users.

Which apps: each unit /etc/systemd/system/uwsgi-<name>.service with a `SupplementaryGroups=` line that
names this exporter's group, which the role pyops.uwsgi.uwsgi_production writes for an app whose unix
stats socket it gives that group. The units are listed again at every scrape, so an app the role adds or
removes appears or disappears with no restart; the exporter reads /run/uwsgi-<name>/stats.sock of those
apps and no other socket. Metric names are uwsgi_exporter's (timonwong/uwsgi_exporter) with an `app`
label instead of `stats_uri`, plus uwsgi_up{app} and per-app sums (uwsgi_app_*).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import http.server
import json
import os
import socket
import ssl
import sys
import threading

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, UnknownMetricFamily

DEFAULT_LISTEN = "127.0.0.1:9117"
MICRO = 1e6
STATUSES = ("busy", "idle", "cheap")
UNIT_PREFIX, UNIT_SUFFIX = "uwsgi-", ".service"

# name: (kind, help). kind: gauge, counter or unknown (uwsgi_exporter's counters without _total).
MAIN = {
    "uwsgi_listen_queue_length": ("gauge", "Length of listen queue."),
    "uwsgi_listen_queue_errors": ("gauge", "Number of listen queue errors."),
    "uwsgi_signal_queue_length": ("gauge", "Length of signal queue."),
    "uwsgi_workers": ("gauge", "Number of workers."),
}
SOCKET = {
    "uwsgi_socket_queue_length": ("gauge", "Length of socket queue.", "queue"),
    "uwsgi_socket_max_queue_length": ("gauge", "Max length of socket queue.", "max_queue"),
    "uwsgi_socket_shared": ("gauge", "Is shared socket?", "shared"),
    "uwsgi_socket_can_offload": ("gauge", "Can socket offload?", "can_offload"),
}
# name: (kind, help, stats field, divisor)
WORKER = {
    "uwsgi_worker_accepting": ("gauge", "Is this worker accepting requests?", "accepting", 1),
    "uwsgi_worker_delta_requests": ("gauge", "Number of delta requests", "delta_requests", 1),
    "uwsgi_worker_signal_queue_length": ("gauge", "Length of signal queue.", "signal_queue", 1),
    "uwsgi_worker_rss_bytes": ("gauge", "Worker RSS bytes.", "rss", 1),
    "uwsgi_worker_vsz_bytes": ("gauge", "Worker VSZ bytes.", "vsz", 1),
    "uwsgi_worker_running_time_seconds": ("gauge", "Worker running time in seconds.", "running_time", MICRO),
    "uwsgi_worker_last_spawn_time_seconds": ("gauge", "Last spawn time in seconds since epoch.", "last_spawn", 1),
    "uwsgi_worker_average_response_time_seconds": ("gauge", "Average response time in seconds.", "avg_rt", MICRO),
    "uwsgi_worker_requests": ("counter", "Total number of requests.", "requests", 1),
    "uwsgi_worker_exceptions": ("counter", "Total number of exceptions.", "exceptions", 1),
    "uwsgi_worker_harakiri_count": ("counter", "Total number of harakiri count.", "harakiri_count", 1),
    "uwsgi_worker_signals": ("counter", "Total number of signals.", "signals", 1),
    "uwsgi_worker_respawn_count": ("counter", "Total number of respawn count.", "respawn_count", 1),
    "uwsgi_worker_transmitted_bytes": ("counter", "Worker transmitted bytes.", "tx", 1),
}
WORKER_APP = {
    "uwsgi_worker_app_startup_time_seconds": ("gauge", "How long this app took to start.", "startup_time"),
    "uwsgi_worker_app_requests": ("counter", "Total number of requests.", "requests"),
    "uwsgi_worker_app_exceptions": ("counter", "Total number of exceptions.", "exceptions"),
}
CACHE = {
    "uwsgi_cache_hits": ("unknown", "Total number of hits.", "hits"),
    "uwsgi_cache_misses": ("unknown", "Total number of misses.", "misses"),
    "uwsgi_cache_full": ("unknown", "Total Number of times cache full was hit.", "full"),
    "uwsgi_cache_items": ("gauge", "Items in cache.", "items"),
    "uwsgi_cache_max_items": ("gauge", "Max items for this cache.", "max_items"),
}
# The per-app sums over the app's workers (this exporter's own): name: (kind, help, stats field, divisor).
APP_SUMS = {
    "uwsgi_app_requests": ("counter", "Requests served by the app's workers.", "requests", 1),
    "uwsgi_app_exceptions": ("counter", "Exceptions raised in the app's workers.", "exceptions", 1),
    "uwsgi_app_harakiri_count": ("counter", "Workers of the app killed by harakiri.", "harakiri_count", 1),
    "uwsgi_app_respawn_count": ("counter", "Respawns of the app's workers (recycled, killed or crashed).", "respawn_count", 1),
    "uwsgi_app_transmitted_bytes": ("counter", "Bytes the app's workers sent.", "tx", 1),
    "uwsgi_app_running_time_seconds": ("counter", "Seconds the app's workers spent in requests.", "running_time", MICRO),
    "uwsgi_app_rss_bytes": ("gauge", "Resident memory of the app's workers (needs memory-report).", "rss", 1),
}
WORKER_LABELS = ["app", "worker_id"]


def family(kind, name, help_text, labels):
    """An empty metric family of the kind."""
    cls = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily, "unknown": UnknownMetricFamily}[kind]
    return cls(name, help_text, labels=labels)


def new_families():
    """{name: family} of every metric this exporter writes, empty."""
    out = {}
    for name, spec in MAIN.items():
        out[name] = family(spec[0], name, spec[1], ["app"])
    for name, spec in SOCKET.items():
        out[name] = family(spec[0], name, spec[1], ["app", "name", "proto"])
    for name, spec in WORKER.items():
        out[name] = family(spec[0], name, spec[1], WORKER_LABELS)
    for status in STATUSES:
        out["uwsgi_worker_" + status] = family("gauge", "uwsgi_worker_" + status, "Is the worker %s?" % status, WORKER_LABELS)
    out["uwsgi_worker_apps"] = family("gauge", "uwsgi_worker_apps", "Number of apps.", WORKER_LABELS)
    out["uwsgi_worker_cores"] = family("gauge", "uwsgi_worker_cores", "Number of cores.", WORKER_LABELS)
    for name, spec in WORKER_APP.items():
        out[name] = family(spec[0], name, spec[1], ["app", "worker_id", "app_id", "mountpoint", "chdir"])
    for name, spec in CACHE.items():
        out[name] = family(spec[0], name, spec[1], ["app", "name"])
    for name, spec in APP_SUMS.items():
        out[name] = family(spec[0], name, spec[1], ["app"])
    out["uwsgi_app_worker_max_rss_bytes"] = family(
        "gauge", "uwsgi_app_worker_max_rss_bytes", "Resident memory of the app's largest worker (needs memory-report).", ["app"])
    for status in STATUSES:
        name = "uwsgi_app_%s_workers" % status
        out[name] = family("gauge", name, "Workers of the app that are %s." % status, ["app"])
    out["uwsgi_up"] = family("gauge", "uwsgi_up", "Whether the app's stats socket answered (1) or not (0).", ["app"])
    return out


def number(value):
    """A stats field as a float (a missing or odd one as 0)."""
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def workers(stats):
    """The real workers (uwsgi_exporter leaves id 0 out)."""
    return [worker for worker in stats.get("workers") or [] if isinstance(worker, dict) and worker.get("id") != 0]


def add_main(out, app, stats):
    out["uwsgi_listen_queue_length"].add_metric([app], number(stats.get("listen_queue")))
    out["uwsgi_listen_queue_errors"].add_metric([app], number(stats.get("listen_queue_errors")))
    out["uwsgi_signal_queue_length"].add_metric([app], number(stats.get("signal_queue")))
    out["uwsgi_workers"].add_metric([app], float(len(workers(stats))))
    seen = set()
    for sock in stats.get("sockets") or []:
        key = (str(sock.get("name", "")), str(sock.get("proto", "")))
        if key in seen:
            continue
        seen.add(key)
        for name, (_kind, _help, field) in SOCKET.items():
            out[name].add_metric([app, key[0], key[1]], number(sock.get(field)))
    for cache in stats.get("caches") or []:
        for name, (_kind, _help, field) in CACHE.items():
            out[name].add_metric([app, str(cache.get("name", ""))], number(cache.get(field)))


def add_worker(out, app, worker):
    labels = [app, str(worker.get("id"))]
    for name, (_kind, _help, field, divisor) in WORKER.items():
        out[name].add_metric(labels, number(worker.get(field)) / divisor)
    for status in STATUSES:
        out["uwsgi_worker_" + status].add_metric(labels, 1.0 if worker.get("status") == status else 0.0)
    apps = worker.get("apps") or []
    out["uwsgi_worker_apps"].add_metric(labels, float(len(apps)))
    out["uwsgi_worker_cores"].add_metric(labels, float(len(worker.get("cores") or [])))
    for item in apps:
        app_labels = labels + [str(item.get("id", "")), str(item.get("mountpoint", "")), str(item.get("chdir", ""))]
        for name, (_kind, _help, field) in WORKER_APP.items():
            out[name].add_metric(app_labels, number(item.get(field)))


def add_sums(out, app, stats):
    found = workers(stats)
    for name, (_kind, _help, field, divisor) in APP_SUMS.items():
        out[name].add_metric([app], sum(number(worker.get(field)) for worker in found) / divisor)
    out["uwsgi_app_worker_max_rss_bytes"].add_metric([app], max([number(worker.get("rss")) for worker in found] or [0.0]))
    for status in STATUSES:
        count = sum(1 for worker in found if worker.get("status") == status)
        out["uwsgi_app_%s_workers" % status].add_metric([app], float(count))


def add_app(out, app, stats):
    """Every metric of one app's stats (a dict), or only uwsgi_up 0 when its socket did not answer (None)."""
    out["uwsgi_up"].add_metric([app], 0.0 if stats is None else 1.0)
    if stats is None:
        return
    add_main(out, app, stats)
    for worker in workers(stats):
        add_worker(out, app, worker)
    add_sums(out, app, stats)


def read_stats(path, timeout):
    """The JSON a uWSGI stats socket sends (it writes it and closes)."""
    chunks = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return json.loads(b"".join(chunks).decode("utf-8", "replace"))


def unit_groups(text):
    """The groups a unit's SupplementaryGroups= lines name (an empty assignment resets them)."""
    groups = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "SupplementaryGroups":
            groups = groups + value.split() if value.strip() else []
    return groups


class Targets:
    """The apps whose stats socket the role gave to `group`, from their units, re-read when a unit changes."""

    def __init__(self, units_dir, group, runtime_root="/run"):
        self.units_dir, self.group, self.runtime_root = units_dir, group, runtime_root
        self._seen = {}

    def _marked(self, path):
        try:
            info = os.stat(path)
        except OSError:
            return False
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._seen.get(path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                marked = self.group in unit_groups(stream.read())
        except OSError:
            return False
        self._seen[path] = (key, marked)
        return marked

    def apps(self):
        """{app name: its stats socket}, sorted by name."""
        try:
            names = sorted(os.listdir(self.units_dir))
        except OSError:
            return {}
        found, seen = {}, {}
        for entry in names:
            if not (entry.startswith(UNIT_PREFIX) and entry.endswith(UNIT_SUFFIX)):
                continue
            name = entry[len(UNIT_PREFIX):-len(UNIT_SUFFIX)]
            path = os.path.join(self.units_dir, entry)
            if name and "@" not in name and self._marked(path):
                found[name] = os.path.join(self.runtime_root, UNIT_PREFIX + name, "stats.sock")
            if path in self._seen:
                seen[path] = self._seen[path]
        # Forget the units that are gone.
        self._seen = seen
        return found


class UwsgiCollector:
    """A prometheus_client collector: at each scrape, every target's stats, read in parallel."""

    def __init__(self, targets, timeout=2.0, threads=8, log=None):
        self.targets, self.timeout = targets, timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stats")
        self._failing = set()
        self._log = log or (lambda text: print(text, file=sys.stderr, flush=True))

    def _read(self, app, path):
        try:
            stats = read_stats(path, self.timeout)
        except (OSError, ValueError) as error:
            if app not in self._failing:
                self._failing.add(app)
                self._log("app %s: stats socket %s did not answer: %s" % (app, path, error))
            return None
        if app in self._failing:
            self._failing.discard(app)
            self._log("app %s: stats socket %s answers again" % (app, path))
        return stats if isinstance(stats, dict) else None

    def collect(self):
        apps = self.targets.apps()
        out = new_families()
        futures = {name: self._pool.submit(self._read, name, path) for name, path in apps.items()}
        for name, future in futures.items():
            add_app(out, name, future.result())
        self._failing &= set(apps)
        out["uwsgi_exporter_apps"] = GaugeMetricFamily("uwsgi_exporter_apps", "Apps whose stats socket this exporter reads.",
                                                       value=float(len(apps)))
        return [item for item in out.values() if item.samples or item.name == "uwsgi_exporter_apps"]


class SelfCollector:
    """The exporter's own process_* metrics, from /proc/self alone: prometheus-client's ProcessCollector also reads
    /proc/stat, which the unit's ProcSubset=pid hides, and then reports nothing."""

    def collect(self):
        page = os.sysconf("SC_PAGE_SIZE")
        try:
            with open("/proc/self/statm", encoding="ascii") as statm:
                vsz, rss = (int(field) * page for field in statm.read().split()[:2])
            fds = float(len(os.listdir("/proc/self/fd")))
        except OSError:
            return []
        times = os.times()
        return [
            GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size in bytes.", value=float(rss)),
            GaugeMetricFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", value=float(vsz)),
            GaugeMetricFamily("process_open_fds", "Number of open file descriptors.", value=fds),
            CounterMetricFamily("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                                value=times.user + times.system),
        ]


# --- The web side: prometheus-community's web config file (TLS and basic auth) -------------------------

TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}


def load_web_config(path):
    """The web config file (exporter-toolkit's format: tls_server_config, basic_auth_users), {} without one."""
    if not path:
        return {}
    import yaml  # only needed with a web config file (Debian: python3-yaml)

    with open(path, encoding="utf-8") as stream:
        config = yaml.safe_load(stream) or {}
    if not isinstance(config, dict):
        raise ValueError("%s: not a mapping" % path)
    return config


def tls_context(tls):
    """An SSL context from tls_server_config (cert_file, key_file, min_version, client_ca_file, client_auth_type)."""
    if not tls:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.get("min_version") or "TLS12"]
    context.load_cert_chain(tls["cert_file"], tls["key_file"])
    auth = tls.get("client_auth_type") or "NoClientCert"
    if auth not in ("NoClientCert", "RequireAndVerifyClientCert"):
        raise ValueError("client_auth_type %r: only NoClientCert and RequireAndVerifyClientCert are supported" % auth)
    if auth == "RequireAndVerifyClientCert":
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(tls["client_ca_file"])
    return context


class BasicAuth:
    """basic_auth_users ({user: bcrypt hash}); a pair that matched once is remembered (by its SHA-256), as
    exporter-toolkit does, so a scrape does not pay bcrypt's cost each time."""

    def __init__(self, users):
        self.users = dict(users or {})
        self._good = set()
        self._lock = threading.Lock()

    def allows(self, header):
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _sep, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(("%s\0%s\0%s" % (user, password, hashed)).encode("utf-8")).digest()
        with self._lock:
            if key in self._good:
                return True
        import bcrypt  # only needed with basic_auth_users (Debian: python3-bcrypt)

        if not bcrypt.checkpw(password.encode("utf-8"), hashed.encode("utf-8")):
            return False
        with self._lock:
            self._good.add(key)
        return True


LANDING = b"<html><head><title>uWSGI exporter</title></head><body><h1>uWSGI exporter</h1><p><a href=\"%s\">Metrics</a></p></body></html>"


def handler_class(registry, path, auth):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "pyops-uwsgi-exporter"
        # Seconds a client may take to send its request (and, with TLS, to finish its handshake).
        timeout = 10

        def do_GET(self):  # noqa: N802 (http.server's name)
            if not auth.allows(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="uwsgi_exporter"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            route = self.path.split("?", 1)[0]
            if route == path:
                body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
            elif route == "/":
                body, kind = LANDING.replace(b"%s", path.encode("utf-8")), "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            return

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, context):
        host = address[0]
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(address, handler)
        if context is not None:
            # The handshake happens in the request's own thread (on its first read), not in accept(): a client
            # that never finishes one holds its thread until the timeout, not the whole server.
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)


def split_address(text):
    """(host, port) of HOST:PORT, [IPv6]:PORT or :PORT (every IPv4 address)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("listen address %r: want HOST:PORT" % text)
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host or "0.0.0.0", int(port)


def build(args):
    """(server, registry) from the command line."""
    registry = CollectorRegistry()
    registry.register(UwsgiCollector(Targets(args.units_dir, args.group, args.runtime_root), args.timeout, args.threads))
    registry.register(SelfCollector())
    config = load_web_config(args.web_config_file)
    auth = BasicAuth(config.get("basic_auth_users"))
    server = Server(split_address(args.listen_address), handler_class(registry, args.telemetry_path, auth),
                    tls_context(config.get("tls_server_config")))
    return server, registry


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web.listen-address", dest="listen_address", default=DEFAULT_LISTEN)
    parser.add_argument("--web.telemetry-path", dest="telemetry_path", default="/metrics")
    parser.add_argument("--web.config.file", dest="web_config_file", default="")
    parser.add_argument("--group", default="uwsgi-exporter", help="the group the apps' stats sockets are given to")
    parser.add_argument("--units-dir", default="/etc/systemd/system")
    parser.add_argument("--runtime-root", default="/run")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for one stats socket")
    parser.add_argument("--threads", type=int, default=8, help="stats sockets read at once")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    server, _registry = build(args)
    print("listening on %s%s, scheme %s, reading the stats sockets of the apps that give them to group %s"
          % (args.listen_address, args.telemetry_path, "https" if isinstance(server.socket, ssl.SSLSocket) else "http",
             args.group), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
