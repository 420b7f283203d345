"""3. Role run time and task count: fresh host, idempotent re-run, for several app counts, and a
baseline one-task play on the same hosts.

The largest app count runs on the main host (its apps are the other benchmarks' apps plus identical
fillers); each smaller count runs on its own fresh host with the first N apps of the same list.
Re-runs and one-task plays are interleaved: each round runs every host's re-run and one-task play
once. On the largest host each round also applies one reload-class change to one app (its harakiri),
set by one run and reverted by the next, so that every such run is a real change.

With BENCH_BASELINE_REF (benchlib/baseline_collection.py) the collection of that commit is timed on
the same hosts in the same rounds: its re-run, its reload-class change (even rounds: this checkout
sets it and the baseline reverts it; odd rounds the other way round), and, for the smallest and the
largest app count, a fresh converge on a fresh host of its own. Within a round the two collections
alternate which one goes first. The two collections need not write the same files (a default changed
since the baseline), so a timed run whose collection is not the one that ran last on its host comes
after an untimed settle run of its own collection with the apps the host has (kind "settle", with its
changed count): a re-run is then a re-run and a change one change, never the other collection's
files rewritten. Every figure is also given as a ratio to the one-task play of the same host and
round (the median of the per-round ratios), which is what the targets of issue 12 are set in."""

import copy
import json
import pathlib
import re

from . import baseline_collection, hosts, stats

GOAL_GROWTH_PCT = 10.0  # the former goal, still reported: re-run growth in % of the smallest re-run
PLAY = "baseline"  # the kind of the one-task play's runs (playbooks/baseline.yml)
# Issue 12's targets (this checkout's figures must meet them).
RERUN_MAX_OVER_PLAY_SMALLEST = 2.0
RERUN_MAX_OVER_PLAY_LARGEST = 3.0
RERUN_MAX_S_PER_APP = 0.2
FRESH_MAX_S_PER_APP = 1.0
RELOAD_MAX_OVER_PLAY = 3.0  # plus the app's own reload time
GOAL = (f"re-run changed=0; re-run <= {RERUN_MAX_OVER_PLAY_SMALLEST:g}x the one-task play for the smallest app count "
        f"and <= {RERUN_MAX_OVER_PLAY_LARGEST:g}x for the largest; each extra app adds <= {RERUN_MAX_S_PER_APP:g} s "
        f"to a re-run and <= {FRESH_MAX_S_PER_APP:g} s to a fresh converge (without building uWSGI); one reload-class change to one app "
        f"of the largest count within {RELOAD_MAX_OVER_PLAY:g}x the one-task play plus that app's reload time "
        "(issue 12)")
# The task of playbooks/role.yml that writes the role's result to the controller (-e bench_outcome):
# its time is the benchmark's, not the role's, and is taken off the run's.
OUTCOME_TASK = "Write each app's action to the controller"
# The tasks of both roles that build uWSGI on a fresh host (pip compiles it: minutes on a busy machine,
# the same for any number of apps): a fresh converge's per-app figures are taken without them.
INSTALL_TASKS = ("Install uWSGI into its own virtualenv", "Install the packages that build uWSGI")
ACTIONS = ("start", "restart", "reload", "none")


def plan(ctx):
    """[(host, app list)] from the smallest app count to the main host's."""
    sizes = sorted({n for n in ctx.settings.rt_sizes if 0 < n < len(ctx.main_apps)})
    return [(f"{ctx.host_prefix}-scale{n}", ctx.main_apps[:n]) for n in sizes] + [(ctx.main, ctx.main_apps)]


# --- The runs ------------------------------------------------------------------------------------
def role_run(ctx, host, extra, old=None, outcome=None, app=None):
    """role.yml on host with the given extra vars, with this checkout's collection or (old) the
    baseline's. outcome: a file for the role's own result (empty for a role that registers no
    _uwsgi_production_service); app: the app whose action and reload time are wanted (reload_facts)."""
    extra = list(extra)
    if outcome is not None:
        pathlib.Path(outcome).unlink(missing_ok=True)
        extra.append(f"bench_outcome={outcome}")
    result = hosts.playbook(host, "role.yml", extra, log=ctx.log,
                            collections_path=old["collections_path"] if old else None, keep_output=True)
    stdout, times = result.pop("stdout"), result.pop("task_times")
    result["outcome_write_s"] = task_seconds(times, OUTCOME_TASK) if outcome is not None else None
    result["own_s"] = round(result["seconds"] - (result["outcome_write_s"] or 0.0), 3)
    result["install_s"] = install_seconds(times)
    if app is None:
        return result
    return reload_facts(result, app, read_outcome(outcome) if outcome is not None else None, loop_actions(stdout))


