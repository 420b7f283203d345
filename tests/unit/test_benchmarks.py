"""benchmarks/: parsers, statistics, analyses, results.json shape and plots, on small synthetic input."""

import sys

import pytest
from paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "benchmarks" / "host"))

# pylint: disable=wrong-import-position
from benchlib import busyness, memory, parse, plots, report, runtime, settings, stats, stop, throughput  # noqa: E402
import probe  # noqa: E402

WRK = """Running 5s test @ http://127.0.0.1:8101/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   580.63us    1.02ms  32.44ms   97.90%
    Req/Sec     7.12k   649.33     8.45k    72.50%
  Latency Distribution
     50%  421.00us
     75%  512.00us
     90%  651.00us
     99%    1.02s
  85021 requests in 5.00s, 6.57MB read
  Socket errors: connect 1, read 85021, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:  17004.20
Transfer/sec:      1.31MB
"""

RECAP = """PLAY RECAP *********************************************************************
pyops-bench-scale1         : ok=36   changed=0    unreachable=0    failed=0    skipped=10   rescued=0    ignored=0

TASKS RECAP ********************************************************************
===============================================================================
pyops.uwsgi.uwsgi_production : Install the systemd unit of each app ---- 22.70s
Gathering Facts --------------------------------------------------------- 1.04s
"""


def test_wrk_report():
    report_ = parse.wrk_report(WRK)
    assert report_["rps"] == 17004.20
    assert report_["requests"] == 85021
    assert report_["p50_ms"] == pytest.approx(0.421)
    assert report_["p99_ms"] == pytest.approx(1020.0)
    # The read "errors" are uWSGI closing each connection; connect + timeout + non-2xx are real.
    assert report_["read_errors"] == 85021
    assert report_["errors"] == 6


def test_wrk_report_rejects_garbage():
    with pytest.raises(ValueError):
        parse.wrk_report("unable to connect to 127.0.0.1:8101 Connection refused")


def test_play_recap_and_task_times():
    recap = parse.play_recap(RECAP, "pyops-bench-scale1")
    assert recap["ok"] == 36 and recap["changed"] == 0 and recap["tasks"] == 46
    assert parse.task_times(RECAP) == [
        ["pyops.uwsgi.uwsgi_production : Install the systemd unit of each app", 22.7], ["Gathering Facts", 1.04]]
    with pytest.raises(ValueError):
        parse.play_recap(RECAP, "another-host")


def test_round_ratios_pair_runs_of_the_same_round():
    runs = [{"round": 0, "v": "a", "x": 10.0}, {"round": 0, "v": "b", "x": 5.0},
            {"round": 1, "v": "a", "x": 30.0}, {"round": 1, "v": "b", "x": 10.0},
            {"round": 2, "v": "a", "x": 99.0}]  # no b in round 2: no ratio
    assert stats.round_ratios(runs, "x", "v", "a", "b") == [2.0, 3.0]
    assert stats.median([3, None, 1, 2]) == 2
    assert stats.median([None]) is None


def test_settings_from_env():
    assert settings.from_env({}).tp_rounds == 3
    quick = settings.from_env({"BENCH_QUICK": "1", "BENCH_TP_ROUNDS": "2", "BENCH_ONLY": "stop, memory"})
    assert quick.tp_seconds == settings.QUICK["tp_seconds"] and quick.tp_rounds == 2
    assert quick.only == ("stop", "memory")
    assert settings.from_env({"BENCH_RT_SIZES": "1,3"}).rt_sizes == (1, 3)
    with pytest.raises(ValueError):
        settings.from_env({"BENCH_ONLY": "throughput,speed"})


# --- Synthetic results of every benchmark, through the real analysis code -------------------------
def wrk_run(round_, variant, rps, p99):
    return {"round": round_, "variant": variant, "rps": rps, "p50_ms": 0.5, "p99_ms": p99, "errors": 0,
            "read_errors": 1}


