"""Model.deploy's pure parts: the spec it writes (checked by the spec loader apply uses), the local
service's front config and slot container, and the errors that come before any container starts. The
services themselves run in tests/integration/azureml/test_local_webservice.py (local) and
tests/e2e/test_ops.py (fleet)."""

from pathlib import Path

import pytest
import yaml

from fleetdeploy.azureml import (
    Environment,
    FleetWebservice,
    InferenceConfig,
    LocalWebservice,
    Model,
    Webservice,
    WebserviceException,
    Workspace,
)
from fleetdeploy.azureml.webservice import FLEET_FILE, deploy, write_spec
from fleetdeploy.errors import ConfigError
from fleetdeploy.local.front import front_config
from fleetdeploy.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mnist"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "score.py").write_bytes((EXAMPLE / "score.py").read_bytes())
    workspace = Workspace(tmp_path / "ws")
    Model.register(workspace, EXAMPLE / "model" / "sklearn_mnist_model.pkl", "sklearn_mnist")
    return workspace


def test_the_spec_written_names_registered_models_and_the_registered_environment(ws):
    environment = Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt")
    config = InferenceConfig("score.py", environment=environment)
    path = write_spec(ws, "mnist-local", [Model(ws, "sklearn_mnist")], config, port=6789,
                      rest={"rollout": {"slot_ports": [16789, 26789]}})
    assert environment.version == "1"  # registered on the way, as the SDK's deploy does
    written = yaml.safe_load(path.read_text())
    assert written["models"] == [{"name": "sklearn_mnist", "version": 1}]
    assert written["environment"]["pip"].endswith("environments/tutorial-env/1/requirements.txt")
    spec = load_spec(path)  # apply's own checks
    assert spec.service == "mnist-local" and spec.port == 6789
    assert spec.models[0].path.name == "sklearn_mnist_model.pkl" and spec.workspace == ws.path


def test_deploy_needs_an_inference_config_with_an_environment(ws):
    model = Model(ws, "sklearn_mnist")
    with pytest.raises(ConfigError, match="inference_config"):
        deploy(ws, "x", [model], None)
    with pytest.raises(ConfigError, match="an environment is needed"):
        Model.deploy(ws, "x", [model], InferenceConfig("score.py"), LocalWebservice.deploy_configuration())


def test_attaching_to_an_unknown_service_names_the_known_ones(ws):
    environment = Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt")
    write_spec(ws, "one", [Model(ws, "sklearn_mnist")], InferenceConfig("score.py", environment=environment),
               port=6789, rest={})
    with pytest.raises(WebserviceException, match=r"no service named 'two' .*\(services: one\)"):
        Webservice(ws, "two")
    assert isinstance(Webservice(ws, "one"), LocalWebservice)
    (ws.path / "services" / "one" / FLEET_FILE).write_text('{"inventory": "i.yml", "limit": null}')
    assert isinstance(Webservice(ws, "one"), FleetWebservice)  # the kind comes from what was deployed


def test_a_fleet_configuration_needs_an_inventory_that_exists(tmp_path):
    with pytest.raises(ConfigError, match="inventory .*missing.yml does not exist"):
        FleetWebservice.deploy_configuration(inventory=tmp_path / "missing.yml")


def test_the_local_front_is_the_nodes_front_with_one_slot_enabled():
    none = front_config("mnist-local", 6789, {"blue": 16789, "green": 26789}, None)
    assert "bind *:6789" in none
    assert "server blue 127.0.0.1:16789 disabled" in none and "server green 127.0.0.1:26789 disabled" in none
    green = front_config("mnist-local", 6789, {"blue": 16789, "green": 26789}, "green")
    assert "server green 127.0.0.1:26789\n" in green and "server blue 127.0.0.1:16789 disabled" in green
    assert "retry-on conn-failure" in green and "ssl" not in green.split("frontend")[1]  # the nodes' retries, no TLS


def test_a_local_service_is_deployed_updated_or_deleted_by_one_process_at_a_time(tmp_path):
    from fleetdeploy.local.service import LocalService

    service = LocalService(tmp_path / "ws", "mnist-local")
    with service._lock(), pytest.raises(ConfigError, match=r"mnist-local is being deployed.*\(pid \d+ on .* since "):
        LocalService(tmp_path / "ws", "mnist-local").roll(lambda line: None)
    with service._lock():  # given back
        pass


def test_the_registry_inside_the_source_folder_never_ships_as_code(ws, tmp_path):
    """The seed's InferenceConfig takes the working folder as source_directory, where the workspace
    (fleetdeploy-workspace.json's `ws/`) often lies: its files are models, not code."""
    from fleetdeploy.artifacts import stage_spec_artifacts

    environment = Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt")
    path = write_spec(ws, "mnist-local", [Model(ws, "sklearn_mnist")], InferenceConfig("score.py", environment=environment),
                      port=6789, rest={})
    staged = stage_spec_artifacts(load_spec(path), tmp_path / "staged")
    assert sorted(staged.code_files) == ["score.py"], staged.code_files