def converge(ctx, host, app_list, old=None):
    """A fresh host's first role run, then a one-task play on it (the host's fixed cost)."""
    who = f"baseline {old['short']}" if old else "this checkout"
    ctx.say(f"runtime: fresh role run ({who}), {len(app_list)} app(s) on {host}")
    run = role_run(ctx, host, [ctx.apps_file(host, app_list)], old)
    run["play_s"] = hosts.playbook(host, "baseline.yml", log=ctx.log)["seconds"]
    return {"host": host, "apps": len(app_list), **run}


def fresh_runs(ctx, targets, old=None):
    """Start each host fresh and time the role's first run there. With a baseline collection, the
    smallest and the largest app counts also converge a fresh host of their own with it (removed at
    once, so that it does not load the machine during the rounds)."""
    fresh, fresh_old = {}, {}
    for index, (host, app_list) in enumerate(targets):
        if host != ctx.main:
            ctx.start_host(host)
        fresh[host] = converge(ctx, host, app_list)
        if old and index in (0, len(targets) - 1):
            twin = f"{ctx.host_prefix}-old{len(app_list)}"
            ctx.start_host(twin)
            fresh_old[twin] = converge(ctx, twin, app_list, old)
            ctx.remove_hosts([twin])
    return fresh, fresh_old


def reload_change(ctx, app_list):
    """The reload-class change of the largest host: its last app's harakiri 5 s shorter."""
    target = app_list[-1]
    before = (target.get("options") or {}).get("harakiri", ctx.options["harakiri"])
    changed = copy.deepcopy(app_list)
    changed[-1]["options"] = {**(changed[-1].get("options") or {}), "harakiri": before - 5}
    return {"app": target["name"], "what": f"harakiri {before} -> {before - 5}", "apps_count": len(app_list),
            "changed_apps": changed}


def reload_steps(number, old):
    """[(kind, direction)] of round `number`: the change set by one run and reverted by the next."""
    if not old:
        return [("reload", "set"), ("reload", "revert")]
    if number % 2 == 0:
        return [("reload", "set"), ("reload_old", "revert")]
    return [("reload_old", "set"), ("reload", "revert")]


class LastRun:
    """Which collection ran last on each host (or fleet), and with which apps file, so that a timed
    run of the other collection first settles the host on its own files (settle_then)."""

    def __init__(self):
        self.by_host = {}

    def ran(self, host, is_old, apps_file):
        self.by_host[host] = (is_old, apps_file)

    def settle_then(self, host, is_old, apps_file, settle, timed):
        """timed() of a collection (is_old: the baseline's) with apps_file, after settle(the apps file
        the host has) when the other collection ran last on the host: (settle's result or None,
        timed's result)."""
        last = self.by_host.get(host)
        settled = settle(last[1]) if last and last[0] != is_old else None
        result = timed()
        self.ran(host, is_old, apps_file)
        return settled, result


def timed_run(ctx, last, number, count, host, apps_file, old=None, **role_args):
    """role_run after, when the other collection ran last on the host, an untimed settle run of this
    one with the apps the host has: [the settle run's record, if any], the timed run's result."""
    is_old = old is not None

    def settle(settle_file):
        ctx.say(f"runtime: settle run ({'baseline' if is_old else 'this checkout'}, untimed) on {host}")
        settled = role_run(ctx, host, [settle_file], old)
        return {"round": number, "apps": count, "kind": "settle", "baseline": is_old,
                "seconds": settled["seconds"], "recap": settled["recap"]}

    settled, result = last.settle_then(host, is_old, apps_file, settle,
                                       lambda: role_run(ctx, host, [apps_file], old, **role_args))
    return [settled] if settled else [], result


