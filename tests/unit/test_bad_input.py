"""Bad input never reaches a host: the real role, run only as far as its preflight, rejects it.

The rules themselves are tested in-process, case by case (tests/unit/plugins/test_uwsgi_validate.py).
Here a few cases go end to end through the role: the type cases that meta/argument_specs.yml rejects with
Ansible's own messages, a few cases of the role's own rules (one of them with a secret that must not show),
and good input. One ansible-playbook run checks them all (no host, no container, seconds): each case is a
host of a generated inventory, connected locally and carrying its own variables, and
tests/unit/preflight.yml applies the role pyops.uwsgi.uwsgi_production to all of them with
`--tags uwsgi_production_preflight --check`, so only the role's argument validation and
tasks/preflight.yml (one task) run. Each case reads its host's result of the task where it stopped: the
`msg` of the argument validation, or the `msg` and `violations` of the role's check, from the project's
own record of the run (tests/record.py), not from a callback's output.
"""

import os
import pathlib
import subprocess
from dataclasses import dataclass, field

import pytest
import record
import yaml
from paths import REPO, ROLE, load_yaml

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate as validator

PLAYBOOK = REPO / "tests" / "unit" / "preflight.yml"
DEFAULTS = load_yaml(ROLE / "defaults" / "main.yml")
ARGUMENT_VALIDATION = "Validating arguments against arg spec 'main'"
CHECK = load_yaml(ROLE / "tasks" / "preflight.yml")[0]["name"]
# The read-only look at the host (uwsgi_facts, whose virtualenv check belongs to the preflight too).
FACTS = next(task["name"] for task in load_yaml(ROLE / "tasks" / "main.yml") if "pyops.uwsgi.uwsgi_facts" in task)
# `listen` above this makes uWSGI refuse to start; the role reads it from the host, as the test does.
SOMAXCONN = int(pathlib.Path("/proc/sys/net/core/somaxconn").read_text())
SECRET = "s3cret-value-never-shown"


DELETE = object()
# The apps' chdir: a directory this machine has, since uwsgi_facts checks that it exists on the host.
CHDIR = str(REPO)


def app(**changes):
    """A valid app, with `changes` laid over it (the value DELETE deletes a key)."""
    base = {"name": "shop", "module": "shop.wsgi:application", "chdir": CHDIR}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not DELETE}


def released(**release):
    """A valid app with a release (no chdir: the release owns its code), `release` laid over its release."""
    return {"name": "shop", "module": "shop.wsgi:application",
            "release": dict({"id": "2.0", "source": {"pip": ["shop==2.0"]}}, **release)}


@dataclass
class Case:
    id: str
    vars: dict
    variable: str = ""                          # bad cases: the variable the message must name
    words: list = field(default_factory=list)   # bad cases: words of the rule the message must say
    good: bool = False
    stops_at: str = CHECK                       # bad cases: the task that rejects it


def bad(id, variable, words, **variables):
    """A case the role's own rules reject, naming `variable` and saying each of the '|'-separated `words`."""
    return Case(id, variables, variable, words.split("|"))


def bad_type(id, variable, words, **variables):
    """A case the argument specification rejects (Ansible's own message)."""
    return Case(id, variables, variable, words.split("|"), stops_at=ARGUMENT_VALIDATION)


def good(id, **variables):
    """A case that must pass every check."""
    return Case(id, variables, good=True)


