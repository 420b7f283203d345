#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_remove
short_description: Remove every uWSGI app of a host listed with state absent, in one call
version_added: 0.2.0
description:
  - For each app of O(apps) with C(state=absent), stops and disables its socket unit and then its service,
    deletes its units, ini, secrets file, last good copies and runtime directory, and makes systemd forget
    the deleted units. With C(remove_user), also deletes the app's own user and its group (a group another
    account of the role still has stays).
  - Only the app's name is used (every path derives from it). No other app is touched.
  - The internal module of the role C(pyops.uwsgi.uwsgi_production).
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
  - pyops.uwsgi.run_lock
options:
  apps:
    description: The role's C(uwsgi_production_apps); only those with C(state=absent) are removed.
    type: list
    elements: dict
    required: true
  role:
    description: The role's variables without their C(uwsgi_production_) prefix (user, group, config_dir).
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    details: Reports what it would stop and delete; changes nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Remove the apps listed with state absent
  pyops.uwsgi.uwsgi_remove:
    apps: [{name: old, state: absent, user: old, remove_user: true}]
    role: {user: uwsgi, group: uwsgi, config_dir: /etc/uwsgi-production}
"""

RETURN = r"""
apps:
  description: Per removed app, the units it stopped and disabled, the paths it deleted, and the user and group it deleted.
  returned: always
  type: dict
  sample: {old: {stopped: [uwsgi-old.socket, uwsgi-old.service], deleted: [/etc/uwsgi-production/old.ini], user: old, group: old}}
"""

import grp
import os
import pwd
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd, SystemctlError

UNIT_DIR = "/etc/systemd/system/"


class CommandFailed(Exception):
    """userdel or groupdel failed: its message."""


def run(module, *cmd):
    rc, out, err = module.run_command(list(cmd))
    if rc != 0:
        raise CommandFailed("%s: %s" % (" ".join(cmd), (err or out).strip()))


def remove(module, systemd, entry, done, check):
    """Stop and disable the app's units, delete its files, user and group (what `done` records).
    Returns whether a unit file was deleted (systemd then forgets it with daemon-reload)."""
    forget_units = False
    for unit in entry["units"]:
        if os.path.exists(UNIT_DIR + unit):
            done["stopped"].append(unit)
            if not check:
                systemd.must("disable", "--now", unit)
    for path in entry["files"]:
        if not os.path.lexists(path):
            continue
        done["deleted"].append(path)
        forget_units = forget_units or path.startswith(UNIT_DIR)
        if check:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    if entry["user"] and state.exists(pwd.getpwnam, entry["user"]):
        done["user"] = entry["user"]
        if not check:
            run(module, "userdel", entry["user"])
    if entry["group"] and state.exists(grp.getgrnam, entry["group"]):
        done["group"] = entry["group"]
        if not check:
            run(module, "groupdel", entry["group"])
    return forget_units


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True),
            role=dict(type="dict", required=True),
            run=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    check = module.check_mode
    result = dict(changed=False, apps={})
    systemd = Systemd(module)
    uwsgi_lock.hold(module, module.params["run"])
    forget_units = False
    try:
        for entry in model.removals(module.params["apps"], module.params["role"]):
            done = result["apps"][entry["name"]] = dict(stopped=[], deleted=[], user=None, group=None)
            forget_units = remove(module, systemd, entry, done, check) or forget_units
            result["changed"] = result["changed"] or any(done.values())
        if forget_units and not check:
            systemd.must("daemon-reload")
    except (SystemctlError, CommandFailed) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
