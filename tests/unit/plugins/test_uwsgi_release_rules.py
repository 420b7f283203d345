"""The input rules of an app's `release` and of the role's release variables
(plugins/module_utils/uwsgi_release_rules.py, run by uwsgi_validate.validate), in-process.

Classes of bad input, several values each: every value is refused with a message naming the variable, the
value (as JSON, the way every message of the validator shows it) and the rule. Good inputs give no message.
Then the ini of an app with a release: whatever value passes the rules, the rendered file has exactly the
lines the model meant, and the release's own lines are the expected ones.
"""

import copy
import json

import pytest
import yaml
from paths import ROLE

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_release_rules as rules
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_render
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate as validator

DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
INJECTION = "\nExecStartPost=/bin/touch /x"
BASE = "uwsgi_production_apps[0].release"


def app(release=None, **changes):
    """An app with a good release built from pip; `release` laid over its release, `changes` over the app."""
    spec = {"id": "2.0", "source": {"pip": ["shop==2.0"]}}
    spec.update(release or {})
    base = {"name": "shop", "module": "shop.wsgi:application", "http_socket": "127.0.0.1:8080", "release": spec}
    base.update(changes)
    return base


def variables(apps=None, **role):
    merged = copy.deepcopy(DEFAULTS)
    merged["uwsgi_production_apps"] = apps if apps is not None else [app()]
    merged.update(role)
    return merged


def check(**kwargs):
    return validator.validate(variables(**kwargs), 4096)


def shown(value):
    """A value as the messages show it."""
    return json.dumps(value, sort_keys=True, default=str)


def release_cases(key, values, words, variable=None, wrap=None):
    """(variable, value shown, words, the validator's input) of one bad value of `key` in the release each."""
    cases = []
    for value in values:
        spec = wrap(value) if wrap else {key: value}
        cases.append((variable or "%s.%s" % (BASE, key), shown(value), words, {"apps": [app(spec)]}))
    return cases


def source_cases(kind, values, words):
    return release_cases(kind, values, words, "%s.source.%s" % (BASE, kind), lambda value: {"source": {kind: value}})


def pip_cases(values, words):
    """Bad requirement specifiers of source.pip: each named by its index."""
    return [("%s.source.pip[1]" % BASE, shown(value), words, {"apps": [app({"source": {"pip": ["flask", value]}})]})
            for value in values]


def item_cases(key, values, words):
    """Bad items of a release list: each named by its index."""
    return [("%s.%s[1]" % (BASE, key), shown(value), words, {"apps": [app({key: [good, value]})]})
            for good, value in ((GOOD_ITEMS[key], value) for value in values)]


def role_cases(variable, values, words):
    return [(variable, shown(value), words, {variable: value}) for value in values]


GOOD_ITEMS = {"packages": "gunicorn==23.0", "shared": "media", "commands": ["python", "manage.py", "migrate"]}
SPECIFIER = "requirement specifier|not starting with '-'"
PATH_IN_CODE = "relative to the release's code|without '..'"