CASES = [
    # --- types, caught by meta/argument_specs.yml (Ansible's own messages) ---
    bad_type("apps_not_a_list_of_dicts", "uwsgi_production_apps", "convert to dict",
             uwsgi_production_apps=["shop"]),
    bad_type("app_without_name", "uwsgi_production_apps", "missing required arguments: name",
             uwsgi_production_apps=[app(name=DELETE)]),
    bad_type("app_with_unknown_key", "uwsgi_production_apps.modul", "Supported parameters",
             uwsgi_production_apps=[app(module=DELETE, modul="shop.wsgi:application")]),
    bad_type("app_options_not_a_dict", "'options'", "convert to dict",
             uwsgi_production_apps=[app(options=["harakiri=30"])]),
    bad_type("app_options_null", "'options'", "convert to dict",
             uwsgi_production_apps=[app(options=None)]),
    bad_type("options_not_a_dict", "uwsgi_production_options", "convert to dict",
             uwsgi_production_options=["strict"]),
    bad_type("stop_timeout_not_a_number", "uwsgi_production_stop_timeout", "convert to int",
             uwsgi_production_stop_timeout="soon"),
    bad_type("build_packages_not_a_list", "uwsgi_production_build_packages", "convert to list",
             uwsgi_production_build_packages={"gcc": True}),
    # --- install method ---
    bad_type("install_method_unknown", "uwsgi_production_install_method", "one of: pip, system",
             uwsgi_production_install_method="apt"),
    bad_type("system_packages_not_a_list", "uwsgi_production_system_packages", "convert to list",
             uwsgi_production_install_method="system", uwsgi_production_system_packages={"uwsgi-core": True}),
    bad_type("state_unknown", "uwsgi_production_apps", "state|present, absent",
             uwsgi_production_apps=[app(state="gone")]),
    bad_type("cron_without_command", "crons", "missing required arguments: command",
             uwsgi_production_apps=[app(crons=[{"minute": 5}])]),
    bad_type("timer_without_seconds", "timers", "missing required arguments: seconds",
             uwsgi_production_apps=[app(timers=[{"signal": 100}])]),
    bad_type("cache_without_name", "caches", "missing required arguments: name",
             uwsgi_production_apps=[app(caches=[{"items": 10}])]),
    bad_type("cache_without_items", "caches", "missing required arguments: items",
             uwsgi_production_apps=[app(caches=[{"name": "pages"}])]),
    bad_type("stats_type_tcp", "stats", "value of type must be one of: unix, http",
             uwsgi_production_apps=[app(stats={"type": "tcp"})]),
    # --- the role's own rules (tasks/preflight.yml): every violation at once, in one message ---
    bad("name_climbs_out", "uwsgi_production_apps[0].name", "not a usable name|uwsgi-<name>.service",
        uwsgi_production_apps=[app(name="../x")]),
    bad("listen_above_somaxconn", "uwsgi_production_apps[0].options.listen", f"net.core.somaxconn ({SOMAXCONN})",
        uwsgi_production_apps=[app(options={"listen": SOMAXCONN + 1})]),
    bad("secrets_bad_variable", "uwsgi_production_secrets.shop.DB-URL", "variable names",
        uwsgi_production_secrets={"shop": {"DB-URL": SECRET}}, uwsgi_production_apps=[app()]),
    bad("several_rules_at_once", "uwsgi_production_apps[1].http_socket",
        "uwsgi_production_apps[0].socket = \"run/shop.sock\"|from 1 to 65535|uwsgi_production_stop_timeout = 30",
        uwsgi_production_stop_timeout=30,
        uwsgi_production_apps=[app(socket="run/shop.sock"), app(name="blog", http_socket="127.0.0.1:0")]),
    # --- nothing smuggles a line into a file, nor runs the app as another user (issue 14) ---
    bad("socket_unit_injection", "uwsgi_production_apps[0].socket", "line break or NUL|socket unit",
        uwsgi_production_apps=[app(socket="/run/uwsgi-shop/uwsgi.sock\nExecStartPost=/bin/touch /x")]),
    bad("hardening_user_root", "uwsgi_production_apps[0].unit_hardening.User = \"root\"", "not a sandboxing directive",
        uwsgi_production_apps=[app(unit_hardening={"User": "root"})]),
    bad("secret_value_nul", "uwsgi_production_secrets.shop.TOKEN", "its value is not shown",
        uwsgi_production_secrets={"shop": {"TOKEN": SECRET + "\x00B=2"}}, uwsgi_production_apps=[app()]),
    # --- releases (issue 24): the argument specification lets each through, the release rules refuse it ---
    bad("release_id_climbs_out", "uwsgi_production_apps[0].release.id = \"../x\"", "must name the release",
        uwsgi_production_apps=[released(id="../x")]),
    bad("release_id_trailing_newline", "uwsgi_production_apps[0].release.id = \"1.0\\n\"", "must name the release",
        uwsgi_production_apps=[released(id="1.0\n")]),
    bad("release_id_a_number", "uwsgi_production_apps[0].release.id = 2.1", "must name the release|quote it",
        uwsgi_production_apps=[released(id=2.1)]),
    bad("release_packages_a_string", "uwsgi_production_apps[0].release.packages = \"flask==3.1\"", "must be a list",
        uwsgi_production_apps=[released(packages="flask==3.1")]),
    bad("release_pip_option", "uwsgi_production_apps[0].release.source.pip[0] = \"--index-url=http://x\"",
        "not starting with '-'", uwsgi_production_apps=[released(source={"pip": ["--index-url=http://x"]})]),
    bad("release_git_option", "uwsgi_production_apps[0].release.source.git", "not starting with '-'",
        uwsgi_production_apps=[released(source={"git": {"repo": "--upload-pack=touch /tmp/x;"}})]),
    bad("release_shared_climbs_out", "uwsgi_production_apps[0].release.shared[0] = \"../media\"", "without '..'",
        uwsgi_production_apps=[released(shared=["../media"])]),
    bad("release_command_empty", "uwsgi_production_apps[0].release.commands[0] = []", "non-empty list of arguments",
        uwsgi_production_apps=[released(commands=[[]])]),
    bad("release_and_chdir", "uwsgi_production_apps[0] (app \"shop\") sets release and chdir", "neither chdir",
        uwsgi_production_apps=[dict(released(), chdir="/srv/shop")]),
    bad("release_root_relative", "uwsgi_production_apps[0].release.root", "absolute path",
        uwsgi_production_apps=[released(root="srv/shop")]),
    bad("keep_releases_one", "uwsgi_production_keep_releases = 1", "at least 2", uwsgi_production_keep_releases=1),
    bad_type("release_without_id", "id", "missing required arguments: id",
             uwsgi_production_apps=[dict(released(), release={"source": {"pip": ["shop==2.0"]}})]),
    bad_type("release_source_unknown_key", "uwsgi_production_apps.release.source.tarball", "Supported parameters include",
             uwsgi_production_apps=[released(source={"tarball": "shop.tgz"})]),
    # --- shapes (issue 23): one case of each class of tests/unit/plugins/test_uwsgi_validate.py ---
    bad("venv_relative", "uwsgi_production_venv = \"opt/uwsgi\"", "absolute path", uwsgi_production_venv="opt/uwsgi"),
    bad("socket_longer_than_a_socket_address", "uwsgi_production_apps[0].socket", "bytes long|at most 107",
        uwsgi_production_apps=[app(socket="/run/uwsgi-shop/" + "s" * 100)]),
    bad("http_socket_octet_above_255", "uwsgi_production_apps[0].http_socket = \"127.0.0.256:8080\"", "0 to 255",
        uwsgi_production_apps=[app(http_socket="127.0.0.256:8080")]),
    bad("http_socket_hostname_under_activation", "uwsgi_production_apps[0].http_socket", "ListenStream=",
        uwsgi_production_apps=[app(http_socket="localhost:8080")]),
    bad("hardening_value_dict", "uwsgi_production_apps[0].unit_hardening.ProtectSystem", "must be a scalar",
        uwsgi_production_apps=[app(unit_hardening={"ProtectSystem": {"strict": True}})]),
    bad("health_path_crlf", "uwsgi_production_apps[0].health_check.path", "control character",
        uwsgi_production_apps=[app(health_check={"path": "/\r\nX-Injected: 1"})]),
    bad("module_uwsgi_expansion", "uwsgi_production_apps[0].module = \"shop:app%(x)\"", "uWSGI expands them",
        uwsgi_production_apps=[app(module="shop:app%(x)")]),
    bad("socket_outside_the_sandbox", "uwsgi_production_apps[0].socket", "where the app can create it",
        uwsgi_production_apps=[app(socket="/srv/shop/shop.sock", socket_activation=False)]),
    # --- what the apps name exists on the host (uwsgi_facts, the run's first call on the host) ---
    Case("chdir_missing_on_the_host", {"uwsgi_production_apps": [app(chdir="/nonexistent/pyops-chdir")]},
         "uwsgi_production_apps[0].chdir = \"/nonexistent/pyops-chdir\"", ["directory on the host"], stops_at=FACTS),
    Case("socket_directory_missing_on_the_host",
         {"uwsgi_production_apps": [app(socket="/nonexistent/pyops-run/shop.sock", writable_paths=["/nonexistent/pyops-run"],
                                        socket_activation=False)]},
         "uwsgi_production_apps[0].socket", ["(/nonexistent/pyops-run does not)"], stops_at=FACTS),
    # --- good inputs: every check passes ---
    good("good_readme_example", uwsgi_production_apps=[app(
        virtualenv="/srv/shop/venv", http_socket="127.0.0.1:8080",
        options={"harakiri": 30, "env": ["DJANGO_SETTINGS_MODULE=shop.settings", "LANG=C.UTF-8"]})]),
    good("good_own_users_environment_secrets_packages",
         uwsgi_production_apps=[
             app(user="shop", virtualenv="/srv/shop/venv", packages=["flask==3.1.2"], options={"listen": SOMAXCONN},
                 environment={"DJANGO_SETTINGS_MODULE": "shop.settings", "WORKERS": 4}),
             {"name": "old", "state": "absent", "user": "old", "remove_user": True}],
         uwsgi_production_secrets={"shop": {"DATABASE_URL": "postgres://u:p@db/shop", "DEBUG": False}}),
    good("good_release", uwsgi_production_keep_releases=2, uwsgi_production_apps=[released(
        source={"git": {"repo": "https://git.example/shop.git", "version": "v2.0"}}, requirements="requirements.txt",
        shared=["media/"], commands=[["python", "manage.py", "migrate"]], verify_timeout=60)]),
]
# What the apps name on the host is checked by uwsgi_facts; this run is in check mode, where the play's
# earlier tasks that would make it did not run: a warning there (refused for real in molecule/rejected_option).
ON_THE_HOST = [case for case in CASES if case.stops_at == FACTS]
BAD = [case for case in CASES if not case.good and case.stops_at != FACTS]
GOOD = [case for case in CASES if case.good]
RULE_CASES = [case for case in BAD if case.stops_at == CHECK]


