"""`fleetdeploy apply` when things go wrong: each fault is reported for the node it hit, the other nodes
still deploy, the exit code is non-zero, and a node that served before keeps serving."""

from __future__ import annotations

import socket
import subprocess

import pytest
import yaml

from tests.e2e.deploy_helpers import copy_example, ensure_serving, fleetdeploy, node_exec, seed_client

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


def test_init_failure_is_reported_and_the_previous_release_keeps_serving(fleet, deployed, tmp_path):
    broken = copy_example(tmp_path / "broken")
    script = broken / "score.py"
    script.write_text(
        script.read_text().replace(
            "def init():", "def init():\n    raise RuntimeError('model store is unreachable (test)')", 1
        )
    )
    result = fleetdeploy("apply", fleet.inventory, "-f", broken / "fleetdeploy.yml", "--limit", "node1")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "model store is unreachable (test)" in output
    assert "Traceback" in output
    assert "prediction: [2]" in seed_client(deployed, fleet.nodes[0])


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
