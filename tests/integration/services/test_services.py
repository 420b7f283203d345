"""molecule/services: uWSGI's own services, each proven with the real thing.

The apps (molecule/services/apps.yml) run tests/apps/services.py: `services` has a mule script, a cron
entry, a timer, a named lock, two caches (one with a store) and the default unix stats socket;
`services-http` has two plain mules (@mulefunc) and http stats on loopback; `services-ctl` is the
control without chmod-socket. Every request is made from inside the host. Each test prints what it
measured. The cron test comes late, so that the minute uWSGI's cron needs has mostly passed.
"""

import json
import shlex
import time
import uuid

from hostcheck import http_get, unit_properties, wait_for

BASE = "http://127.0.0.1:8361"
HTTP_APP = "http://127.0.0.1:8362"
STATS_HTTP = "127.0.0.1:8364"
RUNTIME = "/run/uwsgi-services"
STATE = "/var/lib/uwsgi-services"
UNITS = ["uwsgi-services.service", "uwsgi-services-http.service", "uwsgi-services-ctl.service"]
REQUESTS = 200  # concurrent counter requests, with and without the lock
CONCURRENCY = 20


def get_json(host, url):
    status, body = http_get(host, url)
    assert status == 200, (url, status, body)
    return json.loads(body)


def ps_name(host, pid):
    return host.run(f"ps -o args= -p {pid}").stdout.strip()


def main_pid(host, unit):
    return int(unit_properties(host, unit, "MainPID")["MainPID"])


# --- mules ------------------------------------------------------------------------------------------

def mule_marker(host):
    marker = host.file(f"{RUNTIME}/mule.json")
    return json.loads(marker.content_string) if marker.exists else None


def test_a_mule_script_runs_in_a_mule_of_its_own(host):
    data = wait_for(lambda: mule_marker(host))
    time.sleep(2.2)
    later = mule_marker(host)
    master = main_pid(host, "uwsgi-services.service")
    parent = int(host.check_output(f"ps -o ppid= -p {data['pid']}").strip())
    name = ps_name(host, data["pid"])
    invocation = unit_properties(host, "uwsgi-services.service", "InvocationID")["InvocationID"]
    respawns = int(host.run(f"journalctl _SYSTEMD_INVOCATION_ID={invocation} --no-pager -o cat | grep -c crippled").stdout or 0)
    print(f"\nmule script: marker written by pid {data['pid']} (mule {data['mule_id']}, '{name}', child of master"
          f" {master}), {later['beats'] - data['beats']} beats in 2.2 s by the same pid: {later['pid'] == data['pid']};"
          f" mule respawns ('crippled') since the app started: {respawns}")
    assert data["mule_id"] == 1
    assert parent == master
    assert name == "services uWSGI mule 1"
    assert later["pid"] == data["pid"] and later["beats"] - data["beats"] >= 2  # one mule, alive, looping
    assert respawns == 0
    assert host.file(f"{RUNTIME}/mule.json").user == "uwsgi"
    assert get_json(host, f"{BASE}/cache/get?key=none")["pid"] != data["pid"]  # not a worker


def test_mules_count_runs_mulefuncs_in_a_mule(host):
    token = uuid.uuid4().hex[:12]
    path = "/run/uwsgi-services-http/mulefunc.json"
    worker = get_json(host, f"{HTTP_APP}/mulefunc?token={token}")
    content = wait_for(lambda: host.file(path).exists and token in host.file(path).content_string and host.file(path).content_string)
    data = json.loads(content)
    name = ps_name(host, data["pid"])
    print(f"\nmules: 2: @mulefunc called by worker pid {worker['pid']} ran in pid {data['pid']} ('{name}')")
    assert data["token"] == token
    assert data["pid"] != worker["pid"]
    assert data["mule_id"] in (1, 2) and name == f"services-http uWSGI mule {data['mule_id']}"


# --- caches -----------------------------------------------------------------------------------------

