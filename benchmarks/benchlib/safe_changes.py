"""6. Safe changes: requests dropped while the role applies changes to an app under steady load.

One test host (pyops-bench-safe), two apps serving the marker app (benchmarks/playbooks/safe_changes.yml):
`safe` (the role's default, socket activation: systemd holds its sockets) and `plain`
(socket_activation: false, uWSGI binds its own sockets), each on its default unix socket (uwsgi
protocol) and an http_socket on 127.0.0.1. tools/steady_load.py runs inside the host against all four
sockets at BENCH_SC_RATE requests/s each (a new connection per request) for the whole session, and a
marker poller asks each app's http socket every 50 ms which configuration answers. The role is then
re-run with changed vars, one change at a time, BENCH_SC_SETTLE seconds apart (CHANGES).

Time to serve: every change also bumps the app's BENCH_GEN (its ini's `env` option, which a graceful
reload applies, so it never changes the action the role picks) and the app answers with the BENCH_GEN
it was started with; the time to serve is from the playbook's start to the first poll answered with
the new generation. Throughput counts 2xx answers by the time they arrived; failures count requests
by the time they were sent (non-2xx, or the connection error's kind)."""

import json
import pathlib
import re
import time

from . import apps, hosts, parse

HOST = "pyops-bench-safe"
MARKER_MODULE, BROKEN_MODULE = "safeapp:application", "brokenapp:application"
PORTS = {"safe": 8500, "plain": 8501}
TOOLS = "/opt/pyops-bench"
STOP_FILE = "/tmp/safe-changes.stop"
POLL_INTERVAL_S = 0.05
GOAL = ("socket-activated app: 0 failed requests through a reload, a unit change (restart) and a broken "
        "change the role rolls back; the broken play fails saying 'Rolled back'")

# The apps before the first change (per-app knobs of app_entry).
BASE = {
    "safe": {"gen": 0, "harakiri": 60, "listen": 100, "module": MARKER_MODULE, "nofile": None, "activation": True},
    "plain": {"gen": 0, "harakiri": 60, "listen": 100, "module": MARKER_MODULE, "nofile": None, "activation": False},
}

# name, app, what changes, the knobs changed, the action the role should pick, whether the change is
# one the goal requires to fail no request, whether the role must roll it back.
CHANGES = [
    {"name": "reload", "app": "safe", "what": "harakiri 60 -> 55", "set": {"harakiri": 55},
     "expect": "reload", "zero_drop": True, "broken": False},
    {"name": "restart-unit", "app": "safe", "what": "unit: LimitNOFILE=4096 added", "set": {"nofile": 4096},
     "expect": "restart", "zero_drop": True, "broken": False},
    {"name": "restart-listen", "app": "safe", "what": "listen 100 -> 128 (the socket unit's Backlog= too)",
     "set": {"listen": 128}, "expect": "restart", "zero_drop": False, "broken": False},
    {"name": "broken", "app": "safe", "what": f"module -> {BROKEN_MODULE} (ImportError at import)",
     "set": {"module": BROKEN_MODULE}, "expect": "reload", "zero_drop": True, "broken": True},
    {"name": "plain-restart-unit", "app": "plain", "what": "unit: LimitNOFILE=4096 added, socket_activation: false",
     "set": {"nofile": 4096}, "expect": "restart", "zero_drop": False, "broken": False},
    {"name": "plain-restart-listen", "app": "plain", "what": "listen 100 -> 128, socket_activation: false",
     "set": {"listen": 128}, "expect": "restart", "zero_drop": False, "broken": False},
]

# The marker poller, run inside the host: python3 -c POLLER HOST:PORT OUT STOP_FILE INTERVAL.
# Writes [[sent, answered, gen or null, error], ...] (wall-clock seconds) once the stop file appears.
POLLER = r"""
import json, os, socket, sys, time
address, out, stop, interval = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
host, port = address.rsplit(":", 1)
polls = []
while not os.path.exists(stop):
    sent, gen, error = time.time(), None, ""
    try:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"GET /marker HTTP/1.0\r\nHost: localhost\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " in status:
            gen = json.loads(body)["gen"]
        else:
            error = status.decode(errors="replace") or "no answer"
    except (OSError, ValueError) as exc:
        error = type(exc).__name__
    polls.append([round(sent, 4), round(time.time(), 4), gen, error])
    time.sleep(max(0.0, interval - (time.time() - sent)))
with open(out + ".tmp", "w") as stream:
    json.dump(polls, stream)
os.replace(out + ".tmp", out)
"""


