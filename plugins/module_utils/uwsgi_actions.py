# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Which action applies a run's change to an app: the table of docs "Safe changes", as a function.

tests/unit/plugins/test_uwsgi_actions.py holds that table.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, NamedTuple, Optional, Tuple


class Action(NamedTuple):
    """How the service step carries out an action: the `systemctl` verb (None: nothing to run), the state
    systemd_service would name it by, and whether the health check first waits for the master to make its
    reload marker (fifo) anew."""

    verb: Optional[str]
    state: str
    waits_for_marker: bool = False


# The table of actions: one more action is one more row (and, for one that is not a systemctl verb, its
# runner in uwsgi_service.APPLY).
ACTIONS = {
    "start": Action("start", "started"),
    "restart": Action("restart", "restarted"),
    "reload": Action("reload", "reloaded", waits_for_marker=True),
    "none": Action(None, "started"),
}
# What `systemctl` does for each action, and the state systemd_service would name it by.
SYSTEMCTL = {name: action.verb for name, action in ACTIONS.items()}
STATES = {name: action.state for name, action in ACTIONS.items()}
# The files read only when the app starts: a change to one restarts it.
RESTART_KINDS = frozenset(("unit", "socket", "env", "tls"))
# The unit directives systemd reads only when it stops the app: a unit change in these lines alone (and its
# comments) is applied by daemon-reload, which the service step runs for any changed unit; the app itself
# needs no restart for it.
STOP_DIRECTIVES = ("ExecStop=", "ExecStopPost=", "TimeoutStopSec=")
# The same for a socket unit: what systemd does when it stops the socket unit (removes the unix sockets it
# made, then runs ExecStopPost=). A socket unit changed in these alone keeps its listening sockets: no restart
# of it (which would refuse connections while it is down), daemon-reload applies the change.
SOCKET_STOP_DIRECTIVES = ("ExecStopPre=", "ExecStopPost=", "RemoveOnStop=")


def unit_restart_needed(good_unit: Optional[str], unit: Optional[str],
                        stop_directives: Tuple[str, ...] = STOP_DIRECTIVES) -> bool:
    """Whether a change from the app's last good unit text (what last served; '' for none) to `unit` (None: the
    unit goes away) needs a restart: any changed line but a comment, a blank line or a stop directive
    (STOP_DIRECTIVES; SOCKET_STOP_DIRECTIVES for a socket unit)."""
    if not good_unit or unit is None:
        return True
    old, new = good_unit.splitlines(), unit.splitlines()
    changed = [line for line in old if line not in new] + [line for line in new if line not in old]
    return any(line.strip() and not line.startswith("#") and not line.startswith(stop_directives) for line in changed)


def socket_restart_needed(good_socket_unit: Optional[str], socket_unit: Optional[str]) -> bool:
    """Whether a change from the app's last good socket unit to `socket_unit` (None: none any more) needs its
    socket unit restarted, and the app stopped first: any change but one in its stop directives alone."""
    return unit_restart_needed(good_socket_unit, socket_unit, SOCKET_STOP_DIRECTIVES)


def choose_action(was_running: bool, changed: Iterable[str], restart_needed: bool = False, install_changed: bool = False,
                  packages_changed: bool = False, unit_restart: bool = True, socket_restart: bool = True) -> str:
    """The gentlest action that applies this run's change to one app.

    was_running      the app was running before the run touched it
    changed          which of its files this run wrote or removed: a subset of ini, unit, socket, env, tls
    restart_needed   an option a graceful reload cannot apply differs from the app's last good ini
    install_changed  this run changed the uWSGI install (a new build, Debian's packages newly installed)
    packages_changed this run installed or upgraded the app's packages or requirements
    unit_restart     a unit change needs a restart (unit_restart_needed); when only its stop directives
                     changed, daemon-reload applies it and the app is reloaded instead (so that the change
                     is health-checked and kept as last good like any other)
    socket_restart   a socket unit change needs a restart (socket_restart_needed); when only its stop directives
                     changed, likewise daemon-reload and a reload

      start    the app was not running (new, stopped or failed)
      restart  its unit, socket unit or secrets file changed (systemd reads them when the app starts), its TLS
               certificate or key (uWSGI reads them when it starts, not on a reload), the
               uWSGI binary changed, or an ini option that a reload cannot apply changed
      reload   only options a graceful reload applies changed, or the app's packages (a reload loads the
               new code)
      none     nothing changed
    """
    changed = set(changed)
    if not was_running:
        return "start"
    restart_kinds = changed & RESTART_KINDS
    # Unit and socket unit changes that systemd only reads when it stops them (daemon-reload applies them).
    at_stop = {kind for kind, needed in (("unit", unit_restart), ("socket", socket_restart)) if not needed}
    stop_only = bool(restart_kinds) and restart_kinds <= at_stop
    if install_changed or (restart_kinds and not stop_only) or ("ini" in changed and restart_needed):
        return "restart"
    if "ini" in changed or packages_changed or stop_only:
        return "reload"
    return "none"


