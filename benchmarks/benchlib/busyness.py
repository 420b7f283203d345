"""4. Busyness scaling: apps with the role's defaults, idle at `cheaper` workers, get a burst of slow
requests; their stats sockets are sampled (running workers, listen queue) until they are back at
`cheaper`. Replicas (identical apps) are bursted at the same moment: medians are over replicas.

The probe runs in the background: once the burst is over, the other benchmarks of the main host may
run while the apps cool down (their load never reaches these apps; only their samples are taken)."""

import json
import math
import subprocess
import time

from . import hosts, stats

GOAL = ("reaches the burst's need (one worker per concurrent request) within 3 overload cycles, and "
        "returns to `cheaper` (not below) at the configured pace: one worker cheaped per multiplier x "
        "overload seconds once the burst is over (the busyness must stay low that long), give or take "
        "one cycle per worker cheaped and two for the master's tick")
IDLE_BEFORE_S = 3.0
INTERVAL_S = 0.25


def config(options, settings):
    """The busyness settings of the role's defaults (uWSGI's own defaults where a key is missing)."""
    processes = int(options.get("processes", 1))
    return {
        "processes": processes,
        "cheaper": int(options.get("cheaper", 0)),
        "step": int(options.get("cheaper-step", 1)),
        "overload_s": float(options.get("cheaper-overload", 3)),
        "multiplier": int(options.get("cheaper-busyness-multiplier", 10)),
        "busy_max_pct": int(options.get("cheaper-busyness-max", 50)),
        "concurrency": settings.busy_concurrency,
        "request_ms": settings.busy_request_ms,
        "burst_s": settings.busy_seconds,
        "need": min(settings.busy_concurrency, processes),
    }


def start(ctx):
    """Start the burst probe in the background; returns (process, when the burst ends)."""
    conf = config(ctx.options, ctx.settings)
    app_ports = ",".join(f"{name}:{port}" for name, port in ctx.busy.items())
    cmd = ["docker", "exec", hosts.check_name(ctx.main), "python3", hosts.PROBE, "burst", "--apps", app_ports,
           "--cheaper", str(conf["cheaper"]), "--concurrency", str(conf["concurrency"]),
           "--request-ms", str(conf["request_ms"]), "--burst-seconds", str(conf["burst_s"]),
           "--idle-before", str(IDLE_BEFORE_S), "--interval", str(INTERVAL_S),
           "--max-seconds", str(ctx.settings.busy_max_seconds)]
    ctx.say(f"busyness: burst of {conf['concurrency']} x {conf['request_ms']} ms requests per app, "
            f"{len(ctx.busy)} app(s), then sampling until they are back at {conf['cheaper']} workers")
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, time.monotonic() + IDLE_BEFORE_S + conf["burst_s"]


def wait_for_burst_end(handle, extra_s=2.0):
    """Sleep until the burst (and a little after it) is over."""
    time.sleep(max(0.0, handle[1] + extra_s - time.monotonic()))


def finish(ctx, handle):
    """Wait for the probe and analyze what it sampled."""
    process = handle[0]
    ctx.say("busyness: waiting for the apps to return to cheaper")
    out, err = process.communicate(timeout=ctx.settings.busy_max_seconds + 120)
    if process.returncode != 0:
        raise hosts.CommandFailed(f"busyness probe exited {process.returncode}: {err[-3000:]}")
    return analyze(json.loads(out), config(ctx.options, ctx.settings))


# --- Analysis (pure functions of the samples) ----------------------------------------------------
def reach_s(samples, burst_start, need):
    """Seconds from the burst's start to the first sample with >= need workers (None: never)."""
    for sample in samples:
        if sample["t"] >= burst_start and sample["workers"] >= need:
            return sample["t"] - burst_start
    return None


def last_spawn_t(samples):
    """Time of the last sample whose worker count rose."""
    rises = [now["t"] for before, now in zip(samples, samples[1:]) if now["workers"] > before["workers"]]
    return rises[-1] if rises else None


def back_at_cheaper_t(samples, after, cheaper):
    """First time after `after` from which every sample shows `cheaper` workers (None: not by the end)."""
    back = None
    for sample in samples:
        if sample["t"] < after:
            continue
        if sample["workers"] == cheaper:
            back = sample["t"] if back is None else back
        else:
            back = None
    return back


def replica(samples, burst_start, burst_end, conf):
    """The figures of one app's run."""
    cheaper, overload = conf["cheaper"], conf["overload_s"]
    reach = reach_s(samples, burst_start, conf["need"])
    during = [s for s in samples if burst_start <= s["t"] <= burst_end + overload]
    after = [s for s in samples if s["t"] > burst_end]
    peak = max((s["workers"] for s in during), default=0)
    spawn = last_spawn_t(samples)
    back = back_at_cheaper_t(samples, burst_end, cheaper)
    # Cheaping needs `multiplier` cycles of low busyness: they start when the burst is over (or at the
    # last spawn, if that came later).
    allowed = None if spawn is None else max(spawn, burst_end) + (peak - cheaper) * conf["multiplier"] * overload - burst_end
    drops = [now["t"] for before, now in zip(samples, samples[1:]) if now["t"] > burst_end and now["workers"] < before["workers"]]
    return {
        "reach_need_s": stats.rounded(reach),
        "reach_need_cycles": None if reach is None else math.ceil(round(reach / overload, 2)),
        "peak_workers": peak,
        "max_listen_queue": max((s["listen_queue"] for s in during), default=0),
        "back_at_cheaper_after_burst_s": None if back is None else stats.rounded(back - burst_end),
        "allowed_return_after_burst_s": stats.rounded(allowed),
        "fewest_workers_after_burst": min((s["workers"] for s in after), default=None),
        # The measured pace: seconds between two workers cheaped (the config says multiplier x overload).
        "seconds_per_cheap": stats.rounded(stats.median(b - a for a, b in zip(drops, drops[1:]))),
    }


def replica_met(row, conf):
    """Did one replica meet both parts of the goal?"""
    reached = row["reach_need_s"] is not None and row["reach_need_s"] <= 3 * conf["overload_s"] + INTERVAL_S
    slack = (row["peak_workers"] - conf["cheaper"] + 2) * conf["overload_s"]
    returned = (row["back_at_cheaper_after_burst_s"] is not None
                and row["fewest_workers_after_burst"] == conf["cheaper"]
                and row["allowed_return_after_burst_s"] is not None
                and row["back_at_cheaper_after_burst_s"] <= row["allowed_return_after_burst_s"] + slack)
    return {"reached_in_3_cycles": reached, "returned_to_cheaper": returned}


def analyze(probe, conf):
    """Per replica figures, their medians, and the goal."""
    rows = []
    for app, data in probe["apps"].items():
        row = {"app": app, "requests_ok": data["requests_ok"], "requests_failed": data["requests_failed"],
               **replica(data["samples"], probe["burst_start_s"], probe["burst_end_s"], conf)}
        row.update(replica_met(row, conf))
        rows.append(row)
    medians = {key: stats.rounded(stats.median(row[key] for row in rows))
               for key in ("reach_need_s", "peak_workers", "max_listen_queue", "back_at_cheaper_after_burst_s",
                           "allowed_return_after_burst_s", "seconds_per_cheap")}
    met = bool(rows) and all(row["reached_in_3_cycles"] and row["returned_to_cheaper"] for row in rows)
    return {
        "title": "Busyness scaling: a burst of slow requests from idle",
        "goal": {"text": GOAL, "met": met},
        "config": conf,
        "summary": {"medians": medians, "replicas": rows},
        "runs": probe,
    }