CLASSES = {
    "id_with_slash": release_cases("id", ["a/b", "1.0/", "/1.0"], "must name the release|letters, digits"),
    "id_climbing_out": release_cases("id", ["..", ".", "../x", "..x"], "must name the release|starting with a letter"),
    "id_with_space_or_control": release_cases("id", ["1 0", " 1.0", "1.0 ", "1.0\t", "a\x00b"], "must name the release"),
    "id_with_newline": release_cases("id", ["1.0\n", "\n1.0", "1.0" + INJECTION, "1.0\r"], "must name the release"),
    "id_too_long_or_empty": release_cases("id", ["a" * 65, "", None], "1-64 letters"),
    "id_not_text": release_cases("id", [1.0, 2, ["1.0"], {"v": 1}, True], "must name the release"),
    "id_odd_characters": release_cases("id", ["1.0;rm", "v1$x", "é", "1.0%n", "-1.0", "_1", "+1"], "must name the release"),
    "release_not_a_dict": [(BASE, shown(value), "must be a dict with at least an id", {"apps": [dict(app(), release=value)]})
                           for value in ["2.0", ["2.0"], True, 2]],
    "source_not_a_dict": release_cases("source", ["pip", ["flask"], 3], "must be a dict with one of pip, requirements"),
    "source_with_two_keys": release_cases("source", [
        {"pip": ["a"], "git": {"repo": "/srv/git/shop"}}, {"archive": "a.tgz", "requirements": "/srv/r.txt"},
        {"pip": ["a"], "archive": "a.tgz", "requirements": "/r.txt", "git": {"repo": "x"}}],
        "must set exactly one of pip, requirements, archive, git"),
    "source_with_unknown_key": release_cases("source", [
        {"tarball": "a.tgz"}, {"pip": ["a"], "index_url": "http://x"}, {"pip ": ["a"]}, {"Git": {"repo": "x"}}],
        "must set exactly one of"),
    "pip_option": pip_cases(["-e", "--index-url=http://x", "-r/etc/shadow"], SPECIFIER),
    "pip_with_newline": pip_cases(["flask\n--index-url=http://x", "flask" + INJECTION, "flask\r"], SPECIFIER),
    "pip_not_text": pip_cases(["", 1, None, ["flask"]], SPECIFIER),
    "pip_not_a_list": source_cases("pip", ["flask", [], {"flask": "3"}], "must be a non-empty list"),
    "requirements_source_relative": source_cases("requirements", ["requirements.txt", "./r.txt", "", "~/r.txt"],
                                                 "absolute path of a requirements file"),
    "requirements_source_line_break": source_cases("requirements", ["/srv/r.txt\n-e .", "/srv/r\x00.txt"],
                                                   "absolute path of a requirements file"),
    "archive_empty_or_broken": source_cases("archive", ["", "a.tgz\n", 5, ["a.tgz"]], "path of an archive"),
    "git_without_repo": source_cases("git", [{"version": "v1"}, {}, {"repo": ""}, {"repo": None}],
                                     "must be a dict with repo"),
    "git_not_a_dict": source_cases("git", ["https://git.example/shop.git", ["x"]], "must be a dict with repo"),
    "git_option_or_line": source_cases("git", [
        {"repo": "--upload-pack=touch /x;"}, {"repo": "-u/x"}, {"repo": "/srv/git\n/x"},
        {"repo": "/srv/git/shop", "version": "--force"}, {"repo": "/srv/git/shop", "version": "v1\nx"},
        {"repo": "/srv/git/shop", "version": 3}], "not starting with '-'|one line"),
    "strip_components_without_archive": release_cases("strip_components", [1, 0], "only with archive",
                                                      "%s.source.strip_components" % BASE,
                                                      lambda value: {"source": {"pip": ["a"], "strip_components": value}}),
    "strip_components_out_of_range": release_cases("strip_components", [-1, 11, "1", True, 1.5], "from 0 to 10",
                                                   "%s.source.strip_components" % BASE,
                                                   lambda value: {"source": {"archive": "a.tgz", "strip_components": value}}),
    "packages_option": item_cases("packages", ["-r /etc/shadow", "--extra-index-url=http://x", "-e."], SPECIFIER),
    "packages_line_or_not_text": item_cases("packages", ["x\ny", "x" + INJECTION, "", 3, None], SPECIFIER),
    "packages_not_a_list": release_cases("packages", ["flask==3.1", 5, {"flask": 1}], "must be a list of requirement"),
    "requirements_not_relative": release_cases("requirements", [
        "/srv/shop/requirements.txt", "../requirements.txt", "req/../../x.txt", "req.txt\n-e .", "", 4],
        "relative to the release's code (a requirements file it ships)|without '..'"),
    "shared_absolute": item_cases("shared", ["/srv/media", "/", "//x"], PATH_IN_CODE),
    "shared_climbing_out": item_cases("shared", ["../media", "media/../../etc", "..", "a/.."], PATH_IN_CODE),
    "shared_the_code_itself": item_cases("shared", ["", ".", "./", "/."], PATH_IN_CODE),
    "shared_line_or_not_text": item_cases("shared", ["media\nx", "media" + INJECTION, 3, None, ["media"]], PATH_IN_CODE),
    "shared_not_a_list": release_cases("shared", ["media", 5, {"media": 1}], "must be a list of paths"),
    "commands_not_a_list": release_cases("commands", ["python manage.py migrate", 5, {"cmd": "migrate"}],
                                         "must be a list of commands"),
    "command_not_a_list": item_cases("commands", ["python manage.py migrate", {"argv": ["x"]}, 3, None],
                                     "must be a command as a non-empty list of arguments|run without a shell"),
    "command_empty": item_cases("commands", [[], [""], ["", "x"]], "must be a command as a non-empty list"),
    "command_nul_or_line": item_cases("commands", [["python", "a\x00b"], ["py\x00thon"], ["\npython"], ["python\n"]],
                                      "must be a command as a non-empty list"),
    "command_argument_not_scalar": item_cases("commands", [["python", ["x"]], ["python", None], ["python", True],
                                                           [True], [{"a": 1}]], "must be a command"),
    "verify_timeout_out_of_range": release_cases("verify_timeout", [0, -1, 3601, 10 ** 9],
                                                 "whole number of seconds from 1 to 3600"),
    "verify_timeout_not_whole": release_cases("verify_timeout", ["60", 1.5, True, [60]], "whole number of seconds"),
    "root_relative": release_cases("root", ["srv/shop", "./shop", "", "~/shop"], "must be an absolute path"),
    "root_climbing_out": release_cases("root", ["/srv/../etc", "/srv/shop/..", "/.."], "must be an absolute path"),
    "root_odd_characters": release_cases("root", [
        "/srv/shop app", "/srv/shop\n", "/srv/shop" + INJECTION, "/srv/sh%op", "/srv/$(id)", "/srv/shop;x",
        "/srv/sh\"op", "/srv/é", "/srv/a\\b", "/srv/a\x00"], "letters, digits and _ . / @ + -"),
    "root_not_text": release_cases("root", [5, ["/srv"], True], "must be an absolute path"),
    "keep_releases_below_two": role_cases("uwsgi_production_keep_releases", [1, 0, -3],
                                          "whole number of at least 2|the one before it"),
    "keep_releases_not_whole": role_cases("uwsgi_production_keep_releases", ["3", 2.5, True, [3]],
                                          "whole number of at least 2"),
    "releases_dir_relative": role_cases("uwsgi_production_releases_dir", ["srv/releases", "releases", "", "./r"],
                                        "must be an absolute path"),
    "releases_dir_odd": role_cases("uwsgi_production_releases_dir", [
        "/srv/../etc", "/srv/re leases", "/srv/r\n", "/srv/r" + INJECTION, "/srv/r%d", "/srv/$HOME", 5, ["/srv"]],
        "absolute path of letters, digits and _ . / @ + -"),
}


