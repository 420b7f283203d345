"""Helpers for tests that run against a real systemd test host: every request is made from
INSIDE the host to its own loopback."""

import json
import shlex
import time


def http_get(host, url, timeout=10):
    """GET url from inside the host; return (status, body). Status 0 means no HTTP answer."""
    status, body, unused_seconds = timed_get(host, url, timeout)
    return status, body


def unit_properties(host, unit, *names):
    out = host.check_output(f"systemctl show {unit} " + " ".join(f"-p {n}" for n in names))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_for(predicate, timeout=15.0, interval=0.2):
    """Poll predicate until it is truthy; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def uwsgi_processes(host, prefix):
    """The ps lines of uWSGI processes whose procname starts with '<prefix> uWSGI'."""
    out = host.check_output("ps -eo pid=,user=,args=")
    rows = []
    for line in out.splitlines():
        pid, user, args = line.split(None, 2)
        if args.startswith(f"{prefix} uWSGI"):
            rows.append((int(pid), user, args))
    return rows


def timed_get(host, url, timeout=40):
    """GET url from inside the host; return (status, body, seconds). Status 0: no HTTP answer."""
    script = (
        "import json, time, urllib.request, urllib.error\n"
        "start = time.monotonic()\n"
        "try:\n"
        f"    r = urllib.request.urlopen({url!r}, timeout={timeout})\n"
        "    status, body = r.status, r.read()\n"
        "except urllib.error.HTTPError as e:\n"
        "    status, body = e.code, e.read()\n"
        "except Exception as e:\n"
        "    status, body = 0, repr(e).encode()\n"
        "print(json.dumps([status, body.decode('utf-8', 'replace'), time.monotonic() - start]))\n"
    )
    return tuple(json.loads(host.check_output(f"python3 -c {shlex.quote(script)}")))


def journal_grep(host, unit, pattern):
    """The unit's journal lines that contain pattern (a fixed string)."""
    out = host.run(f"journalctl --unit {unit} --no-pager --output cat | grep -F -- {shlex.quote(pattern)}")
    return out.stdout


def uwsgi_get(host, socket_path, path="/", timeout=20):
    """GET path over the uwsgi protocol on a unix socket, from inside the host; return (status, body).
    Status 0 means no answer (the exception is in body)."""
    script = (
        "import json, socket, struct\n"
        f"env = {{'REQUEST_METHOD': 'GET', 'PATH_INFO': {path!r}, 'REQUEST_URI': {path!r},\n"
        "       'QUERY_STRING': '', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',\n"
        "       'SERVER_PROTOCOL': 'HTTP/1.1', 'HTTP_HOST': 'localhost'}\n"
        "body = b''.join(struct.pack('<H', len(k)) + k.encode() + struct.pack('<H', len(v)) + v.encode()\n"
        "                for k, v in env.items())\n"
        "try:\n"
        "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        f"    s.settimeout({timeout})\n"
        f"    s.connect({socket_path!r})\n"
        "    s.sendall(struct.pack('<BHB', 0, len(body), 0) + body)\n"
        "    data = b''\n"
        "    while True:\n"
        "        chunk = s.recv(65536)\n"
        "        if not chunk:\n"
        "            break\n"
        "        data += chunk\n"
        "    head, _, rest = data.partition(b'\\r\\n\\r\\n')\n"
        "    print(json.dumps([int(head.split()[1]), rest.decode('utf-8', 'replace')]))\n"
        "except Exception as e:\n"
        "    print(json.dumps([0, repr(e)]))\n"
    )
    return tuple(json.loads(host.check_output(f"python3 -c {shlex.quote(script)}")))


def process_executable(host, pid):
    """The target of /proc/PID/exe (with " (deleted)" when the file is gone). Reading another user's
    link takes CAP_SYS_PTRACE, which root lacks in a test container: it is read as the owner then."""
    out = host.run(f"readlink /proc/{pid}/exe || runuser -u \"$(stat -c %U /proc/{pid})\" -- readlink /proc/{pid}/exe")
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


# Read on the host by the tests themselves, apart from the role's reader (uwsgi_sizing.read_host): the CPUs
# `nproc` may use (its affinity, under the cpuset), the CPU quota and memory limit of the cgroup a command
# runs in (cgroup v1 or v2), and MemTotal.
RESOURCES = r"""
nproc
grep MemTotal /proc/meminfo
while IFS=: read -r _id controllers path; do
  case ",$controllers," in
    *,cpu,*) echo "cpu $(cat /sys/fs/cgroup/cpu$path/cpu.cfs_quota_us /sys/fs/cgroup/cpu$path/cpu.cfs_period_us | tr '\n' ' ')" ;;
    *,memory,*) echo "memory $(cat /sys/fs/cgroup/memory$path/memory.limit_in_bytes)" ;;
    ,,) for dir in /sys/fs/cgroup$path /sys/fs/cgroup/unified$path; do
          [ -r "$dir/cpu.max" ] && echo "cpu $(cat "$dir/cpu.max")"
          [ -r "$dir/memory.max" ] && echo "memory $(cat "$dir/memory.max")"
        done ;;
  esac
done < /proc/self/cgroup
"""


def usable_resources(host):
    """{cpus, memory_mb} of the host as the tests read it (RESOURCES): a quota of 1.5 CPUs counts as 2."""
    lines = host.check_output("sh -c %s 2>/dev/null || true" % shlex.quote(RESOURCES)).splitlines()
    cpus, memory_mb = int(lines[0]), int(lines[1].split()[1]) // 1024
    for line in lines[2:]:
        words = line.split()
        if words[0] == "cpu" and len(words) == 3 and words[1].isdigit() and int(words[1]) > 0:
            cpus = min(cpus, max(1, -(-int(words[1]) // int(words[2]))))
        if words[0] == "memory" and len(words) == 2 and words[1].isdigit() and int(words[1]) < 1 << 62:
            memory_mb = min(memory_mb, int(words[1]) // (1024 * 1024))
    return {"cpus": cpus, "memory_mb": memory_mb}


def ini_values(text):
    """{key: value} of an ini's `key = value` lines (the last one of a repeated key)."""
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line and not line.startswith(";"))


def uwsgi_stats(host, path):
    """The JSON the app's stats server gives on its unix socket, read on the host."""
    read = ("import json, socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); data = b''\n"
            "while True:\n    chunk = s.recv(65536)\n    if not chunk: break\n    data += chunk\nprint(data.decode())")
    return json.loads(host.check_output(f"python3 -c {shlex.quote(read)} {shlex.quote(path)}"))