def reload_runs(ctx, last, number, host, app_list, change, old):
    """This round's reload-class changes on the largest host (it ends on the unchanged apps)."""
    runs = []
    default_file = ctx.apps_file(host, app_list)
    changed_file = ctx.apps_file(f"{host}-reload", change["changed_apps"])
    for kind, direction in reload_steps(number, old):
        ctx.say(f"runtime: round {number + 1}, reload-class change ({change['what']} on {change['app']}, "
                f"{direction}), {'baseline' if kind == 'reload_old' else 'this checkout'}")
        apps_file = changed_file if direction == "set" else default_file
        outcome = ctx.work / f"outcome-{kind}-{number}-{direction}.json"
        settles, run = timed_run(ctx, last, number, len(app_list), host, apps_file,
                                 old if kind == "reload_old" else None, outcome=outcome, app=change["app"])
        runs += settles
        runs.append({"round": number, "apps": len(app_list), "kind": kind, "direction": direction, **run})
    return runs


def interleaved_runs(ctx, targets, old=None, change=None):
    """Rounds of (re-run, the baseline's re-run, one-task play) on every host, then the largest
    host's reload-class changes. Each host was last run by this checkout's fresh converge."""
    runs = []
    last = LastRun()
    for host, app_list in targets:
        last.ran(host, False, ctx.apps_file(host, app_list))
    for number in range(ctx.settings.rt_rounds):
        for host, app_list in targets:
            ctx.say(f"runtime: round {number + 1}, re-run{'s' if old else ''} and one-task play, "
                    f"{len(app_list)} app(s)")
            apps_file = ctx.apps_file(host, app_list)
            kinds = ["rerun", "rerun_old"] if old else ["rerun"]
            for kind in kinds if number % 2 == 0 else reversed(kinds):
                settles, rerun = timed_run(ctx, last, number, len(app_list), host, apps_file,
                                           old if kind == "rerun_old" else None)
                runs += settles
                runs.append({"round": number, "apps": len(app_list), "kind": kind, **rerun})
            base = hosts.playbook(host, "baseline.yml", log=ctx.log)
            runs.append({"round": number, "apps": len(app_list), "kind": PLAY, **base})
            if change and host == ctx.main:
                runs += reload_runs(ctx, last, number, host, app_list, change, old)
    return runs


def run(ctx):
    """Run the benchmark; the main host ends with every app deployed (unchanged)."""
    targets = plan(ctx)
    ref = baseline_collection.resolve(ctx.settings.baseline_ref)
    old = None
    if ref:
        ctx.say(f"runtime: building the baseline collection of {ref}")
        old = baseline_collection.build(ref, ctx.work / "baseline-collection", log=ctx.log)
    change = reload_change(ctx, targets[-1][1])
    fresh, fresh_old = fresh_runs(ctx, targets, old)
    runs = interleaved_runs(ctx, targets, old, change)
    ctx.remove_hosts([host for host, _apps in targets if host != ctx.main])
    change = {key: value for key, value in change.items() if key != "changed_apps"}
    return analyze(targets, fresh, runs, fresh_old=fresh_old, baseline=old, change=change)


# --- What the role said ----------------------------------------------------------------------------
def task_seconds(times, name):
    """The seconds of the task called `name` in profile_tasks' list ([[task, seconds], ...]), or None."""
    for task, seconds in times:
        if task == name or task.endswith(f" : {name}"):
            return seconds
    return None


def install_seconds(times):
    """The seconds of the tasks that build uWSGI (INSTALL_TASKS), from profile_tasks' list."""
    return round(sum(seconds for task, seconds in times
                     if task.split(" : ")[-1].startswith(INSTALL_TASKS)), 3)


def read_outcome(path):
    """{app: uwsgi_service's result for it} that playbooks/role.yml wrote (this checkout's role), or
    None when there is no such file (a role.yml without bench_outcome, or a role that has no
    _uwsgi_production_service)."""
    try:
        return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))["apps"] or None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def loop_actions(stdout):
    """{app: action} from loop labels 'NAME: ACTION' (the baseline role's 'Start, reload or restart each
    app' task labels its items so), the first label of each app; {} for a role without such loops."""
    found = {}
    for name, action in re.findall(rf"\(item=([\w.-]+): ({'|'.join(ACTIONS)})\)", stdout):
        found.setdefault(name, action)
    return found