def test_cache_written_by_one_worker_is_read_by_another(host):
    """The setting worker holds on for 2 s after it stored the value, so every read meanwhile is
    served by another worker process."""
    key, value = f"k{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    script = (
        "import json, threading, time, urllib.request\n"
        f"base = {BASE!r}\n"
        "result = {}\n"
        "def setter():\n"
        f"    result['set'] = json.load(urllib.request.urlopen(base + '/cache/set?key={key}&value={value}&hold=2'))\n"
        "thread = threading.Thread(target=setter); thread.start()\n"
        "deadline = time.monotonic() + 1.8\n"
        "reads = []\n"
        "while time.monotonic() < deadline:\n"
        f"    reads.append(json.load(urllib.request.urlopen(base + '/cache/get?key={key}')))\n"
        "    if reads[-1]['value'] is not None:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "thread.join()\n"
        "print(json.dumps({'set': result['set'], 'reads': reads}))\n"
    )
    result = json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))
    setter, found = result["set"], result["reads"][-1]
    print(f"\ncache 'shared': set by worker {setter['worker']} (pid {setter['pid']}), read back by worker"
          f" {found['worker']} (pid {found['pid']}) after {len(result['reads'])} read(s)")
    assert setter["stored"]
    assert found["value"] == value
    assert found["pid"] != setter["pid"] and found["worker"] != setter["worker"]


# --- locks ------------------------------------------------------------------------------------------

def hammer_counter(host, locked):
    """Reset the counter, send REQUESTS /counter/add requests CONCURRENCY at a time from inside the
    host; return (counter, pids that served, failed requests, seconds)."""
    script = (
        "import json, time, urllib.request\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        f"base = {BASE!r}\n"
        "urllib.request.urlopen(base + '/counter/reset').read()\n"
        "def add(i):\n"
        "    try:\n"
        f"        return json.load(urllib.request.urlopen(base + '/counter/add?lock={int(locked)}', timeout=30))['pid']\n"
        "    except Exception:\n"
        "        return None\n"
        "start = time.monotonic()\n"
        f"with ThreadPoolExecutor({CONCURRENCY}) as pool:\n"
        f"    pids = list(pool.map(add, range({REQUESTS})))\n"
        "seconds = time.monotonic() - start\n"
        "value = json.load(urllib.request.urlopen(base + '/counter'))['value']\n"
        "print(json.dumps([value, sorted(set(p for p in pids if p)), pids.count(None), seconds]))\n"
    )
    return json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))


def test_a_named_lock_keeps_a_shared_counter_consistent(host):
    value, pids, failed, seconds = hammer_counter(host, locked=True)
    print(f"\nlock 'counter' (uWSGI lock 1): {REQUESTS} requests, {CONCURRENCY} at a time, served by {len(pids)}"
          f" workers in {seconds:.2f} s: counter = {value}")
    assert failed == 0
    assert len(pids) >= 2  # the workers really did run side by side
    assert value == REQUESTS


def test_control_without_the_lock_updates_are_lost(host):
    value, pids, failed, seconds = hammer_counter(host, locked=False)
    print(f"\nno lock: {REQUESTS} requests, {CONCURRENCY} at a time, served by {len(pids)} workers in"
          f" {seconds:.2f} s: counter = {value}, {REQUESTS - value} updates lost")
    assert failed == 0
    assert len(pids) >= 2
    assert value < REQUESTS


# --- timers -----------------------------------------------------------------------------------------

def test_a_timer_raises_its_signal_every_second(host):
    first = get_json(host, f"{BASE}/timer")
    time.sleep(3)
    later = get_json(host, f"{BASE}/timer")
    ticks = later["ticks"] - first["ticks"]
    print(f"\ntimer 100 every 1 s: the handler ran {ticks} times in 3 s; last run {later['now'] - later['last']:.2f} s ago")
    assert 2 <= ticks <= 4
    assert later["now"] - later["last"] < 1.5