def throughput_result():
    targets = [("bare", "bare uWSGI", 8100), ("defaults", "role defaults", 8101), ("no-max-requests", "minus", 8102)]
    runs = []
    for round_ in range(3):
        runs += [wrk_run(round_, "bare", 1000 + round_, 1.0), wrk_run(round_, "defaults", 800, 300.0),
                 wrk_run(round_, "no-max-requests", 1100, 1.0)]
    return throughput.analyze(targets, runs, {"defaults": 12, "no-max-requests": 0})


def stop_result():
    runs = []
    for round_ in range(2):
        for condition in ("idle", "load"):
            runs.append({"round": round_, "unit_kind": "role", "condition": condition, "stop_s": 0.9,
                         "Result": "success"})
            runs.append({"round": round_, "unit_kind": "docs", "condition": condition, "stop_s": 10.0,
                         "Result": "timeout"})
    return stop.analyze(runs, 10)


def playbook_run(seconds, changed=0):
    return {"seconds": seconds, "recap": {"tasks": 40, "changed": changed}, "slowest_tasks": [["x : Render", 1.5]]}


def runtime_result(rerun_changed=0):
    targets = [("pyops-bench-scale1", ["a"]), ("pyops-bench-main", ["a", "b", "c"])]
    fresh = {"pyops-bench-scale1": playbook_run(50, 10), "pyops-bench-main": playbook_run(60, 12)}
    runs = []
    for round_ in range(3):
        runs.append({"round": round_, "apps": 1, "kind": "rerun", **playbook_run(10.0)})
        runs.append({"round": round_, "apps": 1, "kind": "baseline", **playbook_run(2.0)})
        runs.append({"round": round_, "apps": 3, "kind": "rerun", **playbook_run(12.0, rerun_changed)})
        runs.append({"round": round_, "apps": 3, "kind": "baseline", **playbook_run(2.0)})
    return runtime.analyze(targets, fresh, runs)


BUSY_CONF = {"processes": 8, "cheaper": 2, "step": 2, "overload_s": 1.0, "multiplier": 3, "busy_max_pct": 70,
             "concurrency": 4, "request_ms": 200, "burst_s": 4, "need": 4}


def busy_samples(counts):
    """One sample per second with the given worker counts."""
    return [{"t": float(t), "workers": n, "busy": 0, "listen_queue": 1 if n == 2 else 0, "socket_queues": [0]}
            for t, n in enumerate(counts)]


def busyness_result(counts):
    # Burst from t=2 to t=6; cheaper 2; one worker cheaped per 3 s after the last spawn.
    probe_out = {"burst_start_s": 2.0, "burst_end_s": 6.0,
                 "apps": {"busy1": {"samples": busy_samples(counts), "requests_ok": 80, "requests_failed": 0}}}
    return busyness.analyze(probe_out, BUSY_CONF)


GOOD_BUSY = [2, 2, 2, 4, 6, 6, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2]


def memory_result():
    idle = {"samples": [{"processes": [{"pid": 1, "name": "mem uWSGI master", "rss_mb": 12.0, "pss_mb": 4.0},
                                       {"pid": 2, "name": "mem uWSGI worker 1", "rss_mb": 10.0, "pss_mb": 3.0}],
                         "rss_mb": 22.0, "pss_mb": 7.0}],
            "rss_mb_median": 22.0, "pss_mb_median": 7.0}
    steps = [{"request": n, "status": 200, "pid": 7, "rss_mb": 10 + 100 * n, "worker_pids": [7, 8]} for n in (1, 2)]
    leak = {"step_mb": 100, "threshold_mb": 200, "steps": steps,
            "recycled": {"request": 2, "pid": 7, "rss_mb": 210, "replaced_by": [{"pid": 9, "rss_mb": 11.0}]},
            "journal_rss_lines": []}
    return memory.analyze(idle, leak)


