"""A self-contained render: what ships is copied in, named by relative paths, listed with its sha256,
and the folder still works after being moved (the roles resolve the paths against the project)."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import yaml

from fleetdeploy.render import render_project
from fleetdeploy.render.bundle import bundle


def make_release(root: Path) -> dict:
    """Variables as deploy/variables.py makes them: a tarball outside the run folder (the controller's
    image cache), a model folder and a code archive staged inside it, the secrets in a private file."""
    cache, run = root / "cache" / "images", root / "run"
    cache.mkdir(parents=True)
    (cache / "0123abcd.tar").write_bytes(b"image layers")
    model = run / "staged" / "models" / "mnist" / "1"
    model.mkdir(parents=True)
    (model / "model.pkl").write_bytes(b"weights")
    (run / "staged" / "code.tar.gz").write_bytes(b"code")
    secrets = root / "private" / "secrets.json"
    secrets.parent.mkdir()
    secrets.write_text('{"TOKEN": "s3cret"}')
    return {
        "fleet_image_archive": cache / "0123abcd.tar",
        "fleet_artifacts_code_archive": run / "staged" / "code.tar.gz",
        "fleet_artifacts_models": [{"name": "mnist", "version": 1, "src": model, "files": [{"path": "model.pkl"}]}],
        "fleet_artifacts_secrets_src": secrets,
        "fleet_artifacts_secret_names": ["TOKEN"],
        "fleet_service_root": "/opt/fleetdeploy",  # a node path: text, left as it is
    }


def test_every_controller_file_is_copied_in_and_named_relative_to_the_project(tmp_path):
    variables = make_release(tmp_path)
    project = tmp_path / "run" / "project"
    bundled = bundle(variables, project, origin=tmp_path / "run")

    assert bundled["fleet_image_archive"] == "files/0123abcd.tar"
    assert bundled["fleet_artifacts_code_archive"] == "files/staged/code.tar.gz"
    assert bundled["fleet_artifacts_models"][0]["src"] == "files/staged/models/mnist/1"
    assert bundled["fleet_artifacts_models"][0]["files"] == [{"path": "model.pkl"}]
    assert bundled["fleet_service_root"] == "/opt/fleetdeploy"
    assert (project / "files/0123abcd.tar").read_bytes() == b"image layers"
    assert (project / "files/staged/models/mnist/1/model.pkl").read_bytes() == b"weights"
    # A hard link, not a second copy of a tarball that may be hundreds of MB.
    assert (project / "files/0123abcd.tar").stat().st_ino == variables["fleet_image_archive"].stat().st_ino


def test_the_secrets_file_is_never_bundled(tmp_path):
    project = tmp_path / "run" / "project"
    bundled = bundle(make_release(tmp_path), project, origin=tmp_path / "run")
    assert bundled["fleet_artifacts_secrets_src"] == ""
    assert bundled["fleet_artifacts_secret_names"] == ["TOKEN"]  # so the role can ask for the file
    assert not any(b"s3cret" in path.read_bytes() for path in project.rglob("*") if path.is_file())


def sha256sum_check(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sha256sum", "-c", "files/SHA256SUMS"], cwd=project, capture_output=True, text=True, check=False
    )


def test_the_manifest_lists_every_file_for_sha256sum(tmp_path):
    project = tmp_path / "run" / "project"
    bundle(make_release(tmp_path), project, origin=tmp_path / "run")
    lines = (project / "files" / "SHA256SUMS").read_text().splitlines()
    paths = [line.split("  ", 1)[1] for line in lines]
    assert paths == ["files/0123abcd.tar", "files/staged/code.tar.gz", "files/staged/models/mnist/1/model.pkl"]
    assert f"{hashlib.sha256(b'weights').hexdigest()}  files/staged/models/mnist/1/model.pkl" in lines
    checked = sha256sum_check(project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (project / "files" / "staged" / "code.tar.gz").write_bytes(b"tampered")
    checked = sha256sum_check(project)
    assert checked.returncode != 0 and "code.tar.gz: FAILED" in checked.stdout


def test_a_self_contained_render_names_nothing_outside_itself(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("fleet:\n  hosts:\n    node1:\n      ansible_host: 127.0.0.1\n")
    rendered = render_project(
        tmp_path / "run", inventory_path=inventory, variables=make_release(tmp_path), self_contained=True
    )
    moved = tmp_path / "elsewhere"
    shutil.move(rendered.private_data_dir, moved)
    for path in [moved / "project" / "vars" / "fleetdeploy.json", *(moved / "env").iterdir()]:
        assert str(tmp_path) not in path.read_text(), f"{path} names a place outside the folder"
    values = json.loads((moved / "project" / "vars" / "fleetdeploy.json").read_text())
    assert (moved / "project" / values["fleet_image_archive"]).read_bytes() == b"image layers"
    # Someone running the folder with ansible-runner by hand sees Ansible's output.
    assert "suppress_ansible_output" not in yaml.safe_load((moved / "env" / "settings").read_text())
    assert "sha256sum -c files/SHA256SUMS" in (moved / "project" / "README.md").read_text()


def test_apply_runs_keep_the_controller_paths(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("fleet:\n  hosts: {}\n")
    variables = make_release(tmp_path)
    rendered = render_project(tmp_path / "run", inventory_path=inventory, variables=variables)
    values = json.loads(rendered.vars_file.read_text())
    assert values["fleet_image_archive"] == str(variables["fleet_image_archive"])
    assert not (rendered.project_dir / "files").exists()
