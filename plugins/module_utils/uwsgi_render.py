# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The text of each file the role writes for an app: its ini, systemd unit, socket unit and secrets file.

Byte for byte what the role's Jinja templates of release 0.1.0 wrote, so a host configured by it
converges with nothing to change (tests/unit/plugins/test_uwsgi_render.py compares them). Every value
reaching these files has passed the validator (plugins/module_utils/uwsgi_validate.py).
"""

from __future__ import annotations

from typing import Any, List, Mapping, Tuple, Union

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model

DEFAULT_MANAGED = "Ansible managed"

# One line of a file as the renderer means it: a literal line, or a (key, value) pair it writes as
# `key = value` (ini) or `key=value` (unit). The validator (uwsgi_validate_injection) parses each file's text
# as uWSGI or systemd would and requires that it reads exactly these lines, whatever the values.
Line = Union[str, Tuple[str, str]]
INI_SEPARATOR = " = "
UNIT_SEPARATOR = "="


def text(lines: List[Line], separator: str) -> str:
    """The text of a file from its lines."""
    return "".join(("%s%s%s" % (line[0], separator, line[1]) if isinstance(line, tuple) else line) + "\n"
                   for line in lines)


def comment(text: str, decoration: str = "# ") -> str:
    """Ansible's `comment` filter, plain style: the text between two bare decoration lines."""
    bare = decoration.rstrip()
    lines = [bare] + [(decoration + line).rstrip() if line else bare for line in text.splitlines()] + [bare]
    return "\n".join(lines)


def _items(value: Any) -> List[Any]:
    """A list repeats its key; anything else (a dict too) is one item."""
    return list(value) if model.is_list(value) else [value]


def ini(app: Mapping[str, Any], options: Mapping[str, Any], managed: str = DEFAULT_MANAGED) -> str:
    """The generic ini loop: one `key = value` line per option and list item; true/false are booleans;
    None and '' are left out."""
    return text(ini_lines(app, options, managed), INI_SEPARATOR)


def ini_lines(app: Mapping[str, Any], options: Mapping[str, Any], managed: str = DEFAULT_MANAGED) -> List[Line]:
    """The lines of ini(): its options as (key, value) pairs."""
    name = app["name"]
    lines = comment(managed, "; ").split("\n") + [
        '; uWSGI app "%s", run by %s.' % (name, model.unit_name(name)),
        "; One line per option: a list repeats its key; true/false are booleans. Edit the role's variables,",
        "; not this file.",
        "[uwsgi]",
    ]
    lines += model.option_lines(options)
    return lines


def _systemd_env_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def _shell_env_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def service(app: Mapping[str, Any], role: Mapping[str, Any], options: Mapping[str, Any], has_secrets: bool,
            managed: str = DEFAULT_MANAGED) -> str:
    """The app's systemd unit (uwsgi-<name>.service): its [Unit], [Service] and [Install] sections, in
    the steps below, in this order."""
    return text(service_lines(app, role, options, has_secrets, managed), UNIT_SEPARATOR)


def service_lines(app: Mapping[str, Any], role: Mapping[str, Any], options: Mapping[str, Any], has_secrets: bool,
                  managed: str = DEFAULT_MANAGED) -> List[Line]:
    """The lines of service(): the sandbox's directives as (key, value) pairs."""
    name = app["name"]
    paths = model.paths(role, name)
    effective = model.effective_options(app, role)
    activated = model.activated(app, role, effective)
    out = _service_unit_section(name, paths["ini"], activated, managed, model.json_logs(role))
    out += _service_identity(app, role, effective)
    out += _service_environment(app, paths["env"], has_secrets)
    out += _service_directories(app, name)
    out += _service_commands(role, paths["ini"], activated, options)
    out += _service_stop(app, role, model.runtime_name(name))
    out += _service_hardening(app, role)
    out += ["", "[Install]", "WantedBy=multi-user.target"]
    return out


