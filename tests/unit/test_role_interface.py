"""Fast checks of the role's interface: no host, no container."""

import re

import pytest
from paths import REPO, ROLE, load_yaml

DEFAULTS = load_yaml(ROLE / "defaults" / "main.yml")
SPECS = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]

# Bloomberg's "Configuring uWSGI for Production Deployment", with the typo fixed.
GUIDE_FLAGS = ["strict", "master", "enable-threads", "vacuum", "single-interpreter", "die-on-term",
               "need-app", "disable-logging", "log-4xx", "log-5xx", "py-call-osafterfork", "auto-procname"]
# Not max-requests 1000: under load every worker passes min-worker-lifetime in the same second and they
# all exit together (docs/defaults.md); recycling is by lifetime, staggered per worker by the model.
GUIDE_VALUES = {"harakiri": 60, "max-worker-lifetime": 3600, "worker-reload-mercy": 60, "cheaper-algo": "busyness"}
# processes, cheaper, cheaper-initial, cheaper-step and reload-on-rss are sized from the host
# (plugins/module_utils/uwsgi_sizing.py, tests/unit/plugins/test_uwsgi_sizing.py).
SIZED = ["processes", "cheaper", "cheaper-initial", "cheaper-step", "reload-on-rss"]
BUSYNESS_KNOBS = ["cheaper-overload", "cheaper-busyness-multiplier", "cheaper-busyness-min", "cheaper-busyness-max",
                  "cheaper-busyness-backlog-alert", "cheaper-busyness-backlog-step",
                  "cheaper-busyness-backlog-nonzero"]


def test_argument_specs_and_defaults_name_the_same_variables():
    assert sorted(SPECS) == sorted(DEFAULTS)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_argument_spec_default_equals_defaults_main(name):
    assert SPECS[name].get("default") == DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_variable_is_described_and_prefixed(name):
    assert name.startswith("uwsgi_production_")
    assert SPECS[name].get("description"), f"{name} has no description"


def test_every_production_option_of_the_guide_is_on():
    options = DEFAULTS["uwsgi_production_options"]
    for flag in GUIDE_FLAGS:
        assert options[flag] is True, flag
    for key, value in GUIDE_VALUES.items():
        assert options[key] == value, key
    for key in BUSYNESS_KNOBS:
        assert isinstance(options[key], int) and options[key] > 0, key
    assert "py-callos-afterfork" not in options  # the guide's typo, rejected by strict mode
    assert "max-requests" not in options  # see GUIDE_VALUES
    assert not [key for key in SIZED if key in options]  # a key here would fix it for every host


def test_busyness_thresholds_and_stop_timeout_are_consistent():
    o = DEFAULTS["uwsgi_production_options"]
    assert o["cheaper-busyness-min"] < o["cheaper-busyness-max"]
    assert DEFAULTS["uwsgi_production_stop_timeout"] > o["worker-reload-mercy"]


def test_every_default_option_has_a_comment_saying_why():
    lines = (ROLE / "defaults" / "main.yml").read_text().splitlines()
    start = lines.index("uwsgi_production_options:")
    for i, line in enumerate(lines[start + 1:], start + 1):
        match = re.match(r"^  ([a-z0-9-]+):", line)
        if match:
            assert lines[i - 1].strip().startswith("#"), f"no comment above option {match.group(1)}"


def task_of(file_name, task_name):
    tasks = [inner for task in load_yaml(ROLE / "tasks" / file_name) for inner in task.get("block", [task])]
    return next(task for task in tasks if task["name"] == task_name)


def test_every_task_that_touches_secret_values_is_no_log():
    """uwsgi_production_secrets' values reach only tasks that log nothing (their env template included).
    The preflight check reads them too, and shows only names: tests/unit/test_bad_input.py proves it."""
    touching = []
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        if path.name == "preflight.yml":
            continue
        tasks = [inner for task in load_yaml(path) or [] for inner in task.get("block", [task])]
        for task in tasks:
            text = repr({key: value for key, value in task.items() if key != "name"})
            # The env files hold the values; _uwsgi_production_secret_apps holds only names.
            if re.search(r"uwsgi_production_secrets\b|uwsgi\.env\.j2|_uwsgi_production_(good_)?env_file\b", text):
                touching.append((path.name, task["name"], task.get("no_log", False)))
    # A task that writes the content (a copy, whose --diff would show it) must be no_log; deletions and
    # stats show no value. The role's own module that writes the secrets file (uwsgi_config) takes them as
    # a parameter its argument spec marks no_log, so Ansible masks them in every result, and its diff
    # never shows that file's content (tests/unit/plugins/test_uwsgi_state.py).
    writers = [(name, task, no_log) for name, task, no_log in touching
               if re.search(r"ansible\.builtin\.(copy|template)'", repr(task_of(name, task)))]
    assert all(writer[2] for writer in writers), writers
    modules = [(name, task) for name, task, _no_log in touching if "pyops.uwsgi." in repr(task_of(name, task))]
    # uwsgi_release runs a new release's commands and import check with the app's secrets in their environment,
    # uwsgi_packages the import check of an app whose packages changed.
    assert modules == [
        ("app_packages.yml", "Install each app's packages into its virtualenv, check its import, keep a snapshot to go back to"),
        ("configure.yml", "Write every app's files (uWSGI checks each changed ini first), switch each app with a new release to it"),
        ("releases.yml", "Link each new release's shared paths, run its commands, check its import, mark it complete"),
    ]
    for (name, task), module in zip(modules, ("uwsgi_packages", "uwsgi_config", "uwsgi_release")):
        source = (REPO / "plugins" / "modules" / (module + ".py")).read_text()
        assert re.search(r'secrets=dict\(type="dict", default=\{\}, no_log=True\)', source)
        assert task_of(name, task)["pyops.uwsgi." + module]["secrets"] == "{{ uwsgi_production_secrets }}"
