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
  - Fails, writing nothing, when an app has C(https) and the uWSGI binary was built without SSL (no C(https-socket)).
  - Every changed ini is first checked by uWSGI's strict mode; if uWSGI rejects any of them, no file of any
    app is written and the module fails naming the app and uWSGI's words.
  - Every new file is written beside the file it replaces before any is renamed over its old one, so a full or
    read-only file system fails the module naming the file, with no file of any app replaced.
  - Reports, per app, which files changed and whether an option that a graceful reload cannot apply
    changed since the app's last good ini, so the caller can choose between a reload and a restart.
  - Then switches each app with a new release (or a chain reload a killed run left) to it, in the same call (its
    C(current) link in one rename) and, for a running app nothing else of which changed, moves its workers one at a
    time (a chain reload through the master fifo), waited for on its stats socket until every worker is a new
    process that accepts and has loaded the app, within a deadline derived from the workers and the release's
    import time, then its health-check page asked. An app that is not running, or whose ini or units changed too,
    is loaded by M(pyops.uwsgi.uwsgi_service). Then its old releases are pruned. A chain that does not finish, or a
    failed health check, fails the call with C(switched), which the role's rescue reverts
    (M(pyops.uwsgi.uwsgi_release), O(pyops.uwsgi.uwsgi_release#module:step=revert)).
  - Reports whether every app is settled (running as configured, enabled, its last good copies current),
    so that a run which changes nothing skips M(pyops.uwsgi.uwsgi_service).
  - The internal module of the role C(pyops.uwsgi.uwsgi_production); its inputs have been validated.
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
  - pyops.uwsgi.run_lock
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
  tls_keys:
    description:
      - C(uwsgi_production_tls_keys), the private key (PEM text) of each app with C(https), by app name.
      - Written with the app's certificate into C(<config_dir>/<name>.pem) (root, the app's group, 0640); never shown
        in the results or diffs.
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
  releases:
    description:
      - The C(releases) result of M(pyops.uwsgi.uwsgi_facts), per app with a release, what this run does with it. An
        app with a release to switch to (or a chain reload to finish) is switched by this call; its plan goes into
        its C(release).
    type: dict
    default: {}
  host:
    description: The inventory name of the host, for the message of a failed switch.
    type: str
    default: ""
  run_tags:
    description:
      - The play's C(ansible_run_tags). A run limited to writing files (without the role's tag C(uwsgi_production_run),
        whose tasks act on running apps) switches no app to a new release.
    type: list
    elements: str
    default: [all]
  skip_tags:
    description: The play's C(ansible_skip_tags); skipping C(uwsgi_production_run) switches no app either.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: A secrets file's or TLS file's diff never shows its content.
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
  description:
    - Per app to deploy, by name, what it is and what changed; the record M(pyops.uwsgi.uwsgi_service) and
      M(pyops.uwsgi.uwsgi_rollback) read (C(plugins/module_utils/uwsgi_record.py), C(AppRecord), says what each key is).
    - C(unit) and C(socket_unit) are the app's service and socket unit; C(group) reads its ini and TLS file;
      C(activated) says systemd holds its sockets; C(health) is its health check; C(pidfile) and C(reload_marker)
      (the file its master makes anew on a reload) what the health check waits on.
    - C(changed) lists which of its files (ini, unit, socket, env, tls) this run wrote, or found written but never
      proven; C(restart_needed) says an option a reload cannot apply changed; C(unit_restart) that its unit's
      change needs a restart; C(socket_restart) that its socket unit's change needs the socket unit restarted
      (not only its stop directives changed); C(left_out) the defaults this host does not get, each with why.
    - C(release), only for an app with releases, is what M(pyops.uwsgi.uwsgi_facts) planned for it (C(uwsgi_release.plan)).
  returned: always
  type: dict
  sample:
    hello:
      unit: uwsgi-hello.service
      socket_unit: uwsgi-hello.socket
      group: uwsgi
      activated: true
      changed: [ini]
      restart_needed: false
      unit_restart: true
      socket_restart: true
      health: {enabled: true, path: /, status: [200], host: localhost, timeout: 60, socket: 127.0.0.1:8080, protocol: http}
      reload_marker: /run/uwsgi-hello/master.fifo
      pidfile: /run/uwsgi-hello/uwsgi.pid
      left_out: []
