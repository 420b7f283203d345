"""Releases of an app's code (plugins/module_utils/uwsgi_release.py), in-process: what a run does with a
release given what the host has (plan), which releases are pruned, when a chain reload has moved every
worker (read from stats JSON shaped as uWSGI's stats server writes it), and the options an app with a
release gets. The host side is tests/unit/plugins/test_uwsgi_release_host.py; the input rules
test_uwsgi_release_rules.py.
"""

import os
import subprocess
import sys

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release as release
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_release import HostReleases, Layout

ROLE = {"config_dir": "/etc/uwsgi-production", "releases_dir": "/srv/uwsgi-releases"}


def app(**release_changes):
    """An app with a release built from pip, `release_changes` laid over its release."""
    spec = {"id": "2.0", "source": {"pip": ["shop==2.0"]}}
    spec.update(release_changes)
    return {"name": "shop", "module": "shop.wsgi:application", "release": spec}


def wanted(**release_changes):
    return release.spec(app(**release_changes), ROLE)


def marker(rid, built_at=0.0, fingerprint=None, **more):
    """The marker a complete release `rid` has on the host."""
    return dict({"id": rid, "fingerprint": fingerprint or wanted(id=rid).fingerprint, "built_at": built_at,
                 "import_seconds": 1.0}, **more)


# --- spec, layout, fingerprint -------------------------------------------------------------------------------

def test_an_app_without_release_has_no_spec():
    assert release.spec({"name": "shop", "module": "shop:app", "chdir": "/srv/shop"}, ROLE) is None
    assert release.spec({"name": "shop", "module": "shop:app", "release": None}, ROLE) is None


def test_the_layout_of_an_app_under_the_releases_dir_or_its_own_root():
    assert wanted().layout == Layout("/srv/uwsgi-releases/shop")
    layout = wanted().layout
    assert (layout.current, layout.releases, layout.shared, layout.state) == (
        "/srv/uwsgi-releases/shop/current", "/srv/uwsgi-releases/shop/releases", "/srv/uwsgi-releases/shop/shared",
        "/srv/uwsgi-releases/shop/release-state.json")
    assert (layout.release("2.0"), layout.code("2.0"), layout.venv("2.0"), layout.marker("2.0")) == (
        "/srv/uwsgi-releases/shop/releases/2.0", "/srv/uwsgi-releases/shop/releases/2.0/code",
        "/srv/uwsgi-releases/shop/releases/2.0/venv", "/srv/uwsgi-releases/shop/releases/2.0/release.json")
    assert wanted(root="/opt/shop").layout == Layout("/opt/shop")
    assert release.spec(app(), {"config_dir": "/etc/x"}).layout == Layout(os.path.join(release.RELEASES_DIR, "shop"))


def test_the_spec_reads_each_source_and_the_release_lists():
    spec = wanted(packages=["gunicorn"], requirements="requirements.txt", shared=["media"],
                  commands=[["python", "manage.py", "migrate"], ["echo", 1]], verify_timeout=30)
    assert (spec.app, spec.id, spec.source, spec.value) == ("shop", "2.0", "pip", ["shop==2.0"])
    assert spec.packages == ("gunicorn",) and spec.requirements == "requirements.txt" and spec.shared == ("media",)
    assert spec.commands == (("python", "manage.py", "migrate"), ("echo", "1")) and spec.verify_timeout == 30
    assert wanted(source={"git": {"repo": "/srv/git/shop"}}).source == "git"
    assert wanted(source={"archive": "shop.tar.gz", "strip_components": 1}).value == "shop.tar.gz"
    assert wanted(source={"requirements": "/srv/shop.txt"}).source == "requirements"
    own = wanted(source=None)
    assert (own.source, own.value, own.verify_timeout) == ("", None, release.VERIFY_TIMEOUT)


