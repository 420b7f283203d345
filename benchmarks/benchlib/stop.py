"""2. `systemctl stop` latency: the role's unit versus the unit as uWSGI's docs write it
(KillSignal=SIGQUIT), both running the same ini (die-on-term in it), idle and under wrk load.

The role's unit stops through its ExecStop (`q` on the master fifo: a graceful stop), with SIGTERM
(die-on-term) as the fallback. With socket activation (the role's default) `systemctl stop` of the
service leaves `uwsgi-<name>.socket` listening, and the next connection starts the service again:
each stop of the role's service reports the socket's and the service's state a second later, and a
third kind, `role+socket`, stops the socket and the service together (a full stop). A fourth,
`role-sigterm`, is the role's unit without its ExecStop (a runtime drop-in `ExecStop=`): SIGTERM at
once, what the fifo's graceful stop costs or saves.

`flask` is the role's unit running a real Flask app (benchmarks/apps/flaskapp.py: Flask, Flask-SQLAlchemy
and pandas from PyPI, 8 workers up, an atexit handler writing a marker per process), with the role's
defaults (skip-atexit-teardown and the role's atexit hook); `flask-teardown` is the same app with
skip-atexit-teardown removed (each worker tears its interpreter down: what the default saves). Both
are deployed by this benchmark's own role run (the other benchmarks' runs never list them), and each
of their stops records how many atexit markers the stop wrote and the journal's warning lines.

The docs unit's TimeoutStopSec is shortened (BENCH_DOCS_STOP_TIMEOUT, 10 s by default; systemd's
default is 90 s): with die-on-term, SIGQUIT is a brutal reload, so that unit's stop lasts exactly
its timeout and ends in SIGKILL. Each round runs every kind idle, then every kind loaded."""

from . import apps, hosts, stats

GOAL_S = 1.0
FLASK_GOAL_S = 1.2
GOAL = ("role's unit: systemctl stop <= 1 s (median) for the hello app, <= 1.2 s for the Flask app, idle and "
        "under load; the Flask app's atexit handlers run at every idle stop, and no stop logs a warning")
KINDS = ("role", "role+socket", "role-sigterm", "flask", "flask-teardown", "docs")
FLASK_KINDS = ("flask", "flask-teardown")


def units():
    """{kind: (service, port, socket unit or None, also stopped, drop-in)} of the units compared."""
    service, socket = f"uwsgi-{apps.STOP_APP}.service", f"uwsgi-{apps.STOP_APP}.socket"
    return {"role": (service, apps.STOP_PORT, socket, (), None),
            "role+socket": (service, apps.STOP_PORT, socket, (socket,), None),
            "role-sigterm": (service, apps.STOP_PORT, socket, (), "[Service]\\nExecStop="),
            "flask": (f"uwsgi-{apps.FLASK_APP}.service", apps.FLASK_PORT, f"uwsgi-{apps.FLASK_APP}.socket", (), None),
            "flask-teardown": (f"uwsgi-{apps.FLASK_TEARDOWN_APP}.service", apps.FLASK_TEARDOWN_PORT,
                               f"uwsgi-{apps.FLASK_TEARDOWN_APP}.socket", (), None),
            "docs": ("bench-docs.service", apps.DOCS_PORT, None, (), None)}


def atexit_dir(kind):
    """Where the Flask app of `kind` writes its atexit markers ('' for the hello app's kinds)."""
    names = {"flask": apps.FLASK_APP, "flask-teardown": apps.FLASK_TEARDOWN_APP}
    return f"{apps.ATEXIT_DIR}/{names[kind]}" if kind in names else ""


def measure(ctx, kind, load):
    """One start, optional load, timed stop, inside the main host."""
    unit, port, socket, also, dropin = units()[kind]
    args = ["stop", "--unit", unit, "--port", port, "--max-stop", ctx.settings.docs_stop_timeout + 5]
    if socket:
        args += ["--socket", socket]
    for other in also:
        args += ["--also-stop", other]
    if dropin:
        args += ["--dropin", dropin]
    if atexit_dir(kind):
        args += ["--atexit-dir", atexit_dir(kind)]
    if load:
        args.append("--load")
    return hosts.probe(ctx.main, *args, log=ctx.log)


