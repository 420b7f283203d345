"""Measurements taken INSIDE a benchmark test host (stdlib only, run with the host's python3).

Every request goes to 127.0.0.1 only; every loop is bounded in time or count. Each subcommand
prints one JSON document on stdout:

  stop    time `systemctl stop` of a unit, idle or while wrk loads it
  burst   a burst of slow requests against apps, sampling their stats sockets
  leak    requests that make workers leak memory until reload-on-rss recycles one
  memory  resident memory (RSS and PSS) of a unit's master and workers
  respawns each respawned worker's id, requests and respawn count, from apps' stats sockets
"""

import argparse
import http.client
import json
import os
import pathlib
import socket
import statistics
import subprocess
import threading
import time

LOOPBACK = "127.0.0.1"


# --- Small helpers ----------------------------------------------------------------------------
def http_get(port, path, timeout=30.0):
    """GET http://127.0.0.1:port/path; return (status, body)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_http(port, seconds=15.0):
    """Wait until the app on port answers 200; raise if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if http_get(port, "/", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers 200 on {LOOPBACK}:{port}")
        time.sleep(0.1)


def systemctl(*args, check=True):
    """Run systemctl with args; return its stdout."""
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"systemctl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def unit_properties(unit, names):
    """The unit's properties `names` as a dict of strings."""
    out = systemctl("show", unit, "--property", ",".join(names))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def read_stats(path):
    """The JSON document of a uWSGI stats socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return json.loads(b"".join(chunks))


def running_workers(stats):
    """The workers of a stats document that are running (not cheaped)."""
    return [w for w in stats["workers"] if w["pid"] > 0 and w["status"] != "cheap"]


def stats_socket(app):
    """Where the role puts the stats socket of app `app`."""
    return f"/run/uwsgi-{app}/stats.sock"


# --- stop ---------------------------------------------------------------------------------------
def start_load(port, connections, seconds):
    """Start wrk against the app on port for at most `seconds`; return the process."""
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://{LOOPBACK}:{port}/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure_stop(args):
    """Start the unit, optionally load it, and time `systemctl stop` of it (and of the units of
    --also-stop, in the same transaction). A socket-activated unit's socket (--socket) is reported:
    stopping only the service leaves it listening, and the next connection starts the service again."""
    units = [*args.also_stop, args.unit]
    dropin = pathlib.Path(f"/run/systemd/system/{args.unit}.d/zz-bench.conf")
    if args.dropin:
        # A variant of the unit for this measurement only (a runtime drop-in, removed afterwards).
        systemctl("stop", args.unit, check=False)
        dropin.parent.mkdir(parents=True, exist_ok=True)
        dropin.write_text(args.dropin.replace("\\n", "\n") + "\n", encoding="utf-8")
        systemctl("daemon-reload")
    try:
        return timed_stop(args, units)
    finally:
        if args.dropin:
            dropin.unlink(missing_ok=True)
            systemctl("daemon-reload")


def timed_stop(args, units):
    """measure_stop's start, load and timed stop."""
    systemctl("reset-failed", *units, check=False)
    markers = pathlib.Path(args.atexit_dir) if args.atexit_dir else None
    if markers:
        for old in markers.iterdir():
            old.unlink()
    systemctl("start", *units)
    wait_http(args.port)
    workers = count_workers(args.unit)
    load = None
    if args.load:
        load = start_load(args.port, args.connections, int(args.warm + args.max_stop + 5))
        time.sleep(args.warm)
    since = time.time()
    began = time.monotonic()
    stopped = subprocess.run(["systemctl", "stop", *units], capture_output=True, text=True, check=False)
    stop_s = time.monotonic() - began
    props = unit_properties(args.unit, ["Result", "ExecMainCode", "ExecMainStatus", "ActiveState"])
    if load:
        load.terminate()
        load.wait()
    result = {"unit": args.unit, "also_stopped": args.also_stop, "load": args.load, "stop_s": round(stop_s, 4),
              "stop_exit": stopped.returncode, "stop_stderr": stopped.stderr.strip()[-500:], **props,
              "workers": workers, "warning_lines": len(warning_lines(args.unit, since))}
    if markers:
        # What the app's atexit handlers wrote: one marker per process that ran them.
        result["atexit_markers"] = len(list(markers.iterdir()))
    if args.socket:
        # A second later (the load is over): is the socket still listening, did it start the service again?
        time.sleep(1.0)
        result["socket_state_after"] = unit_properties(args.socket, ["ActiveState"])["ActiveState"]
        result["service_state_after"] = unit_properties(args.unit, ["ActiveState"])["ActiveState"]
    return result


def count_workers(unit):
    """The running workers of the role's app of `unit` (uwsgi-<name>.service: procname `<name> uWSGI worker N`)."""
    name = unit[len("uwsgi-"):-len(".service")] if unit.startswith("uwsgi-") else ""
    out = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if name and line.startswith(f"{name} uWSGI worker"))