def _service_unit_section(name: str, ini_path: str, activated: bool, managed: str, json_logs: bool) -> List[Line]:
    """The header and [Unit]: under socket activation, the socket unit it requires and no start limit."""
    out = comment(managed).split("\n") + [
        '# uWSGI app "%s" (%s).' % (name, ini_path),
        "",
        "[Unit]",
        "Description=uWSGI app %s" % name,
        "Documentation=https://uwsgi-docs.readthedocs.io/",
        "After=network.target",
    ]
    if activated:
        out += [
            "# systemd holds the listening sockets across restarts (socket activation).",
            "Requires=%s" % model.socket_unit_name(name),
            "After=%s" % model.socket_unit_name(name),
            "# No start limit: when a reload fails (the new ini's app cannot be imported), connections waiting in",
            "# the socket start the service again at once. With systemd's limit (5 starts in 10 s) the socket unit",
            "# would then fail and reset every waiting connection before the role's rollback puts the last good",
            "# ini back; without it, the next start after the rollback serves them. RestartPreventExitStatus=22",
            "# still keeps systemd itself from restarting a missing app in a loop.",
            "StartLimitIntervalSec=0",
        ]
    if json_logs:
        out += [
            "# JSON logs (uwsgi_production_json_logs): the host's encoder listens on %s before uWSGI logs." % model.JSONLOG_SOCKET,
            "Wants=%s" % model.JSONLOG_SOCKET_UNIT,
            "After=%s" % model.JSONLOG_SOCKET_UNIT,
        ]
    return out


def _service_identity(app: Mapping[str, Any], role: Mapping[str, Any], effective: Mapping[str, Any]) -> List[str]:
    """[Service]'s start: notify type, the service user and group, and the groups its sockets go to."""
    group = model.app_group(app, role)
    out = [
        "",
        "[Service]",
        '# uWSGI itself sends READY=1 once the app is imported, so "started" means "serving".',
        "Type=notify",
        "# Notifications may come from a process other than the master.",
        "NotifyAccess=all",
        "User=%s" % model.app_user(app, role),
        "Group=%s" % group,
    ]
    sock_group = model.socket_group(app, role)
    if sock_group != group:
        out += ["# Lets uWSGI give its socket to the web server's group.", "SupplementaryGroups=%s" % sock_group]
    metrics_group = model.stats_group(app, role, effective)
    if metrics_group:
        out += ["# Lets uWSGI give its stats socket to the metrics exporter's group (uwsgi_production_stats_group).",
                "SupplementaryGroups=%s" % metrics_group]
    return out


def _service_environment(app: Mapping[str, Any], env_path: str, has_secrets: bool) -> List[str]:
    """The app's environment (Environment= lines) and its secrets file (EnvironmentFile=)."""
    out = []
    for index, (key, value) in enumerate((app.get("environment") or {}).items()):
        if index == 0:
            out.append("# The app's environment (its `environment`; not for secrets: `systemctl show` prints these).")
        out.append('Environment="%s=%s"' % (key, _systemd_env_value(value)))
    if has_secrets:
        out += [
            "# The app's secrets (uwsgi_production_secrets): read by systemd as root from a 0600 root-owned file.",
            "EnvironmentFile=%s" % env_path,
        ]
    return out


def _service_directories(app: Mapping[str, Any], name: str) -> List[str]:
    """The runtime directory, and the state directory of the app's persistent cache stores."""
    runtime = model.runtime_name(name)
    out = [
        "# /run/%s: socket, pidfile2, stats socket and master fifo, owned by" % runtime,
        "# the service user. Kept across stops: uWSGI's vacuum, or the ExecStopPost= below, cleans it, not systemd.",
        "RuntimeDirectory=%s" % runtime,
        "# Traversable so a web server can reach the socket; the socket itself is 0660 and the other files",
        "# are not readable by others (UMask 0027, fifo 0600).",
        "RuntimeDirectoryMode=0755",
        "RuntimeDirectoryPreserve=yes",
    ]
    if model.cache_stores(app):
        out += [
            "# %s: the persistent cache stores, owned by the service user and" % model.state_dir(name),
            "# writable under ProtectSystem=strict. systemd keeps it when the app stops.",
            "StateDirectory=%s" % runtime,
            "StateDirectoryMode=0750",
        ]
    return out


