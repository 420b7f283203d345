"""A fake AnsibleModule for the executors' unit tests: run_command records each argv and answers from a
table of canned answers (argv prefix -> (rc, stdout, stderr)); what `systemctl show` answers is built from
a dict of unit properties. No host, no systemd."""

from ansible_collections.pyops.uwsgi.plugins.module_utils.uwsgi_systemd import Systemd


class FakeModule:
    def __init__(self, answers=None, units=None):
        self.calls = []
        self.answers = dict(answers or {})
        self.units = dict(units or {})

    def run_command(self, argv):
        self.calls.append(list(argv))
        for prefix in sorted(self.answers, key=len, reverse=True):
            if tuple(argv[:len(prefix)]) == tuple(prefix):
                return self.answers[prefix]
        if argv[:2] == ["systemctl", "show"] and "--" in argv:
            return 0, show_text(self.units, argv[argv.index("--") + 1:]), ""
        return 0, "", ""


def show_text(units, names):
    """What `systemctl show --property=Id,ActiveState,SubState,UnitFileState -- NAMES` prints."""
    blocks = []
    for name in names:
        props = dict({"ActiveState": "inactive", "SubState": "dead", "UnitFileState": ""}, **units.get(name, {}))
        blocks.append("\n".join(["Id=" + name] + ["%s=%s" % item for item in sorted(props.items())]))
    return "\n\n".join(blocks) + "\n"


def fake_systemd(answers=None, units=None):
    module = FakeModule(answers, units)
    return module, Systemd(module)
