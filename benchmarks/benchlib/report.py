"""results.json: its shape (checked before it is written) and the human summary printed at the end."""

SCHEMA = 1
TOP_LEVEL = {"schema": int, "command": str, "started": str, "finished": str, "duration_s": (int, float),
             "machine": dict, "settings": dict, "benchmarks": dict, "plots": list}
BENCHMARK = {"title": str, "goal": dict, "summary": (dict, list), "runs": (dict, list)}


def problems(results):
    """What is wrong with the shape of a results document (an empty list when nothing is)."""
    found = []
    for key, kind in TOP_LEVEL.items():
        if not isinstance(results.get(key), kind):
            found.append(f"{key}: missing or not {kind}")
    if results.get("schema") != SCHEMA:
        found.append(f"schema: {results.get('schema')!r}, expected {SCHEMA}")
    for name, bench in (results.get("benchmarks") or {}).items():
        if "error" in bench:
            if not isinstance(bench["error"], str):
                found.append(f"benchmarks.{name}.error: not a string")
            continue
        for key, kind in BENCHMARK.items():
            if not isinstance(bench.get(key), kind):
                found.append(f"benchmarks.{name}.{key}: missing or not {kind}")
        goal = bench.get("goal") or {}
        if not isinstance(goal.get("text"), str) or not isinstance(goal.get("met"), bool):
            found.append(f"benchmarks.{name}.goal: needs text (str) and met (bool)")
    return found


