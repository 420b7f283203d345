# shellcheck shell=bash
# Source me: puts a pinned toolchain on PATH and the collections where Ansible looks.
#   source tools/env.sh                   the newest tested ansible-core's (.venv)
#   PYOPS_CORE=2.19 source tools/env.sh   that core's (.cache/venvs/core-2.19; tools/setup.sh makes both)
_pyops_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_pyops_venv=$_pyops_root/.venv
if [ -n "${PYOPS_CORE:-}" ]; then
  _pyops_venv=$_pyops_root/.cache/venvs/core-$PYOPS_CORE
  if [ ! -x "$_pyops_venv/bin/ansible" ]; then
    echo "tools/env.sh: no ansible-core $PYOPS_CORE toolchain in $_pyops_venv (bash tools/setup.sh $PYOPS_CORE makes it)" >&2
    unset _pyops_root _pyops_venv
    return 1
  fi
fi
export PATH="$_pyops_venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$_pyops_root/.cache/collections"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
unset _pyops_root _pyops_venv
