"""The metrics exporter (roles/uwsgi_exporter/files/uwsgi_exporter.py), run in-process: real unix sockets
serving stats JSON shaped as uWSGI 2.0's stats server writes it, a real HTTP server on loopback, and
prometheus-client's own parser reading what it serves."""

import base64
import importlib.util
import json
import os
import socket
import ssl
import subprocess
import threading
import urllib.error
import urllib.request

import bcrypt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from paths import REPO

SCRIPT = REPO / "roles" / "uwsgi_exporter" / "files" / "uwsgi_exporter.py"
spec = importlib.util.spec_from_file_location("uwsgi_exporter", SCRIPT)
exporter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(exporter)

GROUP = "uwsgi-exporter"


def worker(wid, status="idle", requests=10, harakiri=0, respawns=1, rss=50 << 20):
    return {"id": wid, "pid": 100 + wid, "accepting": 1, "requests": requests, "delta_requests": 1, "exceptions": 2,
            "harakiri_count": harakiri, "signals": 0, "signal_queue": 0, "status": status, "rss": rss, "vsz": 200 << 20,
            "running_time": 1500000, "last_spawn": 1700000000, "respawn_count": respawns, "tx": 4096, "avg_rt": 2500,
            "apps": [{"id": 0, "modifier1": 0, "mountpoint": "", "startup_time": 0, "requests": requests,
                      "exceptions": 2, "chdir": "/srv/app"}],
            "cores": [{"id": 0, "requests": requests}]}


def stats(workers, listen_queue=0):
    return {"version": "2.0.31", "listen_queue": listen_queue, "listen_queue_errors": 0, "signal_queue": 0,
            "load": 0, "pid": 99, "uid": 999, "gid": 999, "cwd": "/srv/app", "locks": [],
            "sockets": [{"name": "127.0.0.1:8080", "proto": "uwsgi", "queue": listen_queue, "max_queue": 100,
                         "shared": 0, "can_offload": 0}],
            "workers": workers}


class StatsServer:
    """A unix socket that writes one JSON document to each connection and closes it, like uWSGI's."""

    def __init__(self, path, document):
        self.path, self.document = path, document
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(json.dumps(self.document).encode())

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def unit(units, name, groups=(GROUP,)):
    text = "[Service]\nUser=%s\nGroup=%s\n" % (name, name)
    text += "".join("SupplementaryGroups=%s\n" % group for group in groups)
    (units / ("uwsgi-%s.service" % name)).write_text(text)


@pytest.fixture
def host(tmp_path):
    units, run = tmp_path / "units", tmp_path / "run"
    units.mkdir()
    run.mkdir()
    servers = []
    yield units, run, servers
    for server in servers:
        server.close()


def scrape(collector):
    registry = exporter.CollectorRegistry()
    registry.register(collector)
    text = exporter.generate_latest(registry).decode()
    samples = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples, metric, **labels):
    return samples[(metric, tuple(sorted(labels.items())))]


def test_metrics_follow_uwsgi_exporter_names_with_an_app_label(host):
    units, run, servers = host
    unit(units, "shop")
    servers.append(StatsServer(str(run / "uwsgi-shop" / "stats.sock"),
                               stats([worker(1, "busy", 10, harakiri=1), worker(2, "idle", 5, respawns=3)], listen_queue=7)))
    text, samples = scrape(exporter.UwsgiCollector(exporter.Targets(str(units), GROUP, str(run))))
    for name in ("uwsgi_listen_queue_length", "uwsgi_listen_queue_errors", "uwsgi_signal_queue_length", "uwsgi_workers",
                 "uwsgi_socket_queue_length", "uwsgi_worker_requests_total", "uwsgi_worker_exceptions_total",
                 "uwsgi_worker_harakiri_count_total", "uwsgi_worker_respawn_count_total",
                 "uwsgi_worker_transmitted_bytes_total", "uwsgi_worker_rss_bytes",
                 "uwsgi_worker_average_response_time_seconds", "uwsgi_worker_running_time_seconds", "uwsgi_worker_busy",
                 "uwsgi_worker_idle", "uwsgi_worker_cheap", "uwsgi_worker_app_requests_total", "uwsgi_up"):
        assert "\n%s{" % name in text, name
    assert value(samples, "uwsgi_up", app="shop") == 1
    assert value(samples, "uwsgi_listen_queue_length", app="shop") == 7
    assert value(samples, "uwsgi_workers", app="shop") == 2
    assert value(samples, "uwsgi_worker_busy", app="shop", worker_id="1") == 1
    assert value(samples, "uwsgi_worker_average_response_time_seconds", app="shop", worker_id="1") == 0.0025
    assert value(samples, "uwsgi_worker_running_time_seconds", app="shop", worker_id="2") == 1.5
    assert value(samples, "uwsgi_socket_max_queue_length", app="shop", name="127.0.0.1:8080", proto="uwsgi") == 100
    # The per-app sums.
    assert value(samples, "uwsgi_app_requests_total", app="shop") == 15
    assert value(samples, "uwsgi_app_harakiri_count_total", app="shop") == 1
    assert value(samples, "uwsgi_app_respawn_count_total", app="shop") == 4
    assert value(samples, "uwsgi_app_busy_workers", app="shop") == 1
    assert value(samples, "uwsgi_app_idle_workers", app="shop") == 1
    assert value(samples, "uwsgi_app_rss_bytes", app="shop") == 100 << 20
    assert value(samples, "uwsgi_app_worker_max_rss_bytes", app="shop") == 50 << 20
    assert value(samples, "uwsgi_app_running_time_seconds_total", app="shop") == 3.0
    # No per-core series: the request variables of cores never reach the exporter's output.
    assert "uwsgi_worker_core_" not in text


