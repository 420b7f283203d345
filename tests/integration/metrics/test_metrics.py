"""molecule/metrics: the exporter seen by a real Prometheus (Debian's package, scraping every second).

Three apps (molecule/metrics/converge.yml) run tests/apps/metrics.py and give their stats sockets to the
exporter's group. Load comes from inside the host to its own loopback; every figure is read back through
Prometheus' HTTP API (127.0.0.1:9090), from inside the host. Each test prints what it saw.
"""

import json
import re
import shlex
import time

import yaml
from hostcheck import wait_for

APPS = {"mweb": 8471, "mapi": 8472, "mstop": 8473}
UNITS = ["uwsgi-exporter.service", "prometheus.service"] + ["uwsgi-%s.service" % name for name in APPS]
QUERY = ("import json, sys, urllib.parse, urllib.request; "
         "print(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/query?' "
         "+ urllib.parse.urlencode({'query': sys.argv[1]}), timeout=10).read().decode())")
# N concurrent clients, each GETting URL in a loop for SECONDS (errors counted, not raised).
LOAD = """
import sys, threading, time, urllib.request
url, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + seconds
counts = {"ok": 0, "error": 0}
def client():
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=30).read()
            counts["ok"] += 1
        except Exception:
            counts["error"] += 1
threads = [threading.Thread(target=client) for _ in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
print(counts)
"""


def query(host, expr):
    """The result vector of an instant PromQL query: [(labels, value)]."""
    out = host.check_output("python3 -c %s %s" % (shlex.quote(QUERY), shlex.quote(expr)))
    data = json.loads(out)
    assert data["status"] == "success", data
    return [(item["metric"], float(item["value"][1])) for item in data["data"]["result"]]


def value(host, expr):
    result = query(host, expr)
    return result[0][1] if result else None


def eventually(host, expr, timeout=30):
    """Poll the query until it returns a sample; return its value."""
    found = wait_for(lambda: value(host, expr), timeout=timeout, interval=1.0)
    assert found is not None, "no sample for %s within %s s" % (expr, timeout)
    return found


def start_load(host, path, clients, seconds, port=8471):
    url = "http://127.0.0.1:%d%s" % (port, path)
    host.run("nohup python3 -c %s %s %d %s > /tmp/metrics-load-%d.out 2>&1 &"
             % (shlex.quote(LOAD), shlex.quote(url), clients, seconds, port))


def test_exporter_runs_as_its_own_user_sandboxed_on_loopback(host):
    exposure = host.run("systemd-analyze security uwsgi-exporter.service").stdout
    level = float(re.search(r"Overall exposure level for uwsgi-exporter.service: ([0-9.]+)", exposure).group(1))
    print("systemd-analyze security uwsgi-exporter.service: %s" % level)
    assert level <= 2.0
    assert host.check_output("systemctl show -p User --value uwsgi-exporter.service") == "uwsgi-exporter"
    listening = host.check_output("ss -ltnH")
    assert "127.0.0.1:9117" in listening and "0.0.0.0:9117" not in listening and "*:9117" not in listening


def test_stats_sockets_are_readable_by_the_exporter_group_only(host):
    for name in APPS:
        owner = host.check_output("stat -c '%%U %%G %%a' /run/uwsgi-%s/stats.sock" % name)
        print(name, owner)
        assert owner == "uwsgi uwsgi-exporter 660"
    # The exporter cannot read an app's other files: its user is in no app group.
    assert host.check_output("id -nG uwsgi-exporter") == "uwsgi-exporter"


def test_prometheus_scrapes_every_app(host):
    for name, port in APPS.items():
        # memory-report's figures are a worker's after a request it served: one for each app, whatever ran
        # before (test_json_logs restarts mapi and kills the worker that served its requests).
        get = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d/', timeout=5).read()" % port
        host.check_output("python3 -c %s" % shlex.quote(get))
        assert eventually(host, 'uwsgi_up{app="%s"}' % name) == 1
        assert eventually(host, 'uwsgi_app_rss_bytes{app="%s"} > 0' % name) > 0, "memory-report is on"


def test_request_rate_and_busy_workers_under_load(host):
    start_load(host, "/sleep?s=0.05", 6, 8, port=8471)
    start_load(host, "/", 2, 8, port=8472)
    rate_web = eventually(host, 'sum by (app) (rate(uwsgi_app_requests_total{app="mweb"}[5s])) > 10')
    rate_api = eventually(host, 'sum by (app) (rate(uwsgi_app_requests_total{app="mapi"}[5s])) > 10')
    busy = eventually(host, 'max_over_time(uwsgi_app_busy_workers{app="mweb"}[10s]) > 0')
    print("requests/s: mweb %.1f, mapi %.1f; busy workers of mweb: %d" % (rate_web, rate_api, busy))
    time.sleep(9)