def ansible_env(tmp_path):
    """Environment in which `pyops.uwsgi` is this checkout, whatever else is installed."""
    collections = tmp_path / "collections"
    (collections / "ansible_collections" / "pyops").mkdir(parents=True)
    (collections / "ansible_collections" / "pyops" / "uwsgi").symlink_to(REPO)
    env = dict(os.environ)
    others = env.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".cache" / "collections")
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(collections), others]),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def write_inventory(path, cases):
    hosts = {case.id: case.vars for case in cases}
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "hosts": hosts,
    }}
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def run_preflight(tmp_path, cases, *options):
    """The run, with its record in tmp_path/record.json."""
    tmp_path.mkdir(exist_ok=True)
    env = record.environment(tmp_path / "record.json", ansible_env(tmp_path))
    return subprocess.run(
        ["ansible-playbook", "-i", str(write_inventory(tmp_path / "inventory.yml", cases)), str(PLAYBOOK),
         "--tags", "uwsgi_production_preflight", "--check", "--forks", str(min(len(cases), 16)), *options],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )


@dataclass
class Outcome:
    stats: dict
    results: dict       # task name -> this host's result
    last: str           # the task where the host stopped (its last result)


class Report:
    def __init__(self, run, path):
        self.run = run
        self.text = path.read_text(encoding="utf-8")
        self.record = record.Record(path)
        self.stats = self.record.stats

    def task_names(self):
        return {record.short_name(task["task"]) for task in self.record.tasks()}

    def outcome(self, host):
        results, last = {}, ""
        for task in self.record.tasks(host):
            last = record.short_name(task["task"])
            results[last] = task["result"]
        return Outcome(self.stats[host], results, last)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("preflight")
    run = run_preflight(tmp_path, CASES)
    assert (tmp_path / "record.json").exists(), run.stdout + run.stderr
    return Report(run, tmp_path / "record.json")


