"""molecule/rejected_option: bad configurations applied to a configured host never reach it."""

import json

import pytest
from hostcheck import http_get, unit_properties

UNIT = "uwsgi-typo.service"
UNITS = [UNIT]
INI = "/etc/uwsgi-production/typo.ini"
RESULT = "/var/tmp/molecule-rejected-option-result.json"
LABELS = ["the blog's misspelt option", "fewer workers than cheaper", "a relative socket path",
          "two apps on one port", "a stop timeout below worker-reload-mercy", "an unsafe app name",
          "a value uWSGI rejects", "a port another program holds", "a virtualenv of another Python"]
# Tried through the role before the cases above (issue 14): each names its variable.
INJECTIONS = ["a socket path with a line for the socket unit", "an option value with a second ini line",
              "an option key that comments the rest of its line out",
              "the app's user overridden through unit_hardening", "root as the service group"]
# Values of a shape that cannot work where the role puts them, and what the host does not have (issue 23),
# tried between the same two snapshots: each names its variable, its value and the rule.
SHAPES = ["a relative uWSGI virtualenv", "a unix socket path longer than a socket address holds",
          "an IPv4 address with an octet above 255", "a hostname for systemd's ListenStream=",
          "a dict as a unit_hardening value",
          "a health-check path with CR/LF", "uWSGI's own expansion in the module",
          "a unix socket outside the app's sandbox, without socket activation", "a chdir the host does not have",
          "a unix socket in a directory the host does not have, without socket activation"]


def outcome(host):
    return json.loads(host.file(RESULT).content_string)


@pytest.mark.parametrize("label", INJECTIONS + SHAPES + LABELS)
def test_role_failed_and_named_what_was_wrong(host, label):
    case = next(c for c in outcome(host)["cases"] if c["label"] == label)
    assert case["failed"] is True
    assert case["expect"] in case["msg"], case["msg"]


def test_misspelt_option_is_rejected_by_uwsgi_itself(host):
    case = next(c for c in outcome(host)["cases"] if c["label"] == LABELS[0])
    assert "rejected the options of app 'typo'" in case["msg"]
    assert "unknown config directive: py-callos-afterfork" in case["msg"]


def test_injections_and_shapes_left_every_app_file_unit_file_and_unit_state_as_it_was(host):
    """After the injection attempts and the values of the wrong shape: every file under the config dir (last
    good copies too) and every /etc/systemd/system/uwsgi-*
    (content, inode, mtime, mode, owner), every uwsgi-* unit's state, MainPID and restart count."""
    result = outcome(host)
    before, after = result["host_before_injection"], result["host_after_injection"]
    assert INI in before["files"] and UNIT in before["units"], before
    assert before["units"][UNIT]["ActiveState"] == "active"
    assert after["files"] == before["files"]
    assert after["units"] == before["units"]
    assert not host.file("/injected").exists


def test_live_ini_unit_and_runtime_files_are_unchanged(host):
    before = outcome(host)
    assert host.check_output(f"sha1sum {INI}").split()[0] == before["ini_checksum_before"]
    assert host.check_output(f"sha1sum /etc/systemd/system/{UNIT}").split()[0] == before["unit_checksum_before"]
    # Same files, same inodes (a restart would have made a new socket).
    assert host.check_output("ls -li /run/uwsgi-typo") == before["runtime_listing_before"]
    assert "py-callos-afterfork" not in host.file(INI).content_string
    assert not host.file("/etc/uwsgi-production/typo-twin.ini").exists
    assert not host.file("/etc/systemd/system/uwsgi-typo-twin.service").exists


def test_running_app_was_not_touched_and_still_serves(host):
    props = unit_properties(host, UNIT, "ActiveState", "MainPID", "TimeoutStopUSec")
    assert props["ActiveState"] == "active"
    assert props["MainPID"] == outcome(host)["pid_before"]  # not restarted
    assert props["TimeoutStopUSec"] == "1min 30s"  # the bad stop timeout never reached the unit
    assert http_get(host, "http://127.0.0.1:8093/")[0] == 200


def test_a_socket_unit_that_could_not_bind_is_left_stopped_disabled_and_not_failed(host):
    props = unit_properties(host, "uwsgi-taken.socket", "ActiveState", "UnitFileState")
    assert props["ActiveState"] == "inactive" and props["UnitFileState"] == "disabled", props
    assert "python" in host.check_output("ss -Hltnp src 127.0.0.1:8096").lower()
