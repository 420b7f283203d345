"""7. Fleet: pyops.uwsgi.rolling_update (the collection's own playbook: health-gated batches, a canary
host first) over four test hosts of their own (pyops-bench-fleet1..4, BENCH_FLEET_APPS identical
apps on each, on its unix socket).

After a first rollout on the fresh hosts, interleaved rounds of: a rollout that changes nothing, a
one-task play in the same batches (playbooks/fleet_baseline.yml), and a rollout of one reload-class
change (one app's harakiri, on every host) set by one run and reverted by the next. With
BENCH_BASELINE_REF (benchlib/baseline_collection.py) the baseline collection's rolling_update runs in
the same rounds: which collection goes first alternates, and the change is set by one and reverted
by the other (runtime.reload_steps); a rollout whose collection did not run last comes after an
untimed settle rollout of its own (runtime.LastRun: the two need not write the same files). Reported per rollout: seconds, seconds per batch, the ratio to the
one-task play of the same round and this checkout over the baseline (medians of per-round ratios)."""

from . import apps, baseline_collection, hosts, runtime, stats

HOSTS = tuple(f"pyops-bench-fleet{i}" for i in range(1, 5))
ROLLOUT = "pyops.uwsgi.rolling_update"
PLAY = runtime.PLAY
KINDS = {"rerun": "no change, this checkout", "rerun_old": "no change, baseline",
         "reload": "reload-class change, this checkout", "reload_old": "reload-class change, baseline"}
GOAL = ("shown (issue 12's fleet figure): every no-change rollout changed=0 on every host, every change "
        "rollout changed every host")


def rollout(ctx, number, kind, apps_file, old=None):
    """One pyops.uwsgi.rolling_update over the fleet."""
    collection = old if kind.endswith("_old") else None
    result = hosts.fleet_playbook(HOSTS, ROLLOUT, [apps_file, "uwsgi_rolling_hosts=all"], log=ctx.log,
                                  collections_path=collection["collections_path"] if collection else None)
    return {"round": number, "apps": len(HOSTS), "kind": kind, **result}


def settled_rollout(ctx, last, number, kind, apps_file, old):
    """The timed rollout of `kind`, after an untimed settle rollout of the same collection when the
    other one ran last: ([the settle rollout, if any], the timed rollout)."""
    is_old = kind.endswith("_old")

    def settle(settle_file):
        ctx.say(f"fleet: round {number + 1}, settle rollout (untimed, {'baseline' if is_old else 'this checkout'})")
        return rollout(ctx, number, "settle_old" if is_old else "settle", settle_file, old)

    settled, run = last.settle_then("fleet", is_old, apps_file, settle,
                                    lambda: rollout(ctx, number, kind, apps_file, old))
    return [settled] if settled else [], run


def rounds(ctx, default_file, changed_file, old):
    """The interleaved rounds: no-change rollouts, the one-task play, the change set and reverted.
    The fleet was last run by this checkout's first rollout."""
    runs = []
    last = runtime.LastRun()
    last.ran("fleet", False, default_file)
    for number in range(ctx.settings.fleet_rounds):
        kinds = ["rerun", "rerun_old"] if old else ["rerun"]
        for kind in kinds if number % 2 == 0 else reversed(kinds):
            ctx.say(f"fleet: round {number + 1}, rollout with no change ({KINDS[kind]})")
            settles, run = settled_rollout(ctx, last, number, kind, default_file, old)
            runs += settles + [run]
        ctx.say(f"fleet: round {number + 1}, one-task play in the same batches")
        runs.append({"round": number, "apps": len(HOSTS), "kind": PLAY,
                     **hosts.fleet_playbook(HOSTS, "fleet_baseline.yml", log=ctx.log)})
        for kind, direction in runtime.reload_steps(number, old):
            ctx.say(f"fleet: round {number + 1}, rollout of the change ({direction}, {KINDS[kind]})")
            settles, run = settled_rollout(ctx, last, number, kind,
                                           changed_file if direction == "set" else default_file, old)
            runs += settles + [{**run, "direction": direction}]
    return runs


def run(ctx):
    """Run the benchmark on its own four hosts (removed at the end)."""
    ref = baseline_collection.resolve(ctx.settings.baseline_ref)
    old = None
    if ref:
        ctx.say(f"fleet: building the baseline collection of {ref}")
        old = baseline_collection.build(ref, ctx.work / "fleet-baseline-collection", log=ctx.log)
    app_list = apps.scale_apps(ctx.settings.fleet_apps)
    change = runtime.reload_change(ctx, app_list)
    default_file = ctx.apps_file("fleet", app_list)
    changed_file = ctx.apps_file("fleet-reload", change.pop("changed_apps"))
    try:
        for host in HOSTS:
            ctx.say(f"fleet: starting test host {host}")
            ctx.start_host(host)
        ctx.say(f"fleet: first rollout (this checkout), {len(app_list)} app(s) on each of {len(HOSTS)} fresh hosts")
        first = rollout(ctx, -1, "first", default_file)
        runs = rounds(ctx, default_file, changed_file, old)
    finally:
        ctx.remove_hosts(list(HOSTS))
    return analyze(first, runs, old, change, len(app_list))


# --- Analysis ------------------------------------------------------------------------------------
def per_batch(run):
    """A rollout's seconds per batch."""
    return run["seconds"] / run["plays"] if run.get("plays") else None


