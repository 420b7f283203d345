"""5. Memory: RSS (and PSS) of the master and workers of an idle hello app with the role's defaults,
and reload-on-rss recycling a worker of an app that leaks on purpose (BENCH_LEAK_STEP_MB per request).

RSS counts the pages workers share with the master (forked) once per process; PSS splits them, so
the PSS total is what the app really costs."""

import math

from . import apps, hosts

GOAL = "no figure to reach: show the idle footprint, and a leaking worker recycled by reload-on-rss"


def threshold_mb(ctx):
    """The leaking app's reload-on-rss (BENCH_LEAK_RELOAD_ON_RSS, else the role's default)."""
    return ctx.settings.leak_reload_on_rss or int(ctx.options["reload-on-rss"])


def idle(ctx):
    """RSS and PSS samples of the idle app's master and workers."""
    return hosts.probe(ctx.main, "memory", "--unit", f"uwsgi-{apps.MEMORY_APP}.service",
                       "--samples", ctx.settings.mem_samples, log=ctx.log)


def leak(ctx):
    """Leak until a worker passes the threshold and is replaced; the journal lines that say so."""
    threshold, step = threshold_mb(ctx), ctx.settings.leak_step_mb
    # Enough requests for both idle workers to pass the threshold, and no more.
    bound = 2 * math.ceil(threshold / step) + 4
    unit = f"uwsgi-{apps.LEAK_APP}.service"
    since = hosts.execute(ctx.main, "date", "+%Y-%m-%d %H:%M:%S", log=ctx.log).stdout.strip()
    result = hosts.probe(ctx.main, "leak", "--app", apps.LEAK_APP, "--port", apps.LEAK_PORT, "--step-mb", step,
                         "--threshold-mb", threshold, "--max-requests", bound, log=ctx.log)
    journal = hosts.execute(ctx.main, "journalctl", "--unit", unit, "--since", since, "--no-pager", "--output", "cat",
                            log=ctx.log).stdout
    # uWSGI's own words about the recycle: the lines naming the recycled worker's pid.
    pid = str((result["recycled"] or result.get("over_threshold_not_replaced") or {}).get("pid", "-"))
    result["journal_rss_lines"] = [line for line in journal.splitlines()
                                   if "rss" in line.lower() or f"{pid})" in line or f"process {pid} " in line][-6:]
    # Give the leaked memory back: the role left the app running, so restart it.
    hosts.execute(ctx.main, "systemctl", "restart", unit, log=ctx.log)
    return result


def run(ctx):
    """Idle footprint, then the leak demonstration."""
    ctx.say("memory: idle footprint, then a worker leaking until reload-on-rss recycles it")
    return analyze(idle(ctx), leak(ctx))


def analyze(idle_result, leak_result):
    """The summary: idle totals and per process, and the recycle seen."""
    samples = idle_result["samples"]
    middle = sorted(samples, key=lambda s: s["rss_mb"])[len(samples) // 2]
    recycled = leak_result["recycled"]
    return {
        "title": "Memory: idle footprint with the defaults; reload-on-rss recycling a leaking worker",
        "goal": {"text": GOAL, "met": recycled is not None},
        "summary": {
            "idle_rss_mb_median": idle_result["rss_mb_median"],
            "idle_pss_mb_median": idle_result["pss_mb_median"],
            "idle_processes": middle["processes"],
            "reload_on_rss_mb": leak_result["threshold_mb"],
            "leak_step_mb": leak_result["step_mb"],
            "recycled": recycled,
            "journal_rss_lines": leak_result["journal_rss_lines"],
        },
        "runs": {"idle": idle_result, "leak": leak_result},
    }
