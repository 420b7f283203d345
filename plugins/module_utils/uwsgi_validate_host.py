# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The rules of the role's inputs that need the host: what an app names exists there.

An app's chdir is a directory on the host (the role does not make it), and a unix socket that uWSGI binds
itself (socket activation off) is in a directory that exists (systemd makes only the app's runtime
directory). Checked by uwsgi_facts, the run's first call on the host, before anything on it changes;
`isdir` is how that host answers (os.path.isdir there, a set of paths in the tests). Plain functions of
plain data.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import is_str, to_json
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_shape import unix_sockets

CHDIR_RULE = ("must be a directory on the host: uWSGI changes into it before it loads the app, and the role does not"
              " make it (put the app's code there first)")
SOCKET_DIR_RULE = ("must be in a directory that exists on the host (%s does not): with socket activation off uWSGI binds"
                   " it itself and makes no directory (systemd makes the app's runtime directory %s only)")


def _chdir(index: int, app: dict, isdir: Callable[[str], bool]) -> Iterator[str]:
    value = app.get("chdir")
    # A relative chdir is the shape rules'; an app with a release gets its own.
    if is_str(value) and value.startswith("/") and not app.get("release") and not isdir(value):
        yield "uwsgi_production_apps[%d].chdir = %s %s." % (index, to_json(value), CHDIR_RULE)


def _socket_dirs(inputs, index: int, app: dict, isdir: Callable[[str], bool]) -> Iterator[str]:
    if model.activated(app, inputs.role, inputs.options(index)):
        return
    runtime = model.runtime_dir(app["name"])
    for where, path in unix_sockets(inputs, index, app):
        folder = path.rsplit("/", 1)[0] or "/"
        if folder != runtime and not folder.startswith(runtime + "/") and not isdir(folder):
            yield "%s = %s %s." % (where, to_json(path), SOCKET_DIR_RULE % (folder, runtime))


def violations(inputs: Any, isdir: Callable[[str], bool]) -> List[str]:
    """The messages of every host rule each app to deploy breaks (`inputs`: uwsgi_validate.Inputs)."""
    found = []
    for index, app in inputs.deployed:
        found += list(_chdir(index, app, isdir))
        found += list(_socket_dirs(inputs, index, app, isdir))
    return found
