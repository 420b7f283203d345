"""The role's documentation: README's variables table and ansible-doc, both from argument_specs.yml."""

import os
import re
import subprocess
import sys

from paths import REPO, ROLE, load_yaml

DOCS = [sys.executable, str(REPO / "tools" / "docs.py")]
SPECS = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def variable_names(options, prefix=""):
    """Every variable and sub-option, as README's table names them (uwsgi_production_apps[].name)."""
    for name, spec in options.items():
        yield prefix + name, name
        if (spec or {}).get("options"):
            yield from variable_names(spec["options"], prefix + name + ("[]." if spec.get("type") == "list" else "."))


def required_options(options, prefix=""):
    """(full name, name) of every required variable or sub-option."""
    for name, spec in options.items():
        spec = spec or {}
        if spec.get("required"):
            yield prefix + name, name
        if spec.get("options"):
            yield from required_options(spec["options"], prefix + name + ("[]." if spec.get("type") == "list" else "."))


def test_readme_variables_table_is_generated_from_the_argument_specs():
    result = subprocess.run(DOCS + ["--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_readme_table_names_every_variable():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for full_name, _name in variable_names(SPECS):
        assert f"| `{full_name}` |" in readme, full_name


def test_check_reports_a_stale_readme(tmp_path):
    readme = tmp_path / "README.md"
    text = (REPO / "README.md").read_text(encoding="utf-8")
    readme.write_text(text.replace("| `uwsgi_production_venv` |", "| `uwsgi_production_old_venv` |"), encoding="utf-8")
    result = subprocess.run(DOCS + ["--check", "--readme", str(readme)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "README.md is stale" in result.stderr and "python tools/docs.py" in result.stderr
    assert "+| `uwsgi_production_venv` |" in result.stderr


def test_ansible_doc_shows_every_variable(tmp_path):
    # This checkout as the collection, in a collections path of its own.
    namespace = tmp_path / "ansible_collections" / "pyops"
    namespace.mkdir(parents=True)
    (namespace / "uwsgi").symlink_to(REPO, target_is_directory=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(tmp_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1")
    result = subprocess.run(["ansible-doc", "-t", "role", "pyops.uwsgi.uwsgi_production"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    text = result.stdout
    assert text.startswith("> ROLE: ") and "pyops.uwsgi.uwsgi_production" in text.splitlines()[0]
    # Without colour each option starts a line "- name  description" ("= name" when required).
    shown = {name: mark for mark, name in re.findall(r"^\s*([-=]) ([a-z0-9_]+)(?:\s|$)", text, re.M)}
    missing = sorted(full for full, name in variable_names(SPECS) if name not in shown)
    assert not missing, f"ansible-doc does not show: {missing}\n{text}"
    for full, name in required_options(SPECS):
        assert shown[name] == "=", f"ansible-doc does not mark {full} as required"
