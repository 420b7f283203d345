"""The apps the benchmarks deploy with the role, built from the role's own defaults."""

import os
import pathlib

import yaml

from .hosts import REPO

ROLE_IN_COLLECTION = pathlib.Path("ansible_collections", "pyops", "uwsgi", "roles", "uwsgi_production")
APP_DIR = "/srv/bench"
HELLO = "hello:application"
BENCHAPP = "benchapp:application"

BARE_PORT = 8100
THROUGHPUT_FIRST_PORT = 8101
STOP_APP, STOP_PORT, DOCS_PORT = "stop", 8200, 8201
# The real Flask app (benchmarks/apps/flaskapp.py) under the role's unit, and its control with the
# interpreter teardown the defaults skip (skip-atexit-teardown removed).
FLASK_APP, FLASK_PORT = "stop-flask", 8202
FLASK_TEARDOWN_APP, FLASK_TEARDOWN_PORT = "stop-flask-teardown", 8203
FLASK = "flaskapp:application"
FLASK_VENV = APP_DIR + "/flask-venv"
FLASK_PACKAGES = ["flask==3.1.3", "flask-sqlalchemy==3.1.1", "sqlalchemy==2.1.9", "pandas==3.1.1", "numpy==2.4.6"]
ATEXIT_DIR = APP_DIR + "/atexit"
BUSY_FIRST_PORT = 8301
MEMORY_APP, MEMORY_PORT = "mem", 8400
LEAK_APP, LEAK_PORT = "leak", 8401


def role_dir():
    """The role Ansible will use: the first pyops.uwsgi in ANSIBLE_COLLECTIONS_PATH (tools/env.sh puts
    this checkout there), else this checkout's."""
    for entry in filter(None, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)):
        candidate = pathlib.Path(entry) / ROLE_IN_COLLECTION
        if candidate.is_dir():
            return candidate.resolve()
    return REPO / "roles" / "uwsgi_production"


