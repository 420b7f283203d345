"""An app's HTTPS socket (its `https` and uwsgi_production_tls_keys), in-process: the model's ini lines with
and without socket activation, the one TLS file, the restart a change of it takes, the input rules (the key
never shown), and how uwsgi_facts tells a uWSGI built with SSL from one without."""

import copy
import json
import os
import pathlib
import stat

import pytest
import yaml

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render as render
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_state as state
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate as validator

REPO = pathlib.Path(__file__).resolve().parents[3]
DEFAULTS = yaml.safe_load((REPO / "roles" / "uwsgi_production" / "defaults" / "main.yml").read_text(encoding="utf-8"))
ROLE = {key[len("uwsgi_production_"):]: value for key, value in DEFAULTS.items()}

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG-not-a-real-key\n-----END PRIVATE KEY-----\n"
PEM = "/etc/uwsgi-production/shop.pem"


def app(**changes):
    base = {"name": "shop", "module": "shop.wsgi:application", "https": {"address": "0.0.0.0:8443", "certificate": CERT}}
    base.update(changes)
    return base


def ini_lines(an_app, role=None):
    return model.option_lines(model.ini_options(an_app, dict(ROLE, **(role or {}))))


# --- The model ----------------------------------------------------------------------------------------

def test_without_socket_activation_uwsgi_binds_the_address_with_the_apps_one_tls_file():
    lines = ini_lines(app(socket_activation=False))
    assert ("https-socket", "0.0.0.0:8443,%s,%s" % (PEM, PEM)) in lines


def test_under_socket_activation_the_fd_keeps_the_certificate_and_key_and_systemd_holds_the_address():
    an_app = app(http_socket="127.0.0.1:8080")
    lines = ini_lines(an_app)
    # fd 3 is the unix socket, 4 the http socket, 5 the https socket (LISTEN_KINDS' order).
    assert ("socket", "fd://3") in lines and ("http-socket", "fd://4") in lines
    assert ("https-socket", "fd://5,%s,%s" % (PEM, PEM)) in lines
    unit = render.socket(an_app, ROLE)
    listens = [line for line in unit.splitlines() if line.startswith("ListenStream=")]
    assert listens == ["ListenStream=/run/uwsgi-shop/uwsgi.sock", "ListenStream=127.0.0.1:8080", "ListenStream=0.0.0.0:8443"]


def test_an_app_without_https_renders_as_before():
    plain = {"name": "shop", "module": "shop.wsgi:application"}
    assert not any(key == "https-socket" for key, _value in ini_lines(plain))
    assert model.https_apps([plain, app(name="blog"), app(name="gone", state="absent")]) == ["blog"]


def test_the_tls_file_holds_the_certificate_then_the_key_each_ending_in_a_line_break():
    assert model.tls_pem(app(https={"address": ":8443", "certificate": CERT.strip()}), {"shop": KEY + "\n\n"}) == CERT + KEY


def test_an_https_port_is_a_port_of_the_app_like_an_http_one():
    assert model.http_ports(model.effective_options(app(http_socket=":8080"), ROLE)) == [8080, 8443]


def test_the_health_check_still_asks_the_unix_socket_or_the_http_socket():
    assert model.health_check(app(), ROLE, model.effective_options(app(), ROLE))["protocol"] == "uwsgi"


def test_ssl_is_read_from_the_cflags_uwsgi_was_built_with():
    assert model.has_ssl("-O2 -I. -Wall -DUWSGI_SSL -DUWSGI_PCRE2 -DUWSGI_ZLIB")
    assert not model.has_ssl("-O2 -I. -Wall -DUWSGI_PCRE2")
    assert not model.has_ssl("-DUWSGI_SSL_SESSION_CACHE")
    assert not model.has_ssl(None)


def test_facts_ask_the_binary_itself_and_a_missing_binary_has_no_ssl(tmp_path):
    script = tmp_path / "uwsgi"
    script.write_text("#!/bin/sh\necho '-O2 -DUWSGI_SSL -DUWSGI_PCRE2'\n")
    script.chmod(0o755)

    def run(argv):
        assert argv == [str(script), "--cflags"]
        return 0, "-O2 -DUWSGI_SSL -DUWSGI_PCRE2\n", ""

    assert state.binary_has_ssl(run, str(script))
    assert not state.binary_has_ssl(lambda argv: (0, "-O2\n", ""), str(script))
    assert not state.binary_has_ssl(run, str(tmp_path / "missing"))


# --- A change of the certificate or key restarts the app -----------------------------------------------

@pytest.mark.parametrize("changed, action", [
    (["tls"], "restart"),
    (["ini", "tls"], "restart"),
    (["ini"], "reload"),
])
def test_a_new_certificate_or_key_restarts_the_app(changed, action):
    assert actions.choose_action(True, changed) == action
    assert actions.rollback_action(True, "reload", changed) == ("restart" if "tls" in changed else "reload")


class _Module:
    check_mode = False
    _diff = True


