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
  - pyops.uwsgi.attributes
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
  package_snapshots:
    description:
      - The snapshots of the virtualenvs whose packages this run changed (M(pyops.uwsgi.uwsgi_packages)), removed once
        every app is healthy.
    type: list
    elements: str
    default: []
  journal_lines:
    description: How many journal lines to show for an app that failed.
    type: int
    default: 25
attributes:
  check_mode:
    support: full
    details: Reports each app's action; starts, stops and checks nothing.
  diff_mode:
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
  description:
    - Per app, the action taken (start, reload, restart or none), whether it ran before, and its health check's result.
    - C(enabled) and C(disabled) list the units whose enablement at boot this call changed, which
      M(pyops.uwsgi.uwsgi_rollback) puts back.
  returned: always
  type: dict
  sample: {hello: {action: reload, state: reloaded, was_running: true, health: {status: 200, attempts: 1, elapsed: 0.4},
                   enabled: [], disabled: []}}
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
snapshots_removed:
  description: The snapshots of virtualenvs (O(package_snapshots)) removed once every app was healthy.
  returned: success
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
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages_host as packages_host
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_plan
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_record
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd, SystemctlError

NEED_APP_EXIT = (
    "It exited with status 22: uWSGI's need-app found no app it could load (check module or\n"
    "wsgi_file, chdir and virtualenv). systemd will not restart it until the role runs again.\n"
)


class Step:
    """One call of the module: its records, the systemctl runner, the result so far and the failures."""

    def __init__(self, module, systemd):
        self.module, self.systemd = module, systemd
        self.apps = uwsgi_record.records(module.params["apps"])
        self.check = module.check_mode
        self.lines = module.params["journal_lines"]
        self.result = dict(changed=False, apps={}, touched=[], last_good=[])
        self.failures = []
        self.plans = {}
        self.markers = {}

    def touch(self, name):
        if name not in self.result["touched"]:
            self.result["touched"].append(name)

    def enablement(self, name, change, unit):
        """Keep, in the app's result, a unit whose enablement this call changed (the rollback puts it back)."""
        self.result["apps"][name][change].append(unit)

    def fail_if_failed(self):
        if self.failures:
            self.module.fail_json(msg="\n".join(self.failures), **self.result)


def apply_systemctl(systemd, record, action):
    """Carry out an action that is a systemctl verb: None on success, else what systemctl said."""
    verb = actions.ACTIONS[action].verb
    if verb is None:
        return None
    answer = systemd.run(verb, record.unit)
    return None if answer.ok else answer.said


# How each action is carried out (uwsgi_actions.ACTIONS): an action that is not a systemctl verb gets its
# own runner here, (systemd, record, action) -> None or the error.
APPLY = {name: apply_systemctl for name in actions.ACTIONS}


def plan(step):
    """systemd reads changed units, then one `systemctl show` of every unit; each app's plan from it."""
    params = step.module.params
    if not step.check and uwsgi_plan.needs_daemon_reload(step.apps):
        try:
            step.systemd.must("daemon-reload")
        except SystemctlError as exc:
            step.module.fail_json(msg=str(exc), **step.result)
    shown = step.systemd.show([unit for record in step.apps.values() for unit in record.units])
    step.plans = uwsgi_plan.plan_service(step.apps, shown, params["install_changed"], params["packages_changed"])
    for name, app_plan in step.plans.items():
        step.result["apps"][name] = {"action": app_plan.action, "state": actions.STATES[app_plan.action],
                                     "was_running": app_plan.was_running, "health": None, "enabled": [],
                                     "disabled": []}
    # In check mode systemd does not know a new or changed unit yet: the unit's change is reported.
    step.result["changed"] = uwsgi_plan.changes(step.apps, step.plans)
    # After a reload, the health check first waits for the reload marker to be made anew.
    step.markers = {name: probe.inode(step.apps[name].reload_marker) for name, app_plan in step.plans.items()
                    if actions.ACTIONS[app_plan.action].waits_for_marker and step.apps[name].reload_marker}


def socket_failed(step, name, doing, error):
    """A socket unit systemd could not bind (a taken port, a missing directory): the app fails."""
    record = step.apps[name]
    step.failures.append("uWSGI app '%s': systemd could not %s its socket unit %s: %s\nLast %d journal lines of %s:\n%s"
                         % (name, doing, record.socket_unit, error, step.lines, record.socket_unit,
                            step.systemd.journal(record.socket_unit, step.lines)))
    step.touch(name)


def let_go(step, name, app_plan):
    """An app whose listening sockets change (or which stops using socket activation) lets go of them."""
    record = step.apps[name]
    try:
        if app_plan.stop_unit:
            step.systemd.must("stop", record.unit)
        if app_plan.drop_socket:
            step.systemd.run("stop", record.socket_unit)
            step.systemd.must("disable", record.socket_unit)
            step.enablement(name, "disabled", record.socket_unit)
    except SystemctlError as exc:
        socket_failed(step, name, "let go of", exc)