def role_variables(case):
    return {**DEFAULTS, **case.vars}


def test_one_run_checked_every_case_and_nothing_but_the_preflight(report):
    assert sorted(report.stats) == sorted(case.id for case in CASES)
    assert report.run.returncode == 2, report.run.stderr  # some hosts failed, none unreachable
    for name in report.task_names():
        assert name.startswith(ARGUMENT_VALIDATION) or name in (CHECK, FACTS), name
    for host, stats in report.stats.items():
        assert stats["changed"] == 0 and stats["unreachable"] == 0, host


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_input_is_rejected_naming_the_variable_and_the_rule(report, case):
    outcome = report.outcome(case.id)
    assert outcome.stats["failures"] == 1, f"{case.id} was not rejected: {outcome.results}"
    assert outcome.last.startswith(case.stops_at), outcome.last
    text = outcome.results[outcome.last]["msg"]
    assert case.variable in text, text
    for word in case.words:
        assert word in text, text


@pytest.mark.parametrize("case", ON_THE_HOST, ids=[case.id for case in ON_THE_HOST])
def test_what_the_host_lacks_is_a_warning_in_check_mode_naming_the_variable_and_the_rule(report, case):
    outcome = report.outcome(case.id)
    assert outcome.stats["failures"] == 0, outcome.results
    warnings = outcome.results[FACTS].get("warnings") or []
    assert len(warnings) == 1 and warnings[0].startswith("check mode: "), warnings
    assert case.variable in warnings[0], warnings
    for word in case.words:
        assert word in warnings[0], warnings


