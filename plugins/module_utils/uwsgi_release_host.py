# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Releases on the host: reading what is there, building and checking one beside the live release,
switching `current` atomically, and chain-reloading an app through its master fifo while watching its
stats socket. The decisions are uwsgi_release's; this file carries them out.
"""

from __future__ import annotations

import json
import math
import os
import pwd
import shutil
import signal
import tempfile
import time
from typing import Callable

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_release import HostReleases, Layout, Spec

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
# What runs a command: AnsibleModule.run_command's shape, (argv, cwd=, environ_update=) -> (rc, stdout, stderr).
Runner = Callable[..., tuple]
# coreutils' timeout: 124 when it stopped the command, 137 when it had to kill it.
TIMED_OUT = (124, 137)
# Named by path: the command's own PATH (the release's virtualenv first) does not hold /usr/sbin.
TIMEOUT, RUNUSER = "/usr/bin/timeout", "/usr/sbin/runuser"


class ReleaseFailed(Exception):
    """A step of a release failed: what failed, and its output (the last lines of a traceback)."""

    def __init__(self, step: str, output: str = "") -> None:
        super().__init__(step)
        self.step, self.output = step, output


def read_json(path: str) -> dict | None:
    try:
        with open(path) as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def read_stats(path: str, timeout: float = 2.0) -> dict:
    """The JSON of a unix stats socket, {} when nothing answers."""
    try:
        return json.loads(probe.exchange(path, b"", timeout).decode("utf-8", "replace"))
    except (OSError, ValueError):
        return {}


def current_id(layout: Layout) -> str:
    try:
        target = os.readlink(layout.current)
    except OSError:
        return ""
    return os.path.basename(target.rstrip("/"))


def read(layout: Layout, stats_socket: str) -> HostReleases:
    """What the host has of one app's releases; workers that predate the last switch, from its stats socket."""
    host = HostReleases(current=current_id(layout))
    try:
        names = sorted(os.listdir(layout.releases))
    except OSError:
        names = []
    for name in names:
        marker = read_json(layout.marker(name))
        if marker is not None and marker.get("id") == name:
            host.complete[name] = marker
        elif os.path.isdir(layout.release(name)):
            host.incomplete.append(name)
    host.previous = (read_json(layout.state) or {}).get("previous", "")
    if host.current:
        host.switched_at = os.lstat(layout.current).st_mtime
        stats = read_stats(stats_socket) if os.path.exists(stats_socket) else {}
        host.stale_workers = release.stale_workers(stats, host.switched_at)
    return host


def switch(layout: Layout, release_id: str) -> str:
    """Point `current` at the release in one rename; record the release it named before. Returns that one."""
    before = current_id(layout)
    state = read_json(layout.state) or {}
    if before and before != release_id:
        state["previous"] = before
    state["current"] = release_id
    _write_json(layout.state, state)
    staged = layout.current + ".new"
    if os.path.lexists(staged):
        os.unlink(staged)
    os.symlink(os.path.join("releases", release_id), staged)
    os.rename(staged, layout.current)
    return before


def _write_json(path: str, data: dict) -> None:
    staged = path + ".new"
    with open(staged, "w") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(staged, path)


def prepare(run: Runner, wanted: Spec, python: str) -> None:
    """An empty release directory with its own virtualenv, made at its final path (a virtualenv cannot move).
    An unfinished or failed build of the same id is removed first; the live release is never touched."""
    layout = wanted.layout
    for path in (layout.root, layout.releases, layout.shared):
        os.makedirs(path, mode=0o755, exist_ok=True)
    target = layout.release(wanted.id)
    if os.path.realpath(target) == os.path.realpath(layout.current):
        raise ReleaseFailed("release %s is the live release of app '%s' and has no marker: it is not rebuilt in place"
                            % (wanted.id, wanted.app))
    if not wanted.source:
        # The user's own tasks put the code in place: only its virtualenv is made anew.
        if not os.path.isdir(layout.code(wanted.id)):
            raise ReleaseFailed("release %s has no source, so its code must be in %s before the role runs (put there by "
                                "your own tasks), and that directory does not exist" % (wanted.id, layout.code(wanted.id)))
        if os.path.lexists(layout.venv(wanted.id)):
            shutil.rmtree(layout.venv(wanted.id))
    else:
        if os.path.lexists(target):
            shutil.rmtree(target)
        os.makedirs(layout.code(wanted.id), mode=0o755)
    rc, out, err = run([python, "-m", "venv", layout.venv(wanted.id)])
    if rc != 0:
        raise ReleaseFailed("making its virtualenv with %s failed" % python, out + err)


