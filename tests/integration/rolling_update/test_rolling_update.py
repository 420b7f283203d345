"""molecule/rolling_update: release B rolled out to four hosts in batches of 1, 2, 2.

rolling-1 (batch 1) and rolling-2 (batch 2) take B; rolling-3 (batch 2) cannot import B, so the role
rolls it back to A and the rollout stops; rolling-4 (batch 3) is never touched. Every host served a
steady load (50 requests/s on its own loopback) for the whole rollout.
"""

import json

import pytest
import record
from hostcheck import http_get, unit_properties

UNITS = ["uwsgi-shop.service"]
URL = "http://127.0.0.1:8095/"
EXPECTED_RELEASE = {"rolling-1": "B", "rolling-2": "B", "rolling-3": "A", "rolling-4": "A"}


def name(host):
    return host.backend.get_hostname()


def read_json(host, path):
    return json.loads(host.file(path).content_string)


@pytest.fixture
def rollout(host):
    return read_json(host, "/var/tmp/rolling-rollout.json")


def test_each_host_serves_the_release_it_should(host):
    status, body = http_get(host, URL)
    assert (status, body.strip()) == (200, f"release {EXPECTED_RELEASE[name(host)]}")
    assert unit_properties(host, "uwsgi-shop.service", "ActiveState")["ActiveState"] == "active"


def test_no_request_failed_during_the_rollout(host):
    load = read_json(host, "/var/tmp/rolling-load.json")
    print(f"\n{name(host)}: sent {load['sent']}, failed {load['failed']} {load['errors']}, "
          f"slowest {load['max_latency']:.2f} s")
    assert load["sent"] >= 100  # the load really ran across the rollout
    assert load["failed"] == 0, load["errors"]


def test_rollout_failed_naming_the_broken_host_and_its_rollback(rollout):
    assert rollout["rc"] != 0
    run = record.Record(data=rollout["record"])  # tests/callback_plugins/pyops_record.py wrote it
    failed = run.failed()
    assert {task["host"] for task in failed} == {"rolling-3"}, failed
    text = "\n".join(run.messages(failed))
    assert "uWSGI app 'shop' (uwsgi-shop.service) failed" in text
    assert "on host rolling-3" in text and "Rolled back to the last good configuration" in text
    assert "it answers again" in text


def test_later_batches_were_never_touched(host, rollout):
    run = record.Record(data=rollout["record"])
    assert "rolling-4" not in run.stats  # batch 3 never ran
    assert all("rolling-4" not in hosts for hosts in run.play_hosts())
    if name(host) == "rolling-4":
        before = read_json(host, "/var/tmp/rolling-before.json")
        ini = host.check_output("sha1sum /etc/uwsgi-production/shop.ini | cut -d' ' -f1")
        started = unit_properties(host, "uwsgi-shop.service", "ExecMainStartTimestampMonotonic")
        assert ini == before["ini"]
        assert started["ExecMainStartTimestampMonotonic"] == before["started"]
        assert host.run("journalctl --unit uwsgi-shop.service --grep 'Reloading' --no-pager --quiet").stdout == ""


def test_the_rolled_back_host_keeps_release_a_as_its_last_good_config(host):
    ini = host.file("/etc/uwsgi-production/shop.ini").content_string
    good = host.file("/etc/uwsgi-production/last-good/shop.ini").content_string
    release = EXPECTED_RELEASE[name(host)]
    assert f"chdir = /srv/rolling/releases/{release}" in ini
    assert good == ini
