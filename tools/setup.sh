#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian machine, idempotently:
#   - the pinned toolchain of requirements-test.txt into .venv
#   - Debian's shellcheck, which ansible-test's shellcheck sanity test runs (tools/sanity.sh)
#   - community.docker and ansible.posix (Galaxy is unreachable: unpacked from the `ansible` wheel
#     pinned in requirements-test.txt) and this collection itself, into .cache/collections
# Then:  source tools/env.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
COLLECTIONS=$ROOT/.cache/collections
PYTHON=${PYTHON:-python3}
REQS=$ROOT/requirements-test.txt

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)
command -v shellcheck >/dev/null 2>&1 || apt_packages+=(shellcheck)
if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

stamp=$(sha256sum "$REQS" | cut -c1-16)
if [ "$(cat "$VENV/.pyops-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "[setup] installing the test toolchain into $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
  echo "$stamp" >"$VENV/.pyops-stamp"
fi

source_pin=$(sed -n 's/^# collections-source: *//p' "$REQS")
if [ "$(cat "$COLLECTIONS/.pyops-stamp" 2>/dev/null)" != "$source_pin" ]; then
  echo "[setup] unpacking community.docker and ansible.posix from $source_pin"
  rm -rf "$COLLECTIONS"
  mkdir -p "$COLLECTIONS"
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps -d "$tmp" "$source_pin"
  "$VENV/bin/python" - "$tmp"/*.whl "$COLLECTIONS" <<'PY'
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