def owned_cases():
    """An app with a release that also sets what the release owns: named by the app, saying which keys."""
    values = {"chdir": "/srv/shop", "virtualenv": "/srv/shop/venv", "packages": ["flask"],
              "requirements": "/srv/shop/requirements.txt", "wsgi_file": "/srv/shop/wsgi.py"}
    cases = [("uwsgi_production_apps[0] (app \"shop\")", "sets release and %s" % key,
              "neither chdir, virtualenv, packages, requirements nor wsgi_file", {"apps": [app(**{key: value})]})
             for key, value in values.items()]
    everything = {"apps": [app(**values)]}
    cases.append(("uwsgi_production_apps[0] (app \"shop\")", "sets release and " + ", ".join(rules.RELEASE_OWNS),
                  "nor wsgi_file", everything))
    return cases


CLASSES["release_with_its_own_code_or_venv"] = owned_cases()
CASES = [(name, *case) for name, cases in CLASSES.items() for case in cases]


@pytest.mark.parametrize("name, variable, value, words, given", CASES,
                         ids=["%s-%d" % (case[0], number) for number, case in enumerate(CASES)])
def test_bad_release_input_is_refused_naming_the_variable_its_value_and_the_rule(name, variable, value, words, given):
    messages = check(**given)
    wanted = [message for message in messages
              if message.startswith(variable) and value in message and all(word in message for word in words.split("|"))]
    assert wanted, (name, variable, value, messages)


def test_every_class_has_several_values():
    for name, cases in CLASSES.items():
        assert len(cases) >= 2, name


