# Copyright: (c) 2026, pyops.uwsgi contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The one runner of systemctl and journalctl that every module of the role calls on the host.

tests/unit/plugins/test_uwsgi_systemd.py runs it against a fake module that records each argv.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, NamedTuple

# The properties `show` asks for: what the service step, the rollback and `settled` read.
SHOW_PROPERTIES = ("Id", "ActiveState", "SubState", "UnitFileState")


class Answer(NamedTuple):
    """What one systemctl call answered."""

    argv: List[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def said(self) -> str:
        """systemctl's own words: its stderr, or its stdout when stderr is empty."""
        return (self.stderr or self.stdout).strip()


class SystemctlError(Exception):
    """A systemctl call that had to succeed and did not: its argv, return code and stderr are kept.

    str() is `systemctl ARGS: what it said`, the form the role's messages have always had.
    """

    def __init__(self, answer: Answer) -> None:
        self.argv, self.returncode, self.stderr, self.answer = answer.argv, answer.returncode, answer.stderr, answer
        super().__init__("%s: %s" % (" ".join(answer.argv), answer.said))


def parse_show(text: str) -> Dict[str, Dict[str, str]]:
    """{Id: {property: value}} of `systemctl show --property=Id,... -- UNIT...` output.

    systemctl separates the units' blocks with a blank line and prints them in the order asked, but a
    unit systemd does not know still gets a block (with its Id): the blocks are keyed by Id, never by
    position. A value may hold '=' (split on the first one only); a block without an Id is dropped.
    """
    found: Dict[str, Dict[str, str]] = {}
    current: Dict[str, str] = {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current.get("Id"):
                found[current["Id"]] = current
            current = {}
            continue
        key, _sep, value = line.partition("=")
        current[key] = value
    return found


class Systemd:
    """systemctl and journalctl over AnsibleModule.run_command (a fake in the unit tests)."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def run(self, *args: str) -> Answer:
        """What `systemctl ARGS` answered, whatever its return code."""
        argv = ["systemctl"] + list(args)
        rc, out, err = self.module.run_command(argv)
        return Answer(argv, rc, out, err)

    def must(self, *args: str) -> Answer:
        """`systemctl ARGS`, which has to succeed: raises SystemctlError when it does not."""
        answer = self.run(*args)
        if not answer.ok:
            raise SystemctlError(answer)
        return answer

    def show(self, units: Iterable[str]) -> Dict[str, Dict[str, str]]:
        """{unit: {ActiveState, SubState, UnitFileState}} of every unit, in one call."""
        units = list(units)
        if not units:
            return {}
        return parse_show(self.run("show", "--property=" + ",".join(SHOW_PROPERTIES), "--", *units).stdout)

    def active_state(self, unit: str) -> str:
        """The unit's ActiveState (active, inactive, failed, activating, ...)."""
        return self.run("show", "--property=ActiveState", "--value", unit).stdout.strip()

    def journal(self, unit: str, lines: int) -> str:
        """The unit's last `lines` journal lines (what a failure message shows)."""
        _rc, out, _err = self.module.run_command(["journalctl", "--unit", unit, "--lines", str(lines), "--no-pager",
                                                  "--output", "short-precise"])
        return out.rstrip("\n")
