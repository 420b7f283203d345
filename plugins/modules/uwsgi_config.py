#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_config
short_description: Write every file of a host's uWSGI apps in one call
version_added: 0.2.0
description:
  - Works out each app's model (its effective options, sockets and unit directives) from the role's
    variables, renders its ini, systemd unit, socket unit and secrets file, and writes those that differ
    from what is on the host, each atomically with its owner and mode.
  - Every changed ini is first checked by uWSGI's strict mode; if uWSGI rejects any of them, no file of any
    app is written and the module fails naming the app and uWSGI's words.
  - Every new file is written beside the file it replaces before any is renamed over its old one, so a full or
    read-only file system fails the module naming the file, with no file of any app replaced.
  - Reports, per app, which files changed and whether an option that a graceful reload cannot apply
    changed since the app's last good ini, so the caller can choose between a reload and a restart.
  - Reports whether every app is settled (running as configured, enabled, its last good copies current),
    so that a run which changes nothing skips M(pyops.uwsgi.uwsgi_service).
  - The internal module of the role C(pyops.uwsgi.uwsgi_production); its inputs have been validated.
author:
  - pyops engineers (@pyops)
options:
  apps:
    description: The role's O(apps) (C(uwsgi_production_apps)); those with C(state=absent) are skipped.
    type: list
    elements: dict
    required: true
  role:
    description:
      - The role's variables without their C(uwsgi_production_) prefix (options, user, group, config_dir,
        install_method, venv, version, python, socket_activation, unit_hardening, health_check,
        restart_options, stop_timeout).
    type: dict
    required: true
  secrets:
    description: C(uwsgi_production_secrets). Never shown in the results or diffs.
    type: dict
    default: {}
  managed:
    description: The text of the header comment of each file (Ansible's C(ansible_managed)).
    type: str
    default: Ansible managed
  install_changed:
    description: Whether this run changed the uWSGI install (no app is then settled, each restarts on the new binary).
    type: bool
    default: false
  packages_changed:
    description: The apps whose packages or requirements this run installed or upgraded (they are not settled).
    type: list
    elements: str
    default: []
  run:
    description:
      - The run that holds the host's run lock (the C(run) result of M(pyops.uwsgi.uwsgi_facts)). The lock is
        renewed before anything is written, and this call fails, writing nothing, when another run holds it.
      - Null (check mode, or no lock taken) skips the lock.
    type: dict
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: A secrets file's diff never shows its content.
"""

EXAMPLES = r"""
- name: Write every app's ini and units
  pyops.uwsgi.uwsgi_config:
    apps: "{{ uwsgi_production_apps }}"
    role:
      options: "{{ uwsgi_production_options }}"
      config_dir: /etc/uwsgi-production
    secrets: "{{ uwsgi_production_secrets }}"
"""

RETURN = r"""
apps:
  description: Per app to deploy, by name, what it is and what changed.
  returned: always
  type: dict
  sample:
    hello:
      activated: true
      changed: [ini]
      restart_needed: false
      health: {enabled: true, path: /, status: [200], host: localhost, timeout: 60, socket: 127.0.0.1:8080, protocol: http}
      reload_marker: /run/uwsgi-hello/master.fifo
      pidfile: /run/uwsgi-hello/uwsgi.pid
settled:
  description:
    - Whether the service step has nothing to do for any app (uwsgi_actions.settled); always false in check mode
      when a file would change.
  returned: always
  type: bool
changed_files:
  description: The names of the apps whose ini, unit, socket unit or secrets file this call wrote or removed.
  returned: always
  type: dict
  sample: {ini: [hello], unit: [], socket: [], env: []}
python_version:
  description: The major.minor version of the Python uWSGI runs the apps on, or an empty string.
  returned: always
  type: str
  sample: "3.11"
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render as render
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd


def read_python_version(module, python):
    """major.minor of the Python uWSGI embeds (the options depend on it); '' when it cannot be asked."""
    if not os.path.exists(python):
        return ""
    rc, out, _err = module.run_command([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    return out.strip() if rc == 0 else ""


def version_label(module, role):
    """"uWSGI <version>" in messages: the release built from PyPI, or what Debian's binary says it is."""
    if role.get("install_method") != "system":
        return str(role.get("version"))
    if os.path.exists(model.SYSTEM_BINARY):
        rc, out, _err = module.run_command([model.SYSTEM_BINARY, "--version"])
        if rc == 0 and out.strip():
            return out.strip()
    return "from Debian's packages"


def check_ini(module, binary, scratch, name, text):
    """uWSGI's strict mode on a candidate ini (model.check_command), written into a private scratch
    directory (as Ansible's validate= writes its candidate elsewhere than the live file): (ok, uWSGI's words)."""
    if not os.path.exists(binary):
        return False, "%s does not exist" % binary
    path = os.path.join(scratch, "%s.ini" % name)
    with open(path, "w") as out:
        out.write(text)
    rc, out, err = module.run_command(model.check_command(binary, path))
    return rc == 0, (err.strip() or out.strip())


def settled(module, role, apps):
    """Whether no app needs the service step (uwsgi_actions.settled), from one `systemctl show` of every
    unit: what a run that changes nothing skips."""
    if not apps:
        return True
    if any(info["changed"] for info in apps.values()) or module.params["install_changed"]:
        return False
    shown = Systemd(module).show([info["unit"] for info in apps.values()] + [info["socket_unit"] for info in apps.values()])
    return all(
        actions.settled(info["changed"], shown.get(info["unit"], {}), shown.get(info["socket_unit"], {}), info["activated"],
                        not state.keep_last_good(role["config_dir"], name, info, check=True),
                        packages_changed=name in module.params["packages_changed"])
        for name, info in apps.items())


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True),
            role=dict(type="dict", required=True),
            secrets=dict(type="dict", default={}, no_log=True),
            managed=dict(type="str", default="Ansible managed"),
            install_changed=dict(type="bool", default=False),
            packages_changed=dict(type="list", elements="str", default=[]),
            run=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    role, secrets, managed = module.params["role"], module.params["secrets"] or {}, module.params["managed"]
    apps = model.present_apps(module.params["apps"])
    python_version = read_python_version(module, role["python"])
    with_secrets = set(model.secret_apps(secrets))

    files = state.Files(module)
    # Each app's user reads its own ini (0640, its group) through the directory, which others may cross
    # but not list; only root reads the last good copies.
    files.directory(role["config_dir"], "0711")
    files.directory(model.last_good_dir(role), "0700")

    result_apps, unproven, check_texts, earlier = {}, {}, {}, {}
    for app in apps:
        name = app["name"]
        where = model.paths(role, name)
        # After uwsgi_production_config_dir changed, the app's last good configuration is in its earlier
        # directory: it counts as this one's (compared with, and seeded here before anything is applied).
        earlier[name] = state.earlier_last_good(role, name)
        if earlier[name]:
            where = dict(where, **{key: earlier[name][key] for key, _mode in state.GOOD_FILES})
        options = model.ini_options(app, role, python_version)
        effective = model.effective_options(app, role)
        activated = model.activated(app, role, effective)
        group = model.app_group(app, role)
        wanted = {
            "ini": render.ini(app, options, managed),
            "unit": render.service(app, role, options, name in with_secrets, managed),
            "socket": render.socket(app, role, managed) if activated else None,
            "env": render.env_file(app, secrets[name], managed) if name in with_secrets else None,
        }
        files.want(name, "ini", where["ini"], wanted["ini"], "root", group, "0640")
        files.want(name, "unit", where["unit"], wanted["unit"], "root", "root", "0644")
        for kind, path, mode in (("socket", where["socket_unit"], "0644"), ("env", where["env"], "0600")):
            if wanted[kind] is None:
                files.absent(name, kind, path)
            else:
                files.want(name, kind, path, wanted[kind], "root", "root", mode, secret=kind == "env")
        unproven[name] = state.unproven(where, wanted)
        # What uWSGI checks: the same ini with vacuum off from its first line. An ini uWSGI rejects while
        # still reading it makes it exit before `--set vacuum=false` is read, and vacuum would delete the
        # RUNNING app's pidfile2 and stats socket, which the ini names.
        check_texts[name] = render.ini(app, dict(options, vacuum=False), managed)
        result_apps[name] = {
            "activated": activated,
            "restart_needed": state.restart_needed(where["good_ini"], options, role.get("restart_options") or []),
            "health": model.health_check(app, role, effective),
            "reload_marker": model.reload_marker(options),
            "pidfile": where["pidfile"],
            "group": group,
            "unit": model.unit_name(name),
            "socket_unit": model.socket_unit_name(name),
        }

    # The role's atexit hook (model.ATEXIT_HOOK, a constant: no variable's value is in it), for every ini
    # that imports it; readable by each app's user. Written with the inis, all at once.
    hook = model.atexit_hook(role)
    if any(hook in model.as_list(model.ini_options(app, role, python_version).get("py-import")) for app in apps):
        files.want("", "hook", hook, model.ATEXIT_HOOK, "root", "root", "0644")

    # uWSGI's strict mode checks every changed ini before any file is written, so a typo in an option
    # never reaches a running service and no app is left half-configured.
    # (In check mode on a fresh host there is no uWSGI yet to ask.)
    candidates = files.changed_content("ini")
    if candidates and (not module.check_mode or os.path.exists(model.binary(role))):
        scratch = tempfile.mkdtemp(prefix="uwsgi-production-check-")
        try:
            checked = [(name,) + check_ini(module, model.binary(role), scratch, name, check_texts[name])
                       for name, _text in candidates]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        rejected = [
            "uwsgi_production_apps: uWSGI %s rejected the options of app '%s' (uwsgi_production_options combined "
            "with its options), so the live config was left as it was: %s" % (version_label(module, role), name, words)
            for name, ok, words in checked if not ok]
        if rejected:
            module.fail_json(msg="\n".join(rejected), apps=result_apps, changed_files=files.empty_report(),
                             python_version=python_version)

    uwsgi_lock.hold(module, module.params["run"])
    try:
        if not module.check_mode:
            for name, old in earlier.items():
                if old:
                    state.seed_last_good(role, name, old)
        files.apply()
    except state.WriteFailed as exc:
        # A full or read-only file system. The new files are all written beside the old ones before any
        # is renamed over its old one, so normally none was replaced; what was is reported as changed, for
        # the role's rollback to put back. (A change an earlier run wrote but never saw pass stays to be
        # proven by the next run: a rollback now would need the same file system.)
        for name, info in result_apps.items():
            info["changed"] = files.applied_kinds(name)
        if exc.done:
            left = "%d file(s) were already replaced (%s) and are rolled back" % (len(exc.done), ", ".join(exc.done))
        else:
            left = "no file of any app was replaced: the live configuration is as it was"
        module.fail_json(
            msg="The role %s. So %s. Free space on (or make writable) the file system that holds it, and run the "
                "role again." % (exc, left),
            failed_file=exc.path, apps=result_apps, changed_files=files.empty_report(), python_version=python_version)
    for name, info in result_apps.items():
        # What this run wrote, and what an earlier run wrote but never saw pass (uwsgi_state.unproven).
        kinds = set(files.changed_kinds(name)) | set(unproven[name])
        info["changed"] = [kind for kind in state.KINDS if kind in kinds]
    quiet = settled(module, role, result_apps)
    if quiet:
        # The service step will not run: this is the run's last call.
        uwsgi_lock.release(module, module.params["run"])
    module.exit_json(changed=files.changed, apps=result_apps, changed_files=files.report(), diff=files.diffs,
                     python_version=python_version, settled=quiet)


if __name__ == "__main__":
    main()
