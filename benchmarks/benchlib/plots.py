"""PNG plots of results.json, one per benchmark (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def save(fig, path):
    """Write the figure as PNG and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def throughput(result, path):
    """Requests/s and p99 latency per variant (medians)."""
    rows = result["summary"]
    names = [row["variant"] for row in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.45 * len(rows) + 1.8), sharey=True)
    left.barh(names, [row["rps"] or 0 for row in rows], color="tab:blue")
    left.set_xlabel("requests/s (median)")
    right.barh(names, [row["p99_ms"] or 0 for row in rows], color="tab:red", label="p99")
    right.scatter([row["p50_ms"] or 0 for row in rows], names, color="black", zorder=3, label="p50")
    right.set_xscale("log")
    right.set_xlabel("latency, ms (median of runs, log scale)")
    right.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    left.invert_yaxis()
    fig.suptitle("Hello app: bare uWSGI vs the role's defaults, and the defaults minus one option")
    return save(fig, path)


def stop(result, path):
    """systemctl stop seconds of each run, per unit and condition."""
    runs = result["runs"]
    kinds = [kind for kind in ("role", "role+socket", "role-sigterm", "flask", "flask-teardown", "docs")
             if any(r["unit_kind"] == kind for r in runs)]
    colors = {"role": "tab:green", "role+socket": "tab:blue", "role-sigterm": "tab:purple", "flask": "tab:olive",
              "flask-teardown": "tab:red", "docs": "tab:orange"}
    groups = [(kind, condition) for condition in ("idle", "load") for kind in kinds]
    fig, axis = plt.subplots(figsize=(13, 4.5))
    for index, (kind, condition) in enumerate(groups):
        times = [r["stop_s"] for r in runs if r["unit_kind"] == kind and r["condition"] == condition]
        axis.scatter([index] * len(times), times, color=colors[kind], zorder=3)
    axis.set_xticks(range(len(groups)), [f"{kind}\n{condition}" for kind, condition in groups])
    axis.axhline(1.0, color="grey", linestyle="--", label="goal for the role: 1 s (hello)")
    axis.axhline(1.2, color="tab:olive", linestyle=":", label="goal for the Flask app: 1.2 s")
    axis.set_yscale("log")
    axis.set_ylabel("systemctl stop, seconds (log scale)")
    axis.legend()
    axis.set_title("systemctl stop: role's unit (fifo q, then SIGTERM) vs uWSGI docs' unit (SIGQUIT)")
    return save(fig, path)


def runtime(result, path):
    """Role run time against the number of apps: fresh, re-runs (and the baseline collection's), the
    one-task play, and issue 12's re-run target."""
    rows = result["summary"]
    counts = [row["apps"] for row in rows]
    fig, axis = plt.subplots(figsize=(7, 4.5))
    axis.plot(counts, [row["fresh_s"] for row in rows], "o-", color="tab:blue", label="fresh host")
    axis.plot(counts, [row["rerun_s_median"] for row in rows], "s-", color="tab:green",
              label="idempotent re-run (median)")
    for row in rows:
        axis.scatter([row["apps"]] * len(row["rerun_s_runs"]), row["rerun_s_runs"], color="grey", s=10, zorder=3)
    baseline = result.get("baseline_collection")
    if baseline:
        olds = [row for row in rows if row.get("fresh_old_s") is not None]
        axis.plot([row["apps"] for row in olds], [row["fresh_old_s"] for row in olds], "o--", color="tab:blue",
                  alpha=0.6, label=f"fresh host, baseline {baseline['short']}")
        axis.plot(counts, [row.get("rerun_old_s_median") for row in rows], "s--", color="tab:green", alpha=0.6,
                  label=f"re-run, baseline {baseline['short']}")
    axis.plot(counts, [row["baseline_s_median"] for row in rows], "^-", color="tab:orange",
              label="one-task play")
    if len(rows) > 1 and rows[0]["baseline_s_median"] and rows[-1]["baseline_s_median"]:
        axis.plot([counts[0], counts[-1]], [2 * rows[0]["baseline_s_median"], 3 * rows[-1]["baseline_s_median"]], ":",
                  color="grey", label="target: re-run <= 2x / 3x the play")
    if baseline:
        axis.set_yscale("log")
    axis.set_xlabel("apps")
    axis.set_ylabel("ansible-playbook wall time, s" + (" (log scale)" if baseline else ""))
    axis.set_xticks(counts)
    axis.legend(fontsize="small")
    axis.set_title("Role run time")
    return save(fig, path)


def busyness(result, path):
    """Running workers and listen queue of each replica over time, with the burst shaded."""
    probe, conf = result["runs"], result["config"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1.4])
    for axis in (top, bottom):
        axis.axvspan(probe["burst_start_s"], probe["burst_end_s"], color="tab:orange", alpha=0.15)
    for app, data in probe["apps"].items():
        times = [s["t"] for s in data["samples"]]
        top.step(times, [s["workers"] for s in data["samples"]], where="post", label=app)
        bottom.step(times, [s["listen_queue"] for s in data["samples"]], where="post", label=app)
    top.axhline(conf["cheaper"], color="grey", linestyle=":", label=f"cheaper = {conf['cheaper']}")
    top.axhline(conf["need"], color="black", linestyle="--", label=f"need = {conf['need']}")
    top.set_ylabel("running workers")
    top.set_ylim(0, conf["processes"] + 1)
    top.legend(loc="upper right", fontsize="small")
    top.set_title(f"Busyness: burst of {conf['concurrency']} concurrent {conf['request_ms']} ms requests "
                  f"(shaded), overload {conf['overload_s']:g} s, multiplier {conf['multiplier']}")
    bottom.set_ylabel("listen queue")
    bottom.set_xlabel("seconds")
    return save(fig, path)


def memory(result, path):
    """RSS reported by the leaking app after each request, per worker pid, and the threshold."""
    summary = result["summary"]
    steps = result["runs"]["leak"]["steps"]
    fig, axis = plt.subplots(figsize=(8, 4.5))
    for pid in sorted({s["pid"] for s in steps if s["pid"]}):
        mine = [s for s in steps if s["pid"] == pid]
        axis.plot([s["request"] for s in mine], [s["rss_mb"] for s in mine], "o-", label=f"worker pid {pid}")
    axis.axhline(summary["reload_on_rss_mb"], color="red", linestyle="--",
                 label=f"reload-on-rss = {summary['reload_on_rss_mb']} MB")
    recycled = summary["recycled"]
    if recycled:
        axis.annotate("recycled", (recycled["request"], recycled["rss_mb"]), textcoords="offset points",
                      xytext=(-60, 10), arrowprops={"arrowstyle": "->"})
    axis.set_xlabel(f"request (each leaks {summary['leak_step_mb']} MB in the worker that serves it)")
    axis.set_ylabel("worker RSS after the request, MB")
    axis.legend(fontsize="small")
    axis.set_title(f"Idle with the defaults: RSS {summary['idle_rss_mb_median']:.0f} MB, "
                   f"PSS {summary['idle_pss_mb_median']:.0f} MB (master + workers)")
    return save(fig, path)


PLOTS = {"throughput": throughput, "stop": stop, "runtime": runtime, "busyness": busyness, "memory": memory}


def write_all(results, out_dir):
    """One PNG per benchmark that has results; returns the file names written."""
    written = []
    for name, result in results["benchmarks"].items():
        if name in PLOTS and "error" not in result:
            written.append(PLOTS[name](result, out_dir / f"{name}.png").name)
    return written
