"""App 'shopapp' of molecule/releases, an app without a release whose code is a package pip installs from a
directory on the host. side_effect.yml writes one version per directory, @VERSION@ replaced: version 3's
import raises, version 5 answers 500 (its health check fails after the reload)."""

VERSION = "@VERSION@"
if VERSION == "3":
    raise ImportError("shopapp 3 is broken on purpose")


def application(environ, start_response):
    del environ  # every path answers the same
    start_response("500 Internal Server Error" if VERSION == "5" else "200 OK", [("Content-Type", "text/plain")])
    return [("shopapp %s\n" % VERSION).encode()]
