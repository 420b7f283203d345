"""Fast checks of the role's interface: no host, no container."""

import re

import pytest
from paths import ROLE, load_yaml

DEFAULTS = load_yaml(ROLE / "defaults" / "main.yml")
SPECS = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]

# Bloomberg's "Configuring uWSGI for Production Deployment", with the typo fixed.
GUIDE_FLAGS = ["strict", "master", "enable-threads", "vacuum", "single-interpreter", "die-on-term",
               "need-app", "disable-logging", "log-4xx", "log-5xx", "py-call-osafterfork", "auto-procname"]
GUIDE_VALUES = {"harakiri": 60, "max-requests": 1000, "max-worker-lifetime": 3600, "reload-on-rss": 2048,
                "worker-reload-mercy": 60, "cheaper-algo": "busyness"}
BUSYNESS_KNOBS = ["processes", "cheaper", "cheaper-initial", "cheaper-overload", "cheaper-step",
                  "cheaper-busyness-multiplier", "cheaper-busyness-min", "cheaper-busyness-max",
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


def test_worker_counts_are_consistent():
    o = DEFAULTS["uwsgi_production_options"]
    assert o["cheaper"] <= o["cheaper-initial"] <= o["processes"]
    assert o["cheaper"] < o["processes"]
    assert o["cheaper-busyness-min"] < o["cheaper-busyness-max"]
    assert DEFAULTS["uwsgi_production_stop_timeout"] > o["worker-reload-mercy"]


def test_every_default_option_has_a_comment_saying_why():
    lines = (ROLE / "defaults" / "main.yml").read_text().splitlines()
    start = lines.index("uwsgi_production_options:")
    for i, line in enumerate(lines[start + 1:], start + 1):
        match = re.match(r"^  ([a-z0-9-]+):", line)
        if match:
            assert lines[i - 1].strip().startswith("#"), f"no comment above option {match.group(1)}"
