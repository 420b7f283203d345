"""Per-app users, environment, secrets and packages on a real host: molecule/app_settings."""

import hashlib
import json

import pytest
from paths import REPO, load_yaml
from hostcheck import http_get, journal_grep, unit_properties

SCENARIO = load_yaml(REPO / "molecule" / "app_settings" / "apps.yml")
APPS = {app["name"]: app for app in SCENARIO["uwsgi_production_apps"]}
SECRETS = SCENARIO["uwsgi_production_secrets"]
UNITS = [f"uwsgi-{name}.service" for name in APPS]
CONFIG_DIR = load_yaml(REPO / "roles" / "uwsgi_production" / "defaults" / "main.yml")["uwsgi_production_config_dir"]
EXPECTED = {
    "settings-a": {"user": "appa", "group": "appa", "versions": {"six": "1.17.0", "idna": None}},
    "settings-b": {"user": "appb", "group": "appshared", "versions": {"six": None, "idna": "3.10"}},
}
# Apps that run as accounts the host already had.
EXISTING = {"settings-www": ("www-data", "www-data"), "settings-nobody": ("nobody", "nobody")}


def seen_by_app(host, name):
    status, body = http_get(host, f"http://{APPS[name]['http_socket']}/")
    assert status == 200, body
    return json.loads(body)


def processes_of(host, name):
    """(user, group) of the app's master and each of its workers."""
    pid = unit_properties(host, f"uwsgi-{name}.service", "MainPID")["MainPID"]
    out = host.check_output(f"ps -o user=,group= --pid {pid} --ppid {pid}")
    return [tuple(line.split()) for line in out.splitlines()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_app_runs_as_its_own_user_and_group(host, name):
    expected = (EXPECTED[name]["user"], EXPECTED[name]["group"])
    processes = processes_of(host, name)
    print(f"\n{name}: master and {len(processes) - 1} workers run as {sorted(set(processes))}")
    assert len(processes) >= 2 and set(processes) == {expected}
    seen = seen_by_app(host, name)
    assert (seen["user"], seen["group"]) == expected


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_app_imports_the_packages_installed_into_its_own_virtualenv(host, name):
    assert seen_by_app(host, name)["versions"] == EXPECTED[name]["versions"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_ini_is_readable_by_its_app_only(host, name):
    ini = host.file(f"{CONFIG_DIR}/{name}.ini")
    assert (ini.user, ini.group, ini.mode) == ("root", EXPECTED[name]["group"], 0o640)
    other = next(other for other in EXPECTED if other != name)
    assert host.run(f"runuser -u {EXPECTED[name]['user']} -- cat {CONFIG_DIR}/{name}.ini").rc == 0
    denied = host.run(f"runuser -u {EXPECTED[other]['user']} -- cat {CONFIG_DIR}/{name}.ini")
    assert denied.rc != 0 and "Permission denied" in denied.stderr
    # The directory can be crossed but not listed by the apps' users.
    assert host.run(f"runuser -u {EXPECTED[name]['user']} -- ls {CONFIG_DIR}").rc != 0


def test_the_environment_reaches_the_app_exactly(host):
    assert seen_by_app(host, "settings-a")["greeting"] == APPS["settings-a"]["environment"]["GREETING"]
    assert seen_by_app(host, "settings-b")["greeting"] is None


def test_secrets_reach_the_app_exactly_from_a_root_only_file(host):
    secret = SECRETS["settings-a"]["API_TOKEN"]
    assert seen_by_app(host, "settings-a")["api_token_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert seen_by_app(host, "settings-b")["api_token_sha256"] is None
    env_file = host.file(f"{CONFIG_DIR}/settings-a.env")
    assert (env_file.user, env_file.group, env_file.mode) == ("root", "root", 0o600)
    assert not host.file(f"{CONFIG_DIR}/settings-b.env").exists
    # Not readable by the app's own user either: only systemd (root) reads it, at start.
    assert host.run(f"runuser -u appa -- cat {CONFIG_DIR}/settings-a.env").rc != 0
    kept = host.file(f"{CONFIG_DIR}/last-good/settings-a.env")
    assert (kept.user, kept.mode) == ("root", 0o600)


def test_secrets_are_not_in_the_unit_its_properties_or_the_journal(host):
    secret = SECRETS["settings-a"]["API_TOKEN"]
    unit = "uwsgi-settings-a.service"
    assert secret not in host.file(f"/etc/systemd/system/{unit}").content_string
    assert secret not in host.check_output(f"systemctl show {unit}")
    assert journal_grep(host, unit, secret) == ""
    # What systemctl shows is the file's name, and the plain environment.
    props = unit_properties(host, unit, "EnvironmentFiles", "Environment")
    assert props["EnvironmentFiles"].startswith(f"{CONFIG_DIR}/settings-a.env")
    assert "GREETING=" in props["Environment"]


@pytest.mark.parametrize("name", sorted(EXISTING))
def test_an_app_runs_as_an_existing_account_of_the_host(host, name):
    # systemd runs it with the unit's User= and Group= (an app's group defaults to one named like its user).
    processes = processes_of(host, name)
    assert len(processes) >= 2 and set(processes) == {EXISTING[name]}
    assert (seen_by_app(host, name)["user"], seen_by_app(host, name)["group"]) == EXISTING[name]


def test_the_existing_accounts_are_left_as_they_were(host):
    # Their home, shell and primary group are the host's, not the role's: as getent said before the role
    # first ran here (www-data: /var/www, group www-data; nobody: /nonexistent, group nogroup).
    before = host.file("/var/tmp/app-settings-accounts-before").content_string
    assert host.check_output("getent passwd www-data nobody") + "\n" == before
    assert [line.split(":")[3] for line in before.splitlines()] == [str(host.group("www-data").gid),
                                                                    str(host.group("nogroup").gid)]