def warning_lines(unit, since):
    """The lines of the unit's journal since `since` (epoch seconds) that say warning, in any case."""
    out = subprocess.run(["journalctl", "--unit", unit, "--since", "@%.6f" % since, "--no-pager", "--output", "cat"],
                         capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if "warn" in line.lower()]


# --- burst --------------------------------------------------------------------------------------
class Counter:
    """Requests answered and failed, shared by the client threads of one app."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0

    def add(self, ok):
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failed += 1


def slow_client(port, path, stop_at, counter):
    """Request `path` one after another until stop_at (monotonic time)."""
    while time.monotonic() < stop_at:
        try:
            ok = http_get(port, path)[0] == 200
        except OSError:
            ok = False
        counter.add(ok)
        if not ok:
            time.sleep(0.05)


def sample_apps(apps, started):
    """One sample per app: running workers, busy workers and listen queues."""
    samples = {}
    for app in apps:
        try:
            stats = read_stats(stats_socket(app))
        except (OSError, ValueError):
            continue
        workers = running_workers(stats)
        samples[app] = {
            "t": round(time.monotonic() - started, 3),
            "workers": len(workers),
            "busy": sum(1 for w in workers if w["status"] == "busy"),
            "listen_queue": stats.get("listen_queue", 0),
            "socket_queues": [s.get("queue", 0) for s in stats.get("sockets", [])],
        }
    return samples


def all_at(apps, last, cheaper):
    """True when the last sample of every app shows `cheaper` running workers."""
    return all(app in last and last[app]["workers"] == cheaper for app in apps)


def run_burst(args):
    """Idle, then a burst of slow requests against every app at once, then idle until the apps are
    back at `cheaper` workers (or max_seconds)."""
    apps = dict(item.split(":") for item in args.apps.split(","))
    started = time.monotonic()
    burst_start = started + args.idle_before
    burst_end = burst_start + args.burst_seconds
    counters = {app: Counter() for app in apps}
    path = f"/slow?ms={args.request_ms}"
    threads = []
    samples = {app: [] for app in apps}
    settled_since = None
    while time.monotonic() - started < args.max_seconds:
        now = time.monotonic()
        if not threads and now >= burst_start:
            for app, port in apps.items():
                for _worker in range(args.concurrency):
                    thread = threading.Thread(target=slow_client, args=(int(port), path, burst_end, counters[app]))
                    thread.start()
                    threads.append(thread)
        last = sample_apps(apps, started)
        for app, sample in last.items():
            samples[app].append(sample)
        after_burst = now > burst_end + 1
        if after_burst and all_at(apps, last, args.cheaper):
            settled_since = settled_since or now
            if now - settled_since >= args.settle:
                break
        else:
            settled_since = None
        time.sleep(args.interval)
    for thread in threads:
        thread.join()
    return {
        "burst_start_s": round(burst_start - started, 3),
        "burst_end_s": round(burst_end - started, 3),
        "apps": {app: {"samples": samples[app], "requests_ok": counters[app].ok,
                       "requests_failed": counters[app].failed} for app in apps},
    }


# --- leak ---------------------------------------------------------------------------------------
def worker_pids(app):
    """Pids of the app's running workers, from its stats socket."""
    return [w["pid"] for w in running_workers(read_stats(stats_socket(app)))]


def run_leak(args):
    """Leak `step_mb` per request until a worker passes the threshold; then wait (at most
    `replace_timeout` s) until the master has replaced it. uWSGI checks reload-on-rss after the
    request, so the worker that reported more than the threshold is the one that must go."""
    path = f"/leak?mb={args.step_mb}"
    steps = []
    recycled = None
    pids = worker_pids(args.app)
    for number in range(1, args.max_requests + 1):
        status, body = http_get(args.port, path)
        reply = json.loads(body) if status == 200 else {}
        answered = time.monotonic()
        time.sleep(args.pause)
        before, pids = pids, worker_pids(args.app)
        steps.append({"request": number, "status": status, "pid": reply.get("pid"),
                      "rss_mb": reply.get("rss_mb"), "worker_pids": pids})
        if reply.get("rss_mb", 0) <= args.threshold_mb:
            continue
        while reply.get("pid") in pids and time.monotonic() - answered < args.replace_timeout:
            time.sleep(0.05)
            pids = worker_pids(args.app)
        gone_s = time.monotonic() - answered
        replacements = [{"pid": pid, "rss_mb": round(kb_field(f"/proc/{pid}/status", "VmRSS") / 1024, 1)}
                        for pid in pids if pid not in before]
        recycled = {"request": number, "pid": reply["pid"], "rss_mb": reply["rss_mb"],
                    "replaced": reply.get("pid") not in pids, "replaced_within_s": round(gone_s, 2),
                    "replaced_by": replacements, "worker_pids_after": pids}
        break
    return {"app": args.app, "step_mb": args.step_mb, "threshold_mb": args.threshold_mb,
            "steps": steps, "recycled": recycled if recycled and recycled["replaced"] else None,
            "over_threshold_not_replaced": recycled if recycled and not recycled["replaced"] else None}