def _service_commands(role: Mapping[str, Any], ini_path: str, activated: bool,
                      options: Mapping[str, Any]) -> List[str]:
    """ExecStart=, ExecReload= and, with a master fifo, the graceful ExecStop=."""
    uwsgi = model.binary(role)
    if activated:
        out = [
            "# uWSGI would also pick systemd's sockets up by itself from LISTEN_FDS, as uwsgi-protocol sockets,",
            "# and so register each socket twice (an http socket once as uwsgi); the ini's fd:// lines are the one",
            "# place that names them, with their protocols.",
            "ExecStart=/usr/bin/env -u LISTEN_PID -u LISTEN_FDS -u LISTEN_FDNAMES %s --ini %s" % (uwsgi, ini_path),
        ]
    else:
        out = ["ExecStart=%s --ini %s" % (uwsgi, ini_path)]
    out.append("ExecReload=/bin/kill -HUP $MAINPID")
    fifo = options.get("master-fifo")
    if isinstance(fifo, str):
        out += [
            '# A graceful stop: "q" on the master fifo lets every worker finish its request (bounded by',
            "# worker-reload-mercy), where SIGTERM with die-on-term cuts requests in progress. If the fifo does",
            "# not answer within 5 s, systemd goes on with KillSignal. When the master has already exited on its",
            "# own (systemd runs ExecStop then too), there is nothing to do and no fifo reader to wait for.",
            "ExecStop=/bin/sh -c 'if [ -n \"$MAINPID\" ] && kill -0 \"$MAINPID\" 2>/dev/null && timeout 5 sh -c \"echo q > %s\"; "
            "then while kill -0 \"$MAINPID\" 2>/dev/null; do sleep 0.02; done; fi; exit 0'" % fifo,
        ]
    return out


def _service_stop(app: Mapping[str, Any], role: Mapping[str, Any], runtime: str) -> List[str]:
    """What follows the stop (ExecStopPost=, the kill signal and mode), restarts and logging."""
    out = []
    cleanup = model.stop_cleanup(app, role)
    if cleanup:
        out += [
            "# systemd holds the sockets, so vacuum is off in the ini (it would only warn that the socket it did",
            "# not make changed inode); this removes what it would have: the pidfile2 and stats socket uWSGI made.",
            "# Run by systemd itself (+), outside the sandbox, as setting the sandbox up again would slow each stop.",
            "ExecStopPost=+/bin/rm -f -- %s" % " ".join(cleanup),
        ]
    out += [
        "# Then (or at once, without a master fifo) SIGTERM, which die-on-term turns into a shutdown",
        "# (exit 0, vacuum runs where uWSGI made the sockets).",
        "# NOT the SIGQUIT of uWSGI's docs: with die-on-term, SIGQUIT is a brutal reload and the stop",
        "# would hang until TimeoutStopSec and end in SIGKILL.",
        "KillSignal=SIGTERM",
        "# The master alone gets SIGTERM and reaps its workers; anything left after it exits is killed.",
        "KillMode=mixed",
        "# Longer than worker-reload-mercy, so uWSGI's own reaping always finishes first.",
        "TimeoutStopSec=%s" % role["stop_timeout"],
        "Restart=on-failure",
        "RestartSec=2",
        "# need-app exits 22 when the app cannot be imported: restarting would only loop.",
        "RestartPreventExitStatus=22",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=%s" % runtime,
    ]
    if model.json_logs(role):
        out += [
            "# The app's name on every line it writes to the journal itself (the encoder's lines carry it too).",
            "LogExtraFields=PYOPS_APP=%s" % app["name"],
        ]
    return out


def _service_hardening(app: Mapping[str, Any], role: Mapping[str, Any]) -> List[Line]:
    """The sandbox: one line per hardening key and list item; booleans as yes/no; None left out."""
    out: List[Line] = ["", "# Sandboxing (uwsgi_production_unit_hardening, the app's writable_paths and unit_hardening)."]
    for key, value in model.hardening(app, role).items():
        if value is None:
            continue
        for item in _items(value):
            out.append((key, ("yes" if item else "no") if isinstance(item, bool) else str(item)))
    return out


