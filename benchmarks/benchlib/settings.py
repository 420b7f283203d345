"""Run lengths and choices, from BENCH_* environment variables (BENCH_QUICK=1: short runs for development)."""

import dataclasses

BENCHMARKS = ("runtime", "throughput", "busyness", "stop", "memory", "safe_changes", "fleet", "releases")


@dataclasses.dataclass
class Settings:
    """Every knob of a run; each field can be set by the environment variable BENCH_<FIELD>."""

    quick: bool = False
    only: tuple = BENCHMARKS
    keep_hosts: bool = False
    # 1. Throughput: interleaved rounds of wrk runs, one run per variant per round.
    tp_rounds: int = 3
    tp_seconds: int = 5
    tp_connections: int = 8
    tp_threads: int = 2
    # 2. Stop latency: interleaved rounds of (role idle, docs idle, role loaded, docs loaded).
    stop_rounds: int = 3
    docs_stop_timeout: int = 10
    # 3. Role run time: app counts, and interleaved rounds of re-runs and baseline plays. baseline_ref: a
    # commit whose collection is timed beside this checkout's ("previous": the last commit before the
    # role's decisions moved to Python; empty: none).
    rt_sizes: tuple = (1, 5, 20)
    rt_rounds: int = 3
    baseline_ref: str = ""
    # 4. Busyness: replicas bursted at once; concurrent slow requests per replica.
    busy_replicas: int = 3
    busy_concurrency: int = 4
    busy_request_ms: int = 200
    busy_seconds: int = 10
    busy_max_seconds: int = 240
    # 5. Memory: idle samples; leak step per request; reload-on-rss of the leaking app (0: the role's).
    mem_samples: int = 5
    leak_step_mb: int = 256
    leak_reload_on_rss: int = 0
    # 6. Safe changes: requests/s on each socket; seconds between changes; before/after windows.
    sc_rate: int = 100
    sc_settle: int = 10
    sc_window: int = 5
    # 7. Fleet: identical apps on each of its four hosts; interleaved rounds of rollouts.
    fleet_apps: int = 1
    fleet_rounds: int = 3
    # 9. Releases: interleaved rounds of new code (and new code with a new dependency) on today's route and as a
    # release, then as many rounds of going back; requests/s on each app; the app's import time; seconds
    # between role runs.
    rel_rounds: int = 1
    rel_rate: int = 50
    rel_import_s: int = 5
    rel_gap: int = 2


QUICK = {"tp_rounds": 1, "tp_seconds": 2, "stop_rounds": 1, "rt_sizes": (1, 2), "rt_rounds": 1,
         "busy_replicas": 1, "busy_seconds": 5, "busy_max_seconds": 45, "mem_samples": 2,
         "sc_settle": 6, "sc_window": 3, "fleet_rounds": 1}


def truthy(text):
    """True for 1, true, yes (any case)."""
    return text.strip().lower() in ("1", "true", "yes")


def convert(field, text):
    """The value of environment text for a field of Settings."""
    default = getattr(Settings, field.name)
    if isinstance(default, bool):
        return truthy(text)
    if isinstance(default, int):
        return int(text)
    if isinstance(default, str):
        return text.strip()
    if field.name == "only":
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = set(names) - set(BENCHMARKS)
        if unknown:
            raise ValueError(f"BENCH_ONLY: unknown benchmark(s) {sorted(unknown)}; known: {', '.join(BENCHMARKS)}")
        return names
    return tuple(int(part) for part in text.split(","))


def from_env(env):
    """Settings from a mapping of environment variables."""
    values = {}
    if truthy(env.get("BENCH_QUICK", "")):
        values.update(QUICK)
    for field in dataclasses.fields(Settings):
        text = env.get(f"BENCH_{field.name.upper()}")
        if text is not None and text != "":
            values[field.name] = convert(field, text)
    return Settings(**values)
