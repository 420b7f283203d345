# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The role's files on the host: what is there, what should be, and writing the difference atomically.

Used by the modules that run on the host (uwsgi_config, uwsgi_service); needs an AnsibleModule only for
check mode, diff mode and failing.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import tempfile
from typing import Any, Callable, Collection, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model

KINDS = ("ini", "unit", "socket", "env", "tls")
# The last good copy of each kind of file (uwsgi_model.paths).
GOOD = {"ini": "good_ini", "unit": "good_unit", "socket": "good_socket_unit", "env": "good_env", "tls": "good_tls"}
# The kinds of file whose content is secret (the secrets file, the TLS file with its private key).
SECRET_KINDS = ("env", "tls")
# The module's run_command: argv -> (rc, stdout, stderr).
Run = Callable[[List[str]], Tuple[int, str, str]]
# A file to write: (path, text, owner, group, mode as octal text).
FileSpec = Tuple[str, str, str, str, str]
SECRET_DIFF = {"env": "(the secrets file of app %s: its content is never shown)\n",
               "tls": "(the TLS certificate and key of app %s: its content is never shown)\n"}


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None


def uid_of(user: str) -> Optional[int]:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def gid_of(group: str) -> Optional[int]:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def exists(lookup: Callable[[str], Any], name: str) -> bool:
    """Whether an account exists: lookup is pwd.getpwnam or grp.getgrnam."""
    try:
        lookup(name)
        return True
    except KeyError:
        return False


class WriteFailed(Exception):
    """A file of the role could not be written, removed or given its mode (a full or read-only file
    system): `path` names it, `error` is the OSError; `done` lists the paths already replaced before it
    (none when the batch failed while its new files were being written beside the old ones)."""

    def __init__(self, path: str, error: OSError, done: Iterable[str] = ()) -> None:
        self.path, self.error, self.done = path, error, list(done)
        words = "[Errno %s] %s" % (error.errno, error.strerror) if error.strerror else str(error)
        super().__init__("could not write %s: %s" % (path, words))


def _stage(path: str, text: str, owner: str, group: str, mode: str) -> str:
    """A new file beside `path` holding `text` with its owner and mode, flushed to disk: its name."""
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        os.fchmod(handle, int(mode, 8))
        os.fchown(handle, uid_of(owner), gid_of(group))
        with os.fdopen(handle, "wb") as out:
            handle = None
            out.write(text.encode("utf-8", "surrogateescape"))
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        if handle is not None:
            os.close(handle)
        os.unlink(temp)
        raise
    return temp


def write_all_atomically(files: Iterable[FileSpec]) -> None:
    """Write each (path, text, owner, group, mode) of `files` to a new file beside its path, and only once
    every one of them is on disk rename each over its path: a reader (or a crash) sees each old file or
    its new one, never half of one, and a full or read-only file system fails the whole batch before any
    file is replaced (WriteFailed, naming the file)."""
    staged = []
    try:
        for path, text, owner, group, mode in files:
            try:
                staged.append((_stage(path, text, owner, group, mode), path))
            except OSError as exc:
                raise WriteFailed(path, exc) from exc
        done = []
        for temp, path in staged:
            try:
                os.replace(temp, path)
            except OSError as exc:
                raise WriteFailed(path, exc, done) from exc
            done.append(path)
    finally:
        for temp, _path in staged:
            if os.path.lexists(temp):
                os.unlink(temp)


def write_atomically(path: str, text: str, owner: str, group: str, mode: str) -> None:
    """Write `text` to a new file beside `path` with its owner and mode, then rename it over `path`
    (write_all_atomically with one file)."""
    write_all_atomically([(path, text, owner, group, mode)])


