"""The packages of apps without a release (uwsgi_packages, uwsgi_packages_host): whether pip would change a
virtualenv, what a run does about it, the import check, the snapshot on real directories, and the messages."""

import os
import subprocess
import sys
import zipfile

import pytest
from packaging.markers import default_environment

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages as packages
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_packages_host as host

ENV = default_environment()


def runner(argv, cwd=None, environ_update=None):
    """What the module's run_command gives: (rc, stdout, stderr), here from a real process."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd,
                          env=dict(os.environ, **(environ_update or {})))
    return done.returncode, done.stdout, done.stderr


def dist(version, *requires):
    return {"version": version, "requires": list(requires)}


@pytest.mark.parametrize("spec, direct", [
    ("flask==3.1.2", False), ("flask[async]>=3; python_version >= '3.9'", False), ("six", False),
    ("/srv/src/shopapp-3", True), ("./local", True), ("dist/shop-1.0-py3-none-any.whl", True),
    ("shop @ https://example.invalid/shop-1.0.tar.gz", True), ("git+https://example.invalid/shop.git", True),
])
def test_a_path_url_or_direct_reference_is_left_to_pip(spec, direct):
    assert packages.is_direct(spec) is direct


def test_pip_would_change_nothing_when_every_specifier_and_its_dependencies_are_satisfied():
    installed = {"flask": dist("3.1.2", "werkzeug>=3.1", "blinker>=1.9; python_version >= '3.0'",
                               "asyncio-extra; extra == 'async'"),
                 "werkzeug": dist("3.1.3", "markupsafe>=2.1.1"), "markupsafe": dist("3.0.2"), "blinker": dist("1.9.0")}
    assert packages.unsatisfied(["flask==3.1.2"], installed, ENV) == ""
    assert packages.unsatisfied(["Flask>=3,<4"], installed, ENV) == ""
    # An extra's dependency counts only when the extra is asked for.
    assert packages.unsatisfied(["flask[async]==3.1.2"], installed, ENV) == "asyncio-extra is not installed"


@pytest.mark.parametrize("specs, installed, why", [
    (["flask==3.1.3"], {"flask": dist("3.1.2")}, "flask 3.1.2 is installed, flask==3.1.3 is asked"),
    (["six"], {}, "six is not installed"),
    (["flask"], {"flask": dist("3.1.2", "werkzeug>=3.1")}, "werkzeug is not installed"),
    (["flask"], {"flask": dist("3.1.2", "werkzeug>=3.1"), "werkzeug": dist("2.0")},
     "werkzeug 2.0 is installed, werkzeug>=3.1 is asked"),
    (["/srv/src/shopapp-3"], {"shopapp": dist("2")}, "/srv/src/shopapp-3 is a path or URL: pip alone can tell what it holds"),
    (["flask=="], {}, "flask== is not a plain requirement specifier"),
])
def test_pip_runs_for_a_missing_or_other_version_a_missing_dependency_or_a_path(specs, installed, why):
    assert packages.unsatisfied(specs, installed, ENV) == why


def test_markers_are_those_of_the_virtualenvs_python_and_names_compare_as_pip_does():
    installed = {"zope-interface": dist("6.0", "legacy; python_version < '3.8'")}
    old = packages.marker_environment(ENV, "3.7.9")
    assert old["python_version"] == "3.7" and old["python_full_version"] == "3.7.9"
    assert packages.unsatisfied(["Zope.Interface"], installed, old) == "legacy is not installed"
    assert packages.unsatisfied(["zope_interface"], installed, packages.marker_environment(ENV, "3.11.2")) == ""
    assert packages.unsatisfied(["onlyold; python_version < '3.0'"], {}, ENV) == ""
    # A pre-release installed on purpose still satisfies its specifier.
    assert packages.unsatisfied(["shop>=1"], {"shop": dist("2.0rc1")}, ENV) == ""


def test_a_requirements_file_is_read_unless_a_line_needs_pip():
    assert packages.requirement_lines("# pinned\nidna==3.10  # why\n\nsix\\\n==1.17.0\n") == (["idna==3.10", "six==1.17.0"], "")
    for line in ("-r base.txt", "--index-url https://example.invalid/simple", "-e /srv/src/shop",
                 "idna==3.10 --hash=sha256:abc", "idna==${IDNA}"):
        assert "only pip reads" in packages.requirement_lines("six\n" + line + "\n")[1]
    assert "only pip can compare" in packages.requirement_lines("/srv/src/shopapp-2\n")[1]


def test_what_a_run_does_for_one_app():
    new = packages.Plan(create=True, install=True, check=True, why="its virtualenv does not exist yet")
    assert packages.plan(False, False, "") == new
    assert packages.plan(True, False, "") == packages.Plan()
    assert packages.plan(True, False, "six is not installed") == packages.Plan(install=True, why="six is not installed")
    # A snapshot an earlier run left: its change was never proved, so the app is checked and reloaded.
    left = packages.plan(True, True, "")
    assert left.pending and left.check and not left.install
    assert packages.plan(True, True, "six is not installed").install


def test_only_apps_without_a_release_that_list_packages_are_concerned():
    apps = [{"name": "a", "packages": ["six"]}, {"name": "b", "requirements": "/r.txt"}, {"name": "c", "packages": []},
            {"name": "d", "packages": ["six"], "state": "absent"}, {"name": "e", "release": {"id": "1"}}]
    assert [app["name"] for app in packages.wanted_apps(apps)] == ["a", "b"]


def test_the_import_target_follows_uwsgis_options():
    module = packages.import_target({"chdir": "/srv/shop", "module": "shop.wsgi:app", "pythonpath": ["/srv/lib", "/x"]})
    assert module["cwd"] == "/srv/shop" and module["label"] == "shop.wsgi:app"
    assert module["env"][packages.PATH_VAR] == "/srv/lib" + os.pathsep + "/x"
    wsgi = packages.import_target({"wsgi-file": "/srv/shop/app.wsgi", "callable": "app"})
    assert wsgi["cwd"] == "/" and wsgi["env"][packages.FILE_VAR] == "/srv/shop/app.wsgi"
    assert wsgi["env"][packages.CALLABLE_VAR] == "app"


def check(tmp_path, options, source):
    """Run the import check's text with this Python, as the module runs it with the virtualenv's."""
    (tmp_path / "shopmod.py").write_text(source)
    target = packages.import_target(dict({"chdir": str(tmp_path)}, **options))
    done = subprocess.run([sys.executable, "-c", packages.CHECK], cwd=target["cwd"], env=dict(os.environ, **target["env"]),
                          capture_output=True, text=True, check=False)
    return done.returncode, done.stderr


def test_the_import_check_imports_the_callable_and_fails_with_the_traceback(tmp_path):
    assert check(tmp_path, {"module": "shopmod:app"}, "def app(environ, start_response):\n    return []\n")[0] == 0
    assert check(tmp_path, {"module": "shopmod"}, "def application(e, s):\n    return []\n")[0] == 0
    assert check(tmp_path, {"wsgi-file": str(tmp_path / "shopmod.py"), "callable": "app"}, "app = lambda e, s: []\n")[0] == 0
    code, out = check(tmp_path, {"module": "shopmod:application"}, "raise ImportError('shop 3 is broken on purpose')\n")
    assert code == 1 and out.rstrip().endswith("ImportError: shop 3 is broken on purpose")
    code, out = check(tmp_path, {"module": "shopmod:application"}, "application = 42\n")
    assert code == 1 and "not a WSGI callable" in out
    code, out = check(tmp_path, {"module": "shopmod:app"}, "application = None\n")
    assert code == 1 and "AttributeError" in out
    code, out = check(tmp_path, {"module": "shopmod"}, "import uwsgi\n")
    assert code == 1 and packages.check_unavailable(out)
    assert not packages.check_unavailable("ModuleNotFoundError: No module named 'uwsgi_extras'\n")


def write_dist(site, name, version, requires=(), record="a,sha256=x,1\n"):
    meta = site / ("%s-%s.dist-info" % (name, version))
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
        name, version, "".join("Requires-Dist: %s\n" % req for req in requires)))
    (meta / "RECORD").write_text(record)


def test_what_a_virtualenv_holds_and_whether_pip_changed_it(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    write_dist(site, "Flask", "3.1.2", ["Werkzeug>=3.1"])
    write_dist(site, "werkzeug", "3.1.3")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n")
    venv = str(tmp_path / "venv")
    assert host.venv_version(venv) == "3.11.2"
    found = host.installed(venv)
    assert found["flask"]["version"] == "3.1.2" and found["flask"]["requires"] == ["Werkzeug>=3.1"]
    assert host.why_pip(venv, {"packages": ["flask==3.1.2"]}, "3.11.2") == ""
    assert host.why_pip(venv, {"packages": ["flask==3.1.3"]}, "3.11.2").startswith("flask 3.1.2 is installed")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("werkzeug==3.1.3\n")
    assert host.why_pip(venv, {"requirements": str(requirements)}, "3.11.2") == ""
    assert "does not exist" in host.why_pip(venv, {"requirements": str(tmp_path / "none.txt")}, "3.11.2")
    before = host.fingerprint(venv)
    # The same version installed again from a directory whose code changed: its RECORD differs.
    (site / "werkzeug-3.1.3.dist-info" / "RECORD").write_text("a,sha256=y,1\n")
    assert packages.fingerprint_changed(before, host.fingerprint(venv)) == ["werkzeug"]
    assert packages.fingerprint_changed(before, before) == []


def test_a_snapshot_is_made_whole_put_back_dropped_and_what_a_killed_run_left_set_right(tmp_path):
    venv = tmp_path / "venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib" / "shop.py").write_text("VERSION = 2\n")
    host.snapshot(runner, str(venv))
    snap = tmp_path / ("venv" + packages.SNAPSHOT)
    assert (snap / "lib" / "shop.py").read_text() == "VERSION = 2\n"
    assert os.stat(snap / "lib" / "shop.py").st_ino == os.stat(venv / "lib" / "shop.py").st_ino
    assert not (tmp_path / ("venv" + packages.STAGING)).exists()
    # pip replaces a file: unlink, then write anew. The snapshot keeps the old one.
    os.unlink(venv / "lib" / "shop.py")
    (venv / "lib" / "shop.py").write_text("raise ImportError('3')\n")
    host.put_back(str(venv))
    assert (venv / "lib" / "shop.py").read_text() == "VERSION = 2\n" and not snap.exists()
    assert not (tmp_path / ("venv" + packages.FAILED)).exists()
    # A run killed while putting it back: the virtualenv renamed aside, the snapshot not yet in place.
    host.snapshot(runner, str(venv))
    os.rename(venv, tmp_path / ("venv" + packages.FAILED))
    (tmp_path / ("venv" + packages.STAGING)).mkdir()
    done = host.recover(str(venv))
    assert len(done) == 3 and (venv / "lib" / "shop.py").exists() and not snap.exists()
    assert host.leftovers(str(venv)) == [] and host.recover(str(venv)) == []
    host.snapshot(runner, str(venv))
    assert host.drop([str(snap), str(venv)]) == [str(snap)] and venv.exists() and not snap.exists()


def wheel(where, version, body):
    """A wheel of 'pyopsdemo' made by hand (no build backend, no index)."""
    name = where / ("pyopsdemo-%s-py3-none-any.whl" % version)
    info = "pyopsdemo-%s.dist-info" % version
    with zipfile.ZipFile(name, "w") as archive:
        archive.writestr("pyopsdemo.py", body)
        archive.writestr(info + "/METADATA", "Metadata-Version: 2.1\nName: pyopsdemo\nVersion: %s\n" % version)
        archive.writestr(info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(info + "/RECORD", "pyopsdemo.py,,\n%s/METADATA,,\n%s/WHEEL,,\n%s/RECORD,,\n" % (info, info, info))
    return str(name)


def test_pip_upgrading_a_package_leaves_the_hard_link_snapshot_as_it_was(tmp_path):
    """The snapshot is safe only because pip never writes an installed file in place: proved with this pip."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-index", "-q"]
    subprocess.run(pip + [wheel(tmp_path, "2", "VERSION = 2\n")], check=True, capture_output=True)
    host.snapshot(runner, str(venv))
    before = host.fingerprint(str(venv))
    subprocess.run(pip + [wheel(tmp_path, "3", "raise ImportError('3 is broken')\n")], check=True, capture_output=True)
    assert packages.fingerprint_changed(before, host.fingerprint(str(venv))) == ["pyopsdemo"]
    snap = str(venv) + packages.SNAPSHOT
    old = subprocess.run([snap + "/bin/python", "-c", "import glob; print(open(glob.glob('%s/lib/python*/site-packages/"
                          "pyopsdemo.py')[0]).read())" % snap], capture_output=True, text=True, check=True).stdout
    assert old.strip() == "VERSION = 2"
    host.put_back(str(venv))
    done = subprocess.run([str(venv / "bin" / "python"), "-c", "import pyopsdemo; print(pyopsdemo.VERSION)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "2"


@pytest.mark.parametrize("spec, wanted", [
    ("/srv/relbench/wheels/relbench_dep0-1.0-py3-none-any.whl", "relbench_dep0==1.0"),
    ("/w/Shop_Dep-2.0rc1+local.1-1build-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     "Shop_Dep==2.0rc1+local.1"),
    ("dist/shop-1.0-py3-none-any.whl", ""),             # relative: pip's directory decides what it names
    ("/w/shop-1.0.whl", ""), ("/w/shop-1.0-py3-none-any.zip", ""), ("shop==1.0", ""),
    ("shop @ file:///w/shop-1.0-py3-none-any.whl", ""), ("/w/shop-1.0-py3-none-any.whl/../x", ""),
])
def test_a_wheel_file_is_compared_by_the_name_and_version_in_its_file_name(spec, wanted):
    assert packages.wheel_requirement(spec) == wanted


def test_a_wheel_of_the_installed_version_is_what_pip_leaves_alone_and_the_install_step_is_then_not_due(tmp_path):
    """The decision made without pip agrees with this pip: the wheel of the installed version changes nothing."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--no-index"]
    two = wheel(tmp_path, "2", "VERSION = 2\n")
    subprocess.run(pip + [two], check=True, capture_output=True)
    app = {"name": "shop", "virtualenv": str(venv), "packages": [two]}
    version = host.venv_version(str(venv))
    assert host.why_pip(str(venv), app, version) == "" and host.due([app]) == {}
    before = host.fingerprint(str(venv))
    again = subprocess.run(pip + [two], check=True, capture_output=True, text=True)
    assert "already installed with the same version" in again.stdout + again.stderr
    assert packages.fingerprint_changed(before, host.fingerprint(str(venv))) == []
    # Another version, or a wheel file that is not there: pip has work (and says what is missing).
    three = wheel(tmp_path, "3", "VERSION = 3\n")
    assert host.due([dict(app, packages=[three])]) == {"shop": "pyopsdemo 2 is installed, pyopsdemo==3 is asked"}
    gone = str(tmp_path / "gone" / "pyopsdemo-2-py3-none-any.whl")
    assert "pip alone can tell" in host.due([dict(app, packages=[gone])])["shop"]


def test_the_install_step_is_due_for_a_new_virtualenv_an_unproved_change_or_what_a_killed_run_left(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    write_dist(site, "six", "1.17.0")
    (tmp_path / "venv" / "bin").mkdir()
    (tmp_path / "venv" / "bin" / "python").write_text("")
    app = {"name": "shop", "virtualenv": str(tmp_path / "venv"), "packages": ["six==1.17.0"]}
    others = [{"name": "released", "release": {"id": "1"}, "virtualenv": "/nowhere", "packages": ["six"]},
              {"name": "gone", "state": "absent", "virtualenv": "/nowhere", "packages": ["six"]}]
    assert host.due([app] + others) == {}
    assert host.due([dict(app, packages=["six==1.16.0"])]) == {"shop": "six 1.17.0 is installed, six==1.16.0 is asked"}
    assert host.due([dict(app, virtualenv=str(tmp_path / "new"))]) == {"shop": "its virtualenv does not exist yet"}
    (tmp_path / ("venv" + packages.SNAPSHOT)).mkdir()
    assert host.due([app]) == {"shop": "an earlier run changed its packages and never proved them"}
    (tmp_path / ("venv" + packages.SNAPSHOT)).rmdir()
    (tmp_path / ("venv" + packages.STAGING)).mkdir()
    assert host.due([app]) == {"shop": "a run was killed and left %s" % (str(tmp_path / "venv") + packages.STAGING)}


def test_the_failure_says_the_app_still_serves_its_old_code():
    text = packages.failure("web1", "shopapp", "importing shopapp:application with the new packages failed",
                            "ImportError: broken", "snapshot")
    assert text.startswith("App 'shopapp' on host web1: its new packages were NOT applied: importing")
    assert "it still serves its old code" in text and text.endswith("ImportError: broken")
    assert "serves no code of this run" in packages.failure("web1", "a", "pip failed", "", "removed")
    assert "may be DOWN" in packages.failure("web1", "a", "pip failed", "", "[Errno 28] No space left on device")


def test_the_rollback_says_an_app_serves_its_old_code_only_when_it_answers():
    restored = {
        "a": {"restored": True, "action": "reload", "serving": True, "error": None},
        "b": {"restored": True, "action": "restart", "serving": False, "error": "answered 500"},
        "c": {"restored": True, "action": "none", "serving": True, "error": None},
        "d": {"restored": True, "action": "service", "serving": None, "error": None},
        "e": {"restored": True, "action": "service", "serving": None, "error": None},
        "f": {"restored": False, "action": "none", "serving": False, "error": "[Errno 30] Read-only file system"},
    }
    outcome = {"d": {"state": "restarted", "error": None, "health": {"status": 200}},
               "e": {"state": "restarted", "error": None, "health": {"status": 0, "msg": "connection refused"}}}
    text = packages.restore_report("uWSGI app 'a' failed its health check", "web1", restored, outcome)
    lines = text.splitlines()
    assert lines[0] == "uWSGI app 'a' failed its health check" and lines[2] == "Packages on host web1:"
    assert "- app 'a': its virtualenv was put back and the app reloaded; it answers its health check again: " \
           "it serves its old code." in lines
    assert "- app 'b': its virtualenv was put back, but the app is DOWN: answered 500" in lines
    assert "- app 'c': its virtualenv was put back before any reload; it still serves its old code." in lines
    assert any(line.startswith("- app 'd': its virtualenv was put back and the app brought back") for line in lines)
    assert "- app 'e': its virtualenv was put back, but the app is DOWN: connection refused" in lines
    assert any(line.startswith("- app 'f': its virtualenv could NOT be put back") for line in lines)
    assert packages.restore_report("x", "web1", {}, {}) == "x"


@pytest.mark.parametrize("touched, files, active, action", [
    (False, False, True, "none"), (False, True, False, "none"), (True, True, True, "service"),
    (True, False, True, "reload"), (True, False, False, "restart"),
])
def test_how_an_app_comes_back_on_its_old_virtualenv(touched, files, active, action):
    assert packages.restore_action(touched, files, active) == action


class Exited(Exception):
    def __init__(self, failed, result):
        super().__init__(result.get("msg", ""))
        self.failed, self.result = failed, result


class FakeModule:
    """What uwsgi_packages' install step uses of AnsibleModule: its parameters, run_command (real processes here),
    check mode and the exits."""

    def __init__(self, params, check_mode=False):
        self.params, self.check_mode = dict({"run": None, "secrets": {}, "host": "web1"}, **params), check_mode

    def run_command(self, argv, cwd=None, environ_update=None):
        return runner(argv, cwd, environ_update)

    def exit_json(self, **result):
        raise Exited(False, result)

    def fail_json(self, **result):
        raise Exited(True, result)


def install(apps, tmp_path, check_mode=False):
    from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_packages as module
    role = {"python": sys.executable, "user": "root", "group": "root", "options": {}, "config_dir": str(tmp_path / "etc"),
            "install_method": "pip", "venv": "/opt/uwsgi"}
    with pytest.raises(Exited) as done:
        module.install_all(FakeModule({"apps": apps, "role": role}, check_mode))
    return done.value


def test_the_install_step_checks_a_new_version_and_puts_the_old_one_back_when_its_import_fails(tmp_path):
    """The module's install step on a real virtualenv: version 2 installed and proved, 2 again changes nothing,
    3 (its import raises) is put back with the message saying the app still serves its old code."""
    venv = str(tmp_path / "venv")
    app = {"name": "shopapp", "module": "pyopsdemo:application", "virtualenv": venv, "user": "root", "group": "root",
           "packages": [wheel(tmp_path, "2", "VERSION = 2\ndef application(e, s):\n    return []\n")]}
    first = install([app], tmp_path)
    assert not first.failed and first.result["changed_apps"] == ["shopapp"], first.result
    assert first.result["snapshots"] == [] and first.result["apps"]["shopapp"]["checked"]  # a new virtualenv: no snapshot
    assert install([app], tmp_path).result["changed_apps"] == []
    assert not os.path.exists(venv + packages.SNAPSHOT)  # the same wheel again: its snapshot dropped
    (tmp_path / "three").mkdir()
    broken = dict(app, packages=[wheel(tmp_path / "three", "3", "raise ImportError('shopapp 3 is broken on purpose')\n")])
    assert install([broken], tmp_path, check_mode=True).result["changed_apps"] == ["shopapp"]
    failed = install([broken], tmp_path)
    assert failed.failed and failed.result["changed_apps"] == []
    assert "App 'shopapp' on host web1: its new packages were NOT applied" in failed.result["msg"]
    assert "it still serves its old code" in failed.result["msg"]
    assert failed.result["msg"].endswith("ImportError: shopapp 3 is broken on purpose")
    assert host.installed(venv)["pyopsdemo"]["version"] == "2" and not os.path.exists(venv + packages.SNAPSHOT)
    # A version that imports: changed, its snapshot kept for the run's service step.
    (tmp_path / "four").mkdir()
    good = dict(app, packages=[wheel(tmp_path / "four", "4", "def application(e, s):\n    return []\n")])
    done = install([good], tmp_path)
    assert done.result["changed_apps"] == ["shopapp"] and done.result["snapshots"] == [venv + packages.SNAPSHOT]
    # Never proved (no service step ran): the next run checks and reloads it again, keeping the older snapshot.
    again = install([good], tmp_path)
    assert again.result["changed_apps"] == ["shopapp"] and again.result["apps"]["shopapp"]["checked"]
    assert host.installed(venv + packages.SNAPSHOT)["pyopsdemo"]["version"] == "2"
