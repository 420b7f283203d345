"""A Flask app (Flask from PyPI) with a Python atexit handler, for molecule/vacuum's quiet stops.

Each process that runs the handler writes ATEXIT_DIR/<its pid>, so a test can tell that the app's
atexit handlers ran when `systemctl stop` stopped it.
"""

import atexit
import os

from flask import Flask

ATEXIT_DIR = os.environ["ATEXIT_DIR"]

application = Flask(__name__)


@application.route("/")
def index():
    return "hello from Flask\n"


def _write_marker():
    with open(os.path.join(ATEXIT_DIR, str(os.getpid())), "w", encoding="utf-8") as marker:
        marker.write("atexit handler ran\n")


atexit.register(_write_marker)