def deploy_flask(ctx):
    """The Flask apps, by a role run of their own on the main host (with the main host's other apps)."""
    app_list = ctx.main_apps + apps.flask_stop_apps()
    hosts.playbook(ctx.main, "role.yml", [ctx.apps_file(f"{ctx.main}-stop-flask", app_list)], log=ctx.log)


def run(ctx):
    """The interleaved rounds; the role's socket and unit are left running, as the role left them."""
    deploy_flask(ctx)
    runs = []
    for number in range(ctx.settings.stop_rounds):
        ctx.say(f"stop: round {number + 1} of {ctx.settings.stop_rounds} (docs unit: ~{ctx.settings.docs_stop_timeout} s each)")
        for load in (False, True):
            for kind in KINDS:
                runs.append({"round": number, "unit_kind": kind, "condition": "load" if load else "idle",
                             **measure(ctx, kind, load)})
    service, _u1, socket, _u2, _u3 = units()["role"]
    hosts.execute(ctx.main, "systemctl", "start", socket, service, log=ctx.log)
    # The Flask apps (16 workers) are not left running beside the later benchmarks.
    for kind in FLASK_KINDS:
        flask_service, _port, flask_socket, _also, _dropin = units()[kind]
        hosts.execute(ctx.main, "systemctl", "stop", flask_socket, flask_service, log=ctx.log)
    return analyze(runs, ctx.settings.docs_stop_timeout)


def condition_row(runs, condition):
    """Medians per kind and the docs/role ratio for one condition (idle or load)."""
    mine = [r for r in runs if r["condition"] == condition]
    row = {"condition": condition}
    for kind in KINDS:
        kind_runs = [r for r in mine if r["unit_kind"] == kind]
        row[f"{kind}_stop_s"] = stats.rounded(stats.median(r["stop_s"] for r in kind_runs))
        row[f"{kind}_results"] = sorted({r["Result"] for r in kind_runs})
    role_runs = [r for r in mine if r["unit_kind"] == "role" and "service_state_after" in r]
    # How often the socket was still listening, and the service running again, a second after the stop.
    row["role_socket_after"] = sorted({r["socket_state_after"] for r in role_runs})
    row["role_service_after"] = sorted({r["service_state_after"] for r in role_runs})
    row["docs_over_role"] = stats.rounded(stats.median(stats.round_ratios(mine, "stop_s", "unit_kind", "docs", "role")), 2)
    row["teardown_over_flask"] = stats.rounded(
        stats.median(stats.round_ratios(mine, "stop_s", "unit_kind", "flask-teardown", "flask")), 2)
    for kind in FLASK_KINDS:
        kind_runs = [r for r in mine if r["unit_kind"] == kind and "atexit_markers" in r]
        # Stops whose every worker ran the app's atexit handlers (a busy worker under load skips them,
        # as uWSGI does whatever the options).
        row[f"{kind}_atexit_ran"] = sum(1 for r in kind_runs if r["atexit_markers"] >= r["workers"] > 0)
        row[f"{kind}_stops"] = len(kind_runs)
    row["warning_lines"] = sum(r.get("warning_lines", 0) for r in mine if r["unit_kind"] in ("role", "flask"))
    return row


def analyze(runs, docs_timeout):
    """One row per condition; the goal is the role's median stop time (the service alone)."""
    rows = [condition_row(runs, condition) for condition in ("idle", "load")]
    worst = max((row["role_stop_s"] for row in rows if row["role_stop_s"] is not None), default=None)
    flask_worst = max((row["flask_stop_s"] for row in rows if row["flask_stop_s"] is not None), default=None)
    idle = rows[0]
    handlers = idle["flask_stops"] > 0 and idle["flask_atexit_ran"] == idle["flask_stops"]
    quiet = all(row["warning_lines"] == 0 for row in rows)
    met = (worst is not None and worst <= GOAL_S and flask_worst is not None and flask_worst <= FLASK_GOAL_S
           and handlers and quiet)
    return {
        "title": "systemctl stop latency: role's unit (hello, a Flask app) vs uWSGI docs' unit (KillSignal=SIGQUIT)",
        "goal": {"text": GOAL, "met": met, "role_worst_median_s": worst, "flask_worst_median_s": flask_worst,
                 "flask_atexit_handlers_ran": handlers, "quiet": quiet, "docs_timeout_s": docs_timeout},
        "summary": rows,
        "runs": runs,
    }
