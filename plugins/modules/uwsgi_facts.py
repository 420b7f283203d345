#!/usr/bin/python
# Copyright (c) pyops engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_facts
short_description: Read in one call what the uWSGI role's install steps would find on a host
version_added: 0.2.0
description:
  - Reads, and changes nothing, whether the host has apt package lists, which of the wanted Debian packages
    are not installed, whether the uWSGI binary exists and which uWSGI release the role's virtualenv holds,
    whether every service account exists as the role makes it, and which apps' virtualenvs exist.
  - The role skips each install step whose outcome is already on the host, so a run that changes nothing
    makes one call here instead of one per package manager, account and app.
  - The internal module of the role C(pyops.uwsgi.uwsgi_production).
author:
  - pyops engineers (@pyops)
options:
  apps:
    description: The role's C(uwsgi_production_apps).
    type: list
    elements: dict
    required: true
  role:
    description: The role's variables without their C(uwsgi_production_) prefix (user, group, venv, install_method).
    type: dict
    required: true
  packages:
    description: The Debian packages the install step wants present.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Read what the install steps would find
  pyops.uwsgi.uwsgi_facts:
    apps: "{{ uwsgi_production_apps }}"
    role: {user: uwsgi, group: uwsgi, venv: /opt/uwsgi, install_method: pip}
    packages: [gcc, python3-dev]
  register: found
"""

RETURN = r"""
apt_lists:
  description: Whether /var/lib/apt/lists holds package lists (a host whose lists were emptied looks fresh to apt's cache_valid_time).
  returned: always
  type: bool
packages_missing:
  description: The wanted packages dpkg does not report installed; null when a name is not a plain package name.
  returned: always
  type: list
  elements: str
binary_exists:
  description: Whether the uWSGI binary of the install method exists.
  returned: always
  type: bool
pip_version:
  description: The uWSGI release installed in the role's virtualenv, or an empty string.
  returned: always
  type: str
accounts_ok:
  description: Whether every service user exists with its primary group, no login shell and no home, as the role creates it.
  returned: always
  type: bool
existing_venvs:
  description: The names of the apps whose virtualenv exists.
  returned: always
  type: list
  elements: str
"""

import glob
import grp
import os
import pwd
import re
import subprocess

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model

PLAIN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def missing_packages(names):
    """The packages of `names` that dpkg does not report installed; None when one is not a plain name
    (a version or a pattern: apt itself must decide)."""
    if not names:
        return []
    if not all(PLAIN_PACKAGE.match(name) for name in names):
        return None
    run = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", "--"] + list(names),
                         capture_output=True, text=True, check=False)
    installed = set()
    for line in run.stdout.splitlines():
        package, _sep, status = line.partition(" ")
        if status.startswith("ii"):
            installed.add(package.split(":")[0])
    return [name for name in names if name not in installed]


def pip_version(venv):
    """The uWSGI release pip installed in the virtualenv, from its dist-info directory's name."""
    found = glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "[uU][wW][sS][gG][iI]-*.dist-info"))
    if len(found) != 1:
        return ""
    return os.path.basename(found[0])[len("uwsgi-"):-len(".dist-info")]


def account_ok(user, group):
    try:
        entry = pwd.getpwnam(user)
        return (entry.pw_gid == grp.getgrnam(group).gr_gid and entry.pw_shell == "/usr/sbin/nologin"
                and entry.pw_dir == "/nonexistent")
    except KeyError:
        return False


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True),
            role=dict(type="dict", required=True),
            packages=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    role, apps = module.params["role"], module.params["apps"]
    present = model.present_apps(apps)
    module.exit_json(
        changed=False,
        apt_lists=bool(glob.glob("/var/lib/apt/lists/*_Packages*")),
        packages_missing=missing_packages(module.params["packages"]),
        binary_exists=os.path.exists(model.binary(role)),
        pip_version=pip_version(role["venv"]),
        accounts_ok=all(account_ok(user, group) for user, group in model.accounts(apps, role)),
        existing_venvs=[app["name"] for app in present
                        if app.get("virtualenv") and os.path.exists(os.path.join(app["virtualenv"], "bin", "python"))],
    )


if __name__ == "__main__":
    main()
