"""The wheel a user pip-installs carries what the commands need outside a checkout: the roles and
playbooks `render` copies, and the sandbox's image recipes (`fleetdeploy sandbox up` builds from them)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_the_wheel_holds_the_roles_the_playbooks_and_the_sandbox_recipes(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path / "dist")],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("fleetdeploy-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for name in (
        "fleetdeploy/render/ansible/playbooks/preflight.yml",
        "fleetdeploy/render/ansible/roles/fleet_preflight/library/fleet_preflight.py",
        "fleetdeploy/sandbox/recipes/node/Dockerfile",
        "fleetdeploy/sandbox/recipes/node/files/ssh-hostkeys.service",
        "fleetdeploy/sandbox/recipes/debian/debootstrap.sh",
        "fleetdeploy/sandbox/recipes/python/Dockerfile",
    ):
        assert name in names, f"{name} is not in {wheel.name}"
    # Imported from the unpacked wheel (as from site-packages), the recipes are found in the package.
    found = subprocess.run(
        [sys.executable, "-c", "from fleetdeploy.sandbox.images import images_dir; print(images_dir())"],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert found == str(tmp_path / "site" / "fleetdeploy" / "sandbox" / "recipes")