def test_the_fingerprint_is_what_the_release_is_built_from():
    base = wanted().fingerprint
    assert wanted().fingerprint == base and len(base) == 16
    # What is built into the release's code and virtualenv changes it ...
    assert wanted(source={"pip": ["shop==2.1"]}).fingerprint != base
    assert wanted(packages=["gunicorn"]).fingerprint != base
    assert wanted(requirements="requirements.txt").fingerprint != base
    # ... what is done around it (links, commands, the check's timeout, the id itself) does not.
    assert wanted(shared=["media"], commands=[["true"]], verify_timeout=5, id="2.1").fingerprint == base


# --- plan: what a run does for one app's release -------------------------------------------------------------

OTHER = "0" * 16  # a fingerprint of another build

PLANS = [
    # (what the host has, the id wanted, build, switch, finish, error, words of the notes)
    ("no release at all: the first one", HostReleases(), "2.0", True, True, False, "", []),
    ("a new id beside the current one", HostReleases(current="1.0", complete={"1.0": marker("1.0")}), "2.0",
     True, True, False, "", []),
    ("the current release, settled", HostReleases(current="2.0", complete={"2.0": marker("2.0")}), "2.0",
     False, False, False, "", []),
    ("back to a kept release: no build", HostReleases(current="2.0", previous="1.0", complete={
        "1.0": marker("1.0", built_at=1.0), "2.0": marker("2.0", built_at=2.0)}), "1.0",
     False, True, False, "", ["goes back to release 1.0", "no build"]),
    ("forward to a kept release: no build", HostReleases(current="1.0", previous="2.0", complete={
        "1.0": marker("1.0", built_at=1.0), "2.0": marker("2.0", built_at=2.0)}), "2.0",
     False, True, False, "", ["switches to release 2.0", "no build"]),
    ("an unfinished build of the wanted id", HostReleases(current="1.0", complete={"1.0": marker("1.0")},
                                                          incomplete=["2.0"]), "2.0",
     True, True, False, "", ["unfinished or failed build", "built again from scratch"]),
    ("an incomplete release is never gone back to", HostReleases(current="2.0", complete={"2.0": marker("2.0")},
                                                                 incomplete=["1.0"]), "1.0",
     True, True, False, "", ["release 1.0", "built again"]),
    ("switched, but workers of the earlier release remain", HostReleases(
        current="2.0", previous="1.0", complete={"1.0": marker("1.0"), "2.0": marker("2.0")}, stale_workers=[1, 3]),
     "2.0", False, False, True, "", ["not every worker moved", "workers 1, 3", "finished now"]),
    ("built by a run that stopped before the switch, with stale workers", HostReleases(
        current="1.0", complete={"1.0": marker("1.0"), "2.0": marker("2.0")}, stale_workers=[2]), "2.0",
     False, True, False, "", ["switches to release 2.0, kept on the host: no build"]),
    ("the same id built from another source", HostReleases(current="1.0", complete={
        "1.0": marker("1.0"), "2.0": marker("2.0", fingerprint=OTHER)}), "2.0",
     False, False, False, "release 2.0 of app 'shop' was built from another source", []),
    ("the current id built from another source", HostReleases(current="2.0", complete={
        "2.0": marker("2.0", fingerprint=OTHER)}), "2.0",
     False, False, False, "a release id names one build", []),
]


@pytest.mark.parametrize("what, host, rid, build, switch, finish, error, notes", PLANS, ids=[row[0] for row in PLANS])
def test_the_plan_of_a_release_given_what_the_host_has(what, host, rid, build, switch, finish, error, notes):
    planned = release.plan(wanted(id=rid), host)
    assert (planned.build, planned.switch, planned.finish) == (build, switch, finish), what
    if error:
        assert error in planned.error
    else:
        assert planned.error == ""
    text = " ".join(planned.notes)
    assert all(word in text for word in notes), planned.notes
    if not notes:
        assert planned.notes == ()


