"""Helpers for the testinfra tests that molecule runs against a real systemd test host.

Every request is made from INSIDE the test host to its own loopback.
A failing test gets the journal of the units its module names in UNITS appended to its report.
"""

import pytest

JOURNAL_LINES = 60


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    host = item.funcargs.get("host")
    for unit in getattr(item.module, "UNITS", []):
        if host is None:
            break
        out = host.run(f"journalctl --unit {unit} --lines {JOURNAL_LINES} --no-pager --output short-precise")
        report.sections.append((f"journal of {unit}", out.stdout + out.stderr))
