"""deploy.yml's first play under real ansible-playbook, on local hosts: the rendered project judges the
nodes by preflight's rules (roles/fleet_preflight/filter_plugins) as `fleetdeploy check` does, says each
failed check with its fix, and fails every node before anything is sent when more nodes fail than
rollout.max_fail allows: what a site running the project from AWX gets without fleetdeploy.

Only that play is run (taken from deploy.yml as it is): the plays after it would deploy to this machine.
A node failed in it is left out of every later play (Ansible's rule), which the e2e tests show."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, port: int, max_fail) -> Path:
    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "vars").mkdir()
    preflight = yaml.safe_load((ROOT / "playbooks" / "deploy.yml").read_text())[0]
    assert preflight["name"] == "Preflight, before anything is sent"
    (project / "playbooks" / "deploy.yml").write_text(yaml.safe_dump([preflight], sort_keys=False))
    needs = {"service": "mnist", "port": port, "runtime": "venv", "memory": None, "gpus": False,
             "data_bytes": 1024, "kept_releases": 2}  # fmt: skip
    values = {"fleetdeploy_service": "mnist", "fleetdeploy_release": "r1", "fleet_preflight_service": "mnist",
              "fleet_preflight_port": port, "fleet_preflight_needs": needs, "fleet_rollout_max_fail": max_fail}  # fmt: skip
    (project / "vars" / "fleetdeploy.json").write_text(json.dumps(values))
    (project / "vars" / "no-overrides.json").write_text("{}")
    (project / "inventory.ini").write_text(
        "".join(
            f"{node} ansible_connection=local ansible_become=false ansible_python_interpreter={sys.executable} "
            f"fleetdeploy_root={tmp_path / node}\n"
            for node in ("n1", "n2")
        )
    )
    return project


def _deploy(project: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "inventory.ini", "playbooks/deploy.yml", *extra],
        cwd=project, capture_output=True, text=True, check=False,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
             "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip


def test_nodes_failing_preflight_past_max_fail_stop_the_deploy_everywhere_before_anything_is_sent(tmp_path):
    with socket.socket() as taken:  # another program on the service's port, on both (local) nodes
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _deploy(_project(tmp_path, port, max_fail=1))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    for node in ("n1", "n2"):
        assert f"ok: [{node}] => {{" in output and f"port: port {port} is held by another program" in output
    assert f"free port {port}, or change the spec's port" in output, output  # the fix, said with the check
    assert "preflight: 2 node(s) cannot take the service (n1, n2), max_fail allows 1; nothing was sent" in output
    assert "n1                         : ok=" in output and "failed=1" in output.split("PLAY RECAP")[1], output
    assert output.split("PLAY RECAP")[1].count("failed=1") == 2, output  # every node, so no later play runs
    assert not (tmp_path / "n1" / "mnist").exists()  # nothing written on a node


def test_a_node_failing_within_max_fail_goes_on_and_one_that_passes_is_not_held(tmp_path):
    """Within the budget the play fails nobody (the node goes on, and its deploy counts against max_fail
    there); with the port free every node passes."""
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        within = _deploy(_project(tmp_path / "within", port, max_fail=2))
    free = _deploy(_project(tmp_path / "free", port, max_fail=0))  # the socket is closed: the port is free
    for run in (within, free):
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        assert "cannot take the service" not in output and "failed=0" in output, output
    assert f"port {port} is held by another program" in within.stdout, within.stdout
    assert "is held by" not in free.stdout and "Say each check the node failed" in free.stdout, free.stdout
