"""What uwsgi_facts reads from a host, on real files made here: a virtualenv, a pip install's metadata."""

import subprocess
import sys

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_facts as facts


def run(argv):
    """What the module's run_command gives: (rc, stdout, stderr), here from a real process."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def test_a_virtualenv_says_which_python_made_it(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert facts.venv_version(str(venv)) == "%d.%d" % sys.version_info[:2]
    assert state.python_version(run, sys.executable) == "%d.%d" % sys.version_info[:2]


def test_virtualenvs_own_version_info_wins_and_nothing_is_unknown(tmp_path):
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nversion_info = 3.9.18.final.0\nvirtualenv = 20.25.0\n")
    assert facts.venv_version(str(tmp_path)) == "3.9"
    assert facts.venv_version(str(tmp_path / "missing")) == ""
    assert state.python_version(run, str(tmp_path / "no-python")) == ""


def test_a_virtualenv_of_another_python_is_named_with_its_index_and_the_fix(tmp_path):
    """Only existing virtualenvs made by another Python than uWSGI's are refused, each by its index."""
    for name, version in (("old", "3.9.18"), ("same", "3.11.2"), ("unsaid", "")):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "python").touch()
        (tmp_path / name / "pyvenv.cfg").write_text("version = %s\n" % version if version else "home = /usr\n")
    apps = [{"name": "a", "virtualenv": str(tmp_path / "same")}, {"name": "b", "virtualenv": str(tmp_path / "old")},
            {"name": "c", "virtualenv": str(tmp_path / "unsaid")}, {"name": "d", "virtualenv": str(tmp_path / "none")},
            {"name": "e"}]
    existing = facts.existing_venvs(apps)
    assert [app["name"] for app in existing] == ["a", "b", "c"]
    python = facts.embedding_python({"install_method": "pip", "python": "/usr/bin/python3.11"})
    assert python == "/usr/bin/python3.11"
    assert facts.embedding_python({"install_method": "system", "python": "/usr/bin/python3.11"}) == "/usr/bin/python3"
    assert facts.venv_mismatches(apps, existing, "3.11", python) == [
        'uwsgi_production_apps[1].virtualenv = "%s" (app "b") was made by Python 3.9, but uWSGI embeds Python 3.11 '
        "(/usr/bin/python3.11): uWSGI could not import the app's packages from it. Make the virtualenv with "
        "/usr/bin/python3.11 (or remove it: the role makes it when the app lists packages)." % (tmp_path / "old")]
    assert facts.venv_mismatches(apps, existing, "", python) == []


def test_the_uwsgi_release_comes_from_pips_metadata(tmp_path):
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    assert facts.pip_version(str(tmp_path)) == ""
    (site / "uwsgi-2.0.31.dist-info").mkdir()
    assert facts.pip_version(str(tmp_path)) == "2.0.31"


def test_a_build_without_the_wheel_package_leaves_egg_info(tmp_path):
    """What pip left in the role's /opt/uwsgi on the test hosts (uWSGI is an sdist)."""
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "uWSGI-2.0.31-py3.11.egg-info").mkdir()
    assert facts.pip_version(str(tmp_path)) == "2.0.31"
    (site / "uWSGI-2.0.31-py3.11.egg-info").rmdir()
    (site / "uWSGI-2.0.30.egg-info").mkdir()
    assert facts.pip_version(str(tmp_path)) == "2.0.30"


def test_a_package_name_with_a_version_or_a_pattern_is_left_to_apt():
    assert facts.missing_packages(run, []) == []
    assert facts.missing_packages(run, ["python3-dev=3.11*"]) is None


def test_dpkg_says_which_packages_are_missing():
    """This machine is Debian, as every host the role supports: dpkg itself is installed."""
    assert facts.missing_packages(run, ["dpkg", "pyops-no-such-package"]) == ["pyops-no-such-package"]


def test_a_rejected_option_names_the_app_the_key_and_the_release():
    from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_config as config
    words = "[uWSGI] getting INI configuration from x.ini\n[strict-mode] unknown config directive: max-requests-delta"
    msg = config.rejection("shop", "2.0.21-debian", words)
    assert "uWSGI 2.0.21-debian rejected the options of app 'shop'" in msg
    assert "Option max-requests-delta is unknown to the host's uWSGI 2.0.21-debian" in msg
