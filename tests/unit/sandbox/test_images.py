"""Image recipes: names, and the recipe hash that decides whether an image is rebuilt."""

import shutil
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
