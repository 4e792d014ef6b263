"""Image recipes: names, and the recipe hash that decides whether an image is rebuilt."""

import shutil
import threading
from pathlib import Path

import pytest

from fleetdeploy.sandbox import images
from fleetdeploy.sandbox.images import Recipe, debian_recipe, node_recipe, python_recipe

REPO_IMAGES = Path(__file__).resolve().parents[3] / "images"


def test_image_names_follow_the_design():
    assert debian_recipe("trixie").tag == "fleetdeploy/debian:trixie"
    assert node_recipe("trixie", "absent").tag == "fleetdeploy/node:trixie"
    assert node_recipe("bookworm", "preinstalled").tag == "fleetdeploy/node:bookworm-docker"
    assert python_recipe().tag == "fleetdeploy/python:3.11-slim"
    assert python_recipe().parent.tag == "fleetdeploy/debian:bookworm"


def test_each_image_has_its_own_recipe_hash():
    digests = {
        debian_recipe("bookworm").digest,
        debian_recipe("trixie").digest,
        node_recipe("bookworm", "absent").digest,
        node_recipe("bookworm", "preinstalled").digest,
        node_recipe("trixie", "absent").digest,
        python_recipe().digest,
    }
    assert len(digests) == 6


@pytest.fixture
def recipes(tmp_path, monkeypatch):
    copy = tmp_path / "images"
    shutil.copytree(REPO_IMAGES, copy)
    monkeypatch.setenv("FLEETDEPLOY_IMAGES_DIR", str(copy))
    return copy


def test_hash_is_stable_and_changes_with_any_recipe_file(recipes):
    before = node_recipe("bookworm", "absent").digest
    assert node_recipe("bookworm", "absent").digest == before
    (recipes / "node" / "files" / "sshd-fleetdeploy.conf").write_text("PasswordAuthentication yes\n")
    assert node_recipe("bookworm", "absent").digest != before


def test_a_changed_base_rebuilds_what_stands_on_it(recipes):
    node, python = node_recipe("trixie", "absent").digest, python_recipe().digest
    with (recipes / "debian" / "debootstrap.sh").open("a") as script:
        script.write("# changed\n")
    assert node_recipe("trixie", "absent").digest != node
    assert python_recipe().digest != python


def test_build_arguments_are_part_of_the_hash(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert Recipe("a:1", tmp_path, (("X", "1"),)).digest != Recipe("a:1", tmp_path, (("X", "2"),)).digest


def test_missing_recipes_are_reported_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETDEPLOY_IMAGES_DIR", str(tmp_path))
    with pytest.raises(images.EnvironmentProblem, match="FLEETDEPLOY_IMAGES_DIR"):
        node_recipe("bookworm", "absent")


class FakeImages:
    """Only what ensure_images reads: an image's labels by tag."""

    def __init__(self, labels_by_tag):
        self.labels_by_tag = labels_by_tag
        self.removed = []

    def get(self, tag):
        if tag not in self.labels_by_tag:
            raise images.ImageNotFound(tag)
        return type("Image", (), {"labels": self.labels_by_tag[tag], "id": f"sha256:{tag}"})()

    def remove(self, image_id):
        self.removed.append(image_id)


@pytest.fixture
def builds(monkeypatch):
    built = []
    monkeypatch.setattr(images, "_import_debootstrap", lambda _client, recipe: built.append(recipe.tag))
    monkeypatch.setattr(images, "_build_dockerfile", lambda _client, recipe: built.append(recipe.tag))
    return built


def _client(*recipes, stale=()):
    labels = {r.tag: {images.RECIPE_LABEL: r.digest} for r in recipes}
    labels.update({tag: {images.RECIPE_LABEL: "old"} for tag in stale})
    return type("Client", (), {"images": FakeImages(labels)})()


def test_current_images_are_not_rebuilt_even_without_their_parent(builds):
    client = _client(node_recipe("trixie", "absent"), python_recipe())
    results = images.ensure_images(["trixie"], client=client)
    assert builds == []
    assert [(r.tag, r.built) for r in results] == [
        ("fleetdeploy/node:trixie", False),
        ("fleetdeploy/python:3.11-slim", False),
    ]


def test_a_stale_image_is_rebuilt_after_its_missing_parent(builds):
    client = _client(python_recipe(), stale=["fleetdeploy/node:bookworm-docker"])
    images.ensure_images(["bookworm"], docker_preinstalled=(True, False), client=client)
    assert builds[:1] == ["fleetdeploy/debian:bookworm"]
    assert set(builds[1:]) == {"fleetdeploy/node:bookworm-docker", "fleetdeploy/node:bookworm"}
    assert builds.count("fleetdeploy/debian:bookworm") == 1
    assert client.images.removed == ["sha256:fleetdeploy/node:bookworm-docker"]  # the image it replaced


def test_each_release_is_built_in_its_own_chain_at_the_same_time(monkeypatch):
    both_started = threading.Barrier(2, timeout=5)  # broken (an error) if the chains ran one after the other
    built = []

    def build(_client, recipe):
        if recipe.parent is None:
            both_started.wait()
        built.append(recipe.tag)

    monkeypatch.setattr(images, "_import_debootstrap", build)
    monkeypatch.setattr(images, "_build_dockerfile", build)
    results = images.ensure_images(["bookworm", "trixie"], docker_preinstalled=True, client=_client())
    for release in ("bookworm", "trixie"):
        assert built.count(f"fleetdeploy/debian:{release}") == 1
        assert built.index(f"fleetdeploy/debian:{release}") < built.index(f"fleetdeploy/node:{release}-docker")
    assert [r.tag for r in results] == [
        "fleetdeploy/debian:bookworm",
        "fleetdeploy/node:bookworm-docker",
        "fleetdeploy/python:3.11-slim",
        "fleetdeploy/debian:trixie",
        "fleetdeploy/node:trixie-docker",
    ]