def reload_facts(run, app, outcome, labels):
    """The figures of one reload-class run: the action the changed app got, whether every other app
    got none, and the app's reload time (from reload to an answer) when the role reports it. outcome:
    read_outcome's (this checkout's role), else labels: loop_actions' (the baseline role's)."""
    if outcome:
        actions = {name: info.get("action") for name, info in outcome.items()}
        health = (outcome.get(app) or {}).get("health") or {}
        app_reload_s = health.get("elapsed")
    else:
        actions, app_reload_s = labels, None
    others = {action for name, action in actions.items() if name != app}
    return {**run, "app": app, "action": actions.get(app), "others_none": others <= {"none"} if actions else None,
            "app_reload_s": app_reload_s}


# --- Analysis ------------------------------------------------------------------------------------
def per_round(runs, kind):
    """[{round, apps, seconds}] of the runs of one kind, flattened for stats.round_ratios."""
    return [{"round": r["round"], "apps": r["apps"], "seconds": r["seconds"]} for r in runs if r["kind"] == kind]


def play_seconds(runs):
    """{(round, apps): seconds} of the one-task plays."""
    return {(r["round"], r["apps"]): r["seconds"] for r in runs if r["kind"] == PLAY}


def net_per_round(runs, kind="rerun"):
    """Each run of `kind` minus the same host's one-task play in the same round: the role's own time."""
    plays = play_seconds(runs)
    return [{"round": r["round"], "apps": r["apps"], "seconds": r["seconds"] - plays[(r["round"], r["apps"])]}
            for r in runs if r["kind"] == kind and (r["round"], r["apps"]) in plays]


def over_play(runs, kind, apps, metric="seconds"):
    """metric of every run of `kind` on the host of `apps` apps over the one-task play of its round;
    metric: a key of the run, or a function of it (None: left out)."""
    plays = play_seconds(runs)
    value = metric if callable(metric) else lambda run: run.get(metric)
    return [value(r) / plays[(r["round"], apps)] for r in runs
            if r["kind"] == kind and r["apps"] == apps and plays.get((r["round"], apps)) and value(r) is not None]


def net_of_app_reload(run):
    """A reload-class run's own seconds minus the changed app's reload time (None when not reported)."""
    return None if run.get("app_reload_s") is None else run["own_s"] - run["app_reload_s"]


def pair_ratios(runs, numerator, denominator, apps, metric="seconds"):
    """metric of kind `numerator` over kind `denominator`, on the host of `apps` apps, per round."""
    rounds = [{"round": r["round"], "kind": r["kind"], "value": r[metric]} for r in runs
              if r["apps"] == apps and r["kind"] in (numerator, denominator) and r.get(metric) is not None]
    return stats.round_ratios(rounds, "value", "kind", numerator, denominator)


def slope(points):
    """Seconds per extra app between the smallest and the largest app count of {apps: seconds}."""
    if len(points) < 2 or any(value is None for value in points.values()):
        return None
    small, large = min(points), max(points)
    return (points[large] - points[small]) / (large - small)


def rerun_slope(runs, kind, net=False):
    """Median over rounds of that round's seconds per extra app (smallest to largest count); net: each
    run minus the same host's one-task play of that round first."""
    chosen = net_per_round(runs, kind) if net else per_round(runs, kind)
    sizes = {r["apps"] for r in chosen}
    if len(sizes) < 2:
        return None
    by_round = {}
    for r in chosen:
        by_round.setdefault(r["round"], {})[r["apps"]] = r["seconds"]
    ends = (min(sizes), max(sizes))
    return stats.median(slope({n: points[n] for n in ends}) for points in by_round.values()
                        if all(n in points for n in ends))


def growth_pct_per_app(rounds, small, large):
    """Median over rounds of (T(large)/T(small) - 1) / (large - small), in percent."""
    ratios = stats.round_ratios(rounds, "seconds", "apps", large, small)
    if not ratios or large == small:
        return None
    return (stats.median(ratios) - 1) / (large - small) * 100


def fresh_net(run):
    """A fresh converge's seconds without the tasks that build uWSGI (None when they were not timed)."""
    return None if run.get("install_s") is None else round(run["seconds"] - run["install_s"], 3)