def link_shared(wanted: Spec, uid: int, gid: int) -> None:
    """Each shared path of the release becomes a link to the app's shared directory. A path not shared yet is seeded
    from the release's own copy (a file, such as a default local settings file, or a directory, moved there and given
    to the app's user); with none, it is made as a directory."""
    layout = wanted.layout
    for relative in wanted.shared:
        link = os.path.join(layout.code(wanted.id), relative)
        target = os.path.join(layout.shared, relative)
        if not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.lexists(link) and not os.path.islink(link):
                os.rename(link, target)
                chown_tree(target, uid, gid)
            else:
                os.makedirs(target)
                os.chown(target, uid, gid)
        if os.path.isdir(link) and not os.path.islink(link):
            shutil.rmtree(link)
        elif os.path.lexists(link):
            os.unlink(link)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target, link)


def chown_tree(path: str, uid: int, gid: int) -> None:
    os.lchown(path, uid, gid)
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(top, name), uid, gid)


def environment(wanted: Spec, env: dict, release_dir: str) -> dict:
    """The environment of a command or an import check: the app's environment and secrets, its virtualenv first."""
    venv = os.path.join(release_dir, "venv")
    base = {"PATH": os.path.join(venv, "bin") + ":" + BASE_PATH, "VIRTUAL_ENV": venv, "LANG": "C.UTF-8",
            "HOME": os.path.join(release_dir, "code")}
    base.update({key: str(value) for key, value in (env or {}).items()})
    return base


def run_as(run: Runner, argv: list, user: str, group: str, env: dict, cwd: str, timeout: float) -> tuple:
    """(returncode, output, seconds) of a command run as the app's user and group (runuser, as root) with `env` over
    the module's environment, stopped after `timeout` seconds (coreutils' timeout): returncode None when it was."""
    begun = time.monotonic()
    wrapped = [TIMEOUT, "--kill-after=5", "%d" % max(1, math.ceil(timeout)), RUNUSER, "-p", "-u", user, "-g", group, "--"]
    wrapped += [str(arg) for arg in argv]
    rc, out, err = run(wrapped, cwd=cwd, environ_update=env)
    return (None if rc in TIMED_OUT else rc), out + err, time.monotonic() - begun


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run_commands(run: Runner, wanted: Spec, user: str, group: str, env: dict) -> None:
    release_dir = wanted.layout.release(wanted.id)
    for argv in wanted.commands:
        rc, out, _seconds = run_as(run, list(argv), user, group, environment(wanted, env, release_dir),
                                   wanted.layout.code(wanted.id), timeout=3600)
        if rc != 0:
            how = "timed out" if rc is None else "exited with status %s" % rc
            raise ReleaseFailed("its command %s %s" % (json.dumps(list(argv)), how), tail(out, 30))


def verify(run: Runner, wanted: Spec, python: str, module: str, user: str, group: str, env: dict) -> float:
    """Import the app's WSGI callable from the release as its workers will, in a separate process as the app's
    user, within the timeout: the seconds the import took, or ReleaseFailed with the traceback's last lines."""
    release_dir = wanted.layout.release(wanted.id)
    env = dict(environment(wanted, env, release_dir), **{release.CURRENT_VAR: release_dir, release.MODULE_VAR: module})
    rc, out, seconds = run_as(run, [python, "-S", "-c", release.LOADER], user, group, env, wanted.layout.code(wanted.id),
                              wanted.verify_timeout)
    if rc is None:
        raise ReleaseFailed("importing %s did not finish within %d s" % (module, wanted.verify_timeout), tail(out))
    if rc != 0:
        raise ReleaseFailed("importing %s failed" % module, tail(out))
    return round(seconds, 3)


