#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_packages
short_description: Install the packages of uWSGI apps into their live virtualenvs, checked, with a snapshot to go back to
version_added: 0.3.0
description:
  - The C(packages) and C(requirements) step of the role C(pyops.uwsgi.uwsgi_production), for every app without a
    C(release), in one call.
  - For each such app, makes its virtualenv if it is missing (C(python -m venv) with the role's Python), and tells
    whether pip would change it, without running pip when it can; every specifier, and what satisfies it, is compared
    with what the virtualenv holds. A directory, an archive, a URL or a requirements file line with an option is
    left to pip.
  - Only then keeps a snapshot of the virtualenv beside it (C(<virtualenv>.pyops-snapshot), a hard-link copy), runs
    pip, and, when pip changed something, imports the app's WSGI callable with the virtualenv's Python in a separate
    process, as the app's user, in its directory, with its environment and secrets, within a time-out.
  - If pip or the import fails, every virtualenv this call changed is put back from its snapshot, so the running apps
    keep their code and their next reload is safe, and it fails naming the host, the app, what failed (the last lines
    of its output) and that the app still serves its old code.
  - The snapshot of a changed app stays until the run's service step has reloaded the app and it answered its health
    check (then M(pyops.uwsgi.uwsgi_service) removes it). A snapshot found at the start of a run is a change no run
    proved, so the app is checked and reloaded again.
  - With O(step=restore), the role's rescue, puts each snapshot back and brings back the apps the run had reloaded
    (a reload while it runs, else a restart; the configuration's rollback does it for an app whose files changed too),
    asks each for its health-check page and reports, per app, whether it serves its old code. It never fails; the
    rollback that follows fails the run with that report.
  - An app that needs uWSGI's own C(uwsgi) module at import time cannot be imported outside uWSGI; its reload and
    health check prove its packages.
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
  - pyops.uwsgi.run_lock
options:
  step:
    description: V(install) the packages, or V(restore) the snapshots of the apps a failed run changed.
    type: str
    choices: [install, restore]
    default: install
  apps:
    description: The role's C(uwsgi_production_apps).
    type: list
    elements: dict
    required: true
  role:
    description: The role's settings (its variables without their prefix).
    type: dict
    required: true
  secrets:
    description: The role's C(uwsgi_production_secrets) (the import check's environment).
    type: dict
    default: {}
  host:
    description: The inventory name of the host, for the messages.
    type: str
    required: true
  changed_apps:
    description: With O(step=restore), the C(changed) result of the O(step=install) call.
    type: list
    elements: str
    default: []
  config:
    description: With O(step=restore), the C(apps) result of M(pyops.uwsgi.uwsgi_config) (health checks, changed files).
    type: dict
    default: {}
  service:
    description: With O(step=restore), the result of M(pyops.uwsgi.uwsgi_service), if it ran (its C(touched)).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details: Reports the apps whose packages would change; runs no pip and imports nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Install each app's packages into its virtualenv, checked
  pyops.uwsgi.uwsgi_packages:
    apps: "{{ uwsgi_production_apps }}"
    role: "{{ _role }}"
    secrets: "{{ uwsgi_production_secrets }}"
    host: "{{ inventory_hostname }}"
  register: _packages
"""

RETURN = r"""
changed_apps:
  description: The apps whose packages this call changed, or an earlier run changed and no run proved (a reload loads them).
  returned: always
  type: list
  elements: str
  sample: [shop]
snapshots:
  description: The snapshots kept for those apps, each removed once the app answered its health check after its reload.
  returned: always
  type: list
  elements: str
  sample: [/srv/shop/venv.pyops-snapshot]
apps:
  description:
    - Per app with packages, why pip ran (C(why), "" when it did not), the distributions it changed, whether its import
      was checked, and what an earlier killed run left that was set right (C(recovered)).
  returned: always
  type: dict
  sample: {shop: {why: "shop 2 is installed, shop==3 is asked", changed: [shop], checked: true, recovered: []}}
restored:
  description:
    - With O(step=restore), per app, whether its virtualenv was put back (C(restored)), how it was brought back
      (C(action) none, reload, restart or service), C(serving) and C(error).
  returned: always
  type: dict
  sample: {shop: {restored: true, action: reload, serving: true, error: null}}
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages as packages
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages_host as host
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd


class Failed(Exception):
    """An app's packages did not install or import: what failed and its output's last lines."""

    def __init__(self, what: str, output: str = ""):
        super().__init__(what)
        self.what, self.output = what, output


class Run:
    """One install call: what it changed so far, for its result and for putting it all back on a failure."""

    def __init__(self, module):
        self.module, self.params = module, module.params
        self.changed, self.snapshots, self.apps, self.created = [], [], {}, []


def plan_app(run: Run, app: dict) -> packages.Plan:
    """What this run does for one app, after setting right what a killed run left beside its virtualenv."""
    recovered = [] if run.module.check_mode else host.recover(app["virtualenv"])
    planned = host.read_plan(app)
    run.apps[app["name"]] = {"why": planned.why, "changed": [], "checked": False, "recovered": recovered}
    return planned


def apply_app(run: Run, app: dict, planned: packages.Plan) -> bool:
    """Make, snapshot, install and check one app's virtualenv; whether it changed (Failed when it failed)."""
    venv, entry = app["virtualenv"], run.apps[app["name"]]
    uwsgi_lock.hold(run.module, run.params["run"])
    if planned.create:
        code, out = host.create(run.module.run_command, venv, run.params["role"]["python"])
        run.created.append(app["name"])
        if code != 0:
            raise Failed("making its virtualenv %s with %s failed" % (venv, run.params["role"]["python"]), out)
    made_snapshot = False
    if planned.install:
        if not planned.create and not planned.pending:
            host.snapshot(run.module.run_command, venv)
            made_snapshot = True
        before = host.fingerprint(venv)
        code, out = host.pip_install(run.module.run_command, venv, app)
        if code != 0:
            raise Failed("pip could not install them (exit status %s)" % code, host.tail(out))
        entry["changed"] = packages.fingerprint_changed(before, host.fingerprint(venv))
    if not (planned.create or entry["changed"] or planned.pending):
        if made_snapshot:
            host.drop([packages.snapshot_of(venv)])
        return False
    check_import(run, app)
    return True


def check_import(run: Run, app: dict) -> None:
    """Import the app's WSGI callable from its virtualenv, as uWSGI would load it; Failed when it does not."""
    role, secrets = run.params["role"], run.params["secrets"] or {}
    user, group = model.app_user(app, role), model.app_group(app, role)
    pwd.getpwnam(user)
    env = dict(app.get("environment") or {}, **(secrets.get(app["name"]) or {}))
    target = packages.import_target(model.effective_options(app, role))
    code, out = host.check_import(run.module.run_command, app["virtualenv"], target, user, group, env,
                                  packages.IMPORT_TIMEOUT)
    run.apps[app["name"]]["checked"] = code == 0
    if code is None:
        raise Failed("importing %s with the new packages did not finish within %d s" % (target["label"],
                                                                                        packages.IMPORT_TIMEOUT), out)
    if code != 0 and not packages.check_unavailable(out):
        raise Failed("importing %s with the new packages failed" % target["label"], out)


def undo(run: Run, app: dict) -> str:
    """Put one app's virtualenv back as it was before the run: how ('snapshot', 'removed'), or why not."""
    venv = app["virtualenv"]
    try:
        if os.path.isdir(packages.snapshot_of(venv)):
            host.put_back(venv)
            return "snapshot"
        if app["name"] in run.created:
            host.drop_tree(venv)
            return "removed"
        return "no snapshot of it was made"
    except OSError as exc:
        return str(exc)


def install_all(module: AnsibleModule) -> None:
    run = Run(module)
    for app in packages.wanted_apps(module.params["apps"]):
        planned = plan_app(run, app)
        if module.check_mode:
            if planned.install or planned.pending:
                run.changed.append(app["name"])
            continue
        try:
            if apply_app(run, app, planned):
                run.changed.append(app["name"])
        except (Failed, OSError, KeyError) as exc:
            failed(run, app, exc if isinstance(exc, Failed) else Failed(str(exc)))
    run.snapshots = [packages.snapshot_of(app["virtualenv"]) for app in packages.wanted_apps(module.params["apps"])
                     if app["name"] in run.changed and os.path.isdir(packages.snapshot_of(app["virtualenv"]))]
    module.exit_json(changed=bool(run.changed), changed_apps=run.changed, snapshots=run.snapshots, apps=run.apps,
                     restored={})


def failed(run: Run, app: dict, exc: Failed) -> None:
    """Put back every virtualenv this call changed, the failing app's first, and fail saying so."""
    params = run.params
    text = packages.failure(params["host"], app["name"], exc.what, exc.output, undo(run, app))
    by_name = {other["name"]: other for other in packages.wanted_apps(params["apps"])}
    for name in run.changed:
        how = undo(run, by_name[name])
        text += "\nApp '%s': its new packages %s too, before any reload: it still serves its old code." % (
            name, "were put back" if how == "snapshot" else "were NOT put back (%s)" % how)
    uwsgi_lock.release(run.module, params["run"])
    run.module.fail_json(msg=text, changed=True, changed_apps=[], snapshots=[], apps=run.apps, restored={})


def bring_back(module: AnsibleModule, name: str, info: dict, action: str) -> str | None:
    """Reload or restart an app whose old virtualenv was put back and ask for its health-check page: None when it
    answers, else what failed."""
    unit = info["unit"]
    systemd = Systemd(module)
    marker = probe.inode(info["reload_marker"]) if action == "reload" and info.get("reload_marker") else None
    if action == "restart":
        systemd.run("reset-failed", unit)
    answer = systemd.run(action, unit)
    if answer.returncode != 0:
        return (answer.stderr or answer.stdout).strip() or "systemctl %s %s failed" % (action, unit)
    check = info.get("health") or {}
    if not check.get("enabled", True):
        return None
    try:
        probe.check(check["socket"], check["protocol"], check["path"], check["host"], check["status"],
                    float(check["timeout"]), recreated_file=info["reload_marker"] if marker else None,
                    recreated_file_inode=marker, pidfile=info.get("pidfile"))
    except probe.Unhealthy as exc:
        return exc.msg
    return None


def restore_all(module: AnsibleModule) -> None:
    """The rescue: every app whose packages the run changed gets its old virtualenv back and serves its old code."""
    params, restored = module.params, {}
    config, touched = params["config"] or {}, set((params["service"] or {}).get("touched") or [])
    by_name = {app["name"]: app for app in packages.wanted_apps(params["apps"])}
    systemd = Systemd(module)
    if params["run"]:
        try:
            uwsgi_lock.Lock().renew(params["run"], call=uwsgi_lock.this_call())
        except uwsgi_lock.NotHeld as exc:
            restored = {name: {"restored": False, "action": "none", "serving": False, "error": str(exc)}
                        for name in params["changed_apps"]}
            module.exit_json(changed=False, restored=restored, changed_apps=[], snapshots=[], apps={})
    for name in params["changed_apps"]:
        app = by_name.get(name)
        if app is None or not os.path.isdir(packages.snapshot_of(app["virtualenv"])):
            continue
        try:
            host.put_back(app["virtualenv"])
        except OSError as exc:
            restored[name] = {"restored": False, "action": "none", "serving": False, "error": str(exc)}
            continue
        info = config.get(name) or {}
        active = bool(info) and systemd.run("show", "--property=ActiveState", "--value",
                                            info["unit"]).stdout.strip() == "active"
        action = packages.restore_action(name in touched, bool(info.get("changed")), active)
        error = bring_back(module, name, info, action) if action in ("reload", "restart") else None
        restored[name] = {"restored": True, "action": action, "serving": None if action == "service" else not error,
                          "error": error}
    module.exit_json(changed=bool(restored), restored=restored, changed_apps=[], snapshots=[], apps={})


def main():
    module = AnsibleModule(
        argument_spec=dict(
            step=dict(type="str", choices=["install", "restore"], default="install"),
            apps=dict(type="list", elements="dict", required=True),
            role=dict(type="dict", required=True),
            secrets=dict(type="dict", default={}, no_log=True),
            host=dict(type="str", required=True),
            changed_apps=dict(type="list", elements="str", default=[]),
            config=dict(type="dict", default={}),
            service=dict(type="dict", default={}),
            run=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    if module.params["step"] == "restore":
        if module.check_mode:
            module.exit_json(changed=False, restored={}, changed_apps=[], snapshots=[], apps={})
        restore_all(module)
    uwsgi_lock.hold(module, module.params["run"])
    install_all(module)


if __name__ == "__main__":
    main()
