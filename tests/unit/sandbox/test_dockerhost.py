"""The Docker connection error says what is wrong and how to fix it, for root and for other users."""

import pytest

from fleetdeploy import dockerhost
from fleetdeploy.dockerhost import docker_client
from fleetdeploy.errors import EnvironmentProblem


@pytest.fixture
def no_docker_installed(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(dockerhost.shutil, "which", lambda _name: None)


def test_missing_engine_as_root_points_at_the_bootstrap_script(no_docker_installed, monkeypatch):
    monkeypatch.setattr(dockerhost.os, "geteuid", lambda: 0)
    message = dockerhost._explain_unreachable(ConnectionError("no socket"))
    assert message == (
        "the Docker engine is not installed on this machine; "
        "install and start it with scripts/bootstrap.sh (run as root)"
    )


def test_missing_engine_as_a_user_says_to_use_sudo(no_docker_installed, monkeypatch):
    monkeypatch.setattr(dockerhost.os, "geteuid", lambda: 1000)
    assert "`sudo scripts/bootstrap.sh`" in dockerhost._explain_unreachable(ConnectionError("no socket"))


def test_stopped_engine_names_the_address_and_the_start_command(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    monkeypatch.setattr(dockerhost.os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem) as caught:
        docker_client()
    message = str(caught.value)
    assert message.startswith(f"cannot reach the Docker engine at unix://{tmp_path}/docker.sock (")
    assert message.endswith(
        "start it with `sudo systemctl start docker` (or run scripts/bootstrap.sh as root)"
    )