def full_results():
    return {"schema": report.SCHEMA, "command": "bash benchmarks/run.sh", "started": "2026-01-01T00:00:00+00:00",
            "finished": "2026-01-01T00:15:00+00:00", "duration_s": 900.0,
            "machine": {"cpu": "test cpu", "cpus": 2}, "settings": vars(settings.Settings()) | {"only": []},
            "benchmarks": {"throughput": throughput_result(), "stop": stop_result(), "runtime": runtime_result(),
                           "busyness": busyness_result(GOOD_BUSY), "memory": memory_result()},
            "plots": []}


def test_throughput_ratios_and_goal():
    result = throughput_result()
    rows = {row["variant"]: row for row in result["summary"]}
    assert rows["defaults"]["rps_vs_bare"] == pytest.approx(stats.median([800 / 1000, 800 / 1001, 800 / 1002]), abs=1e-3)
    assert rows["no-max-requests"]["p99_ms_vs_defaults"] == pytest.approx(1 / 300, abs=1e-3)
    assert rows["defaults"]["worker_recycles"] == 12
    assert result["goal"]["met"] is False


def test_stop_goal():
    result = stop_result()
    assert result["goal"]["met"] is True
    assert result["summary"][0]["docs_over_role"] == pytest.approx(10 / 0.9, abs=0.01)
    assert result["summary"][1]["docs_results"] == ["timeout"]


def test_runtime_growth_and_idempotence():
    result = runtime_result()
    # 12 s for 3 apps vs 10 s for 1: +20 % over 2 extra apps = 10 % per app (the goal's edge).
    assert result["goal"]["growth_pct_per_app"] == pytest.approx(10.0)
    assert result["goal"]["growth_pct_per_app_net"] == pytest.approx(12.5)
    assert result["goal"]["met"] is True
    assert runtime_result(rerun_changed=1)["goal"]["met"] is False


def test_busyness_reach_and_return():
    result = busyness_result(GOOD_BUSY)
    row = result["summary"]["replicas"][0]
    assert row["reach_need_s"] == 1.0 and row["reach_need_cycles"] == 1
    assert row["peak_workers"] == 6
    assert row["back_at_cheaper_after_burst_s"] == 11.0
    # Last spawn at t=4; 4 workers above cheaper x 3 s = back by t=16, 10 s after the burst's end.
    assert row["allowed_return_after_burst_s"] == 10.0
    assert result["goal"]["met"] is True


def test_busyness_goal_fails_when_scaling_is_late_or_drops_below_cheaper():
    late = [2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 3, 2, 2, 2, 2]
    assert busyness_result(late)["goal"]["met"] is False
    below = [2, 2, 2, 4, 6, 6, 6, 4, 3, 2, 1, 1, 1, 1, 1]
    assert busyness_result(below)["summary"]["replicas"][0]["fewest_workers_after_burst"] == 1
    assert busyness_result(below)["goal"]["met"] is False


def test_probe_counts_running_workers():
    stats_doc = {"workers": [{"pid": 10, "status": "idle"}, {"pid": 11, "status": "busy"},
                             {"pid": 0, "status": "cheap"}]}
    assert [w["pid"] for w in probe.running_workers(stats_doc)] == [10, 11]
    assert probe.all_at(["a", "b"], {"a": {"workers": 2}, "b": {"workers": 2}}, 2)
    assert not probe.all_at(["a", "b"], {"a": {"workers": 2}}, 2)


def test_results_shape():
    results = full_results()
    assert report.problems(results) == []
    broken = full_results()
    del broken["benchmarks"]["stop"]["goal"]["met"]
    broken["schema"] = 0
    found = report.problems(broken)
    assert any(problem.startswith("schema") for problem in found)
    assert any(problem.startswith("benchmarks.stop.goal") for problem in found)


def test_summary_names_every_benchmark_and_verdict():
    text = report.summary(full_results())
    for title in ("1. Throughput", "2. systemctl stop", "3. Role run time", "4. Busyness", "5. Memory"):
        assert title in text
    assert "-> NOT MET" in text and "-> MET" in text


def test_plots_are_png(tmp_path):
    written = plots.write_all(full_results(), tmp_path)
    assert sorted(written) == sorted(f"{name}.png" for name in plots.PLOTS)
    for name in written:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