def socket(app: Mapping[str, Any], role: Mapping[str, Any], managed: str = DEFAULT_MANAGED) -> str:
    """The app's socket unit (uwsgi-<name>.socket), for an app under socket activation."""
    return text(socket_lines(app, role, managed), UNIT_SEPARATOR)


def socket_lines(app: Mapping[str, Any], role: Mapping[str, Any], managed: str = DEFAULT_MANAGED) -> List[Line]:
    """The lines of socket()."""
    name = app["name"]
    paths = model.paths(role, name)
    unit = model.unit_name(name)
    runtime = model.runtime_name(name)
    effective = model.effective_options(app, role)
    out = comment(managed).split("\n") + [
        '# The listening sockets of uWSGI app "%s", held by systemd and handed to' % name,
        "# %s: while the app restarts, connections wait in these sockets' queues" % unit,
        "# instead of being refused.",
        "",
        "[Unit]",
        "Description=uWSGI app %s: listening sockets" % name,
        "Documentation=https://uwsgi-docs.readthedocs.io/",
        "",
        "[Socket]",
        "# The runtime directory, owned as %s's RuntimeDirectory= wants it, before" % unit,
        "# the sockets are made in it: systemd would otherwise create it root-owned, and the service's start",
        "# would then chown it recursively, taking the socket group below away from the socket.",
        "ExecStartPre=/usr/bin/install -d -o %s -g %s -m 0755 /run/%s"
        % (model.app_user(app, role), model.app_group(app, role), runtime),
        "# uWSGI inherits these in this order as fd 3, 4, ... (%s names them)." % paths["ini"],
    ]
    for _kind, address in model.listen(effective):
        out.append("ListenStream=%s" % (address[1:] if address.startswith(":") else address))
    out += [
        "# Unix sockets: owned by the service user and the web server's group, like chown-socket/chmod-socket.",
        "SocketUser=%s" % model.app_user(app, role),
        "SocketGroup=%s" % model.socket_group(app, role),
        "SocketMode=0660",
    ]
    if effective.get("listen") is not None:
        out += [
            "# uWSGI's `listen`: the queue connections wait in (without it, systemd's default: net.core.somaxconn).",
            "Backlog=%s" % effective["listen"],
        ]
    out += [
        "# No trigger limit: while a failed reload is rolled back, the waiting connections start the service",
        "# again and again (it has no start limit either); systemd's default (20 triggers in 2 s) would fail",
        "# this socket and reset them.",
        "TriggerLimitIntervalSec=0",
        "# Stopped (%s stops first: it Requires= this unit), nothing of the app stays in /run:" % unit,
        "# systemd removes the unix sockets it made, then the runtime directory goes with what uWSGI left",
        "# in it (its master fifo). The next start makes both again (ExecStartPre= above).",
        "RemoveOnStop=yes",
        "ExecStopPost=/bin/rm -rf -- /run/%s" % runtime,
        "",
        "[Install]",
        "WantedBy=sockets.target",
    ]
    return out


def env_file(app: Mapping[str, Any], secrets: Mapping[str, Any], managed: str = DEFAULT_MANAGED) -> str:
    """The app's secret environment, read by systemd as root when it starts the app. Root-only."""
    return text(env_lines(app, secrets, managed), UNIT_SEPARATOR)


def env_lines(app: Mapping[str, Any], secrets: Mapping[str, Any], managed: str = DEFAULT_MANAGED) -> List[str]:
    """The lines of env_file()."""
    name = app["name"]
    out = comment(managed).split("\n") + [
        '# The secret environment of uWSGI app "%s" (uwsgi_production_secrets), read by systemd' % name,
        "# as root when it starts %s. Root-only (0600)." % model.unit_name(name),
    ]
    for key, value in secrets.items():
        out.append('%s="%s"' % (key, _shell_env_value(value)))
    return out