# --- The apps and the role runs ---------------------------------------------------------------------
def app_entry(name, knobs):
    """One entry of uwsgi_production_apps from an app's knobs."""
    options = {"harakiri": knobs["harakiri"], "listen": knobs["listen"], "env": [f"BENCH_GEN={knobs['gen']}"]}
    entry = apps.app(name, PORTS[name], module=knobs["module"], options=options)
    entry["socket_activation"] = knobs["activation"]
    if knobs["nofile"]:
        entry["unit_hardening"] = {"LimitNOFILE": knobs["nofile"]}
    return entry


def states():
    """(change, knobs of every app for that run) for each change, generation i+1 for change i. A broken
    change is rolled back, so the next change starts again from the state before it."""
    current = {name: dict(knobs) for name, knobs in BASE.items()}
    out = []
    for number, change in enumerate(CHANGES, 1):
        wanted = {name: dict(knobs) for name, knobs in current.items()}
        wanted[change["app"]].update(change["set"], gen=number)
        out.append((change, wanted))
        if not change["broken"]:
            current = wanted
    return out


def role_actions(outcome_file):
    """{app: action} from the role's own result (uwsgi_service's `apps`), which playbooks/role.yml wrote to
    `outcome_file` whether the role passed or failed; {} when the role did not get that far."""
    try:
        apps = json.loads(pathlib.Path(outcome_file).read_text())["apps"]
    except (OSError, ValueError, KeyError):
        return {}
    return {name: info["action"] for name, info in apps.items()}


def failure_message(stdout):
    """The msg of the play's last failed task (the one saying 'Rolled back' if there is one), or ''."""
    messages = []
    for line in re.findall(r"^fatal: \[[^\]]+\]: FAILED! => (\{.*\})\s*$", stdout, re.M):
        try:
            messages.append(str(json.loads(line).get("msg", "")))
        except ValueError:
            messages.append(line)
    rolled = [text for text in messages if "Rolled back" in text]
    return (rolled or messages or [""])[-1]


def run_role(ctx, label, app_states):
    """Apply role.yml with these apps; never raises on a failed play (the broken change must fail)."""
    entries = [app_entry(name, knobs) for name, knobs in app_states.items()]
    extra = ctx.apps_file(f"safe-{label}", entries)
    outcome = pathlib.Path(extra).with_suffix(".outcome.json")
    outcome.unlink(missing_ok=True)
    cmd = ["ansible-playbook", "-i", f"{HOST},", "-c", "community.docker.docker", str(hosts.PLAYBOOKS / "role.yml"),
           "-e", f"@{extra}", "-e", f"bench_outcome={outcome}"]
    began_wall, began = time.time(), time.monotonic()
    result = hosts.run(cmd, log=ctx.log, env=hosts.ansible_env(), check=False)
    seconds = time.monotonic() - began
    try:
        recap = parse.play_recap(result.stdout, HOST)
    except ValueError:
        recap = {}
    return {"start": round(began_wall, 4), "end": round(began_wall + seconds, 4), "role_s": round(seconds, 2),
            "rc": result.returncode, "recap": recap, "actions": role_actions(outcome),
            "failure": failure_message(result.stdout), "slowest_tasks": parse.task_times(result.stdout)[:5]}


# --- Load inside the host ---------------------------------------------------------------------------
def targets():
    """{target: (app, steady_load arguments)}: each app's unix socket and http socket."""
    found = {}
    for name, port in PORTS.items():
        found[f"{name}-uwsgi"] = (name, ["--uwsgi", f"/run/uwsgi-{name}/uwsgi.sock"])
        found[f"{name}-http"] = (name, ["--http", f"127.0.0.1:{port}"])
    return found


def start_load(ctx):
    """Start the load generators and the marker pollers, detached (docker exec -d), inside the host."""
    hosts.execute(HOST, "rm", "-f", STOP_FILE, log=ctx.log)
    detached = ["docker", "exec", "-d", hosts.check_name(HOST)]
    for target, (_app, args) in targets().items():
        hosts.run(detached + ["sh", "-c", f"exec python3 {TOOLS}/steady_load.py {' '.join(args)} "
                              f"--rate {ctx.settings.sc_rate} --stop-file {STOP_FILE} --timeout 30 "
                              f"--out /tmp/load-{target}.json 2>/tmp/load-{target}.err"], log=ctx.log)
    for name, port in PORTS.items():
        hosts.run(detached + ["python3", "-c", POLLER, f"127.0.0.1:{port}", f"/tmp/marker-{name}.json", STOP_FILE,
                              str(POLL_INTERVAL_S)], log=ctx.log)


