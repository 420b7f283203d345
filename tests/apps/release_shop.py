"""The app of molecule/releases: one file for every release, which tells them apart by the
shop_release.json written beside it (its version, and whether it is broken, unhealthy or needs shopdep).

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


def application(environ, start_response):
    del environ  # every path answers the same
    status = "500 Internal Server Error" if RELEASE.get("unhealthy") else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [("shop %s%s\n" % (RELEASE["version"], DEPENDENCY)).encode()]
