"""fleetdeploy.azureml's Model and Environment: the SDK's calls and their errors."""

import pytest
import yaml

from fleetdeploy.azureml import Environment, InferenceConfig, Model, Workspace
from fleetdeploy.errors import ConfigError


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


@pytest.fixture
def model_file(tmp_path):
    import joblib
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    path = tmp_path / "m.pkl"
    joblib.dump(Ridge().fit(*load_diabetes(return_X_y=True)), path)
    return path


def test_model_lookups_as_the_sdk_has_them(ws, model_file):
    Model.register(ws, model_file, "m", tags={"stage": "prod"})
    Model.register(ws, model_file, "m", tags={"stage": "dev"})
    assert Model(ws, "m").version == 2 and Model(ws, id="m:1").version == 1
    assert Model(ws, "m", tags=[["stage", "prod"]]).version == 1
    assert [m.id for m in Model.list(ws, tags=["stage"])] == ["m:1", "m:2"]
    assert [m.id for m in Model.list(ws, latest=True)] == ["m:2"]
    with pytest.raises(ConfigError, match=r"model m has no version 5 \(versions: 1, 2\)"):
        Model(ws, "m", version=5)
    with pytest.raises(ConfigError, match=r"no registered model named 'x'.*\(registered: m\)"):
        Model(ws, "x")


def test_tags_download_and_the_path_a_scoring_script_asks_for(ws, model_file, tmp_path, monkeypatch):
    model = Model.register(ws, model_file, "m")
    model.add_tags({"stage": "prod", "owner": "ana"})
    model.remove_tags(["owner"])
    assert Model(ws, "m").tags == {"stage": "prod"}
    target = model.download(tmp_path / "out")
    assert target == str(tmp_path / "out" / "m.pkl")
    assert Model.get_model_path("m", _workspace=ws) == str(model.path)
    # On a node, one model: AZUREML_MODEL_DIR is azureml-models/<name>/<version>
    served = tmp_path / "azureml-models" / "m" / "1"
    served.mkdir(parents=True)
    (served / "m.pkl").write_bytes(b"x")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(served))
    assert Model.get_model_path("m") == str(served / "m.pkl")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(served.parent.parent))  # several models
    assert Model.get_model_path("m") == str(served / "m.pkl")


def test_an_environment_gets_a_new_version_only_when_it_changes(ws, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nscikit-learn==1.9.1\n")
    first = Environment.from_pip_requirements("tutorial-env", requirements).register(ws)
    again = Environment.from_pip_requirements("tutorial-env", requirements).register(ws)
    requirements.write_text("scikit-learn==1.9.1\nnumpy==2.4.6\n")
    changed = Environment.from_pip_requirements("tutorial-env", requirements).register(ws)
    assert (first.version, again.version, changed.version) == ("1", "1", "2")
    assert Environment.get(ws, "tutorial-env", version="1").pip_requirements == ["scikit-learn==1.9.1"]
    assert Environment.get(ws, "tutorial-env").version == "2"
    with pytest.raises(ConfigError, match=r"no registered environment named 'nope'.*\(registered: tutorial-env\)"):
        Environment.get(ws, "nope")


def test_save_to_directory_writes_the_sdks_two_files(ws, tmp_path):
    conda = tmp_path / "conda.yml"
    conda.write_text("name: x\ndependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn==1.9.1\n")
    env = Environment.from_conda_specification("conda-env", conda).register(ws)
    env.save_to_directory(tmp_path / "saved")
    saved = yaml.safe_load((tmp_path / "saved" / "conda_dependencies.yml").read_text())
    assert saved["dependencies"][1] == {"pip": ["scikit-learn==1.9.1"]}
    assert (tmp_path / "saved" / "azureml_environment.json").exists()
    with pytest.raises(ConfigError, match="overwrite=True"):
        env.save_to_directory(tmp_path / "saved")


def test_an_inference_config_needs_its_script(tmp_path):
    with pytest.raises(ConfigError, match="entry_script .*score.py does not exist"):
        InferenceConfig(entry_script="score.py", source_directory=str(tmp_path))
