"""Which install steps a run has work for (uwsgi_install.steps), from what uwsgi_facts read of the host."""

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_install as install

# A host the role already set up: every package, uWSGI 2.0.31 with SSL, every account.
SET_UP = {"packages_missing": [], "binary_exists": True, "pip_version": "2.0.31", "ssl_missing": [],
          "missing_groups": [], "missing_users": []}
PIP = {"install_method": "pip", "version": "2.0.31"}


def test_a_host_the_role_set_up_has_no_install_step_with_work():
    assert install.steps(SET_UP, PIP, False) == []


@pytest.mark.parametrize("found, role, check_mode, wanted", [
    ({"packages_missing": ["libssl-dev"]}, PIP, False, ["apt"]),
    ({"packages_missing": None}, PIP, False, ["apt"]),  # a name with a version or a pattern: apt decides
    ({"pip_version": "2.0.30"}, PIP, False, ["pip"]),
    ({"ssl_missing": ["shop"]}, PIP, False, ["pip"]),  # built again, with SSL
    ({"binary_exists": False, "pip_version": ""}, PIP, False, ["pip"]),
    ({"binary_exists": False, "pip_version": "", "packages_missing": ["gcc"]}, PIP, True, ["apt", "report"]),
    ({}, {"install_method": "system", "version": "2.0.31"}, False, ["system"]),
    ({"missing_groups": ["uwsgi-stats"]}, PIP, False, ["accounts"]),
    ({"missing_users": [["shop", "shop"]]}, PIP, False, ["accounts"]),
])
def test_each_step_has_work_only_when_its_outcome_is_not_on_the_host(found, role, check_mode, wanted):
    assert install.steps(dict(SET_UP, **found), role, check_mode) == wanted
    assert [step for step in install.STEPS if step in wanted] == wanted  # in the order of tasks/install.yml
