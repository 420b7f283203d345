#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_service
short_description: Start, reload or restart every uWSGI app of a host as its change needs, check its health, keep it as last good
version_added: 0.2.0
description:
  - Takes what M(pyops.uwsgi.uwsgi_config) wrote, makes systemd read changed units, and applies each app's
    change with the gentlest action (start, reload, restart or none; see the role's docs, "Safe changes").
    An app whose listening sockets change is stopped first, then its socket unit restarted.
  - Asks every app it started, reloaded or restarted for its health-check page, all at once, from inside the
    host; after a reload it first waits until the master has created its fifo anew.
  - When every app is healthy, keeps each app's live ini, unit, socket unit and secrets file as its last good
    configuration (what a later failed change is rolled back to), every copy written before any replaces
    its old one; if they cannot be written (a full or read-only file system), it fails naming the file,
    every old copy as it was, and the role rolls the change back.
  - Fails naming each app that did not start or failed its health check, with its last journal lines.
  - The internal module of the role C(pyops.uwsgi.uwsgi_production).
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.run_lock
options:
  apps:
    description: "The C(apps) result of M(pyops.uwsgi.uwsgi_config): each app's model and which of its files changed."
    type: dict
    required: true
  config_dir:
    description: The role's configuration directory (C(uwsgi_production_config_dir)).
    type: path
    required: true
  install_changed:
    description: Whether this run changed the uWSGI install (every running app then restarts on the new binary).
    type: bool
    default: false
  packages_changed:
    description: The apps whose packages or requirements this run installed or upgraded (a reload loads them).
    type: list
    elements: str
    default: []
  journal_lines:
    description: How many journal lines to show for an app that failed.
    type: int
    default: 25
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports each app's action; starts, stops and checks nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Apply each app's change, check its health, keep it as last good
  pyops.uwsgi.uwsgi_service:
    apps: "{{ _config.apps }}"
    config_dir: /etc/uwsgi-production
"""

RETURN = r"""
apps:
  description: Per app, the action taken (start, reload, restart or none), whether it ran before, and its health check's result.
  returned: always
  type: dict
  sample: {hello: {action: reload, state: reloaded, was_running: true, health: {status: 200, attempts: 1, elapsed: 0.4}}}
touched:
  description: The apps this call started, reloaded or restarted, or tried to.
  returned: always
  type: list
  elements: str
last_good:
  description: The last good files this call wrote (a leading C(-) for one it removed).
  returned: always
  type: list
  elements: str
failed_file:
  description:
    - The last good file the call could not write (a full or read-only file system) although every app it touched was
      healthy; the role's rescue then rolls the apps back.
  returned: failure writing a last good file
  type: str
  sample: /etc/uwsgi-production/last-good/hello.ini
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_record
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd, SystemctlError

NEED_APP_EXIT = (
    "It exited with status 22: uWSGI's need-app found no app it could load (check module or\n"
    "wsgi_file, chdir and virtualenv). systemd will not restart it until the role runs again.\n"
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="dict", required=True),
            config_dir=dict(type="path", required=True),
            install_changed=dict(type="bool", default=False),
            packages_changed=dict(type="list", elements="str", default=[]),
            journal_lines=dict(type="int", default=25),
            run=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    apps, check = uwsgi_record.records(module.params["apps"]), module.check_mode
    lines = module.params["journal_lines"]
    systemd = Systemd(module)
    result = dict(changed=False, apps={}, touched=[], last_good=[])

    def changed(name):
        return set(apps[name].changed)

    uwsgi_lock.hold(module, module.params["run"])

    # systemd reads changed units before any start.
    if not check and any(changed(name) & {"unit", "socket"} for name in apps):
        systemd.must("daemon-reload")

    units = [info.unit for info in apps.values()] + [info.socket_unit for info in apps.values()]
    before = systemd.show(units)
    plan = {}
    for name, info in apps.items():
        status = before.get(info.unit, {})
        was_running = status.get("SubState") == "running"
        action = actions.choose_action(
            was_running, changed(name), info.restart_needed,
            module.params["install_changed"], name in module.params["packages_changed"], info.unit_restart)
        plan[name] = action
        result["apps"][name] = {"action": action, "state": actions.STATES[action], "was_running": was_running,
                                "health": None}

    failures = []

    # After a reload, the health check first waits for the reload marker to be made anew.
    markers = {name: probe.inode(apps[name].reload_marker) for name, action in plan.items()
               if action == "reload" and apps[name].reload_marker}

    def fail_start(name, error):
        info = apps[name]
        journal = systemd.journal(info.unit, lines)
        text = "uWSGI app '%s' (%s) failed to start.\n" % (name, info.unit)
        if "status=22/" in journal:
            text += NEED_APP_EXIT
        failures.append(text + "Last %d journal lines:\n%s" % (lines, journal))
        result["touched"].append(name)

    def socket_failed(name, doing, error):
        """A socket unit systemd could not bind (a taken port, a missing directory): the app fails."""
        info = apps[name]
        failures.append("uWSGI app '%s': systemd could not %s its socket unit %s: %s\nLast %d journal lines of %s:\n%s"
                        % (name, doing, info.socket_unit, error, lines, info.socket_unit,
                           systemd.journal(info.socket_unit, lines)))
        if name not in result["touched"]:
            result["touched"].append(name)

    # systemd binds a socket unit's addresses itself: an app whose listening sockets change (or which
    # starts or stops using socket activation) lets go of them first. Its action is a restart.
    for name, info in apps.items():
        if "socket" not in changed(name):
            continue
        result["changed"] = True
        if check:
            continue
        try:
            if result["apps"][name]["was_running"]:
                systemd.must("stop", info.unit)
            if not info.activated:
                systemd.run("stop", info.socket_unit)
                systemd.must("disable", info.socket_unit)
        except SystemctlError as exc:
            socket_failed(name, "let go of", exc)

    for name, info in apps.items():
        if not info.activated:
            continue
        sock = before.get(info.socket_unit, {})
        active = sock.get("ActiveState") == "active"
        verb = ("restart" if active else "start") if "socket" in changed(name) else (None if active else "start")
        enable = sock.get("UnitFileState") != "enabled"
        result["changed"] = result["changed"] or bool(verb) or enable
        if check:
            continue
        try:
            if verb:
                systemd.must(verb, info.socket_unit)
            if enable:
                systemd.must("enable", info.socket_unit)
        except SystemctlError as exc:
            socket_failed(name, verb or "enable", exc)

    def apply(name):
        verb = actions.SYSTEMCTL[plan[name]]
        if verb is None:
            return None
        run = systemd.run(verb, apps[name].unit)
        return None if run.returncode == 0 else (run.stderr or run.stdout).strip()

    to_apply = [name for name, action in plan.items() if action != "none" and name not in result["touched"]]
    # In check mode systemd does not know a new or changed unit yet: the unit's change is reported.
    if check:
        result["changed"] = result["changed"] or bool(to_apply)
    else:
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = dict(zip(to_apply, pool.map(apply, to_apply)))
        for name in to_apply:
            result["changed"] = True
            if outcomes[name] is None:
                result["touched"].append(name)
            else:
                fail_start(name, outcomes[name])

    not_enabled = [info.unit for info in apps.values() if before.get(info.unit, {}).get("UnitFileState") != "enabled"]
    if not_enabled:
        result["changed"] = True
        if not check:
            try:
                systemd.must("enable", *not_enabled)
            except SystemctlError as exc:
                failures.append("could not enable %s at boot: %s" % (", ".join(not_enabled), exc))

    if failures:
        module.fail_json(msg="\n".join(failures), **result)

    # uWSGI sends systemd nothing after a reload and `systemctl reload` returns at once: only an answer
    # from the app itself says that the new configuration serves.
    def health(name):
        info = apps[name]
        params = info.health
        marker = markers.get(name)
        try:
            return name, probe.check(
                params["socket"], params["protocol"], params["path"], params["host"], params["status"],
                float(params["timeout"]),
                recreated_file=info.reload_marker if marker else None, recreated_file_inode=marker,
                pidfile=info.pidfile), None
        except probe.Unhealthy as exc:
            return name, exc.result, exc.msg

    checked = [name for name in result["touched"] if apps[name].health.get("enabled", True)]
    if checked and not check:
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(checked)))) as pool:
            for name, seen, error in pool.map(health, checked):
                result["apps"][name]["health"] = seen
                if error:
                    info = apps[name]
                    failures.append(
                        "uWSGI app '%s' (%s) failed its health check after a %s: %s\nLast %d journal lines:\n%s"
                        % (name, info.unit, plan[name], error, lines, systemd.journal(info.unit, lines)))
    if failures:
        module.fail_json(msg="\n".join(failures), **result)

    # Every app has passed its health check (or was not touched): its live files become the configuration
    # a later failed change is rolled back to.
    if not check:
        try:
            result["last_good"] = state.keep_all_last_good(module.params["config_dir"], apps)
        except state.WriteFailed as exc:
            # The role's rescue then puts the apps back on the last good configuration on record, so that
            # what runs is what a later rollback would go back to.
            result["last_good"] = list(exc.done)
            module.fail_json(
                msg="Every app this run touched passed its health check, but the role %s, so this change cannot "
                    "become the last good configuration (%s): it is rolled back. Free space on (or make writable) "
                    "the file system that holds it, and run the role again." % (exc, model.last_good_dir(
                        {"config_dir": module.params["config_dir"]})),
                failed_file=exc.path, **result)
    result["changed"] = result["changed"] or bool(result["last_good"])
    # Every app is healthy: the run's last call (on a failure the rollback follows, and releases it).
    uwsgi_lock.release(module, module.params["run"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