def bind(step, name, app_plan):
    """Under socket activation, systemd binds the app's sockets (start or restart) and enables its socket unit."""
    record = step.apps[name]
    try:
        if app_plan.socket_verb:
            step.systemd.must(app_plan.socket_verb, record.socket_unit)
        if app_plan.enable_socket:
            step.systemd.must("enable", record.socket_unit)
            step.enablement(name, "enabled", record.socket_unit)
    except SystemctlError as exc:
        socket_failed(step, name, app_plan.socket_verb or "enable", exc)


def fail_start(step, name):
    record = step.apps[name]
    journal = step.systemd.journal(record.unit, step.lines)
    text = "uWSGI app '%s' (%s) failed to start.\n" % (name, record.unit)
    if "status=22/" in journal:
        text += NEED_APP_EXIT
    step.failures.append(text + "Last %d journal lines:\n%s" % (step.lines, journal))
    step.touch(name)


def apply_one(step, name):
    action = step.plans[name].action
    return APPLY[action](step.systemd, step.apps[name], action)


def run_actions(step):
    """Every app's action at once; an app whose socket unit failed is not started."""
    names = uwsgi_plan.to_apply(step.plans, step.result["touched"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(apply_one, [step] * len(names), names))
    for name, error in zip(names, outcomes):
        if error is None:
            step.touch(name)
        else:
            fail_start(step, name)


def enable_units(step):
    units = uwsgi_plan.units_to_enable(step.apps, step.plans)
    if not units:
        return
    try:
        step.systemd.must("enable", *units)
    except SystemctlError as exc:
        step.failures.append("could not enable %s at boot: %s" % (", ".join(units), exc))
        return
    for name, app_plan in step.plans.items():
        if app_plan.enable_unit:
            step.enablement(name, "enabled", step.apps[name].unit)


def apply(step):
    """Carry out the plan: sockets let go of, socket units bound, actions, units enabled."""
    if step.check:
        return
    for name, app_plan in step.plans.items():
        let_go(step, name, app_plan)
    for name, app_plan in step.plans.items():
        if step.apps[name].activated:
            bind(step, name, app_plan)
    run_actions(step)
    enable_units(step)
    step.fail_if_failed()


def health(step, name):
    """(name, what the health check saw, None or why it failed)."""
    record = step.apps[name]
    params = record.health
    marker = step.markers.get(name)
    try:
        return name, probe.check(
            params["socket"], params["protocol"], params["path"], params["host"], params["status"],
            float(params["timeout"]), recreated_file=record.reload_marker if marker else None,
            recreated_file_inode=marker, pidfile=record.pidfile, settle=probe.STEADY_S), None
    except probe.Unhealthy as exc:
        return name, exc.result, exc.msg


def check(step):
    """uWSGI sends systemd nothing after a reload and `systemctl reload` returns at once: only an answer
    from the app itself says that the new configuration serves. Every touched app is asked at once."""
    checked = [name for name in step.result["touched"] if step.apps[name].health_enabled]
    if not checked or step.check:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(checked)))) as pool:
        for name, seen, error in pool.map(health, [step] * len(checked), checked):
            step.result["apps"][name]["health"] = seen
            if error:
                record = step.apps[name]
                step.failures.append(
                    "uWSGI app '%s' (%s) failed its health check after a %s: %s\nLast %d journal lines:\n%s"
                    % (name, record.unit, step.plans[name].action, error, step.lines,
                       step.systemd.journal(record.unit, step.lines)))
    step.fail_if_failed()


def keep(step):
    """Every app has passed its health check (or was not touched): its live files become the configuration
    a later failed change is rolled back to."""
    if step.check:
        return
    config_dir = step.module.params["config_dir"]
    try:
        step.result["last_good"] = state.keep_all_last_good(config_dir, step.apps)
    except state.WriteFailed as exc:
        # The role's rescue then puts the apps back on the last good configuration on record, so that
        # what runs is what a later rollback would go back to.
        step.result["last_good"] = list(exc.done)
        step.module.fail_json(
            msg="Every app this run touched passed its health check, but the role %s, so this change cannot "
                "become the last good configuration (%s): it is rolled back. Free space on (or make writable) "
                "the file system that holds it, and run the role again." % (exc, model.last_good_dir(
                    {"config_dir": config_dir})),
            failed_file=exc.path, **step.result)
    step.result["changed"] = step.result["changed"] or bool(step.result["last_good"])


def keep_packages(step):
    """Every app is healthy: the snapshots of the virtualenvs whose packages this run changed are not needed."""
    if not step.check:
        step.result["snapshots_removed"] = packages_host.drop(step.module.params.get("package_snapshots"))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="dict", required=True),
            config_dir=dict(type="path", required=True),
            install_changed=dict(type="bool", default=False),
            packages_changed=dict(type="list", elements="str", default=[]),
            package_snapshots=dict(type="list", elements="str", default=[]),
            journal_lines=dict(type="int", default=25),
            run=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    step = Step(module, Systemd(module))
    uwsgi_lock.hold(module, module.params["run"])
    plan(step)
    apply(step)
    check(step)
    keep(step)
    keep_packages(step)
    # Every app is healthy: the run's last call (on a failure the rollback follows, and releases it).
    uwsgi_lock.release(module, module.params["run"])
    module.exit_json(**step.result)


if __name__ == "__main__":
    main()
