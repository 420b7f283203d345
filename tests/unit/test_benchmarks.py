"""benchmarks/: parsers, statistics, analyses, results.json shape and plots, on small synthetic input."""

import io
import json
import sys
import tarfile
import zipfile

import pytest
from paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "benchmarks" / "host"))

# pylint: disable=wrong-import-position
from benchlib import busyness, memory, parse, plots, report, runtime, settings, stats, stop, throughput  # noqa: E402
from benchlib import safe_changes  # noqa: E402
from benchlib import snapshot  # noqa: E402
from benchlib import apps, baseline_collection, fleet  # noqa: E402
from benchlib import releases  # noqa: E402
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


def stop_result(flask_s=1.1, warnings=0, idle_markers=8):
    runs = []
    for round_ in range(2):
        for condition in ("idle", "load"):
            runs.append({"round": round_, "unit_kind": "role", "condition": condition, "stop_s": 0.9,
                         "Result": "success", "socket_state_after": "active",
                         "service_state_after": "active" if condition == "load" else "inactive"})
            runs.append({"round": round_, "unit_kind": "role+socket", "condition": condition, "stop_s": 0.5,
                         "Result": "success", "socket_state_after": "inactive", "service_state_after": "inactive"})
            runs.append({"round": round_, "unit_kind": "docs", "condition": condition, "stop_s": 10.0,
                         "Result": "timeout"})
            # The Flask app: 8 workers, each ran its atexit handler when idle; under load 3 were busy.
            markers = idle_markers if condition == "idle" else 5
            runs.append({"round": round_, "unit_kind": "flask", "condition": condition, "stop_s": flask_s,
                         "Result": "success", "workers": 8, "atexit_markers": markers, "warning_lines": warnings,
                         "socket_state_after": "active", "service_state_after": "inactive"})
            runs.append({"round": round_, "unit_kind": "flask-teardown", "condition": condition, "stop_s": 4.3,
                         "Result": "success", "workers": 8, "atexit_markers": markers, "warning_lines": 0,
                         "socket_state_after": "active", "service_state_after": "inactive"})
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
            "benchmarks": {"throughput": throughput_result(), "stop": stop_result(),
                           "runtime": runtime_with_baseline(),
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
    # Stopping the service alone leaves its socket listening; under load the socket starts it again.
    assert result["summary"][0]["role_socket_after"] == ["active"]
    assert result["summary"][1]["role_service_after"] == ["active"]
    assert result["summary"][0]["role+socket_stop_s"] == 0.5
    # The Flask app: its stop, what skipping the teardown saves, its atexit handlers, a quiet journal.
    assert result["goal"]["flask_worst_median_s"] == 1.1
    assert result["summary"][0]["teardown_over_flask"] == pytest.approx(4.3 / 1.1, abs=0.01)
    assert (result["summary"][0]["flask_atexit_ran"], result["summary"][0]["flask_stops"]) == (2, 2)
    assert result["summary"][1]["flask_atexit_ran"] == 0   # busy workers under load skip them, as uWSGI does
    assert result["goal"]["flask_atexit_handlers_ran"] is True and result["goal"]["quiet"] is True


@pytest.mark.parametrize("change", [{"flask_s": 1.25}, {"warnings": 1}, {"idle_markers": 7}])
def test_stop_goal_fails_on_a_slow_flask_stop_a_warning_or_a_skipped_handler(change):
    assert stop_result(**change)["goal"]["met"] is False


def test_stop_measures_the_flask_kinds_with_their_atexit_markers():
    assert stop.atexit_dir("flask") == "/srv/bench/atexit/stop-flask"
    assert stop.atexit_dir("flask-teardown") == "/srv/bench/atexit/stop-flask-teardown"
    assert stop.atexit_dir("role") == ""
    teardown = [entry for entry in apps.flask_stop_apps() if entry["name"] == "stop-flask-teardown"][0]
    assert teardown["options"]["skip-atexit-teardown"] is None
    assert teardown["environment"] == {"ATEXIT_DIR": "/srv/bench/atexit/stop-flask-teardown"}
    assert teardown["writable_paths"] == ["/srv/bench/atexit/stop-flask-teardown"]
    assert all(package.count("==") == 1 for package in teardown["packages"])


def test_runtime_growth_and_idempotence():
    result = runtime_result()
    # 12 s for 3 apps vs 10 s for 1: +20 % over 2 extra apps = 10 % per app (the former goal's edge).
    assert result["goal"]["growth_pct_per_app"] == pytest.approx(10.0)
    assert result["goal"]["growth_pct_per_app_net"] == pytest.approx(12.5)
    # But a re-run of 5x the one-task play misses issue 12's 2x.
    targets = {t["target"]: t for t in result["goal"]["targets"]}
    assert targets["re-run, 1 app(s), x one-task play"] == {"target": "re-run, 1 app(s), x one-task play",
                                                            "value": 5.0, "limit": 2.0, "met": False}
    assert result["goal"]["met"] is False and result["goal"]["idempotent"] is True
    assert runtime_result(rerun_changed=1)["goal"]["idempotent"] is False


def test_busyness_reach_and_return():
    result = busyness_result(GOOD_BUSY)
    row = result["summary"]["replicas"][0]
    assert row["reach_need_s"] == 1.0 and row["reach_need_cycles"] == 1
    assert row["peak_workers"] == 6
    assert row["back_at_cheaper_after_burst_s"] == 11.0
    # Cheaping starts when the burst ends (t=6): 4 workers above cheaper x 3 s = 12 s after it.
    assert row["allowed_return_after_burst_s"] == 12.0
    assert row["seconds_per_cheap"] == 3.0
    assert result["goal"]["met"] is True


def test_busyness_goal_fails_when_scaling_is_late_or_drops_below_cheaper():
    late = [2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 3, 2, 2, 2, 2]
    assert busyness_result(late)["goal"]["met"] is False
    below = [2, 2, 2, 4, 6, 6, 6, 4, 3, 2, 1, 1, 1, 1, 1]
    assert busyness_result(below)["summary"]["replicas"][0]["fewest_workers_after_burst"] == 1
    assert busyness_result(below)["goal"]["met"] is False


def test_snapshot_copies_the_collection_and_comes_first(tmp_path):
    repo = tmp_path / "repo"
    (repo / "roles" / "r" / "tasks").mkdir(parents=True)
    (repo / "roles" / "r" / "tasks" / "main.yml").write_text("---\n")
    (repo / "galaxy.yml").write_text("namespace: pyops\n")
    (repo / "molecule").mkdir()  # not part of what Ansible loads: not copied
    (repo / "playbooks").mkdir()  # the collection's playbooks (pyops.uwsgi.rolling_update): copied
    (repo / "playbooks" / "rolling_update.yml").write_text("---\n")
    env = {"ANSIBLE_COLLECTIONS_PATH": "/elsewhere"}
    copied = snapshot.take(repo, tmp_path / "copy", env)
    target = tmp_path / "copy" / "ansible_collections" / "pyops" / "uwsgi"
    assert copied["path"] == str(target)
    assert (target / "roles" / "r" / "tasks" / "main.yml").is_file() and not (target / "molecule").exists()
    assert (target / "playbooks" / "rolling_update.yml").is_file()
    assert env["ANSIBLE_COLLECTIONS_PATH"] == f"{tmp_path / 'copy'}:/elsewhere"
    # An edit of the checkout after the copy does not reach the copy.
    (repo / "galaxy.yml").write_text("namespace: changed\n")
    assert snapshot.digest(target) == copied["sha256"]


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


# --- 6. Safe changes: the analysis on a synthetic session ------------------------------------------
def steady_report(started, records):
    return {"started": started, "sent": len(records), "failed": sum(1 for r in records if r[2] != 200),
            "errors": {}, "records": records}


def safe_session(drop_in_reload=False):
    """Load from t=1000 to 1080 at 10 req/s per socket; change 1 (a reload, 1010-1014) drops nothing, change 4
    (the broken one, 1040-1046) is rolled back; change 5 (plain, 1050-1054) gets 3 refused connections."""
    loads = {}
    for target in ("safe-uwsgi", "safe-http", "plain-uwsgi", "plain-http"):
        records = []
        for n in range(800):
            t = n / 10
            latency = 1.5 if target == "safe-http" and n == 125 else 0.002
            status, error = 200, ""
            if target == "plain-http" and 510 <= n < 513:
                status, error = 0, "ConnectionRefusedError"
            if drop_in_reload and target == "safe-uwsgi" and n == 120:
                status, error = 502, ""
            records.append([t, latency, status, error])
        loads[target] = steady_report(1000.0, records)
    markers = {"safe": [[1000.0 + i / 20, 1000.0 + i / 20 + 0.01, "0" if i < 250 else "1", ""] for i in range(1600)],
               "plain": [[1000.0 + i / 20, 1000.0 + i / 20 + 0.01, "0" if i < 1050 else "5", ""] for i in range(1600)]}
    runs = []
    for number, change in enumerate(safe_changes.CHANGES, 1):
        start = 1010.0 + (number - 1) * 10
        end = start + (6 if change["broken"] else 4)
        failure = ("uWSGI app 'safe' failed its health check after a reload: the uWSGI master exited\n"
                   "Rolled back to the last good configuration on host pyops-bench-safe (kept in /x):\n"
                   "- app 'safe': files restored, then restarted; it answers again (GET / -> 200).")
        runs.append((change, {"start": start, "end": end, "role_s": end - start, "rc": 2 if change["broken"] else 0,
                              "recap": {}, "actions": {change["app"]: change["expect"]},
                              "failure": failure if change["broken"] else "", "slowest_tasks": []}))
    config = {"sc_rate": 10, "sc_settle": 6, "sc_window": 3}
    return safe_changes.analyze(runs, loads, markers, config, (1000.0, 1080.0))


def test_safe_changes_windows_rates_gaps_and_time_to_serve():
    records = safe_changes.wall_records(steady_report(100.0, [[0.0, 0.1, 200, ""], [0.5, 0.2, 200, ""],
                                                              [1.0, 3.0, 0, "TimeoutError"], [2.0, 0.1, 503, ""]]))
    assert records[0] == (100.0, 100.1, 0.1, 200, "")
    counts = safe_changes.window(records, 100.0, 103.0)
    assert counts == {"sent": 4, "failed": 2, "errors": {"TimeoutError": 1, "503": 1}, "max_latency_s": 3.0}
    assert safe_changes.rate(records, 100.0, 101.0) == 2.0 and safe_changes.rate(records, 101, 101) is None
    assert safe_changes.longest_gap(records, 100.0, 104.0) == pytest.approx(3.3)
    polls = [[100.0, 100.01, "0", ""], [100.05, 100.3, None, "ConnectionRefusedError"], [100.4, 100.45, "1", ""]]
    assert safe_changes.time_to_serve(polls, 100.0, 1) == pytest.approx(0.45)
    assert safe_changes.time_to_serve(polls, 100.0, 2) is None


def test_safe_changes_reads_the_role_outcome_and_output(tmp_path):
    outcome = tmp_path / "outcome.json"
    outcome.write_text(json.dumps({"apps": {"safe": {"action": "reload", "state": "reloaded"},
                                            "plain": {"action": "none", "state": "started"}}}))
    assert safe_changes.role_actions(outcome) == {"safe": "reload", "plain": "none"}
    assert safe_changes.role_actions(tmp_path / "missing.json") == {}
    out = ('fatal: [pyops-bench-safe]: FAILED! => {"changed": false, "msg": "health check failed"}\n'
           'fatal: [pyops-bench-safe]: FAILED! => {"changed": false, "msg": "failed\\nRolled back to the last good"}\n')
    assert safe_changes.failure_message(out) == "failed\nRolled back to the last good"
    assert safe_changes.failure_message("PLAY RECAP") == ""


def test_safe_changes_states_roll_back_the_broken_change():
    states = safe_changes.states()
    by_name = {change["name"]: wanted for change, wanted in states}
    assert by_name["broken"]["safe"]["module"] == safe_changes.BROKEN_MODULE
    # The change after the broken one starts from the last good state (generation 3, the marker app).
    after = by_name["plain-restart-unit"]
    assert after["safe"]["module"] == safe_changes.MARKER_MODULE and after["safe"]["gen"] == 3
    entry = safe_changes.app_entry("plain", after["plain"])
    assert entry["socket_activation"] is False and entry["unit_hardening"] == {"LimitNOFILE": 4096}
    assert entry["options"]["env"] == ["BENCH_GEN=5"]


def test_safe_changes_analysis_goal_summary_and_plot(tmp_path):
    result = safe_session()
    rows = {row["change"]: row for row in result["summary"]}
    reload_ = rows["reload"]
    assert reload_["sent"] == 200 and reload_["failed"] == 0 and reload_["time_to_serve_s"] == pytest.approx(2.51)
    assert reload_["max_latency_s"] == 1.5 and reload_["rps_before"] == 20.0
    assert rows["broken"]["rolled_back"] is True and rows["broken"]["broken_config_served"] is False
    plain = rows["plain-restart-unit"]
    assert plain["failed"] == 3 and plain["errors"] == {"ConnectionRefusedError": 3}
    assert plain["per_socket"]["plain-http"]["failed"] == 3 and plain["time_to_serve_s"] == pytest.approx(2.51)
    assert plain["other_app_failed"] == 0 and reload_["other_app_failed"] == 0
    assert result["goal"]["met"] is True
    assert sum(result["runs"]["timeline"]["apps"]["plain"]["failed"]) == 3
    results = full_results()
    results["benchmarks"]["safe_changes"] = result
    assert report.problems(results) == []
    text = safe_changes.summary_text(result)
    assert "Rolled back" in text and "-> MET" in text
    assert safe_changes.write_plot(results, tmp_path) == ["safe_changes.png"]
    assert (tmp_path / "safe_changes.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_safe_changes_goal_fails_on_a_dropped_request():
    result = safe_session(drop_in_reload=True)
    assert result["summary"][0]["errors"] == {"502": 1}
    assert result["goal"]["met"] is False and result["goal"]["failed_in_zero_drop_changes"] == 1


# --- 3. Run time with a baseline collection and a reload-class change --------------------------------
OLD = {"ref": "previous", "commit": baseline_collection.PREVIOUS, "short": "88cb454", "subject": "88cb454 README",
       "path": "/x/collections/ansible_collections/pyops/uwsgi", "collections_path": "/x/collections:/t"}
PLAYS = [2.0, 4.0, 3.0]  # the one-task play's seconds in rounds 0, 1, 2 (the machine got busier, then less)


def timed(round_, apps, kind, seconds, changed=0, **extra):
    return {"round": round_, "apps": apps, "kind": kind, **playbook_run(seconds, changed), **extra}


def reload_run(round_, kind, direction, seconds, app_reload_s=None, outcome_write_s=None, action="reload"):
    own = seconds - (outcome_write_s or 0.0)
    return timed(round_, 3, kind, seconds, 1, direction=direction, own_s=own, outcome_write_s=outcome_write_s,
                 app="c", action=action, others_none=True, app_reload_s=app_reload_s)


def runtime_with_baseline(new_reload_s=(4.8, 9.6, 7.2), rerun_changed_old=0):
    """This checkout re-runs at 1.5x the play for 1 app and 1.6x for 3 apps (0.1 x play s per extra app);
    the baseline at 10x and 19x; each round one reload-class change per collection on the 3-app host."""
    targets = [("pyops-bench-scale1", ["a"]), ("pyops-bench-main", ["a", "b", "c"])]
    # Fresh converges: building uWSGI takes 15 s (this checkout's hosts) or 30 s (the baseline's).
    fresh = {"pyops-bench-scale1": {**playbook_run(20.0, 10), "play_s": 2.0, "install_s": 15.0},
             "pyops-bench-main": {**playbook_run(21.5, 12), "play_s": 2.5, "install_s": 15.0}}
    fresh_old = {"pyops-bench-old1": {"host": "pyops-bench-old1", "apps": 1, **playbook_run(60.0, 30), "play_s": 2.0,
                                      "install_s": 30.0},
                 "pyops-bench-old3": {"host": "pyops-bench-old3", "apps": 3, **playbook_run(100.0, 70), "play_s": 3.0,
                                      "install_s": 40.0}}
    runs = []
    for round_, play in enumerate(PLAYS):
        for apps, new_x, old_x in ((1, 1.5, 10.0), (3, 1.6, 19.0)):
            runs.append(timed(round_, apps, "rerun", new_x * play))
            runs.append(timed(round_, apps, "rerun_old", old_x * play, rerun_changed_old))
            runs.append(timed(round_, apps, "baseline", play))
        steps = runtime.reload_steps(round_, OLD)
        for kind, direction in steps:
            if kind == "reload":
                runs.append(reload_run(round_, kind, direction, new_reload_s[round_] + 0.4, app_reload_s=0.6,
                                       outcome_write_s=0.4))
            else:
                runs.append(reload_run(round_, kind, direction, 20.0 * play))
    change = {"app": "c", "what": "harakiri 60 -> 55", "apps_count": 3}
    return runtime.analyze(targets, fresh, runs, fresh_old=fresh_old, baseline=OLD, change=change)


def test_runtime_ratios_are_medians_of_per_round_ratios_to_the_play():
    rows = runtime_with_baseline()["summary"]
    small, large = rows
    assert small["rerun_over_play"] == pytest.approx(1.5) and large["rerun_over_play"] == pytest.approx(1.6)
    assert small["rerun_over_play_rounds"] == [1.5, 1.5, 1.5] and large["rerun_old_over_play_rounds"] == [19.0] * 3
    assert small["rerun_old_over_play"] == pytest.approx(10.0) and large["rerun_old_over_play"] == pytest.approx(19.0)
    assert small["rerun_new_over_old"] == pytest.approx(0.15)
    # Medians of seconds are another thing: 1.5 x the middle play (3 s).
    assert small["rerun_s_median"] == pytest.approx(4.5) and small["baseline_s_median"] == 3.0
    assert small["fresh_old_s"] == 60.0 and small["fresh_over_play"] == 10.0 and large["fresh_old_over_play"] == 33.333
    assert small["rerun_old_changed"] == [0, 0, 0]


def test_runtime_seconds_per_extra_app():
    result = runtime_with_baseline()
    slopes = result["slopes_s_per_app"]
    # Per round (1.6 - 1.5) x play / 2 extra apps = 0.05 x play: 0.1, 0.2, 0.15 s, median 0.15 s.
    assert slopes["rerun"] == pytest.approx(0.15) and slopes["rerun_net"] == pytest.approx(0.15)
    assert slopes["rerun_old"] == pytest.approx(9 * 3.0 / 2)
    assert slopes["fresh"] == pytest.approx(0.75) and slopes["fresh_old"] == pytest.approx(15.0)
    assert slopes["fresh_old_with_install"] == pytest.approx(20.0)  # its build took longer on the larger host
    assert result["summary"][0]["fresh_net_s"] == 5.0 and result["summary"][-1]["fresh_old_net_s"] == 60.0
    times = [["r : Install uWSGI into its own virtualenv, version 2.0.31", 100.0], ["Gathering Facts", 1.0],
             ["r : Install the packages that build uWSGI and that Ansible's pip module needs", 40.5]]
    assert runtime.install_seconds(times) == 140.5 and runtime.fresh_net({"seconds": 9.0}) is None
    assert runtime.slope({1: 4.0}) is None and runtime.slope({1: 4.0, 5: 6.0, 3: 99.0}) == 0.5
    # A round that lacks one end of the range gives no slope.
    runs = [timed(0, 1, "rerun", 3.0), timed(0, 5, "rerun", 5.0), timed(1, 1, "rerun", 9.0)]
    assert runtime.rerun_slope(runs, "rerun") == 0.5
    assert runtime.rerun_slope(runs[:1], "rerun") is None


def test_runtime_reload_change_rows_and_targets():
    result = runtime_with_baseline()
    reload_ = result["reload"]
    rows = {row["kind"]: row for row in reload_["rows"]}
    new, old = rows["reload"], rows["reload_old"]
    # This checkout's runs without the outcome task: 2.4x the play each round; less its app's 0.6 s reload.
    assert new["over_play"] == pytest.approx(2.4) and new["s_median"] == pytest.approx(7.2)
    assert new["net_over_play"] == pytest.approx((7.2 - 0.6) / 3.0) and new["outcome_write_s_median"] == 0.4
    assert old["over_play"] == pytest.approx(20.0) and old["net_over_play"] is None
    assert reload_["new_over_old"] == pytest.approx(0.12) and reload_["every_run_reloaded"] is True
    # Set and revert alternate between the collections, so each run is a change of its own.
    assert new["directions"] == ["set", "revert", "set"] and old["directions"] == ["revert", "set", "revert"]
    targets = {t["target"]: t for t in result["goal"]["targets"]}
    assert all(t["met"] for t in targets.values()) and result["goal"]["met"] is True
    assert targets["reload-class change, 1 app of 3: (s - the app's reload) x one-task play"]["value"] == 2.2
    baseline_targets = {t["target"]: t["met"] for t in result["baseline_targets"]}
    assert not any(baseline_targets.values())  # 10x, 19x, 13.5 s and 15 s per app; its reload is unmeasured
    slow = runtime_with_baseline(new_reload_s=(9.0, 18.0, 13.5))
    assert slow["goal"]["met"] is False and slow["goal"]["idempotent_baseline"] is True
    assert runtime_with_baseline(rerun_changed_old=2)["goal"]["idempotent_baseline"] is False


def test_runtime_reload_goal_needs_a_real_reload():
    result = runtime_with_baseline()
    runs = [dict(r, action="restart") if r["kind"] == "reload" else r for r in result["runs"]]
    summary = runtime.reload_summary(runs, None)
    assert summary["every_run_reloaded"] is False and summary["baseline_every_run_reloaded"] is True
    # A baseline role that says nothing of its actions leaves its own verdict unmeasured, not this checkout's.
    runs = [dict(r, action=None) if r["kind"] == "reload_old" else r for r in result["runs"]]
    summary = runtime.reload_summary(runs, None)
    assert summary["every_run_reloaded"] is True and summary["baseline_every_run_reloaded"] is None


def test_runtime_reload_steps_and_change():
    assert runtime.reload_steps(0, None) == [("reload", "set"), ("reload", "revert")]
    assert runtime.reload_steps(1, OLD) == [("reload_old", "set"), ("reload", "revert")]
    app_list = [{"name": "a"}, {"name": "z", "options": {"env": ["X=1"]}}]
    change = runtime.reload_change(type("Ctx", (), {"options": {"harakiri": 60}})(), app_list)
    assert change["app"] == "z" and change["what"] == "harakiri 60 -> 55"
    assert change["changed_apps"][-1]["options"] == {"env": ["X=1"], "harakiri": 55}
    assert app_list[-1]["options"] == {"env": ["X=1"]}  # the unchanged list stays so


def test_runtime_reads_what_each_role_said(tmp_path):
    outcome = tmp_path / "outcome.json"
    outcome.write_text(json.dumps({"apps": {"c": {"action": "reload", "health": {"status": 200, "elapsed": 0.42}},
                                            "a": {"action": "none", "health": None}}}))
    apps = runtime.read_outcome(outcome)
    assert runtime.read_outcome(tmp_path / "missing.json") is None
    facts = runtime.reload_facts({"seconds": 5.0}, "c", apps, {})
    assert facts == {"seconds": 5.0, "app": "c", "action": "reload", "others_none": True, "app_reload_s": 0.42}
    # The baseline role: its loop labels say the action; it reports no reload time.
    out = ("changed: [pyops-bench-main] => (item=c: reload)\nok: [pyops-bench-main] => (item=a: none)\n"
           "ok: [pyops-bench-main] => (item=c: reload)\n")
    assert runtime.loop_actions(out) == {"c": "reload", "a": "none"}
    facts = runtime.reload_facts({"seconds": 40.0}, "c", None, runtime.loop_actions(out))
    assert facts["action"] == "reload" and facts["others_none"] is True and facts["app_reload_s"] is None
    times = [["Gathering Facts", 1.0], ["Write each app's action to the controller", 0.3]]
    assert runtime.task_seconds(times, runtime.OUTCOME_TASK) == 0.3 and runtime.task_seconds([], "x") is None


def test_runtime_report_and_readme_table():
    result = runtime_with_baseline()
    table = result["readme_table"].splitlines()
    assert table[0].startswith("| Role run time") and "before (88cb454)" in table[0]
    assert "| idempotent re-run, 1 app (changed=0) | 30.0 s (10.0x) | 4.5 s (1.5x) | <= 2x |" in table
    assert "| re-run, each extra app | 13.50 s | 0.15 s | <= 0.2 s |" in table
    assert any(line.startswith("| one reload-class change (harakiri 60 -> 55), 1 app of 3 |") for line in table)
    text = report.runtime_text(result, {"rt_rounds": 3})
    for words in ("Baseline collection 88cb454", "Reload-class change: harakiri 60 -> 55 on c", "README table:",
                  "target (issue 12)", "reports no reload time", "(issue 12): MET"):
        assert words in text


class SequenceCtx:
    """Just what interleaved_runs needs of a benchmark context; apps files are their labels."""

    main = "pyops-bench-main"
    options = {"harakiri": 60}

    def __init__(self, tmp_path, rounds):
        self.settings = type("Settings", (), {"rt_rounds": rounds})()
        self.work = tmp_path
        self.log = tmp_path / "log"

    def apps_file(self, label, _app_list):
        return label

    def say(self, _text):
        pass


def test_runtime_settles_a_host_the_other_collection_ran_last(tmp_path, monkeypatch):
    """Each timed run finds the host as its own collection left it: a settle run of that collection
    comes first whenever the other one ran last there, and never otherwise."""
    calls = []

    def fake_role_run(_ctx, host, extra, old=None, outcome=None, app=None):
        calls.append((host, "old" if old else "new", extra[0]))
        return {"seconds": 1.0, "recap": {"tasks": 20, "changed": 0}, "slowest_tasks": []}

    monkeypatch.setattr(runtime, "role_run", fake_role_run)
    monkeypatch.setattr(runtime.hosts, "playbook", lambda *_a, **_k: {"seconds": 0.5, "recap": {"tasks": 1}})
    ctx = SequenceCtx(tmp_path, 2)
    targets = [("pyops-bench-scale1", ["a"]), (ctx.main, ["a", "b", "c"])]
    change = runtime.reload_change(ctx, [{"name": n} for n in "abc"])
    runs = runtime.interleaved_runs(ctx, targets, OLD, change)
    kinds = [(r["apps"], r["kind"], r.get("baseline")) for r in runs if r["kind"] != "baseline"]
    assert kinds == [
        (1, "rerun", None), (1, "settle", True), (1, "rerun_old", None),
        (3, "rerun", None), (3, "settle", True), (3, "rerun_old", None),
        (3, "settle", False), (3, "reload", None), (3, "settle", True), (3, "reload_old", None),
        (1, "rerun_old", None), (1, "settle", False), (1, "rerun", None),
        (3, "rerun_old", None), (3, "settle", False), (3, "rerun", None),
        (3, "settle", True), (3, "reload_old", None), (3, "settle", False), (3, "reload", None)]
    # A settle run applies what the host has: the revert's settle runs with the changed apps.
    main = [(who, apps_file) for host, who, apps_file in calls if host == ctx.main]
    assert main[:6] == [("new", ctx.main), ("old", ctx.main), ("old", ctx.main), ("new", ctx.main),
                        ("new", f"{ctx.main}-reload"), ("old", f"{ctx.main}-reload")]
    # The analysis leaves the settle runs out of every figure.
    assert runtime.size_row(1, playbook_run(9.0), runs)["rerun_s_runs"] == [1.0, 1.0]
    # Without a baseline there is nothing to settle.
    calls.clear()
    runs = runtime.interleaved_runs(ctx, targets, None, change)
    assert not [r for r in runs if r["kind"] == "settle"] and len(calls) == 2 * (1 + 1 + 2)


def test_baseline_collection_ref_and_path():
    assert baseline_collection.resolve("") is None and baseline_collection.resolve("off") is None
    assert baseline_collection.resolve("previous") == "88cb4545063087591f6141edbf98413537b73d7d"
    assert baseline_collection.resolve(" v0.1.0 ") == "v0.1.0"
    assert baseline_collection.collections_path("/b").split(":") == ["/b", str(REPO / ".cache" / "collections")]
    assert settings.from_env({"BENCH_BASELINE_REF": "previous"}).baseline_ref == "previous"
    assert settings.from_env({}).baseline_ref == ""


# --- 7. Fleet: rollouts over four hosts -----------------------------------------------------------------
def rollout_run(round_, kind, seconds, changed=0, plays=4, direction=None):
    recaps = {host: {"changed": changed, "failed": 0, "unreachable": 0} for host in fleet.HOSTS}
    run = {"round": round_, "apps": len(fleet.HOSTS), "kind": kind, "seconds": seconds, "recaps": recaps,
           "plays": plays, "slowest_tasks": []}
    return run if direction is None else {**run, "direction": direction}


def fleet_result(old_changed=0):
    runs = []
    for round_, play in enumerate([8.0, 12.0, 10.0]):
        runs += [rollout_run(round_, "rerun", 2 * play), rollout_run(round_, "rerun_old", 12 * play, old_changed),
                 rollout_run(round_, "baseline", play)]
        for kind, direction in runtime.reload_steps(round_, OLD):
            runs.append(rollout_run(round_, kind, (3 if kind == "reload" else 13) * play, 1, direction=direction))
    first = rollout_run(-1, "first", 400.0, 6)
    return fleet.analyze(first, runs, OLD, {"app": "app01", "what": "harakiri 60 -> 55", "apps_count": 1}, 1)


def test_fleet_settles_the_fleet_the_other_collection_ran_last(tmp_path, monkeypatch):
    """The fleet's rounds use the same rule as the runtime benchmark's (runtime.LastRun.settle_then)."""
    calls = []

    def fake_rollout(_ctx, number, kind, apps_file, old=None):
        calls.append((kind, apps_file))
        return {"round": number, "apps": len(fleet.HOSTS), "kind": kind}

    monkeypatch.setattr(fleet, "rollout", fake_rollout)
    monkeypatch.setattr(fleet.hosts, "fleet_playbook", lambda *_a, **_k: {"seconds": 1.0})
    ctx = SequenceCtx(tmp_path, 1)
    ctx.settings.fleet_rounds = 1
    runs = fleet.rounds(ctx, "default", "changed", OLD)
    assert calls == [("rerun", "default"), ("settle_old", "default"), ("rerun_old", "default"),
                     ("settle", "default"), ("reload", "changed"), ("settle_old", "changed"), ("reload_old", "default")]
    assert [(r["kind"], r.get("direction")) for r in runs if r["kind"] in ("reload", "reload_old")] == [
        ("reload", "set"), ("reload_old", "revert")]


def test_fleet_rollouts_per_batch_and_ratios():
    result = fleet_result()
    rows = {row["kind"]: row for row in result["summary"]["rows"]}
    assert rows["rerun"]["over_play"] == 2.0 and rows["rerun_old"]["over_play"] == 12.0
    assert rows["rerun"]["s_median"] == 20.0 and rows["rerun"]["s_per_batch_median"] == 5.0
    assert rows["reload"]["over_play"] == 3.0 and rows["reload_old"]["changed"][0] == [1, 1, 1, 1]
    assert result["summary"]["rerun_new_over_old"] == pytest.approx(2 / 12, abs=1e-3)
    assert result["summary"]["reload_new_over_old"] == pytest.approx(3 / 13, abs=1e-3)
    assert result["goal"]["met"] is True
    assert fleet_result(old_changed=1)["goal"]["met"] is False
    text = fleet.summary_text(result)
    assert "no change, baseline (88cb454)" in text and "Goal" in text and ": MET" in text
    table = result["readme_table"].splitlines()
    assert table[0].startswith("| rolling_update over 4 hosts, 1 app(s) each: s per batch") and "2.5 s per batch" in table[0]
    assert table[2] == "| no change | 30.0 s (12.0x) | 5.0 s (2.0x) |"
    assert table[3] == "| one reload-class change (harakiri 60 -> 55) | 32.5 s (13.0x) | 7.5 s (3.0x) |"
    assert parse.plays("PLAY [a] ***\nTASK [x]\nPLAY [a] ***\nPLAY RECAP ***\n") == 2


def test_respawns_in_the_same_second_are_counted_as_together():
    found = throughput.respawn_summary([100.2, 100.9, 103.5, 130.0, 130.4, 131.0])
    assert found == {"respawns": 6, "same_second": 4, "seconds": [0.0, 0.7, 3.3, 29.8, 30.2, 30.8]}
    assert throughput.respawn_summary([]) == {"respawns": 0, "same_second": 0, "seconds": []}


# --- 9. Releases: the versions, the schedule and the analysis on a synthetic session -----------------
def test_releases_app_versions_and_wheels(tmp_path, monkeypatch):
    good = releases.app_source("v3", 0, deps=(0, 1))
    broken = releases.app_source("x-broken", 0, broken=True)
    unhealthy = releases.app_source("x-unhealthy", 0, status=500)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for number in (0, 1):
        with zipfile.ZipFile(io.BytesIO(releases.wheel_bytes(number))) as wheel:
            for name in wheel.namelist():
                if name.endswith(".py"):
                    wheel.extract(name, wheels)
            record = wheel.read(f"relbench_dep{number}-1.0.dist-info/RECORD").decode()
            assert f"relbench_dep{number}.py,sha256=" in record and "RECORD,," in record
    monkeypatch.syspath_prepend(str(wheels))
    answers = []
    scope = {}
    exec(compile(good, "relapp.py", "exec"), scope)  # pylint: disable=exec-used
    body = b"".join(scope["application"]({}, lambda status, headers: answers.append(status)))
    assert answers == ["200 OK"] and json.loads(body)["version"] == "v3"
    scope = {}
    exec(compile(unhealthy, "relapp.py", "exec"), scope)  # pylint: disable=exec-used
    scope["application"]({}, lambda status, headers: answers.append(status))
    assert answers[-1] == "500 Internal Server Error"
    with pytest.raises(ImportError, match="deliberately broken"):
        exec(compile(broken, "relapp.py", "exec"), {})  # pylint: disable=exec-used
    # BROKEN_DEP: dependency 0's version 2.0, whose module raises when imported.
    with zipfile.ZipFile(io.BytesIO(releases.wheel_bytes(releases.BROKEN_DEP))) as wheel:
        assert "Version: 2.0" in wheel.read("relbench_dep0-2.0.dist-info/METADATA").decode()
        source = wheel.read("relbench_dep0.py").decode()
    assert releases.wheel_name(releases.BROKEN_DEP) == "relbench_dep0-2.0-py3-none-any.whl"
    with pytest.raises(ImportError, match="relbench_dep0 2.0: deliberately broken"):
        exec(compile(source, "relbench_dep0.py", "exec"), {})  # pylint: disable=exec-used


def test_releases_schedule_interleaves_and_keeps_the_last_good_state():
    versions, steps, final = releases.schedule(2)
    kinds = [(step["kind"], step["app"]) for step in steps]
    # Round 1 starts with today's route, round 2 with the release.
    assert kinds[:4] == [("code", "base"), ("code", "rel"), ("deps", "base"), ("deps", "rel")]
    assert kinds[4:8] == [("code", "rel"), ("code", "base"), ("deps", "rel"), ("deps", "base")]
    deps_rel = [step for step in steps if step["kind"] == "deps" and step["app"] == "rel"]
    assert [step["state"]["rel"]["packages"] for step in deps_rel] == [(0, 1), (0, 1, 2)]
    broken = next(step for step in steps if step["kind"] == "broken" and step["app"] == "rel")
    assert broken["fails"] and broken["serves_after"] == "v5" and versions["x-broken"]["broken"]
    # The run after a failed one starts from the last good state.
    after = steps[steps.index(broken) + 1]
    assert after["state"]["base"]["version"] == "v5" and after["state"]["rel"]["version"] == "x-unhealthy"
    # The packages route with a broken version: only base's packages change (dep0 1.0 -> 2.0), it fails,
    # and the runs after it start from base's last good packages again.
    pkg = next(step for step in steps if step["kind"] == "pkgbroken")
    assert (pkg["app"], pkg["fails"], pkg["serves_after"]) == ("base", True, "v5")
    assert pkg["state"]["base"] == {"version": "v5", "packages": (releases.BROKEN_DEP, 1, 2)}
    assert pkg["state"]["rel"] == steps[steps.index(pkg) + 1]["state"]["rel"]
    assert steps[steps.index(pkg) + 1]["state"]["base"]["packages"] == (0, 1, 2)
    back = [step for step in steps if step["kind"] == "back" and step["app"] == "rel"]
    assert [(step["from"], step["to"], step["state"]["rel"]["packages"]) for step in back] == [("v5", "v4", (0, 1))] * 2
    assert [step["round"] for step in steps if step["kind"] == "play"] == [0, 1]
    rerun = next(step for step in steps if step["kind"] == "rerun")
    assert steps[steps.index(rerun) - 1]["kind"] == "play" and rerun["state"]["rel"]["version"] == "v4"
    assert final == {"base": {"version": "v5", "packages": (0, 1, 2)}, "rel": {"version": "v5", "packages": (0, 1, 2)}}
    rel = releases.app_entry("rel", final["rel"], "/c/archives")
    assert rel["release"] == {"id": "v5", "source": {"archive": "/c/archives/v5.tar.gz"},
                              "packages": [releases.wheel_path(n) for n in (0, 1, 2)]}
    assert "chdir" not in rel and rel["health_check"] == {"timeout": releases.HEALTH_TIMEOUT_S}
    base = releases.app_entry("base", {"version": "v4", "packages": (0,)}, "/c/archives")
    assert base["chdir"] == "/srv/relbench/code/v4" and base["virtualenv"] == releases.BASE_VENV
    lazy = [entry for entry in releases.flask_entries() if entry["options"].get("lazy-apps")]
    assert [entry["name"] for entry in lazy] == ["rel-flask-lazy"]


def test_releases_write_sources(tmp_path):
    versions, _steps, _final = releases.schedule(1)
    out = releases.write_sources(tmp_path, versions, 5)
    assert (out / "host" / "code" / "v3" / "relapp.py").read_text().count("import relbench_dep") == 2
    with tarfile.open(out / "archives" / "v2.tar.gz") as archive:
        assert archive.getnames() == ["relapp.py"]
    assert sorted(p.name for p in (out / "host" / "wheels").iterdir()) == sorted(
        releases.wheel_name(n) for n in (0, 1, releases.BROKEN_DEP))


def test_releases_run_figures_and_messages():
    records = safe_changes.wall_records(steady_report(100.0, [[0.0, 0.01, 200, ""], [0.5, 4.9, 200, ""],
                                                              [1.0, 0.02, 0, "TimeoutError"], [9.0, 0.5, 200, ""]]))
    figures = releases.run_figures(records, 100.0, 105.0)
    assert figures == {"sent": 3, "failed": 1, "errors": {"TimeoutError": 1}, "longest_wait_s": 4.9, "p99_s": 4.9}
    assert releases.percentile([1, 2, 3, 4], 0.5) == 2 and releases.percentile([], 0.99) is None
    assert releases.serves_ok({"200 v4": 10}, "v4") and not releases.serves_ok({"200 v4": 9, "500": 1}, "v4")
    assert not releases.serves_ok({}, "v4")
    step = {"app": "rel", "serves_after": "v5"}
    said = ("Release x-broken of app 'rel' on host h was NOT switched to: importing relapp:application failed. The "
            "app was not touched: it still serves release v5.")
    assert releases.says_old_serves(step, {"rc": 2, "failure": said})
    assert not releases.says_old_serves(step, {"rc": 0, "failure": said})
    assert not releases.says_old_serves({"app": "rel", "serves_after": "v4"}, {"rc": 2, "failure": said})
    assert releases.says_old_serves({"app": "base", "serves_after": "v5"}, {"rc": 2, "failure": "x\nRolled back to"})
    kept = "App 'base' on host h: its new packages were NOT applied: x. Its virtualenv ... it still serves its old code"
    assert releases.says_old_serves({"app": "base", "kind": "pkgbroken", "serves_after": "v5"}, {"rc": 2, "failure": kept})
    assert not releases.says_old_serves({"app": "base", "kind": "pkgbroken", "serves_after": "v5"},
                                        {"rc": 2, "failure": "x\nRolled back to"})


FAILED_MESSAGE = ("Release {to} of app 'rel' on host pyops-bench-releases was NOT switched to: importing relapp failed. "
                  "The app was not touched: it still serves release v3.")

PACKAGES_MESSAGE = ("App 'base' on host pyops-bench-releases: its new packages were NOT applied: importing relapp failed. "
                    "Its virtualenv was put back as it was before this run, and the app was not reloaded: it still "
                    "serves its old code, and its next reload or restart loads that code.")


def releases_session(drop_in_release=False):
    """rounds=1 at 10 req/s per app from t=1000: every run lasts 10 s and starts 12 s after the one before;
    today's route stalls 5 s at the start of each of its runs, the release never (unless drop_in_release)."""
    _versions, steps, _final = releases.schedule(1)
    done, t = [], 1000.0
    stalls = []
    for step in steps:
        if step["kind"] == "play":
            done.append((step, {"role_s": 4.0, "own_s": 4.0}))
            continue
        if step["kind"] == "rerun":
            done.append((step, {"start": t, "end": t + 6.0, "role_s": 6.5, "own_s": 6.0, "rc": 0,
                                "recap": {"changed": 0}, "switched": {}, "served": {}, "failure": ""}))
            t += 8.0
            continue
        chain = {"from": step["from"], "to": step["to"], "loaded": "chain", "seconds": 6.0} \
            if step["app"] == "rel" and not step["fails"] else None
        run = {"start": t, "end": t + 10.0, "role_s": 10.0 if step["app"] == "base" else 16.0,
               "own_s": 9.5 if step["app"] == "base" else 15.5, "rc": 2 if step["fails"] else 0,
               "recap": {"changed": 1}, "switched": {"rel": chain} if chain else {},
               "served": {f"200 {step['serves_after']}": 10},
               "failure": ((FAILED_MESSAGE.format(**step) if step["app"] == "rel" else PACKAGES_MESSAGE
                            if step["kind"] == "pkgbroken" else "Rolled back to the last good")
                           if step["fails"] else "")}
        if step["app"] == "base" and step["kind"] != "pkgbroken":  # new packages that fail are never reloaded
            stalls.append(t)
        done.append((step, run))
        t += 12.0
    loads = {}
    for app in ("base", "rel"):
        records = []
        for n in range(int((t - 1000.0) * 10)):
            sent = 1000.0 + n / 10
            latency = 0.003
            if app == "base" and any(start <= sent < start + 5.0 for start in stalls):
                latency = 5.0 - (sent - max(start for start in stalls if start <= sent))
            status, error = 200, ""
            if drop_in_release and app == "rel" and n == 130:
                status, error = 0, "ConnectionRefusedError"
            records.append([round(n / 10, 4), latency, status, error])
        loads[app] = steady_report(1000.0, records)
    eager = [{"pid": 1, "name": "m", "rss_mb": 90.0, "pss_mb": 20.0}]
    eager += [{"pid": 2 + i, "name": "w", "rss_mb": 92.0, "pss_mb": 12.0} for i in range(8)]
    lazy = [{"pid": 1, "name": "m", "rss_mb": 10.0, "pss_mb": 4.0}]
    lazy += [{"pid": 2 + i, "name": "w", "rss_mb": 95.0, "pss_mb": 80.0} for i in range(8)]
    memory = {"rel-flask-eager": {"requests": 400, "failed": 0,
                                  "samples": [{"processes": eager, "rss_mb": 826.0, "pss_mb": 116.0}]},
              "rel-flask-lazy": {"requests": 400, "failed": 0,
                                 "samples": [{"processes": lazy, "rss_mb": 770.0, "pss_mb": 644.0}]}}
    settings_ = {"rounds": 1, "rate": 10, "import_s": 5, "gap_s": 2, "health_timeout_s": 20}
    return releases.analyze(done, loads, memory, settings_, (1000.0, t))


def test_releases_analysis_targets_summary_and_plot(tmp_path):
    result = releases_session()
    kinds = {(row["kind"], row["app"]): row for row in result["summary"]["kinds"]}
    assert kinds[("code", "base")]["longest_wait_s"] == 5.0 and kinds[("code", "rel")]["longest_wait_s"] == 0.003
    assert kinds[("code", "rel")]["failed"] == 0 and kinds[("code", "rel")]["chain_s_median"] == 6.0
    assert kinds[("broken", "rel")]["says_old_serves"] and kinds[("unhealthy", "base")]["says_old_serves"]
    assert result["summary"]["ratios"]["code"]["longest_wait_base_over_rel"] == [round(5.0 / 0.003, 2)]
    assert result["summary"]["ratios"]["code"]["role_s_rel_over_base"] == [1.6]
    back = result["summary"]["back"]["rel"]
    assert back["over_play"] == [3.88] and back["net_of_chain_over_play"] == [2.38] and back["chain_s"] == [6.0]
    assert result["summary"]["reruns"] == [{"round": 0, "own_s": 6.0, "changed": 0, "rc": 0, "over_play": 1.5}]
    assert not any(row["kind"] == "rerun" for row in result["runs"]["rows"])
    targets = {t["target"].split(":")[0]: t for t in result["goal"]["targets"]}
    assert targets["a release (new code)"]["met"] and targets["a release answering 500"]["met"]
    assert targets["a broken version through `packages` (no release)"]["met"]
    assert kinds[("pkgbroken", "base")]["failed"] == 0 and kinds[("pkgbroken", "base")]["longest_wait_s"] == 0.003
    assert targets["going back to the previous release"]["met"] is False  # 2.38x the play net of the chain
    assert result["goal"]["met"] is False
    memory_ = result["summary"]["memory"]
    assert memory_["lazy_cost"] == {"worker_rss_mb_median": 3.0, "worker_pss_mb_median": 68.0, "total_rss_mb": -56.0,
                                    "total_pss_mb": 528.0}
    results = full_results()
    results["benchmarks"]["releases"] = result
    assert report.problems(results) == []
    text = releases.summary_text(result)
    assert "NOT switched" in text and "lazy-apps costs per worker RSS +3.0 / PSS +68.0 MB" in text
    assert "-> NOT MET" in text
    assert releases.write_plot(results, tmp_path) == ["releases.png"]
    assert (tmp_path / "releases.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_releases_goal_fails_on_a_failed_request_and_is_met_otherwise(monkeypatch):
    monkeypatch.setattr(releases, "BACK_MAX_OVER_PLAY", 2.5)
    assert releases_session()["goal"]["met"] is True
    dropped = releases_session(drop_in_release=True)
    kinds = {(row["kind"], row["app"]): row for row in dropped["summary"]["kinds"]}
    assert kinds[("code", "rel")]["failed"] == 1 and dropped["goal"]["met"] is False
