# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The per-app record: what uwsgi_config returns for each app and uwsgi_service and uwsgi_rollback read.

On the wire (module results are JSON) it is a dict, documented in uwsgi_config's RETURN (`apps`); each
module builds the records once from that dict (AppRecord.from_result) and reads nothing else of it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

# The kinds of file an app has, in the order `changed` lists them (uwsgi_state.KINDS).
KINDS = ("ini", "unit", "socket", "env", "tls")


@dataclasses.dataclass(frozen=True)
class AppRecord:
    """One app as this run configured it.

    name            the app's name (uwsgi_production_apps[].name)
    unit            its service unit, uwsgi-<name>.service
    socket_unit     its socket unit, uwsgi-<name>.socket (whether it has one or not)
    group           the group that reads its ini and TLS file
    activated       systemd holds its sockets (socket activation)
    health          its health check: {enabled, socket, protocol, path, host, status, timeout}
    pidfile         its master's pidfile
    reload_marker   the file its master makes anew on a reload (its fifo), or None
    changed         which of its files this run wrote, or found written but never proven (KINDS order)
    restart_needed  an option a graceful reload cannot apply differs from its last good ini
    unit_restart    a change of its unit needs a restart (not only its stop directives changed)
    socket_restart  a change of its socket unit needs the socket unit restarted (not only its stop directives
                    changed)
    left_out        the role's defaults this host's Python and uWSGI do not get: [{option, why}]
    release         for an app with releases, what uwsgi_facts planned for it (uwsgi_release.plan); else None
                    (and absent on the wire)
    """

    name: str
    unit: str
    socket_unit: str
    group: str
    activated: bool
    health: Dict[str, Any]
    pidfile: str
    reload_marker: Optional[str] = None
    changed: Tuple[str, ...] = ()
    restart_needed: bool = False
    unit_restart: bool = True
    socket_restart: bool = True
    left_out: Tuple[Dict[str, str], ...] = ()
    release: Optional[Dict[str, Any]] = None

    @classmethod
    def from_result(cls, name: str, result: Mapping[str, Any]) -> "AppRecord":
        """The record of one entry of uwsgi_config's `apps` (a result without `changed`, as a failed call
        returns it, has none changed)."""
        return cls(
            name=name, unit=result["unit"], socket_unit=result["socket_unit"], group=result["group"],
            activated=bool(result["activated"]), health=dict(result["health"] or {}), pidfile=result["pidfile"],
            reload_marker=result.get("reload_marker") or None, changed=tuple(result.get("changed") or ()),
            restart_needed=bool(result.get("restart_needed", False)),
            unit_restart=bool(result.get("unit_restart", True)),
            socket_restart=bool(result.get("socket_restart", True)),
            left_out=tuple(dict(item) for item in result.get("left_out") or ()),
            release=dict(result["release"]) if result.get("release") is not None else None)

    def to_result(self) -> Dict[str, Any]:
        """The dict uwsgi_config returns for the app (its RETURN `apps` entry)."""
        out = dataclasses.asdict(self)
        del out["name"]
        out["changed"] = list(self.changed)
        out["left_out"] = [dict(item) for item in self.left_out]
        if self.release is None:
            del out["release"]
        return out

    def with_changed(self, kinds: Any) -> "AppRecord":
        """The same record with `changed` set to these kinds, in KINDS order."""
        kinds = set(kinds)
        return dataclasses.replace(self, changed=tuple(kind for kind in KINDS if kind in kinds))

    @property
    def units(self) -> List[str]:
        """Its service unit and its socket unit."""
        return [self.unit, self.socket_unit]

    @property
    def health_enabled(self) -> bool:
        return bool(self.health.get("enabled", True))

    @property
    def release_pending(self) -> bool:
        """A release to switch to, or a chain reload an earlier run left unfinished."""
        return bool((self.release or {}).get("switch") or (self.release or {}).get("finish"))


def records(results: Optional[Mapping[str, Mapping[str, Any]]]) -> Dict[str, AppRecord]:
    """{name: AppRecord} of uwsgi_config's `apps` result, in its order."""
    return {name: AppRecord.from_result(name, result) for name, result in (results or {}).items()}


def results(apps: Mapping[str, AppRecord]) -> Dict[str, Dict[str, Any]]:
    """uwsgi_config's `apps` result of the records."""
    return {name: record.to_result() for name, record in apps.items()}
