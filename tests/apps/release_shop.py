"""The app of molecule/releases: one file for every release, which tells them apart by the
shop_release.json written beside it (its version, and whether it is broken, unhealthy, unhealthy with more than
one worker, or needs shopdep).

Its import takes SHOP_IMPORT_SECONDS (the app's environment), like a large app's would.
"""

import json
import os
import time

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "shop_release.json"), encoding="utf-8") as handle:
    RELEASE = json.load(handle)

time.sleep(float(os.environ.get("SHOP_IMPORT_SECONDS", "2")))
if RELEASE.get("broken"):
    raise ImportError("release %s is broken on purpose" % RELEASE["version"])
DEPENDENCY = ""
if RELEASE.get("needs_shopdep"):
    import shopdep  # pylint: disable=import-error  # only in the virtualenv of the releases that list it

    DEPENDENCY = " shopdep " + shopdep.VERSION


def unhealthy():
    """Release 5 answers 500 everywhere. Release 9 only with more than one worker, so it passes the check before the
    switch (a uWSGI of its own with one worker) and fails the one after it, as an app broken by the app's own
    setting would (uWSGI's module exists only inside uWSGI)."""
    if RELEASE.get("unhealthy"):
        return True
    if RELEASE.get("unhealthy_with_workers"):
        import uwsgi  # pylint: disable=import-error,import-outside-toplevel

        return uwsgi.numproc > 1
    return False


def application(environ, start_response):
    del environ  # every path answers the same
    status = "500 Internal Server Error" if unhealthy() else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [("shop %s%s\n" % (RELEASE["version"], DEPENDENCY)).encode()]