# --- memory -------------------------------------------------------------------------------------
def child_pids(parent):
    """Pids whose parent is `parent`."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(entry))
    return sorted(children)


def kb_field(path, name):
    """The value in kB of line `name:` of a /proc file."""
    with open(path, encoding="ascii") as stream:
        for line in stream:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(f"{name} not in {path}")


def process_memory(pid):
    """RSS and PSS of one process, in MB, and its name."""
    with open(f"/proc/{pid}/cmdline", "rb") as stream:
        name = stream.read().replace(b"\0", b" ").decode(errors="replace").strip()
    return {"pid": pid, "name": name,
            "rss_mb": round(kb_field(f"/proc/{pid}/status", "VmRSS") / 1024, 2),
            "pss_mb": round(kb_field(f"/proc/{pid}/smaps_rollup", "Pss") / 1024, 2)}


def measure_memory(args):
    """RSS and PSS of the unit's master and workers, sampled `samples` times."""
    samples = []
    for _sample in range(args.samples):
        master = int(unit_properties(args.unit, ["MainPID"])["MainPID"])
        processes = [process_memory(pid) for pid in [master, *child_pids(master)]]
        samples.append({"processes": processes,
                        "rss_mb": round(sum(p["rss_mb"] for p in processes), 2),
                        "pss_mb": round(sum(p["pss_mb"] for p in processes), 2)})
        time.sleep(args.interval)
    return {"unit": args.unit, "samples": samples,
            "rss_mb_median": statistics.median(s["rss_mb"] for s in samples),
            "pss_mb_median": statistics.median(s["pss_mb"] for s in samples)}


# --- respawns -----------------------------------------------------------------------------------
def respawned_workers(args):
    """{app: [[worker id, requests, respawn_count], ...] of the workers respawned at least once}, or
    the error text for an app whose stats socket does not answer."""
    found = {}
    for app in args.apps:
        try:
            found[app] = [[w["id"], w["requests"], w["respawn_count"]]
                          for w in read_stats(stats_socket(app))["workers"] if w["respawn_count"]]
        except (OSError, ValueError) as error:
            found[app] = str(error)
    return found


# --- Command line -------------------------------------------------------------------------------
def parser():
    """The command line: one subcommand per measurement."""
    top = argparse.ArgumentParser(description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    stop = sub.add_parser("stop")
    stop.add_argument("--unit", required=True)
    stop.add_argument("--also-stop", action="append", default=[], help="another unit stopped with it (its socket)")
    stop.add_argument("--socket", help="the unit's socket unit, whose state after the stop is reported")
    stop.add_argument("--dropin", help="a drop-in for the unit during this measurement ('\\n' between lines)")
    stop.add_argument("--port", type=int, required=True)
    stop.add_argument("--atexit-dir", help="where the app's atexit handlers write one marker per process")
    stop.add_argument("--load", action="store_true")
    stop.add_argument("--connections", type=int, default=8)
    stop.add_argument("--warm", type=float, default=2.0, help="seconds of load before the stop")
    stop.add_argument("--max-stop", type=float, default=30.0, help="the longest stop expected (bounds wrk)")

    burst = sub.add_parser("burst")
    burst.add_argument("--apps", required=True, help="NAME:PORT,NAME:PORT,...")
    burst.add_argument("--cheaper", type=int, required=True)
    burst.add_argument("--concurrency", type=int, default=4)
    burst.add_argument("--request-ms", type=int, default=200)
    burst.add_argument("--idle-before", type=float, default=3.0)
    burst.add_argument("--burst-seconds", type=float, default=10.0)
    burst.add_argument("--interval", type=float, default=0.25)
    burst.add_argument("--settle", type=float, default=3.0, help="seconds back at cheaper before ending")
    burst.add_argument("--max-seconds", type=float, default=240.0)

    leak = sub.add_parser("leak")
    leak.add_argument("--app", required=True)
    leak.add_argument("--port", type=int, required=True)
    leak.add_argument("--step-mb", type=int, default=256)
    leak.add_argument("--threshold-mb", type=float, required=True)
    leak.add_argument("--max-requests", type=int, default=24)
    leak.add_argument("--pause", type=float, default=0.5)
    leak.add_argument("--replace-timeout", type=float, default=10.0,
                      help="seconds to wait for the worker over the threshold to be replaced")

    memory = sub.add_parser("memory")
    memory.add_argument("--unit", required=True)
    memory.add_argument("--samples", type=int, default=5)
    memory.add_argument("--interval", type=float, default=0.5)

    respawns = sub.add_parser("respawns")
    respawns.add_argument("apps", nargs="+")
    return top


def main():
    args = parser().parse_args()
    command = {"stop": measure_stop, "burst": run_burst, "leak": run_leak, "memory": measure_memory,
               "respawns": respawned_workers}[args.command]
    print(json.dumps(command(args)))


if __name__ == "__main__":
    main()
