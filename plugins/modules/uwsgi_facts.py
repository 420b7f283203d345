#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_facts
short_description: Read in one call what the uWSGI role's install steps would find on a host
version_added: 0.2.0
description:
  - Reads, and changes nothing, whether the host has apt package lists, which of the wanted Debian packages
    are not installed, whether the uWSGI binary exists, whether it was built with SSL, and which uWSGI release the
    role's virtualenv holds,
    which service users and groups do not exist yet, and which apps' virtualenvs exist.
  - Reads the host's usable CPUs and memory, which size every app's workers (plugins/module_utils/uwsgi_sizing.py),
    from the CPUs it may run on (its affinity, under the cpuset) and its cgroups' CPU quota, MemTotal and its cgroups'
    memory limit (cgroup v1 and v2).
  - The role skips each install step whose outcome is already on the host, so a run that changes nothing
    makes one call here instead of one per package manager, account and app.
  - First takes the host's run lock (plugins/module_utils/uwsgi_lock.py) for the run named by O(run), waiting
    up to O(lock_wait) seconds while another run holds it, so that two runs never write one host at the same
    time; in check mode it neither takes nor waits for it. Its action plugin (on the controller) names the run
    and tells a killed run of the same controller from a live one.
  - Fails, before anything on the host changes, when an app's existing virtualenv was made by another
    Python (major.minor) than the one uWSGI embeds (C(uwsgi_production_python); Debian's
    C(/usr/bin/python3) with the system method), because uWSGI could not import the app's packages from it.
  - Fails the same way, with every message at once, when an app's C(chdir) is not a directory on the host, or when
    a unix socket uWSGI binds itself (socket activation off) is in a directory the host does not have
    (plugins/module_utils/uwsgi_validate_host.py).
  - The internal module of the role C(pyops.uwsgi.uwsgi_production).
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
options:
  apps:
    description: The role's C(uwsgi_production_apps).
    type: list
    elements: dict
    required: true
  role:
    description: The role's variables without their C(uwsgi_production_) prefix (user, group, venv, install_method, python).
    type: dict
    required: true
  packages:
    description: The Debian packages the install step wants present.
    type: list
    elements: str
    default: []
  run:
    description:
      - The run taking the lock, C({controller, pid, started}); set by the action plugin. Without it no lock is taken.
    type: dict
  lock:
    description: Whether to take the run lock (not for a run that only checks its inputs).
    type: bool
    default: true
  lock_wait:
    description: How many seconds to wait while another run holds the lock, before failing with nothing changed.
    type: int
    default: 0
  gone:
    description: A holder of the lock that the controller found gone (a killed run of the same controller), taken over.
    type: dict
attributes:
  check_mode:
    support: full
  diff_mode:
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
ssl:
  description:
    - Whether the uWSGI binary of the install method was built with SSL (C(uwsgi --cflags) holds C(-DUWSGI_SSL)), so that
      it knows C(https-socket); false when it does not exist.
  returned: always
  type: bool
ssl_missing:
  description:
    - The apps with C(https) when the binary exists without SSL (the pip method then rebuilds uWSGI); else empty.
  returned: always
  type: list
  elements: str
missing_groups:
  description: The service groups (the role's, the apps' and the stats sockets' group) that do not exist yet.
  returned: always
  type: list
  elements: str
missing_users:
  description: The service users that do not exist yet, each as [user, group]. An existing user is left as it is.
  returned: always
  type: list
  elements: list
existing_venvs:
  description: The names of the apps whose virtualenv exists.
  returned: always
  type: list
  elements: str
releases:
  description:
    - Per app with a release, what this run does with it (C(build), C(switch), C(finish) an interrupted chain reload,
      C(notes) to say) and what the host has (C(current), C(previous), C(root), C(import_seconds) of the wanted
      release when it is built). A release that cannot be planned (an id built from another source) fails the call.
  returned: always
  type: dict
  sample: {shop: {id: "2.4.1", build: true, switch: true, finish: false, error: "", notes: [], current: "2.4.0",
                  previous: "2.3.9", root: /srv/uwsgi-releases/shop, import_seconds: null}}
release_builds:
  description: The releases to build, one item per app, as the role's build tasks loop over them.
  returned: always
  type: list
  elements: dict
  sample: [{name: shop, id: "2.4.1", code: /srv/uwsgi-releases/shop/releases/2.4.1/code,
            venv: /srv/uwsgi-releases/shop/releases/2.4.1/venv, git: null, archive: null, unpack_options: [],
            pip_names: ["shop==2.4.1"], pip_requirements: ""}]
release_notes:
  description:
    - What the run found of earlier runs' releases and does about it (an unfinished build built again, a chain reload
      finished, a kept release gone back to), one line each.
  returned: always
  type: list
  elements: str
python_version:
  description: The major.minor version of the Python uWSGI embeds, or an empty string when it cannot be asked.
  returned: always
  type: str