class Files:
    """The files a run wants: each compared with the host's, and written or removed by apply()."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.changes = []       # (app, kind, path, action, text, owner, group, mode, secret)
        self.dirs = []          # (path, mode) to create or fix
        self.diffs = []
        self.changed = False
        self.applied = []       # the paths apply() changed

    def directory(self, path: str, mode: str) -> None:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self.dirs.append((path, mode))
            self.changed = True
            return
        if stat.st_mode & 0o7777 != int(mode, 8) or stat.st_uid != 0 or stat.st_gid != 0:
            self.dirs.append((path, mode))
            self.changed = True

    def want(self, app: str, kind: str, path: str, text: str, owner: str, group: str, mode: str,
             secret: bool = False) -> None:
        """`path` must hold `text`, owned by owner:group with `mode`."""
        before = read_text(path)
        attrs_differ = False
        if before is not None:
            stat = os.stat(path)
            attrs_differ = (stat.st_mode & 0o7777 != int(mode, 8) or stat.st_uid != uid_of(owner)
                            or stat.st_gid != gid_of(group))
        if before == text and not attrs_differ:
            return
        self.changes.append((app, kind, path, "write" if before != text else "attrs", text, owner, group, mode, secret))
        self.changed = True
        if before != text:
            self._diff(app, path, before or "", text, kind if secret else None)

    def absent(self, app: str, kind: str, path: str) -> None:
        before = read_text(path)
        if before is None:
            return
        self.changes.append((app, kind, path, "remove", None, None, None, None, kind in SECRET_KINDS))
        self.changed = True
        self._diff(app, path, before, "", kind if kind in SECRET_KINDS else None)

    def _diff(self, app: str, path: str, before: str, after: str, secret: Optional[str]) -> None:
        """A diff of the file; `secret` is the kind of a secret file (its content never shown), else None."""
        if not self.module._diff:
            return
        if secret:
            before = SECRET_DIFF[secret] % app if before else ""
            after = SECRET_DIFF[secret] % app if after else ""
        self.diffs.append({"before_header": path, "after_header": path, "before": before, "after": after})

    def changed_content(self, kind: str) -> List[Tuple[str, str]]:
        """(app, new text) of each file of `kind` whose content changes."""
        return [(c[0], c[4]) for c in self.changes if c[1] == kind and c[3] == "write"]

    def changed_kinds(self, app: str) -> List[str]:
        return [kind for kind in KINDS if any(c[0] == app and c[1] == kind for c in self.changes)]

    def report(self) -> Dict[str, Any]:
        """{kind: [app names]} of the files changed, written or removed, and which of them were removed."""
        out = {kind: sorted({c[0] for c in self.changes if c[1] == kind}) for kind in KINDS}
        out["removed"] = {kind: sorted({c[0] for c in self.changes if c[1] == kind and c[3] == "remove"}) for kind in KINDS}
        return out

    @staticmethod
    def empty_report() -> Dict[str, Any]:
        out = {kind: [] for kind in KINDS}
        out["removed"] = {kind: [] for kind in KINDS}
        return out

    def apply(self) -> None:
        """Make the host hold what want() and absent() asked for: every new content written at once
        (write_all_atomically), then files removed and modes fixed. A full or read-only file system raises
        WriteFailed naming the file; `applied` then lists the paths already changed (none when the new
        contents could not be written)."""
        self.applied = []
        if self.module.check_mode:
            return
        for path, mode in self.dirs:
            try:
                if not os.path.isdir(path):
                    os.makedirs(path)
                os.chown(path, 0, 0)
                os.chmod(path, int(mode, 8))
            except OSError as exc:
                raise WriteFailed(path, exc) from exc
        writes = [c for c in self.changes if c[3] == "write"]
        try:
            write_all_atomically([(path, text, owner, group, mode)
                                  for _app, _kind, path, _action, text, owner, group, mode, _secret in writes])
        except WriteFailed as exc:
            self.applied = list(exc.done)
            raise
        self.applied = [c[2] for c in writes]
        for _app, _kind, path, action, _text, owner, group, mode, _secret in self.changes:
            try:
                if action == "remove":
                    os.unlink(path)
                elif action == "attrs":
                    os.chown(path, uid_of(owner), gid_of(group))
                    os.chmod(path, int(mode, 8))
                else:
                    continue
            except OSError as exc:
                raise WriteFailed(path, exc, self.applied) from exc
            self.applied.append(path)

    def applied_kinds(self, app: str) -> List[str]:
        """The kinds of the app's files that apply() changed (all of them when it finished)."""
        return [kind for kind in KINDS if any(c[0] == app and c[1] == kind and c[2] in self.applied
                                              for c in self.changes)]