switched:
  description:
    - Per app whose release this call switched to (or whose interrupted chain reload it finished), the release before
      (C(from), "" for none) and after (C(to)), and how its workers moved (C(chain) with its seconds, its workers and
      its health check, or C(service), when the service step loads it); with C(error) on a failure.
  returned: always
  type: dict
  sample: {shop: {from: "2.4.0", to: "2.4.1", loaded: chain, seconds: 12.4, health: {status: 200, attempts: 1, elapsed: 0.01}}}
pruned:
  description: Per app this call switched, the releases it removed.
  returned: always
  type: dict
settled:
  description:
    - Whether the service step has nothing to do for any app (uwsgi_actions.settled); always false in check mode
      when a file would change.
  returned: always
  type: bool
changed_files:
  description: The names of the apps whose ini, unit, socket unit, secrets file or TLS file this call wrote or removed.
  returned: always
  type: dict
  sample: {ini: [hello], unit: [], socket: [], env: [], tls: []}
python_version:
  description: The major.minor version of the Python uWSGI runs the apps on, or an empty string.
  returned: always
  type: str
  sample: "3.11"
uwsgi_version:
  description:
    - What the host's uWSGI binary says its release is (C(--version)).
    - Before it is installed, the release the pip method will build, or an empty string.
  returned: always
  type: str
  sample: "2.0.21-debian"
uwsgi_plugins:
  description: With the system method, the plugins Debian's uWSGI has on the host (the names in /usr/lib/uwsgi/plugins); null otherwise.
  returned: always
  type: list
  elements: str
  sample: [cheaper_busyness, python3]
left_out:
  description:
    - Each default the role left out of some app's ini because the host's Python or uWSGI does not have it, and why.
    - With the apps concerned, and C(text), the line the role's output says about it.
  returned: always
  type: list
  elements: dict
  sample:
    - option: max-worker-lifetime-delta
      why: "uWSGI 2.0.18 has no max-worker-lifetime-delta (added in 2.0.19) ..."
      apps: [hello]
      text: "max-worker-lifetime-delta is left out of the ini of 'hello' ..."
failed_file:
  description: The file the call could not write (a full or read-only file system); every file it had replaced is put back.
  returned: failure writing a file
  type: str
  sample: /etc/uwsgi-production/hello.ini
"""

import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_switch as release_switch
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render as render
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_record
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_record import AppRecord
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd


def read_uwsgi_version(module, role):
    """The release of the uWSGI binary the apps run ("2.0.31", "2.0.21-debian"), asked once per host: the
    options the role derives depend on it. Before uWSGI is installed (check mode on a fresh host): the
    release the pip method will build, or '' for Debian's packages."""
    binary = model.binary(role)
    if os.path.exists(binary):
        rc, out, _err = module.run_command([binary, "--version"])
        if rc == 0 and out.strip():
            return out.strip().splitlines()[0]
    return "" if role.get("install_method") == "system" else str(role.get("version") or "")


def read_plugins(role):
    """The plugins Debian's uWSGI has on the host (system method): the names of SYSTEM_PLUGIN_DIR's
    <name>_plugin.so files; None with the pip method (its build has what it has) or before they are installed."""
    if role.get("install_method") != "system" or not os.path.isdir(model.SYSTEM_PLUGIN_DIR):
        return None
    return sorted(name[:-len("_plugin.so")] for name in os.listdir(model.SYSTEM_PLUGIN_DIR) if name.endswith("_plugin.so"))


def rejection(name, version, words):
    """What the run says when uWSGI's strict mode rejects an app's ini: the app, the key and the release."""
    unknown = re.findall(r"unknown config directive: (\S+)", words)
    key = (" Option %s is unknown to the host's uWSGI %s (set in uwsgi_production_options or the app's options: "
           "remove it, or install a uWSGI that has it)." % (", ".join(unknown), version)) if unknown else ""
    return ("uwsgi_production_apps: uWSGI %s rejected the options of app '%s' (uwsgi_production_options combined "
            "with its options), so the live config was left as it was: %s%s" % (version or "(release unknown)", name, words, key))


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


