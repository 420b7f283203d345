"""HOST:PORT, the one parser (plugins/module_utils/uwsgi_address.py): what uWSGI and systemd's ListenStream=
take, what the health check connects to, and the ports two apps may not share."""

import pytest

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_address as host_port
from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_model as model


@pytest.mark.parametrize("text, host, port, kind", [
    ("127.0.0.1:8080", "127.0.0.1", 8080, "ipv4"),
    ("255.255.255.255:1", "255.255.255.255", 1, "ipv4"),
    ("[::1]:8080", "[::1]", 8080, "ipv6"),
    ("[fe80::1%eth0]:8080", "[fe80::1%eth0]", 8080, "ipv6"),
    (":8080", "", 8080, "any"),
    ("0.0.0.0:65535", "0.0.0.0", 65535, "any"),
    ("[::]:8080", "[::]", 8080, "any"),
    ("*:8080", "*", 8080, "any"),
    ("localhost:8080", "localhost", 8080, "hostname"),
    ("web-1.intra.example:80", "web-1.intra.example", 80, "hostname"),
])
def test_what_parses(text, host, port, kind):
    assert host_port.parse(text) == host_port.Address(host, port, kind)


@pytest.mark.parametrize("text, why", [
    ("127.0.0.1", "not HOST:PORT"),
    ("127.0.0.1:0", "not HOST:PORT with a port from 1 to 65535"),
    ("127.0.0.1:65536", "1 to 65535"),
    ("127.0.0.1:123456", "not HOST:PORT"),
    ("127.0.0.1:80\n", "not HOST:PORT"),
    ("::1:8080", "not HOST:PORT"),
    ("256.0.0.1:80", "not an IPv4 address"),
    ("1.2.3:80", "not an IPv4 address"),
    ("1.2.3.4.5:80", "not an IPv4 address"),
    ("1..3.4:80", "not an IPv4 address"),
    ("[::g]:80", "not an IPv6 address"),
    ("[127.0.0.1]:80", "not an IPv6 address"),
    ("-web:80", "not a hostname"),
    ("web_1:80", "not a hostname"),
    ("web..example:80", "not a hostname"),
    ("%s:80" % ("a" * 64), "not a hostname"),
    (None, "not HOST:PORT"),
    (8080, "not HOST:PORT"),
])
def test_what_does_not_parse_says_why(text, why):
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        host_port.parse(text)


@pytest.mark.parametrize("text", ["localhost:8080", "web.example:80", "*:8080"])
def test_listen_stream_takes_no_hostname_and_no_star(text):
    host_port.parse(text)
    with pytest.raises(ValueError, match="ListenStream="):
        host_port.parse(text, hostname=False)


@pytest.mark.parametrize("text", ["127.0.0.1:80", "[::1]:80", ":80", "[::]:80", "0.0.0.0:80"])
def test_listen_stream_takes_addresses_and_a_bare_port(text):
    assert host_port.parse(text, hostname=False).port == 80


@pytest.mark.parametrize("text, loopback", [
    ("127.0.0.1:9191", True), ("127.1.2.3:9191", True), ("[::1]:9191", True), ("localhost:9191", True),
    ("0.0.0.0:9191", False), (":9191", False), ("10.0.0.1:9191", False), ("[::]:9191", False), ("web:9191", False),
])
def test_loopback(text, loopback):
    assert host_port.is_loopback(host_port.parse(text)) is loopback


@pytest.mark.parametrize("text, target", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), (":8080", ("127.0.0.1", 8080)), ("0.0.0.0:8080", ("127.0.0.1", 8080)),
    ("*:8080", ("127.0.0.1", 8080)), ("[::]:8080", ("::1", 8080)), ("[::1]:8080", ("::1", 8080)),
    ("localhost:8080", ("localhost", 8080)),
])
def test_the_health_check_asks_every_address_on_loopback(text, target):
    assert host_port.target(text) == target


def test_the_ports_apps_bind_come_from_the_same_parser():
    options = {"http-socket": ["127.0.0.1:8080", "[::1]:8081", "/run/x.sock", None],
               "https-socket": "0.0.0.0:8443,/etc/a.pem,/etc/a.pem"}
    assert model.http_ports(options) == [8080, 8081, 8443]
