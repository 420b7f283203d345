# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which install steps of the role (tasks/install.yml) a run has work for, from what uwsgi_facts read of the host:
a pure function, so that a run with nothing to install includes none of those tasks (tasks/main.yml) and each of
them runs only when it has work.
"""

from __future__ import annotations

from typing import Any, Dict, List

# In the order of tasks/install.yml.
STEPS = ("apt", "system", "report", "pip", "accounts")


def steps(found: Dict[str, Any], role: Dict[str, Any], check_mode: bool) -> List[str]:
    """The install steps with work, of STEPS:
    - apt: a wanted Debian package is not installed (or one is not a plain name: apt must decide);
    - system: the system method (Debian's uWSGI packages; their tasks check the binary each run);
    - report: check mode on a fresh host with the pip method (pip cannot run there: the run says what it would do);
    - pip: the pip method, and the role's virtualenv does not hold uWSGI in the wanted version, or an app has https
      and the binary was built without SSL (built again);
    - accounts: a service user or group (or the stats sockets' group) does not exist yet.
    found: uwsgi_facts' results (packages_missing, binary_exists, pip_version, ssl_missing, missing_groups,
    missing_users); role: the role's settings (install_method, version)."""
    wanted = []
    if found["packages_missing"] is None or found["packages_missing"]:
        wanted.append("apt")
    if role.get("install_method") == "system":
        wanted.append("system")
    elif check_mode and not found["binary_exists"]:
        wanted.append("report")
    elif not (found["binary_exists"] and found["pip_version"] == str(role.get("version"))) or found["ssl_missing"]:
        wanted.append("pip")
    if found["missing_groups"] or found["missing_users"]:
        wanted.append("accounts")
    return wanted
