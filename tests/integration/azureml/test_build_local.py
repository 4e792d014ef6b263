"""Environment.build_local: the seed's `myenv.build_local(workspace=ws, useDocker=False)` gives a Python
environment on this machine whose `fleetdeploy serve` serves the seed's model to the seed's request
(real pip installs, a real server process on 127.0.0.1); useDocker=True the scoring image."""

import json
import runpy
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from fleetdeploy.azureml import Environment, Workspace

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mnist"
SEED = Path(__file__).resolve().parents[2] / "unit" / "azureml" / "seed"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_seeds_build_local_gives_an_environment_that_serves_the_model(tmp_path, monkeypatch):
    (tmp_path / "fleetdeploy-workspace.json").write_text('{"workspace_dir": "ws"}')
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "ws")
    Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt").register(ws)
    runpy.run_path(str(SEED / "build_local_env.py"))  # the seed's block, its import changed
    built = ws.path / "environments" / "tutorial-env" / "1" / "local"
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(built / "bin" / "fleetdeploy"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--entry-script", str(EXAMPLE / "score.py"), "--model-dir", str(EXAMPLE / "model")],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/score",
                                         data=(EXAMPLE / "sample_request.json").read_bytes(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer) == [2]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_pip_failure_names_the_environment_and_leaves_nothing(tmp_path):
    from fleetdeploy.errors import ConfigError

    ws = Workspace(tmp_path / "ws")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("fleetdeploy-no-such-package-e7==0.0.1\n")
    env = Environment.from_pip_requirements("broken", requirements)
    with pytest.raises(ConfigError, match=r"environment broken: .*pip install.* failed"):
        env.build_local(ws)
    assert not (ws.path / "environments" / "broken" / "1" / "local").exists()


def test_build_local_with_docker_gives_the_scoring_image(tmp_path):
    """The same image apply builds for this environment (its environment layer is shared by hash)."""
    from fleetdeploy.dockerhost import docker_client

    ws = Workspace(tmp_path / "ws")
    tag = Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt").build_local(ws, useDocker=True)
    assert tag.startswith("fleetdeploy-env-tutorial-env:"), tag  # apply's naming: fleetdeploy-<service>:<hash>
    ran = docker_client().containers.run(tag, ["fleetdeploy", "serve", "--help"], remove=True)
    assert b"--entry-script" in ran
    from click.testing import CliRunner

    from fleetdeploy.cli import main

    built = CliRunner().invoke(main, ["env", "build", "tutorial-env", "--docker", "-w", str(ws.path)])
    assert built.exit_code == 0 and built.output.splitlines()[-1] == tag, built.output  # the CLI: the same image
