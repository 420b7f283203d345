#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_rollback
short_description: Put back the last good configuration of every uWSGI app a failed run changed
version_added: 0.2.0
description:
  - The rescue of the role C(pyops.uwsgi.uwsgi_production), when uWSGI rejected an ini or an app did not start or
    failed its health check.
  - Every app whose files the run changed gets its last good ini, unit, socket unit, secrets file and TLS file back; those
    the run had already started, reloaded or restarted are brought back on them (a reload if that is all the way
    back needs, so they keep serving) and asked for their health-check page again. An app with no last good
    configuration (a new app) is stopped, its socket unit first.
  - Each app's files are put back all at once or not at all; an app whose files cannot be put back (a full or
    read-only file system) is left as it was, running, and named in the message.
  - Always fails, with the run's failure followed by what was rolled back and how each app answered.
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.run_lock
options:
  failure:
    description: What failed (the failed task's message).
    type: str
    required: true
  config:
    description: The result of M(pyops.uwsgi.uwsgi_config) in the failed run (its C(apps), what each app is and which of its files changed).
    type: dict
    required: true
  service:
    description: The result of M(pyops.uwsgi.uwsgi_service) in the failed run, if it ran (its C(apps) and C(touched)).
    type: dict
    default: {}
  config_dir:
    description: The role's configuration directory (C(uwsgi_production_config_dir)).
    type: path
    required: true
  host:
    description: The inventory name of the host, for the message.
    type: str
    required: true
  releases:
    description:
      - The C(reverted) result of M(pyops.uwsgi.uwsgi_release) with its step V(revert), in the rescue. Per app this run
        had switched to a new release, which release it was pointed back at and whether it serves.
    type: dict
    default: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: none
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Restore the last good configuration of the apps this run changed
  pyops.uwsgi.uwsgi_rollback:
    failure: "{{ ansible_failed_result.msg }}"
    config: "{{ _config }}"
    service: "{{ _service }}"
    config_dir: /etc/uwsgi-production
    host: "{{ inventory_hostname }}"
"""

RETURN = r"""
rolled_back:
  description: Per app rolled back, how it was brought back (C(reloaded), C(restarted), or null when it had not been applied yet) and its health check's status.
  returned: always
  type: dict
stopped:
  description: The new apps that were stopped (they had no earlier configuration).
  returned: always
  type: list
  elements: str
unrestored:
  description:
    - Per app whose last good files could not be put back (a full or read-only file system), why. Such an app is left
      as it was, running.
  returned: always
  type: dict
  sample: {shop: "could not write /etc/uwsgi-production/shop.ini: [Errno 28] No space left on device"}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_record
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd


def restore(good, live, owner, group, mode):
    """(live, text, owner, group, mode): what puts the last good copy back over the live file."""
    return (live, state.read_text(good), owner, group, mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            failure=dict(type="str", required=True),
            config=dict(type="dict", required=True),
            service=dict(type="dict", default={}),
            config_dir=dict(type="path", required=True),
            host=dict(type="str", required=True),
            releases=dict(type="dict", default={}),
            run=dict(type="dict"),
        ),
        supports_check_mode=False,
    )

    systemctl = Systemd(module).run

    params = module.params
    if params["run"]:
        try:
            uwsgi_lock.Lock().renew(params["run"])
        except uwsgi_lock.NotHeld as exc:
            module.fail_json(msg="%s\nNot rolled back: %s. Nothing was written." % (params["failure"], exc))
    config, service = params["config"], params["service"] or {}
    apps = uwsgi_record.records(config.get("apps"))
    role = {"config_dir": params["config_dir"]}
    touched = list(service.get("touched") or [])
    chosen = {name: info.get("action", "none") for name, info in (service.get("apps") or {}).items()}

    def changed(name):
        """What this run wrote for the app, or found written but never proven (uwsgi_config's `changed`)."""
        return set(apps[name].changed)

    # The apps whose files this run changed (in the order of uwsgi_production_apps), and of those the ones
    # with a last good configuration to go back to.
    candidates = [name for name in apps if changed(name)]
    rollback = [name for name in candidates if os.path.exists(model.paths(role, name)["good_ini"])]

    reload_units = False
    unrestored = {}
    for name in list(rollback):
        where, kinds, info = model.paths(role, name), changed(name), apps[name]
        # Every file of the app is put back at once, or none is (a full or read-only file system): an app
        # whose files cannot be put back is left as it is, running, and named in the message.
        writes, removes = [], []
        if "ini" in kinds:
            writes.append(restore(where["good_ini"], where["ini"], "root", info.group, "0640"))
        if "env" in kinds:
            if os.path.exists(where["good_env"]):
                writes.append(restore(where["good_env"], where["env"], "root", "root", "0600"))
            elif os.path.exists(where["env"]):
                removes.append(where["env"])
        if "tls" in kinds:
            if os.path.exists(where["good_tls"]):
                writes.append(restore(where["good_tls"], where["tls"], "root", info.group, "0640"))
            elif os.path.exists(where["tls"]):
                removes.append(where["tls"])
        # A changed socket unit or secrets file counts as a changed unit.
        if kinds & {"unit", "socket", "env"}:
            writes.append(restore(where["good_unit"], where["unit"], "root", "root", "0644"))
        if "socket" in kinds:
            if os.path.exists(where["good_socket_unit"]):
                writes.append(restore(where["good_socket_unit"], where["socket_unit"], "root", "root", "0644"))
            elif os.path.exists(where["socket_unit"]):
                removes.append(where["socket_unit"])
        if "socket" in kinds:
            # The app is brought back below; it must let go of the sockets systemd is about to bind.
            systemctl("stop", info.unit)
            systemctl("stop", info.socket_unit)
        try:
            state.write_all_atomically(writes)
            for path in removes:
                try:
                    os.unlink(path)
                except OSError as exc:
                    raise state.WriteFailed(path, exc, [item[0] for item in writes]) from exc
        except state.WriteFailed as exc:
            unrestored[name] = str(exc) + (" (after putting back %s)" % ", ".join(exc.done) if exc.done else "")
            rollback.remove(name)
            if "socket" in kinds and not exc.done:
                # Nothing was put back: it runs again on the files (and units) it had.
                if info.activated:
                    systemctl("start", info.socket_unit)
                systemctl("start", info.unit)
            if not exc.done:
                continue
        if kinds & {"unit", "socket", "env"}:
            reload_units = True
    sockets_changed = [name for name in rollback if "socket" in changed(name)]
    if reload_units:
        systemctl("daemon-reload")
    for name in sockets_changed:
        if os.path.exists(model.paths(role, name)["good_socket_unit"]):
            systemctl("start", apps[name].socket_unit)

    # The apps a rollback brings back: those with a last good configuration that this run touched, or
    # stopped to change their listening sockets. A reload if the app still runs and a reload is all the way
    # back needs; otherwise a restart.
    bring_back = [name for name in rollback if name in touched or name in sockets_changed]
    outcome = {}
    for name in bring_back:
        info = apps[name]
        active = systemctl("show", "--property=ActiveState", "--value", info.unit).stdout.strip() == "active"
        back = actions.rollback_action(active, chosen.get(name, "none"), changed(name))
        marker = probe.inode(info.reload_marker) if back == "reload" and info.reload_marker else None
        # A socket unit fails when its service hit a start limit (units written by an earlier version of the
        # role have one), and a failed unit refuses to start: clear both first.
        systemctl("reset-failed", info.unit, *([info.socket_unit] if info.activated else []))
        run = systemctl(back, info.unit)
        entry = {"state": actions.STATES[back], "error": None, "health": None}
        outcome[name] = entry
        if run.returncode != 0:
            entry["error"] = (run.stderr or run.stdout).strip()
            continue
        # The check the restored configuration passed, not this run's (which may be what failed).
        health = state.good_health(model.paths(role, name), info.health)
        if not health.get("enabled", True):
            continue
        try:
            entry["health"] = probe.check(
                health["socket"], health["protocol"], health["path"], health["host"], health["status"],
                float(health["timeout"]), recreated_file=info.reload_marker if marker else None,
                recreated_file_inode=marker, pidfile=info.pidfile)
        except probe.Unhealthy as exc:
            entry["health"] = dict(exc.result, msg=exc.msg)

    # A new app that failed has no earlier configuration to go back to: it is stopped, its sockets first
    # (a connection waiting in one would start it again at once).
    new = [name for name in candidates if name not in rollback and name not in unrestored]
    stopped = []
    for name in new:
        if name not in touched:
            continue
        info = apps[name]
        if info.activated:
            systemctl("stop", info.socket_unit)
            systemctl("disable", info.socket_unit)
            # A socket unit that could not bind (a taken port) would stay "failed" for every later look.
            systemctl("reset-failed", info.socket_unit)
        # Only a running one: a failed unit stays failed, with its exit status, for the operator to see.
        running = systemctl("show", "--property=ActiveState", "--value", info.unit).stdout.strip()
        if running in ("active", "activating", "reloading") and systemctl("stop", info.unit).returncode == 0:
            stopped.append(name)

    paths = {name: state.good_health(model.paths(role, name), apps[name].health)["path"] for name in rollback}
    text = actions.rollback_report(params["failure"], params["host"], model.last_good_dir(role), rollback, outcome,
                                   paths, new, stopped, unrestored)
    text = actions.release_report(text, params["host"], params["releases"] or {}, outcome)
    # The run's last call.
    uwsgi_lock.release(module, params["run"])
    module.fail_json(msg=text, rolled_back=outcome, stopped=stopped, unrestored=unrestored, changed=True)


if __name__ == "__main__":
    main()
