# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""systemctl and journalctl as the role's modules call them on the host."""

from __future__ import annotations


class Answer:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class Systemd:
    def __init__(self, module):
        self.module = module

    def run(self, *args):
        """What `systemctl ARGS` answered: returncode, stdout, stderr."""
        rc, out, err = self.module.run_command(["systemctl"] + list(args))
        return Answer(rc, out, err)

    def must(self, *args):
        run = self.run(*args)
        if run.returncode != 0:
            raise RuntimeError("systemctl %s: %s" % (" ".join(args), (run.stderr or run.stdout).strip()))
        return run

    def show(self, units):
        """{unit: {ActiveState, SubState, UnitFileState}} of every unit, in one call."""
        found = {}
        if not units:
            return found
        run = self.run("show", "--property=Id,ActiveState,SubState,UnitFileState", "--", *units)
        current = {}
        for line in run.stdout.splitlines() + [""]:
            if not line.strip():
                if current.get("Id"):
                    found[current["Id"]] = current
                current = {}
                continue
            key, _sep, value = line.partition("=")
            current[key] = value
        return found

    def journal(self, unit, lines):
        _rc, out, _err = self.module.run_command(["journalctl", "--unit", unit, "--lines", str(lines), "--no-pager",
                                                  "--output", "short-precise"])
        return out.rstrip("\n")
