"""LocalWebservice on this machine's real Docker engine: the seed's deployment block deploys the seed's
model at http://localhost:6789/score and the seed's `requests` client gets [2]; update to a new model
version under constant load fails no request; get_logs has a request sent before; reload; delete leaves
no container, folder or port. And what goes wrong: a taken port, a name already deployed, an init()
that raises."""

import json
import runpy
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetdeploy.azureml import (
    Environment,
    InferenceConfig,
    LocalWebservice,
    Model,
    Webservice,
    WebserviceException,
    Workspace,
)
from fleetdeploy.cli import main
from fleetdeploy.errors import ConfigError
from fleetdeploy.local.service import LABEL
from tests.seed_port import SEED_PORT, seed_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mnist"
SEED = Path(__file__).resolve().parents[2] / "unit" / "azureml" / "seed"


@pytest.fixture(scope="module")
def docker_client():
    from fleetdeploy.dockerhost import docker_client
    from fleetdeploy.sandbox.images import ensure_images

    client = docker_client()
    ensure_images(releases=(), python_base=True, client=client)  # the base image, built once when missing
    return client


@pytest.fixture
def workspace(tmp_path, monkeypatch, docker_client):
    """The seed's starting point: a workspace (found from the working folder) with the MNIST model and
    the tutorial environment registered, score.py in the working folder."""
    (tmp_path / "fleetdeploy-workspace.json").write_text('{"workspace_dir": "ws"}')
    (tmp_path / "score.py").write_bytes((EXAMPLE / "score.py").read_bytes())
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "ws")
    Model.register(ws, EXAMPLE / "model" / "sklearn_mnist_model.pkl", "sklearn_mnist")
    Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt").register(ws)
    yield ws
    for service in Webservice.list(ws):
        service.delete()


