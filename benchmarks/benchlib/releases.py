"""9. Releases: new application code under load, today's route (a new `chdir`, applied by a graceful
reload) against a release (`release.id`: built beside the live one, checked, switched, chain-reloaded).

One test host of its own (<prefix>-releases), two apps serving the same code, whose import takes
BENCH_REL_IMPORT_S seconds (a large project's): `base`, deployed today's way (`chdir` names the code,
`virtualenv` + `packages`), and `rel`, with a `release` (its code an archive on the controller, its
packages wheels on the host). tools/steady_load.py sends BENCH_REL_RATE requests/s to each app's http
socket, from inside the host, for the whole session. Then, one role run at a time, BENCH_REL_GAP seconds
apart (each run's window: from its start to the next run's, so a stall that outlives the run is counted):

1. interleaved rounds (BENCH_REL_ROUNDS; which app goes first alternates): new code (`code`), then new
   code that imports a package its old virtualenv lacks (`deps`: a wheel added to `packages` /
   `release.packages`), on each app;
2. once on each app: a version that fails its import (`broken`: it raises after its import time) and one
   that imports but answers 500 (`unhealthy`); each run must fail and the old version must serve after;
   then once on `base`, the `packages` route with a broken version (`pkgbroken`: its dependency's wheel
   replaced by version 2.0, whose import raises; the code and the rest of the app unchanged);
3. rounds of going back to the previous version on purpose (`back`: `release.id` set to the kept
   release before; `chdir` back for `base`), a one-task play (playbooks/baseline.yml, as the runtime
   benchmark), a role run that changes nothing (`rerun`: what any run costs on this host), then forward
   again (`forward`: a switch to a kept release too);
4. memory: the example Flask app (benchmarks/apps/flaskapp.py, 8 workers) with and without `lazy-apps`
   (which every app with a release gets), RSS and PSS of each worker from /proc after some requests.

After every run the app is asked which version answers. The figures of a run are its app's requests
sent in its window: failed (non-2xx or no answer), the longest wait and p99 of their latencies."""

import base64
import hashlib
import io
import json
import pathlib
import tarfile
import time
import zipfile

from . import apps, hosts, parse, safe_changes, stats

SRC = "/srv/relbench"
TOOLS = "/opt/pyops-bench"
MODULE = "relapp:application"
BASE_VENV = SRC + "/base-venv"
PORTS = {"base": 8600, "rel": 8601}
FLASK_APPS = {"rel-flask-eager": (8602, False), "rel-flask-lazy": (8603, True)}
STOP_FILE = "/tmp/releases-load.stop"
# The apps' health check gives up after this many seconds (the role's default is 60): a version answering
# 500 costs each route that long, and today's route fails requests for all of it.
HEALTH_TIMEOUT_S = 10
MAX_WAIT_S = 0.25          # issue 24: the longest wait of any request during a release
BACK_MAX_OVER_PLAY = 2.0   # issue 24: going back <= 2x the one-task play, plus the chain reload
SERVED_CHECKS = 10         # requests asking which version answers, after each run
OUTCOME_TASK = "Write each app's action to the controller"
KINDS = ("code", "deps", "broken", "unhealthy", "pkgbroken", "back", "forward")
# The entry of `packages` naming version 2.0 of dependency 0, whose import raises.
BROKEN_DEP = "0-broken"
GOAL = (f"a release (new code; new code with a new dependency) under load: 0 failed and the longest wait <= "
        f"{MAX_WAIT_S:g} s; a release that fails its import or its health check: 0 failed, longest wait <= "
        f"{MAX_WAIT_S:g} s, the old release serves after and the run fails saying so; going back to the previous "
        f"release <= {BACK_MAX_OVER_PLAY:g}x the one-task play plus the chain reload; a broken version through `packages`: 0 "
        f"failed and the old code serves after (issue 24); lazy-apps' memory shown")

# Asks the app on 127.0.0.1:PORT N times which version answers: {"<status> <version>": count}.
SERVED = r"""
import json, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
answers = {}
for _ in range(count):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode()
        key = status + (" " + json.loads(body)["version"] if status == "200" else "")
    except (OSError, ValueError, IndexError, KeyError) as exc:
        key = type(exc).__name__
    answers[key] = answers.get(key, 0) + 1
print(json.dumps(answers))
"""


