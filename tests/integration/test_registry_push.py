"""Registry mode on the controller: the scoring image is pushed to the spec's registry under its own
tag and keeps its image id through push and pull (what nodes check). A real registry (Debian's
docker-registry, the CNCF distribution server) listens on 127.0.0.1 for the test."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from fleetdeploy.errors import DeployError
from fleetdeploy.image import BuiltImage
from fleetdeploy.image.push import push_image, registry_name

pytestmark = [pytest.mark.docker]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def registry(tmp_path):
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is missing: scripts/bootstrap.sh installs it"
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def small_image(docker_client_or_fail):
    source = docker_client_or_fail.images.get("fleetdeploy/debian:bookworm")
    source.tag("fleetdeploy-pushtest", "v1")
    yield BuiltImage("fleetdeploy-pushtest:v1", source.id, "e", "env", "sha256:e", "0.1.0", True, True)
    docker_client_or_fail.images.remove("fleetdeploy-pushtest:v1", noprune=True)


@pytest.fixture
def docker_client_or_fail():
    from fleetdeploy.dockerhost import docker_client

    return docker_client()


def test_push_keeps_the_image_id_and_names_it_under_the_registry(
    registry, small_image, docker_client_or_fail
):
    name = push_image(small_image, f"{registry}/ml")
    assert name == f"{registry}/ml/fleetdeploy-pushtest:v1" == registry_name(small_image, f"{registry}/ml/")
    with urllib.request.urlopen(
        f"http://{registry}/v2/ml/fleetdeploy-pushtest/tags/list", timeout=5
    ) as answer:
        assert json.load(answer)["tags"] == ["v1"]
    docker_client_or_fail.images.remove(name)
    pulled = docker_client_or_fail.images.pull(f"{registry}/ml/fleetdeploy-pushtest", tag="v1")
    assert pulled.id == small_image.image_id
    docker_client_or_fail.images.remove(name)


def test_push_to_a_registry_that_is_down_names_it(small_image, docker_client_or_fail):
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(DeployError, match=f"registry: pushing {dead}/fleetdeploy-pushtest:v1 failed"):
        push_image(small_image, dead)
    docker_client_or_fail.images.remove(f"{dead}/fleetdeploy-pushtest:v1")