def test_listen_queue_of_a_tcp_socket_under_overload(host):
    # 4 workers, 40 clients each holding a request for 2 s: 36 wait in the socket's queue.
    start_load(host, "/sleep?s=2", 40, 8)
    queued = eventually(host, 'max_over_time(uwsgi_listen_queue_length{app="mweb"}[10s]) > 0', timeout=20)
    print("listen queue of mweb under overload: %d" % queued)
    assert eventually(host, 'max_over_time(uwsgi_app_busy_workers{app="mweb"}[10s]) == 4') == 4
    time.sleep(10)


def test_harakiri_count_rises_after_a_provoked_harakiri(host):
    before = value(host, 'uwsgi_app_harakiri_count_total{app="mweb"}') or 0
    host.run("python3 -c %s" % shlex.quote(
        "import urllib.request\ntry:\n    urllib.request.urlopen('http://127.0.0.1:8471/sleep?s=8', timeout=20)\nexcept Exception as e:\n    print(e)"))
    after = eventually(host, 'uwsgi_app_harakiri_count_total{app="mweb"} > %s' % before, timeout=20)
    print("harakiri_count of mweb: %d -> %d" % (before, after))


def test_respawns_after_a_recycle(host):
    before = eventually(host, 'uwsgi_app_respawn_count_total{app="mapi"}')
    # "c": a chain reload, each worker recycled in turn.
    host.check_output("echo c > /run/uwsgi-mapi/master.fifo")
    after = eventually(host, 'uwsgi_app_respawn_count_total{app="mapi"} > %s' % before, timeout=30)
    print("respawn_count of mapi: %d -> %d" % (before, after))


def test_exceptions_are_counted(host):
    host.run("python3 -c %s" % shlex.quote(
        "import urllib.request\ntry:\n    urllib.request.urlopen('http://127.0.0.1:8472/raise', timeout=10)\nexcept Exception as e:\n    print(e)"))
    assert eventually(host, 'uwsgi_app_exceptions_total{app="mapi"} > 0') > 0


def test_a_stopped_app_is_down_while_the_others_report(host):
    host.check_output("systemctl stop uwsgi-mstop.socket uwsgi-mstop.service")
    try:
        assert eventually(host, 'uwsgi_up{app="mstop"} == 0', timeout=20) == 0
        time.sleep(2)
        up = {item[0]["app"]: item[1] for item in query(host, "uwsgi_up")}
        print("uwsgi_up with mstop stopped:", up)
        assert up == {"mweb": 1, "mapi": 1, "mstop": 0}
        assert value(host, 'uwsgi_workers{app="mstop"}') is None
    finally:
        host.check_output("systemctl start uwsgi-mstop.socket uwsgi-mstop.service")
    assert eventually(host, 'uwsgi_up{app="mstop"} == 1', timeout=20) == 1


def test_promtool_checks_and_unit_tests_every_alert(host):
    check = host.run("promtool check rules /etc/prometheus/uwsgi_rules.yml")
    print(check.stdout)
    assert check.rc == 0, check.stderr
    tested = host.run("cd /etc/prometheus && promtool test rules uwsgi_rules_test.yml")
    print(tested.stdout)
    assert tested.rc == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    rules = yaml.safe_load(host.file("/etc/prometheus/uwsgi_rules.yml").content_string)
    tests = yaml.safe_load(host.file("/etc/prometheus/uwsgi_rules_test.yml").content_string)
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    fired = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert alerts == fired, "alerts without a firing promtool test: %s" % (alerts - fired)
    # Prometheus itself loaded them.
    assert json.loads(host.check_output("python3 -c %s" % shlex.quote(
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/rules').read().decode())"
    )))["data"]["groups"][0]["name"] == "uwsgi"


def test_every_dashboard_query_returns_data(host):
    dashboard = json.loads(host.file("/etc/prometheus/uwsgi_dashboard.json").content_string)
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs.append(dashboard["templating"]["list"][1]["query"]["query"].replace("label_values(", "").split(",")[0])
    for expr in exprs:
        promql = expr.replace("$__rate_interval", "1m").replace("$app", ".*")
        result = query(host, promql)
        print("%d series: %s" % (len(result), promql))
        assert result, promql


def test_exporter_memory(host):
    rss = eventually(host, 'process_resident_memory_bytes{job="uwsgi"}')
    print("exporter RSS: %.1f MB" % (rss / 1e6))
    assert rss < 40e6
