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
    configuration (a new app) is stopped, its socket unit first, and the units the service step enabled for it are
    disabled.
  - The enablement at boot the service step changed is put back too (its result's C(enabled) and C(disabled)). A
    socket unit it disabled is enabled again once its file is back, a unit it enabled is disabled.
  - Every systemctl call is checked; one that fails is named in the message, which says of each app whether it is
    serving again or down. Only an app that serves again is said to be rolled back.
  - Each app's files are put back all at once or not at all; an app whose files cannot be put back (a full or
    read-only file system) is left as it was, running, and named in the message.
  - Always fails, with the run's failure followed by what was rolled back and how each app answered.
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
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
  packages:
    description:
      - The C(restored) result of M(pyops.uwsgi.uwsgi_packages) with its step V(restore), in the rescue. Per app whose
        packages this run changed, whether its old virtualenv was put back and whether the app serves its old code again.
    type: dict
    default: {}
attributes:
  check_mode:
    support: none
  diff_mode:
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
serving:
  description:
    - Per app whose last good files were put back (or could not be), its state after the rollback, C(serving) or C(down).
    - C(serving) when it passed its health check again (or, with the check off, systemd says it is active).
  returned: always
  type: dict
  sample: {shop: serving}
problems:
  description: Per app, each systemctl call of the rollback that failed and what systemctl said (also in the message).
  returned: always
  type: dict
  sample: {shop: ["systemctl enable uwsgi-shop.socket: Unit file uwsgi-shop.socket does not exist."]}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages as packages
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_plan
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_record
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd

# `systemctl stop` of a unit systemd no longer knows (its file is gone) answers 5: nothing to stop.
NOT_LOADED = 5


class Rollback:
    """One call of the module: the records, the runner, the plan, and what happened to each app."""

    def __init__(self, module, systemd):
        self.module, self.systemd, self.params = module, systemd, module.params
        self.apps = uwsgi_record.records((self.params["config"] or {}).get("apps"))
        self.role = {"config_dir": self.params["config_dir"]}
        self.plans = {}
        self.restored = []     # the apps whose last good files were put back, in order
        self.unrestored = {}   # per app whose files could not be put back, why
        self.outcome = {}      # per app brought back: {state, error, health}
        self.stopped = []
        self.problems = {}     # per app, what each failed systemctl call said
        self.serving = {}

    def where(self, name):
        return model.paths(self.role, name)

    def step(self, names, *args, accept=(0,)):
        """One systemctl call for an app (or a list of apps), checked: a refusal is kept, for the message, with
        each app it concerns. Whether it succeeded."""
        answer = self.systemd.run(*args)
        if answer.returncode in accept:
            return True
        said = "%s: %s" % (" ".join(answer.argv), answer.said or "exit status %d" % answer.returncode)
        for name in [names] if isinstance(names, str) else names:
            self.problems.setdefault(name, []).append(said)
        return False


def restore(good, live, owner, group, mode):
    """(live, text, owner, group, mode): what puts the last good copy back over the live file."""
    return (live, state.read_text(good), owner, group, mode)


def plan(rb):
    """Which apps go back to their last good files, which are brought back, which are new."""
    service = rb.params["service"] or {}
    has_good = [name for name in rb.apps if os.path.exists(rb.where(name)["good_ini"])]
    rb.plans = uwsgi_plan.plan_rollback(rb.apps, service, has_good)


def file_changes(record, where):
    """(writes, removes) that put the app's last good files back over what this run changed."""
    kinds, writes, removes = set(record.changed), [], []
    if "ini" in kinds:
        writes.append(restore(where["good_ini"], where["ini"], "root", record.group, "0640"))
    for kind, owner_group, mode in (("env", "root", "0600"), ("tls", record.group, "0640")):
        if kind not in kinds:
            continue
        if os.path.exists(where["good_" + kind]):
            writes.append(restore(where["good_" + kind], where[kind], "root", owner_group, mode))
        elif os.path.exists(where[kind]):
            removes.append(where[kind])
    # A changed socket unit or secrets file counts as a changed unit.
    if kinds & {"unit", "socket", "env"}:
        writes.append(restore(where["good_unit"], where["unit"], "root", "root", "0644"))
    if "socket" in kinds:
        if os.path.exists(where["good_socket_unit"]):
            writes.append(restore(where["good_socket_unit"], where["socket_unit"], "root", "root", "0644"))
        elif os.path.exists(where["socket_unit"]):
            removes.append(where["socket_unit"])
    return writes, removes