def test_a_stopped_app_is_down_while_the_others_report(host):
    units, run, servers = host
    unit(units, "up")
    unit(units, "stopped")
    (run / "uwsgi-stopped").mkdir()
    servers.append(StatsServer(str(run / "uwsgi-up" / "stats.sock"), stats([worker(1)])))
    logged = []
    collector = exporter.UwsgiCollector(exporter.Targets(str(units), GROUP, str(run)), log=logged.append)
    _text, samples = scrape(collector)
    assert value(samples, "uwsgi_up", app="up") == 1
    assert value(samples, "uwsgi_up", app="stopped") == 0
    assert ("uwsgi_workers", (("app", "stopped"),)) not in samples
    assert len(logged) == 1 and "stopped" in logged[0]
    scrape(collector)
    assert len(logged) == 1, "a socket that keeps failing is logged once"


def test_apps_appear_and_disappear_with_their_units_and_only_marked_units_count(host):
    units, run, servers = host
    unit(units, "one")
    unit(units, "web-only", groups=("www-data",))
    (units / "uwsgi-exporter.service").write_text("[Service]\nGroup=uwsgi-exporter\n")
    (units / "other.service").write_text("[Service]\nSupplementaryGroups=uwsgi-exporter\n")
    targets = exporter.Targets(str(units), GROUP, str(run))
    assert targets.apps() == {"one": str(run / "uwsgi-one" / "stats.sock")}
    unit(units, "two", groups=("www-data", GROUP))
    assert sorted(targets.apps()) == ["one", "two"]
    (units / "uwsgi-one.service").unlink()
    assert sorted(targets.apps()) == ["two"]
    # A later empty assignment resets the list, as systemd reads it.
    (units / "uwsgi-two.service").write_text("[Service]\nSupplementaryGroups=uwsgi-exporter\nSupplementaryGroups=\n")
    assert targets.apps() == {}


def test_garbage_on_a_stats_socket_counts_as_down(host):
    units, run, servers = host
    unit(units, "odd")
    server = StatsServer(str(run / "uwsgi-odd" / "stats.sock"), None)
    server.document = "not json"
    servers.append(server)
    _text, samples = scrape(exporter.UwsgiCollector(exporter.Targets(str(units), GROUP, str(run)), log=lambda _t: None))
    assert value(samples, "uwsgi_up", app="odd") == 0


def serve(units, run, config_file=""):
    args = exporter.parse_args(["--web.listen-address", "127.0.0.1:0", "--units-dir", str(units),
                                "--runtime-root", str(run), "--web.config.file", config_file])
    server, _registry = exporter.build(args)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_http_endpoint_and_basic_auth(host, tmp_path):
    units, run, _servers = host
    unit(units, "down")
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    config = tmp_path / "web.yml"
    config.write_text("basic_auth_users:\n  prometheus: '%s'\n" % hashed)
    server = serve(units, run, str(config))
    url = "http://127.0.0.1:%d/metrics" % server.server_address[1]
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 401
        bad = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(b"prometheus:no").decode()})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(bad, timeout=5)
        good = urllib.request.Request(url, headers={"Authorization": "Basic " + base64.b64encode(b"prometheus:s3cret").decode()})
        for _round in range(2):
            body = urllib.request.urlopen(good, timeout=5).read().decode()
            assert 'uwsgi_up{app="down"} 0.0' in body
            assert "process_resident_memory_bytes " in body and "process_cpu_seconds_total " in body
    finally:
        server.shutdown()
        server.server_close()


def test_tls(host, tmp_path):
    units, run, _servers = host
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    config = tmp_path / "web.yml"
    config.write_text("tls_server_config:\n  cert_file: %s\n  key_file: %s\n" % (cert, key))
    server = serve(units, run, str(config))
    port = server.server_address[1]
    try:
        context = ssl.create_default_context(cafile=str(cert))
        body = urllib.request.urlopen("https://127.0.0.1:%d/metrics" % port, context=context, timeout=5).read()
        assert b"uwsgi_exporter_apps 0.0" in body
        with pytest.raises(OSError):
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
        # The server still serves after that plain-text client.
        assert urllib.request.urlopen("https://127.0.0.1:%d/metrics" % port, context=context, timeout=5).status == 200
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("text", ["9117", "host:port", "1.2.3.4:"])
def test_a_bad_listen_address_is_refused(text):
    with pytest.raises(ValueError):
        exporter.split_address(text)


def test_the_exporter_role_describes_every_default():
    import yaml

    role = REPO / "roles" / "uwsgi_exporter"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert sorted(specs) == sorted(defaults)
    for name, spec in specs.items():
        assert spec.get("default") == defaults[name], name
        assert spec.get("description"), name