def missing_ssl(module, role, apps):
    """The messages for the apps with https when the uWSGI binary has no SSL (`uwsgi --cflags` lacks
    -DUWSGI_SSL): uWSGI would not know the option https-socket. Empty when it has, or cannot be asked yet
    (check mode on a fresh host)."""
    names = model.https_apps(apps)
    uwsgi = model.binary(role)
    if not names or not os.path.exists(uwsgi):
        return []
    if state.binary_has_ssl(module.run_command, uwsgi):
        return []
    if role.get("install_method") == "system":
        fix = ("Debian's build of uWSGI on this host has no SSL: serve HTTPS with uwsgi_production_install_method = pip "
               "(built with libssl-dev), or leave https out.")
    else:
        fix = ("Add libssl-dev to uwsgi_production_build_packages: the role rebuilds uWSGI with SSL when its headers "
               "are there.")
    return ["uwsgi_production_apps: app '%s' has https (https-socket), but the uWSGI binary %s was built without SSL "
            "(`%s --cflags` has no %s), so it cannot serve HTTPS; no file was written. %s"
            % (name, uwsgi, uwsgi, model.SSL_CFLAG, fix) for name in names]


def check_text(role, scratch, name, candidate, managed):
    """The ini uWSGI checks for an app: (app, its options with vacuum off, its TLS file's text or None). The
    TLS file goes into the scratch directory too (root-only, like it), and the ini's https-socket names it."""
    app, options, tls = candidate
    if tls is not None:
        pem = os.path.join(scratch, "%s.pem" % name)
        handle = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w") as out:
            out.write(tls)
        live = model.paths(role, name)["tls"]
        options = dict(options)
        options[model.HTTPS_KIND] = [str(item).replace(live, pem) for item in model.as_list(options.get(model.HTTPS_KIND))
                                     if item is not None] or None
    return render.ini(app, options, managed)


def switch(run):
    """Each app with a new release (or a chain reload a killed run left) switched to it, once every file is
    written (uwsgi_release_switch.switch_one); the first that fails fails the call with `switched`, for the rescue."""
    if run.module.check_mode or not release.switch_allowed(run.params["run_tags"], run.params["skip_tags"]):
        return
    keep = int(run.role.get("keep_releases") or release.KEEP_RELEASES)
    results = uwsgi_record.results(run.records)
    for name in [name for name, record in run.records.items() if record.release_pending]:
        uwsgi_lock.hold(run.module, run.params["run"])
        run.switched[name], run.pruned[name] = release_switch.switch_one(name, results[name], keep)
        if run.switched[name].get("error"):
            run.fail("App '%s' on host %s: %s." % (name, run.params["host"], run.switched[name]["error"]), changed=True)


def settled(module, role, apps):
    """Whether no app needs the service step (uwsgi_actions.settled), from one `systemctl show` of every
    unit: what a run that changes nothing skips."""
    if not apps:
        return True
    if any(record.changed for record in apps.values()) or module.params["install_changed"]:
        return False
    shown = Systemd(module).show([unit for record in apps.values() for unit in record.units])
    return all(
        actions.settled(record.changed, shown.get(record.unit, {}), shown.get(record.socket_unit, {}), record.activated,
                        not state.keep_last_good(role["config_dir"], name, record, check=True),
                        packages_changed=name in module.params["packages_changed"])
        for name, record in apps.items())


class Run:
    """One call of the module: what it read of the host, the files it wants, and each app's record."""

    def __init__(self, module):
        self.module, self.params = module, module.params
        self.role, self.managed = module.params["role"], module.params["managed"]
        self.secrets, self.tls_keys = module.params["secrets"] or {}, module.params["tls_keys"] or {}
        self.apps = model.present_apps(module.params["apps"])
        self.python_version = state.python_version(module.run_command, self.role["python"])
        self.uwsgi_version = read_uwsgi_version(module, self.role)
        self.plugins = read_plugins(self.role)
        self.with_secrets = set(model.secret_apps(self.secrets))
        self.releases = module.params["releases"] or {}
        self.files = state.Files(module)
        self.records, self.unproven, self.check_texts, self.earlier = {}, {}, {}, {}
        self.switched, self.pruned = {}, {}

    def fail(self, msg, **more):
        self.module.fail_json(msg=msg, apps=uwsgi_record.results(self.records), changed_files=self.files.empty_report(),
                              python_version=self.python_version, switched=self.switched, pruned=self.pruned, **more)


