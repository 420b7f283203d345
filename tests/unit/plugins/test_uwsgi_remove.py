"""What removing an app with state absent takes (uwsgi_model.removals, run by the uwsgi_remove module)."""

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model

ROLE = {"user": "uwsgi", "group": "uwsgi", "config_dir": "/etc/uwsgi-production"}


def test_only_the_absent_apps_are_removed_socket_unit_first_every_file_by_name():
    apps = [{"name": "keep", "module": "hello:application"}, {"name": "gone", "state": "absent"}]
    assert model.removals(apps, ROLE) == [{
        "name": "gone",
        "units": ["uwsgi-gone.socket", "uwsgi-gone.service"],
        "files": ["/etc/systemd/system/uwsgi-gone.service", "/etc/systemd/system/uwsgi-gone.socket",
                  "/etc/uwsgi-production/gone.ini", "/etc/uwsgi-production/last-good/gone.ini",
                  "/etc/uwsgi-production/last-good/uwsgi-gone.service",
                  "/etc/uwsgi-production/last-good/uwsgi-gone.socket", "/etc/uwsgi-production/gone.env",
                  "/etc/uwsgi-production/last-good/gone.env", "/etc/uwsgi-production/gone.pem",
                  "/etc/uwsgi-production/last-good/gone.pem", "/etc/uwsgi-production/last-good/gone.health.json",
                  "/run/uwsgi-gone"],
        "user": None, "group": None,
    }]


def test_remove_user_deletes_the_apps_own_user_and_its_group():
    apps = [{"name": "gone", "state": "absent", "user": "gone", "remove_user": True}]
    [entry] = model.removals(apps, ROLE)
    assert (entry["user"], entry["group"]) == ("gone", "gone")


def test_a_group_an_account_still_has_stays():
    # The removed app's user shares its group with an app that stays, and with the role.
    apps = [{"name": "stay", "user": "web", "group": "shared"},
            {"name": "gone", "state": "absent", "user": "gone", "group": "shared", "remove_user": True},
            {"name": "old", "state": "absent", "user": "old", "group": "uwsgi", "remove_user": True}]
    assert [(entry["user"], entry["group"]) for entry in model.removals(apps, ROLE)] == [("gone", None), ("old", None)]


def test_nothing_to_remove():
    assert model.removals([{"name": "hello"}], ROLE) == []
