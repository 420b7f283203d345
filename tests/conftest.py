"""The collection's Python is imported as Ansible imports it: ansible_collections.pyops.uwsgi (this checkout)."""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
_root = REPO / ".cache" / "unit-collections"
_link = _root / "ansible_collections" / "pyops" / "uwsgi"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    (_root / "ansible_collections" / "__init__.py").touch()
    _link.symlink_to(REPO)
if str(_root) not in sys.path:
    sys.path.insert(0, str(_root))
