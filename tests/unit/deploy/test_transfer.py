"""Tunnel transfer's choices on the controller (fleetdeploy/deploy/transfer.py): when a run offers the
tunnel, what `auto` and `tunnel` do when the registry cannot run, the spec's `transfer` section, and
what apply says per node. The registry itself runs for real in tests/integration/test_tunnel_registry.py."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from fleetdeploy.deploy.transfer import offers_tunnel, say_transfers, tunnel_for_run
from fleetdeploy.image import BuiltImage, SavedImage
from fleetdeploy.image.tunnel import RegistryUnavailable
from fleetdeploy.runtimes.docker import ImageRelease
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.issues import SpecError

BASE = (
    "service: s\nmodels: [{name: m, path: m.pkl}]\nentry_script: {path: score.py}\n"
    "environment: {pip: requirements.txt}\n"
)
IMAGE = BuiltImage("fleetdeploy-s:abc", "sha256:" + "1" * 64, "e", "env", "sha256:e", "0.1.0", True, True)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 1\n")
    (tmp_path / "m.pkl").write_bytes(b"model")
    (tmp_path / "requirements.txt").write_text("")
    return tmp_path


def spec_with(project: Path, extra: str = ""):
    (project / "fleetdeploy.yml").write_text(BASE + extra)
    return load_spec(project / "fleetdeploy.yml")


def prepared(archive: bool = True):
    cache = Path("/cache/images")
    saved = SavedImage(cache / "1.tar.gz", 10, IMAGE.image_id, False, cache / "1.tar.zst", 30) if archive else None
    return SimpleNamespace(runs_from=ImageRelease(IMAGE, saved))


def test_the_default_is_auto_on_a_free_port(project):
    spec = spec_with(project)
    assert (spec.transfer.mode, spec.transfer.port) == ("auto", None)
    assert spec_with(project, "transfer: {mode: tunnel, port: 5555}\n").transfer.port == 5555


@pytest.mark.parametrize(("extra", "said"), [
    ("transfer: {mode: rsync}\n", "transfer.mode"),
    ("transfer: {port: 80}\n", "transfer.port"),
    ("transfer: {mode: auto, ports: 1}\n", "ports"),
])
def test_a_bad_transfer_section_is_named(project, extra, said):
    with pytest.raises(SpecError) as caught:
        spec_with(project, extra)
    assert said in str(caught.value)


def test_the_tunnel_is_offered_for_an_image_sent_by_the_controller_only(project):
    assert offers_tunnel(spec_with(project), prepared())
    assert not offers_tunnel(spec_with(project, "transfer: {mode: archive}\n"), prepared())
    assert not offers_tunnel(spec_with(project), prepared(archive=False))  # the user's registry: pulled from there
    assert not offers_tunnel(spec_with(project), SimpleNamespace(runs_from=object()))  # venv / conda


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_auto_sends_tarballs_when_the_registry_cannot_run_and_says_why(project, taken_port, tmp_path):
    said = []
    spec = spec_with(project, f"transfer: {{mode: auto, port: {taken_port}}}\n")
    with tunnel_for_run(spec, prepared(), tmp_path, said.append) as extra:
        assert extra == {}
    assert len(said) == 1
    assert f"port {taken_port} on 127.0.0.1 is taken" in said[0] and "transfer.port" in said[0]
    assert said[0].endswith("nodes that lack the image get the tarball")


def test_tunnel_mode_stops_before_any_node_when_the_registry_cannot_run(project, taken_port, tmp_path):
    spec = spec_with(project, f"transfer: {{mode: tunnel, port: {taken_port}}}\n")
    with (
        pytest.raises(RegistryUnavailable, match=f"port {taken_port} .* taken"),
        tunnel_for_run(spec, prepared(), tmp_path, print),
    ):
        pytest.fail("the run must not start")


def test_no_registry_binary_is_named_with_the_package_to_install(project, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    said = []
    with tunnel_for_run(spec_with(project), prepared(), tmp_path, said.append) as extra:
        assert extra == {}
    assert "apt-get install docker-registry" in said[0] and "transfer.mode: archive" in said[0]


def test_apply_says_how_each_node_got_the_image():
    def host(image):
        return SimpleNamespace(report={"image": image} if image else {})

    result = SimpleNamespace(hosts={
        "node1": host({"via": "tunnel", "tunnel_problem": ""}),
        "node2": host({"via": "archive", "compression": "gzip",
                       "tunnel_problem": "its sshd does not allow remote forwards"}),
        "node3": host(None),  # held the image: nothing to say
        "node4": host({"via": "archive", "compression": "zstd", "tunnel_problem": ""}),
        "node5": host({"via": "archive", "tunnel_problem": ""}),  # a report from an earlier role
    })
    said = []
    say_transfers(result, said.append)
    assert said == [
        "node1: image pulled through the SSH tunnel (only the layers it lacked)",
        "node2: image sent as a gzip tarball, not through the tunnel: its sshd does not allow remote forwards",
        "node4: image sent as a zstd tarball",
        "node5: image sent as a tarball",
    ]