def containers_of(docker_client, name: str) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"{LABEL}={name}"})


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_log(service, text: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while text not in service.get_logs():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def score_with_id(url: str, request_id: str) -> bytes:
    request = urllib.request.Request(url, data=(EXAMPLE / "sample_request.json").read_bytes(),
                                     headers={"Content-Type": "application/json", "x-request-id": request_id})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


@pytest.fixture
def port_6789():
    """The seed's port, taken in turns with the e2e tests' relay (tests/seed_port.py)."""
    with seed_port() as port:
        yield port


def test_the_seeds_local_deployment_serves_updates_under_load_and_deletes_cleanly(port_6789, workspace, capsys,
                                                                                  docker_client):
    # port_6789 first: held until the workspace's services are deleted, even when the test fails
    from tests.load import start_load

    runpy.run_path(str(SEED / "deploy_local.py"))  # the seed's block, its imports changed
    said = capsys.readouterr().out
    assert "Scoring URI is : http://localhost:6789/score" in said and "Healthy" in said, said
    runpy.run_path(str(EXAMPLE / "client.py"))  # the seed's requests client, unchanged
    assert "prediction: [2]" in capsys.readouterr().out

    service = Webservice(workspace, "sklearn-mnist-local")  # attached again by name
    assert isinstance(service, LocalWebservice) and service.state == "Healthy"
    first = json.loads((workspace.path / "services" / "sklearn-mnist-local" / "state" / "active.json").read_text())
    assert score_with_id(service.scoring_uri, "seed-request-42") == b"[2]"
    assert wait_for_log(service, "seed-request-42")  # the access line follows the answer by a moment
    invoked = CliRunner().invoke(main, ["invoke", "--local", "sklearn-mnist-local", "--json",
                                        "-r", str(EXAMPLE / "sample_request.json")])
    assert invoked.exit_code == 0, invoked.output
    answer = json.loads(invoked.output)["nodes"][0]
    assert answer["answer"] == [2] and answer["url"] == "http://localhost:6789/score"
    assert wait_for_log(service, answer["request_id"])

    Model.register(workspace, EXAMPLE / "model" / "sklearn_mnist_model.pkl", "sklearn_mnist", tags={"stage": "v2"})
    body = (EXAMPLE / "sample_request.json").read_bytes()
    load = start_load({"local": f"http://127.0.0.1:{SEED_PORT}"}, rate=20, max_requests=2000, max_seconds=120,
                      body=body, expect_body=b"[2]", timeout=20)
    try:
        time.sleep(1)
        service.update(models=[Model(workspace, "sklearn_mnist", version=2)])
        time.sleep(1)  # requests on the new slot's connections too
    finally:
        load.stop()
    summary = load.result(timeout=60).summary()
    print(f"update under load: {summary.line()}")
    assert summary.sent >= 60 and summary.failed == 0, summary.line()
    second = json.loads((workspace.path / "services" / "sklearn-mnist-local" / "state" / "active.json").read_text())
    assert second["release"] != first["release"] and second["slot"] != first["slot"]
    assert second["previous"] == first["release"]
    assert service.run(json.loads(body)) == [2]
    assert {c.name for c in containers_of(docker_client, "sklearn-mnist-local")} == {
        "fleetdeploy-local-sklearn-mnist-local-net", "fleetdeploy-local-sklearn-mnist-local-front",
        second["instance"]}  # the old slot stopped and removed

    service.reload()  # the entry script started afresh in the other slot
    third = json.loads((workspace.path / "services" / "sklearn-mnist-local" / "state" / "active.json").read_text())
    assert third["slot"] == first["slot"] and service.run(json.loads(body)) == [2]

    service.delete()
    assert containers_of(docker_client, "sklearn-mnist-local") == []
    assert not (workspace.path / "services" / "sklearn-mnist-local").exists()
    assert port_is_free(SEED_PORT)
    assert Webservice.list(workspace) == []


def test_a_taken_port_a_name_in_use_and_an_init_that_raises_are_refused_with_the_reason(workspace, tmp_path):
    model = Model(workspace, "sklearn_mnist")
    config = InferenceConfig("score.py", environment=Environment.get(workspace, "tutorial-env"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on this machine .* already in use.*deploy_configuration"):
            Model.deploy(workspace, "taken-port", [model], config, LocalWebservice.deploy_configuration(port=port))

    service = Model.deploy(workspace, "mnist-local", [model], config, LocalWebservice.deploy_configuration())
    with pytest.raises(WebserviceException, match="already exists.*overwrite=True"):
        Model.deploy(workspace, "mnist-local", [model], config, LocalWebservice.deploy_configuration())
    again = Model.deploy(workspace, "mnist-local", [model], config, LocalWebservice.deploy_configuration(),
                         overwrite=True)
    assert again.state == "Healthy" and again.run((EXAMPLE / "sample_request.json").read_text()) == [2]

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "score.py").write_text(
        "import os\n\ndef init():\n    raise RuntimeError('no model here: ' + os.environ['AZUREML_MODEL_DIR'])\n\n"
        "def run(raw_data):\n    return raw_data\n")
    failing = InferenceConfig("score.py", source_directory=str(broken),
                              environment=Environment.get(workspace, "tutorial-env"))
    with pytest.raises(WebserviceException, match="(?s)did not become ready.*nothing serves.*RuntimeError: no model here"):
        Model.deploy(workspace, "broken-init", [model], failing, LocalWebservice.deploy_configuration())
    failed = Webservice(workspace, "broken-init")
    assert failed.state == "Failed"
    logs = failed.get_logs()
    assert "RuntimeError: no model here" in logs and "sklearn_mnist_model.pkl" in logs, logs  # traceback, model dir

    # An update that fails leaves the serving release serving.
    with pytest.raises(WebserviceException, match="keeps serving"):
        service = Webservice(workspace, "mnist-local")
        service.update(inference_config=failing)
    assert service.state == "Healthy" and service.run((EXAMPLE / "sample_request.json").read_text()) == [2]


def test_the_front_restarted_on_its_own_finds_the_serving_slot_again(workspace, docker_client):
    """The front (HAProxy) and the slots share the network namespace of a holder container: a front that
    crashes or is restarted by hand comes back to the same loopback, where the slot still listens."""
    config = InferenceConfig("score.py", environment=Environment.get(workspace, "tutorial-env"))
    service = Model.deploy(workspace, "restarted-front", [Model(workspace, "sklearn_mnist")], config,
                           LocalWebservice.deploy_configuration())
    docker_client.containers.get("fleetdeploy-local-restarted-front-front").restart(timeout=5)
    deadline = time.monotonic() + 20
    while True:
        try:
            answer = service.run((EXAMPLE / "sample_request.json").read_text())
            break
        except WebserviceException:
            assert time.monotonic() < deadline, "the restarted front never reached the slot again"
            time.sleep(0.2)
    assert answer == [2] and service.state == "Healthy"