def size_row(count, fresh_run, runs, fresh_old_run=None):
    """The figures of one app count."""
    reruns = [r for r in runs if r["kind"] == "rerun" and r["apps"] == count]
    bases = [r for r in runs if r["kind"] == PLAY and r["apps"] == count]
    row = {
        "apps": count,
        "fresh_s": fresh_run["seconds"],
        "fresh_tasks": fresh_run["recap"]["tasks"],
        "fresh_changed": fresh_run["recap"]["changed"],
        "fresh_over_play": stats.rounded(fresh_run["seconds"] / fresh_run["play_s"]) if fresh_run.get("play_s") else None,
        "fresh_install_s": fresh_run.get("install_s"),
        "fresh_net_s": fresh_net(fresh_run),
        "fresh_slowest_tasks": fresh_run["slowest_tasks"],
        "rerun_s_median": stats.median(r["seconds"] for r in reruns),
        "rerun_s_runs": [r["seconds"] for r in reruns],
        "rerun_tasks": stats.median(r["recap"]["tasks"] for r in reruns),
        "rerun_changed": [r["recap"]["changed"] for r in reruns],
        "rerun_over_play": stats.rounded(stats.median(over_play(runs, "rerun", count))),
        "rerun_over_play_rounds": [stats.rounded(ratio, 2) for ratio in over_play(runs, "rerun", count)],
        "rerun_slowest_tasks": reruns[-1]["slowest_tasks"] if reruns else [],
        "baseline_s_median": stats.median(r["seconds"] for r in bases),
        "baseline_tasks": stats.median(r["recap"]["tasks"] for r in bases),
    }
    olds = [r for r in runs if r["kind"] == "rerun_old" and r["apps"] == count]
    if olds or fresh_old_run:
        row.update({
            "fresh_old_s": fresh_old_run["seconds"] if fresh_old_run else None,
            "fresh_old_tasks": fresh_old_run["recap"]["tasks"] if fresh_old_run else None,
            "fresh_old_changed": fresh_old_run["recap"]["changed"] if fresh_old_run else None,
            "fresh_old_over_play": (stats.rounded(fresh_old_run["seconds"] / fresh_old_run["play_s"])
                                    if fresh_old_run and fresh_old_run.get("play_s") else None),
            "fresh_old_install_s": fresh_old_run.get("install_s") if fresh_old_run else None,
            "fresh_old_net_s": fresh_net(fresh_old_run) if fresh_old_run else None,
            "rerun_old_s_median": stats.median(r["seconds"] for r in olds),
            "rerun_old_s_runs": [r["seconds"] for r in olds],
            "rerun_old_tasks": stats.median(r["recap"]["tasks"] for r in olds),
            "rerun_old_changed": [r["recap"]["changed"] for r in olds],
            "rerun_old_over_play": stats.rounded(stats.median(over_play(runs, "rerun_old", count))),
            "rerun_old_over_play_rounds": [stats.rounded(ratio, 2) for ratio in over_play(runs, "rerun_old", count)],
            "rerun_new_over_old": stats.rounded(stats.median(pair_ratios(runs, "rerun", "rerun_old", count))),
            "rerun_old_slowest_tasks": olds[-1]["slowest_tasks"] if olds else [],
        })
    return row


def reload_row(runs, kind):
    """The figures of one collection's reload-class runs (own_s: the run without the benchmark's own
    outcome task; allowance: (own_s - the app's reload time) over the one-task play, the target's
    measure, when the role reports that reload time)."""
    mine = [r for r in runs if r["kind"] == kind]
    if not mine:
        return None
    apps = mine[0]["apps"]
    net = over_play(runs, kind, apps, net_of_app_reload)
    return {
        "kind": kind,
        "runs": len(mine),
        "seconds": [r["seconds"] for r in mine],
        "s_median": stats.median(r["own_s"] for r in mine),
        "outcome_write_s_median": stats.median(r.get("outcome_write_s") for r in mine),
        "over_play": stats.rounded(stats.median(over_play(runs, kind, apps, "own_s"))),
        "app_reload_s_median": stats.median(r.get("app_reload_s") for r in mine),
        "net_over_play": stats.rounded(stats.median(net)),
        "changed": [r["recap"]["changed"] for r in mine],
        "actions": [r.get("action") for r in mine],
        "others_none": [r.get("others_none") for r in mine],
        "directions": [r.get("direction") for r in mine],
    }


def every_run_reloaded(row):
    """Whether each run of a reload row was a real change that got a reload (None: no row, or a role
    that says neither its action nor its loop labels' for some run)."""
    if row is None or any(action is None for action in row["actions"]):
        return None
    return bool(row["changed"]) and all(c > 0 for c in row["changed"]) and all(a == "reload" for a in row["actions"])


