"""What runs on a test host, as JSON on stdout: copied to the host and run there by
molecule/system_install/side_effect.yml after each switch of the install method.

    python3 snapshot.py APP HTTP_ADDRESS VENV

- processes: [pid, executable, command line] of every process whose /proc/PID/exe is a uWSGI binary
  (the pip method's VENV/bin/uwsgi or Debian's /usr/bin/uwsgi-core, also when deleted or replaced)
  or whose name is APP's ("APP uWSGI master", "APP uWSGI worker 1", ...);
- main_pid: the MainPID of uwsgi-APP.service;
- http: [status, body] of GET http://HTTP_ADDRESS/ (status 0: no answer);
- venv_exists: whether VENV is still there;
- packages: the dpkg status of Debian's uWSGI packages.
Only Python's standard library: it runs on a bare Debian host.
"""

import json
import os
import pwd
import subprocess
import sys
import urllib.error
import urllib.request

DEBIAN_BINARY = "/usr/bin/uwsgi-core"
DEBIAN_PACKAGES = ["uwsgi-core", "uwsgi-plugin-python3"]


def executable(pid):
    """The target of /proc/PID/exe. Reading another user's link takes CAP_SYS_PTRACE, which root lacks
    in a test container: it is read as the process's owner then."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except PermissionError:
        owner = pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name
        out = subprocess.run(["runuser", "-u", owner, "--", "readlink", f"/proc/{pid}/exe"],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise
        return out.stdout.strip()


def processes(app, venv):
    rows = []
    for pid in sorted((int(name) for name in os.listdir("/proc") if name.isdigit())):
        try:
            exe = executable(pid)
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                cmdline = stream.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:  # a kernel thread, or a process that is gone
            continue
        binary = exe.removesuffix(" (deleted)")
        if binary in (f"{venv}/bin/uwsgi", DEBIAN_BINARY) or cmdline.startswith(f"{app} uWSGI"):
            rows.append([pid, exe, cmdline])
    return rows


def http_get(address):
    try:
        with urllib.request.urlopen(f"http://{address}/", timeout=20) as answer:
            return [answer.status, answer.read().decode("utf-8", "replace")]
    except urllib.error.HTTPError as exc:
        return [exc.code, exc.read().decode("utf-8", "replace")]
    except OSError as exc:
        return [0, repr(exc)]


def packages():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", *DEBIAN_PACKAGES],
                         capture_output=True, text=True, check=False)
    status = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    return {name: status.get(name, "not-installed") for name in DEBIAN_PACKAGES}


def main():
    app, address, venv = sys.argv[1:4]
    main_pid = subprocess.run(["systemctl", "show", "--value", "-p", "MainPID", f"uwsgi-{app}.service"],
                              capture_output=True, text=True, check=True).stdout.strip()
    print(json.dumps({
        "processes": processes(app, venv),
        "main_pid": int(main_pid),
        "http": http_get(address),
        "venv_exists": os.path.exists(venv),
        "packages": packages(),
    }))


if __name__ == "__main__":
    main()