def test_each_rule_reports_every_bad_value_at_once():
    spec = {"id": "1/0", "source": {"pip": ["-e", "."]}, "shared": ["/srv/media", "ok", "../x"], "verify_timeout": 0,
            "commands": [[]], "root": "srv"}
    messages = [message for message in check(apps=[app(spec, chdir="/srv/shop")]) if "release" in message]
    assert [message.split(" ", 1)[0] for message in messages] == [
        BASE + ".id", "uwsgi_production_apps[0]", BASE + ".source.pip[0]", BASE + ".shared[0]", BASE + ".shared[2]",
        BASE + ".commands[0]", BASE + ".verify_timeout", BASE + ".root"]


def test_the_whole_message_of_a_few_rules():
    assert check(apps=[app({"id": "1.0\n"})]) == [
        BASE + ".id = \"1.0\\n\" must name the release: 1-64 letters, digits, '.', '_', '+' or '-', starting with a "
        "letter or digit (a version or a commit; it names the release's directory)."]
    assert check(apps=[app({"source": {"pip": ["a"], "git": {"repo": "/srv/git"}}})]) == [
        BASE + ".source = {\"git\": {\"repo\": \"/srv/git\"}, \"pip\": [\"a\"]} must set exactly one of pip, "
        "requirements, archive, git (or be left out when your own tasks put the code in place)."]
    assert check(uwsgi_production_keep_releases=1) == [
        "uwsgi_production_keep_releases = 1 must be a whole number of at least 2 (the current release and the one "
        "before it, which a failed release goes back to)."]


GOOD_RELEASES = [
    {"id": "2.0"},                                                         # code put in place by the user's tasks
    {"id": "2.0", "source": {}},
    {"id": "2.4.1+local", "source": {"pip": ["shop==2.4.1", "/srv/wheels/shop-2.4.1-py3-none-any.whl", "./src"]}},
    {"id": "a1b2c3d", "source": {"git": {"repo": "https://git.example/shop.git", "version": "a1b2c3d"}},
     "requirements": "requirements/prod.txt", "packages": ["gunicorn==23.0"]},
    {"id": "v2", "source": {"git": {"repo": "/srv/git/shop"}}},
    {"id": "2_0", "source": {"archive": "files/shop-2.0.tar.gz", "strip_components": 1}},
    {"id": "2-0", "source": {"archive": "files/shop.tgz", "strip_components": 0}},
    {"id": "3", "source": {"requirements": "/srv/shop/requirements.txt"}, "shared": ["media", "conf/local.py", "a/b/"],
     "commands": [["python", "manage.py", "migrate", "--noinput"], ["echo", 1, 2.5], ["./bin/x", "line\nbreak ok"]],
     "verify_timeout": 1, "root": "/srv/apps/shop@eu+1_x-y"},
    {"id": "A" * 64, "verify_timeout": 3600, "packages": [], "shared": [], "commands": [], "root": "/shop"},
    {"id": "2.0", "source": {"pip": ["a"], "git": None, "archive": None}},
]


@pytest.mark.parametrize("spec", GOOD_RELEASES, ids=range(len(GOOD_RELEASES)))
def test_good_releases_give_no_message(spec):
    assert check(apps=[app(spec)]) == []


@pytest.mark.parametrize("keep, where", [(2, "/srv/uwsgi-releases"), (3, "/opt/releases"), (50, "/srv/r@1+x_y-z")])
def test_good_role_release_variables_give_no_message(keep, where):
    assert check(uwsgi_production_keep_releases=keep, uwsgi_production_releases_dir=where) == []


def test_an_app_without_release_keeps_chdir_virtualenv_and_packages():
    plain = {"name": "shop", "module": "shop.wsgi:application", "chdir": "/srv/shop", "virtualenv": "/srv/shop/venv",
             "packages": ["flask"], "http_socket": "127.0.0.1:8080"}
    assert check(apps=[plain]) == []
    assert list(rules.app_violations(0, plain)) == []


# --- nothing smuggles a line into the rendered ini -------------------------------------------------------------

def role_of(merged):
    return {key[len("uwsgi_production_"):]: value for key, value in merged.items()}


