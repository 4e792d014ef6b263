"""roles/fleet_lock under real ansible-playbook, on local hosts: a lock left by a process of this controller
that is gone is taken over and said so; one held by another controller refuses the run on every node and
the lock this run took elsewhere is given back (playbooks/deploy.yml's first play)."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- name: Lock
  hosts: all
  gather_facts: false
  tasks:
    - name: Take the lock on every node, or on none
      ansible.builtin.import_role:
        name: fleet_lock
        tasks_from: fleet
    - name: Show the report
      ansible.builtin.debug:
        var: fleetdeploy_report
"""


def _lock(root: Path, node: str) -> Path:
    return root / node / "mnist" / "state" / "lock"


def _leave_lock(root: Path, node: str, holder: dict) -> None:
    _lock(root, node).mkdir(parents=True)
    (_lock(root, node) / "holder.json").write_text(json.dumps(holder))


def _holder(root: Path, node: str) -> dict:
    return json.loads((_lock(root, node) / "holder.json").read_text())


def _run(tmp_path: Path, root: Path) -> subprocess.CompletedProcess:
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "".join(
            f"{node} ansible_connection=local ansible_become=false ansible_python_interpreter={sys.executable} "
            f"fleet_lock_root={root / node}\n"
            for node in ("n1", "n2")
        )
    )
    playbook = tmp_path / "lock.yml"
    playbook.write_text(PLAYBOOK)
    holder = {"run_id": "new-run", "user": "me", "controller": socket.gethostname(), "pid": 1, "action": "apply"}
    extra = json.dumps({"fleet_lock_service": "mnist", "fleet_lock_holder": holder})
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e", extra],
        capture_output=True,
        text=True,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
             "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_lock_whose_holder_is_gone_from_this_controller_is_taken_over(tmp_path):
    root = tmp_path / "nodes"
    gone = {"run_id": "old-run", "controller": socket.gethostname(), "pid": _dead_pid(), "action": "apply"}
    _leave_lock(root, "n1", gone)
    run = _run(tmp_path, root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert _holder(root, "n1")["run_id"] == "new-run" and _holder(root, "n2")["run_id"] == "new-run"
    assert '"lock_taken_over"' in run.stdout and "old-run" in run.stdout


def test_a_lock_held_by_a_live_process_or_another_controller_refuses_the_run_everywhere(tmp_path):
    for holder in (
        {"run_id": "live-run", "controller": socket.gethostname(), "pid": 1, "action": "apply"},
        {"run_id": "far-run", "controller": socket.gethostname() + "-other", "pid": _dead_pid(), "action": "apply"},
    ):
        root = tmp_path / holder["run_id"]
        _leave_lock(root, "n1", holder)
        run = _run(tmp_path, root)
        assert run.returncode != 0
        assert f"run {holder['run_id']}" in run.stdout, run.stdout
        assert "another deploy holds the lock of mnist on n1; nothing was changed on n2" in run.stdout
        assert _holder(root, "n1")["run_id"] == holder["run_id"]
        assert not _lock(root, "n2").exists(), "the lock this run took on n2 was not given back"