# --- per-request process names ------------------------------------------------------------------------

def busy_process(host):
    """The ps line of the process the app named after a /procname request, or ''."""
    return host.run("ps -eo args= | grep -F 'busy: GET /procname' | grep -v grep").stdout.strip()


def test_setprocname_names_a_worker_after_its_request(host):
    script = (
        "import threading, urllib.request\n"
        f"threading.Thread(target=lambda: urllib.request.urlopen({BASE!r} + '/procname?s=3').read()).start()\n"
    )
    host.run(f"python3 -c {shlex.quote(script)} >/dev/null 2>&1 &")
    busy = wait_for(lambda: busy_process(host), timeout=5)
    print(f"\nuwsgi.setprocname during the request: '{busy}'")
    # uWSGI puts the app's procname prefix before the name the app sets.
    assert busy.startswith("services uWSGI worker ") and busy.endswith("busy: GET /procname")
    worker = busy.split()[3]
    back = wait_for(lambda: not busy_process(host), timeout=6)
    assert back
    names = host.run("ps -eo args=").stdout.splitlines()
    assert f"services uWSGI worker {worker}" in names  # named back after the request


# --- stats ------------------------------------------------------------------------------------------

STATS_READER = (
    "import json, socket, sys\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "try:\n"
    "    s.connect(sys.argv[1])\n"
    "except OSError as e:\n"
    "    print(json.dumps({'error': e.strerror})); sys.exit(0)\n"
    "data = b''\n"
    "while chunk := s.recv(65536):\n"
    "    data += chunk\n"
    "print(json.dumps({'stats': json.loads(data)}))\n"
)


def read_stats(host, path, user):
    out = host.run(f"setpriv --reuid={user.split(':')[0]} --regid={user.split(':')[1]} --clear-groups"
                   f" python3 -c {shlex.quote(STATS_READER)} {path}")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def test_stats_socket_serves_uwsgitop_json_to_the_service_group_only(host):
    sock = host.file(f"{RUNTIME}/stats.sock")
    result = read_stats(host, f"{RUNTIME}/stats.sock", "nobody:uwsgi")
    stats = result["stats"]
    caches = sorted(cache["name"] for cache in stats.get("caches", []))
    user_locks = [name for lock in stats.get("locks", []) for name in lock if name.startswith("user ")]
    crons = [cron["command"] for cron in stats.get("crons", [])]
    print(f"\nstats socket {oct(sock.mode)} {sock.user}:{sock.group}: read as nobody:uwsgi, uWSGI {stats['version']},"
          f" {len(stats['workers'])} workers, caches {caches}, locks {user_locks}, crons {crons}")
    assert sock.is_socket and sock.mode == 0o660 and sock.user == "uwsgi" and sock.group == "uwsgi"
    # What uwsgitop reads (uWSGI 2.0's stats list no mules: the mule tests find them with ps).
    for key in ("version", "listen_queue", "load", "pid", "uid", "gid", "cwd", "workers"):
        assert key in stats, key
    assert stats["pid"] == main_pid(host, "uwsgi-services.service")
    assert len(stats["workers"]) == 4 and all("requests" in worker for worker in stats["workers"])
    assert caches == ["counters", "shared"]
    assert user_locks == ["user 0", "user 1"]  # lock 0, uWSGI's default, and lock 1, "counter"
    assert crons == ["date +%s >> /run/uwsgi-services/cron.log"]  # the role's %% is uWSGI's %
    outsider = read_stats(host, f"{RUNTIME}/stats.sock", "nobody:nogroup")
    print(f"as nobody:nogroup: {outsider.get('error')}")
    assert outsider == {"error": "Permission denied"}