host_resources:
  description:
    - The host's usable CPUs and memory in MB, C({cpus, memory_mb}), from which the role sizes every app's worker
      counts and C(reload-on-rss) (a CPU quota of 1.5 counts as 2 CPUs).
  returned: always
  type: dict
lock:
  description:
    - What became of the run lock, C({verdict, held, waited, waited_for, waited_for_call}) (waited_for, the run
      this one waited for, if any; waited_for_call, that run's module call this one saw still running on the host,
      C({pid, started}), if any); verdict is C(take), C(ours) or C(stale) (taken over
      from a killed or abandoned run) once this run holds it, C(wait) or C(check) (the controller must say whether
      the holder of its own runs lives) when another run holds it and no fact was read; C(none) in check mode.
  returned: always
  type: dict
install_steps:
  description:
    - The role's install steps this run has work for (C(plugins/module_utils/uwsgi_install.py)), of C(apt), C(system),
      C(report), C(pip) and C(accounts); with none, the role includes none of its install tasks.
  returned: always
  type: list
  elements: str
packages_due:
  description:
    - Per app without a release that lists C(packages) or C(requirements), the reason the role's install step has
      work for it (its virtualenv to make, pip to run, a change an earlier run never proved, what a killed run
      left); the apps pip would change nothing for are not listed, and with none listed the step makes no call.
  returned: always
  type: dict
run:
  description: The run that holds the lock, which the role's later calls name; null in check mode.
  returned: always
  type: dict
"""

import dataclasses
import glob
import grp
import json
import os
import pwd
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_install as install
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_lock
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages_host as packages_host
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_host as release_host
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_sizing as sizing
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate as validator

PLAIN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def missing_packages(run, names):
    """The packages of `names` that dpkg does not report installed; None when one is not a plain name
    (a version or a pattern: apt itself must decide). `run(argv)` gives (rc, stdout, stderr)."""
    if not names:
        return []
    if not all(PLAIN_PACKAGE.match(name) for name in names):
        return None
    _rc, out, _err = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", "--"] + list(names))
    installed = set()
    for line in out.splitlines():
        package, _sep, status = line.partition(" ")
        if status.startswith("ii"):
            installed.add(package.split(":")[0])
    return [name for name in names if name not in installed]


def pip_version(venv):
    """The uWSGI release pip installed in the virtualenv, from its metadata directory's name: a wheel's
    uwsgi-2.0.31.dist-info, or the uWSGI-2.0.31-py3.11.egg-info of a build without the wheel package."""
    found = []
    for pattern in ("[uU][wW][sS][gG][iI]-*.dist-info", "[uU][wW][sS][gG][iI]-*.egg-info"):
        found += glob.glob(os.path.join(venv, "lib", "python*", "site-packages", pattern))
    if len(found) != 1:
        return ""
    name = os.path.basename(found[0])[len("uwsgi-"):]
    return name.rsplit(".", 1)[0].split("-")[0]


def venv_version(venv):
    """major.minor of the Python that made a virtualenv (uwsgi_packages_host.venv_version); '' when it does not
    say."""
    match = re.match(r"^(\d+)\.(\d+)", packages_host.venv_version(venv))
    return "%s.%s" % match.groups() if match else ""


def take_lock(module, poll=1.0):
    """Take the run lock for the run of the parameters, waiting up to lock_wait seconds for another
    controller's run: {verdict, held (the record before), waited}."""
    run = module.params["run"]
    if module.check_mode or not run or not module.params["lock"]:
        return dict(verdict="none", held=None, waited=0, waited_for=None, waited_for_call=None)
    lock = uwsgi_lock.Lock()
    started = time.time()
    waited_for = waited_for_call = None
    while True:
        verdict, held = lock.acquire(run, gone=module.params["gone"], call=uwsgi_lock.this_call())
        waited = round(time.time() - started, 1)
        if verdict == "wait" and uwsgi_lock.decide(held, run, time.time(), gone=module.params["gone"]) == "stale":
            # A killed or abandoned run, whose call on the host still runs: waited for.
            waited_for_call = waited_for_call or held.get("call")
        if verdict == "stale":
            module.warn("took over the run lock of the host from the run of %s, which ended without giving it up "
                        "(killed, failed before its last step, or limited by tags): what it left half done is "
                        "applied and checked by this run" % uwsgi_lock.describe(held))
        if verdict == "wait":
            waited_for = waited_for or held
        if verdict != "wait" or waited >= module.params["lock_wait"]:
            return dict(verdict=verdict, held=held, waited=waited, waited_for=waited_for,
                        waited_for_call=waited_for_call)
        time.sleep(poll)


