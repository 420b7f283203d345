"""The collection as Galaxy would ship it: built, installed into an empty path, used by FQCN."""

import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
from paths import REPO, ROLE, load_yaml

GALAXY = load_yaml(REPO / "galaxy.yml")
TARBALL = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
FQCN_ROLE = f"{GALAXY['namespace']}.{GALAXY['name']}.uwsgi_production"

# Everything a user of the collection gets. A new top-level entry fails the test on purpose:
# add it here if users need it, or to galaxy.yml's build_ignore if they do not.
SHIPPED_TOP_LEVEL = {"roles", "plugins", "playbooks", "meta", "examples", "changelogs", "docs", "README.md", "LICENSE",
                     "CHANGELOG.md", "MANIFEST.json", "FILES.json"}
REQUIRED = {"meta/runtime.yml", "README.md", "LICENSE", "CHANGELOG.md", "changelogs/changelog.yaml",
            "examples/single_host.yml", "plugins/modules/uwsgi_health.py",
            "playbooks/rolling_update.yml", "docs/variables.md", "docs/awx.md", "examples/awx/execution-environment.yml"}
# The AWX wrapper belongs to the AWX project, and Galaxy's ansible-lint cannot resolve its import (galaxy.yml).
WRAPPER = "examples/awx/rolling_update.yml"
# Test and development files that must never be shipped, wherever they are.
CLUTTER_NAMES = {".venv", ".cache", ".ci", ".config", ".git", ".gitignore", ".yamllint", ".ansible-lint",
                 "molecule", "tests", "tools", "benchmarks", "requirements-test.txt", "pytest.ini",
                 "fragments", ".plugin-cache.yaml", "config.yaml", "__pycache__", ".pytest_cache"}


# The playbooks the documentation shows: fenced YAML blocks that start a play.
PLAYBOOK_BLOCK = re.compile(r"^```yaml\n(- (?:name|hosts|import_playbook|ansible\.builtin\.import_playbook): .*?)^```", re.M | re.S)
DOCUMENTS = sorted(str(path.relative_to(REPO)) for pattern in ("README.md", "roles/*/README.md", "docs/*.md")
                   for path in REPO.glob(pattern))


def doc_playbooks(document):
    """The playbooks shown in one Markdown file."""
    return PLAYBOOK_BLOCK.findall((REPO / document).read_text(encoding="utf-8"))


# Galaxy's importer on a tarball, as its own process: every log record it makes (its findings,
# ansible-lint's among them, are WARNING and ERROR records), the error that stops an import, and
# the content it found, written as JSON to argv[3].
IMPORTER = """
import json, logging, sys
from galaxy_importer import __version__, collection, config
from galaxy_importer.exceptions import ImporterError
from galaxy_importer.main import FILENAME_REGEXP

class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append({"level": record.levelname, "message": record.getMessage()})

tarball, tmp, out = sys.argv[1:4]
logger = logging.getLogger("galaxy_importer_under_test")
logger.setLevel(logging.DEBUG)
logger.propagate = False
records = Records()
logger.addHandler(records)
# Galaxy's defaults, with ansible-lint run (offline: there is no Galaxy to ask) and ansible-doc.
cfg = config.Config(config_data={"run_ansible_lint": True, "offline_ansible_lint": True, "run_ansible_doc": True,
                                 "check_changelog": True, "tmp_root_dir": tmp, "ansible_local_tmp": tmp + "/ansible"})
# The name as the importer's own command line reads it (namespace-name-version.tar.gz).
filename = collection.CollectionFilename(*FILENAME_REGEXP.match(tarball.rsplit("/", 1)[-1]).groups())
result = {"version": __version__, "failure": None, "contents": [], "documentation_files": []}
try:
    with open(tarball, "rb") as stream:
        data = collection.import_collection(stream, filename, logger=logger, cfg=cfg)
    result["contents"] = sorted(f"{item['content_type']}:{item['name']}" for item in data["contents"])
    result["documentation_files"] = sorted(item["name"] for item in data["docs_blob"]["documentation_files"])
except ImporterError as error:
    result["failure"] = str(error)
result["records"] = records.records
with open(out, "w", encoding="utf-8") as stream:
    json.dump(result, stream)
"""


def clean_env(collections_path):
    """The environment with Ansible looking for collections in collections_path only."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_path), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1")
    return env


def run(cmd, cwd, env, check=True):
    """Run cmd; on an unexpected exit status, fail showing its output."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tarball built from this checkout, and the names of its members."""
    out = tmp_path_factory.mktemp("build")
    run(["ansible-galaxy", "collection", "build", "--output-path", str(out), str(REPO)], out, clean_env(out / "none"))
    with tarfile.open(out / TARBALL) as tar:
        names = {member.name.rstrip("/") for member in tar.getmembers()}
    return out / TARBALL, names


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """A collections path holding only the tarball, installed offline."""
    collections = tmp_path_factory.mktemp("collections")
    run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(collections), str(built[0])],
        collections, clean_env(collections))
    return collections


def test_tarball_ships_the_role_and_the_collection_metadata(built):
    names = built[1]
    missing = REQUIRED - names
    assert not missing, f"not in {TARBALL}: {sorted(missing)}"
    role_files = {str(path.relative_to(REPO)) for path in ROLE.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts}
    assert role_files <= names, f"role files not in {TARBALL}: {sorted(role_files - names)}"


def test_tarball_ships_no_test_or_development_files(built):
    names = built[1]
    top_level = {name.split("/")[0] for name in names}
    assert top_level <= SHIPPED_TOP_LEVEL, f"unexpected in {TARBALL}: {sorted(top_level - SHIPPED_TOP_LEVEL)}"
    clutter = sorted(name for name in names if CLUTTER_NAMES & set(name.split("/")))
    assert not clutter, f"test or development files in {TARBALL}: {clutter}"
    assert WRAPPER not in names and (REPO / WRAPPER).is_file()
    assert not [name for name in names if name.endswith((".pyc", ".tar.gz"))]


