"""Parsers for what the tools print: wrk's report and ansible-playbook's PLAY RECAP."""

import re

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RECAP_FIELDS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


def duration_seconds(text):
    """wrk's duration ('512.00us', '1.23ms', '2.01s', '1.00m') in seconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_report(text):
    """The figures of one `wrk --latency` run: requests/s, p50/p90/p99 in ms, requests, errors.

    uWSGI's http-socket closes the connection after each response, which wrk counts as a socket
    read error: those are kept apart (read_errors) from real errors (errors)."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    requests = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+)", text, re.M)
    if not rps or not requests:
        raise ValueError("wrk printed no Requests/sec line:\n" + text)
    report = {
        "rps": float(rps.group(1)),
        "requests": int(requests.group(1)),
        "seconds": duration_seconds(requests.group(2)),
        "errors": 0,
        "read_errors": 0,
    }
    for percent, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M):
        report[f"p{percent}_ms"] = duration_seconds(value) * 1000
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if errors:
        connect, read, write, timeout = (int(n) for n in errors.groups())
        report["errors"] += connect + write + timeout
        report["read_errors"] = read
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        report["errors"] += int(non_2xx.group(1))
    return report


def play_recap(text, host):
    """The PLAY RECAP counters of `host` (ok, changed, ..., ignored) and `tasks` (ok + failed + skipped)."""
    match = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", text.split("PLAY RECAP", 1)[-1], re.M)
    if not match:
        raise ValueError(f"no PLAY RECAP line for {host}")
    counters = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}
    recap = {key: counters.get(key, 0) for key in _RECAP_FIELDS}
    recap["tasks"] = recap["ok"] + recap["failed"] + recap["skipped"]
    return recap


def task_times(text):
    """The slowest tasks listed by the ansible.posix.profile_tasks callback: [[task, seconds], ...]."""
    recap = text.split("TASKS RECAP", 1)
    if len(recap) < 2:
        return []
    return [[name.strip(), float(seconds)] for name, seconds in re.findall(r"^(.+?) -+ ([0-9.]+)s$", recap[1], re.M)]


def plays(text):
    """How many plays ansible-playbook ran ('PLAY [name]' headers; a play with `serial` has one per batch)."""
    return len(re.findall(r"^PLAY \[", text, re.M))