def test_a_refused_id_names_both_builds_and_how_to_go_on():
    host = HostReleases(current="1.0", complete={"2.0": marker("2.0", fingerprint=OTHER)})
    error = release.plan(wanted(), host).error
    assert OTHER in error and wanted().fingerprint in error
    assert "Give the new build a new id, or remove /srv/uwsgi-releases/shop/releases/2.0" in error


def test_host_releases_from_a_dict_keep_only_their_fields():
    host = HostReleases.from_dict({"current": "2.0", "previous": "1.0", "complete": {"2.0": {}}, "unknown": 1})
    assert (host.current, host.previous, host.complete, host.incomplete) == ("2.0", "1.0", {"2.0": {}}, [])
    assert HostReleases.from_dict(None) == HostReleases()


# --- prune --------------------------------------------------------------------------------------------------

def kept(ids, **more):
    """Complete releases, the first the oldest."""
    return HostReleases(complete={rid: marker(rid, built_at=number) for number, rid in enumerate(ids)}, **more)


def test_prune_keeps_the_newest_complete_releases():
    host = kept(["1", "2", "3", "4", "5"])
    assert release.prune(host, 3, current="5") == ["1", "2"]
    assert release.prune(host, 5, current="5") == []
    assert release.prune(host, 10, current="5") == []


def test_prune_never_removes_the_current_the_previous_or_the_one_being_built():
    # Going back to an old release: the current one is the oldest.
    host = kept(["1", "2", "3", "4", "5", "6"], previous="2")
    assert release.prune(host, 2, current="1", building="3") == ["4"]
    for current in ("1", "2", "3", "4", "5"):
        for previous in ("", "1", "3"):
            host.previous = previous
            gone = release.prune(host, 2, current=current, building="2")
            assert current not in gone and "2" not in gone and (previous == "" or previous not in gone)


def test_prune_removes_every_unfinished_release_but_the_one_being_built():
    host = kept(["1", "2"], incomplete=["3", "x-failed", "4"])
    assert release.prune(host, 3, current="2") == ["3", "4", "x-failed"]
    assert release.prune(host, 3, current="2", building="4") == ["3", "x-failed"]


def test_prune_orders_by_build_time_not_by_name():
    host = HostReleases(complete={"10": marker("10", built_at=3), "9": marker("9", built_at=2),
                                  "a": marker("a", built_at=1)})
    assert release.prune(host, 2, current="10") == ["a"]


def test_prune_keeps_at_least_one_even_when_asked_for_none():
    host = kept(["1", "2", "3"])
    assert release.prune(host, 0, current="") == ["1", "2"]


# --- the chain reload on stats JSON --------------------------------------------------------------------------

def worker(wid, pid, status="idle", accepting=1, apps=1, last_spawn=1000):
    """A worker as uWSGI's stats server lists it (the keys this code reads, and a few it does not)."""
    return {"id": wid, "pid": pid, "accepting": accepting, "requests": 7, "delta_requests": 0, "exceptions": 0,
            "harakiri_count": 0, "signals": 0, "signal_queue": 0, "status": status, "rss": 0, "vsz": 0,
            "running_time": 123, "last_spawn": last_spawn, "respawn_count": 1, "tx": 0, "avg_rt": 0,
            "apps": [{"id": 0, "modifier1": 0, "mountpoint": "", "startup_time": 1, "requests": 7,
                      "exceptions": 0, "chdir": ""}] * apps, "cores": []}


def stats(*workers):
    return {"version": "2.0.31", "listen_queue": 0, "listen_queue_errors": 0, "signal_queue": 0, "load": 0,
            "pid": 100, "uid": 998, "gid": 998, "cwd": "/srv/uwsgi-releases/shop", "locks": [], "sockets": [],
            "workers": list(workers)}


OLD = {101, 102, 103}

