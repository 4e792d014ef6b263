"""`fleetdeploy apply` when things go wrong: each fault is reported for the node it hit, the other nodes
still deploy, the exit code is non-zero, and a node that served before keeps serving. (A release whose
init() raises: tests/e2e/test_rollout.py, under load.)"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.deploy_helpers import (
    copy_example,
    ensure_serving,
    fleetdeploy,
    node_exec,
    seed_client,
    served_release,
)

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def fleet(sandbox_fleet):
    # The same fleet as test_apply.py (same arguments): its nodes already run Docker and the image.
    return sandbox_fleet(
        "apply", nodes=3, distros=("bookworm", "trixie"), docker=("absent", "preinstalled", "preinstalled")
    )


@pytest.fixture(scope="module")
def deployed(fleet, tmp_path_factory):
    """A working release on every node, as the baseline each fault must not take down."""
    project = copy_example(tmp_path_factory.mktemp("mnist-faults"))
    # In a full run test_apply.py leaves this very release (the example as it is) on every node.
    result = ensure_serving(fleet, project, tmp_path_factory.mktemp("rendered"))
    assert result is None or result.returncode == 0, result.stdout + result.stderr
    return project


def inventory_with(fleet, tmp_path, **extra_hosts) -> str:
    """The sandbox inventory plus extra hosts in group `fleet` (host vars given as dicts)."""
    data = yaml.safe_load(fleet.inventory.read_text())
    data["all"]["children"]["fleet"].setdefault("hosts", {}).update(extra_hosts)
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_host_is_named_and_the_others_still_deploy(fleet, deployed, tmp_path):
    ghost = {"ansible_host": "127.0.0.1", "ansible_port": free_port(), "ansible_user": "fleet"}
    inventory = inventory_with(fleet, tmp_path, ghost=ghost)
    # One batch that tolerates one failure: with the example's canary, the ghost (listed first) would be
    # the canary and rightly stop the rollout before node2 (tests/e2e/test_rollout.py covers that).
    one_batch = copy_example(tmp_path / "one-batch", batch="100%", max_fail=1)
    result = fleetdeploy("apply", inventory, "-f", one_batch / "fleetdeploy.yml", "--limit", "node2,ghost")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    ghost_lines = [line for line in output.splitlines() if "ghost" in line]
    assert any("unreachable" in line for line in ghost_lines), output
    node2_lines = [line for line in result.stdout.splitlines() if "node2" in line]
    assert any(word in line for line in node2_lines for word in ("ok", "changed")), output

    # --retry-failed goes back to the ghost alone: node2 was done.
    again = fleetdeploy("apply", inventory, "-f", one_batch / "fleetdeploy.yml", "--retry-failed")
    output = again.stdout + again.stderr
    assert again.returncode != 0, output
    assert "left undone" in output and ": ghost" in output, output
    assert not any("node2" in line for line in again.stdout.splitlines()[1:]), output


def test_sudo_refused_is_a_clear_failure(fleet, deployed, tmp_path, docker_engine):
    node = fleet.nodes[1]
    public_key = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(fleet.paths.private_key)], capture_output=True, text=True, check=True
    ).stdout.strip()
    node_exec(
        docker_engine,
        node,
        "id plain >/dev/null 2>&1 || useradd --create-home --shell /bin/bash plain; "
        "install -d -m 700 -o plain -g plain /home/plain/.ssh; "
        f"echo '{public_key}' > /home/plain/.ssh/authorized_keys; "
        "chown plain:plain /home/plain/.ssh/authorized_keys; chmod 600 /home/plain/.ssh/authorized_keys",
    )
    node_vars = yaml.safe_load(fleet.inventory.read_text())["all"]["children"]["fleet"]["children"]
    host_vars = next(group["hosts"][node.host] for group in node_vars.values() if node.host in group["hosts"])
    inventory = inventory_with(fleet, tmp_path, nosudo={**host_vars, "ansible_user": "plain"})
    result = fleetdeploy("apply", inventory, "-f", deployed / "fleetdeploy.yml", "--limit", "nosudo")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "sudo" in output.lower(), output
    assert "prediction: [2]" in seed_client(deployed, node)


def test_taken_port_is_a_clear_error(fleet, deployed, tmp_path, docker_engine):
    node = fleet.nodes[2]
    node_exec(
        docker_engine,
        node,
        "nohup python3 -m http.server 7000 --bind 0.0.0.0 >/dev/null 2>&1 & sleep 1; ss -ltn | grep -q ':7000 '",
    )
    moved = copy_example(tmp_path / "moved")
    spec = moved / "fleetdeploy.yml"
    spec.write_text(spec.read_text().replace("port: 6789", "port: 7000"))
    result = fleetdeploy("apply", fleet.inventory, "-f", spec, "--limit", node.host)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "7000" in output and node.host in output, output
    assert "prediction: [2]" in seed_client(deployed, node)


def play_order(inventory) -> list[str]:
    """The hosts in the order a play takes them (`serial` batches follow it)."""
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "all", "-i", str(inventory), "--list-hosts"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.strip() for line in listed.splitlines()[1:] if line.strip()]


def with_score(project, old: str, new: str):
    script = project / "score.py"
    text = script.read_text()
    assert old in text
    script.write_text(text.replace(old, new, 1))
    return project


def test_a_late_failure_past_max_fail_rolls_back_the_nodes_already_updated(
    fleet, deployed, tmp_path, docker_engine
):
    """Batches [1, 1, 1] with rollback `all`: the first two nodes switch to v2, the last cannot start it (its
    idle slot's port is taken), one failure is more than max_fail 0 allows, so the first two go back to the
    release they served; every node ends serving it."""
    v1 = {node.host: served_release(node) for node in fleet.nodes}
    v2 = copy_example(tmp_path / "v2", batch=[1, 1, 1], max_fail=0, rollback="all")
    (v2 / "score.py").write_text((v2 / "score.py").read_text() + "\n# v2 of the late-failure test\n")
    # The batches follow the play's host order (Ansible's: group by group), not the node numbers.
    by_name = {node.host: node for node in fleet.nodes}
    *updated, last = [by_name[name] for name in play_order(fleet.inventory)]
    slot = json.loads(node_exec(docker_engine, last, "cat /opt/fleetdeploy/mnist/state/active.json"))["slot"]
    idle_port = {"blue": 16789, "green": 26789}["green" if slot == "blue" else "blue"]
    node_exec(
        docker_engine,
        last,
        f"nohup python3 -m http.server {idle_port} --bind 127.0.0.1 >/dev/null 2>&1 & sleep 1; "
        f"ss -ltn | grep -q ':{idle_port} '",
    )
    try:
        result = fleetdeploy("apply", fleet.inventory, "-f", v2 / "fleetdeploy.yml")
    finally:
        # The bracket keeps pkill from matching this very shell's command line.
        node_exec(docker_engine, last, f"pkill -f '[h]ttp.server {idle_port}' || true")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "batches: 1 -> 1 -> 1" in output, output
    assert "rollout stopped: 1 node(s) failed, more than max_fail allows (0)" in output, output
    assert f"{last.host}" in output and "address already in use" in output, output
    for node in updated:
        assert f"{node.host}: rolled back to {v1[node.host]}" in output, output
    assert {node.host: served_release(node) for node in fleet.nodes} == v1
    history = json.loads(
        fleetdeploy("history", fleet.inventory, "-f", v2 / "fleetdeploy.yml", "--json").stdout
    )["entries"]
    for node in updated:
        latest = [(entry["action"], entry["result"]) for entry in history if entry["node"] == node.host][-2:]
        assert latest == [("apply", "ok"), ("rollback", "ok")], history
    assert "prediction: [2]" in seed_client(deployed, last)


def test_a_release_refused_by_the_parity_gate_stops_at_the_canary(fleet, deployed, tmp_path):
    """health.parity: v2 answers the golden request differently from the serving release, so the canary
    refuses it before any traffic reaches it; the rollout goes no further and the fleet keeps serving."""
    v1 = {node.host: served_release(node) for node in fleet.nodes}
    v2 = copy_example(tmp_path / "v2", batch=[1, "100%"], max_fail=0)
    spec = yaml.safe_load((v2 / "fleetdeploy.yml").read_text())
    spec["health"]["parity"] = {"requests": ["sample_request.json"]}
    (v2 / "fleetdeploy.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    with_score(v2, "return y_hat.tolist()", "return [int(label) + 1 for label in y_hat.tolist()]")
    result = fleetdeploy("apply", fleet.inventory, "-f", v2 / "fleetdeploy.yml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "answers differ from the serving release" in output and "$[0]: 2 != 3" in output, output
    assert "rollout stopped: canary batch failed on node1" in output, output
    left = next(line for line in output.splitlines() if "not started (keep their release):" in line)
    assert sorted(left.split(":", 1)[1].replace(",", " ").split()) == ["node2", "node3"], output
    assert {node.host: served_release(node) for node in fleet.nodes} == v1