def settled(changed: Iterable[str], unit: Mapping[str, str], socket_unit: Mapping[str, str], activated: bool,
            last_good_current: bool, install_changed: bool = False, packages_changed: bool = False) -> bool:
    """Whether the service step has nothing to do for one app, so that a run that changes nothing need
    not call it: no file of the app changed since its last good configuration, its action would be none
    (running, no new binary, no new packages), its unit is enabled, its socket unit (under socket
    activation) active and enabled, and its last good copies and health record are current.

    unit, socket_unit  what `systemctl show` says of each: {ActiveState, SubState, UnitFileState}
    """
    if choose_action(unit.get("SubState") == "running", changed, False, install_changed, packages_changed) != "none":
        return False
    if unit.get("UnitFileState") != "enabled" or not last_good_current:
        return False
    if activated and (socket_unit.get("ActiveState") != "active" or socket_unit.get("UnitFileState") != "enabled"):
        return False
    return True


def rollback_action(still_active: bool, action: str, changed: Iterable[str]) -> str:
    """How an app goes back to its last good configuration after a failed run: a reload if it is still
    running and only its ini changed in a way a reload applies (so it keeps serving); else a restart."""
    if still_active and action == "reload" and not set(changed) & RESTART_KINDS:
        return "reload"
    return "restart"


def app_line(name: str, entry: Optional[Mapping[str, Any]], path: str) -> str:
    """How one app whose last good files were put back went back (entry: its outcome, None if not applied)."""
    text = "- app '%s': files restored" % name
    if entry is None:
        return text + ", before they were applied."
    if entry["error"] is not None:
        return text + "; bringing it back FAILED: %s" % entry["error"]
    text += ", then %s" % entry["state"]
    health = entry["health"]
    if health is None:
        return text + " (health check off)."
    if "msg" in health:
        return text + ", but it STILL FAILS its health check: %s" % health["msg"]
    return text + "; it answers again (GET %s -> %s)." % (path, health["status"])


def default_serving(entry: Optional[Mapping[str, Any]]) -> bool:
    """Whether an app serves, from its outcome alone (None: not applied, so as it was)."""
    if entry is None:
        return True
    return entry["error"] is None and "msg" not in (entry["health"] or {})


def with_state(text: str, up: bool, problems: Optional[List[str]]) -> str:
    """An app's line, then what systemctl refused during the rollback, then the app's state."""
    text += "" if text.endswith(".") else "."
    if problems:
        text += " systemctl FAILED during the rollback: %s." % "; ".join(problems)
    return text + (" Now: serving." if up else " Now: DOWN.")


