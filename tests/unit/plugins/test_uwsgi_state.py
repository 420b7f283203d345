"""The role's files on the host: compared, written atomically with owner and mode, diffed, removed."""

import os
import types

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state

ME = os.getuid()


def flags(check=False, diff=True):
    """What uwsgi_state reads of an AnsibleModule: check mode and diff mode."""
    return types.SimpleNamespace(check_mode=check, _diff=diff)


def owner():
    import grp
    import pwd
    return pwd.getpwuid(ME).pw_name, grp.getgrgid(os.getgid()).gr_name


def test_a_file_that_differs_is_written_with_its_mode_and_a_diff(tmp_path):
    user, group = owner()
    path = tmp_path / "shop.ini"
    path.write_text("harakiri = 60\n")
    files = state.Files(flags())
    files.want("shop", "ini", str(path), "harakiri = 30\n", user, group, "0640")
    assert files.changed and files.changed_content("ini") == [("shop", "harakiri = 30\n")]
    assert files.diffs == [{"before_header": str(path), "after_header": str(path),
                            "before": "harakiri = 60\n", "after": "harakiri = 30\n"}]
    files.apply()
    assert path.read_text() == "harakiri = 30\n"
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert files.report()["ini"] == ["shop"] and files.changed_kinds("shop") == ["ini"]
    assert [p.name for p in tmp_path.iterdir()] == ["shop.ini"]  # no temporary file left


def test_the_same_file_is_no_change(tmp_path):
    user, group = owner()
    path = tmp_path / "shop.ini"
    path.write_text("x\n")
    path.chmod(0o640)
    files = state.Files(flags())
    files.want("shop", "ini", str(path), "x\n", user, group, "0640")
    assert not files.changed and files.report()["ini"] == []


def test_a_wrong_mode_alone_is_fixed_without_a_content_diff(tmp_path):
    user, group = owner()
    path = tmp_path / "shop.env"
    path.write_text("A=1\n")
    path.chmod(0o644)
    files = state.Files(flags())
    files.want("shop", "env", str(path), "A=1\n", user, group, "0600", secret=True)
    assert files.changed and files.diffs == [] and files.changed_content("env") == []
    files.apply()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_secrets_diff_never_shows_the_content(tmp_path):
    user, group = owner()
    files = state.Files(flags())
    files.want("shop", "env", str(tmp_path / "shop.env"), 'TOKEN="s3cret"\n', user, group, "0600", secret=True)
    files.absent("blog", "env", str(tmp_path / "missing.env"))
    assert "s3cret" not in repr(files.diffs)
    assert files.diffs[0]["after"].startswith("(the secrets file of app shop")


def test_check_mode_reports_and_writes_nothing(tmp_path):
    user, group = owner()
    old = tmp_path / "old.socket"
    old.write_text("[Socket]\n")
    files = state.Files(flags(check=True))
    files.directory(str(tmp_path / "last-good"), "0700")
    files.want("shop", "unit", str(tmp_path / "shop.service"), "[Service]\n", user, group, "0644")
    files.absent("shop", "socket", str(old))
    files.apply()
    assert files.changed and files.report()["removed"]["socket"] == ["shop"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.socket"]


def test_a_change_that_never_passed_is_still_to_be_proven(tmp_path):
    """A run killed after writing an ini (before its service step) leaves live != last good: the next
    run writes nothing, but must still apply and check that ini before it becomes last good."""
    where = {"good_ini": str(tmp_path / "good.ini"), "good_unit": str(tmp_path / "good.service"),
             "good_socket_unit": str(tmp_path / "good.socket"), "good_env": str(tmp_path / "good.env")}
    (tmp_path / "good.ini").write_text("harakiri = 60\n")
    (tmp_path / "good.service").write_text("[Service]\n")
    proven = {"ini": "harakiri = 60\n", "unit": "[Service]\n", "socket": None, "env": None}
    assert state.unproven(where, proven) == []
    assert state.unproven(where, dict(proven, ini="harakiri = 30\n")) == ["ini"]
    assert state.unproven(where, dict(proven, socket="[Socket]\n")) == ["socket"]
    (tmp_path / "good.env").write_text("A=1\n")
    assert state.unproven(where, proven) == ["env"]  # the secrets were taken away since the last good run


def test_a_rollback_asks_by_the_health_check_the_last_good_configuration_passed(tmp_path):
    where = {"good_health": str(tmp_path / "shop.health.json")}
    new = {"path": "/healthz", "status": [200]}
    assert state.good_health(where, new) == new  # none on record (a host last configured by 0.1.0)
    (tmp_path / "shop.health.json").write_text(state.health_record({"path": "/", "status": [200]}))
    assert state.good_health(where, new) == {"path": "/", "status": [200]}


def test_the_configuration_directory_an_app_last_ran_from_is_read_from_its_unit():
    from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_state import unit_config_dir
    unit = ("[Service]\nExecStart=/usr/bin/env -u LISTEN_PID -u LISTEN_FDS -u LISTEN_FDNAMES /opt/uwsgi/bin/uwsgi "
            "--ini /etc/uwsgi-old/shop.ini\nExecReload=/bin/kill -HUP $MAINPID\n")
    assert unit_config_dir(unit, "shop") == "/etc/uwsgi-old"
    assert unit_config_dir(unit, "blog") is None  # another app's ini
    assert unit_config_dir("ExecStart=/opt/uwsgi/bin/uwsgi --ini relative/shop.ini\n", "shop") is None
    assert unit_config_dir(None, "shop") is None


def test_a_moved_configuration_directory_gets_the_apps_last_good_files(tmp_path):
    from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_model import paths
    from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_state import seed_last_good
    old_role, new_role = {"config_dir": str(tmp_path / "old")}, {"config_dir": str(tmp_path / "new")}
    old = paths(old_role, "shop")
    (tmp_path / "old" / "last-good").mkdir(parents=True)  # the new directory does not exist yet
    for key, text in (("good_ini", "[uwsgi]\nharakiri = 30\n"), ("good_unit", "ExecStart=x --ini %s/shop.ini\n" % old_role["config_dir"]),
                      ("good_health", "{}\n")):
        with open(old[key], "w") as out:
            out.write(text)
    written = seed_last_good(new_role, "shop", old)
    new = paths(new_role, "shop")
    assert written == [new["good_ini"], new["good_unit"], new["good_health"]]
    for key in ("good_ini", "good_unit", "good_health"):
        with open(new[key]) as copy, open(old[key]) as original:
            assert copy.read() == original.read()
    assert oct(os.stat(new["good_ini"]).st_mode & 0o777) == "0o640"
