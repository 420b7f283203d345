#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian machine, idempotently:
#   - one pinned toolchain per tested ansible-core (tests/requirements/core-<core>.txt: that core's
#     pin plus the shared toolchain of requirements-test.txt), each in a virtualenv made with a
#     controller Python that core runs on (the file's "# python:" line; pyenv's, or on PATH): the
#     newest core's is .venv (molecule, testinfra, the benchmarks, the demo), each other core's is
#     .cache/venvs/core-<core> (.cache/venvs/core-<newest> links to .venv)
#   - Debian's shellcheck, which ansible-test's shellcheck sanity test runs (tools/sanity.sh)
#   - community.docker and ansible.posix (Galaxy is unreachable: unpacked from the `ansible` wheel
#     pinned in requirements-test.txt) and this collection itself, into .cache/collections
#   bash tools/setup.sh              every tested core
#   bash tools/setup.sh 2.19 ...     only these cores (and the collections)
# Then:  source tools/env.sh  (the newest core), or  PYOPS_CORE=2.19 source tools/env.sh
# PYTHON=/path/to/python is tried first for every core (it is used where its version fits).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COLLECTIONS=$ROOT/.cache/collections
VENVS=$ROOT/.cache/venvs
REQS=$ROOT/requirements-test.txt
CORE_REQS=$ROOT/tests/requirements

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The tested cores, oldest first: one requirements file each.
all_cores=$(for f in "$CORE_REQS"/core-*.txt; do f=${f##*/core-}; echo "${f%.txt}"; done | sort -V)
newest=$(tail -n 1 <<<"$all_cores")
if [ $# -gt 0 ]; then cores=("$@"); else mapfile -t cores <<<"$all_cores"; fi
for core in "${cores[@]}"; do
  [ -f "$CORE_REQS/core-$core.txt" ] || {
    echo "[setup] ansible-core $core is not tested (tested: ${all_cores//$'\n'/ })" >&2; exit 1; }
done

apt_packages=()
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)
command -v shellcheck >/dev/null 2>&1 || apt_packages+=(shellcheck)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

# The X.Y.Z of a Python that runs and can make virtualenvs, or nothing.
python_version() {
  "$1" -c 'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true
}

# The interpreter for one core: for each X.Y its requirements file names (in order), $PYTHON,
# python3, pyenv's newest X.Y.* ($PYENV_ROOT, default ~/.pyenv), then pythonX.Y on PATH, the first
# that really is Python X.Y (a pyenv shim of a version pyenv does not select fails, and is skipped).
find_python() {
  local core=$1 wanted version candidate pyenv_root pyenv_pythons looked=()
  wanted=$(sed -n 's/^# python: *//p' "$CORE_REQS/core-$core.txt")
  pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
  for version in $wanted; do
    mapfile -t pyenv_pythons < <(printf '%s\n' "$pyenv_root/versions/$version".*/bin/"python$version" | sort -V -r)
    for candidate in ${PYTHON:+"$PYTHON"} python3 "${pyenv_pythons[@]}" "python$version"; do
      case "$(python_version "$candidate")" in
        "$version".*) command -v "$candidate"; return ;;
      esac
    done
    looked+=("$pyenv_root/versions/$version.*/bin/python$version" "python$version on PATH")
  done
  {
    echo "[setup] ansible-core $core needs a controller Python ${wanted// / or } (with venv and ensurepip);"
    echo "[setup] none found: not ${PYTHON:+\$PYTHON ($PYTHON), }python3 ($(python3 --version 2>&1 || true)), nor any of:"
    printf '[setup]   %s\n' "${looked[@]}"
    echo "[setup] install one (e.g. pyenv install ${wanted%% *}, or Debian's python${wanted%% *}-venv where it exists)"
    echo "[setup] or point PYTHON at it:  PYTHON=/path/to/python${wanted%% *} bash tools/setup.sh"
  } >&2
  return 1
}

venv_of() { if [ "$1" = "$newest" ]; then echo "$ROOT/.venv"; else echo "$VENVS/core-$1"; fi; }

for core in "${cores[@]}"; do
  venv=$(venv_of "$core")
  python=$(find_python "$core")
  version=$(python_version "$python")
  # The stamp: both requirements files and the interpreter's version.
  stamp=$(cat "$CORE_REQS/core-$core.txt" "$REQS" <(echo "$version") | sha256sum | cut -c1-16)
  if [ "$(cat "$venv/.pyops-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "[setup] installing the ansible-core $core toolchain into ${venv#"$ROOT"/} (Python $version, $python)"
    clear=()
    # A virtualenv of another Python (e.g. a .venv of 3.11 where 3.12 is due) is made anew.
    if [ -x "$venv/bin/python" ] && [ "$(python_version "$venv/bin/python")" != "$version" ]; then clear=(--clear); fi
    "$python" -m venv "${clear[@]}" "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-compile -r "$CORE_REQS/core-$core.txt"
    echo "$stamp" >"$venv/.pyops-stamp"
  fi
done
mkdir -p "$VENVS"
ln -sfn ../../.venv "$VENVS/core-$newest"

source_pin=$(sed -n 's/^# collections-source: *//p' "$REQS")
if [ "$(cat "$COLLECTIONS/.pyops-stamp" 2>/dev/null)" != "$source_pin" ]; then
  echo "[setup] unpacking community.docker and ansible.posix from $source_pin"
  venv=$(venv_of "${cores[0]}")
  rm -rf "$COLLECTIONS"
  mkdir -p "$COLLECTIONS"
  tmp=$(mktemp -d)
  # The wheel's own Python requirement is the newest core's, not this toolchain's: only its files are used.
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --ignore-requires-python -d "$tmp" "$source_pin"
  "$venv/bin/python" - "$tmp"/*.whl "$COLLECTIONS" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
keep = ("ansible_collections/community/docker/", "ansible_collections/ansible/posix/")
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith(keep)])
PY
  rm -rf "$tmp"
  echo "$source_pin" >"$COLLECTIONS/.pyops-stamp"
fi
# This checkout is the collection pyops.uwsgi.
mkdir -p "$COLLECTIONS/ansible_collections/pyops"
ln -sfn "$ROOT" "$COLLECTIONS/ansible_collections/pyops/uwsgi"