def write_files(writes, removes):
    """Every file at once, or none (a full or read-only file system raises WriteFailed)."""
    state.write_all_atomically(writes)
    for path in removes:
        try:
            os.unlink(path)
        except OSError as exc:
            raise state.WriteFailed(path, exc, [item[0] for item in writes]) from exc


def restore_app(rb, name, app_plan):
    """Put one app's last good files back. Whether systemd must read its units again."""
    record, where = rb.apps[name], rb.where(name)
    if app_plan.let_go:
        # The app is brought back below; it must let go of the sockets systemd is about to bind.
        rb.step(name, "stop", record.unit, accept=(0, NOT_LOADED))
        rb.step(name, "stop", record.socket_unit, accept=(0, NOT_LOADED))
    # What the service step enabled is disabled while its unit file is still there.
    for unit in app_plan.enabled:
        rb.step(name, "disable", unit)
    try:
        write_files(*file_changes(record, where))
    except state.WriteFailed as exc:
        rb.unrestored[name] = str(exc) + (" (after putting back %s)" % ", ".join(exc.done) if exc.done else "")
        if not exc.done:
            # Nothing was put back: it runs again on the files (and units, and links) it had.
            for unit in app_plan.enabled:
                rb.step(name, "enable", unit)
            if app_plan.let_go:
                if record.activated:
                    rb.step(name, "start", record.socket_unit)
                rb.step(name, "start", record.unit)
            return False
        return app_plan.reload_units
    rb.restored.append(name)
    return app_plan.reload_units


def unit_file(rb, name, unit):
    where = rb.where(name)
    return where["socket_unit"] if unit == rb.apps[name].socket_unit else where["unit"]


def restore_all(rb):
    """Every app's files, then systemd reads the units again, then the links and sockets the app had."""
    reload_units = False
    for name, app_plan in rb.plans.items():
        if app_plan.restore:
            reload_units = restore_app(rb, name, app_plan) or reload_units
    if reload_units:
        rb.step(rb.restored + list(rb.unrestored), "daemon-reload")
    for name in rb.restored:
        app_plan, record = rb.plans[name], rb.apps[name]
        # The links the service step removed (a socket unit it disabled), for the units that are back.
        for unit in app_plan.disabled:
            if os.path.exists(unit_file(rb, name, unit)):
                rb.step(name, "enable", unit)
        if app_plan.let_go and os.path.exists(rb.where(name)["good_socket_unit"]):
            rb.step(name, "start", record.socket_unit)


def bring_back(rb, name):
    """A reload if the app still runs and a reload is all the way back needs, else a restart; then the
    health check its last good configuration passed (not this run's, which may be what failed). A reload
    that does not bring it back (its master was on its way out: a crash loop) is followed by a restart."""
    record, app_plan = rb.apps[name], rb.plans[name]
    active = rb.systemd.active_state(record.unit) == "active"
    back = actions.rollback_action(active, app_plan.action, record.changed)
    entry = rb.outcome[name] = bring_back_by(rb, name, back)
    if back == "reload" and (entry["error"] or (entry["health"] or {}).get("msg")):
        rb.outcome[name] = bring_back_by(rb, name, "restart")


def bring_back_by(rb, name, back):
    """Reload or restart one app on its restored files and ask for its last good health-check page."""
    record, where = rb.apps[name], rb.where(name)
    marker = probe.inode(record.reload_marker) if back == "reload" and record.reload_marker else None
    # A socket unit fails when its service hit a start limit (units written by an earlier version of the
    # role have one), and a failed unit refuses to start: clear both first.
    sockets = [record.socket_unit] if os.path.exists(where["socket_unit"]) else []
    rb.step(name, "reset-failed", record.unit, *sockets)
    answer = rb.systemd.run(back, record.unit)
    entry = {"state": actions.STATES[back], "error": None, "health": None}
    if not answer.ok:
        entry["error"] = answer.said
        return entry
    health = state.good_health(where, record.health)
    if not health.get("enabled", True):
        return entry
    try:
        entry["health"] = probe.check(
            health["socket"], health["protocol"], health["path"], health["host"], health["status"],
            float(health["timeout"]), recreated_file=record.reload_marker if marker else None,
            recreated_file_inode=marker, pidfile=record.pidfile, settle=probe.STEADY_S)
    except probe.Unhealthy as exc:
        entry["health"] = dict(exc.result, msg=exc.msg)
    return entry