def role_defaults():
    """The role's defaults/main.yml as a dict."""
    with open(role_dir() / "defaults" / "main.yml", encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def role_options():
    """uwsgi_production_options, the uWSGI options every app gets by default."""
    return role_defaults()["uwsgi_production_options"]


def app(name, port, module=HELLO, options=None, unit_hardening=None):
    """One entry of uwsgi_production_apps, served on 127.0.0.1:port."""
    entry = {"name": name, "module": module, "chdir": APP_DIR, "http_socket": f"127.0.0.1:{port}"}
    if options:
        entry["options"] = options
    if unit_hardening:
        entry["unit_hardening"] = unit_hardening
    return entry


def ablations(defaults):
    """The throughput variants: (name, what it is, app options, unit hardening overrides).

    Each removes one thing from the role's defaults (null removes a key); options the defaults do
    not have are left out, so a variant equal to the defaults is skipped."""
    options = defaults["uwsgi_production_options"]
    hardening = defaults["uwsgi_production_unit_hardening"]
    candidates = [
        ("defaults", "the role's defaults", []),
        ("no-max-requests", "defaults minus max-requests", ["max-requests"]),
        ("no-cheaper", "defaults minus the cheaper subsystem (all processes always up)",
         [key for key in options if key.startswith("cheaper")]),
        ("no-harakiri", "defaults minus harakiri", ["harakiri"]),
        ("no-reload-on-rss", "defaults minus reload-on-rss", ["reload-on-rss"]),
        ("no-enable-threads", "defaults minus enable-threads", ["enable-threads"]),
        ("request-logging", "defaults minus disable-logging/log-4xx/log-5xx (every request logged, like bare)",
         ["disable-logging", "log-4xx", "log-5xx"]),
    ]
    variants = []
    for name, text, removed in candidates:
        present = [key for key in removed if key in options]
        if removed and not present:
            continue
        variants.append({"name": name, "text": text, "options": {key: None for key in present}, "unit_hardening": {}})
    variants += recycling_variants()
    variants.append({"name": "no-hardening", "text": "defaults minus the unit's sandboxing (seccomp filter...)",
                     "options": {}, "unit_hardening": {key: None for key in hardening}})
    return variants


# Recycling inside the rounds: the defaults' lifetime bound (3600 s) never comes within a run, so these
# variants scale it down to seconds. "recycle-staggered" is the role's own staggering of a 48 s bound
# over the 8 processes (uwsgi_model.stagger: worker 1 at 27 s, worker 2 at 30 s, ... worker 8 at 48 s; the
# 2 workers cheaper keeps are 3 s apart); its controls: one lifetime for every worker (no delta: the workers
# spawned together exit together), LOCKSTEP_S, shorter than a run (BENCH_TP_SECONDS, 15 s) so that every run
# of it holds such an exit (with 27 s, the first worker's, a 15 s run misses one about half the time and
# the median round can show no tail), and the guide's max-requests 1000, which the role
# staggers with max-requests-delta (566 + 62 per worker) but under load every worker passes
# min-worker-lifetime (10 s) in the same second.
RECYCLE_BOUND_S = 48
LOCKSTEP_S = 12


def recycling_variants():
    """The recycling variants of the throughput benchmark (name, what it is, app options)."""
    return [
        {"name": "recycle-staggered", "unit_hardening": {},
         "text": f"defaults with max-worker-lifetime {RECYCLE_BOUND_S} s, staggered per worker by the role",
         "options": {"max-worker-lifetime": RECYCLE_BOUND_S}},
        {"name": "recycle-lockstep", "unit_hardening": {},
         "text": f"control: max-worker-lifetime {LOCKSTEP_S} s for every worker, no delta",
         "options": {"max-worker-lifetime": LOCKSTEP_S, "max-worker-lifetime-delta": None}},
        {"name": "max-requests", "unit_hardening": {},
         "text": "control: defaults plus the guide's max-requests 1000 (the role adds max-requests-delta)",
         "options": {"max-requests": 1000}},
    ]


def throughput_apps(variants):
    """The role apps of the throughput benchmark, one per variant, with their ports."""
    apps = []
    for index, variant in enumerate(variants):
        port = THROUGHPUT_FIRST_PORT + index
        variant["app"], variant["port"] = f"tp-{variant['name']}", port
        apps.append(app(variant["app"], port, options=variant["options"], unit_hardening=variant["unit_hardening"]))
    return apps


def busy_apps(replicas):
    """{name: port} of the busyness apps (role defaults, benchmark app)."""
    return {f"busy{i + 1}": BUSY_FIRST_PORT + i for i in range(replicas)}


def flask_app(name, port, options=None):
    """The stop benchmark's Flask app: its own virtualenv and packages, all 8 workers up (cheaper off, as
    on a host sized for its load), its atexit markers in ATEXIT_DIR/<name>."""
    entry = app(name, port, module=FLASK, options={"cheaper": None, "cheaper-initial": None, **(options or {})})
    entry.update(virtualenv=FLASK_VENV, packages=list(FLASK_PACKAGES), environment={"ATEXIT_DIR": f"{ATEXIT_DIR}/{name}"},
                 writable_paths=[f"{ATEXIT_DIR}/{name}"])
    return entry


def flask_stop_apps():
    """The Flask apps the stop benchmark deploys itself (with its own role run, so that no other
    benchmark's role runs install or check their packages): the defaults, and the teardown control."""
    return [flask_app(FLASK_APP, FLASK_PORT),
            flask_app(FLASK_TEARDOWN_APP, FLASK_TEARDOWN_PORT, {"skip-atexit-teardown": None})]


def main_host_apps(variants, busy, leak_reload_on_rss=None):
    """Every role app of the main benchmark host."""
    apps = throughput_apps(variants)
    apps.append(app(STOP_APP, STOP_PORT))
    apps += [app(name, port, module=BENCHAPP) for name, port in busy.items()]
    apps.append(app(MEMORY_APP, MEMORY_PORT))
    leak_options = {"reload-on-rss": leak_reload_on_rss} if leak_reload_on_rss else None
    apps.append(app(LEAK_APP, LEAK_PORT, module=BENCHAPP, options=leak_options))
    return apps


def scale_apps(count):
    """`count` identical hello apps for the role run-time benchmark (unix socket only, the default)."""
    return [{"name": f"app{i + 1:02d}", "module": HELLO, "chdir": APP_DIR} for i in range(count)]