PROGRESS = [
    # (what the stats say, done, waiting)
    ("no worker moved yet", stats(worker(1, 101), worker(2, 102), worker(3, 103)), False, [1, 2, 3]),
    ("the first moved", stats(worker(1, 201), worker(2, 102), worker(3, 103)), False, [2, 3]),
    ("a new worker still importing (no app yet)", stats(worker(1, 201), worker(2, 202, apps=0), worker(3, 203)),
     False, [2]),
    ("a new worker not accepting yet", stats(worker(1, 201), worker(2, 202), worker(3, 203, accepting=0)), False, [3]),
    ("every worker new, accepting, loaded", stats(worker(1, 201), worker(2, 202), worker(3, 203, status="busy")),
     True, []),
    ("a cheaped worker is skipped",
     stats(worker(1, 201), worker(2, 202), worker(3, 0, status="cheap", accepting=0, apps=0)), True, []),
    ("an old pid kept by a cheaped slot is skipped", stats(worker(1, 201), worker(2, 102, status="cheap")), True, []),
    ("a worker without a process is skipped", stats(worker(1, 201), worker(2, 0, accepting=0, apps=0)), True, []),
    ("no worker at all is not done", stats(), False, []),
    ("only cheaped workers is not done", stats(worker(1, 0, status="cheap", apps=0)), False, []),
    ("nothing answered", {}, False, []),
]


@pytest.mark.parametrize("what, seen, done, waiting", PROGRESS, ids=[row[0] for row in PROGRESS])
def test_chain_progress(what, seen, done, waiting):
    assert release.chain_progress(OLD, seen) == (done, waiting), what


def test_serving_workers_are_those_with_a_process_that_is_not_cheaped():
    seen = stats(worker(1, 101), worker(2, 0, status="cheap"), worker(3, 103, status="busy"), worker(4, 0))
    assert [item["id"] for item in release.serving_workers(seen)] == [1, 3]
    assert release.serving_workers({"workers": None}) == []


def test_stale_workers_are_those_spawned_before_the_switch():
    seen = stats(worker(1, 101, last_spawn=990), worker(2, 202, last_spawn=1000), worker(3, 203, last_spawn=1001),
                 worker(4, 0, status="cheap", last_spawn=0), worker(5, 105, status="sig", last_spawn=999))
    assert release.stale_workers(seen, 1000.7) == [1, 5]
    assert release.stale_workers(seen, 0) == []
    assert release.stale_workers({}, 1000) == []


def test_the_chain_deadline_grows_with_workers_and_import_time():
    assert release.chain_deadline(4, 5.0) == 4 * (1.5 * 5 + 2) + 15
    assert release.chain_deadline(0, 0) == release.chain_deadline(1, 0.1) == 1 * (1.5 * 0.1 + 2) + 15
    assert release.chain_deadline(8, 2) > release.chain_deadline(4, 2) > release.chain_deadline(4, 1)
    # Every worker gets at least its import and the master's one-second look.
    for workers in (1, 2, 16):
        for seconds in (0.2, 5, 20):
            assert release.chain_deadline(workers, seconds) >= workers * (seconds + 1)


# --- switching and going back ---------------------------------------------------------------------------------

@pytest.mark.parametrize("running, changed, chain", [
    (True, [], True), (True, ["ini"], False), (False, [], False), (False, ["unit"], False)])
def test_the_switch_moves_the_workers_itself_only_when_nothing_else_changed(running, changed, chain):
    assert release.load_by_chain(running, changed) is chain


@pytest.mark.parametrize("master_alive, chain_finished, action", [
    (True, True, "chain"), (True, False, "restart"), (False, True, "restart"), (False, False, "restart")])
def test_going_back_chains_only_when_the_master_lives_and_its_chain_finished(master_alive, chain_finished, action):
    assert release.revert_action(master_alive, chain_finished) == action


# --- what the build tasks and the ini get ------------------------------------------------------------------