def test_control_without_chmod_socket_the_group_cannot_connect(host):
    """uWSGI binds the stats socket itself under the unit's UMask=0027: 0750, and a unix socket needs
    write permission to connect to. The role's chmod-socket = 660 is what lets the group in."""
    sock = host.file("/run/uwsgi-services-ctl/stats.sock")
    result = read_stats(host, "/run/uwsgi-services-ctl/stats.sock", "nobody:uwsgi")
    print(f"\nwithout chmod-socket: stats socket {oct(sock.mode)}; as nobody:uwsgi: {result.get('error')}")
    assert sock.mode == 0o750
    assert result == {"error": "Permission denied"}


def test_http_stats_answer_on_loopback_only(host):
    status, body = http_get(host, f"http://{STATS_HTTP}/")
    stats = json.loads(body)
    listening = host.check_output("ss -ltnH 'sport = :8364'")
    print(f"\nhttp stats {STATS_HTTP}: HTTP {status}, {len(stats['workers'])} workers;"
          f" listening: {' '.join(listening.split())}")
    assert status == 200
    assert len(stats["workers"]) == 2
    assert stats["pid"] == main_pid(host, "uwsgi-services-http.service")
    addresses = [line.split()[3] for line in listening.splitlines()]
    assert addresses == [STATS_HTTP]
    assert not host.file("/run/uwsgi-services-http/stats.sock").exists


# --- cron (late: it needs a minute) -------------------------------------------------------------------

def test_a_cron_entry_fires_at_start_and_then_every_minute(host):
    """uWSGI's cron (minute -1) runs the command as soon as the master starts, then every 60 s. A
    graceful reload re-executes the master (same pid), which runs it again at once: so the runs
    counted are those since the master last started or reloaded, when it made its stats socket."""
    started = int(host.check_output(f"stat -c %Y {RUNTIME}/stats.sock").strip())

    def runs():
        content = host.file(f"{RUNTIME}/cron.log").content_string if host.file(f"{RUNTIME}/cron.log").exists else ""
        return [int(line) for line in content.split() if int(line) >= started - 1]

    first = wait_for(runs, timeout=5)
    assert first, "the cron entry did not run when the master started or reloaded"
    waited_from = time.monotonic()
    both = wait_for(lambda: len(runs()) >= 2 and runs(), timeout=max(5, first[0] + 75 - time.time()), interval=1)
    waited = time.monotonic() - waited_from
    print(f"\ncron (minute -1): first run {max(0, first[0] - started):.0f} s after the master (re)started, the next"
          f" {both[1] - both[0] if both else None} s later; this test waited {waited:.0f} s for it")
    assert first[0] - started <= 3
    assert both and 59 <= both[1] - both[0] <= 63
    assert host.file(f"{RUNTIME}/cron.log").user == "uwsgi"  # run as the app's user


# --- a cache store survives a restart (last: it restarts the app) ---------------------------------------

def test_a_cache_store_survives_a_restart_and_a_memory_cache_does_not(host):
    key, value = f"k{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert get_json(host, f"{BASE}/cache/set?key={key}&value={value}")["stored"]
    get_json(host, f"{BASE}/counter/reset")
    get_json(host, f"{BASE}/counter/add?lock=1")
    assert get_json(host, f"{BASE}/counter")["value"] == 1
    before = main_pid(host, "uwsgi-services.service")
    host.check_output("systemctl restart uwsgi-services.service")
    after = main_pid(host, "uwsgi-services.service")
    kept = get_json(host, f"{BASE}/cache/get?key={key}")["value"]
    counter = get_json(host, f"{BASE}/counter")["value"]
    store, state = host.file(f"{STATE}/shared.cache"), host.file(STATE)
    print(f"\nrestart (master {before} -> {after}): 'shared' (store {store.path}, {store.size} bytes,"
          f" {store.user}:{store.group}) kept the value: {kept == value}; 'counters' (memory only) = {counter}")
    assert after != before
    assert kept == value
    assert counter == 0  # the control: without a store the cache starts empty
    assert state.is_directory and state.user == "uwsgi" and state.group == "uwsgi" and state.mode == 0o750
    assert store.user == "uwsgi"
    assert not host.file(f"{STATE}/counters.cache").exists
