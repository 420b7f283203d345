# shellcheck shell=bash
# Source me: puts the pinned toolchain on PATH and the collections where Ansible looks.
_pyops_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_pyops_root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$_pyops_root/.cache/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
unset _pyops_root