def stop_new(rb, name, enabled):
    """A new app that failed has no earlier configuration to go back to: it is stopped, its sockets first
    (a connection waiting in one would start it again at once), and the units the service step enabled are
    disabled (else the failed app would start again at boot)."""
    record = rb.apps[name]
    if record.activated:
        rb.step(name, "stop", record.socket_unit, accept=(0, NOT_LOADED))
        rb.step(name, "disable", record.socket_unit)
        # A socket unit that could not bind (a taken port) would stay "failed" for every later look.
        rb.step(name, "reset-failed", record.socket_unit)
    # Only a running one: a failed unit stays failed, with its exit status, for the operator to see.
    if rb.systemd.active_state(record.unit) in ("active", "activating", "reloading"):
        if rb.step(name, "stop", record.unit):
            rb.stopped.append(name)
    for unit in enabled:
        if not (record.activated and unit == record.socket_unit):
            rb.step(name, "disable", unit)


def check(rb):
    """Each app that went back is brought back and asked again; each new one stopped; each named serving
    or down."""
    for name in rb.restored:
        if rb.plans[name].bring_back:
            bring_back(rb, name)
    for name, app_plan in rb.plans.items():
        if not app_plan.restore and app_plan.touched:
            stop_new(rb, name, app_plan.enabled)
    for name in rb.restored + list(rb.unrestored):
        entry = rb.outcome.get(name) or {"health": None, "error": None}
        active = rb.systemd.active_state(rb.apps[name].unit) if entry["health"] is None else ""
        rb.serving[name] = uwsgi_plan.serving(entry["health"], active, entry["error"])


def report(rb):
    """The run's failure, then how each app went back and is now."""
    new = [name for name, app_plan in rb.plans.items() if not app_plan.restore]
    paths = {name: state.good_health(rb.where(name), rb.apps[name].health)["path"] for name in rb.restored}
    text = actions.rollback_report(rb.params["failure"], rb.params["host"], model.last_good_dir(rb.role), rb.restored,
                                   rb.outcome, paths, new, rb.stopped, rb.unrestored, rb.serving, rb.problems)
    # Per app this run had switched to a new release, which release it was pointed back at (uwsgi_release revert).
    text = actions.release_report(text, rb.params["host"], rb.params["releases"] or {}, rb.outcome)
    # Per app whose packages this run changed, whether its old virtualenv serves again (uwsgi_packages restore).
    return packages.restore_report(text, rb.params["host"], rb.params.get("packages") or {}, rb.outcome)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            failure=dict(type="str", required=True),
            config=dict(type="dict", required=True),
            service=dict(type="dict", default={}),
            config_dir=dict(type="path", required=True),
            host=dict(type="str", required=True),
            releases=dict(type="dict", default={}),
            packages=dict(type="dict", default={}),
            run=dict(type="dict"),
        ),
        supports_check_mode=False,
    )
    if module.params["run"]:
        try:
            uwsgi_lock.Lock().renew(module.params["run"], call=uwsgi_lock.this_call())
        except uwsgi_lock.NotHeld as exc:
            module.fail_json(msg="%s\nNot rolled back: %s. Nothing was written." % (module.params["failure"], exc))
    rb = Rollback(module, Systemd(module))
    plan(rb)
    restore_all(rb)
    check(rb)
    text = report(rb)
    # The run's last call.
    uwsgi_lock.release(module, module.params["run"])
    module.fail_json(msg=text, rolled_back=rb.outcome, stopped=rb.stopped, unrestored=rb.unrestored,
                     serving={name: "serving" if up else "down" for name, up in rb.serving.items()},
                     problems=rb.problems, changed=True)


if __name__ == "__main__":
    main()
