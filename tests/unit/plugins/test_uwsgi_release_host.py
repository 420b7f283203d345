"""Releases on the host (plugins/module_utils/uwsgi_release_host.py), in-process on temporary directories:
reading what is there, preparing a release, linking shared paths, switching `current`, running commands and
the import check as another user, marking, unmarking and removing releases, the master fifo and a chain
reload watched through a stats socket.

The tests run as root (as the role does): commands and the import check run as `nobody` with Debian's
/usr/bin/python3, in directories that user can read. The chain reload is watched against a stand-in master
(a thread reading the fifo, a stats socket answering JSON shaped as uWSGI's); real uWSGI is the molecule
scenarios' (tests/integration/releases).
"""

import errno
import json
import os
import pwd
import shutil
import socketserver
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_host as host
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_release import Layout

PYTHON = "/usr/bin/python3"
NOBODY = pwd.getpwnam("nobody")
NOGROUP = "nogroup"


def RUN(argv, cwd=None, environ_update=None):
    """What AnsibleModule.run_command does for the release's host functions: (rc, stdout, stderr)."""
    done = subprocess.run(argv, cwd=cwd, env=dict(os.environ, **(environ_update or {})), capture_output=True, text=True,
                          check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def root():
    """An app's release directory that `nobody` can read (pytest's tmp_path is root's alone)."""
    path = tempfile.mkdtemp(prefix="pyops-release-test-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def spec(root, rid="2.0", **changes):
    spec_ = dict({"id": rid, "source": {"pip": ["shop"]}, "root": root}, **changes)
    app = {"name": "shop", "module": "shop:app", "release": spec_}
    return release.spec(app, {})


def make_release(layout, rid, marker=True, code=None):
    """A release directory as a build leaves it: code, an empty virtualenv tree, and its marker when complete."""
    os.makedirs(layout.code(rid))
    os.makedirs(os.path.join(layout.venv(rid), "bin"))
    for name, text in (code or {}).items():
        with open(os.path.join(layout.code(rid), name), "w") as handle:
            handle.write(text)
    if marker:
        host.mark(spec(layout.root, rid), 0.5)
    for top, dirs, _files in os.walk(layout.root):
        for name in dirs:
            os.chmod(os.path.join(top, name), 0o755)


# --- reading ----------------------------------------------------------------------------------------------

def test_read_json_is_none_for_what_is_not_a_json_object(root):
    path = os.path.join(root, "x.json")
    assert host.read_json(path) is None
    for text, value in (("{\"a\": 1}", {"a": 1}), ("[1]", None), ("{", None), ("", None), ("\"x\"", None)):
        with open(path, "w") as handle:
            handle.write(text)
        assert host.read_json(path) == value


def test_read_classifies_complete_and_incomplete_releases(root):
    layout = Layout(root)
    assert host.read(layout, "") == release.HostReleases()        # nothing on the host yet
    make_release(layout, "1.0")
    make_release(layout, "2.0")
    make_release(layout, "2.1", marker=False)                     # a build that did not finish
    make_release(layout, "3.0")
    host.unmark(layout, "3.0")                                     # failed after its switch
    make_release(layout, "4.0", marker=False)
    with open(layout.marker("4.0"), "w") as handle:                # a marker of another id (a copied directory)
        json.dump({"id": "1.0", "fingerprint": "x"}, handle)
    make_release(layout, "5.0", marker=False)
    with open(layout.marker("5.0"), "w") as handle:                # a marker cut short
        handle.write("{\"id\": \"5.0\"")
    with open(os.path.join(layout.releases, "notes.txt"), "w") as handle:
        handle.write("not a release\n")
    host.switch(layout, "1.0")
    host.switch(layout, "2.0")
    seen = host.read(layout, os.path.join(root, "no-stats.sock"))
    assert seen.current == "2.0" and seen.previous == "1.0"
    assert sorted(seen.complete) == ["1.0", "2.0"]
    assert seen.complete["2.0"]["fingerprint"] == spec(root, "2.0").fingerprint
    assert seen.incomplete == ["2.1", "3.0", "4.0", "5.0"]
    assert seen.switched_at == os.lstat(layout.current).st_mtime and seen.stale_workers == []


def test_read_names_the_workers_spawned_before_the_switch(root):
    layout = Layout(root)
    make_release(layout, "1.0")
    host.switch(layout, "1.0")
    switched = int(os.lstat(layout.current).st_mtime)
    rows = [(1, 11, switched - 5), (2, 12, switched + 1), (3, 13, switched - 1)]
    with StatsServer(os.path.join(root, "stats.sock"), workers(rows)) as server:
        assert host.read(layout, server.path).stale_workers == [1, 3]


# --- switching --------------------------------------------------------------------------------------------

def test_switch_points_current_at_the_release_and_records_the_one_before(root):
    layout = Layout(root)
    for rid in ("1.0", "2.0", "3.0"):
        make_release(layout, rid)
    assert host.switch(layout, "1.0") == ""
    assert os.readlink(layout.current) == "releases/1.0" and host.current_id(layout) == "1.0"
    assert os.path.realpath(layout.current) == os.path.realpath(layout.release("1.0"))
    assert host.read_json(layout.state) == {"current": "1.0"}
    assert host.switch(layout, "2.0") == "1.0"
    assert host.read_json(layout.state) == {"current": "2.0", "previous": "1.0"}
    # Switching to the release it already names keeps the one before.
    assert host.switch(layout, "2.0") == "2.0"
    assert host.read_json(layout.state) == {"current": "2.0", "previous": "1.0"}
    assert host.switch(layout, "3.0") == "2.0" and host.read(layout, "").previous == "2.0"
    assert sorted(os.listdir(root)) == ["current", "release-state.json", "releases"]  # nothing staged is left


def test_switch_replaces_a_link_left_staged_by_a_killed_run(root):
    layout = Layout(root)
    make_release(layout, "1.0")
    os.symlink("releases/nowhere", layout.current + ".new")
    with open(layout.state + ".new", "w") as handle:
        handle.write("{half")
    host.switch(layout, "1.0")
    assert os.readlink(layout.current) == "releases/1.0" and not os.path.lexists(layout.current + ".new")
    assert host.read_json(layout.state) == {"current": "1.0"} and not os.path.exists(layout.state + ".new")


def test_switch_is_atomic_current_always_names_a_release(root):
    """A reader looking at `current` all through many switches never finds it missing or half made."""
    layout = Layout(root)
    for rid in ("1.0", "2.0"):
        make_release(layout, rid)
    host.switch(layout, "1.0")
    seen, failures, stop = set(), [], threading.Event()

    def look():
        while not stop.is_set():
            try:
                seen.add(os.readlink(layout.current))
                if not os.path.isdir(os.path.join(layout.current, "code")):
                    failures.append("no code")
            except OSError as exc:
                failures.append(exc)

    reader = threading.Thread(target=look)
    reader.start()
    try:
        for number in range(400):
            host.switch(layout, ("1.0", "2.0")[number % 2])
    finally:
        stop.set()
        reader.join()
    assert failures == [] and seen == {"releases/1.0", "releases/2.0"}


# --- preparing and building ----------------------------------------------------------------------------------

def test_prepare_makes_the_release_and_its_virtualenv_at_its_final_path(root):
    wanted = spec(root, "2.0")
    layout = wanted.layout
    make_release(layout, "1.0")
    host.switch(layout, "1.0")
    # An unfinished build of the same id is removed first.
    os.makedirs(layout.code("2.0"))
    with open(os.path.join(layout.code("2.0"), "stale.py"), "w") as handle:
        handle.write("x = 1\n")
    host.prepare(RUN, wanted, PYTHON)
    assert os.listdir(layout.code("2.0")) == []
    assert os.path.isfile(os.path.join(layout.venv("2.0"), "bin", "python"))
    assert os.path.isfile(os.path.join(layout.venv("2.0"), "pyvenv.cfg"))
    assert os.path.isdir(layout.shared) and os.listdir(layout.shared) == []
    assert host.read(layout, "").incomplete == ["2.0"]              # no marker until finished
    assert os.readlink(layout.current) == "releases/1.0" and host.read(layout, "").complete.keys() == {"1.0"}


def test_prepare_never_rebuilds_the_live_release(root):
    layout = Layout(root)
    make_release(layout, "2.0", marker=False, code={"shop.py": "app = 1\n"})
    host.switch(layout, "2.0")
    with pytest.raises(host.ReleaseFailed, match="is the live release of app 'shop' and has no marker"):
        host.prepare(RUN, spec(root, "2.0"), PYTHON)
    assert os.listdir(layout.code("2.0")) == ["shop.py"]


def test_prepare_without_a_source_keeps_the_code_the_user_put_there(root):
    wanted = spec(root, "7", source=None)
    with pytest.raises(host.ReleaseFailed, match="its code must be in %s/releases/7/code" % root):
        host.prepare(RUN, wanted, PYTHON)
    make_release(wanted.layout, "7", marker=False, code={"shop.py": "app = 1\n"})
    with open(os.path.join(wanted.layout.venv("7"), "old"), "w") as handle:
        handle.write("an earlier attempt\n")
    host.prepare(RUN, wanted, PYTHON)
    assert os.listdir(wanted.layout.code("7")) == ["shop.py"]
    assert not os.path.exists(os.path.join(wanted.layout.venv("7"), "old"))
    assert os.path.isfile(os.path.join(wanted.layout.venv("7"), "pyvenv.cfg"))


def test_prepare_fails_with_the_output_when_no_virtualenv_is_made(root):
    with pytest.raises(host.ReleaseFailed, match="making its virtualenv with /bin/false failed"):
        host.prepare(RUN, spec(root), "/bin/false")


def test_link_shared_replaces_what_the_release_ships_with_links(root):
    wanted = spec(root, shared=["media", "conf/local.py", "static/", "./cache", "var/log"])
    layout = wanted.layout
    make_release(layout, "2.0", marker=False)
    code = layout.code("2.0")
    os.makedirs(os.path.join(code, "media", "sub"))                  # a directory the release ships
    os.makedirs(os.path.join(code, "conf"))
    with open(os.path.join(code, "conf", "local.py"), "w") as handle:  # a file the release ships
        handle.write("DEBUG = True\n")
    os.makedirs(os.path.join(code, "static"))
    os.makedirs(os.path.join(layout.shared, "static"))               # already shared by an earlier release
    with open(os.path.join(layout.shared, "static", "kept.css"), "w") as handle:
        handle.write("body {}\n")
    host.link_shared(wanted, NOBODY.pw_uid, NOBODY.pw_gid)
    for relative in ("media", "conf/local.py", "static", "cache", "var/log"):
        link = os.path.join(code, relative)
        assert os.path.islink(link) and os.readlink(link) == os.path.join(layout.shared, relative), relative
        assert os.path.isdir(link) is (relative != "conf/local.py"), relative
    assert os.listdir(os.path.join(code, "static")) == ["kept.css"]
    # Not shared yet: seeded from what the release ships (its file, its directory), given to the app's user.
    with open(os.path.join(code, "conf", "local.py")) as handle:
        assert handle.read() == "DEBUG = True\n"
    assert os.listdir(os.path.join(code, "media")) == ["sub"]
    for seeded in ("media", "media/sub", "conf/local.py", "cache"):
        made = os.stat(os.path.join(layout.shared, seeded))
        assert (made.st_uid, made.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid), seeded
    kept = os.stat(os.path.join(layout.shared, "static"))
    assert kept.st_uid == 0                                          # what was there is left as it was
    host.link_shared(wanted, NOBODY.pw_uid, NOBODY.pw_gid)           # again: the same links
    assert os.readlink(os.path.join(code, "media")) == os.path.join(layout.shared, "media")


def test_chown_tree_gives_every_file_and_link_to_the_app(root):
    layout = Layout(root)
    make_release(layout, "2.0", marker=False, code={"shop.py": "app = 1\n"})
    os.symlink("/etc/passwd", os.path.join(layout.code("2.0"), "link"))
    host.chown_tree(layout.release("2.0"), NOBODY.pw_uid, NOBODY.pw_gid)
    for top, dirs, files in os.walk(layout.release("2.0")):
        for name in [top] + [os.path.join(top, item) for item in dirs + files]:
            assert os.lstat(name).st_uid == NOBODY.pw_uid, name
    assert os.stat("/etc/passwd").st_uid == 0                        # a link is not followed


def test_the_environment_of_a_command_has_the_release_s_virtualenv_first(root):
    release_dir = os.path.join(root, "releases", "2.0")
    env = host.environment(spec(root), {"DJANGO_SETTINGS_MODULE": "shop.settings", "WORKERS": 4}, release_dir)
    assert env == {"PATH": release_dir + "/venv/bin:" + host.BASE_PATH, "VIRTUAL_ENV": release_dir + "/venv",
                   "LANG": "C.UTF-8", "HOME": release_dir + "/code", "DJANGO_SETTINGS_MODULE": "shop.settings",
                   "WORKERS": "4"}


# --- running as the app's user ----------------------------------------------------------------------------------

def test_run_as_runs_as_the_user_with_only_its_group(root):
    rc, out, seconds = host.run_as(RUN, ["/bin/sh", "-c", "id -u; id -G; pwd; echo $TOKEN; echo oops >&2"], "nobody",
                                   NOGROUP, {"PATH": host.BASE_PATH, "TOKEN": "t0k"}, root, timeout=30)
    assert rc == 0 and seconds < 30
    assert out.splitlines() == [str(NOBODY.pw_uid), str(NOBODY.pw_gid), root, "t0k", "oops"]


def test_run_as_gives_the_status_a_timeout_and_a_missing_command(root):
    assert host.run_as(RUN, ["/bin/sh", "-c", "echo half; exit 3"], "nobody", NOGROUP, {}, root, 30)[:2] == (3, "half\n")
    rc, out, seconds = host.run_as(RUN, ["/bin/sh", "-c", "echo started; sleep 20"], "nobody", NOGROUP, {}, root, 1)
    assert rc is None and 1 <= seconds < 10 and "started" in out
    # runuser says it could not run it, and exits 1 (or 126/127, by its release).
    rc, out, _seconds = host.run_as(RUN, ["/nonexistent/manage.py"], "nobody", NOGROUP, {}, root, 30)
    assert rc in (1, 126, 127) and "/nonexistent/manage.py" in out


def test_run_commands_runs_each_in_the_code_with_the_virtualenv_first(root):
    wanted = spec(root, commands=[["migrate", "--noinput"], ["sh", "-c", "pwd > done; echo $SECRET >> done"]])
    layout = wanted.layout
    make_release(layout, "2.0", marker=False)
    script = os.path.join(layout.venv("2.0"), "bin", "migrate")
    with open(script, "w") as handle:
        handle.write("#!/bin/sh\necho \"migrated $1\" > migrated\n")
    os.chmod(script, 0o755)
    host.chown_tree(layout.release("2.0"), NOBODY.pw_uid, NOBODY.pw_gid)
    host.run_commands(RUN, wanted, "nobody", NOGROUP, {"SECRET": "s3"})
    with open(os.path.join(layout.code("2.0"), "migrated")) as handle:
        assert handle.read() == "migrated --noinput\n"
    with open(os.path.join(layout.code("2.0"), "done")) as handle:
        assert handle.read() == layout.code("2.0") + "\ns3\n"
    assert os.stat(os.path.join(layout.code("2.0"), "done")).st_uid == NOBODY.pw_uid


def test_a_failing_command_stops_the_release_with_its_output(root):
    wanted = spec(root, commands=[["sh", "-c", "seq 1 40; exit 4"], ["touch", "never"]])
    make_release(wanted.layout, "2.0", marker=False)
    host.chown_tree(wanted.layout.release("2.0"), NOBODY.pw_uid, NOBODY.pw_gid)
    with pytest.raises(host.ReleaseFailed) as failed:
        host.run_commands(RUN, wanted, "nobody", NOGROUP, {})
    assert failed.value.step == 'its command ["sh", "-c", "seq 1 40; exit 4"] exited with status 4'
    assert failed.value.output.splitlines() == [str(number) for number in range(11, 41)]  # the last 30 lines
    assert not os.path.exists(os.path.join(wanted.layout.code("2.0"), "never"))


# --- the import check ------------------------------------------------------------------------------------------

def checked_release(root, code, **changes):
    wanted = spec(root, **changes)
    make_release(wanted.layout, "2.0", marker=False, code={"shop.py": code})
    site = os.path.join(wanted.layout.venv("2.0"), "lib", "python3.11", "site-packages")
    os.makedirs(site)
    with open(os.path.join(site, "shopdep.py"), "w") as handle:
        handle.write("import os\nUSER = os.getuid()\n")
    host.chown_tree(wanted.layout.release("2.0"), NOBODY.pw_uid, NOBODY.pw_gid)
    return wanted


def test_verify_imports_the_callable_as_the_app_s_user_from_the_release(root):
    code = ("import os, shopdep\nassert shopdep.USER == %d, shopdep.USER\nassert os.environ['TOKEN'] == 'secret'\n"
            "assert os.getcwd().endswith('/releases/2.0/code')\ndef app(environ, start):\n    return []\n"
            % NOBODY.pw_uid)
    wanted = checked_release(root, code)
    seconds = host.verify(RUN, wanted, PYTHON, "shop:app", "nobody", NOGROUP, {"TOKEN": "secret"})
    assert isinstance(seconds, float) and 0 < seconds < wanted.verify_timeout


@pytest.mark.parametrize("code, module, words", [
    ("raise RuntimeError('the database is not configured')\n", "shop:app",
     ["importing shop:app failed", "RuntimeError: the database is not configured"]),
    ("import not_installed_anywhere\n", "shop:app", ["ModuleNotFoundError", "not_installed_anywhere"]),
    ("def other(environ, start):\n    return []\n", "shop:app", ["AttributeError", "'app'"]),
    ("app = 'not callable'\n", "shop:app", ["TypeError: shop:app is 'not callable', not a WSGI callable"]),
    ("def app(environ, start):\n    return []\n", "nope:app", ["No module named 'nope'"]),
])
def test_verify_refuses_a_release_whose_callable_does_not_import(root, code, module, words):
    wanted = checked_release(root, code)
    with pytest.raises(host.ReleaseFailed) as failed:
        host.verify(RUN, wanted, PYTHON, module, "nobody", NOGROUP, {})
    text = failed.value.step + "\n" + failed.value.output
    assert all(word in text for word in words), text
    assert len(failed.value.output.splitlines()) <= 15


def test_verify_gives_up_at_the_release_s_timeout(root):
    wanted = checked_release(root, "import time\ntime.sleep(30)\napp = None\n", verify_timeout=1)
    begun = time.monotonic()
    with pytest.raises(host.ReleaseFailed, match="importing shop:app did not finish within 1 s"):
        host.verify(RUN, wanted, PYTHON, "shop:app", "nobody", NOGROUP, {})
    assert time.monotonic() - begun < 10


# --- markers and removal ---------------------------------------------------------------------------------------

def test_mark_makes_a_release_complete_and_unmark_undoes_it(root):
    wanted = spec(root)
    make_release(wanted.layout, "2.0", marker=False)
    host.mark(wanted, 1.25)
    marker = host.read_json(wanted.layout.marker("2.0"))
    assert marker["id"] == "2.0" and marker["fingerprint"] == wanted.fingerprint and marker["import_seconds"] == 1.25
    assert marker["source"] == "pip" and abs(marker["built_at"] - time.time()) < 60
    assert "2.0" in host.read(wanted.layout, "").complete
    host.unmark(wanted.layout, "2.0")
    seen = host.read(wanted.layout, "")
    assert seen.complete == {} and seen.incomplete == ["2.0"]
    assert host.read_json(wanted.layout.marker("2.0") + ".failed")["id"] == "2.0"   # kept for inspection
    host.unmark(wanted.layout, "2.0")                                 # nothing to undo: no error
    host.unmark(wanted.layout, "9.9")


def test_remove_removes_the_releases_named_but_never_the_current_one(root):
    layout = Layout(root)
    for rid in ("1.0", "2.0", "3.0"):
        make_release(layout, rid)
    make_release(layout, "4.0", marker=False)
    host.switch(layout, "2.0")
    with open(os.path.join(layout.releases, "file"), "w") as handle:
        handle.write("x\n")
    assert host.remove(layout, ["1.0", "2.0", "4.0", "file", "missing"]) == ["1.0", "4.0"]
    assert sorted(os.listdir(layout.releases)) == ["2.0", "3.0", "file"]
    assert os.path.isdir(os.path.join(layout.current, "code"))


# --- the master fifo and the chain reload -------------------------------------------------------------------------

def test_write_fifo_fails_at_once_when_no_master_reads_it(root):
    fifo = os.path.join(root, "master.fifo")
    os.mkfifo(fifo, 0o600)
    begun = time.monotonic()
    with pytest.raises(OSError) as failed:
        host.write_fifo(fifo, b"c")
    assert failed.value.errno == errno.ENXIO and time.monotonic() - begun < 1
    with pytest.raises(FileNotFoundError):
        host.write_fifo(os.path.join(root, "none.fifo"), b"c")


def test_write_fifo_hands_the_command_to_the_master(root):
    fifo = os.path.join(root, "master.fifo")
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        host.write_fifo(fifo, b"c")
        assert os.read(reader, 16) == b"c"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def workers(rows):
    """Stats JSON with a worker per (id, pid, last_spawn), each accepting with its app loaded."""
    return {"version": "2.0.31", "pid": 10, "workers": [
        {"id": wid, "pid": pid, "status": "idle", "accepting": 1, "last_spawn": spawn, "requests": 0,
         "apps": [{"id": 0, "mountpoint": "", "requests": 0}]} for wid, pid, spawn in rows]}


class StatsServer:
    """A unix stats socket answering its current JSON to each connection, as uWSGI's stats server does."""

    def __init__(self, path, stats):
        self.path, self.stats = path, stats
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.sendall(json.dumps(owner.stats).encode())

        self.server = socketserver.ThreadingUnixStreamServer(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Master(threading.Thread):
    """Reads the master fifo; on `c` replaces its workers one at a time, `moves` of them (all when None)."""

    def __init__(self, fifo, server, moves=None, step=0.1):
        super().__init__()
        self.fifo, self.server, self.moves, self.step = fifo, server, moves, step
        self.commands = b""
        os.mkfifo(fifo, 0o600)
        self.handle = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                data = os.read(self.handle, 16)
            except BlockingIOError:
                data = b""
            self.commands += data
            if b"c" in data:
                rows = self.server.stats["workers"]
                for worker in rows[:self.moves if self.moves is not None else len(rows)]:
                    time.sleep(self.step)
                    self.server.stats = dict(self.server.stats, workers=[
                        dict(item, pid=item["pid"] + 1000, last_spawn=int(time.time())) if item is worker else item
                        for item in self.server.stats["workers"]])
            time.sleep(0.02)

    def stop(self):
        self.stopped.set()
        self.join()
        os.close(self.handle)


@pytest.mark.parametrize("moves, done", [(None, True), (1, False)])
def test_chain_reload_waits_until_every_worker_is_new(root, moves, done):
    fifo = os.path.join(root, "master.fifo")
    with StatsServer(os.path.join(root, "stats.sock"), workers([(1, 11, 0), (2, 12, 0), (3, 13, 0)])) as server:
        master = Master(fifo, server, moves)
        master.start()
        try:
            finished, waiting, seconds = host.chain_reload(fifo, server.path, deadline=2.0, poll=0.05)
        finally:
            master.stop()
    assert master.commands == b"c"
    assert finished is done
    if done:
        assert waiting == [] and 0.3 <= seconds < 2.0
        assert sorted(item["pid"] for item in server.stats["workers"]) == [1011, 1012, 1013]
    else:
        assert waiting == [2, 3] and seconds >= 2.0


def test_chain_reload_without_a_master_fails_at_once(root):
    fifo = os.path.join(root, "master.fifo")
    os.mkfifo(fifo, 0o600)
    with pytest.raises(OSError):
        host.chain_reload(fifo, os.path.join(root, "stats.sock"), deadline=30)


def test_read_stats_is_empty_when_nothing_answers(root):
    assert host.read_stats(os.path.join(root, "none.sock")) == {}
    with StatsServer(os.path.join(root, "stats.sock"), workers([(1, 11, 0)])) as server:
        assert host.read_stats(server.path)["workers"][0]["pid"] == 11
