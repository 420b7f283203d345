"""molecule/system_install's switches: from Debian's uWSGI to the pip method and back, one role run
each under a steady load, read from the records molecule/system_install/side_effect.yml wrote.

Not collected by the verifier: the side effect runs this file as its last task, right after it wrote
the records, so each test runs once, on the switches it just made (a verify before the side effect
would have nothing to read).
"""

import json

import pytest
from hostcheck import http_get
from test_system_install import APP, BINARY, RECORDS, UNIT

UNITS = [UNIT]
HELLO = "hello from uWSGI\n"


def app_processes(snapshot):
    """[pid, executable, command line] of the app's master and workers."""
    return [row for row in snapshot["processes"] if row[2].startswith(f"{APP['name']} uWSGI")]


def assert_only(snapshot, method):
    """The app's master and every worker run `method`'s binary, and no other uWSGI process runs."""
    processes = app_processes(snapshot)
    names = [row[2] for row in processes]
    assert f"{APP['name']} uWSGI master" in names, snapshot
    assert sum(name.startswith(f"{APP['name']} uWSGI worker") for name in names) >= 1, snapshot
    assert {row[1] for row in processes} == {BINARY[method]}, snapshot
    assert snapshot["main_pid"] in [row[0] for row in processes], snapshot
    # Every process of either binary (also one whose file was deleted) is one of the app's.
    assert snapshot["processes"] == processes, snapshot


@pytest.fixture(scope="module")
def records(host):
    assert host.file(RECORDS).exists, f"{RECORDS} is missing: molecule/system_install/side_effect.yml writes it"
    return json.loads(host.file(RECORDS).content_string)


def test_before_the_switches_debians_uwsgi_served(records):
    assert_only(records["before"], "system")
    assert records["before"]["http"] == [200, HELLO]


@pytest.mark.parametrize("method", ["pip", "system"])
def test_after_each_switch_the_app_serves_on_the_new_binary_only(records, method):
    snapshot = records[method]
    assert_only(snapshot, method)
    assert snapshot["http"] == [200, HELLO]


@pytest.mark.parametrize("method", ["pip", "system"])
def test_each_switch_was_a_health_checked_restart(records, method):
    """The unit changed (ExecStart), so the role restarted the app and asked it for its page."""
    before = records["before" if method == "pip" else "pip"]
    assert records[method]["role"] == {"action": ["restarted"], "health": [200]}
    assert records[method]["main_pid"] != before["main_pid"]


def test_switching_to_pip_leaves_debians_packages_and_back_deletes_the_virtualenv(records):
    assert records["before"]["venv_exists"] is False
    assert records["pip"]["venv_exists"] is True
    assert records["pip"]["packages"] == {"uwsgi-core": "installed", "uwsgi-plugin-python3": "installed"}
    assert records["system"]["venv_exists"] is False


def test_no_request_failed_across_both_switches(host, records):
    load = json.loads(host.file("/var/tmp/system-install-load.json").content_string)
    print(f"\nacross both switches: sent {load['sent']}, failed {load['failed']} {load['errors']}, "
          f"slowest {load['max_latency']:.2f} s")
    assert load["sent"] >= 100  # the load ran across both role runs
    assert load["failed"] == 0, load["errors"]
    assert http_get(host, f"http://{APP['http_socket']}/") == (200, HELLO)