def read_releases(apps, role):
    """Per app with a release: what this run does with it (uwsgi_release.plan) and what the host has; the
    builds to make, as the role's build tasks loop over them; and every release that cannot be planned."""
    plans, builds, errors = {}, [], []
    for app in apps:
        wanted = release.spec(app, role)
        if wanted is None:
            continue
        host = release_host.read(wanted.layout, model.runtime_dir(app["name"]) + "/stats.sock")
        planned = release.plan(wanted, host)
        if planned.error:
            errors.append(planned.error)
            continue
        marker = host.complete.get(wanted.id) or {}
        plans[app["name"]] = dict(
            dataclasses.asdict(planned), id=wanted.id, current=host.current, previous=host.previous,
            root=wanted.layout.root, import_seconds=marker.get("import_seconds"))
        if planned.build:
            builds.append(release.build_steps(wanted, app))
    return plans, builds, errors


def existing_venvs(apps):
    """The apps whose virtualenv exists on the host (has its bin/python)."""
    return [app for app in apps
            if app.get("virtualenv") and os.path.exists(os.path.join(app["virtualenv"], "bin", "python"))]


def embedding_python(role):
    """The Python uWSGI embeds: Debian's python3 plugin embeds /usr/bin/python3; the pip method's uWSGI,
    uwsgi_production_python."""
    return "/usr/bin/python3" if role.get("install_method") == "system" else role["python"]


def venv_mismatches(apps, existing, embedded, python):
    """One message per app of `existing` whose virtualenv another Python than the embedded one made
    (none when the embedded Python's version is unknown)."""
    wrong = []
    for index, app in enumerate(apps):
        if app in existing and embedded:
            made_by = venv_version(app["virtualenv"])
            if made_by and made_by != embedded:
                wrong.append(
                    "uwsgi_production_apps[%d].virtualenv = %s (app %s) was made by Python %s, but uWSGI embeds Python %s "
                    "(%s): uWSGI could not import the app's packages from it. Make the virtualenv with %s "
                    "(or remove it: the role makes it when the app lists packages)."
                    % (index, json.dumps(app["virtualenv"]), json.dumps(app["name"]), made_by, embedded,
                       python, python))
    return wrong


def read_install(module, role, apps, ssl):
    """What the install steps would find (uwsgi_install.steps decides from it): the Debian packages missing, the
    binary, the uWSGI release in the role's virtualenv, the https apps a binary without SSL cannot serve, and the
    service users and groups (the stats sockets' group too) that do not exist yet."""
    exists = os.path.exists(model.binary(role))
    accounts = model.accounts(apps, role)
    groups = {group for _user, group in accounts} | ({role["stats_group"]} if role.get("stats_group") else set())
    return dict(
        packages_missing=missing_packages(module.run_command, module.params["packages"]),
        binary_exists=exists,
        ssl_missing=model.https_apps(apps) if exists and not ssl else [],
        pip_version=pip_version(role["venv"]),
        missing_groups=sorted(group for group in groups if not state.exists(grp.getgrnam, group)),
        missing_users=[[user, group] for user, group in accounts if not state.exists(pwd.getpwnam, user)],
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            apps=dict(type="list", elements="dict", required=True),
            role=dict(type="dict", required=True),
            packages=dict(type="list", elements="str", default=[]),
            run=dict(type="dict"),
            lock=dict(type="bool", default=True),
            lock_wait=dict(type="int", default=0),
            gone=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    lock = take_lock(module)
    if lock["verdict"] in ("wait", "check"):
        module.exit_json(changed=False, lock=lock, run=None)
    role, apps = module.params["role"], module.params["apps"]
    present = model.present_apps(apps)
    existing = existing_venvs(present)
    python = embedding_python(role)
    embedded = state.python_version(module.run_command, python)
    wrong = venv_mismatches(apps, existing, embedded, python)
    # What the apps name exists on the host (their chdir, the directory of a unix socket uWSGI binds itself).
    # In check mode the play's earlier tasks that would make them did not run: a warning, not a failure.
    missing = validator.validate_host(apps, role, os.path.isdir)
    for text in missing if module.check_mode else []:
        module.warn("check mode: %s (a task before the role may make it)" % text)
    wrong += [] if module.check_mode else missing
    if wrong:
        module.fail_json(msg="\n".join(wrong), python_version=embedded)
    releases, builds, errors = read_releases(present, role)
    if errors:
        module.fail_json(msg="\n".join(errors), python_version=embedded)
    ssl = state.binary_has_ssl(module.run_command, model.binary(role))
    found = read_install(module, role, apps, ssl)
    module.exit_json(
        changed=False,
        python_version=embedded,
        apt_lists=bool(glob.glob("/var/lib/apt/lists/*_Packages*")),
        ssl=ssl,
        install_steps=install.steps(found, role, module.check_mode),
        existing_venvs=[app["name"] for app in existing],
        releases=releases,
        release_builds=builds,
        release_notes=[note for planned in releases.values() for note in planned["notes"]],
        packages_due=packages_host.due(present),
        host_resources=sizing.read_host(),
        lock=lock,
        run=module.params["run"] if lock["verdict"] != "none" else None,
        **found
    )


if __name__ == "__main__":
    main()
