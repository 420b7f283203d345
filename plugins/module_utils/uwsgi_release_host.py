# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Releases on the host: reading what is there, building and checking one beside the live release,
switching `current` atomically, and chain-reloading an app through its master fifo while watching its
stats socket. The decisions are uwsgi_release's; this file carries them out.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_probe as probe
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_release import HostReleases, Layout, Spec

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


class ReleaseFailed(Exception):
    """A step of a release failed: what failed, and its output (the last lines of a traceback)."""

    def __init__(self, step: str, output: str = ""):
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
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return json.loads(b"".join(chunks).decode("utf-8", "replace"))
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


def prepare(wanted: Spec, python: str) -> None:
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
    run = subprocess.run([python, "-m", "venv", layout.venv(wanted.id)], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise ReleaseFailed("making its virtualenv with %s failed" % python, run.stdout + run.stderr)


def link_shared(wanted: Spec, uid: int, gid: int) -> None:
    """Each shared path of the release becomes a link to the app's shared directory (made if missing)."""
    layout = wanted.layout
    for relative in wanted.shared:
        link = os.path.join(layout.code(wanted.id), relative)
        target = os.path.join(layout.shared, relative)
        if not os.path.lexists(target):
            parent = os.path.dirname(target)
            os.makedirs(parent, exist_ok=True)
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


def run_as(argv: list, user: str, group: str, env: dict, cwd: str, timeout: float) -> tuple:
    """(returncode, output, seconds) of a command run as the app's user; returncode None when it timed out."""
    begun = time.monotonic()
    try:
        run = subprocess.run(argv, user=user, group=group, extra_groups=[], env=env, cwd=cwd, timeout=timeout,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", check=False)
        return run.returncode, run.stdout, time.monotonic() - begun
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode("utf-8", "replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, out, time.monotonic() - begun
    except OSError as exc:
        return 127, str(exc), time.monotonic() - begun


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def run_commands(wanted: Spec, user: str, group: str, env: dict) -> None:
    release_dir = wanted.layout.release(wanted.id)
    for argv in wanted.commands:
        rc, out, _seconds = run_as(list(argv), user, group, environment(wanted, env, release_dir),
                                   wanted.layout.code(wanted.id), timeout=3600)
        if rc != 0:
            how = "timed out" if rc is None else "exited with status %s" % rc
            raise ReleaseFailed("its command %s %s" % (json.dumps(list(argv)), how), tail(out, 30))


def verify(wanted: Spec, python: str, module: str, user: str, group: str, env: dict) -> float:
    """Import the app's WSGI callable from the release as its workers will, in a separate process as the app's
    user, within the timeout: the seconds the import took, or ReleaseFailed with the traceback's last lines."""
    release_dir = wanted.layout.release(wanted.id)
    env = dict(environment(wanted, env, release_dir), **{release.CURRENT_VAR: release_dir, release.MODULE_VAR: module})
    rc, out, seconds = run_as([python, "-S", "-c", release.LOADER], user, group, env, wanted.layout.code(wanted.id),
                              wanted.verify_timeout)
    if rc is None:
        raise ReleaseFailed("importing %s did not finish within %d s" % (module, wanted.verify_timeout), tail(out))
    if rc != 0:
        raise ReleaseFailed("importing %s failed" % module, tail(out))
    return round(seconds, 3)


def preview(wanted: Spec, uwsgi: str, module: str, user: str, group: str, env: dict, health: dict) -> dict:
    """Serve the release from a uWSGI of its own on a scratch unix socket, as the app's user, and ask it for the app's
    health-check page: a release that would fail the check after the switch is refused before any worker sees it.
    The result of the check, or ReleaseFailed."""
    scratch = tempfile.mkdtemp(prefix="uwsgi-release-preview-")
    account = pwd.getpwnam(user)
    os.chown(scratch, account.pw_uid, account.pw_gid)
    address = os.path.join(scratch, "preview.sock")
    loader = os.path.join(scratch, release.LOADER_NAME)
    with open(loader, "w") as handle:
        handle.write(release.LOADER)
    release_dir = wanted.layout.release(wanted.id)
    argv = [uwsgi, "--strict", "--master", "--processes", "1", "--need-app", "--no-site", "--die-on-term",
            "--disable-logging", "--http-socket" if health["protocol"] == "http" else "--socket", address,
            "--chdir", wanted.layout.code(wanted.id), "--wsgi-file", loader]
    env = dict(environment(wanted, env, release_dir), **{release.CURRENT_VAR: release_dir, release.MODULE_VAR: module})
    process = subprocess.Popen(argv, user=user, group=group, extra_groups=[], env=env, cwd=scratch,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        return probe.check(address, health["protocol"], health["path"], health["host"], health["status"],
                           float(health["timeout"]))
    except probe.Unhealthy as exc:
        raise ReleaseFailed("served by a uWSGI of its own before the switch, it failed the app's health check: %s"
                            % exc.msg, _stop(process)) from None
    finally:
        _stop(process)
        shutil.rmtree(scratch, ignore_errors=True)


def _stop(process: subprocess.Popen) -> str:
    """Stop the preview's uWSGI; its output, the last lines."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    out = process.stdout.read().decode("utf-8", "replace") if process.stdout and not process.stdout.closed else ""
    if process.stdout:
        process.stdout.close()
    return tail(out)


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


def chain_reload(fifo: str, stats_socket: str, deadline: float, poll: float = 0.2) -> tuple:
    """Write `c` to the master fifo and wait until every worker is a new process that accepts and has loaded
    the app: (done, waiting worker ids, seconds)."""
    old = {worker["pid"] for worker in release.serving_workers(read_stats(stats_socket))}
    begun = time.monotonic()
    write_fifo(fifo, b"c")
    waiting = []
    while time.monotonic() - begun < deadline:
        time.sleep(poll)
        done, waiting = release.chain_progress(old, read_stats(stats_socket))
        if done:
            return True, [], round(time.monotonic() - begun, 2)
    return False, waiting, round(time.monotonic() - begun, 2)
