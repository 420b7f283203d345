# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""HOST:PORT, the one parser of the TCP addresses an app listens on (http-socket, https-socket, a uwsgi
socket, its stats server) and that the role asks it on (the health check).

The forms uWSGI takes: ``127.0.0.1:8080`` (IPv4), ``[::1]:8080`` (IPv6, in brackets), ``localhost:8080``
(a hostname), ``:8080``, ``0.0.0.0:8080`` or ``*:8080`` (every IPv4 address) and ``[::]:8080``.
systemd's ``ListenStream=`` (the socket unit, under socket activation) takes the literal addresses and a
bare port only: no hostname, no ``*``. Plain functions of plain data, tested in-process
(tests/unit/plugins/test_uwsgi_address.py).
"""

from __future__ import annotations

import ipaddress
import re

from dataclasses import dataclass
from typing import Optional, Tuple

# HOST:PORT as written: a bracketed IPv6 address or a host without ':' (maybe empty), then 1-5 digits.
HOST_PORT = re.compile(r"(?P<host>\[[^\[\]]*\]|[^\[\]:]*):(?P<port>[0-9]{1,5})")
HOSTNAME_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# The hosts that mean every address, and where the role asks an app that listens on them.
ANY_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "[::]": "[::1]"}
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Address:
    """A parsed HOST:PORT. `host` as written (brackets kept); `kind` is any, ipv4, ipv6 or hostname."""

    host: str
    port: int
    kind: str

    @property
    def bare_host(self) -> str:
        """The host without an IPv6 address's brackets."""
        return self.host[1:-1] if self.host.startswith("[") else self.host


def split(text: object) -> Optional[Tuple[str, int]]:
    """(host as written, port) of HOST:PORT, or None when `text` is not of that form (the port is not
    checked against its range here)."""
    found = HOST_PORT.fullmatch(text) if isinstance(text, str) else None
    return (found.group("host"), int(found.group("port"))) if found else None


def port(text: object) -> Optional[int]:
    """The port of HOST:PORT, or None (what the apps bind, for the rule that no two apps share one)."""
    parts = split(text)
    return parts[1] if parts else None


def host_kind(host: str) -> Tuple[str, str]:
    """(kind, why not): the kind of a host as written (any, ipv4, ipv6 or hostname), or ('', the rule it
    breaks)."""
    if host in ANY_HOSTS:
        return "any", ""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "", "%s is not an IPv6 address" % host
        return "ipv6", ""
    if re.fullmatch(r"[0-9.]+", host):
        octets = host.split(".")
        if len(octets) != 4 or not all(octet and int(octet) <= 255 for octet in octets):
            return "", "%s is not an IPv4 address (four numbers from 0 to 255, separated by '.')" % host
        return "ipv4", ""
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(HOSTNAME_LABEL.fullmatch(label) for label in labels):
        return "", ("%s is not a hostname (labels of letters, digits and '-', not starting or ending with '-',"
                    " separated by '.')" % host)
    return "hostname", ""


def parse(text: object, hostname: bool = True) -> Address:
    """The Address of HOST:PORT with a port from 1 to 65535, or ValueError saying the rule it breaks.
    `hostname`: whether a hostname (and `*`) can work there; systemd's ListenStream= takes neither."""
    parts = split(text)
    if parts is None or not 1 <= parts[1] <= 65535:
        raise ValueError("it is not HOST:PORT with a port from 1 to 65535")
    kind, why = host_kind(parts[0])
    if not kind:
        raise ValueError(why)
    if not hostname and (kind == "hostname" or parts[0] == "*"):
        raise ValueError("systemd's ListenStream= (socket activation) takes an IP address or a bare :PORT, not %s"
                         % ("a hostname" if kind == "hostname" else "'*'"))
    return Address(parts[0], parts[1], kind)


def is_loopback(address: Address) -> bool:
    """Whether only the host itself can reach the address: 127.0.0.0/8, [::1] or localhost."""
    if address.kind == "hostname":
        return address.host in LOOPBACK_NAMES
    return address.kind in ("ipv4", "ipv6") and ipaddress.ip_address(address.bare_host).is_loopback


def target(text: str) -> Tuple[str, int]:
    """(host, port) to connect to for an address an app listens on: every address is asked on loopback."""
    parts = split(text)
    if parts is None:
        raise ValueError("%r is not HOST:PORT" % text)
    host = ANY_HOSTS.get(parts[0], parts[0])
    return (host[1:-1] if host.startswith("[") else host), parts[1]