@pytest.mark.parametrize("case", RULE_CASES, ids=[case.id for case in RULE_CASES])
def test_the_role_reports_every_violation_the_rules_find(report, case):
    result = report.outcome(case.id).results[CHECK]
    somaxconn = SOMAXCONN if validator.needs_somaxconn(role_variables(case)) else None
    assert result["violations"] == validator.validate(role_variables(case), somaxconn)
    assert result["msg"] == "\n".join(result["violations"])


@pytest.mark.parametrize("case", GOOD, ids=[case.id for case in GOOD])
def test_good_input_passes_every_check(report, case):
    outcome = report.outcome(case.id)
    assert outcome.stats["failures"] == 0, outcome.results
    assert outcome.results[CHECK]["violations"] == []


def test_the_run_fails_for_one_bad_case_and_passes_for_one_good_case(tmp_path):
    """The same checks with the default output: the exit status an operator sees."""
    name_case = next(case for case in BAD if case.id == "name_climbs_out")
    failed = run_preflight(tmp_path / "bad", [name_case])
    assert failed.returncode != 0
    run = record.Record(tmp_path / "bad" / "record.json")
    messages = run.messages(run.failed())
    assert any('uwsgi_production_apps[0].name = "../x" is not a usable name' in msg for msg in messages), messages
    readme_case = next(case for case in GOOD if case.id == "good_readme_example")
    passed = run_preflight(tmp_path / "good", [readme_case])
    assert passed.returncode == 0, passed.stdout + passed.stderr


def secret_values():
    values = [value for case in CASES for env in case.vars.get("uwsgi_production_secrets", {}).values()
              for value in env.values() if isinstance(value, str)]
    assert SECRET in values and len(values) >= 2
    return values


def test_secret_values_never_appear_in_the_results(report):
    """uwsgi_production_secrets are checked without showing a value, even in the full results."""
    for value in secret_values():
        assert value not in report.run.stdout + report.run.stderr + report.text
    assert SECRET not in report.run.stdout + report.run.stderr + report.text


def test_secret_values_never_appear_in_the_verbose_output(tmp_path):
    """Not in the messages, not in the task's arguments, not at -vvv, not with the arguments in the banner."""
    cases = [case for case in CASES if "uwsgi_production_secrets" in case.vars]
    env_run = run_preflight(tmp_path, cases, "-vvv")
    run = record.Record(tmp_path / "record.json")
    messages = run.messages(run.failed())
    assert env_run.returncode == 2 and any("uwsgi_production_secrets.shop.DB-URL is not usable" in msg
                                           for msg in messages), messages
    for value in secret_values():
        assert value not in env_run.stdout + env_run.stderr
    assert SECRET not in env_run.stdout + env_run.stderr
