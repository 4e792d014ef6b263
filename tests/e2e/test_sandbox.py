"""The sandbox fleet end to end: `fleetdeploy sandbox up/list/down` as a user runs them, real SSH and
Ansible through the written inventory with host-key checking on, Docker installed inside a node, and
the bad-input cases leaving nothing behind."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml

from fleetdeploy.sandbox import lifecycle
from fleetdeploy.sandbox.images import PYTHON_BASE_IMAGE, RELEASES, ensure_images

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

ANSIBLE = Path(sys.executable).with_name("ansible")
LABEL = "fleetdeploy.sandbox"


def cli(*args, timeout=300, **env):
    return subprocess.run(
        [sys.executable, "-m", "fleetdeploy", "sandbox", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
        check=False,
    )


def ansible(inventory, *args, timeout=120):
    # Host-key checking stays on whatever the caller's environment says. SSH master connections are
    # kept per inventory: one reused from an earlier call would skip the host-key check. Their folder is
    # short (a socket path may not exceed 107 bytes; an xdist worker's temp folders are long).
    control = Path(tempfile.gettempdir()) / f"fd-cp-{hashlib.sha1(str(inventory).encode()).hexdigest()[:10]}"
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control),
    }
    return subprocess.run(
        [str(ANSIBLE), "-i", str(inventory), "fleet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def per_host(result) -> dict[str, str]:
    """`ansible -o` output lines as {host: rest of line}."""
    return dict(line.split(" | ", 1) for line in result.stdout.splitlines() if " | " in line)


def leftovers(client, name) -> list[str]:
    labels = {"label": f"{LABEL}={name}"}
    return (
        [f"container {c.name}" for c in client.containers.list(all=True, filters=labels)]
        + [f"volume {v.name}" for v in client.volumes.list(filters=labels)]
        + [f"network {n.name}" for n in client.networks.list(filters=labels)]
    )


@pytest.mark.timeout(900)
def test_lifecycle_two_nodes(docker_engine, sandbox_home, sandbox_images, session_token):
    name = f"life-{session_token}"
    up = cli(
        "up", "--name", name, "--nodes", "2", "--distro", "bookworm,trixie", "--docker", "absent,preinstalled"
    )
    try:
        assert up.returncode == 0, up.stderr
        inventory = Path(up.stdout.strip().splitlines()[-1])
        assert inventory == sandbox_home / "sandboxes" / name / "inventory.yml"
        releases = yaml.safe_load(inventory.read_text())["all"]["children"]["fleet"]["children"]
        assert {release: set(group["hosts"]) for release, group in releases.items()} == {
            "bookworm": {"node1"},
            "trixie": {"node2"},
        }

        listed = cli("list", FLEETDEPLOY_HOME=str(sandbox_home / "elsewhere"))
        assert listed.returncode == 0 and f"{name}  inventory: {inventory}" in listed.stdout
        assert "trixie" in listed.stdout

        pong = ansible(inventory, "-m", "ping", "-o")
        assert pong.returncode == 0, pong.stdout + pong.stderr
        assert set(per_host(pong)) == {"node1", "node2"}

        _host_keys_are_pinned(inventory, sandbox_home / "unpinned")

        booted = ansible(
            inventory, "-o", "-m", "shell", "-a", "ps -o comm= -p 1; systemctl is-system-running"
        )
        assert booted.returncode == 0, booted.stdout
        for host, line in per_host(booted).items():
            assert "systemd" in line and ("running" in line or "degraded" in line), (host, line)

        nodes = {
            host: {**hostvars, "container": f"fleetdeploy-{name}-{host}"}
            for group in releases.values()
            for host, hostvars in group["hosts"].items()
        }
        _docker_installs_and_serves_on_the_scoring_port(inventory, nodes)
    finally:
        # From another FLEETDEPLOY_HOME: the nodes' labels say where the state folder is.
        down = cli("down", "--name", name, FLEETDEPLOY_HOME=str(sandbox_home / "elsewhere"))
    assert down.returncode == 0, down.stderr
    assert leftovers(docker_engine, name) == []
    assert not (sandbox_home / "sandboxes" / name).exists()


def _host_keys_are_pinned(inventory: Path, folder: Path):
    """The same inventory with an empty known_hosts must be refused: checking is really on."""
    folder.mkdir(exist_ok=True)
    (folder / "known_hosts").write_text("")
    text = inventory.read_text().replace(str(inventory.with_name("known_hosts")), str(folder / "known_hosts"))
    unpinned = folder / "inventory.yml"
    unpinned.write_text(text)
    refused = ansible(unpinned, "-m", "ping", "-o", "--limit", "node1")
    assert refused.returncode != 0
    assert "Host key verification failed" in refused.stdout + refused.stderr


def _docker_installs_and_serves_on_the_scoring_port(inventory: Path, nodes: dict[str, dict]):
    """The bare node takes Debian's docker.io like a real machine; then every node's own engine runs a
    container publishing 6789, which the host reaches at the node's fleetdeploy_scoring_url."""
    install = (
        "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
        "apt-get install -y -qq --no-install-recommends docker.io >/dev/null"
    )
    installed = ansible(inventory, "--limit", "node1", "-b", "-m", "shell", "-a", install, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    for host in nodes:
        # No registry is reachable from nodes either: images travel as `docker save` streams.
        loaded = subprocess.run(
            f"docker save {PYTHON_BASE_IMAGE} | docker exec -i {nodes[host]['container']} docker load",
            shell=True,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
    serve = f"docker run -d --name probe -p 6789:6789 {PYTHON_BASE_IMAGE} python -m http.server 6789"
    ran = ansible(inventory, "-o", "-b", "-m", "shell", "-a", f"systemctl is-active docker && {serve}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    for host, node in nodes.items():
        assert _http_status(node["fleetdeploy_scoring_url"]) == 200, host


def _http_status(url: str, deadline: float = 30) -> int | str:
    waited, last = 0.0, "no answer"
    while waited < deadline:
        try:
            return requests.get(url, timeout=5).status_code
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.5)
        waited += 0.5
    return last


def test_images_are_reused_when_their_recipe_is_unchanged(docker_engine, sandbox_images):
    again = ensure_images(RELEASES, docker_preinstalled=(False, True), python_base=True, client=docker_engine)
    assert {r.tag for r in again} == {r.tag for r in sandbox_images}
    assert not [r.tag for r in again if r.built]


def test_python_base_image_installs_requirements_like_python_slim(docker_engine, python_base_image):
    # Offline (no network in the container): pip installs a local package into the image's environment
    # without --break-system-packages, as `pip install -r requirements.txt` does in python:3.11-slim.
    script = (
        "set -e; python --version; mkdir /tmp/tiny; touch /tmp/tiny/tiny.py; "
        'printf \'from setuptools import setup\\nsetup(name="tiny", version="1", py_modules=["tiny"])\' '
        "> /tmp/tiny/setup.py; pip install -q --no-index --no-build-isolation /tmp/tiny; "
        "python -c 'import tiny; print(tiny.__file__)'"
    )
    out = docker_engine.containers.run(
        python_base_image, ["sh", "-c", script], remove=True, network_disabled=True
    ).decode()
    assert out.startswith("Python 3.11.")
    assert "/opt/python/lib/python3.11/site-packages/tiny.py" in out


def test_up_of_an_existing_sandbox_reports_it_and_changes_nothing(docker_engine, sandbox_fleet):
    box = sandbox_fleet("exists", nodes=1)
    before = {
        c.id: c.attrs["State"]["StartedAt"]
        for c in docker_engine.containers.list(filters={"label": f"{LABEL}={box.name}"})
    }
    inventory = box.inventory.read_text()

    again = cli("up", "--name", box.name, "--nodes", "3")

    assert again.returncode == 1
    assert f"sandbox {box.name!r} already exists with 1 node(s): node1 (bookworm" in again.stderr
    assert f"ssh 127.0.0.1:{box.nodes[0].ssh_port}" in again.stderr and str(box.inventory) in again.stderr
    after = {
        c.id: c.attrs["State"]["StartedAt"]
        for c in docker_engine.containers.list(filters={"label": f"{LABEL}={box.name}"})
    }
    assert after == before
    assert box.inventory.read_text() == inventory


def test_down_of_an_unknown_name_says_so_and_touches_nothing(docker_engine, sandbox_fleet):
    box = sandbox_fleet("exists", nodes=1)
    everything = {c.id for c in docker_engine.containers.list(all=True)}

    done = cli("down", "--name", "no-such-sandbox")

    assert done.returncode == 1
    assert "no sandbox named 'no-such-sandbox'" in done.stderr and box.name in done.stderr
    assert {c.id for c in docker_engine.containers.list(all=True)} == everything


def test_name_clash_with_a_foreign_container_is_refused_before_anything_is_made(
    docker_engine, sandbox_home, sandbox_images, session_token
):
    name = f"clash-{session_token}"
    foreign = docker_engine.containers.run(
        "fleetdeploy/debian:bookworm", ["sleep", "600"], name=f"fleetdeploy-{name}-node2", detach=True
    )
    try:
        done = cli("up", "--name", name, "--nodes", "2")
        assert done.returncode == 2
        assert f"container fleetdeploy-{name}-node2" in done.stderr and "nothing was created" in done.stderr
        assert leftovers(docker_engine, name) == []
        foreign.reload()
        assert foreign.status == "running" and LABEL not in foreign.labels
    finally:
        foreign.remove(force=True)
    assert not (sandbox_home / "sandboxes" / name).exists()


def test_port_clash_removes_the_nodes_already_started(
    docker_engine, sandbox_home, sandbox_images, session_token
):
    name = f"ports-{session_token}"
    with socket.socket() as taken, socket.socket() as probe:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
        probe.close()
        busy = taken.getsockname()[1]

        done = cli("up", "--name", name, "--nodes", "2", "--ssh-port", str(free), "--ssh-port", str(busy))

    assert done.returncode == 2, done.stderr
    assert f"fleetdeploy-{name}-node2: host port 127.0.0.1:{busy} is already in use" in done.stderr
    assert leftovers(docker_engine, name) == []
    assert not (sandbox_home / "sandboxes" / name).exists()


def test_sandbox_fleet_fixture_gives_reachable_nodes(sandbox_fleet):
    box = sandbox_fleet("exists", nodes=1)
    (node,) = box.nodes
    with socket.create_connection(("127.0.0.1", node.ssh_port), timeout=5) as conn:
        assert conn.recv(4) == b"SSH-"
    assert node.scoring_url == f"http://127.0.0.1:{node.scoring_port}"
    assert lifecycle.find(box.name).nodes == box.nodes
