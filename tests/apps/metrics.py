"""A WSGI app for molecule/metrics: 200 on /, a slow answer on /sleep?s=S, an exception on /raise, 404 elsewhere."""

import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/sleep":
        seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
        time.sleep(seconds)
    elif path == "/raise":
        raise RuntimeError("deliberate exception")
    elif path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