# --- The versions of the app and its packages (pure) -------------------------------------------------
def app_source(version, import_s, deps=(), broken=False, status=200):
    """relapp.py of one version: its import sleeps import_s seconds (then raises when broken), imports its
    dependency packages, and every request gets `status` with {"version", "pid"} as JSON."""
    imports = "".join(f"import relbench_dep{number}  # noqa: F401  (its dependencies)\n" for number in deps)
    fail = (f'raise ImportError("relapp {version}: deliberately broken by the releases benchmark")\n'
            if broken else "")
    reason = {200: "200 OK", 500: "500 Internal Server Error"}[status]
    return (f'"""The releases benchmark\'s app, version {version}: a {import_s:g} s import, then '
            f'{"an ImportError" if broken else reason}."""\n'
            "import json\nimport os\nimport time\n\n"
            f"time.sleep({import_s!r})\n{fail}{imports}"
            f'VERSION = "{version}"\n\n\n'
            "def application(environ, start_response):\n"
            '    body = json.dumps({"version": VERSION, "pid": os.getpid()}).encode()\n'
            f'    start_response("{reason}", [("Content-Type", "application/json"), '
            '("Content-Length", str(len(body)))])\n'
            "    return [body]\n")


def wheel_name(number):
    """The wheel of dependency `number` (version 1.0), or of BROKEN_DEP (dependency 0's version 2.0)."""
    if number == BROKEN_DEP:
        return "relbench_dep0-2.0-py3-none-any.whl"
    return f"relbench_dep{number}-1.0-py3-none-any.whl"


def wheel_path(number):
    """Where dependency package `number` lies on the host (a wheel: pip says a wheel of the installed version
    is already installed, so today's route reinstalls nothing on a re-run; a directory would be built and
    reinstalled, reported changed and reloaded, at every run)."""
    return f"{SRC}/wheels/{wheel_name(number)}"


def wheel_bytes(number):
    """A minimal pure-Python wheel of package relbench_dep<number> (version 1.0), built here (no index);
    for BROKEN_DEP, relbench_dep0 version 2.0, whose import raises."""
    broken = number == BROKEN_DEP
    number, version = (0, "2.0") if broken else (number, "1.0")
    name, dist = f"relbench_dep{number}", f"relbench_dep{number}-{version}.dist-info"
    fail = f'raise ImportError("{name} {version}: deliberately broken by the releases benchmark")\n' if broken else ""
    files = {f"{name}.py": f'"""A dependency of the releases benchmark\'s app."""\n{fail}NAME = "{name}"\n',
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: relbench-dep{number}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: pyops-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, text in files.items():
            archive.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), text)
    return out.getvalue()


INITIAL = {"base": {"version": "v1", "packages": (0,)}, "rel": {"version": "v1", "packages": (0,)}}


def schedule(rounds):
    """(versions, steps, final state). versions: {name: {"deps", "broken", "status"}}; steps: each run in order, with the
    state of both apps it applies ({app: {"version", "packages"}}), what it changes and the version that must
    answer after it ("play": the one-task play, which changes nothing)."""
    versions = {"v1": {"deps": (0,), "broken": False, "status": 200}}
    state = {name: dict(value) for name, value in INITIAL.items()}
    steps, count = [], 1

    def run(kind, app, number, version):
        wanted = {name: dict(value) for name, value in state.items()}
        deps = versions[version]["deps"]
        wanted[app] = {"version": version, "packages": tuple(sorted(set(state[app]["packages"]) | set(deps)))
                       if app == "base" else deps}
        fails = versions[version]["broken"] or versions[version]["status"] != 200
        steps.append({"kind": kind, "app": app, "round": number, "from": state[app]["version"], "to": version,
                      "fails": fails, "serves_after": state[app]["version"] if fails else version, "state": wanted})
        if not fails:
            state[app] = wanted[app]

    def both(kind, number, version):
        for app in ("base", "rel") if number % 2 == 0 else ("rel", "base"):
            run(kind, app, number, version)

    for number in range(rounds):
        count += 1
        versions[f"v{count}"] = {"deps": versions[f"v{count - 1}"]["deps"], "broken": False, "status": 200}
        both("code", number, f"v{count}")
        count += 1
        versions[f"v{count}"] = {"deps": versions[f"v{count - 1}"]["deps"] + (number + 1,), "broken": False,
                                 "status": 200}
        both("deps", number, f"v{count}")
    last, previous = f"v{count}", f"v{count - 1}"
    versions["x-broken"] = {"deps": versions[last]["deps"], "broken": True, "status": 200}
    versions["x-unhealthy"] = {"deps": versions[last]["deps"], "broken": False, "status": 500}
    both("broken", 0, "x-broken")
    both("unhealthy", 1, "x-unhealthy")
    # Today's interface for an app without a release: only `packages` changes, to a version that raises.
    wanted = {name: dict(value) for name, value in state.items()}
    wanted["base"]["packages"] = tuple(BROKEN_DEP if number == 0 else number for number in state["base"]["packages"])
    steps.append({"kind": "pkgbroken", "app": "base", "round": 0, "from": state["base"]["version"],
                  "to": f"{state['base']['version']} + dep0 2.0", "fails": True,
                  "serves_after": state["base"]["version"], "state": wanted})
    for number in range(rounds):
        both("back", number, previous)
        steps.append({"kind": "play", "app": "", "round": number})
        # A re-run that changes nothing, on the same host in the same round: what any run costs here.
        steps.append({"kind": "rerun", "app": "", "round": number, "from": "", "to": "", "fails": False,
                      "state": {name: dict(value) for name, value in state.items()}})
        both("forward", number, last)
    return versions, steps, state


