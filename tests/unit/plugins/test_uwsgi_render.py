"""The Python renderer writes, byte for byte, the golden files.

golden/ holds, for the cases of golden/cases.json (an app with overrides, removals and a list; one with
every service key, its own user and groups, environment, secrets and hardening overrides; one that binds
its own sockets; one without a master fifo; and the system install method on Python 3.13; each case names
the host's uWSGI release), first the files release 0.1.0's Jinja templates rendered (by ansible-playbook,
once, when the renderer replaced them), then each deliberate change to them since, reviewed as its diff in
git: staggered recycling (no max-requests; max-worker-lifetime per worker, with its delta) and the stop
defaults of issue 15 (skip-atexit-teardown and the role's atexit hook in every ini; under socket
activation vacuum off and the unit's ExecStopPost= instead), and the worker counts and reload-on-rss sized
from the host (issue 22; here a host of GOLDEN_HOST's figures, for which the lifetimes' stagger is the one
of 8 processes, as before). A host configured by 0.1.0 sees exactly
those lines change after the upgrade (molecule/upgrade). After such a change, regenerate them with
`PYOPS_UPDATE_GOLDEN=1 pytest tests/unit/plugins/test_uwsgi_render.py` and read the diff.
"""

import hashlib
import itertools
import json
import os
import pathlib

import pytest
import yaml

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render as render

HERE = pathlib.Path(__file__).parent
GOLDEN = HERE / "golden"
DEFAULTS = yaml.safe_load((HERE.parents[2] / "roles" / "uwsgi_production" / "defaults" / "main.yml").read_text())
CASES = json.loads((GOLDEN / "cases.json").read_text())
# The host's usable CPUs and memory (MB) the golden files are sized for: 8 processes, 1 cheaper, 2 initial.
GOLDEN_HOST = {"cpus": 4, "memory_mb": 16384}


def role_of(variables):
    merged = dict(DEFAULTS, **variables)
    return dict({key[len("uwsgi_production_"):]: value for key, value in merged.items()}, host_resources=GOLDEN_HOST)


def rendered(case):
    role = role_of(case.get("vars", {}))
    app, secrets = case["app"], case.get("secrets", {})
    options = model.ini_options(app, role, case["python"], case["uwsgi"])
    files = {
        "ini": render.ini(app, options),
        "service": render.service(app, role, options, app["name"] in model.secret_apps(secrets)),
        "socket": render.socket(app, role),
    }
    if app["name"] in secrets:
        files["env"] = render.env_file(app, secrets[app["name"]])
    return files


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_each_file_is_its_golden_file(case):
    files = rendered(case)
    if os.environ.get("PYOPS_UPDATE_GOLDEN") == "1":
        for kind, text in files.items():
            (GOLDEN / ("%s.%s" % (case["id"], kind))).write_text(text)
    expected = sorted(path.suffix[1:] for path in GOLDEN.glob(case["id"] + ".*"))
    assert sorted(files) == expected
    for kind, text in files.items():
        assert text == (GOLDEN / ("%s.%s" % (case["id"], kind))).read_text(), kind


# Every branch of the unit, crossed: the golden cases above show a few whole files; these pin the unit
# (render.service) for each combination of what changes its lines, so that reshaping the renderer cannot
# move a line unseen. Each axis's value is (the app's keys, role variables, whether the app has secrets);
# "extras" turns on at once the branches that depend on nothing else. golden/service_variations.json holds
# each unit's sha256 (regenerated with the golden files, by PYOPS_UPDATE_GOLDEN=1; read the golden files' diff).
AXES = {
    "activation": {"on": ({}, {}, False), "off": ({"socket_activation": False}, {}, False)},
    "sockets": {"http": ({"http_socket": "127.0.0.1:9000"}, {}, False),
                "unix": ({"socket": "/run/uwsgi-v/app.sock", "http_socket": ":8080"}, {}, False)},
    "groups": {"default": ({}, {}, False),
               "own": ({"user": "shop", "group": "web", "socket_group": "www-data"}, {}, False)},
    "stats": {"unix": ({}, {}, False), "http": ({"stats": {"type": "http", "address": "127.0.0.1:9191"}}, {}, False)},
    "stats_group": {"none": ({}, {}, False), "exporter": ({}, {"uwsgi_production_stats_group": "uwsgi-exporter"}, False)},
    "fifo": {"default": ({}, {}, False), "none": ({"options": {"master-fifo": None, "vacuum": False}}, {}, False)},
    "extras": {
        "none": ({}, {}, False),
        "all": ({"environment": {"A": "x%y\"z\\", "N": 4, "B": True},
                 "caches": [{"name": "pages", "items": 100, "store": True}],
                 "writable_paths": ["/srv/a", "/srv/b"],
                 "unit_hardening": {"ProtectHome": False, "PrivateTmp": None, "ReadOnlyPaths": ["/etc/x", "/etc/y"]}},
                {"uwsgi_production_install_method": "system"}, True),
    },
}
VARIATIONS_FILE = GOLDEN / "service_variations.json"


def variations():
    """(id, app, role variables, has_secrets) for every combination of AXES' values."""
    for choice in itertools.product(*(sorted(values) for values in AXES.values())):
        app, variables, secrets = {"name": "v", "module": "x:y"}, {}, False
        for axis, value in zip(AXES, choice):
            app_keys, role_variables, has_secrets = AXES[axis][value]
            app.update(app_keys)
            variables.update(role_variables)
            secrets = secrets or has_secrets
        yield "-".join(choice), app, variables, secrets


def test_each_unit_variation_is_as_pinned():
    units = {}
    for key, app, variables, secrets in variations():
        role = role_of(variables)
        options = model.ini_options(app, role, "3.11", "2.0.31")
        units[key] = hashlib.sha256(render.service(app, role, options, secrets).encode()).hexdigest()
    if os.environ.get("PYOPS_UPDATE_GOLDEN") == "1":
        VARIATIONS_FILE.write_text(json.dumps(units, indent=0, sort_keys=True) + "\n")
    assert len(units) == 2 ** len(AXES)
    assert units == json.loads(VARIATIONS_FILE.read_text())
