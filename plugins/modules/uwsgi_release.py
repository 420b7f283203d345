#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_release
short_description: Build new releases of uWSGI apps beside the live ones, run their commands and check their import
version_added: 0.3.0
description:
  - The build steps of the role C(pyops.uwsgi.uwsgi_production) for the apps with a C(release) (see its docs, "Releases").
  - With O(step=prepare), makes each release's directory and its own virtualenv at their final paths, removing an
    unfinished or failed build of the same id first. The live release is never touched.
  - The role then puts the code in place (pip, an archive, git), and with O(step=finish) this module links the
    release's shared paths, gives the release to the app's user, runs the release's commands as that user with the
    app's environment and secrets, imports the app's WSGI callable from the release in a separate process (as the
    app's user, within the release's C(verify_timeout)) and, only when all of that passed, writes the marker that
    makes the release complete. Only a complete release is ever switched to.
  - Before the marker, the release also serves the app's health-check page from a uWSGI of its own (one worker, on a
    scratch unix socket, as the app's user), so a release that imports but answers its check wrongly is refused
    before any worker of the app sees it.
  - Fails naming the host, the app, the release, the step and its output; the app keeps serving what it served.
  - The switch to a release built here is M(pyops.uwsgi.uwsgi_config)'s, once the files are written.
  - With O(step=revert) (the role's rescue), points each app the run switched back at the release it served, moves its
    workers back (a chain reload, or a restart when its master is gone or the failed chain never finished), checks its
    health and reports, per app, which release serves and whether it answers. It never fails; the rollback that
    follows fails the run with that report.
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
  - pyops.uwsgi.run_lock
options:
  step:
    description:
      - Which part of the build. V(failed) is the role's rescue when a step failed (a git checkout, an archive, pip,
        or this module). It fails with that failure, naming each app whose release did not build and what it serves,
        and releases the host's run lock.
    type: str
    choices: [prepare, finish, failed, revert]
    required: true
  failure:
    description: With O(step=failed), what failed (the failed task's message).
    type: str
    default: ""
  builds:
    description: "The C(release_builds) result of M(pyops.uwsgi.uwsgi_facts): the releases to build."
    type: list
    elements: dict
    default: []
  apps:
    description: The role's C(uwsgi_production_apps).
    type: list
    elements: dict
    default: []
  role:
    description: The role's settings (its variables without their prefix).
    type: dict
    required: true
  secrets:
    description: The role's C(uwsgi_production_secrets) (the environment of the commands and of the import check).
    type: dict
    default: {}
  releases:
    description: "The C(releases) result of M(pyops.uwsgi.uwsgi_facts), for the message of a failure."
    type: dict
    default: {}
  host:
    description: The inventory name of the host, for the message.
    type: str
    required: true
  config:
    description: With O(step=revert), the C(apps) result of M(pyops.uwsgi.uwsgi_config) (each app's health check and changes).
    type: dict
    default: {}
  switched:
    description: With O(step=revert), the C(switched) result of M(pyops.uwsgi.uwsgi_config), failed or not.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details: Reports the releases it would build; builds nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Make each new release's directory and virtualenv
  pyops.uwsgi.uwsgi_release:
    step: prepare
    builds: "{{ _facts.release_builds }}"
    apps: "{{ uwsgi_production_apps }}"
    role: "{{ _role }}"
    host: "{{ inventory_hostname }}"
"""

RETURN = r"""
built:
  description: Per app, the release this step prepared or completed, and for O(step=finish) the seconds its import took.
  returned: always
  type: dict
  sample: {shop: {id: "2.4.1", import_seconds: 1.42}}
reverted:
  description:
    - With O(step=revert), per app, the release it was pointed back at, how (C(chain), C(restart) or C(service)), and
      C(serving) (true when it answers its health check) with C(error) when not, and C(health), the check's result
      (null when the app's check is off, or with C(service)).
  returned: always
  type: dict
  sample:
    shop: {release: "2.4.0", action: chain, serving: true, error: null, health: {status: 200, attempts: 1, elapsed: 0.01}}
"""

import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_host as release_host
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_switch as switch
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd


def python_of(role: dict) -> str:
    """The Python uWSGI embeds: the release's virtualenv is made by it and the import check runs it."""
    return "/usr/bin/python3" if role.get("install_method") == "system" else role["python"]


def failure(host: str, app: str, wanted: release.Spec, planned: dict, exc: release_host.ReleaseFailed) -> str:
    """What failed, and what the app serves now (nothing of it was touched)."""
    current = (planned or {}).get("current")
    serving = ("it still serves release %s" % current) if current else "it has no release serving yet"
    text = ("Release %s of app '%s' on host %s was NOT switched to: %s. The app was not touched: %s. The release's "
            "directory %s is kept for inspection, without the marker that would make it a release to switch to; the "
            "next run with this id builds it again from scratch (or remove it by hand)."
            % (wanted.id, app, host, exc.step, serving, wanted.layout.release(wanted.id)))
    if exc.output:
        text += "\nLast lines of its output:\n" + exc.output
    return text


def build_failed(params: dict) -> str:
    """The message of a build that failed: the failure as it is when this module wrote it (it names the app
    and what it serves), else what failed and, for each release being built, that nothing was switched."""
    text = params["failure"].strip()
    if text.startswith("Release "):
        return text
    lines = ["Building the new releases on host %s failed: %s" % (params["host"], text or "(no message)")]
    for build in params["builds"]:
        current = (params["releases"].get(build["name"]) or {}).get("current")
        lines.append("- app '%s': release %s was NOT switched to; %s." % (
            build["name"], build["id"], ("it still serves release %s, untouched" % current) if current
            else "it has no release serving yet"))
    return "\n".join(lines)


def finish(module: AnsibleModule, app: dict, wanted: release.Spec) -> float:
    """Shared links, ownership, commands, the import check, then the marker."""
    role, secrets = module.params["role"], module.params["secrets"] or {}
    user, group = model.app_user(app, role), model.app_group(app, role)
    account = pwd.getpwnam(user)
    env = dict(app.get("environment") or {}, **(secrets.get(app["name"]) or {}))
    release_host.link_shared(wanted, account.pw_uid, account.pw_gid)
    release_host.chown_tree(wanted.layout.release(wanted.id), account.pw_uid, account.pw_gid)
    release_host.run_commands(module.run_command, wanted, user, group, env)
    seconds = release_host.verify(module.run_command, wanted, python_of(role), app["module"], user, group, env)
    check = model.health_check(app, role, model.effective_options(app, role))
    if check.get("enabled", True):
        release_host.preview(module.run_command, wanted, model.binary(role), app["module"], user, group, env, check)
    release_host.mark(wanted, seconds)
    return seconds


def build_all(module: AnsibleModule) -> None:
    """Prepare or finish every release to build; fail at the first that fails, saying what each app serves."""
    params = module.params
    apps = {app["name"]: app for app in model.present_apps(params["apps"])}
    built = {}
    for build in params["builds"]:
        app = apps[build["name"]]
        wanted = release.spec(app, params["role"])
        built[app["name"]] = {"id": wanted.id}
        try:
            if params["step"] == "prepare":
                release_host.prepare(module.run_command, wanted, python_of(params["role"]))
            else:
                built[app["name"]]["import_seconds"] = finish(module, app, wanted)
        except (release_host.ReleaseFailed, OSError) as exc:
            if not isinstance(exc, release_host.ReleaseFailed):
                exc = release_host.ReleaseFailed(str(exc))
            module.fail_json(msg=failure(params["host"], app["name"], wanted, params["releases"].get(app["name"]), exc),
                             built=built, changed=True)
    module.exit_json(changed=bool(built), built=built)


def revert_one(module: AnsibleModule, name: str, entry: dict, info: dict) -> dict:
    """Point one app back at the release it served and bring it back on it; what serves now."""
    layout = release.Layout(info["release"]["root"])
    back = entry.get("from") or ""
    # The release that failed loses its marker: it is never a release to switch to (or back to) again without
    # a new build and check.
    release_host.unmark(layout, entry["to"])
    if not back:
        return {"release": "", "action": "none", "serving": False, "health": None,
                "error": "no earlier release to go back to (its first release)"}
    release_host.switch(layout, back)
    if info.get("changed"):
        # Its ini or units changed too: the rollback that follows restores them and restarts or reloads it.
        return {"release": back, "action": "service", "serving": None, "error": None, "health": None}
    stats = release_host.read_stats(model.runtime_dir(name) + "/stats.sock")
    action = release.revert_action(bool(stats), entry.get("loaded") == "chain" and "did not finish" not in
                                   (entry.get("error") or ""))
    outcome = {"release": back, "action": action, "serving": False, "error": None, "health": None}
    if action == "chain":
        marker = release_host.read_json(layout.marker(back)) or {}
        moved = switch.chain(name, info, back, float(marker.get("import_seconds") or 1.0))
        outcome["error"], outcome["health"] = moved.get("error"), moved.get("health")
    else:
        unit = model.unit_name(name)
        systemd = Systemd(module)
        systemd.run("reset-failed", unit)
        answer = systemd.run("restart", unit)
        if not answer.ok:
            outcome["error"] = answer.said
        else:
            outcome["health"], outcome["error"] = switch.health(info)
    outcome["serving"] = outcome["error"] is None
    return outcome


def revert_all(module: AnsibleModule) -> None:
    config = module.params["config"] or {}
    reverted = {name: revert_one(module, name, entry, config[name])
                for name, entry in (module.params["switched"] or {}).items() if name in config}
    module.exit_json(changed=bool(reverted), reverted=reverted)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            step=dict(type="str", choices=["prepare", "finish", "failed", "revert"], required=True),
            failure=dict(type="str", default=""),
            config=dict(type="dict", default={}),
            switched=dict(type="dict", default={}),
            run=dict(type="dict"),
            builds=dict(type="list", elements="dict", default=[]),
            apps=dict(type="list", elements="dict", default=[]),
            role=dict(type="dict", required=True),
            secrets=dict(type="dict", default={}, no_log=True),
            releases=dict(type="dict", default={}),
            host=dict(type="str", required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["step"] == "failed":
        uwsgi_lock.release(module, params["run"])
        module.fail_json(msg=build_failed(params), changed=True)
    if module.check_mode:
        module.exit_json(changed=bool(params["builds"]), built={}, reverted={})
    uwsgi_lock.hold(module, params["run"])
    {"prepare": build_all, "finish": build_all, "revert": revert_all}[params["step"]](module)


if __name__ == "__main__":
    main()
