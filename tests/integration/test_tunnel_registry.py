"""The controller's side of tunnel transfer, for real: Debian's docker-registry started on a free
loopback port for the block, the controller's engine pushing to it (only missing layers: a second push
of the same image writes nothing), the registry stopped afterwards, and old images pruned and collected
when no apply uses the storage. The nodes' side runs on the sandbox (tests/e2e/test_ops.py)."""

from __future__ import annotations

import socket

import pytest
import requests

from fleetdeploy.image import BuiltImage
from fleetdeploy.image.tunnel import KEEP_IMAGES, push, registry_root, tunnel_registry

pytestmark = [pytest.mark.docker]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def small_image():
    from fleetdeploy.dockerhost import docker_client

    client = docker_client()
    source = client.images.get("fleetdeploy/debian:bookworm")
    tags = [f"t{index}" for index in range(KEEP_IMAGES + 1)]
    for tag in tags:
        source.tag("fleetdeploy-tunneltest", tag)
    yield [BuiltImage(f"fleetdeploy-tunneltest:{tag}", source.id, "e", "env", "sha256:e", "0.1.0", True, True)
           for tag in tags]
    for tag in tags:
        client.images.remove(f"fleetdeploy-tunneltest:{tag}", noprune=True)


def files_under(path) -> set[str]:
    return {str(item.relative_to(path)) for item in path.rglob("*") if item.is_file()}


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_push_sends_only_what_the_storage_lacks_and_the_registry_stops_after(small_image, tmp_path):
    from fleetdeploy.dockerhost import docker_client

    log = tmp_path / "registry.log"
    with tunnel_registry(None, log) as registry:
        name = push(small_image[0], registry, say=lambda line: None)
        assert name == f"127.0.0.1:{registry.port}/fleetdeploy-tunneltest:t0"
        tags = requests.get(f"http://{registry.address}/v2/fleetdeploy-tunneltest/tags/list", timeout=5).json()
        assert tags["tags"] == ["t0"]
        blobs = registry_root() / "storage/docker/registry/v2/blobs"
        before = files_under(blobs)
        assert before, "the push wrote no layer"
        push(small_image[0], registry, say=lambda line: None)
        assert files_under(blobs) == before, "a second push of the same image wrote layers again"
        # The controller's engine keeps no tag of this apply's port.
        assert not [t for t in docker_client().images.get(small_image[0].image_id).tags if str(registry.port) in t]
    assert not listening(registry.port)
    assert log.exists()


def test_a_given_port_is_used_and_two_registries_share_the_storage(small_image, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tunnel_registry(port, tmp_path / "a.log") as first, tunnel_registry(None, tmp_path / "b.log") as second:
        assert first.port == port and second.port != port
        push(small_image[0], first, say=lambda line: None)
        # The second registry serves what the first wrote: one storage.
        answer = requests.get(f"http://{second.address}/v2/fleetdeploy-tunneltest/tags/list", timeout=5)
        assert answer.json()["tags"] == ["t0"]


MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def test_each_service_keeps_its_newest_images_once_no_apply_uses_the_storage(small_image, tmp_path):
    from fleetdeploy.dockerhost import docker_client

    # The oldest is another image (trixie's rootfs), so its layers are referenced by nothing once pruned.
    other = docker_client().images.get("fleetdeploy/debian:trixie")
    other.tag("fleetdeploy-tunneltest", "t0")
    oldest = BuiltImage("fleetdeploy-tunneltest:t0", other.id, "e", "env", "sha256:e", "0.1.0", True, True)
    said = []
    with tunnel_registry(None, tmp_path / "registry.log", say=said.append) as registry:
        for image in [oldest, *small_image[1:]]:
            push(image, registry, say=lambda line: None)
        manifest = requests.get(f"http://{registry.address}/v2/fleetdeploy-tunneltest/manifests/t0",
                                headers={"Accept": MANIFEST}, timeout=5).json()
    blobs = registry_root() / "storage/docker/registry/v2/blobs/sha256"
    for layer in manifest["layers"]:
        digest = layer["digest"].split(":", 1)[1]
        assert not (blobs / digest[:2] / digest).exists(), "a pruned image's layer was not collected"
    tags = registry_root() / "storage/docker/registry/v2/repositories/fleetdeploy-tunneltest/_manifests/tags"
    assert sorted(path.name for path in tags.iterdir()) == [f"t{index}" for index in range(1, KEEP_IMAGES + 1)]
    assert said == []  # the collection ran and did not fail
