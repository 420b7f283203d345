"""The project's record of a run (tests/callback_plugins/pyops_record.py, read by tests/record.py) keeps
each batch of a play with `serial` and when it started, so a test can tell how long each batch took
(molecule/rolling_update's fleet figure). A real ansible-playbook run, two hosts connected locally."""

import subprocess

import record

PLAYBOOK = """
- name: Two batches of one host, each waiting a known time
  hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - name: Wait
      ansible.builtin.command: sleep {{ wait }}
      changed_when: false
"""


def test_each_batch_is_kept_with_its_hosts_and_seconds(tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "inventory.yml").write_text(
        "all:\n  vars: {ansible_connection: local, ansible_python_interpreter: '{{ ansible_playbook_python }}'}\n"
        "  hosts: {one: {wait: 0.2}, two: {wait: 3.2}}\n", encoding="utf-8")
    run = subprocess.run(["ansible-playbook", "-i", "inventory.yml", "play.yml"], cwd=tmp_path, check=False,
                         capture_output=True, text=True, env=record.environment(tmp_path / "record.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    outcome = record.Record(tmp_path / "record.json")
    batches = outcome.batches()
    assert [batch[0] for batch in batches] == [["one"], ["two"]]
    first, second = (batch[1] for batch in batches)
    # Each batch has its own sleep and none of the other's; Ansible's own cost per batch (up to 1.4 s on a loaded
    # CI machine, more for the first) is in both, so only the other batch's 3.2 s sleep tells them apart.
    assert 0.2 <= first < 3.2 <= second, batches
    assert first + second <= outcome.data["ended"] - outcome.data["plays"][0]["started"] + 1e-6