def preview(run: Runner, wanted: Spec, uwsgi: str, module: str, user: str, group: str, env: dict, health: dict) -> dict:
    """Serve the release from a uWSGI of its own on a scratch unix socket, as the app's user, and ask it for the app's
    health-check page: a release that would fail the check after the switch is refused before any worker sees it.
    The result of the check, or ReleaseFailed."""
    scratch = tempfile.mkdtemp(prefix="uwsgi-release-preview-")
    account = pwd.getpwnam(user)
    os.chown(scratch, account.pw_uid, account.pw_gid)
    address, pidfile, log = (os.path.join(scratch, name) for name in ("preview.sock", "preview.pid", "preview.log"))
    loader = os.path.join(scratch, release.LOADER_NAME)
    with open(loader, "w") as handle:
        handle.write(release.LOADER)
    release_dir = wanted.layout.release(wanted.id)
    argv = [uwsgi, "--strict", "--master", "--processes", "1", "--need-app", "--no-site", "--die-on-term",
            "--disable-logging", "--http-socket" if health["protocol"] == "http" else "--socket", address,
            "--chdir", wanted.layout.code(wanted.id), "--wsgi-file", loader, "--daemonize", log, "--pidfile", pidfile]
    env = dict(environment(wanted, env, release_dir), **{release.CURRENT_VAR: release_dir, release.MODULE_VAR: module})
    try:
        rc, out, _seconds = run_as(run, argv, user, group, env, scratch, 60)
        if rc != 0:
            raise ReleaseFailed("a uWSGI of its own could not start to serve it before the switch", tail(out))
        try:
            return probe.check(address, health["protocol"], health["path"], health["host"], health["status"],
                               float(health["timeout"]))
        except probe.Unhealthy as exc:
            raise ReleaseFailed("served by a uWSGI of its own before the switch, it failed the app's health check: %s"
                                % exc.msg, _stop(pidfile, log)) from None
    finally:
        _stop(pidfile, log)
        shutil.rmtree(scratch, ignore_errors=True)


def _stop(pidfile: str, log: str) -> str:
    """Stop the preview's uWSGI (SIGTERM, which die-on-term makes a shutdown; its whole process group after 10 s);
    the last lines of its log."""
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        pid = 0
    if pid > 0:
        try:
            os.kill(pid, signal.SIGTERM)
            for _tick in range(100):
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(0.1)
            else:
                os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        with open(log, errors="replace") as handle:
            return tail(handle.read())
    except OSError:
        return ""


def mark(wanted: Spec, import_seconds: float) -> None:
    """The marker that makes the release complete: only a complete release is ever switched to."""
    _write_json(wanted.layout.marker(wanted.id), {
        "id": wanted.id, "fingerprint": wanted.fingerprint, "built_at": time.time(),
        "import_seconds": import_seconds, "source": wanted.source})


def unmark(layout: Layout, release_id: str) -> None:
    """A release that failed after the switch becomes incomplete again (kept for inspection, rebuilt if named)."""
    try:
        os.rename(layout.marker(release_id), layout.marker(release_id) + ".failed")
    except OSError:
        pass


def remove(layout: Layout, ids: list) -> list:
    removed = []
    for rid in ids:
        path = layout.release(rid)
        if os.path.realpath(path) != os.path.realpath(layout.current) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(rid)
    return removed


def write_fifo(fifo: str, command: bytes) -> None:
    """One command to the master fifo; OSError (ENXIO) at once when no master reads it, never a hang."""
    handle = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(handle, command)
    finally:
        os.close(handle)


def wake_spare(fifo: str, stats_socket: str, timeout: float, poll: float = 0.2) -> bool:
    """When a single worker serves and a cheaped slot is free, wake one more (`+` on the master fifo) and wait until
    it accepts with the app loaded, so that one always serves during the chain reload. Whether one was woken."""
    stats = read_stats(stats_socket)
    if not release.needs_spare(stats):
        return False
    before = {worker["pid"] for worker in release.serving_workers(stats)}
    write_fifo(fifo, b"+")
    begun = time.monotonic()
    while time.monotonic() - begun < timeout:
        time.sleep(poll)
        if release.spare_ready(before, read_stats(stats_socket)):
            return True
    return False


def chain_reload(fifo: str, stats_socket: str, deadline: float, poll: float = 0.2) -> tuple:
    """Write `c` to the master fifo and wait until every worker is a new process that accepts and has loaded
    the app: (done, waiting worker ids, seconds). A single serving worker first gets a spare (wake_spare)."""
    begun = time.monotonic()
    wake_spare(fifo, stats_socket, deadline / 2)
    old = {worker["pid"] for worker in release.serving_workers(read_stats(stats_socket))}
    write_fifo(fifo, b"c")
    waiting = []
    while time.monotonic() - begun < deadline:
        time.sleep(poll)
        done, waiting = release.chain_progress(old, read_stats(stats_socket))
        if done:
            return True, [], round(time.monotonic() - begun, 2)
    return False, waiting, round(time.monotonic() - begun, 2)