def restart_lines_of_text(text: Optional[str], keys: Collection[str]) -> List[str]:
    """The `key = value` lines of an ini the role wrote whose key is one of `keys`, in order."""
    found = []
    for line in (text or "").splitlines():
        line = line.strip()
        key, sep, _value = line.partition("=")
        if sep and key.strip() in keys:
            found.append(line)
    return found


def restart_lines_of_options(options: Mapping[str, Any], keys: Collection[str]) -> List[str]:
    return ["%s = %s" % (key, value) for key, value in model.option_lines(options) if key in keys]


def restart_needed(good_ini: str, options: Mapping[str, Any], keys: Collection[str]) -> bool:
    """Whether an option that a graceful reload cannot apply differs between the app's last good ini (what
    last served; none for a new app) and the options it gets now."""
    return restart_lines_of_text(read_text(good_ini), keys) != restart_lines_of_options(options, keys)


def unproven(where: Mapping[str, str], wanted: Mapping[str, Optional[str]]) -> List[str]:
    """The kinds of file whose wanted content (None: no such file) differs from the app's last good copy.

    Such a change was written by an earlier run that never saw it pass a health check (the run was killed
    before its service step, or failed and could not roll back): this run must still apply and check it
    before it becomes last good. On a host where every run finished, it is the same as what this run wrote.
    """
    return [kind for kind in KINDS if wanted.get(kind) != read_text(where[GOOD[kind]])]


def good_health(where: Mapping[str, str], current: Any) -> Any:
    """The health check the app's last good configuration passed, or `current` when none is on record
    (a host last configured by 0.1.0, which kept no such record)."""
    text = read_text(where["good_health"])
    try:
        return json.loads(text) if text else current
    except ValueError:
        return current


def health_record(health: Any) -> str:
    return json.dumps(health, sort_keys=True) + "\n"


def last_good_changes(config_dir: str, name: str, record: Any) -> Tuple[list, list]:
    """What keeps the app's live files (record: its uwsgi_record.AppRecord) as its last good configuration: (writes, forgets). `writes` holds a
    (path, text, owner, group, mode) for each live file that differs from its last good copy, `forgets`
    the copies the app no longer has (socket unit, secrets file, TLS file)."""
    role = {"config_dir": config_dir}
    where = model.paths(role, name)
    writes, forgets = [], []

    def keep(live, good, mode):
        text = read_text(live)
        if text is not None and text != read_text(good):
            writes.append((good, text, "root", "root", mode))

    def forget(good):
        if os.path.exists(good):
            forgets.append(good)

    keep(where["ini"], where["good_ini"], "0640")
    keep(where["unit"], where["good_unit"], "0644")
    if record.activated:
        keep(where["socket_unit"], where["good_socket_unit"], "0644")
    else:
        forget(where["good_socket_unit"])
    for live, good in ((where["env"], where["good_env"]), (where["tls"], where["good_tls"])):
        if os.path.exists(live):
            keep(live, good, "0600")
        else:
            forget(good)
    # The health check these files passed, so that a rollback asks the restored app what it answered (a
    # change to the health check itself may be what failed). Kept with the files: a host last configured
    # by 0.1.0 gets it with its next change.
    health = health_record(record.health)
    if (writes or forgets or os.path.exists(where["good_health"])) and health != read_text(where["good_health"]):
        writes.append((where["good_health"], health, "root", "root", "0600"))
    return writes, forgets


def keep_last_good(config_dir: str, name: str, record: Any, check: bool = False) -> List[str]:
    """Copy each live file of the app that differs from its last good copy; forget a copy the app no
    longer has (socket unit, secrets file). Returns the paths written (a leading '-' for removed);
    with check, only says which it would write."""
    return keep_all_last_good(config_dir, {name: record}, check)


