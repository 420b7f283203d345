"""Run every benchmark on local systemd test hosts; write results.json, PNG plots and summary.txt.

Started by benchmarks/run.sh (which sets up the toolchain and the Docker engine). Knobs: BENCH_*
environment variables, see benchmarks/README.md and benchlib/settings.py."""

import dataclasses
import datetime
import os
import pathlib
import platform
import subprocess
import sys
import time
import traceback

from benchlib import (busyness, context, fleet, hosts, memory, plots, releases, report, runtime, safe_changes,
                      settings, snapshot, stop, throughput)

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
COMMAND = "bash benchmarks/run.sh"


def now_text():
    """The current UTC time, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def first_line(cmd, cwd=None):
    """The first line a command prints, or '' when it fails."""
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 and result.stdout else ""


def cpu_model():
    """The CPU model name from /proc/cpuinfo."""
    with open("/proc/cpuinfo", encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def os_name():
    """PRETTY_NAME of /etc/os-release."""
    with open("/etc/os-release", encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return platform.platform()


def machine(ctx):
    """What the figures were measured on."""
    role_dir = context.apps.role_dir()
    with open("/proc/meminfo", encoding="utf-8") as stream:
        mem_kb = int(stream.readline().split()[1])
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "os": os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ansible_core": first_line(["ansible", "--version"]),
        "docker": first_line(["docker", "version", "--format", "{{.Server.Version}}"]),
        "test_host_image": first_line(["bash", str(hosts.REPO / "tools" / "testhost.sh"), "image"]),
        "role_dir": str(role_dir),
        "git_commit": first_line(["git", "rev-parse", "--short", "HEAD"], cwd=hosts.REPO),
        # Whether the collection's files in the checkout differed from that commit when the run began.
        "git_dirty": bool(first_line(["git", "status", "--porcelain", "--", *snapshot.PARTS], cwd=hosts.REPO)),
        "loadavg_start": loadavg(),
        "main_host": ctx.main,
    }


def loadavg():
    """The 1, 5 and 15 minute load averages as text."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def record(ctx, results, name, work):
    """Run one benchmark (a function returning its result), keeping an error instead of stopping."""
    began = time.monotonic()
    try:
        results["benchmarks"][name] = work()
    except Exception as error:  # pylint: disable=broad-exception-caught  # one failure must not lose the others
        ctx.say(f"{name} FAILED: {error}")
        results["benchmarks"][name] = {"title": name, "error": f"{error}\n{traceback.format_exc()}"}
    results["benchmarks"][name]["elapsed_s"] = round(time.monotonic() - began, 1)
    save(ctx, results)


def save(ctx, results):
    """Write results.json as it is now (a run stopped half-way keeps what it measured)."""
    hosts.write_json(ctx.out / "results.json", results)


def prepare_main_host(ctx, results):
    """The main host with every app deployed (the run-time benchmark's fresh run when selected)."""
    ctx.say(f"starting test host {ctx.main}")
    ctx.start_host(ctx.main)
    if "runtime" in ctx.settings.only:
        record(ctx, results, "runtime", lambda: runtime.run(ctx))
    if "error" in results["benchmarks"].get("runtime", {"error": ""}):
        ctx.say(f"deploying {len(ctx.main_apps)} apps with the role on {ctx.main}")
        hosts.playbook(ctx.main, "role.yml", [ctx.apps_file(ctx.main, ctx.main_apps)], log=ctx.log)
    ctx.say("installing wrk, the probe and the comparison units on the main host")
    context.finish_main_host(ctx)
    results["machine"]["uwsgi_version"] = first_line(
        ["docker", "exec", ctx.main, f"{ctx.defaults['uwsgi_production_venv']}/bin/uwsgi", "--version"])


def run_benchmarks(ctx, results):
    """Every selected benchmark, in an order that lets the busyness cool-down overlap stop and memory."""
    only = ctx.settings.only
    if "safe_changes" in only:  # on its own host
        record(ctx, results, "safe_changes", lambda: safe_changes.run(ctx))
    if "fleet" in only:  # on its own four hosts
        record(ctx, results, "fleet", lambda: fleet.run(ctx))
    if "releases" in only:  # on its own host
        record(ctx, results, "releases", lambda: releases.run(ctx))
    if not set(only) - {"safe_changes", "fleet", "releases"}:
        return
    prepare_main_host(ctx, results)
    if "throughput" in only:
        record(ctx, results, "throughput", lambda: throughput.run(ctx))
    burst = busyness.start(ctx) if "busyness" in only else None
    if burst:
        busyness.wait_for_burst_end(burst)
    if "stop" in only:
        record(ctx, results, "stop", lambda: stop.run(ctx))
    if "memory" in only:
        record(ctx, results, "memory", lambda: memory.run(ctx))
    if burst:
        record(ctx, results, "busyness", lambda: busyness.finish(ctx, burst))


def main():
    config = settings.from_env(os.environ)
    started_at, began = now_text(), time.monotonic()
    out = RESULTS / datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    # Every playbook of the run uses this copy of the collection (see benchlib/snapshot.py).
    copied = snapshot.take(hosts.REPO, out / "work" / "collection")
    ctx = context.Context(config, out)
    results = {"schema": report.SCHEMA, "command": COMMAND, "started": started_at, "finished": "",
               "duration_s": 0.0, "machine": machine(ctx), "settings": dataclasses.asdict(config),
               "benchmarks": {}, "plots": []}
    results["machine"]["role_sha256"] = copied["sha256"]
    ctx.say(f"results go to {out}")
    try:
        run_benchmarks(ctx, results)
    finally:
        ctx.remove_hosts(list(ctx.started_hosts))
        results["machine"]["loadavg_end"] = loadavg()
        results["finished"], results["duration_s"] = now_text(), round(time.monotonic() - began, 1)
        save(ctx, results)
    results["plots"] = (plots.write_all(results, out) + safe_changes.write_plot(results, out)
                        + releases.write_plot(results, out))
    wrong = report.problems(results)
    save(ctx, results)
    text = report.summary(results)
    if "safe_changes" in results["benchmarks"]:
        text += "\n\n6. " + results["benchmarks"]["safe_changes"].get("title", "safe_changes") + "\n" \
            + safe_changes.summary_text(results["benchmarks"]["safe_changes"])
    if "fleet" in results["benchmarks"]:
        text += "\n\n7. " + results["benchmarks"]["fleet"].get("title", "fleet") + "\n" \
            + fleet.summary_text(results["benchmarks"]["fleet"])
    if "releases" in results["benchmarks"]:
        text += "\n\n9. " + results["benchmarks"]["releases"].get("title", "releases") + "\n" \
            + releases.summary_text(results["benchmarks"]["releases"])
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    print("\n" + text + f"\n\nWritten: {out}/results.json, summary.txt, " + ", ".join(results["plots"]))
    failed = [name for name, bench in results["benchmarks"].items() if "error" in bench]
    if wrong or failed:
        print(f"Problems: results.json shape {wrong}; failed benchmarks {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