def test_build_steps_of_each_source():
    pip = release.build_steps(wanted(packages=["gunicorn"]), app(packages=["gunicorn"]))
    assert pip == {"name": "shop", "id": "2.0", "code": "/srv/uwsgi-releases/shop/releases/2.0/code",
                   "venv": "/srv/uwsgi-releases/shop/releases/2.0/venv", "git": None, "archive": None,
                   "unpack_options": [], "pip_names": ["shop==2.0", "gunicorn"], "pip_requirements": ""}
    source = {"git": {"repo": "https://git.example/shop.git"}}
    git = release.build_steps(wanted(source=source, requirements="req/prod.txt"), app(source=source))
    assert git["git"] == {"repo": "https://git.example/shop.git", "version": "HEAD"} and git["pip_names"] == []
    assert git["pip_requirements"] == "/srv/uwsgi-releases/shop/releases/2.0/code/req/prod.txt"
    source = {"git": {"repo": "/srv/git/shop", "version": "v2"}}
    assert release.build_steps(wanted(source=source), app(source=source))["git"]["version"] == "v2"
    source = {"archive": "files/shop.tgz", "strip_components": 1}
    archive = release.build_steps(wanted(source=source), app(source=source))
    assert (archive["archive"], archive["unpack_options"], archive["git"]) == ("files/shop.tgz",
                                                                               ["--strip-components=1"], None)
    source = {"requirements": "/srv/shop/requirements.txt"}
    assert release.build_steps(wanted(source=source), app(source=source))["pip_requirements"] == source["requirements"]
    own = release.build_steps(wanted(source=None), app(source=None))
    assert (own["git"], own["archive"], own["pip_names"], own["pip_requirements"]) == (None, None, [], "")


def test_the_ini_options_of_an_app_with_a_release():
    assert release.ini_options(app(), ROLE) == {
        "chdir": "/srv/uwsgi-releases/shop", "module": None, "wsgi-file": "/etc/uwsgi-production/release_loader.py",
        "virtualenv": None, "lazy-apps": True, "no-site": True,
        "env": ["PYOPS_RELEASE_CURRENT=/srv/uwsgi-releases/shop/current", "PYOPS_RELEASE_MODULE=shop.wsgi:application"]}


@pytest.mark.parametrize("value", ["1.0", "2.4.1", "a", "v1.0+local", "abc_DEF-9", "0" * 64, "1..2"])
def test_valid_ids(value):
    assert release.valid_id(value)


@pytest.mark.parametrize("value", ["", ".", "..", "-1", ".hidden", "_x", "a/b", "../x", "a b", "a\nb", "1.0\n",
                                   "\n1.0", "a\x00", "0" * 65, "é", 1, 1.0, None, ["1.0"]])
def test_invalid_ids(value):
    assert not release.valid_id(value)


# --- the loader, run as a worker and the import check run it ----------------------------------------------

def loader_run(tmp_path, code, module):
    """Run the loader as the import check does: a separate Python without site, the release's env."""
    rel = tmp_path / "releases" / "1"
    (rel / "code").mkdir(parents=True)
    (rel / "code" / "shop.py").write_text(code)
    (rel / "venv" / "lib" / "python3.99" / "site-packages").mkdir(parents=True)
    (rel / "venv" / "lib" / "python3.99" / "site-packages" / "shopdep.py").write_text("VALUE = 'from the venv'\n")
    (tmp_path / "current").symlink_to("releases/1")
    program = release.LOADER + "\nprint(os.getcwd(), application(None, None))\n"
    env = {release.CURRENT_VAR: str(tmp_path / "current"), release.MODULE_VAR: module, "PATH": os.environ["PATH"]}
    return subprocess.run([sys.executable, "-S", "-c", program], env=env, capture_output=True, text=True, check=False,
                          cwd=str(tmp_path))


def test_the_loader_imports_the_callable_from_the_release_current_names(tmp_path):
    run = loader_run(tmp_path, "import shopdep\ndef app(environ, start):\n    return shopdep.VALUE\n", "shop:app")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "%s from the venv" % (tmp_path / "releases" / "1" / "code")


def test_the_loader_takes_application_when_the_module_names_no_callable(tmp_path):
    run = loader_run(tmp_path, "def application(environ, start):\n    return 'default'\n", "shop")
    assert run.returncode == 0 and run.stdout.strip().endswith("default"), run.stderr