# --- The human summary --------------------------------------------------------------------------
def cell(value):
    """A table cell: numbers shortened, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    if isinstance(value, list):
        return ",".join(cell(item) for item in value)
    return str(value)


def table(header, rows):
    """A plain text table, columns padded to their widest cell."""
    cells = [header] + [[cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in cells)


def verdict(goal):
    """MET / NOT MET."""
    return "MET" if goal["met"] else "NOT MET"


def throughput_text(bench, settings):
    header = ["variant", "req/s", "p50 ms", "p99 ms", "rps/bare", "p99/bare", "rps/defaults", "p99/defaults",
              "recycles", "errors"]
    rows = [[r["variant"], r["rps"], r["p50_ms"], r["p99_ms"], r["rps_vs_bare"], r["p99_ms_vs_bare"],
             r["rps_vs_defaults"], r["p99_ms_vs_defaults"], r["worker_recycles"], r["errors"]] for r in bench["summary"]]
    return (f"wrk -t{settings['tp_threads']} -c{settings['tp_connections']}, {settings['tp_seconds']} s runs, "
            f"{settings['tp_rounds']} interleaved rounds; medians, ratios per round then median\n"
            + table(header, rows)
            + f"\nGoal {bench['goal']['text']}: {cell(bench['goal']['rps_ratio'])} -> {verdict(bench['goal'])}")


def stop_text(bench, settings):
    header = ["condition", "role s", "role+socket s", "role-sigterm s", "flask s", "flask-teardown s", "docs s",
              "docs/role", "teardown/flask", "flask atexit ran", "warning lines", "role Result", "docs Result",
              "after role stop: socket", "service"]
    rows = [[r["condition"], r["role_stop_s"], r.get("role+socket_stop_s"), r.get("role-sigterm_stop_s"),
             r.get("flask_stop_s"), r.get("flask-teardown_stop_s"), r["docs_stop_s"], r["docs_over_role"],
             r.get("teardown_over_flask"), "%s/%s" % (r.get("flask_atexit_ran"), r.get("flask_stops")),
             r.get("warning_lines"), r["role_results"], r["docs_results"], r.get("role_socket_after"),
             r.get("role_service_after")]
            for r in bench["summary"]]
    goal = bench["goal"]
    return (f"{settings['stop_rounds']} interleaved rounds; docs unit TimeoutStopSec={goal['docs_timeout_s']} s "
            "(shortened from systemd's 90 s); role = the service alone (its socket keeps listening), "
            "role+socket = both stopped together, role-sigterm = without the fifo ExecStop (SIGTERM at once), "
            "flask = the Flask app (8 workers) with the defaults, flask-teardown = it without skip-atexit-teardown; "
            "flask atexit ran = stops whose every worker ran the app's atexit handler; warning lines = in the "
            "journal of the role's and the Flask app's stops\n" + table(header, rows)
            + f"\nGoal {goal['text']}: worst median {cell(goal['role_worst_median_s'])} s (hello), "
            f"{cell(goal.get('flask_worst_median_s'))} s (Flask) -> {verdict(goal)}")


def runtime_text(bench, settings):
    goal, rows, slopes = bench["goal"], bench["summary"], bench.get("slopes_s_per_app") or {}
    old = bench.get("baseline_collection")
    header = ["apps", "fresh s", "w/o uWSGI build", "fresh tasks", "fresh changed", "re-run s", "re-run tasks",
              "re-run changed", "one-task s", "re-run/play", "per round"]
    table_rows = [[r["apps"], r["fresh_s"], r.get("fresh_net_s"), r["fresh_tasks"], r["fresh_changed"],
                   r["rerun_s_median"], r["rerun_tasks"], r["rerun_changed"], r["baseline_s_median"],
                   r.get("rerun_over_play"), r.get("rerun_over_play_rounds")] for r in rows]
    order = ("re-run with this checkout and with the baseline (alternating which goes first), one-task play" if old
             else "re-run, one-task play")
    parts = [f"fresh: one run per app count; {settings['rt_rounds']} interleaved rounds of ({order}) on each host; "
             "x/play: median of the per-round ratios to the same host's one-task play\n" + table(header, table_rows)]
    if old:
        header = ["apps", "fresh s", "w/o uWSGI build", "fresh tasks", "fresh changed", "re-run s", "re-run tasks",
                  "re-run changed", "re-run/play", "per round", "new/old re-run"]
        old_rows = [[r["apps"], r.get("fresh_old_s"), r.get("fresh_old_net_s"), r.get("fresh_old_tasks"),
                     r.get("fresh_old_changed"),
                     r.get("rerun_old_s_median"), r.get("rerun_old_tasks"), r.get("rerun_old_changed"),
                     r.get("rerun_old_over_play"), r.get("rerun_old_over_play_rounds"), r.get("rerun_new_over_old")]
                    for r in rows]
        parts.append(f"Baseline collection {old['short']} ({old['subject']}), on the same hosts in the same rounds; "
                     "its fresh converges on fresh hosts of their own\n" + table(header, old_rows))
    per_app = (f"Per extra app: re-run {cell(slopes.get('rerun'))} s (net of the one-task play "
               f"{cell(slopes.get('rerun_net'))} s), fresh converge without building uWSGI {cell(slopes.get('fresh'))} s "
               f"(with it {cell(slopes.get('fresh_with_install'))} s)")
    if old:
        per_app += (f"; baseline: re-run {cell(slopes.get('rerun_old'))} s (net {cell(slopes.get('rerun_old_net'))} s), "
                    f"fresh converge {cell(slopes.get('fresh_old'))} s (with the build "
                    f"{cell(slopes.get('fresh_old_with_install'))} s)")
    parts.append(per_app + " (smallest to largest app count, median over rounds)")
    reload = bench.get("reload")
    if reload:
        names = {"reload": "this checkout", "reload_old": f"baseline {old['short']}" if old else "baseline"}
        header = ["collection", "s", "s/play", "changed", "action", "others none", "app reload s", "(s - reload)/play",
                  "outcome write s"]
        reload_rows = [[names[r["kind"]], r["s_median"], r["over_play"], r["changed"], r["actions"], r["others_none"],
                        r["app_reload_s_median"], r["net_over_play"], r["outcome_write_s_median"]] for r in reload["rows"]]
        parts.append(f"Reload-class change: {reload['what']} on {reload['app']} (1 app of {reload['apps_count']}), set "
                     "by one run and reverted by the next (s: without the benchmark's outcome task; app reload: from "
                     "the reload until the app answered, as the role reports it)\n" + table(header, reload_rows)
                     + f"\nnew/old: {cell(reload['new_over_old'])}; every run a change applied by a reload: "
                     f"{cell(reload['every_run_reloaded'])}"
                     + (f" (baseline's: {cell(reload.get('baseline_every_run_reloaded'))})" if old else ""))
        if old and not any(r["kind"] == "reload_old" and r["app_reload_s_median"] is not None for r in reload["rows"]):
            parts.append("The baseline role reports no reload time of its own (it registers no "
                         "_uwsgi_production_service): its '(s - reload)/play' is not measured")
    header = ["target (issue 12)", "this checkout", "baseline", "limit", "met"]
    olds = {t["target"]: t for t in bench.get("baseline_targets") or []}
    parts.append(table(header, [[t["target"], t["value"], (olds.get(t["target"]) or {}).get("value"), t["limit"],
                                 t["met"]] for t in goal.get("targets", [])]))
    slowest = rows[-1]["rerun_slowest_tasks"][:3]
    parts.append(f"Re-run growth per extra app: {cell(goal['growth_pct_per_app'])} % "
                 f"(net of the one-task play: {cell(goal['growth_pct_per_app_net'])} %); changed=0 on every re-run: "
                 f"{cell(goal['idempotent'])}"
                 + (f" (baseline's: {cell(goal.get('idempotent_baseline'))})" if old else "")
                 + "\nSlowest tasks of the largest re-run: "
                 + "; ".join(f"{name.split(' : ')[-1]} {seconds:.1f} s" for name, seconds in slowest))
    if bench.get("readme_table"):
        parts.append("README table:\n" + bench["readme_table"])
    parts.append(f"Goal {goal['text']}: {verdict(goal)}")
    return "\n".join(parts)


def busyness_text(bench, settings):
    conf = bench["config"]
    header = ["app", "reach need s", "cycles", "peak", "max queue", "back at cheaper s", "allowed s", "s per cheap",
              "fewest after", "ok/failed requests"]
    rows = [[r["app"], r["reach_need_s"], r["reach_need_cycles"], r["peak_workers"], r["max_listen_queue"],
             r["back_at_cheaper_after_burst_s"], r["allowed_return_after_burst_s"], r.get("seconds_per_cheap"),
             r["fewest_workers_after_burst"],
             f"{r['requests_ok']}/{r['requests_failed']}"] for r in bench["summary"]["replicas"]]
    return (f"cheaper {conf['cheaper']}, processes {conf['processes']}, step {conf['step']}, overload "
            f"{conf['overload_s']:g} s, multiplier {conf['multiplier']}; burst: {conf['concurrency']} x "
            f"{conf['request_ms']} ms requests for {conf['burst_s']} s, need {conf['need']} workers; "
            f"'back at cheaper' and 'allowed' count from the burst's end\n" + table(header, rows)
            + f"\nMedians: {bench['summary']['medians']}\nGoal: {verdict(bench['goal'])}")


def memory_text(bench, settings):
    summary = bench["summary"]
    processes = "; ".join(f"{p['name'].split(' ')[-1] if p['name'] else p['pid']} {p['rss_mb']:.1f}/{p['pss_mb']:.1f}"
                          for p in summary["idle_processes"])
    recycled = summary["recycled"]
    if recycled:
        replaced = ", ".join(f"pid {r['pid']} at {r['rss_mb']} MB" for r in recycled["replaced_by"]) or "-"
        leak = (f"worker pid {recycled['pid']} recycled after request {recycled['request']} at "
                f"{recycled['rss_mb']} MB (reload-on-rss {summary['reload_on_rss_mb']} MB), gone "
                f"{cell(recycled.get('replaced_within_s'))} s after its answer; replaced by {replaced}")
    else:
        leak = f"NO worker was recycled (reload-on-rss {summary['reload_on_rss_mb']} MB)"
    return (f"idle, {settings['mem_samples']} samples: RSS {summary['idle_rss_mb_median']} MB, "
            f"PSS {summary['idle_pss_mb_median']} MB (master + workers)\nper process RSS/PSS MB: {processes}\n"
            f"leak {summary['leak_step_mb']} MB per request: {leak}")


TEXT = {"runtime": runtime_text, "throughput": throughput_text, "stop": stop_text, "busyness": busyness_text,
        "memory": memory_text}
ORDER = ("throughput", "stop", "runtime", "busyness", "memory")


def summary(results):
    """The human summary of a results document."""
    machine = results["machine"]
    parts = [f"Benchmarks: {results['command']}  ({results['started']}, {results['duration_s']:.0f} s)",
             f"Machine: {machine.get('cpu')} x{machine.get('cpus')}, {machine.get('memory_gb')} GB, "
             f"{machine.get('os')}, kernel {machine.get('kernel')}; load average at start/end "
             f"{machine.get('loadavg_start')} / {machine.get('loadavg_end')}",
             f"Role: {machine.get('role_dir')} (git {machine.get('git_commit')}{' + local changes' if machine.get('git_dirty') else ''}); "
             f"uWSGI {machine.get('uwsgi_version')}; ansible-core {machine.get('ansible_core')}"]
    for number, name in enumerate(ORDER, 1):
        bench = results["benchmarks"].get(name)
        if bench is None:
            continue
        title = bench.get("title", name)
        body = f"ERROR: {bench['error']}" if "error" in bench else TEXT[name](bench, results["settings"])
        parts.append(f"\n{number}. {title}\n{body}")
    return "\n".join(parts)