def stop_load(ctx):
    """Stop the load and fetch {target: steady_load report}, {app: marker polls}."""
    hosts.execute(HOST, "touch", STOP_FILE, log=ctx.log)
    files = [f"/tmp/load-{target}.json" for target in targets()] + [f"/tmp/marker-{name}.json" for name in PORTS]
    deadline = time.monotonic() + 90  # in-flight requests may take up to steady_load's --timeout
    while hosts.execute(HOST, "ls", *files, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise hosts.CommandFailed(f"the load generators wrote no report within 90 s: {files}")
        time.sleep(1)
    loads = {target: json.loads(hosts.execute(HOST, "cat", f"/tmp/load-{target}.json").stdout) for target in targets()}
    markers = {name: json.loads(hosts.execute(HOST, "cat", f"/tmp/marker-{name}.json").stdout) for name in PORTS}
    hosts.write_json(ctx.work / "safe_changes-load.json", {"loads": loads, "markers": markers})
    return loads, markers


# --- Analysis (pure: tested on synthetic input) -----------------------------------------------------
def wall_records(report):
    """[(sent, answered, latency, status, error)] in wall-clock seconds from a steady_load report."""
    base = report["started"]
    return [(base + t, base + t + latency, latency, status, error) for t, latency, status, error in report["records"]]


def ok(status):
    """A 2xx answer."""
    return 200 <= status < 300


def window(records, start, end):
    """Requests sent in [start, end): sent, failed, errors by kind, max latency."""
    mine = [r for r in records if start <= r[0] < end]
    errors = {}
    for _sent, _done, _latency, status, error in mine:
        if not ok(status):
            key = error or str(status)
            errors[key] = errors.get(key, 0) + 1
    return {"sent": len(mine), "failed": sum(errors.values()), "errors": errors,
            "max_latency_s": round(max((r[2] for r in mine), default=0.0), 3)}


def rate(records, start, end):
    """2xx answers per second that arrived in [start, end)."""
    if end <= start:
        return None
    return round(sum(1 for r in records if ok(r[3]) and start <= r[1] < end) / (end - start), 1)


def longest_gap(records, start, end):
    """The longest time in [start, end] without any 2xx answer arriving."""
    times = sorted(r[1] for r in records if ok(r[3]) and start <= r[1] <= end)
    edges = [start] + times + [end]
    return round(max(b - a for a, b in zip(edges, edges[1:])), 3)


def time_to_serve(polls, start, gen):
    """Seconds from start until the first poll answered by generation gen (None if none was)."""
    answered = [done for _sent, done, got, _error in polls if got == str(gen) and done >= start]
    return round(min(answered) - start, 3) if answered else None


def merge(dicts):
    """Sum of error-count dicts."""
    total = {}
    for item in dicts:
        for key, value in item.items():
            total[key] = total.get(key, 0) + value
    return total


def change_row(change, number, run, next_start, records_by_target, polls, settings):
    """The figures of one change for its app (its two sockets together) and per socket."""
    start, end, span = run["start"], run["end"], settings["sc_window"]
    mine = {target: records for target, records in records_by_target.items() if target.startswith(change["app"] + "-")}
    together = sorted(r for records in mine.values() for r in records)
    others = sorted(r for target, records in records_by_target.items() if target not in mine for r in records)
    counts = window(together, start, next_start)
    row = {"change": change["name"], "number": number, "app": change["app"], "what": change["what"],
           "socket_activation": change["app"] == "safe", "expected_action": change["expect"],
           "action": run["actions"].get(change["app"], "?"), "role_s": run["role_s"], "play_rc": run["rc"],
           **counts,
           "rps_before": rate(together, start - span, start), "rps_during": rate(together, start, end),
           "rps_after": rate(together, end, end + span),
           "longest_gap_s": longest_gap(together, start, next_start),
           "time_to_serve_s": time_to_serve(polls, start, number),
           "other_app_failed": window(others, start, next_start)["failed"],
           "per_socket": {target: window(records, start, next_start) for target, records in mine.items()}}
    if change["broken"]:
        row["rolled_back"] = run["rc"] != 0 and "Rolled back" in run["failure"]
        row["broken_config_served"] = row["time_to_serve_s"] is not None
        row["failure_message"] = run["failure"]
    return row


def timeline(records_by_target, t0, t1, step=1.0):
    """Per-bin series from t0: 2xx answers/s by arrival and failures by send time, per app; max latency."""
    bins = max(1, int((t1 - t0) / step) + 1)
    series = {}
    for target, records in records_by_target.items():
        app = target.split("-")[0]
        entry = series.setdefault(app, {"ok_per_s": [0.0] * bins, "failed": [0] * bins, "max_latency_s": [0.0] * bins})
        for sent, done, latency, status, _error in records:
            if ok(status):
                index = int((done - t0) / step)
                if 0 <= index < bins:
                    entry["ok_per_s"][index] += 1 / step
            index = int((sent - t0) / step)
            if 0 <= index < bins:
                if not ok(status):
                    entry["failed"][index] += 1
                entry["max_latency_s"][index] = round(max(entry["max_latency_s"][index], latency), 3)
    return {"t0": t0, "step_s": step, "t": [round(i * step, 3) for i in range(bins)], "apps": series}


def analyze(runs, loads, markers, settings, load_window):
    """results.json's entry: one row per change, the goal, the timeline for the plot."""
    records = {target: wall_records(report) for target, report in loads.items()}
    t0, t1 = load_window
    rows = []
    for index, (change, run) in enumerate(runs):
        next_start = runs[index + 1][1]["start"] if index + 1 < len(runs) else t1
        rows.append(change_row(change, index + 1, run, next_start, records, markers.get(change["app"], []), settings))
    zero = [row for row in rows if CHANGES[row["number"] - 1]["zero_drop"]]
    broken = [row for row in rows if "rolled_back" in row]
    good_plays = all(row["play_rc"] == 0 for row in rows if "rolled_back" not in row)
    met = (bool(zero) and all(row["failed"] == 0 for row in zero) and all(row["rolled_back"] for row in broken)
           and not any(row["broken_config_served"] for row in broken) and good_plays
           and all(row["action"] == row["expected_action"] for row in rows if "rolled_back" not in row))
    totals = {target: {"sent": report["sent"], "failed": report["failed"], "errors": report["errors"]}
              for target, report in loads.items()}
    return {
        "title": "Safe changes: dropped requests while the role reloads, restarts and rolls back an app under load",
        "goal": {"text": GOAL, "met": met, "failed_in_zero_drop_changes": sum(row["failed"] for row in zero)},
        "summary": rows,
        "runs": {"changes": [dict(run, change=change["name"]) for change, run in runs], "totals": totals,
                 "rate_per_socket": settings["sc_rate"], "settle_s": settings["sc_settle"],
                 "window_s": settings["sc_window"], "load_start": t0, "load_end": t1,
                 "timeline": timeline(records, t0, t1)},
    }


# --- The session ------------------------------------------------------------------------------------
def run(ctx):
    """The whole benchmark on its own host; the host is removed at the end unless BENCH_KEEP_HOSTS."""
    settings = {"sc_rate": ctx.settings.sc_rate, "sc_settle": ctx.settings.sc_settle,
                "sc_window": ctx.settings.sc_window}
    ctx.say(f"safe_changes: starting test host {HOST}")
    ctx.start_host(HOST)
    try:
        hosts.playbook(HOST, "safe_changes.yml", log=ctx.log)
        ctx.say("safe_changes: converging the role (safe: socket activation, plain: without)")
        first = run_role(ctx, "base", BASE)
        if first["rc"] != 0:
            raise hosts.CommandFailed(f"the role did not converge on {HOST}: {first['failure']}")
        ctx.say(f"safe_changes: steady load, {ctx.settings.sc_rate} req/s on each of {len(targets())} sockets")
        load_start = time.time()
        start_load(ctx)
        time.sleep(ctx.settings.sc_settle)
        runs = []
        for change, wanted in states():
            ctx.say(f"safe_changes: {change['name']} on {change['app']}: {change['what']}")
            result = run_role(ctx, change["name"], wanted)
            ctx.say(f"safe_changes: {change['name']}: rc {result['rc']}, actions {result['actions']}, "
                    f"{result['role_s']} s")
            runs.append((change, result))
            time.sleep(ctx.settings.sc_settle)
        load_end = time.time()
        loads, markers = stop_load(ctx)
        ctx.say("safe_changes: journal of the apps kept in work/safe_changes-journal.txt")
        journal = hosts.execute(HOST, "journalctl", "-u", "uwsgi-safe*", "-u", "uwsgi-plain*", "--no-pager",
                                "-o", "short-precise", check=False)
        (ctx.work / "safe_changes-journal.txt").write_text(journal.stdout, encoding="utf-8")
        version = hosts.execute(HOST, f"{ctx.defaults['uwsgi_production_venv']}/bin/uwsgi", "--version", check=False)
    finally:
        ctx.remove_hosts([HOST])
    result = analyze(runs, loads, markers, settings, (load_start, load_end))
    result["runs"]["uwsgi_version"] = version.stdout.strip()
    return result


# --- Summary and plot -------------------------------------------------------------------------------
def summary_text(bench):
    """The human summary of this benchmark's results."""
    from . import report  # pylint: disable=import-outside-toplevel  # report imports nothing of ours

    if "error" in bench:
        return f"ERROR: {bench['error']}"
    header = ["#", "change", "app", "action", "role s", "sent", "failed", "errors", "req/s before", "during",
              "after", "max lat s", "gap s", "serves after s", "other app failed"]
    rows = [[r["number"], r["change"], r["app"] + ("" if r["socket_activation"] else " (no act.)"), r["action"],
             r["role_s"], r["sent"], r["failed"], ",".join(f"{k}:{v}" for k, v in r["errors"].items()) or "-",
             r["rps_before"], r["rps_during"], r["rps_after"], r["max_latency_s"], r["longest_gap_s"],
             r["time_to_serve_s"], r["other_app_failed"]] for r in bench["summary"]]
    runs = bench["runs"]
    lines = [f"{runs['rate_per_socket']} req/s on each app's unix (uwsgi) and http socket, "
             f"{runs['settle_s']} s between changes; before/after: {runs['window_s']} s windows; "
             "gap: longest time without a 2xx answer until the next change; "
             "serves after: playbook start -> first answer of the new config",
             report.table(header, rows)]
    for row in bench["summary"]:
        if "rolled_back" in row:
            message = " ".join(line.strip() for line in row["failure_message"].splitlines()
                               if "Rolled back" in line or line.strip().startswith("- app"))
            lines.append(f"Broken change: play failed, rolled back: {stats_word(row['rolled_back'])}; broken config "
                         f"served: {stats_word(row['broken_config_served'])}; message: {message[:300]}")
    lines.append(f"Goal {bench['goal']['text']} -> {report.verdict(bench['goal'])}")
    return "\n".join(lines)


def stats_word(value):
    """yes/no."""
    return "yes" if value else "no"


def plot(bench, path):
    """Throughput, failures and max latency per second of each app, the changes shaded."""
    from . import plots  # pylint: disable=import-outside-toplevel  # imports matplotlib (Agg)

    plt = plots.plt
    runs = bench["runs"]
    line = runs["timeline"]
    t0 = line["t0"]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 8), sharex=True, height_ratios=[3, 1.5, 1.5])
    colors = {"safe": "tab:blue", "plain": "tab:orange"}
    for app, data in line["apps"].items():
        label = f"{app} ({'socket activation' if app == 'safe' else 'socket_activation: false'})"
        top.plot(line["t"], data["ok_per_s"], color=colors.get(app), label=label, linewidth=1)
        middle.bar(line["t"], data["failed"], width=line["step_s"], color=colors.get(app), alpha=0.7, label=app)
        bottom.plot(line["t"], data["max_latency_s"], color=colors.get(app), linewidth=1)
    for row, run_ in zip(bench["summary"], runs["changes"]):
        for axis in (top, middle, bottom):
            axis.axvspan(run_["start"] - t0, run_["end"] - t0, color=colors.get(row["app"]), alpha=0.12)
        top.text(run_["start"] - t0, top.get_ylim()[1] * 0.98 if top.get_ylim()[1] else 1,
                 f"{row['number']} {row['change']}\n{row['failed']} failed", fontsize=7, va="top")
    top.set_ylabel("2xx answers/s (by arrival)")
    top.legend(loc="lower right", fontsize="small")
    middle.set_ylabel("failed requests\n(by send time)")
    bottom.set_ylabel("max latency, s")
    bottom.set_xlabel("seconds since the load started (shaded: the role's run of each change)")
    top.set_title(f"Safe changes under {runs['rate_per_socket']} req/s per socket (unix + http, per app)")
    return plots.save(fig, path)


def write_plot(results, out_dir):
    """[safe_changes.png] when the benchmark has results, else []."""
    bench = results["benchmarks"].get("safe_changes")
    if not bench or "error" in bench:
        return []
    return [plot(bench, out_dir / "safe_changes.png").name]
