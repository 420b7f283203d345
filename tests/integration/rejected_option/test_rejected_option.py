"""molecule/rejected_option: a misspelt option never reaches the running app."""

import json

from hostcheck import http_get, unit_properties

UNIT = "uwsgi-typo.service"
UNITS = [UNIT]
INI = "/etc/uwsgi-production/typo.ini"
RESULT = "/var/tmp/molecule-rejected-option-result.json"


def outcome(host):
    return json.loads(host.file(RESULT).content_string)


def test_role_failed_naming_the_app_and_uwsgis_reason(host):
    result = outcome(host)
    assert result["failed"] is True
    assert "rejected the options of app 'typo'" in result["msg"]
    assert "unknown config directive: py-callos-afterfork" in result["msg"]


def test_live_ini_is_unchanged(host):
    assert host.check_output(f"sha1sum {INI}").split()[0] == outcome(host)["ini_checksum_before"]
    assert "py-callos-afterfork" not in host.file(INI).content_string


def test_running_app_was_not_touched_and_still_serves(host):
    props = unit_properties(host, UNIT, "ActiveState", "MainPID")
    assert props["ActiveState"] == "active"
    assert props["MainPID"] == outcome(host)["pid_before"]  # not restarted
    assert http_get(host, "http://127.0.0.1:8093/")[0] == 200