def wanted_texts(run, app, options, activated):
    """The text of each of the app's files (None: it has none)."""
    name, role, managed = app["name"], run.role, run.managed
    return {
        "ini": render.ini(app, options, managed),
        "unit": render.service(app, role, options, name in run.with_secrets, managed),
        "socket": render.socket(app, role, managed) if activated else None,
        "env": render.env_file(app, run.secrets[name], managed) if name in run.with_secrets else None,
        "tls": model.tls_pem(app, run.tls_keys) if model.https(app) else None,
    }


def want_files(files, name, where, wanted, group):
    files.want(name, "ini", where["ini"], wanted["ini"], "root", group, "0640")
    files.want(name, "unit", where["unit"], wanted["unit"], "root", "root", "0644")
    # The TLS file holds the private key: readable by root and the app's group only.
    for kind, path, owner_group, mode in (("socket", where["socket_unit"], "root", "0644"),
                                          ("env", where["env"], "root", "0600"),
                                          ("tls", where["tls"], group, "0640")):
        if wanted[kind] is None:
            files.absent(name, kind, path)
        else:
            files.want(name, kind, path, wanted[kind], "root", owner_group, mode, secret=kind in state.SECRET_KINDS)


def plan_app(run, app):
    """Every file the app wants, what uWSGI is to check of it, and its record."""
    name, role = app["name"], run.role
    where = model.paths(role, name)
    # After uwsgi_production_config_dir changed, the app's last good configuration is in its earlier
    # directory: it counts as this one's (compared with, and seeded here before anything is applied).
    run.earlier[name] = state.earlier_last_good(role, name)
    if run.earlier[name]:
        where = dict(where, **{key: run.earlier[name][key] for key, _mode in state.GOOD_FILES})
    options = model.ini_options(app, role, run.python_version, run.uwsgi_version, run.plugins)
    effective = model.effective_options(app, role)
    activated = model.activated(app, role, effective)
    group = model.app_group(app, role)
    wanted = wanted_texts(run, app, options, activated)
    want_files(run.files, name, where, wanted, group)
    run.unproven[name] = state.unproven(where, wanted)
    # What uWSGI checks: the same ini with vacuum off from its first line. An ini uWSGI rejects while
    # still reading it makes it exit before `--set vacuum=false` is read, and vacuum would delete the
    # RUNNING app's pidfile2 and stats socket, which the ini names.
    run.check_texts[name] = (app, dict(options, vacuum=False), wanted["tls"])
    run.records[name] = AppRecord(
        name=name, unit=model.unit_name(name), socket_unit=model.socket_unit_name(name), group=group,
        activated=activated, health=model.health_check(app, role, effective),
        pidfile=where["pidfile"], reload_marker=model.reload_marker(options),
        restart_needed=state.restart_needed(where["good_ini"], options, role.get("restart_options") or []),
        # A unit changed in its stop directives alone is applied by daemon-reload and a reload.
        unit_restart=actions.unit_restart_needed(state.read_text(where["good_unit"]), wanted["unit"]),
        # So is a socket unit changed in its stop directives alone: it keeps its sockets.
        socket_restart=actions.socket_restart_needed(state.read_text(where["good_socket_unit"]), wanted["socket"]),
        # The defaults this host's Python and uWSGI do not get, each with why (the role shows them).
        left_out=tuple({"option": key, "why": why} for key, why in
                       model.left_out_options(app, role, run.python_version, run.uwsgi_version, run.plugins)),
        # What uwsgi_facts planned for the app's release (uwsgi_release.plan): switch() below switches it.
        release=run.releases[name] if name in run.releases else None,
    )


def plan(run):
    """Every file of every app, rendered and compared with what the host has."""
    role, files = run.role, run.files
    # Each app's user reads its own ini (0640, its group) through the directory, which others may cross
    # but not list; only root reads the last good copies.
    files.directory(role["config_dir"], "0711")
    files.directory(model.last_good_dir(role), "0700")
    for app in run.apps:
        plan_app(run, app)
    # The role's atexit hook (model.ATEXIT_HOOK, a constant: no variable's value is in it), for every ini
    # that imports it; readable by each app's user. Written with the inis, all at once.
    hook = model.atexit_hook(role)
    if any(hook in model.as_list(model.ini_options(app, role, run.python_version).get("py-import")) for app in run.apps):
        files.want("", "hook", hook, model.ATEXIT_HOOK, "root", "root", "0644")
    # The loader of the apps with releases (uwsgi_release.LOADER, a constant too), their ini's wsgi-file.
    if any(app.get("release") for app in run.apps):
        files.want("", "loader", os.path.join(role["config_dir"], release.LOADER_NAME), release.LOADER, "root", "root",
                   "0644")