def app_entry(name, state, archives):
    """The entry of uwsgi_production_apps of `base` or `rel` in `state` ({"version", "packages"})."""
    entry = {"name": name, "module": MODULE, "http_socket": f"127.0.0.1:{PORTS[name]}",
             "health_check": {"timeout": HEALTH_TIMEOUT_S}}
    packages = [wheel_path(number) for number in state["packages"]]
    if name == "base":
        entry.update(chdir=f"{SRC}/code/{state['version']}", virtualenv=BASE_VENV, packages=packages)
    else:
        entry["release"] = {"id": state["version"], "source": {"archive": f"{archives}/{state['version']}.tar.gz"},
                            "packages": packages}
    return entry


def flask_entries():
    """The memory phase's two Flask apps: the stop benchmark's, with and without lazy-apps."""
    return [apps.flask_app(name, port, {"lazy-apps": True} if lazy else None)
            for name, (port, lazy) in FLASK_APPS.items()]


def write_sources(out, versions, import_s):
    """The controller's copy of what the host needs: <out>/host/code/<version>/relapp.py (today's route
    reads its chdir), <out>/host/wheels/*.whl, and <out>/archives/<version>.tar.gz (release.source.archive)."""
    out = pathlib.Path(out)
    deps = sorted({number for version in versions.values() for number in version["deps"]})
    (out / "host" / "wheels").mkdir(parents=True, exist_ok=True)
    (out / "archives").mkdir(parents=True, exist_ok=True)
    for number in deps + [BROKEN_DEP]:
        (out / "host" / "wheels" / wheel_name(number)).write_bytes(wheel_bytes(number))
    for name, version in versions.items():
        source = app_source(name, import_s, version["deps"], version["broken"], version["status"]).encode()
        code = out / "host" / "code" / name
        code.mkdir(parents=True, exist_ok=True)
        (code / "relapp.py").write_bytes(source)
        with tarfile.open(out / "archives" / f"{name}.tar.gz", "w:gz") as archive:
            info = tarfile.TarInfo("relapp.py")
            info.size, info.mode, info.mtime = len(source), 0o644, 1577836800
            archive.addfile(info, io.BytesIO(source))
    return out


