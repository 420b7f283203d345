"""Test app for molecule/app_settings: reports, as JSON, what the app sees of its own settings.

It never returns a secret itself, only its SHA-256, so a response is safe to print in a test report.
"""

import grp
import hashlib
import importlib.metadata
import json
import os
import pwd


def application(environ, start_response):
    secret = os.environ.get("API_TOKEN")
    versions = {}
    for package in ("six", "idna"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    body = json.dumps({
        "user": pwd.getpwuid(os.getuid()).pw_name,
        "group": grp.getgrgid(os.getgid()).gr_name,
        "greeting": os.environ.get("GREETING"),
        "api_token_sha256": hashlib.sha256(secret.encode()).hexdigest() if secret is not None else None,
        "versions": versions,
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
