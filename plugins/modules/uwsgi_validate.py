# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

# The documentation of the action plugin plugins/action/uwsgi_validate.py, which does the work on the
# controller (this file holds no code, like ansible.builtin.assert's).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uwsgi_validate
short_description: Check the inputs of the pyops.uwsgi.uwsgi_production role against all of its rules at once
version_added: 0.2.0
description:
  - Checks the role's variables against every rule that the types of the role's argument specification
    cannot express (names, sockets, ports, users, numbers and how they relate, uWSGI's own services, health
    checks, the apps against each other), and fails with one message per broken rule and app, each naming
    the variable, its value and the rule.
  - No key or value that the role writes into an app's ini, unit, socket unit or secrets file may change that
    file's structure (a line break or NUL, an ini key with C(=) or starting with C(;), C(#) or C([), ...), and
    the app's identity and privilege are the role's alone (C(unit_hardening) only sets the allow-list of
    sandboxing directives; no service group grants privilege).
  - Every value has a shape that works where the role puts it (absolute paths, unix socket paths that fit a
    socket address, addresses that parse, with no hostname under socket activation, scalar unit values,
    health-check requests without control characters, no uWSGI expansion in what the role writes into an ini
    from the app's own keys, a unix socket uWSGI binds itself inside the app's sandbox).
  - Runs on the controller. It reads the host's C(/proc/sys/net/core/somaxconn) (also in check mode), and
    only when some app's options set C(listen). It changes nothing.
  - The values of O(secrets) never appear in its result; the rules on them name the app and the variable only.
author:
  - pyops engineers (@pyops)
options:
  variables:
    description:
      - The role's variables by their full names (V(uwsgi_production_apps), V(uwsgi_production_options), ...), every
        public variable of the role's C(defaults/main.yml), already templated.
      - O(secrets) takes the place of C(uwsgi_production_secrets), O(tls_keys) that of C(uwsgi_production_tls_keys).
    type: dict
    required: true
  secrets:
    description:
      - C(uwsgi_production_secrets), apart from O(variables) so that no output shows its values.
    type: dict
    default: {}
  tls_keys:
    description:
      - C(uwsgi_production_tls_keys), apart from O(variables) so that no output shows the private keys.
    type: dict
    default: {}
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: full
    details: Only to read C(/proc/sys/net/core/somaxconn), which any user may read.
  bypass_host_loop:
    support: none
  connection:
    support: full
  check_mode:
    support: full
    details: The check runs in check mode too; it changes nothing.
  delegation:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: ansible.builtin.validate_argument_spec
notes:
  - The types of the variables are the role argument specification's to check (C(meta/argument_specs.yml)), before
    this runs. Values of another shape than it allows are not reported here.
"""

EXAMPLES = r"""
- name: Check the role's inputs (what the role's tasks/preflight.yml does)
  pyops.uwsgi.uwsgi_validate:
    variables:
      uwsgi_production_apps: "{{ uwsgi_production_apps }}"
      uwsgi_production_options: "{{ uwsgi_production_options }}"
      uwsgi_production_stop_timeout: "{{ uwsgi_production_stop_timeout }}"
      # ... and every other public variable of the role
    secrets: "{{ uwsgi_production_secrets }}"
"""

RETURN = r"""
msg:
  description: The messages of every broken rule, one per line, or that every rule holds.
  returned: always
  type: str
  sample: uwsgi_production_apps[0].name = "../x" is not a usable name ...
violations:
  description: The messages of every broken rule, in the order of the rules (empty when the input is good).
  returned: always
  type: list
  elements: str
  sample: ['uwsgi_production_apps[0].socket = "run/shop.sock" must be an absolute path (or "" for no unix socket).']
somaxconn:
  description: The host's C(net.core.somaxconn), when some app sets C(listen) and it was read.
  returned: when read
  type: int
  sample: 4096
"""