# --- The session ------------------------------------------------------------------------------------
def role_run(ctx, host, label, entries):
    """playbooks/role.yml with these apps; never raises on a failed play (the broken versions must fail)."""
    extra = ctx.apps_file(f"releases-{label}", entries)
    outcome = pathlib.Path(extra).with_suffix(".outcome.json")
    outcome.unlink(missing_ok=True)
    cmd = ["ansible-playbook", "-i", f"{host},", "-c", "community.docker.docker", str(hosts.PLAYBOOKS / "role.yml"),
           "-e", f"@{extra}", "-e", f"bench_outcome={outcome}"]
    began_wall, began = time.time(), time.monotonic()
    result = hosts.run(cmd, log=ctx.log, env=hosts.ansible_env(), check=False)
    seconds = time.monotonic() - began
    try:
        recap = parse.play_recap(result.stdout, host)
    except ValueError:
        recap = {}
    times = parse.task_times(result.stdout)
    written = next((s for task, s in times if task.endswith(OUTCOME_TASK)), 0.0)
    try:
        said = json.loads(outcome.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        said = {}
    return {"start": round(began_wall, 4), "end": round(began_wall + seconds, 4), "role_s": round(seconds, 2),
            "own_s": round(seconds - written, 2), "rc": result.returncode, "recap": recap,
            "switched": said.get("switched") or {},
            "actions": {k: v.get("action") for k, v in (said.get("apps") or {}).items()},
            "failure": safe_changes.failure_message(result.stdout), "slowest_tasks": times[:5]}


def served(ctx, host, app):
    """{"<status> <version>": count} of SERVED_CHECKS requests to the app."""
    result = hosts.execute(host, "python3", "-c", SERVED, str(PORTS[app]), str(SERVED_CHECKS), log=ctx.log,
                           check=False)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {"error": (result.stdout + result.stderr)[-300:]}


def start_load(ctx, host):
    """steady_load.py on each app's http socket, detached, until STOP_FILE appears."""
    rate = ctx.settings.rel_rate
    # Enough threads for every request of the longest stall (today's route: two imports and a health check).
    concurrency = max(8, int(rate * (2 * ctx.settings.rel_import_s + 10)))
    hosts.execute(host, "rm", "-f", STOP_FILE, log=ctx.log)
    for app, port in PORTS.items():
        hosts.run(["docker", "exec", "-d", hosts.check_name(host), "sh", "-c",
                   f"exec python3 {TOOLS}/steady_load.py --http 127.0.0.1:{port} --rate {rate} "
                   f"--concurrency {concurrency} --stop-file {STOP_FILE} --timeout 30 "
                   f"--out /tmp/relload-{app}.json 2>/tmp/relload-{app}.err"], log=ctx.log)


def stop_load(ctx, host):
    """Stop the load; {app: steady_load report}."""
    hosts.execute(host, "touch", STOP_FILE, log=ctx.log)
    files = [f"/tmp/relload-{app}.json" for app in PORTS]
    deadline = time.monotonic() + 90
    while hosts.execute(host, "ls", *files, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise hosts.CommandFailed(f"the load generators wrote no report within 90 s: {files}")
        time.sleep(1)
    loads = {app: json.loads(hosts.execute(host, "cat", f"/tmp/relload-{app}.json").stdout) for app in PORTS}
    hosts.write_json(ctx.work / "releases-load.json", loads)
    return loads


def run_steps(ctx, host, steps, archives):
    """Every step of the schedule under load: [(step, run)]."""
    done = []
    for index, step in enumerate(steps, 1):
        if step["kind"] == "play":
            play = hosts.playbook(host, "baseline.yml", log=ctx.log)
            done.append((step, {"role_s": play["seconds"], "own_s": play["seconds"]}))
            continue
        ctx.say(f"releases: {index}/{len(steps)} round {step['round'] + 1} {step['kind']}"
                + (f" on {step['app']}: {step['from']} -> {step['to']}" if step["app"] else " (no change)"))
        entries = [app_entry(name, state, archives) for name, state in step["state"].items()]
        run = role_run(ctx, host, f"{index:02d}-{step['kind']}-{step['app'] or 'both'}", entries)
        run["served"] = served(ctx, host, step["app"]) if step["app"] else {}
        ctx.say(f"releases: rc {run['rc']}, {run['role_s']} s, changed {run['recap'].get('changed')}, serves "
                f"{run['served']}"
                + (f", chain {run['switched'][step['app']].get('seconds')} s" if step["app"] in run["switched"] else ""))
        done.append((step, run))
        time.sleep(ctx.settings.rel_gap)
    return done


def memory_phase(ctx, host, entries):
    """Deploy the Flask apps beside the others, send them some requests, then RSS/PSS of each process."""
    ctx.say("releases: memory, the Flask app (8 workers) with and without lazy-apps")
    run = role_run(ctx, host, "memory", entries + flask_entries())
    if run["rc"] != 0:
        raise hosts.CommandFailed(f"the role did not deploy the Flask apps: {run['failure']}")
    found = {"role_s": run["role_s"]}
    for name, (port, lazy) in FLASK_APPS.items():
        load = json.loads(hosts.execute(host, "python3", f"{TOOLS}/steady_load.py", "--http", f"127.0.0.1:{port}",
                                        "--path", "/items", "--rate", "100", "--duration", "4", "--concurrency", "16",
                                        log=ctx.log).stdout)
        measured = hosts.probe(host, "memory", "--unit", f"uwsgi-{name}.service", "--samples", "3", log=ctx.log)
        found[name] = {"lazy_apps": lazy, "requests": load["sent"], "failed": load["failed"], **measured}
    return found


def run(ctx):
    """The whole benchmark on its own host; the host is removed at the end unless BENCH_KEEP_HOSTS."""
    host = hosts.check_name(f"{ctx.host_prefix}-releases")
    settings = {"rounds": ctx.settings.rel_rounds, "rate": ctx.settings.rel_rate,
                "import_s": ctx.settings.rel_import_s, "gap_s": ctx.settings.rel_gap,
                "health_timeout_s": HEALTH_TIMEOUT_S}
    versions, steps, final = schedule(ctx.settings.rel_rounds)
    source = write_sources(ctx.work / "releases-src", versions, ctx.settings.rel_import_s)
    archives = source / "archives"
    ctx.say(f"releases: starting test host {host}")
    ctx.start_host(host)
    try:
        hosts.playbook(host, "releases.yml", [f"bench_release_src={source / 'host'}"], log=ctx.log)
        ctx.say("releases: converging the role (base: chdir v1, rel: release v1)")
        first = role_run(ctx, host, "converge", [app_entry(name, state, archives) for name, state in INITIAL.items()])
        if first["rc"] != 0:
            raise hosts.CommandFailed(f"the role did not converge on {host}: {first['failure']}")
        ctx.say(f"releases: steady load, {ctx.settings.rel_rate} req/s on each app")
        load_start = time.time()
        start_load(ctx, host)
        time.sleep(ctx.settings.rel_gap)
        done = run_steps(ctx, host, steps, archives)
        load_end = time.time()
        loads = stop_load(ctx, host)
        memory = memory_phase(ctx, host, [app_entry(name, state, archives) for name, state in final.items()])
        journal = hosts.execute(host, "journalctl", "-u", "uwsgi-base*", "-u", "uwsgi-rel*", "--no-pager",
                                "-o", "short-precise", check=False)
        (ctx.work / "releases-journal.txt").write_text(journal.stdout, encoding="utf-8")
        version = hosts.execute(host, f"{ctx.defaults['uwsgi_production_venv']}/bin/uwsgi", "--version", check=False)
    finally:
        ctx.remove_hosts([host])
    result = analyze(done, loads, memory, settings, (load_start, load_end))
    result["runs"]["converge"] = first
    result["runs"]["uwsgi_version"] = version.stdout.strip()
    return result


# --- Analysis (pure: tested on synthetic input) -----------------------------------------------------
def percentile(values, fraction):
    """The value at `fraction` (0..1) of the sorted values (nearest rank), None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))]


def run_figures(records, start, end):
    """Requests sent in [start, end): sent, failed, errors by kind, longest wait and p99 of their latencies."""
    counts = safe_changes.window(records, start, end)
    latencies = [r[2] for r in records if start <= r[0] < end]
    return {"sent": counts["sent"], "failed": counts["failed"], "errors": counts["errors"],
            "longest_wait_s": counts["max_latency_s"], "p99_s": stats.rounded(percentile(latencies, 0.99))}


def serves_ok(answers, version):
    """Whether every answer after the run came from `version` with a 200."""
    return bool(answers) and set(answers) == {f"200 {version}"}


def says_old_serves(step, run):
    """Whether a failed run failed saying that the old version still serves: a release's build refused
    ('NOT switched ... still serves release X'), new packages put back before any reload ('still serves its
    old code'), today's route rolled back ('Rolled back')."""
    text = run.get("failure") or ""
    if run.get("rc", 0) == 0:
        return False
    if step["app"] == "rel":
        return "NOT switched" in text and f"still serves release {step['serves_after']}" in text
    if step.get("kind") == "pkgbroken":
        return "still serves its old code" in text
    return "Rolled back" in text


def step_row(step, run, next_start, records):
    """The figures of one role run for its app."""
    chain = (run.get("switched") or {}).get(step["app"]) or {}
    row = {"kind": step["kind"], "app": step["app"], "round": step["round"], "from": step["from"], "to": step["to"],
           "start": run["start"], "end": run["end"], "rc": run["rc"], "role_s": run["role_s"], "own_s": run["own_s"],
           **run_figures(records.get(step["app"], []), run["start"], next_start),
           "served": run.get("served") or {}, "serves_expected": serves_ok(run.get("served"), step["serves_after"]),
           "chain_s": chain.get("seconds"), "loaded": chain.get("loaded")}
    if step["fails"]:
        row["says_old_serves"] = says_old_serves(step, run)
        row["failure"] = (run.get("failure") or "")[:1500]
    return row


def back_ratios(rows, plays):
    """Per app, the `back` runs over the one-task play of their round: own_s / play, and for the releases
    (own_s - chain_s) / play, the target's measure."""
    out = {}
    for app in ("base", "rel"):
        mine = [row for row in rows if row["kind"] == "back" and row["app"] == app and plays.get(row["round"])]
        over = [row["own_s"] / plays[row["round"]] for row in mine]
        net = [(row["own_s"] - row["chain_s"]) / plays[row["round"]] for row in mine if row["chain_s"] is not None]
        out[app] = {"over_play": [stats.rounded(v, 2) for v in over], "over_play_median": stats.rounded(stats.median(over)),
                    "net_of_chain_over_play": [stats.rounded(v, 2) for v in net],
                    "net_of_chain_over_play_median": stats.rounded(stats.median(net)),
                    "chain_s": [row["chain_s"] for row in mine], "own_s": [row["own_s"] for row in mine]}
    return out


def kind_summary(rows):
    """One row per (kind, app): runs, worst failed/longest wait, median p99 and run time, and per round
    today's route over the release (longest wait) and the release over today's route (run time)."""
    out = []
    for kind in KINDS:
        for app in ("base", "rel"):
            mine = [row for row in rows if row["kind"] == kind and row["app"] == app]
            if not mine:
                continue
            entry = {"kind": kind, "app": app, "runs": len(mine), "failed": sum(row["failed"] for row in mine),
                     "longest_wait_s": max(row["longest_wait_s"] for row in mine),
                     "p99_s_median": stats.median(row["p99_s"] for row in mine),
                     "role_s_median": stats.median(row["role_s"] for row in mine),
                     "chain_s_median": stats.median(row["chain_s"] for row in mine),
                     "serves_expected": all(row["serves_expected"] for row in mine),
                     "rc": [row["rc"] for row in mine]}
            if "says_old_serves" in mine[0]:
                entry["says_old_serves"] = all(row["says_old_serves"] for row in mine)
            out.append(entry)
    return out


def pair_ratios(rows, kind, metric, numerator, denominator):
    """metric of app `numerator` over app `denominator` for `kind`, per round (the runs are interleaved)."""
    runs = [{"round": row["round"], "app": row["app"], "value": row[metric]} for row in rows if row["kind"] == kind]
    return [stats.rounded(value, 2) for value in stats.round_ratios(runs, "value", "app", numerator, denominator)]


def target(text, value, limit, met):
    return {"target": text, "value": value, "limit": limit, "met": met}


def targets_of(summary, backs):
    """Issue 24's targets on the release app's figures."""
    by = {(row["kind"], row["app"]): row for row in summary}
    found = []
    for kind, what in (("code", "a release (new code)"), ("deps", "a release with a new dependency")):
        row = by.get((kind, "rel"))
        found.append(target(f"{what}: longest wait s / failed", row and [row["longest_wait_s"], row["failed"]],
                            f"<= {MAX_WAIT_S:g} / 0", bool(row) and row["longest_wait_s"] <= MAX_WAIT_S
                            and row["failed"] == 0 and row["serves_expected"] and set(row["rc"]) == {0}))
    for kind, what in (("broken", "a release failing its import"), ("unhealthy", "a release answering 500")):
        row = by.get((kind, "rel"))
        found.append(target(f"{what}: longest wait s / failed; old serves, run failed saying so",
                            row and [row["longest_wait_s"], row["failed"], row["serves_expected"], row["says_old_serves"]],
                            f"<= {MAX_WAIT_S:g} / 0 / yes / yes",
                            bool(row) and row["longest_wait_s"] <= MAX_WAIT_S and row["failed"] == 0
                            and row["serves_expected"] and row["says_old_serves"]))
    row = by.get(("pkgbroken", "base"))
    found.append(target("a broken version through `packages` (no release): failed / old code serves, run failed "
                        "saying so", row and [row["failed"], row["serves_expected"], row["says_old_serves"]],
                        "0 / yes / yes", bool(row) and row["failed"] == 0 and row["serves_expected"]
                        and row["says_old_serves"]))
    back = backs.get("rel") or {}
    value = back.get("net_of_chain_over_play_median")
    row = by.get(("back", "rel"))
    found.append(target("going back to the previous release: (run - chain reload) x one-task play", value,
                        f"<= {BACK_MAX_OVER_PLAY:g}", value is not None and value <= BACK_MAX_OVER_PLAY
                        and bool(row) and row["failed"] == 0 and row["serves_expected"]))
    return found


def memory_summary(memory):
    """Per Flask app: the master's and each worker's RSS/PSS (the median sample), per-worker medians, totals;
    and lazy-apps' cost: per worker and in total, RSS and PSS."""
    out = {}
    for name, (_port, lazy) in FLASK_APPS.items():
        measured = (memory or {}).get(name)
        if not measured:
            continue
        samples = measured["samples"]
        middle = sorted(samples, key=lambda s: s["pss_mb"])[len(samples) // 2]
        master, workers = middle["processes"][0], middle["processes"][1:]
        out["lazy" if lazy else "eager"] = {
            "app": name, "lazy_apps": lazy, "workers": len(workers), "requests": measured.get("requests"),
            "failed": measured.get("failed"), "master_rss_mb": master["rss_mb"], "master_pss_mb": master["pss_mb"],
            "worker_rss_mb": [w["rss_mb"] for w in workers], "worker_pss_mb": [w["pss_mb"] for w in workers],
            "worker_rss_mb_median": stats.rounded(stats.median(w["rss_mb"] for w in workers), 2),
            "worker_pss_mb_median": stats.rounded(stats.median(w["pss_mb"] for w in workers), 2),
            "total_rss_mb": middle["rss_mb"], "total_pss_mb": middle["pss_mb"]}
    if "lazy" in out and "eager" in out:
        lazy, eager = out["lazy"], out["eager"]
        out["lazy_cost"] = {
            key: stats.rounded(lazy[key] - eager[key], 1)
            for key in ("worker_rss_mb_median", "worker_pss_mb_median", "total_rss_mb", "total_pss_mb")}
    return out


def analyze(done, loads, memory, settings, load_window):
    """results.json's entry: one row per run, one per (kind, app), the ratios, the targets, memory."""
    records = {app: safe_changes.wall_records(report) for app, report in loads.items()}
    t0, t1 = load_window
    roles = [(step, run) for step, run in done if step["kind"] != "play"]
    plays = {step["round"]: run["own_s"] for step, run in done if step["kind"] == "play"}
    reruns = [{"round": step["round"], "own_s": run["own_s"], "changed": run["recap"].get("changed"), "rc": run["rc"],
               "over_play": stats.rounded(run["own_s"] / plays[step["round"]], 2) if plays.get(step["round"]) else None}
              for step, run in done if step["kind"] == "rerun"]
    rows = []
    for index, (step, run) in enumerate(roles):
        next_start = roles[index + 1][1]["start"] if index + 1 < len(roles) else t1
        if step["kind"] != "rerun":
            rows.append(step_row(step, run, next_start, records))
    summary = kind_summary(rows)
    backs = back_ratios(rows, plays)
    ratios = {kind: {"longest_wait_base_over_rel": pair_ratios(rows, kind, "longest_wait_s", "base", "rel"),
                     "role_s_rel_over_base": pair_ratios(rows, kind, "role_s", "rel", "base")}
              for kind in ("code", "deps", "back")}
    found = targets_of(summary, backs)
    totals = {app: {"sent": report["sent"], "failed": report["failed"], "errors": report["errors"]}
              for app, report in loads.items()}
    return {
        "title": "Releases: new code under load, today's chdir route vs a release; failed releases; going back; "
                 "lazy-apps' memory",
        "goal": {"text": GOAL, "met": all(t["met"] for t in found), "targets": found},
        "summary": {"kinds": summary, "ratios": ratios, "back": backs, "plays_s": plays, "reruns": reruns,
                    "memory": memory_summary(memory)},
        "runs": {"rows": rows, "settings": settings, "totals": totals, "load_start": t0, "load_end": t1,
                 "timeline": safe_changes.timeline({f"{app}-http": recs for app, recs in records.items()}, t0, t1),
                 "memory": memory},
    }


# --- Summary and plot -------------------------------------------------------------------------------
NAMES = {"base": "today (chdir)", "rel": "release"}


def summary_text(bench):
    """The human summary of this benchmark's results."""
    from . import report  # pylint: disable=import-outside-toplevel  # report imports nothing of ours

    if "error" in bench:
        return f"ERROR: {bench['error']}"
    summary, conf = bench["summary"], bench["runs"]["settings"]
    header = ["case", "route", "runs", "failed", "longest wait s", "p99 s", "role s", "chain s", "old/new serves",
              "failed saying so", "rc"]
    rows = [[r["kind"], NAMES[r["app"]], r["runs"], r["failed"], r["longest_wait_s"], r["p99_s_median"],
             r["role_s_median"], r["chain_s_median"], r["serves_expected"], r.get("says_old_serves"), r["rc"]]
            for r in summary["kinds"]]
    lines = [f"uWSGI {bench['runs'].get('uwsgi_version')}; app import {conf['import_s']:g} s, {conf['rate']} req/s on "
             "each app for the whole session, "
             f"{conf['rounds']} interleaved round(s); a run's requests: those sent from its start to the next run's; "
             "longest wait: max, p99: median over runs; serves: the version expected answered every request after "
             "each run", report.table(header, rows)]
    ratios = summary["ratios"]
    lines.append("Per round, today's longest wait / the release's: "
                 + "; ".join(f"{kind} {ratios[kind]['longest_wait_base_over_rel']}" for kind in ("code", "deps"))
                 + "; the release's role run / today's: "
                 + "; ".join(f"{kind} {ratios[kind]['role_s_rel_over_base']}" for kind in ("code", "deps", "back")))
    back, plays = summary["back"], [summary["plays_s"][key] for key in sorted(summary["plays_s"])]
    reruns = summary.get("reruns") or []
    lines.append(f"Going back, per round (run s without the benchmark's outcome task): one-task play {plays} s; release "
                 f"{back['rel']['own_s']} s = {back['rel']['over_play']}x the play, of which the chain reload "
                 f"{back['rel']['chain_s']} s, net of it {back['rel']['net_of_chain_over_play']}x; today's chdir back "
                 f"{back['base']['own_s']} s = {back['base']['over_play']}x; a re-run changing nothing "
                 f"{[r['own_s'] for r in reruns]} s = {[r['over_play'] for r in reruns]}x (changed "
                 f"{[r['changed'] for r in reruns]})")
    for row in bench["runs"]["rows"]:
        if (row["app"] == "rel" or row["kind"] == "pkgbroken") and "failure" in row:
            message = " ".join(line.strip() for line in row["failure"].splitlines()[:2])
            lines.append(f"{row['kind']} release message: {message[:300]}")
    lines.append(memory_text(summary["memory"]))
    lines.append(report.table(["target (issue 24)", "value", "limit", "met"],
                              [[t["target"], t["value"], t["limit"], t["met"]] for t in bench["goal"]["targets"]]))
    lines.append(f"Goal {bench['goal']['text']} -> {report.verdict(bench['goal'])}")
    return "\n".join(lines)


def memory_text(memory):
    if not memory:
        return "Memory: not measured"
    parts = []
    for key in ("eager", "lazy"):
        row = memory.get(key)
        if row:
            parts.append(f"{'with' if row['lazy_apps'] else 'without'} lazy-apps: {row['workers']} workers, per worker "
                         f"RSS {row['worker_rss_mb_median']} / PSS {row['worker_pss_mb_median']} MB (median), master "
                         f"{row['master_rss_mb']} / {row['master_pss_mb']} MB, total RSS {row['total_rss_mb']} / PSS "
                         f"{row['total_pss_mb']} MB after {row['requests']} requests")
    cost = memory.get("lazy_cost")
    if cost:
        parts.append(f"lazy-apps costs per worker RSS {cost['worker_rss_mb_median']:+} / PSS "
                     f"{cost['worker_pss_mb_median']:+} MB, in total RSS {cost['total_rss_mb']:+} / PSS "
                     f"{cost['total_pss_mb']:+} MB")
    return "Memory, the Flask app (benchmarks/apps/flaskapp.py): " + "; ".join(parts)


def plot(bench, path):
    """Top: max latency per second of each app, its runs shaded; bottom: each case's longest wait."""
    from . import plots  # pylint: disable=import-outside-toplevel  # imports matplotlib (Agg)

    plt = plots.plt
    line, rows = bench["runs"]["timeline"], bench["runs"]["rows"]
    colors = {"base": "tab:orange", "rel": "tab:blue"}
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(12, 9.5), height_ratios=[3, 1, 2])
    for target_name, data in line["apps"].items():
        app = target_name.split("-")[0]
        top.plot(line["t"], data["max_latency_s"], color=colors.get(app), linewidth=1, label=NAMES.get(app, app))
        middle.bar(line["t"], data["failed"], width=line["step_s"], color=colors.get(app), label=NAMES.get(app, app))
    middle.sharex(top)
    middle.set_ylabel("failed requests\n(by send time)")
    for row in rows:
        middle.axvspan(row["start"] - line["t0"], row["end"] - line["t0"], color=colors[row["app"]], alpha=0.12)
        top.axvspan(row["start"] - line["t0"], row["end"] - line["t0"], color=colors[row["app"]], alpha=0.12)
    top.set_yscale("symlog", linthresh=0.05)
    top.set_ylim(bottom=0)
    top.set_ylabel("max latency per second, s")
    top.set_xlabel("seconds since the load started (shaded: each role run, by app)")
    top.axhline(MAX_WAIT_S, color="grey", linestyle="--", linewidth=0.8)
    top.legend(loc="upper right", fontsize="small")
    cases = bench["summary"]["kinds"]
    labels = [f"{row['kind']}\n{NAMES[row['app']]}" for row in cases]
    bottom.bar(range(len(cases)), [max(row["longest_wait_s"], 0.001) for row in cases],
               color=[colors[row["app"]] for row in cases])
    for index, row in enumerate(cases):
        bottom.text(index, max(row["longest_wait_s"], 0.001), f"{row['longest_wait_s']:.3g} s\n{row['failed']} failed",
                    ha="center", va="bottom", fontsize=7)
    bottom.set_xticks(range(len(cases)), labels, fontsize=7)
    bottom.set_yscale("log")
    bottom.set_ylim(top=max([row["longest_wait_s"] for row in cases] + [1.0]) * 4)
    bottom.axhline(MAX_WAIT_S, color="grey", linestyle="--", linewidth=0.8)
    bottom.set_ylabel("longest wait, s (log)")
    conf = bench["runs"]["settings"]
    top.set_title(f"New code under {conf['rate']} req/s, an app with a {conf['import_s']:g} s import: "
                  "today's chdir route vs a release")
    return plots.save(fig, path)


def write_plot(results, out_dir):
    """[releases.png] when the benchmark has results, else []."""
    bench = results["benchmarks"].get("releases")
    if not bench or "error" in bench:
        return []
    return [plot(bench, out_dir / "releases.png").name]