def reload_summary(runs, change):
    """The reload-class change: one row per collection, new/old per round, and whether every run was
    a real change that got a reload and left the other apps alone (this checkout's runs, the target's;
    the baseline's apart)."""
    rows = [row for row in (reload_row(runs, "reload"), reload_row(runs, "reload_old")) if row]
    if not rows:
        return None
    by_kind = {row["kind"]: row for row in rows}
    apps = next(r["apps"] for r in runs if r["kind"] in ("reload", "reload_old"))
    both = len(rows) == 2
    return {
        **(change or {}),
        "rows": rows,
        "new_over_old": stats.rounded(stats.median(pair_ratios(runs, "reload", "reload_old", apps, "own_s"))) if both else None,
        "every_run_reloaded": every_run_reloaded(by_kind.get("reload")) is True,
        "baseline_every_run_reloaded": every_run_reloaded(by_kind.get("reload_old")),
    }


def target(text, value, limit, higher_is_worse=True):
    """One of issue 12's targets: the measure, its limit, and whether it is met (None: not measured)."""
    met = None if value is None else (value <= limit if higher_is_worse else value >= limit)
    return {"target": text, "value": stats.rounded(value), "limit": limit, "met": met}


def targets_of(rows, slopes, reload, old=False):
    """Issue 12's targets measured on this checkout's figures (old: the same measures of the baseline's)."""
    prefix = "rerun_old" if old else "rerun"
    small, large = rows[0], rows[-1]
    row = next((r for r in (reload or {}).get("rows", []) if r["kind"] == ("reload_old" if old else "reload")), None)
    found = [
        target(f"re-run, {small['apps']} app(s), x one-task play", small.get(f"{prefix}_over_play"),
               RERUN_MAX_OVER_PLAY_SMALLEST),
        target(f"re-run, {large['apps']} apps, x one-task play", large.get(f"{prefix}_over_play"),
               RERUN_MAX_OVER_PLAY_LARGEST),
        target("re-run, s per extra app", slopes["rerun_old" if old else "rerun"], RERUN_MAX_S_PER_APP),
        target("fresh converge without building uWSGI, s per extra app", slopes["fresh_old" if old else "fresh"],
               FRESH_MAX_S_PER_APP),
    ]
    if reload:
        found.append(target(f"reload-class change, 1 app of {reload.get('apps_count', large['apps'])}: (s - the app's "
                            "reload) x one-task play", row and row["net_over_play"], RELOAD_MAX_OVER_PLAY))
    return found


def analyze(targets, fresh, runs, fresh_old=None, baseline=None, change=None):
    """Medians per app count, ratios to the one-task play, this checkout over the baseline, seconds per
    extra app, the reload-class change, issue 12's targets and the goal."""
    fresh_old = fresh_old or {}
    old_by_apps = {run["apps"]: run for run in fresh_old.values()}
    sizes = [len(app_list) for _host, app_list in targets]
    rows = [size_row(len(app_list), fresh[host], runs, old_by_apps.get(len(app_list))) for host, app_list in targets]
    small, large = min(sizes), max(sizes)
    growth = stats.rounded(growth_pct_per_app(per_round(runs, "rerun"), small, large), 2)
    growth_net = stats.rounded(growth_pct_per_app(net_per_round(runs), small, large), 2)
    with_old = any(r["kind"] == "rerun_old" for r in runs)
    slopes = {
        "rerun": stats.rounded(rerun_slope(runs, "rerun")),
        "rerun_net": stats.rounded(rerun_slope(runs, "rerun", net=True)),
        "fresh": stats.rounded(slope({row["apps"]: row["fresh_net_s"] for row in rows})),
        "fresh_with_install": stats.rounded(slope({row["apps"]: row["fresh_s"] for row in rows})),
        "rerun_old": stats.rounded(rerun_slope(runs, "rerun_old")) if with_old else None,
        "rerun_old_net": stats.rounded(rerun_slope(runs, "rerun_old", net=True)) if with_old else None,
        "fresh_old": stats.rounded(slope({n: fresh_net(run) for n, run in old_by_apps.items()})),
        "fresh_old_with_install": stats.rounded(slope({n: run["seconds"] for n, run in old_by_apps.items()})),
    }
    reload = reload_summary(runs, change)
    idempotent = all(changed == 0 for row in rows for changed in row["rerun_changed"])
    idempotent_old = all(changed == 0 for row in rows for changed in row.get("rerun_old_changed", []))
    mine = targets_of(rows, slopes, reload)
    met = idempotent and all(t["met"] for t in mine) and (reload is None or reload["every_run_reloaded"])
    result = {
        "title": "Role run time and task count",
        "goal": {"text": GOAL, "met": bool(met), "idempotent": idempotent,
                 "idempotent_baseline": idempotent_old if with_old else None,
                 "growth_pct_per_app": growth, "growth_pct_per_app_net": growth_net,
                 "growth_goal_pct": GOAL_GROWTH_PCT, "targets": mine},
        "summary": rows,
        "slopes_s_per_app": slopes,
        "reload": reload,
        "baseline_collection": baseline,
        "baseline_targets": targets_of(rows, slopes, reload, old=True) if with_old else None,
        "runs": runs,
        "fresh": fresh,
        "fresh_baseline": fresh_old,
    }
    result["readme_table"] = readme_table(result)
    return result