def test_the_tls_file_is_root_and_the_app_group_0640_and_no_diff_shows_it(tmp_path):
    files = state.Files(_Module())
    path = str(tmp_path / "shop.pem")
    group = state.grp.getgrgid(os.getgid()).gr_name
    owner = state.pwd.getpwuid(os.getuid()).pw_name
    files.want("shop", "tls", path, CERT + KEY, owner, group, "0640", secret=True)
    files.apply()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert files.report()["tls"] == ["shop"]
    shown = json.dumps(files.diffs)
    assert "PRIVATE KEY" not in shown and "CERTIFICATE" not in shown and "TLS certificate and key of app shop" in shown
    assert "tls" in state.unproven({key: str(tmp_path / key) for key in state.GOOD.values()},
                                   {"ini": None, "unit": None, "socket": None, "env": None, "tls": CERT + KEY})


# --- The input rules ----------------------------------------------------------------------------------

def check(apps, keys=None, **variables):
    merged = copy.deepcopy(DEFAULTS)
    merged.update(uwsgi_production_apps=apps, uwsgi_production_tls_keys={"shop": KEY} if keys is None else keys)
    merged.update(variables)
    return validator.validate(merged, 4096)


def test_a_good_https_app_passes():
    assert check([app()]) == []
    assert check([app(https={"address": "[::1]:8443", "certificate": CERT + CERT})]) == []


@pytest.mark.parametrize("https, keys, variable, words", [
    ({"address": "0.0.0.0:8443", "certificate": CERT}, {}, "uwsgi_production_tls_keys", "no key for app \"shop\""),
    ({"address": "0.0.0.0:8443", "certificate": CERT}, {"shop": "not a key"}, "uwsgi_production_tls_keys.shop",
     "unencrypted private key"),
    ({"address": "0.0.0.0:8443", "certificate": CERT},
     {"shop": KEY.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")}, "uwsgi_production_tls_keys.shop", "passphrase"),
    ({"address": "0.0.0.0:8443", "certificate": "/etc/ssl/shop.crt"}, None, "uwsgi_production_apps[0].https.certificate",
     "PEM text"),
    ({"address": "0.0.0.0:8443", "certificate": CERT + KEY}, None, "uwsgi_production_apps[0].https.certificate",
     "holds a private key"),
    ({"address": "0.0.0.0", "certificate": CERT}, None, "uwsgi_production_apps[0].https.address", "HOST:PORT"),
    ({"address": "0.0.0.0:70000", "certificate": CERT}, None, "uwsgi_production_apps[0].https.address", "1 to 65535"),
    ({"address": "0.0.0.0:8443,/etc/shadow,/etc/shadow", "certificate": CERT}, None,
     "uwsgi_production_apps[0].https.address", "no ','"),
    ({"address": "0.0.0.0:8443\nExecStartPost=/bin/touch /x", "certificate": CERT}, None,
     "uwsgi_production_apps[0].https.address", "line break or NUL"),
    ({"address": "0.0.0.0:8443\n", "certificate": CERT}, None, "uwsgi_production_apps[0].https.address",
     "line break or NUL"),
    ("0.0.0.0:8443", None, "uwsgi_production_apps[0].https", "must be a dict"),
])
def test_bad_https_input_is_rejected_naming_the_variable_and_never_the_key(https, keys, variable, words):
    messages = check([app(https=https)], keys)
    assert any(variable in message and words in message for message in messages), messages
    assert not any("not-a-real-key" in message or "not a key" in message for message in messages), messages


def test_a_key_for_no_https_app_is_a_typo():
    messages = check([app()], {"shop": KEY, "shoop": KEY})
    assert any("uwsgi_production_tls_keys has keys for [\"shoop\"]" in message for message in messages), messages
    assert not any("not-a-real-key" in message for message in messages)


def test_a_comma_in_the_config_dir_would_split_https_socket():
    messages = check([app()], uwsgi_production_config_dir="/etc/uwsgi,x")
    assert any("uwsgi_production_config_dir" in message and "','" in message for message in messages), messages


def test_an_https_port_taken_by_another_app_names_the_https_address():
    messages = check([app(name="blog", http_socket=":8443"), app()], {"shop": KEY})
    assert any("uwsgi_production_apps[1].https.address" in message and "port 8443" in message for message in messages), messages


def test_uwsgi_checks_the_new_tls_file_from_a_scratch_copy_that_the_ini_names(tmp_path):
    """uWSGI loads the certificate and key while it reads the ini: its strict check needs the new file."""
    from ansible_collections.pyops.uwsgi.plugins.modules import uwsgi_config

    an_app = app(socket_activation=False)
    options = dict(model.ini_options(an_app, ROLE), vacuum=False)
    text = uwsgi_config.check_text(ROLE, str(tmp_path), "shop", (an_app, options, CERT + KEY), "Ansible managed")
    scratch = str(tmp_path / "shop.pem")
    assert "https-socket = 0.0.0.0:8443,%s,%s\n" % (scratch, scratch) in text and PEM not in text
    assert (tmp_path / "shop.pem").read_text() == CERT + KEY
    assert stat.S_IMODE(os.stat(scratch).st_mode) == 0o600
    assert uwsgi_config.check_text(ROLE, str(tmp_path), "blog", ({"name": "blog"}, {"master": True}, None), "x").endswith(
        "master = true\n")
