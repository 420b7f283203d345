"""examples/awx: the job template's wrapper playbook and the execution environment's definition.

`ansible-builder create` writes the build context an image would be built from (building the image
needs a container engine and registries, so it cannot run here); the galaxy stage's own command is
then run on that context, offline, and the wrapper playbook must resolve with what it installed.
"""

import re
import shutil
import tarfile

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from paths import REPO, load_yaml
# `built` is a fixture of test_build, used by the fixture below.
from test_build import GALAXY, TARBALL, built, clean_env, run  # noqa: F401 pylint: disable=unused-import

AWX = REPO / "examples" / "awx"
EE_FILE = AWX / "execution-environment.yml"
EE = load_yaml(EE_FILE)
WRAPPER = AWX / "rolling_update.yml"
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"


@pytest.fixture(scope="module")
def context(built, tmp_path_factory):  # noqa: F811  (the fixture imported above)
    """The example directory with the collection's tarball beside its EE file, and the context created from it."""
    work = tmp_path_factory.mktemp("awx")
    shutil.copytree(AWX, work / "awx")
    shutil.copy(built[0], work / "awx" / TARBALL)
    result = run(["ansible-builder", "create", "-f", str(work / "awx" / EE_FILE.name), "--context", str(work / "context"),
                  "--output-filename", "Containerfile"], work, clean_env(work / "none"))
    assert "Complete! The build context can be found at" in result.stdout, result.stdout
    return work / "context"


def requirement_files(requirements):
    """The tarballs of type file that a galaxy requirements document names."""
    return [entry["name"] for entry in requirements["collections"] if entry.get("type") == "file"]


def test_definition_is_version_3_and_names_this_collection():
    assert EE["version"] == 3
    galaxy = EE["dependencies"]["galaxy"]
    names = [entry["name"] for entry in galaxy["collections"]]
    assert names == [f"collections/{TARBALL}"], f"{EE_FILE.name} does not install {TARBALL} (galaxy.yml's version)"
    assert [entry["src"] for entry in EE["additional_build_files"]] == [TARBALL]


def test_definition_installs_an_ansible_core_the_collection_supports():
    pin = EE["dependencies"]["ansible_core"]["package_pip"]
    match = re.fullmatch(r"ansible-core==([0-9.]+)", pin)
    assert match, f"ansible-core is not pinned: {pin}"
    requires = load_yaml(REPO / "meta" / "runtime.yml")["requires_ansible"]
    assert Version(match.group(1)) in SpecifierSet(requires), f"{pin} is outside requires_ansible {requires}"
    # The newest tested core's own pin: the release every molecule scenario runs on.
    newest = max((REPO / "tests" / "requirements").glob("core-*.txt"), key=lambda path: Version(path.stem[5:]))
    assert f"{pin}\n" in newest.read_text(encoding="utf-8"), f"{pin} is not {newest.name}'s pin"
    # ansible-core 2.20 and later need Python 3.12 or later on the controller.
    python = EE["dependencies"]["python_interpreter"]
    assert re.fullmatch(r"/usr/bin/python3\.(1[2-9])", python["python_path"]), python


def test_builder_writes_the_context(context):
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert f'ARG EE_BASE_IMAGE="{EE["images"]["base_image"]["name"]}"' in containerfile
    assert f'ARG PYCMD="{EE["dependencies"]["python_interpreter"]["python_path"]}"' in containerfile
    refs = f'{EE["dependencies"]["ansible_core"]["package_pip"]} {EE["dependencies"]["ansible_runner"]["package_pip"]}'
    assert f'ARG ANSIBLE_INSTALL_REFS="{refs}"' in containerfile
    # The galaxy stage installs the requirements from the copied context, where the EE looks for collections.
    assert "COPY _build /build" in containerfile
    assert re.search(r"^RUN .*ansible-galaxy collection install .*-r requirements\.yml "
                     r"--collections-path \"/usr/share/ansible/collections\"$", containerfile, re.M), containerfile
    assert "LABEL ansible-execution-environment=true" in containerfile
    # The tarball and the requirements are in the context.
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert requirements == EE["dependencies"]["galaxy"]
    for name in requirement_files(requirements):
        with tarfile.open(context / "_build" / name) as tar:
            assert "roles/uwsgi_production/meta/argument_specs.yml" in tar.getnames()


def test_galaxy_stage_installs_the_collection_and_the_wrapper_resolves(context, tmp_path):
    """The galaxy stage's command on the context, offline, into an empty path; the wrapper playbook then parses."""
    collections = tmp_path / "collections"
    env = clean_env(collections)
    run(["ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml", "--collections-path",
         str(collections)], context / "_build", env)
    listing = run(["ansible-galaxy", "collection", "list", FQCN], tmp_path, env).stdout
    assert GALAXY["version"] in listing and str(collections) in listing, listing
    # Nothing more for the builder's introspection to add: the collection needs no Python or system package.
    introspect = yaml.safe_load(run(["ansible-builder", "introspect", str(collections)], tmp_path, env).stdout)
    assert introspect == {"python": [], "system": []}, introspect
    result = run(["ansible-playbook", "--syntax-check", "-i", "localhost,", str(WRAPPER)], tmp_path, env)
    assert f"playbook: {WRAPPER}" in result.stdout


def test_wrapper_imports_the_collections_rolling_update():
    plays = load_yaml(WRAPPER)
    assert [play.get("ansible.builtin.import_playbook") for play in plays] == [f"{FQCN}.rolling_update"]
    # The knobs AWX passes as extra vars or survey answers are the playbook's own.
    playbook = (REPO / "playbooks" / "rolling_update.yml").read_text(encoding="utf-8")
    docs = (REPO / "docs" / "awx.md").read_text(encoding="utf-8")
    for knob in sorted(set(re.findall(r"\buwsgi_rolling_[a-z_]+", playbook))):
        assert f"`{knob}`" in docs, f"docs/awx.md does not name {knob}"
