# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The O(run) option of every module that writes to a host under its run lock (plugins/module_utils/uwsgi_lock.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  run:
    description:
      - The run that holds the host's run lock (the C(run) result of M(pyops.uwsgi.uwsgi_facts)). The lock is
        renewed before anything is written, and this call fails, writing nothing, when another run holds it.
      - Null (check mode, or no lock taken) skips the lock.
    type: dict
"""
