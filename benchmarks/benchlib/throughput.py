"""1. Throughput and latency of the hello app: bare `uwsgi --master --processes N` versus the role's
defaults, and an ablation (the defaults minus one option at a time).

wrk runs inside the main host against its own loopback. Each round runs every variant once, in the
same order (bare, defaults, ablations...); ratios are taken within a round, then their median."""

from . import apps, hosts, parse, stats

BARE = "bare"
GOAL = "role defaults / bare >= 1.0 in requests/s"
RECYCLING_GOAL = ("issue 15: with recycling on (recycle-staggered), requests/s >= 0.97x bare and p99 <= 2x bare, "
                  "with workers respawned during the rounds")


def variants(ctx):
    """[(variant name, what it is, port)], bare first, then the role's apps."""
    bare = (BARE, f"uwsgi --master --processes {ctx.options['processes']} --http-socket (uWSGI's defaults)",
            apps.BARE_PORT)
    return [bare] + [(v["name"], v["text"], v["port"]) for v in ctx.variants]


def wrk(ctx, port, seconds):
    """One wrk run against 127.0.0.1:port inside the main host; wrk's figures."""
    settings = ctx.settings
    result = hosts.execute(ctx.main, "wrk", f"-t{settings.tp_threads}", f"-c{settings.tp_connections}",
                           f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/", log=ctx.log,
                           timeout=seconds + 60)
    return parse.wrk_report(result.stdout)


def recycles(ctx, since):
    """{variant: {respawns, same_second, seconds}} since `since`, from each unit's journal: every worker the
    master respawned (after max-requests, max-worker-lifetime, reload-on-rss...), how many of them in the
    same second as another (workers that exited together), and each respawn's time (s after `since`)."""
    counts = {}
    for variant in ctx.variants:
        # Counted inside the host: a variant that logs every request has a long journal.
        script = (f"journalctl --unit uwsgi-{variant['app']}.service --since '{since}' --no-pager --output short-unix"
                  " | grep 'Respawned uWSGI worker' | cut -d' ' -f1 || true")
        times = [float(line) for line in hosts.execute(ctx.main, "sh", "-c", script).stdout.split() if line]
        counts[variant["name"]] = respawn_summary(times)
    return counts


def respawn_summary(times):
    """Respawn count, how many shared their second with another one, and the times from the first."""
    seconds = [int(t) for t in times]
    shared = sum(1 for second in seconds if seconds.count(second) > 1)
    first = min(times) if times else 0.0
    return {"respawns": len(times), "same_second": shared, "seconds": [round(t - first, 1) for t in times]}


def workers(ctx):
    """{variant: [[worker id, requests, respawn_count]...]} from each app's stats socket, after the rounds
    (read only then: a request to the stats socket wakes the master, which would then reap and respawn
    a recycled worker sooner than it does on its own)."""
    by_app = hosts.probe(ctx.main, "respawns", *[v["app"] for v in ctx.variants], log=ctx.log)
    return {v["name"]: by_app.get(v["app"]) for v in ctx.variants}


def run(ctx):
    """A short warm-up of every variant, then the interleaved rounds."""
    targets = variants(ctx)
    for name, _text, port in targets:
        wrk(ctx, port, 1)
    since = hosts.execute(ctx.main, "date", "+%Y-%m-%d %H:%M:%S", log=ctx.log).stdout.strip()
    runs = []
    for number in range(ctx.settings.tp_rounds):
        ctx.say(f"throughput: round {number + 1} of {ctx.settings.tp_rounds} ({len(targets)} variants)")
        for name, _text, port in targets:
            runs.append({"round": number, "variant": name, **wrk(ctx, port, ctx.settings.tp_seconds)})
    return analyze(targets, runs, recycles(ctx, since), workers(ctx))


def variant_row(name, text, runs):
    """Medians and interleaved ratios of one variant."""
    row = {"variant": name, "what": text}
    for metric in ("rps", "p50_ms", "p99_ms"):
        row[metric] = stats.rounded(stats.median(stats.values(runs, metric, variant=name)))
        for base in (BARE, "defaults"):
            ratios = stats.round_ratios(runs, metric, "variant", name, base)
            row[f"{metric}_vs_{base}"] = stats.rounded(stats.median(ratios))
    row["errors"] = sum(r["errors"] for r in runs if r["variant"] == name)
    return row


def analyze(targets, runs, recycled, stats_workers=None):
    """One row per variant; the goal is the defaults' requests/s ratio to bare. recycled: per variant, the
    workers respawned during the rounds (respawn_summary; bare's are not counted); stats_workers: per
    variant, each worker's [id, requests, respawn_count] from the stats socket after the rounds."""
    stats_workers = stats_workers or {}
    rows = []
    for name, text, _port in targets:
        seen = recycled.get(name)
        count = seen.get("respawns") if isinstance(seen, dict) else seen
        rows.append(variant_row(name, text, runs) | {"worker_recycles": count, "recycles": seen,
                                                     "stats_workers": stats_workers.get(name)})
    defaults = next((row for row in rows if row["variant"] == "defaults"), {})
    ratio = defaults.get("rps_vs_bare")
    staggered = next((row for row in rows if row["variant"] == "recycle-staggered"), {})
    return {
        "title": "Throughput and latency: role defaults vs bare uWSGI, per-option ablation, recycling",
        "goal": {"text": GOAL, "met": ratio is not None and ratio >= 1.0, "rps_ratio": ratio,
                 "p99_ratio": defaults.get("p99_ms_vs_bare")},
        "recycling_goal": {"text": RECYCLING_GOAL, "rps_ratio": staggered.get("rps_vs_bare"),
                           "p99_ratio": staggered.get("p99_ms_vs_bare"),
                           "met": bool(staggered) and (staggered.get("rps_vs_bare") or 0) >= 0.97
                           and (staggered.get("p99_ms_vs_bare") or 99) <= 2.0 and (staggered.get("worker_recycles") or 0) > 0},
        "summary": rows,
        "runs": runs,
    }