def keep_all_last_good(config_dir: str, apps: Mapping[str, Any], check: bool = False) -> List[str]:
    """keep_last_good for every app of `apps` ({name: uwsgi_record.AppRecord}) at once: every new copy is written before any
    is renamed over an old one (write_all_atomically), so a full or read-only last good directory raises
    WriteFailed, naming the file, with every old copy as it was."""
    writes, forgets = [], []
    for name, record in apps.items():
        more_writes, more_forgets = last_good_changes(config_dir, name, record)
        writes += more_writes
        forgets += more_forgets
    written = [item[0] for item in writes]
    if check:
        return written + ["-" + good for good in forgets]
    write_all_atomically(writes)
    for good in forgets:
        try:
            os.unlink(good)
        except OSError as exc:
            raise WriteFailed(good, exc, written) from exc
        written.append("-" + good)
    return written


# The last good files of an app, by their keys in uwsgi_model.paths.
GOOD_FILES = (("good_ini", "0640"), ("good_unit", "0644"), ("good_socket_unit", "0644"), ("good_env", "0600"),
              ("good_tls", "0600"), ("good_health", "0600"))


def earlier_last_good(role: Mapping[str, Any], name: str) -> Optional[Dict[str, str]]:
    """The paths (uwsgi_model.paths) of the app's last good files in the configuration directory it last ran
    from, when that is not role["config_dir"] (uwsgi_production_config_dir changed): the directory of the ini
    that its live unit's ExecStart names. None when the app has a last good ini here, or none elsewhere."""
    where = model.paths(role, name)
    if os.path.exists(where["good_ini"]):
        return None
    old_dir = unit_config_dir(read_text(where["unit"]), name)
    if old_dir is None or old_dir == role["config_dir"].rstrip("/"):
        return None
    old = model.paths(dict(role, config_dir=old_dir), name)
    return old if os.path.exists(old["good_ini"]) else None


def unit_config_dir(unit: Optional[str], name: str) -> Optional[str]:
    """The configuration directory of the ini that a unit the role wrote for app `name` runs (its
    ExecStart's --ini), or None."""
    for line in (unit or "").splitlines():
        if line.startswith("ExecStart=") and " --ini " in line:
            ini = line.split(" --ini ", 1)[1].strip()
            if os.path.basename(ini) == "%s.ini" % name and os.path.isabs(ini):
                return os.path.dirname(ini)
    return None


def seed_last_good(role: Mapping[str, Any], name: str, old: Mapping[str, str]) -> List[str]:
    """Copy the app's last good files from its earlier configuration directory (earlier_last_good) into
    this one's, so that a failed change right after uwsgi_production_config_dir changed rolls the app back
    to what it last served (its last good unit still names its earlier ini) instead of stopping it."""
    where = model.paths(role, name)
    # The new directory may not exist yet: Files.apply() then gives it its owner and mode.
    try:
        os.makedirs(model.last_good_dir(role), mode=0o700, exist_ok=True)
    except OSError as exc:
        raise WriteFailed(model.last_good_dir(role), exc) from exc
    written = []
    for key, mode in GOOD_FILES:
        text = read_text(old[key])
        if text is not None:
            write_atomically(where[key], text, "root", "root", mode)
            written.append(where[key])
    return written


def binary_has_ssl(run: Run, uwsgi: str) -> bool:
    """Whether the uWSGI binary was built with SSL, from `uwsgi --cflags` (uwsgi_facts and uwsgi_config both
    ask); False when it does not exist. `run(argv)` gives (rc, stdout, stderr)."""
    if not os.path.exists(uwsgi):
        return False
    rc, out, _err = run([uwsgi, "--cflags"])
    return rc == 0 and model.has_ssl(out)


def python_version(run: Run, python: str) -> str:
    """major.minor of a Python interpreter ('' when it cannot be asked): uwsgi_facts checks the apps'
    virtualenvs against it, uwsgi_config derives the options from it. `run(argv)` gives (rc, stdout, stderr)."""
    if not os.path.exists(python):
        return ""
    rc, out, _err = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    return out.strip() if rc == 0 else ""