def changed_per_run(mine):
    """[[changed of each host], ...] of the runs, hosts in inventory order."""
    return [[run["recaps"][host]["changed"] for host in sorted(run["recaps"])] for run in mine]


def row(runs, kind):
    """The figures of one kind of rollout."""
    mine = [r for r in runs if r["kind"] == kind]
    if not mine:
        return None
    fleet = mine[0]["apps"]
    return {
        "kind": kind,
        "what": KINDS.get(kind, "one-task play"),
        "s_median": stats.median(r["seconds"] for r in mine),
        "seconds": [r["seconds"] for r in mine],
        "batches": stats.median(r["plays"] for r in mine),
        "s_per_batch_median": stats.rounded(stats.median(per_batch(r) for r in mine)),
        "over_play": stats.rounded(stats.median(runtime.over_play(runs, kind, fleet))) if kind != PLAY else None,
        "changed": changed_per_run(mine),
        "failed": [sum(recap["failed"] + recap["unreachable"] for recap in r["recaps"].values()) for r in mine],
    }


def analyze(first, runs, baseline, change, apps_per_host):
    """Rows per kind of rollout, this checkout over the baseline, and the goal."""
    rows = [found for found in (row(runs, kind) for kind in ("rerun", "rerun_old", PLAY, "reload", "reload_old"))
            if found]
    by_kind = {found["kind"]: found for found in rows}
    fleet = len(HOSTS)
    quiet = all(c == 0 for kind in ("rerun", "rerun_old") if kind in by_kind
                for changed in by_kind[kind]["changed"] for c in changed)
    applied = all(c > 0 for kind in ("reload", "reload_old") if kind in by_kind
                  for changed in by_kind[kind]["changed"] for c in changed)
    failed = sum(sum(found["failed"]) for found in rows)
    result = {
        "title": "Fleet rollout (pyops.uwsgi.rolling_update over four hosts)",
        "goal": {"text": GOAL, "met": quiet and applied and failed == 0, "no_change_changed_0": quiet,
                 "change_changed_every_host": applied, "failed_hosts": failed},
        "summary": {
            "hosts": fleet, "apps_per_host": apps_per_host, "change": change, "rows": rows,
            "first_rollout_s": first["seconds"], "first_rollout_batches": first["plays"],
            "rerun_new_over_old": stats.rounded(stats.median(runtime.pair_ratios(runs, "rerun", "rerun_old", fleet))),
            "reload_new_over_old": stats.rounded(stats.median(runtime.pair_ratios(runs, "reload", "reload_old", fleet))),
        },
        "baseline_collection": baseline,
        "runs": runs,
        "first": first,
    }
    result["readme_table"] = readme_table(result)
    return result


def per_batch_cell(found):
    """'12.3 s per batch (4.1x)', '-' when not measured."""
    if not found or found["s_per_batch_median"] is None:
        return "-"
    ratio = f" ({found['over_play']:.1f}x)" if found.get("over_play") is not None else ""
    return f"{found['s_per_batch_median']:.1f} s{ratio}"


def readme_table(result):
    """The fleet figure as a Markdown table for the README (before = the baseline collection)."""
    summary, baseline = result["summary"], result.get("baseline_collection")
    by_kind = {found["kind"]: found for found in summary["rows"]}
    play = by_kind.get(PLAY)
    lines = [f"| rolling_update over {summary['hosts']} hosts, {summary['apps_per_host']} app(s) each: s per batch "
             f"(x the one-task play in the same batches, {per_batch_cell(play).split(' ')[0]} s per batch) | "
             f"{'before (' + baseline['short'] + ')' if baseline else 'before'} | after |", "|---|---|---|"]
    for kind, text in (("rerun", "no change"), ("reload", f"one reload-class change ({summary['change']['what']})")):
        lines.append(f"| {text} | {per_batch_cell(by_kind.get(kind + '_old'))} | {per_batch_cell(by_kind.get(kind))} |")
    return "\n".join(lines)


def summary_text(bench):
    """The human summary of this benchmark's results."""
    from . import report  # pylint: disable=import-outside-toplevel  # report imports nothing of ours

    if "error" in bench:
        return f"ERROR: {bench['error']}"
    summary, goal, old = bench["summary"], bench["goal"], bench.get("baseline_collection")
    header = ["rollout", "s", "batches", "s/batch", "x play", "hosts changed", "failed"]
    rows = [[r["what"] + (f" ({old['short']})" if old and r["kind"].endswith("_old") else ""), r["s_median"],
             r["batches"], r["s_per_batch_median"], r["over_play"],
             [f"{sum(1 for c in changed if c > 0)}/{len(changed)}" for changed in r["changed"]], r["failed"]]
            for r in summary["rows"]]
    change = summary["change"]
    return (f"{summary['hosts']} hosts, {summary['apps_per_host']} app(s) each; rolling_update's default batches; "
            f"change: {change['what']} on {change['app']} on every host; medians of the runs, x play: median of the "
            f"per-round ratios to the one-task play in the same batches\n" + report.table(header, rows)
            + f"\nFirst rollout on fresh hosts: {report.cell(summary['first_rollout_s'])} s in "
            f"{summary['first_rollout_batches']} batches; new/old: no change {report.cell(summary['rerun_new_over_old'])}, "
            f"change {report.cell(summary['reload_new_over_old'])}\nREADME table:\n{bench['readme_table']}"
            f"\nGoal {goal['text']}: {report.verdict(goal)}")
