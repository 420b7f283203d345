# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The executors' plans: what uwsgi_service and uwsgi_rollback do to each app, from its record and systemd.

Pure functions over uwsgi_record.AppRecord and the {unit: {ActiveState, SubState, UnitFileState}} that
uwsgi_systemd.Systemd.show answers; tests/unit/plugins/test_uwsgi_plan.py runs them, and the module
against a fake runner.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_actions as actions

Shown = Mapping[str, Mapping[str, str]]


@dataclasses.dataclass(frozen=True)
class AppPlan:
    """What the service step does to one app, in this order.

    stop_unit     its listening sockets change and it runs: it lets go of them first (`stop`)
    drop_socket   it no longer uses socket activation: its socket unit is stopped and disabled
    socket_verb   under socket activation, `start` or `restart` for its socket unit, or None
    enable_socket under socket activation, its socket unit is not enabled yet
    action        start, restart, reload or none (uwsgi_actions.choose_action; ACTIONS says how)
    enable_unit   its service unit is not enabled yet
    """

    name: str
    action: str
    was_running: bool
    stop_unit: bool = False
    drop_socket: bool = False
    socket_verb: Optional[str] = None
    enable_socket: bool = False
    enable_unit: bool = False

    @property
    def socket_changes(self) -> bool:
        """Whether the app's sockets change (let go of, started, restarted or enabled)."""
        return self.stop_unit or self.drop_socket or bool(self.socket_verb) or self.enable_socket


def needs_daemon_reload(apps: Mapping[str, Any]) -> bool:
    """Whether systemd must read changed units before the plan is made: a unit or socket unit changed."""
    return any(set(record.changed) & {"unit", "socket"} for record in apps.values())


def plan_app(record: Any, shown: Shown, install_changed: bool = False, packages_changed: bool = False) -> AppPlan:
    """The plan for one app (an AppRecord), from what `systemctl show` says of its units."""
    unit, sock = shown.get(record.unit, {}), shown.get(record.socket_unit, {})
    was_running = unit.get("SubState") == "running"
    changed = set(record.changed)
    action = actions.choose_action(was_running, changed, record.restart_needed, install_changed, packages_changed,
                                   record.unit_restart, record.socket_restart)
    # A socket unit changed in its stop directives alone keeps its sockets: daemon-reload applies it.
    socket_changed = "socket" in changed and record.socket_restart
    socket_verb, enable_socket = None, False
    if record.activated:
        active = sock.get("ActiveState") == "active"
        # systemd binds a socket unit's addresses itself: changed ones need a restart of the socket unit.
        socket_verb = ("restart" if active else "start") if socket_changed else (None if active else "start")
        enable_socket = sock.get("UnitFileState") != "enabled"
    return AppPlan(
        name=record.name, action=action, was_running=was_running,
        stop_unit=socket_changed and was_running, drop_socket=socket_changed and not record.activated,
        socket_verb=socket_verb, enable_socket=enable_socket, enable_unit=unit.get("UnitFileState") != "enabled")


def plan_service(apps: Mapping[str, Any], shown: Shown, install_changed: bool = False,
                 packages_changed: Iterable[str] = ()) -> Dict[str, AppPlan]:
    """{name: AppPlan} of every app ({name: AppRecord}), in order."""
    packages = set(packages_changed)
    return {name: plan_app(record, shown, install_changed, name in packages) for name, record in apps.items()}


def changes(apps: Mapping[str, Any], plans: Mapping[str, AppPlan]) -> bool:
    """Whether the plan changes anything on the host (what check mode reports)."""
    return any("socket" in apps[name].changed or plan.socket_changes or plan.action != "none" or plan.enable_unit
               for name, plan in plans.items())


def units_to_enable(apps: Mapping[str, Any], plans: Mapping[str, AppPlan]) -> List[str]:
    """The service units to enable at boot, all in one call."""
    return [apps[name].unit for name, plan in plans.items() if plan.enable_unit]


def to_apply(plans: Mapping[str, AppPlan], failed: Iterable[str] = ()) -> List[str]:
    """The apps whose action is carried out: any but none, and not one whose socket unit already failed."""
    failed = set(failed)
    return [name for name, plan in plans.items() if plan.action != "none" and name not in failed]


@dataclasses.dataclass(frozen=True)
class RollbackApp:
    """What the rollback does for one app whose files the failed run changed.

    restore       it has a last good configuration: its files are put back (else it is new: stopped)
    touched       the service step started, reloaded or restarted it, or tried to
    let_go        its listening sockets changed: it and its socket unit are stopped before its files go back
    reload_units  a unit, socket unit or secrets file changed: systemd reads the units again
    bring_back    it is started again on its last good files (touched, or stopped to let go of its sockets)
    action        what the service step chose for it (a rollback reloads only after a reload)
    enabled       the units the service step enabled: disabled again before the files go back
    disabled      the units the service step disabled: enabled again once the files are back
    """

    name: str
    restore: bool
    touched: bool
    let_go: bool
    reload_units: bool
    action: str = "none"
    enabled: Tuple[str, ...] = ()
    disabled: Tuple[str, ...] = ()

    @property
    def bring_back(self) -> bool:
        return self.restore and (self.touched or self.let_go)


def plan_rollback(apps: Mapping[str, Any], service: Optional[Mapping[str, Any]],
                  has_last_good: Iterable[str]) -> Dict[str, RollbackApp]:
    """{name: RollbackApp} of the apps ({name: AppRecord}) whose files the failed run changed, in order.

    service        uwsgi_service's result in the failed run ({} when it did not run): `touched`, and per app
                   its `action` and the units whose enablement it changed (`enabled`, `disabled`)
    has_last_good  the apps with a last good configuration to go back to
    """
    service = service or {}
    touched, good = set(service.get("touched") or ()), set(has_last_good)
    done = service.get("apps") or {}
    plans = {}
    for name, record in apps.items():
        kinds = set(record.changed)
        if not kinds:
            continue
        entry = done.get(name) or {}
        plans[name] = RollbackApp(
            name=name, restore=name in good, touched=name in touched, let_go="socket" in kinds and record.socket_restart,
            reload_units=bool(kinds & {"unit", "socket", "env"}), action=entry.get("action", "none"),
            enabled=tuple(entry.get("enabled") or ()), disabled=tuple(entry.get("disabled") or ()))
    return plans


def serving(health: Optional[Mapping[str, Any]], active_state: str, error: Optional[str] = None) -> bool:
    """Whether an app serves after the rollback: it came back (no error) and passed its health check, or,
    with the check off (health None), systemd says it is active."""
    if error is not None:
        return False
    if health is None:
        return active_state == "active"
    return "msg" not in health