def ini_lines(app_, merged):
    options = model.ini_options(app_, role_of(merged))
    text = uwsgi_render.ini(app_, options)
    return [line for line in text.splitlines() if line and not line.startswith(";")], options


def test_the_ini_of_an_app_with_a_release_has_exactly_the_release_lines():
    merged = variables()
    lines, options = ini_lines(app(), merged)
    assert lines == ["[uwsgi]"] + ["%s = %s" % pair for pair in model.option_lines(options)]
    config_dir = merged["uwsgi_production_config_dir"]
    assert [line for line in lines if line.split(" = ")[0] in (
        "chdir", "module", "wsgi-file", "virtualenv", "home", "lazy-apps", "no-site", "env")] == [
        "chdir = /srv/uwsgi-releases/shop",
        "wsgi-file = %s/release_loader.py" % config_dir,
        "lazy-apps = true",
        "no-site = true",
        "env = PYOPS_RELEASE_CURRENT=/srv/uwsgi-releases/shop/current",
        "env = PYOPS_RELEASE_MODULE=shop.wsgi:application",
    ]


def test_the_app_s_own_env_lines_come_before_the_release_s():
    merged = variables()
    lines, _options = ini_lines(app(options={"env": ["LANG=C.UTF-8", "A=1"]}), merged)
    assert [line for line in lines if line.startswith("env = ")] == [
        "env = LANG=C.UTF-8", "env = A=1", "env = PYOPS_RELEASE_CURRENT=/srv/uwsgi-releases/shop/current",
        "env = PYOPS_RELEASE_MODULE=shop.wsgi:application"]


def test_the_unit_lets_the_app_write_its_shared_directory():
    merged = variables(uwsgi_production_releases_dir="/opt/r")
    role = role_of(merged)
    shop = app(writable_paths=["/var/lib/shop"])
    unit = uwsgi_render.service(shop, role, model.ini_options(shop, role), False)
    assert [line for line in unit.splitlines() if line.startswith("ReadWritePaths=")] == [
        "ReadWritePaths=/var/lib/shop", "ReadWritePaths=/opt/r/shop/shared"]


HOSTILE = ["\n", "\r", "\x00", INJECTION, "\nchdir = /", " ; x", "%(x)", "$(id)", "@(file)", "\\", " "]


def hostile_inputs():
    """Each value of the release that reaches the ini, with each hostile text put in it."""
    for text in HOSTILE:
        yield "root", variables([app({"root": "/srv/shop" + text})])
        yield "releases_dir", variables(uwsgi_production_releases_dir="/srv/r" + text)
        yield "module", variables([app(module="shop.wsgi:application" + text)])
        yield "id", variables([app({"id": "2.0" + text})])
        yield "name", variables([app(name="shop" + text)])


@pytest.mark.parametrize("what, merged", list(hostile_inputs()))
def test_a_release_value_is_refused_or_renders_exactly_the_lines_meant(what, merged):
    """Whatever passes the rules renders one `key = value` line per option the model meant, and the release's
    lines name the release's paths and nothing else."""
    if validator.validate(merged, 4096):
        return
    shop = merged["uwsgi_production_apps"][0]
    lines, options = ini_lines(shop, merged)
    assert lines == ["[uwsgi]"] + ["%s = %s" % pair for pair in model.option_lines(options)], what
    root = shop["release"].get("root") or "%s/%s" % (merged["uwsgi_production_releases_dir"], shop["name"])
    assert "chdir = %s" % root in lines
    assert "env = PYOPS_RELEASE_CURRENT=%s/current" % root in lines
    assert "env = PYOPS_RELEASE_MODULE=%s" % shop["module"] in lines


def test_the_hostile_values_that_break_a_line_are_all_refused():
    """So the test above checks the rendering of every value that passes, and none of them breaks a line."""
    for what, merged in hostile_inputs():
        shop = merged["uwsgi_production_apps"][0]
        values = [shop["release"].get("root"), merged["uwsgi_production_releases_dir"], shop["module"],
                  shop["release"]["id"], shop["name"]]
        if any(any(char in str(value) for char in "\n\r\x00") for value in values):
            assert validator.validate(merged, 4096), (what, values)
