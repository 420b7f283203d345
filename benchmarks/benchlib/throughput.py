"""1. Throughput and latency of the hello app: bare `uwsgi --master --processes N` versus the role's
defaults, and an ablation (the defaults minus one option at a time).

wrk runs inside the main host against its own loopback. Each round runs every variant once, in the
same order (bare, defaults, ablations...); ratios are taken within a round, then their median."""

from . import apps, hosts, parse, stats

BARE = "bare"
GOAL = "role defaults / bare >= 1.0 in requests/s"


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
    """{variant: workers that finished their work (max-requests...) since `since`}, from each unit's journal."""
    counts = {}
    for variant in ctx.variants:
        # Counted inside the host: a variant that logs every request has a long journal.
        script = (f"journalctl --unit uwsgi-{variant['app']}.service --since '{since}' --no-pager --output cat"
                  " | grep -c 'The work of process' || true")
        counts[variant["name"]] = int(hosts.execute(ctx.main, "sh", "-c", script).stdout.strip() or 0)
    return counts


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
    return analyze(targets, runs, recycles(ctx, since))


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


def analyze(targets, runs, recycled):
    """One row per variant; the goal is the defaults' requests/s ratio to bare. recycled: worker
    recycles per variant during the rounds (bare's are not counted)."""
    rows = [variant_row(name, text, runs) | {"worker_recycles": recycled.get(name)} for name, text, _port in targets]
    defaults = next((row for row in rows if row["variant"] == "defaults"), {})
    ratio = defaults.get("rps_vs_bare")
    return {
        "title": "Throughput and latency: role defaults vs bare uWSGI, and per-option ablation",
        "goal": {"text": GOAL, "met": ratio is not None and ratio >= 1.0, "rps_ratio": ratio,
                 "p99_ratio": defaults.get("p99_ms_vs_bare")},
        "summary": rows,
        "runs": runs,
    }
