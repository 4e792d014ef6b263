"""The seed's Python, run with only its import lines changed, against a workspace folder (no cloud)."""

import json
import runpy
import shutil
from pathlib import Path

import pytest

from fleetdeploy.azureml import Environment, Model, Workspace

SEED = Path(__file__).parent / "seed"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mnist"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A folder with the workspace config the seed's Workspace.from_config() finds, as the working directory."""
    (tmp_path / "fleetdeploy-workspace.json").write_text(json.dumps({"workspace_dir": "workspace"}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_seeds_register_block_registers_the_diabetes_ridge_model(project):
    ran = runpy.run_path(str(SEED / "register_model.py"))
    model = ran["model"]
    assert (model.name, model.version, model.tags) == ("sklearn_regression_model", 1,
                                                       {"area": "diabetes", "type": "regression"})
    assert model.description == "Ridge regression model to predict diabetes"
    registered = Workspace(project / "workspace").get("sklearn_regression_model")
    assert registered.path.read_bytes() == (project / "sklearn_regression_model.pkl").read_bytes()
    assert model.properties["sklearn_version"] == __import__("sklearn").__version__
    again = runpy.run_path(str(SEED / "register_model.py"))["model"]
    assert again.version == 2


def test_the_seeds_deployment_block_finds_its_model_environment_and_script(project):
    ws = Workspace(project / "workspace")
    Model.register(ws, EXAMPLE / "model" / "sklearn_mnist_model.pkl", "sklearn_mnist")
    Environment.from_pip_requirements("tutorial-env", EXAMPLE / "requirements.txt").register(ws)
    shutil.copy(EXAMPLE / "score.py", project / "score.py")
    ran = runpy.run_path(str(SEED / "prepare_deployment.py"))
    assert ran["model"].id == "sklearn_mnist:1"
    assert ran["myenv"].version == "1" and "scikit-learn==" in "".join(ran["myenv"].pip_requirements)
    assert ran["inference_config"].entry_script_path == project / "score.py"
