"""3. Role run time and task count: fresh host, idempotent re-run, for several app counts, and a
baseline one-task play on the same hosts.

The largest app count runs on the main host (its apps are the other benchmarks' apps plus identical
fillers); each smaller count runs on its own fresh host with the first N apps of the same list.
Re-runs and baselines are interleaved: each round runs every host's re-run and baseline once."""

from . import hosts, stats

GOAL_GROWTH_PCT = 10.0
GOAL = "re-run changed=0, and the re-run grows by <= 10 % (of the smallest count's re-run) per extra app"


def plan(ctx):
    """[(host, app list)] from the smallest app count to the main host's."""
    sizes = sorted({n for n in ctx.settings.rt_sizes if 0 < n < len(ctx.main_apps)})
    return [(f"pyops-bench-scale{n}", ctx.main_apps[:n]) for n in sizes] + [(ctx.main, ctx.main_apps)]


def fresh_runs(ctx, targets):
    """Start each host fresh and time the role's first run there."""
    fresh = {}
    for host, app_list in targets:
        if host != ctx.main:
            ctx.start_host(host)
        ctx.say(f"runtime: fresh role run, {len(app_list)} app(s) on {host}")
        fresh[host] = hosts.playbook(host, "role.yml", [ctx.apps_file(host, app_list)], log=ctx.log)
    return fresh


def interleaved_runs(ctx, targets):
    """Rounds of (re-run, baseline) on every host."""
    runs = []
    for number in range(ctx.settings.rt_rounds):
        for host, app_list in targets:
            ctx.say(f"runtime: round {number + 1}, re-run and baseline, {len(app_list)} app(s)")
            rerun = hosts.playbook(host, "role.yml", [ctx.apps_file(host, app_list)], log=ctx.log)
            runs.append({"round": number, "apps": len(app_list), "kind": "rerun", **rerun})
            base = hosts.playbook(host, "baseline.yml", log=ctx.log)
            runs.append({"round": number, "apps": len(app_list), "kind": "baseline", **base})
    return runs


def run(ctx):
    """Run the benchmark; the main host ends with every app deployed."""
    targets = plan(ctx)
    fresh = fresh_runs(ctx, targets)
    runs = interleaved_runs(ctx, targets)
    ctx.remove_hosts([host for host, _apps in targets if host != ctx.main])
    return analyze(targets, fresh, runs)


def per_round(runs, kind):
    """[{round, apps, seconds}] of the runs of one kind, flattened for stats.round_ratios."""
    return [{"round": r["round"], "apps": r["apps"], "seconds": r["seconds"]} for r in runs if r["kind"] == kind]


def net_per_round(runs):
    """Re-run minus the same host's baseline in the same round: the role's own time."""
    baselines = {(r["round"], r["apps"]): r["seconds"] for r in runs if r["kind"] == "baseline"}
    return [{"round": r["round"], "apps": r["apps"], "seconds": r["seconds"] - baselines[(r["round"], r["apps"])]}
            for r in runs if r["kind"] == "rerun" and (r["round"], r["apps"]) in baselines]


def growth_pct_per_app(rounds, small, large):
    """Median over rounds of (T(large)/T(small) - 1) / (large - small), in percent."""
    ratios = stats.round_ratios(rounds, "seconds", "apps", large, small)
    if not ratios or large == small:
        return None
    return (stats.median(ratios) - 1) / (large - small) * 100


def size_row(count, fresh_run, runs):
    """The figures of one app count."""
    reruns = [r for r in runs if r["kind"] == "rerun" and r["apps"] == count]
    bases = [r for r in runs if r["kind"] == "baseline" and r["apps"] == count]
    return {
        "apps": count,
        "fresh_s": fresh_run["seconds"],
        "fresh_tasks": fresh_run["recap"]["tasks"],
        "fresh_changed": fresh_run["recap"]["changed"],
        "fresh_slowest_tasks": fresh_run["slowest_tasks"],
        "rerun_s_median": stats.median(r["seconds"] for r in reruns),
        "rerun_s_runs": [r["seconds"] for r in reruns],
        "rerun_tasks": stats.median(r["recap"]["tasks"] for r in reruns),
        "rerun_changed": [r["recap"]["changed"] for r in reruns],
        "rerun_slowest_tasks": reruns[-1]["slowest_tasks"] if reruns else [],
        "baseline_s_median": stats.median(r["seconds"] for r in bases),
        "baseline_tasks": stats.median(r["recap"]["tasks"] for r in bases),
    }


def analyze(targets, fresh, runs):
    """Medians per app count, growth per extra app, goals."""
    sizes = [len(app_list) for _host, app_list in targets]
    rows = [size_row(len(app_list), fresh[host], runs) for host, app_list in targets]
    small, large = min(sizes), max(sizes)
    growth = stats.rounded(growth_pct_per_app(per_round(runs, "rerun"), small, large), 2)
    growth_net = stats.rounded(growth_pct_per_app(net_per_round(runs), small, large), 2)
    idempotent = all(changed == 0 for row in rows for changed in row["rerun_changed"])
    return {
        "title": "Role run time and task count",
        "goal": {"text": GOAL, "met": idempotent and growth is not None and growth <= GOAL_GROWTH_PCT,
                 "idempotent": idempotent, "growth_pct_per_app": growth, "growth_pct_per_app_net": growth_net},
        "summary": rows,
        "runs": runs,
        "fresh": fresh,
    }
