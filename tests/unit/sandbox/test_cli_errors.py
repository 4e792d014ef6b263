"""Bad input to `fleetdeploy sandbox` gets one clear line and a non-zero exit, before anything is made."""

import os
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "fleetdeploy", "sandbox"]


def _run(args, tmp_path, **env):
    environment = {**os.environ, "FLEETDEPLOY_HOME": str(tmp_path), **env}
    return subprocess.run(
        CLI + args, check=False, capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.mark.integration
@pytest.mark.parametrize("args", [["list"], ["up", "--name", "nodocker"], ["down", "--name", "nodocker"]])
def test_docker_not_running_says_how_to_start_it(args, tmp_path):
    done = _run(args, tmp_path, DOCKER_HOST=f"unix://{tmp_path}/no-such-docker.sock")
    assert done.returncode == 1
    assert f"cannot reach the Docker engine at unix://{tmp_path}/no-such-docker.sock" in done.stderr
    assert "systemctl start docker" in done.stderr and "scripts/bootstrap.sh" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_bad_options_are_refused_before_docker_is_asked(tmp_path):
    done = _run(
        ["up", "--name", "x", "--distro", "bookworm,buster", "--docker", "maybe"],
        tmp_path,
        DOCKER_HOST=f"unix://{tmp_path}/no-such-docker.sock",
    )
    assert done.returncode == 2
    assert "--distro 'buster': choose from bookworm, trixie" in done.stderr
    assert "--docker 'maybe': choose from absent, preinstalled" in done.stderr
    assert not (tmp_path / "sandboxes").exists()


@pytest.mark.integration
def test_images_command_checks_its_choices_first(tmp_path):
    done = _run(["images", "--distro", "sid"], tmp_path, DOCKER_HOST=f"unix://{tmp_path}/no-such-docker.sock")
    assert done.returncode == 2
    assert "error: sandbox images: --distro 'sid': choose from bookworm, trixie" in done.stderr