def check(run):
    """uWSGI's strict mode checks every changed ini before any file is written, so a typo in an option
    never reaches a running service and no app is left half-configured. (In check mode on a fresh host
    there is no uWSGI yet to ask.) uWSGI loads an https-socket's certificate and key while it reads the
    ini, so a changed TLS file is checked the same way (a key that does not match its certificate is
    rejected here)."""
    candidates = []
    for name, _text in run.files.changed_content("ini") + run.files.changed_content("tls"):
        if name not in candidates:
            candidates.append(name)
    binary = model.binary(run.role)
    if not candidates or (run.module.check_mode and not os.path.exists(binary)):
        return
    scratch = tempfile.mkdtemp(prefix="uwsgi-production-check-")
    try:
        checked = [(name,) + check_ini(run.module, binary, scratch, name,
                                       check_text(run.role, scratch, name, run.check_texts[name], run.managed))
                   for name in candidates]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rejected = [rejection(name, run.uwsgi_version, words) for name, ok, words in checked if not ok]
    if rejected:
        run.fail("\n".join(rejected), uwsgi_version=run.uwsgi_version)


def apply(run):
    """Seed the last good copies from an earlier config directory, then write every file that differs."""
    uwsgi_lock.hold(run.module, run.params["run"])
    try:
        if not run.module.check_mode:
            for name, old in run.earlier.items():
                if old:
                    state.seed_last_good(run.role, name, old)
        run.files.apply()
    except state.WriteFailed as exc:
        # A full or read-only file system. The new files are all written beside the old ones before any
        # is renamed over its old one, so normally none was replaced; what was is reported as changed, for
        # the role's rollback to put back. (A change an earlier run wrote but never saw pass stays to be
        # proven by the next run: a rollback now would need the same file system.)
        run.records = {name: rec.with_changed(run.files.applied_kinds(name)) for name, rec in run.records.items()}
        if exc.done:
            left = "%d file(s) were already replaced (%s) and are rolled back" % (len(exc.done), ", ".join(exc.done))
        else:
            left = "no file of any app was replaced: the live configuration is as it was"
        run.fail("The role %s. So %s. Free space on (or make writable) the file system that holds it, and run the "
                 "role again." % (exc, left), failed_file=exc.path)
    # What this run wrote, and what an earlier run wrote but never saw pass (uwsgi_state.unproven).
    run.records = {name: rec.with_changed(set(run.files.changed_kinds(name)) | set(run.unproven[name]))
                   for name, rec in run.records.items()}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True),
            role=dict(type="dict", required=True),
            secrets=dict(type="dict", default={}, no_log=True),
            tls_keys=dict(type="dict", default={}, no_log=True),
            managed=dict(type="str", default="Ansible managed"),
            install_changed=dict(type="bool", default=False),
            packages_changed=dict(type="list", elements="str", default=[]),
            releases=dict(type="dict", default={}),
            host=dict(type="str", default=""),
            run_tags=dict(type="list", elements="str", default=["all"]),
            skip_tags=dict(type="list", elements="str", default=[]),
            run=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    run = Run(module)
    no_ssl = missing_ssl(module, run.role, run.apps)
    if no_ssl:
        module.fail_json(msg="\n".join(no_ssl), changed_files=state.Files.empty_report(), python_version=run.python_version)
    plan(run)
    check(run)
    apply(run)
    switch(run)
    quiet = settled(module, run.role, run.records)
    if quiet or not release.switch_allowed(module.params["run_tags"], module.params["skip_tags"]):
        # The service step will not run (nothing to do, or the run's tags leave it out): this is the run's last
        # call, which gives the lock up (else a run from another controller would wait for its lease to end).
        uwsgi_lock.release(module, module.params["run"])
    module.exit_json(changed=run.files.changed or bool(run.switched), apps=uwsgi_record.results(run.records),
                     changed_files=run.files.report(), diff=run.files.diffs, python_version=run.python_version,
                     uwsgi_version=run.uwsgi_version, uwsgi_plugins=run.plugins, settled=quiet, switched=run.switched,
                     pruned=run.pruned, left_out=model.left_out_report(run.records))


if __name__ == "__main__":
    main()