# --- The README's Benchmarks table -------------------------------------------------------------------
def seconds_and_ratio(seconds, ratio):
    """'12.3 s (4.1x)', '-' when not measured."""
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" + (f" ({ratio:.1f}x)" if ratio is not None else "")


def both_seconds(total, net):
    """'380 s / 80 s', '-' when not measured."""
    if total is None:
        return "-"
    return f"{total:.0f} s / " + ("-" if net is None else f"{net:.0f} s")


def figure(value, unit=""):
    """A figure of the table, '-' when not measured."""
    return "-" if value is None else f"{value:.2f}{unit}"


def readme_table(result):
    """The figures as a Markdown table for the README (before = the baseline collection)."""
    rows, slopes, reload = result["summary"], result["slopes_s_per_app"], result["reload"]
    baseline = result.get("baseline_collection")
    before = f"before ({baseline['short']})" if baseline else "before"
    play = stats.median(row["baseline_s_median"] for row in rows)
    lines = [f"| Role run time (x = over the one-task play, {play:.1f} s here) | {before} | after | target |",
             "|---|---|---|---|"]
    for index, row in enumerate(rows):
        limit = {0: f"<= {RERUN_MAX_OVER_PLAY_SMALLEST:g}x", len(rows) - 1: f"<= {RERUN_MAX_OVER_PLAY_LARGEST:g}x"}
        lines.append(f"| idempotent re-run, {row['apps']} app{'s' if row['apps'] > 1 else ''} (changed=0) | "
                     f"{seconds_and_ratio(row.get('rerun_old_s_median'), row.get('rerun_old_over_play'))} | "
                     f"{seconds_and_ratio(row['rerun_s_median'], row['rerun_over_play'])} | "
                     f"{limit.get(index, '')} |")
    lines.append(f"| re-run, each extra app | {figure(slopes['rerun_old'], ' s')} | {figure(slopes['rerun'], ' s')} | "
                 f"<= {RERUN_MAX_S_PER_APP:g} s |")
    for row in (rows[0], rows[-1]) if len(rows) > 1 else rows:
        lines.append(f"| fresh converge, {row['apps']} app{'s' if row['apps'] > 1 else ''}: all / without building "
                     f"uWSGI | {both_seconds(row.get('fresh_old_s'), row.get('fresh_old_net_s'))} | "
                     f"{both_seconds(row['fresh_s'], row.get('fresh_net_s'))} | |")
    lines.append(f"| fresh converge without building uWSGI, each extra app | {figure(slopes['fresh_old'], ' s')} | "
                 f"{figure(slopes['fresh'], ' s')} | <= {FRESH_MAX_S_PER_APP:g} s |")
    if reload:
        by_kind = {row["kind"]: row for row in reload["rows"]}
        new, old = by_kind.get("reload"), by_kind.get("reload_old")
        app_reload = new and new["app_reload_s_median"]
        lines.append(f"| one reload-class change ({reload['what']}), 1 app of {reload['apps_count']} | "
                     f"{seconds_and_ratio(old and old['s_median'], old and old['over_play'])} | "
                     f"{seconds_and_ratio(new and new['s_median'], new and new['over_play'])}"
                     f"{f', of which the app reloading {app_reload:.1f} s' if app_reload is not None else ''} | "
                     f"<= {RELOAD_MAX_OVER_PLAY:g}x + the app's reload |")
    return "\n".join(lines)
