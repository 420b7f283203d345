"""What molecule/faults/side_effect.yml measures on its test host, as JSON: copied to the host and run there.

    python3 faults_probe.py kill UNIT HTTP_ADDRESS OUT [--rate R] [--duration S] [--kill-after S]
        Sends a steady load (steady_load.py, beside this file) to HTTP_ADDRESS on the host's own
        loopback, kills UNIT's main process (the uWSGI master) with SIGKILL KILL_AFTER seconds into it,
        waits for systemd to run a new master, and writes to OUT: the MainPID and NRestarts before and
        after, when the master was killed (wall clock) and how long until systemd ran a new one, and the
        load's report (every request, steady_load.py's format).
    python3 faults_probe.py state UNIT [UNIT ...]
        Prints, per unit, its MainPID and the executable of that process; then the uWSGI binary
        (/opt/uwsgi/bin/uwsgi) with its sha1 and the release it says it is.
    python3 faults_probe.py mount DIR
        Prints how DIR is mounted (its mount point's options, whether read-only) and the space left on it.

Only Python's standard library: it runs on a bare Debian host.
"""

import argparse
import hashlib
import json
import os
import pwd
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = "/opt/uwsgi/bin/uwsgi"


def show(unit, prop):
    out = subprocess.run(["systemctl", "show", "-p", prop, "--value", unit], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def executable(pid):
    """The target of /proc/PID/exe. Reading another user's link takes CAP_SYS_PTRACE, which root lacks
    in a test container: it is read as the process's owner then."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except PermissionError:
        owner = pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name
        out = subprocess.run(["runuser", "-u", owner, "--", "readlink", f"/proc/{pid}/exe"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()


def kill(args):
    pid_before, restarts_before = int(show(args.unit, "MainPID")), int(show(args.unit, "NRestarts"))
    assert pid_before > 0, f"{args.unit} runs no master"
    load_out = args.out + ".load"
    if os.path.exists(load_out):
        os.unlink(load_out)
    load = subprocess.Popen([sys.executable, os.path.join(HERE, "steady_load.py"), "--http", args.http,
                             "--rate", str(args.rate), "--duration", str(args.duration), "--out", load_out])
    time.sleep(args.kill_after)
    killed_at = time.time()
    os.kill(pid_before, signal.SIGKILL)
    # systemd (Restart=on-failure) runs a new master: a MainPID of its own, the unit active again.
    pid_after, back_after = 0, None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pid = int(show(args.unit, "MainPID"))
        if pid not in (0, pid_before) and show(args.unit, "ActiveState") == "active":
            pid_after, back_after = pid, round(time.time() - killed_at, 3)
            break
        time.sleep(0.05)
    load.wait(timeout=args.duration + 120)
    with open(load_out, encoding="utf-8") as stream:
        report = json.load(stream)
    record = {"unit": args.unit, "pid_before": pid_before, "pid_after": pid_after,
              "restarts_before": restarts_before, "restarts_after": int(show(args.unit, "NRestarts")),
              "killed_at": killed_at, "master_back_after": back_after, "rate": args.rate,
              "duration": args.duration, "load": report}
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(record, out)


def state(args):
    units = {}
    for unit in args.units:
        pid = int(show(unit, "MainPID"))
        units[unit] = {"pid": pid, "exe": executable(pid) if pid else None}
    with open(BINARY, "rb") as stream:
        digest = hashlib.sha1(stream.read()).hexdigest()
    version = subprocess.run([BINARY, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(json.dumps({"units": units, "binary": {"path": BINARY, "sha1": digest, "version": version}}))


def mount(args):
    out = subprocess.run(["findmnt", "--noheadings", "--output", "TARGET,FSTYPE,OPTIONS", "--target", args.dir],
                         capture_output=True, text=True, check=True).stdout.split()
    space = os.statvfs(args.dir)
    print(json.dumps({"dir": args.dir, "target": out[0], "fstype": out[1], "options": out[2].split(","),
                      "read_only": "ro" in out[2].split(","), "free_bytes": space.f_bavail * space.f_frsize}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("kill")
    one.add_argument("unit")
    one.add_argument("http")
    one.add_argument("out")
    one.add_argument("--rate", type=float, default=100)
    one.add_argument("--duration", type=float, default=5)
    one.add_argument("--kill-after", type=float, default=1.5)
    one.set_defaults(run=kill)
    two = sub.add_parser("state")
    two.add_argument("units", nargs="+")
    two.set_defaults(run=state)
    three = sub.add_parser("mount")
    three.add_argument("dir")
    three.set_defaults(run=mount)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
