# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The privilege policy of the role's inputs: the app's identity and privilege are the role's alone.

unit_hardening sets only an allow-list of sandboxing directives, an ambient capability is at most
CAP_NET_BIND_SERVICE, no service account is root and no service group grants privilege. Plain functions
of plain data.
"""

from __future__ import annotations

import re

from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_fields import ACCOUNT_NAME
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_injection import UNIT_KEY, breaks, key_path, value_items
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_validate_jinja import (
    to_json, is_str, as_dict,
)

# The directives unit_hardening (the role's and an app's) may set: systemd's sandboxing and resource
# limits (every key of the role's default uwsgi_production_unit_hardening is one). The app's user and
# groups, its commands, environment and everything else in its unit are the role's alone.
SANDBOXING = frozenset((
    # The role's default sandbox (defaults/main.yml).
    "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
    "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock", "ProtectHostname", "ProtectControlGroups", "ProtectProc",
    "ProcSubset", "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality",
    "MemoryDenyWriteExecute", "RemoveIPC", "CapabilityBoundingSet", "AmbientCapabilities", "SystemCallFilter",
    "SystemCallArchitectures", "SystemCallErrorNumber", "UMask",
    # The file system.
    "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths", "TemporaryFileSystem",
    "BindReadOnlyPaths", "PrivateMounts",
    # Devices, users, IPC, the network.
    "DevicePolicy", "DeviceAllow", "PrivateUsers", "PrivateIPC", "PrivateNetwork", "KeyringMode", "IPAddressAllow",
    "IPAddressDeny", "RestrictNetworkInterfaces", "SocketBindAllow", "SocketBindDeny", "RestrictFileSystems",
    "SystemCallLog",
    # Resource limits.
    "LimitCPU", "LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitNOFILE", "LimitAS", "LimitNPROC",
    "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE", "MemoryHigh", "MemoryMax", "MemorySwapMax",
    "TasksMax", "CPUQuota", "CPUWeight", "IOWeight",
))
# Ambient capabilities are privileges the app's user holds (CAP_SETUID, for one, makes it root): only this.
AMBIENT_CAPABILITIES = frozenset(("CAP_NET_BIND_SERVICE",))
HARDENING_RULE = ("is not a sandboxing directive that unit_hardening may set (the allow-list is in the description of"
                  " uwsgi_production_unit_hardening): the app's user, groups, commands and environment are the role's"
                  " alone")
AMBIENT_RULE = ('may only be "" or CAP_NET_BIND_SERVICE: an ambient capability is a privilege of the app\'s user'
                " (CAP_SETUID or CAP_SYS_ADMIN, for one, make it root)")

# Groups that grant privilege on Debian (base-passwd's users-and-groups and common packages): a service
# group is never one of them.
PRIVILEGED_GROUPS = ("adm", "admin", "bin", "daemon", "dialout", "disk", "docker", "input", "kmem", "kvm", "libvirt", "lp",
                     "lxd", "operator", "root", "shadow", "staff", "sudo", "sys", "systemd-journal", "tty", "utmp", "wheel")
PRIVILEGED_RULE = "must not be root or a group that grants privilege (%s): %%s" % ", ".join(PRIVILEGED_GROUPS)
ACCOUNT_RULE = ("must be a system account name (1-32 lowercase letters, digits, '_' or '-', not starting with a digit"
                " or '-')")


# --- Identity and privilege are the role's alone --------------------------------------------------------
def _hardening_violations(base, hardening):
    for key, value in as_dict(hardening).items():
        if not (isinstance(key, str) and re.fullmatch(UNIT_KEY, key)):
            continue  # the file structure rule reports it
        path = key_path(base, key)
        if key not in SANDBOXING:
            yield "%s = %s %s." % (path, to_json(value), HARDENING_RULE)
        elif key == "AmbientCapabilities":
            items = [item for _path_, item in value_items(path, value) if item is not None]
            if not all(isinstance(item, str) and set(item.split()) <= AMBIENT_CAPABILITIES for item in items):
                yield "%s = %s %s." % (path, to_json(value), AMBIENT_RULE)


def _unit_hardening(inputs):
    yield from _hardening_violations("uwsgi_production_unit_hardening", inputs.get("unit_hardening"))
    for index, app in inputs.deployed:
        yield from _hardening_violations("uwsgi_production_apps[%d].unit_hardening" % index, app.get("unit_hardening"))


def _broken_text(value):
    return is_str(value) and breaks(value)


def _account_name(value):
    return is_str(value) and re.fullmatch(ACCOUNT_NAME.strip("^$"), value) is not None


def _service_accounts(inputs):
    # (A name with a line break is the file structure rule's.)
    user, group = inputs.get("user"), inputs.get("group")
    if not (_account_name(user) and user != "root") and not _broken_text(user):
        yield "uwsgi_production_user = %s %s and not root: uWSGI never runs as root." % (to_json(user), ACCOUNT_RULE)
    if not _account_name(group) and not _broken_text(group):
        yield "uwsgi_production_group = %s %s." % (to_json(group), ACCOUNT_RULE)
    elif group in PRIVILEGED_GROUPS:
        yield "uwsgi_production_group = %s %s." % (to_json(group), PRIVILEGED_RULE % "every app that runs with it has its rights")
    for index, app in inputs.deployed:
        base = "uwsgi_production_apps[%d]" % index
        # The app's group: its own, else the one named like its own user (the account rule reports names
        # that are not usable, and root).
        key = "group" if app.get("group") else "user" if app.get("user") else None
        value = app.get(key) if key else None
        if _account_name(value) and value in PRIVILEGED_GROUPS and value != "root":
            why = ("the app's processes run with its rights" if key == "group" else
                   "it also names the app's group (the app sets no group), whose rights the app's processes have")
            yield "%s.%s = %s %s." % (base, key, to_json(value), PRIVILEGED_RULE % why)
        socket_group = app.get("socket_group")
        if socket_group is None:
            continue
        if not _account_name(socket_group) and not _broken_text(socket_group):
            yield ("%s.socket_group = %s %s: it is the group of the app's socket and one of the app's groups."
                   % (base, to_json(socket_group), ACCOUNT_RULE))
        elif socket_group in PRIVILEGED_GROUPS:
            yield ("%s.socket_group = %s %s." % (base, to_json(socket_group),
                                                 PRIVILEGED_RULE % "the app's processes get it as a supplementary group"))


def _stats_group(inputs):
    """uwsgi_production_stats_group: a group name (it reaches each app's unit and ini), not a privileged one."""
    group = inputs.get("stats_group")
    if group is None or _broken_text(group):
        return
    if not _account_name(group):
        yield ("uwsgi_production_stats_group = %s %s: it is the group of every app's stats socket and one of every "
               "app's groups." % (to_json(group), ACCOUNT_RULE))
    elif group in PRIVILEGED_GROUPS:
        yield "uwsgi_production_stats_group = %s %s." % (to_json(group), PRIVILEGED_RULE % "every app's processes get it as a supplementary group")


RULES = (_unit_hardening, _service_accounts, _stats_group)