def test_the_loader_refuses_what_is_not_a_wsgi_callable(tmp_path):
    run = loader_run(tmp_path, "app = 42\n", "shop:app")
    assert run.returncode != 0 and "TypeError: shop:app is 42, not a WSGI callable" in run.stderr


def test_shared_paths_are_normalised():
    assert wanted(shared=["media/", "./cache", "conf//local.py", "a/./b"]).shared == ("media", "cache", "conf/local.py",
                                                                                      "a/b")


# --- Two workers at rest for an app with releases (uwsgi_model.sized_options) ---------------------------

SIZED = ("processes", "cheaper", "cheaper-initial", "cheaper-step", "reload-on-rss")


def sized_role(cpus, memory_mb, options=None):
    return {"config_dir": "/etc/uwsgi-production", "user": "uwsgi", "group": "uwsgi", "options": options or {},
            "host_resources": {"cpus": cpus, "memory_mb": memory_mb}}


@pytest.mark.parametrize("cpus, memory_mb, with_release, without_release", [
    (1, 1024, (3, 2, 2, 1, 256), (2, 1, 1, 1, 384)),
    (2, 24000, (4, 2, 2, 1, 2048), (4, 1, 1, 1, 2048)),
    (64, 256000, (128, 8, 16, 16, 1472), (128, 8, 16, 16, 1472)),
])
def test_an_app_with_releases_keeps_two_workers_at_rest(cpus, memory_mb, with_release, without_release):
    """One serves while a chain reload replaces the other; alone, the cheaper algorithm would make every request wait
    for the new worker's import (measured: a 5 s stall with cheaper 1)."""
    role = sized_role(cpus, memory_mb)
    released = model.effective_options({"name": "a", "module": "m:app", "release": {"id": "1"}}, role)
    plain = model.effective_options({"name": "b", "module": "m:app"}, role)
    assert tuple(released[key] for key in SIZED) == with_release
    assert tuple(plain[key] for key in SIZED) == without_release


def test_what_the_play_sets_wins_over_the_release_floor():
    role = sized_role(1, 1024, {"cheaper": 1})
    assert model.effective_options({"name": "a", "module": "m:app", "release": {"id": "1"}}, role)["cheaper"] == 1
    app = {"name": "a", "module": "m:app", "release": {"id": "1"}, "options": {"processes": 2}}
    assert model.effective_options(app, sized_role(1, 1024))["cheaper"] == 1


def test_a_single_serving_worker_gets_a_spare_only_when_a_slot_is_cheap():
    one = {"workers": [{"id": 1, "pid": 10, "status": "idle", "accepting": 1, "apps": [{}]},
                       {"id": 2, "pid": 0, "status": "cheap", "accepting": 0, "apps": []}]}
    assert release.needs_spare(one)
    assert not release.needs_spare({"workers": one["workers"][:1]})
    two = {"workers": one["workers"][:1] + [{"id": 2, "pid": 11, "status": "idle", "accepting": 1, "apps": [{}]}]}
    assert not release.needs_spare(two)
    assert release.spare_ready({10}, two) and not release.spare_ready({10, 11}, two)
    loading = {"workers": one["workers"][:1] + [{"id": 2, "pid": 11, "status": "idle", "accepting": 0, "apps": []}]}
    assert not release.spare_ready({10}, loading)


@pytest.mark.parametrize("run_tags, skip_tags, allowed", [
    (["all"], [], True), (None, None, True), (["uwsgi_production_run"], [], True),
    (["uwsgi_production_configure", "uwsgi_production_run"], [], True),
    (["uwsgi_production_configure"], [], False),                  # files only: every app keeps its release
    (["all"], ["uwsgi_production_run"], False), (["uwsgi_production_install"], [], False),
])
def test_a_run_limited_to_writing_files_switches_no_app(run_tags, skip_tags, allowed):
    assert release.switch_allowed(run_tags, skip_tags) is allowed
