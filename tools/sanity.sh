#!/usr/bin/env bash
# `ansible-test sanity` on this collection, without Galaxy or ansible-test's CI file host.
#
# ansible-test needs the collection at .../ansible_collections/<namespace>/<name>, so the files git
# knows (tracked, plus untracked ones not ignored: what would be committed) are copied to such a
# path in a temporary directory and tested there; .venv, .cache and other ignored files stay out.
# Extra arguments go to ansible-test, e.g.  bash tools/sanity.sh --test pep8
# On the newest tested ansible-core by default; on another:  PYOPS_CORE=2.19 bash tools/sanity.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# The pinned toolchain, and shellcheck: without it ansible-test skips its shellcheck test with
# only a warning.
bash tools/setup.sh ${PYOPS_CORE:+"$PYOPS_CORE"}
# shellcheck source=tools/env.sh
source tools/env.sh
command -v shellcheck >/dev/null || { echo "shellcheck is missing (tools/setup.sh installs it)" >&2; exit 1; }
# ansible-test points Ansible at the copy itself; the symlink to this checkout in .cache must not
# shadow it.
unset ANSIBLE_COLLECTIONS_PATH

# The sanity tests run with the toolchain's own Python (ansible-test finds it as pythonX.Y, first on
# PATH in the toolchain's virtualenv).
PYTHON_VERSION=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "[sanity] ansible-core $(python -c 'import ansible; print(ansible.__version__)') on Python $PYTHON_VERSION"

# Each sanity test runs in its own virtualenv (~/.ansible/test/venv), which ansible-test creates
# without pip and then bootstraps with a get-pip.py script downloaded from its CI file host, not
# from PyPI. That host is unreachable here, and ansible-test then asks for the script to be saved by
# hand as ~/.ansible/test/cache/get_pip_<version>.py. tools/ansible_test_get_pip.py is saved there
# instead: it does what get-pip.py does (installs the pip version ansible-test asks for, from the
# package index) but starts from the pip bundled with Python's ensurepip rather than an embedded
# one. A genuine get-pip.py already in the cache is left alone.
pip_version=$(python - "$PYTHON_VERSION" <<'PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages  # the version ansible-test asks for
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
PY
)
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -s "$get_pip" ] || grep -q '^PYOPS_OFFLINE_GET_PIP = True' "$get_pip"; then
  mkdir -p "$(dirname "$get_pip")"
  rm -f "$get_pip.download"  # an empty leftover of a failed download
  cp tools/ansible_test_get_pip.py "$get_pip"
fi

namespace=$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["namespace"])')
name=$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["name"])')
work=$(mktemp -d "${TMPDIR:-/tmp}/pyops-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
collection=$work/ansible_collections/$namespace/$name
mkdir -p "$collection"
# Files deleted in the working tree but still in git's index are skipped.
git ls-files -z -co --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
  | tar -c --null -T - -f - | tar -x -C "$collection" -f -

cd "$collection"
# Every sanity test runs: none needs to be skipped here.
ansible-test sanity --local --python "$PYTHON_VERSION" --color no "$@"
