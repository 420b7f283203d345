"""The role's documentation: docs/variables.md's table, the role's README and ansible-doc, all from argument_specs.yml."""

import os
import re
import subprocess
import sys

import pytest

from paths import REPO, ROLE, load_yaml

DOCS = [sys.executable, str(REPO / "tools" / "docs.py")]
SPECS = load_yaml(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
ROLE_README = ROLE / "README.md"
VARIABLES = REPO / "docs" / "variables.md"
GALAXY = load_yaml(REPO / "galaxy.yml")


def variable_names(options, prefix=""):
    """Every variable and sub-option, as the variables table names them (uwsgi_production_apps[].name)."""
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


def test_variables_table_and_role_readme_are_generated_from_the_argument_specs():
    result = subprocess.run(DOCS + ["--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# The two generated files: (the option that names another copy, the file, the copy's name).
GENERATED = [("--variables", VARIABLES, "variables.md"), ("--role-readme", ROLE_README, "README.md")]


@pytest.mark.parametrize("generated", [path for _option, path, _name in GENERATED], ids=lambda path: path.name)
def test_generated_file_names_every_variable(generated):
    text = generated.read_text(encoding="utf-8")
    for full_name, _name in variable_names(SPECS):
        assert f"| `{full_name}` |" in text, full_name


def test_readme_links_to_the_variables_page_instead_of_holding_the_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "<!-- BEGIN VARIABLES -->" not in readme
    assert "(docs/variables.md)" in readme


@pytest.mark.parametrize("option, generated, name", GENERATED, ids=[name for _option, _path, name in GENERATED])
def test_check_reports_a_stale_generated_file(tmp_path, option, generated, name):
    copy = tmp_path / name
    text = generated.read_text(encoding="utf-8")
    copy.write_text(text.replace("| `uwsgi_production_venv` |", "| `uwsgi_production_old_venv` |"), encoding="utf-8")
    result = subprocess.run(DOCS + ["--check", option, str(copy)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert f"{name} is stale" in result.stderr and "python tools/docs.py" in result.stderr
    assert "+| `uwsgi_production_venv` |" in result.stderr


def test_check_reports_a_missing_role_readme(tmp_path):
    result = subprocess.run(DOCS + ["--check", "--role-readme", str(tmp_path / "README.md")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "README.md is stale" in result.stderr
    assert "+# pyops.uwsgi.uwsgi_production" in result.stderr


def test_check_reports_a_role_readme_behind_the_specs(tmp_path):
    """A description changed in the argument specs makes the role README (and the table) stale."""
    specs = tmp_path / "argument_specs.yml"
    text = (ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8")
    old = "Non-root system user that runs every app (created if missing)."
    assert old in text
    specs.write_text(text.replace(old, "The user that runs every app."), encoding="utf-8")
    result = subprocess.run(DOCS + ["--check", "--specs", str(specs)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "roles/uwsgi_production/README.md is stale" in result.stderr
    assert "+| `uwsgi_production_user` | str | `uwsgi` | The user that runs every app. |" in result.stderr


def test_role_readme_links_point_at_files_of_this_repository():
    """Galaxy shows the role README on its own, so its links are absolute; each names a file here."""
    base = GALAXY["documentation"].rsplit("/", 1)[0] + "/"
    links = re.findall(r"\]\((https?://[^)]+)\)", ROLE_README.read_text(encoding="utf-8"))
    assert links
    for link in links:
        assert link.startswith(base), link
        path = link[len(base):].split("#")[0]
        assert (REPO / path).is_file(), link


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
    # ansible-core 2.20 and later warn about a collection of their own on every `ansible-doc -t role`
    # (ansible._protomatter has no MANIFEST.json): that one is the core's, any other is this role's.
    warnings = [line for line in result.stderr.splitlines()
                if "WARNING" in line and "/ansible/_internal/ansible_collections/ansible/_protomatter'" not in line]
    assert not warnings, result.stderr
    text = result.stdout
    assert text.startswith("> ROLE: ") and "pyops.uwsgi.uwsgi_production" in text.splitlines()[0]
    # Without colour each option starts a line "- name  description" ("= name" when required).
    shown = {name: mark for mark, name in re.findall(r"^\s*([-=]) ([a-z0-9_]+)(?:\s|$)", text, re.M)}
    missing = sorted(full for full, name in variable_names(SPECS) if name not in shown)
    assert not missing, f"ansible-doc does not show: {missing}\n{text}"
    for full, name in required_options(SPECS):
        assert shown[name] == "=", f"ansible-doc does not mark {full} as required"


# --- links between the README, the docs pages and the role README ---

MARKDOWN = sorted({*REPO.glob("*.md"), *REPO.glob("docs/*.md"), *REPO.glob("roles/*/README.md"), REPO / "benchmarks" / "README.md"})
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
REFERENCE_USE = re.compile(r"\]\[([^\]]+)\]")
REFERENCE_DEFINITION = re.compile(r"^\[([^\]]+)\]: \S+", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def anchors(path):
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped, spaces as -)."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("document", [str(path.relative_to(REPO)) for path in MARKDOWN])
def test_every_link_and_anchor_resolves(document):
    path = REPO / document
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    broken = []
    for target in INLINE_LINK.findall(text):
        if re.match(r"[a-z]+\\?:", target):
            continue  # an absolute URL (the role README's are checked above)
        file_part, _sep, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    defined = set(REFERENCE_DEFINITION.findall(text))
    broken += [f"[{name}]: not defined" for name in set(REFERENCE_USE.findall(text)) - defined]
    assert not broken, f"{document}: {broken}"


def test_readme_stays_short_and_starts_with_the_two_commands():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, len(lines)
    assert lines[2:6] == ["```sh", lines[3], lines[4], "```"]
    assert lines[3].startswith("bash tools/demo.sh ") and lines[4].startswith("bash tools/test.sh ")


def test_every_docs_page_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in readme, f"README.md does not link to docs/{page.name}"
