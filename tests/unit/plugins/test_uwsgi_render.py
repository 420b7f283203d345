"""The Python renderer writes, byte for byte, what release 0.1.0's Jinja templates wrote.

golden/ holds the files those templates rendered (by ansible-playbook, once, when the renderer replaced
them) for the cases of golden/cases.json: an app with overrides, removals and a list; one with every
service key, its own user and groups, environment, secrets and hardening overrides; one that binds its
own sockets; one without a master fifo; and the system install method on Python 3.13 (each case names the
host's uWSGI release). Since then, only a new default has changed them, and only in its own lines
(NEW_DEFAULT_LINES): staggered recycling (no max-requests; max-worker-lifetime per worker, with its delta).
A host configured by 0.1.0 therefore sees exactly those lines change after the upgrade (molecule/upgrade).
"""

import json
import pathlib

import pytest
import yaml

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render as render

HERE = pathlib.Path(__file__).parent
GOLDEN = HERE / "golden"
DEFAULTS = yaml.safe_load((HERE.parents[2] / "roles" / "uwsgi_production" / "defaults" / "main.yml").read_text())
CASES = json.loads((GOLDEN / "cases.json").read_text())


def role_of(variables):
    merged = dict(DEFAULTS, **variables)
    return {key[len("uwsgi_production_"):]: value for key, value in merged.items()}


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
def test_each_file_is_what_the_templates_wrote(case):
    files = rendered(case)
    expected = sorted(path.suffix[1:] for path in GOLDEN.glob(case["id"] + ".*"))
    assert sorted(files) == expected
    for kind, text in files.items():
        assert text == (GOLDEN / ("%s.%s" % (case["id"], kind))).read_text(), kind
