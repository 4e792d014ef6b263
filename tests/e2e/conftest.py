"""Session fixtures for end-to-end tests on the sandbox fleet.

    def test_apply(sandbox_fleet):
        fleet = sandbox_fleet("apply", nodes=3, distros=("bookworm", "trixie"),
                              docker=("preinstalled", "absent", "preinstalled"))
        fleet.inventory            # Path of the Ansible inventory (group `fleet`, groups per release)
        fleet.paths.private_key    # the sandbox's SSH key; fleet.paths.known_hosts pins the host keys
        for node in fleet.nodes:   # node.host ("node1"), node.container, node.release, node.docker,
            node.ssh_port, node.scoring_port, node.scoring_url, node.ports  # all on 127.0.0.1

Sandboxes live in a session-private FLEETDEPLOY_HOME, get a per-session suffix (several people and CI
runs share one Docker engine) and are removed at the end of the session. Images are built once, or
not at all when their recipe label is current.
"""

from __future__ import annotations

import secrets

import pytest

from fleetdeploy.dockerhost import docker_client
from fleetdeploy.sandbox import lifecycle
from fleetdeploy.sandbox.images import PYTHON_BASE_IMAGE, RELEASES, ensure_images


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker client; fails (never skips) with the fix when the engine is not there."""
    return docker_client()


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory):
    """FLEETDEPLOY_HOME for the session, so test sandboxes never touch a user's own."""
    home = tmp_path_factory.mktemp("fleetdeploy-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLEETDEPLOY_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def sandbox_images(docker_engine):
    """Every node image variant and the python base image, built only if their recipes changed."""
    return ensure_images(RELEASES, docker_preinstalled=(False, True), python_base=True, client=docker_engine)


@pytest.fixture(scope="session")
def python_base_image(sandbox_images) -> str:
    """The local stand-in for python:3.11-slim, for specs' `environment.base_image`."""
    return PYTHON_BASE_IMAGE


@pytest.fixture(scope="session")
def session_token() -> str:
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
def sandbox_fleet(docker_engine, sandbox_home, sandbox_images, session_token):
    """Factory: sandbox_fleet(name, nodes=2, distros=("bookworm",), docker=("absent",), extra_ports=())
    starts a sandbox (names get a per-session suffix) and returns a lifecycle.Sandbox; all are removed
    at session end. Asking again with the same arguments returns the same sandbox."""
    made: dict[str, lifecycle.Sandbox] = {}

    def make(name, nodes=2, distros=("bookworm",), docker=("absent",), extra_ports=()):
        key = (name, nodes, tuple(distros), tuple(docker), tuple(extra_ports))
        if key not in made:
            made[key] = lifecycle.up(
                f"{name}-{session_token}", nodes, distros, docker, extra_ports, client=docker_engine
            )
        return made[key]

    yield make
    failures = []
    for box in made.values():  # every sandbox gets its turn even if one removal fails
        try:
            lifecycle.down(box.name, client=docker_engine)
        except Exception as exc:  # noqa: BLE001 - reported together below
            failures.append(f"{box.name}: {exc}")
    assert not failures, f"sandboxes not removed: {failures}"