def rollback_report(failure: str, host: str, last_good_dir: str, rolled_back: List[str],
                    outcome: Mapping[str, Mapping[str, Any]], paths: Mapping[str, str], new: List[str],
                    stopped: List[str], unrestored: Optional[Mapping[str, str]] = None,
                    serving: Optional[Mapping[str, bool]] = None,
                    problems: Optional[Mapping[str, List[str]]] = None) -> str:
    """The message of a failed run: what failed, then how each app went back, answered, and is now.

    rolled_back  the apps whose last good files were put back, in order
    outcome      per app brought back: {state, error, health} (health: the check's result, with `msg` when
                 it still fails; None when the check is off); an app missing here was not applied yet
    paths        per app, its health check's path
    new          the apps this run changed that had no last good configuration
    stopped      of those, the ones that were running and were stopped
    unrestored   per app whose last good files could not be put back (a full or read-only file system),
                 why: it was left as it was, running
    serving      per app, whether it serves now (default: from its outcome)
    problems     per app, what each systemctl call of the rollback that failed said
    Only the apps that serve again are said to be rolled back; the others are listed as NOT back.
    """
    serving, problems = dict(serving or {}), problems or {}
    up = {name: serving.get(name, default_serving(outcome.get(name))) for name in rolled_back}
    lines = [failure]
    sections = (("Rolled back to the last good configuration on host %s (kept in %s):", True),
                ("Last good files put back, but NOT serving again on host %s (kept in %s):", False))
    for header, state in sections:
        names = [name for name in rolled_back if up[name] is state]
        if names:
            lines.append(header % (host, last_good_dir))
        for name in names:
            lines += [with_state(app_line(name, outcome.get(name), paths[name]), up[name], problems.get(name)), ""]
    if unrestored:
        lines.append("Could NOT roll back on host %s (the last good configuration is kept in %s):" % (host, last_good_dir))
        for name, error in unrestored.items():
            text = "- app '%s': putting its last good files back failed, so it was left as it was: %s" % (name, error)
            lines += [with_state(text, serving.get(name, True), problems.get(name)) if name in serving or
                      problems.get(name) else text, ""]
    if new:
        lines.append("No earlier configuration to roll back to for app(s) %s (new to host %s):%s"
                     % (", ".join(new), host, " stopped." if stopped else " left stopped."))
        for name in new:
            if problems.get(name):
                lines.append("- app '%s': systemctl FAILED while stopping it: %s." % (name, "; ".join(problems[name])))
    return "\n".join(lines).rstrip("\n")


def first_release_line(name: str, error: Optional[str], brought: Optional[Mapping[str, Any]]) -> str:
    """The release report's line of an app whose first release failed: there is no release to go back to. It
    serves again only when the configuration's rollback brought it back (`brought`: the configuration it had before
    its releases) and it answers; otherwise it is DOWN (a new app is stopped, or it is left on the failed release)."""
    problem = (brought or {}).get("error") or ((brought or {}).get("health") or {}).get("msg")
    if brought and not problem:
        return ("- app '%s': its first release failed and it has no earlier release (%s); it was brought back with its "
                "last good configuration, from before its releases, and runs again." % (name, error))
    return ("- app '%s': NOT rolled back: %s; it is DOWN: its first release failed and there is no earlier release "
            "to serve%s." % (name, error, (" (%s)" % problem) if problem else ""))


def release_report(text: str, host: str, reverted: Optional[Mapping[str, Mapping[str, Any]]],
                   outcome: Mapping[str, Any]) -> str:
    """The rollback's message with, per app this run had switched to a new release, which release it was pointed
    back at and whether it serves again. An app brought back by the configuration's rollback (`outcome`, keyed by
    app) serves again only when that rollback says so; one that answers nothing is named as DOWN. An entry's
    `health` is its health check's result, None when its check is off."""
    if not reverted:
        return text
    lines = [text, "", "Releases on host %s:" % host]
    for name, entry in reverted.items():
        back, error = entry.get("release"), entry.get("error")
        if not back:
            lines.append(first_release_line(name, error, outcome.get(name)))
            continue
        health = entry.get("health")
        if entry.get("action") == "service":
            brought = outcome.get(name) or {}
            health = brought.get("health")
            error = brought.get("error") or (health or {}).get("msg") or (None if brought else "it was not brought back")
        if error:
            lines.append("- app '%s': pointed back at release %s, but it is DOWN: %s" % (name, back, error))
        else:
            how = {"chain": "its workers moved back one at a time (chain reload)", "restart": "restarted",
                   "service": "brought back with its last good configuration"}[entry.get("action")]
            # health: the check's result, None when the app's health check is off (then nothing was asked).
            answers = "it answers its health check again" if health else "it runs again (health check off)"
            lines.append("- app '%s': rolled back to release %s, %s; %s." % (name, back, how, answers))
    return "\n".join(lines)