def galaxy_env(home):
    """The environment Galaxy's importer runs in: PATH to the tools and an empty HOME, nothing else.

    No ANSIBLE_* variable, no VIRTUAL_ENV (ansible-compat would look for collections in the venv's .ansible)
    and no XDG_* variable: the importer sets ANSIBLE_COLLECTIONS_PATH itself, to the directory it extracted the
    tarball under, for ansible-doc and ansible-lint. The collection is installed nowhere else, as on Galaxy.
    """
    home.mkdir()
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


def test_galaxy_importer_accepts_the_tarball_with_no_error_or_warning(built, tmp_path):
    """Galaxy's own importer, ansible-lint run on: what Galaxy would say when the tarball is published."""
    out = tmp_path / "importer.json"
    # An empty HOME (ansible-lint offline reads ~/.ansible/collections first) and an empty working directory.
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    run([sys.executable, "-c", IMPORTER, str(built[0]), str(tmp_path), str(out)], cwd, galaxy_env(home))
    # The importer installed the collection nowhere that outlives it: no copy in HOME, none in the working directory.
    assert not [str(path) for path in (*home.rglob("MANIFEST.json"), *cwd.rglob("*"))]
    result = json.loads(out.read_text(encoding="utf-8"))
    messages = [record["message"] for record in result["records"]]
    assert result["failure"] is None, f"the import failed: {result['failure']}\n" + "\n".join(messages)
    # The lint really ran, on the content the collection has.
    assert any(message.startswith("Linting collection via ansible-lint") for message in messages), messages
    assert "...ansible-lint run complete" in messages, messages
    assert {"role:uwsgi_production", "module:uwsgi_health", "playbook:rolling_update.yml"} <= set(result["contents"]), result
    # Galaxy shows the docs pages beside the README.
    assert result["documentation_files"] == sorted(path.name for path in (REPO / "docs").glob("*.md")), result
    errors = [record["message"] for record in result["records"] if record["level"] in ("ERROR", "CRITICAL")]
    warnings = [record["message"] for record in result["records"] if record["level"] == "WARNING"]
    assert (len(errors), len(warnings)) == (0, 0), f"galaxy-importer {result['version']}: errors {errors}, warnings {warnings}"


def test_galaxy_lint_of_the_tarball_cannot_resolve_the_wrappers_import(built, tmp_path):
    """Why the AWX wrapper is not shipped: put back into the extracted tarball, Galaxy's lint does not find its import.

    The importer extracts the tarball to <tmp>/ansible_collections/pyops/uwsgi and runs ansible-lint there, offline,
    with ANSIBLE_COLLECTIONS_PATH=<tmp>/ansible_collections; ansible-core reads that path, ansible-lint's lookup
    of an imported playbook does not. When this test fails, ansible-lint has learned it: the wrapper may ship again.
    """
    root = tmp_path / "ansible_collections"
    with tarfile.open(built[0]) as tar:
        tar.extractall(root / "pyops" / "uwsgi", filter="data")
    (root / "pyops" / "uwsgi" / WRAPPER).write_bytes((REPO / WRAPPER).read_bytes())
    env = dict(galaxy_env(tmp_path / "home"), ANSIBLE_COLLECTIONS_PATH=str(root), XDG_CACHE_HOME=str(tmp_path / "cache"))
    result = run(["ansible-lint", "--offline", "--profile", "production", "--format=pep8", "--nocolor", WRAPPER],
                 root / "pyops" / "uwsgi", env, check=False)
    assert "Failed to find pyops.uwsgi.rolling_update playbook." in result.stderr, result.stdout + result.stderr


def test_installed_collection_is_found_in_the_empty_path_only(installed):
    listing = run(["ansible-galaxy", "collection", "list", f"{GALAXY['namespace']}.{GALAXY['name']}"],
                  installed, clean_env(installed)).stdout
    assert str(installed / "ansible_collections") in listing
    assert GALAXY["version"] in listing


@pytest.mark.parametrize("playbook", sorted(p.name for p in (REPO / "examples").glob("*.yml")))
def test_example_playbook_resolves_the_role_by_fqcn(installed, playbook):
    result = run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(REPO / "examples" / playbook)],
                 installed, clean_env(installed))
    assert f"playbook: {REPO / 'examples' / playbook}" in result.stdout


@pytest.mark.parametrize("document", [doc for doc in DOCUMENTS if doc_playbooks(doc)])
def test_documented_playbooks_resolve_the_role_by_fqcn(installed, document, tmp_path):
    """Every playbook the README, the role README and the docs pages show parses with the built collection."""
    for number, playbook in enumerate(doc_playbooks(document), 1):
        path = tmp_path / f"playbook{number}.yml"
        path.write_text(playbook, encoding="utf-8")
        result = run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(path)],
                     installed, clean_env(installed), check=False)
        assert result.returncode == 0, f"{document}, playbook {number}:\n{playbook}\n{result.stdout}\n{result.stderr}"


def test_without_the_installed_collection_the_role_is_not_found(tmp_path):
    """Control: the role above came from the installed tarball, not from anywhere else."""
    (tmp_path / "empty").mkdir()
    result = run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(REPO / "examples" / "single_host.yml")],
                 tmp_path, clean_env(tmp_path / "empty"), check=False)
    assert result.returncode != 0
    # 2.19 says "the role ... was not found", 2.21 "The role ... was not found".
    assert f"the role '{FQCN_ROLE}' was not found" in (result.stdout + result.stderr).lower()
