# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""pyops.uwsgi.uwsgi_validate: the role's input rules, checked on the controller in one call.

The rules are plugins/module_utils/uwsgi_validate.py; this reads the one fact of the host they need
(net.core.somaxconn, only when some app sets `listen`) and turns their messages into the task's result.
The secrets and the TLS keys come in their own arguments and nothing of them goes into the result: the messages name the
app and the variable only.
"""

from __future__ import annotations

import base64

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.pyops.uwsgi.plugins.module_utils import uwsgi_validate as rules

SECRETS = rules.PREFIX + "secrets"
TLS_KEYS = rules.PREFIX + "tls_keys"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("variables", "secrets", "tls_keys"))
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # not used
        variables = self._task.args.get("variables")
        secrets = self._task.args.get("secrets")
        if not isinstance(variables, Mapping):
            raise AnsibleActionFail("variables must be a dict of the role's variables by their full names")
        variables = dict(variables)
        variables[SECRETS] = {} if secrets is None else secrets
        tls_keys = self._task.args.get("tls_keys")
        variables[TLS_KEYS] = {} if tls_keys is None else tls_keys

        result["changed"] = False
        somaxconn = None
        if rules.needs_somaxconn(variables):
            somaxconn = self._somaxconn(task_vars)
            result["somaxconn"] = somaxconn
        messages = rules.validate(variables, somaxconn)
        result["violations"] = messages
        if messages:
            result["failed"] = True
            result["msg"] = "\n".join(messages)
        else:
            result["msg"] = "Every input rule holds."
        return result

    def _somaxconn(self, task_vars):
        """The host's net.core.somaxconn, read with slurp (which runs in check mode too)."""
        try:
            read = self._execute_module(module_name="ansible.builtin.slurp", module_args={"src": rules.SOMAXCONN_PATH},
                                        task_vars=task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if read.get("failed") or "content" not in read:
            raise AnsibleActionFail("could not read %s on the host: %s" % (rules.SOMAXCONN_PATH, read.get("msg", read)))
        text = to_text(base64.b64decode(read["content"])).strip()
        try:
            return int(text)
        except ValueError:
            raise AnsibleActionFail("%s on the host holds %r, not a number" % (rules.SOMAXCONN_PATH, text))
