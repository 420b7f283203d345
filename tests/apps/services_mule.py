"""A mule script for molecule/services (the app's `mules: [/srv/services/services_mule.py]`).

uWSGI runs it in a mule, a process of its own beside the workers. A mule script must not return: a
mule whose script ends is respawned at once by the master ("mule 1 crippled...trying respawn"), in
a loop. So, like any mule script, it loops: once a second it rewrites a marker in the app's runtime
directory with its pid, its mule id and how many times it has beaten.
"""

import json
import os
import time

import uwsgi

RUNTIME_DIR = os.path.dirname(uwsgi.opt["pidfile2"].decode())
MARKER = os.path.join(RUNTIME_DIR, "mule.json")

started = time.time()
beats = 0
while True:
    beats += 1
    with open(MARKER + ".tmp", "w", encoding="utf-8") as out:
        json.dump({"pid": os.getpid(), "mule_id": uwsgi.mule_id(), "started": started, "beats": beats}, out)
    os.replace(MARKER + ".tmp", MARKER)
    time.sleep(1)
