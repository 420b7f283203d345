"""The state of a test host's uWSGI apps, as JSON on stdout: copied to the host and run there before
and after a role run that must change nothing (molecule/rejected_option, molecule/faults).

    python3 host_snapshot.py [CONFIG_DIR ...]     (default: /etc/uwsgi-production)

- files: {path: [sha1, inode, mtime_ns, mode, uid, gid]} of every file under each CONFIG_DIR (the
  last good copies too, and any temp file a write left behind) and of every /etc/systemd/system/uwsgi-*
  and /etc/systemd/system/*/uwsgi-* (the units and the links that enable them; a link's sha1 is its
  target);
- units: {unit: {ActiveState, SubState, MainPID, NRestarts, UnitFileState}} of every uwsgi-* service
  and socket unit systemd knows.
Only Python's standard library: it runs on a bare Debian host.
"""

import glob
import hashlib
import json
import os
import subprocess
import sys

UNIT_PROPERTIES = ["Id", "ActiveState", "SubState", "MainPID", "NRestarts", "UnitFileState"]


def file_record(path):
    stat = os.lstat(path)
    if os.path.islink(path):
        digest = "-> " + os.readlink(path)
    else:
        with open(path, "rb") as stream:
            digest = hashlib.sha1(stream.read()).hexdigest()
    return [digest, stat.st_ino, stat.st_mtime_ns, oct(stat.st_mode), stat.st_uid, stat.st_gid]


def files(config_dirs):
    paths = set(glob.glob("/etc/systemd/system/uwsgi-*") + glob.glob("/etc/systemd/system/*/uwsgi-*"))
    for top in config_dirs:
        for where, _dirs, names in os.walk(top):
            paths.update(os.path.join(where, name) for name in names)
    return {path: file_record(path) for path in sorted(paths)}


def units():
    listed = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "uwsgi-*"],
                            capture_output=True, text=True, check=True).stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    names.update(os.path.basename(path) for path in glob.glob("/etc/systemd/system/uwsgi-*"))
    out = {}
    for name in sorted(names):
        shown = subprocess.run(["systemctl", "show", name] + ["--property=%s" % p for p in UNIT_PROPERTIES],
                               capture_output=True, text=True, check=True).stdout
        props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        out[name] = {key: props.get(key, "") for key in UNIT_PROPERTIES[1:]}
    return out


if __name__ == "__main__":
    dirs = sys.argv[1:] or ["/etc/uwsgi-production"]
    json.dump({"files": files(dirs), "units": units()}, sys.stdout, sort_keys=True)
