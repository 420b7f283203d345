#!/usr/bin/python
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_health
short_description: Wait until a uWSGI app answers a request on its own socket
version_added: 0.1.0
description:
  - Sends a GET request to a uWSGI app from inside the host, over the app's HTTP socket (plain HTTP)
    or its unix socket (the uwsgi protocol a web server speaks), and retries until the answer has an
    expected status or the timeout runs out.
  - With O(recreated_file) and O(recreated_file_inode), it first waits until that file has been
    replaced. After a graceful reload (SIGHUP) the old workers finish their requests and exit, then the
    master re-executes itself and creates its master fifo and stats socket anew, so an answer after that
    comes from the new configuration. C(systemctl reload) returns before any of this happens, and uWSGI
    tells systemd nothing when it is done.
  - Changes nothing on the host.
author:
  - pyops engineers (@pyops)
extends_documentation_fragment:
  - pyops.uwsgi.attributes
options:
  socket:
    description:
      - Where the app listens. An absolute path is a unix socket; anything else is C(host:port)
        (an IPv6 host in brackets).
    type: str
    required: true
  protocol:
    description:
      - V(http) for a uWSGI C(http-socket), V(uwsgi) for a uWSGI C(socket).
    type: str
    choices: [http, uwsgi]
    required: true
  path:
    description: The path (and query string) to request.
    type: str
    default: /
  host:
    description: The C(Host) header (and C(SERVER_NAME)) of the request.
    type: str
    default: localhost
  status:
    description: The HTTP status codes that count as healthy.
    type: list
    elements: int
    default: [200]
  timeout:
    description: Seconds to keep trying before failing.
    type: float
    default: 30
  request_timeout:
    description: Seconds one request may take.
    type: float
    default: 5
  interval:
    description: Seconds between attempts.
    type: float
    default: 0.5
  recreated_file:
    description:
      - A file the app creates anew when it reloads (its master fifo or stats socket). With
        O(recreated_file_inode), wait until the file at this path has another inode before sending requests.
    type: path
  recreated_file_inode:
    description: The inode of O(recreated_file) before the reload.
    type: int
  pidfile:
    description:
      - The app's pidfile. While waiting for O(recreated_file), fail at once if it is gone or the process
        it names has exited (a reload whose new configuration could not load the app).
    type: path
attributes:
  check_mode:
    support: full
    details: The request is made in check mode too; it changes nothing.
  diff_mode:
    support: none
notes:
  - The request is made by the target host to itself; no traffic leaves the host.
"""

EXAMPLES = r"""
- name: Wait until the app answers 200 on its HTTP socket
  pyops.uwsgi.uwsgi_health:
    socket: 127.0.0.1:8080
    protocol: http
    path: /healthz

- name: Ask the app through its uwsgi-protocol unix socket, as nginx would
  pyops.uwsgi.uwsgi_health:
    socket: /run/uwsgi-hello/uwsgi.sock
    protocol: uwsgi
    timeout: 60
"""

RETURN = r"""
status:
  description: The HTTP status of the last answer (0 if none came).
  returned: always
  type: int
  sample: 200
body:
  description: The first 200 characters of the last answer's body, or the last error.
  returned: always
  type: str
  sample: "hello from uWSGI"
attempts:
  description: How many requests were sent.
  returned: always
  type: int
  sample: 1
elapsed:
  description: Seconds from the start until the answer (or the failure).
  returned: always
  type: float
  sample: 0.012
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_probe import Unhealthy, check


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="str", required=True),
            protocol=dict(type="str", required=True, choices=["http", "uwsgi"]),
            path=dict(type="str", default="/"),
            host=dict(type="str", default="localhost"),
            status=dict(type="list", elements="int", default=[200]),
            timeout=dict(type="float", default=30),
            request_timeout=dict(type="float", default=5),
            interval=dict(type="float", default=0.5),
            recreated_file=dict(type="path"),
            recreated_file_inode=dict(type="int"),
            pidfile=dict(type="path"),
        ),
        required_together=[["recreated_file", "recreated_file_inode"]],
        supports_check_mode=True,
    )
    params = module.params
    if not params["path"].startswith("/"):
        module.fail_json(msg="path must start with '/', got %r" % params["path"])
    try:
        result = check(**params)
    except Unhealthy as exc:
        module.fail_json(msg=exc.msg, changed=False, **exc.result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
