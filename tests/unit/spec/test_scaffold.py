"""`fleetdeploy init`: the scaffold it writes must itself load as a valid spec once its files exist."""

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fleetdeploy.cli.init_cmd import init
from fleetdeploy.errors import ConfigError
from fleetdeploy.spec import Spec, load_spec
from fleetdeploy.spec.scaffold import service_name, write_scaffold

PROJECT = Path(__file__).parents[2] / "fixtures" / "specs" / "project"


def run_init(*args):
    result = CliRunner().invoke(init, [str(arg) for arg in args])
    return result


def test_init_in_an_azure_style_folder_prefills_everything(tmp_path):
    folder = tmp_path / "Sklearn_MNIST"
    (folder / "outputs").mkdir(parents=True)
    shutil.copy(PROJECT / "score.py", folder)
    shutil.copy(PROJECT / "requirements.txt", folder)
    shutil.copy(PROJECT / "sklearn_mnist_model.pkl", folder / "outputs")

    result = run_init(folder)

    assert result.exit_code == 0, result.output
    assert "The spec is valid" in result.output
    spec = load_spec(folder / "fleetdeploy.yml")
    assert spec.service == "sklearn-mnist"
    assert spec.models[0].path == folder / "outputs" / "sklearn_mnist_model.pkl"
    # The seed score.py joins AZUREML_MODEL_DIR with the file name: the layout must keep it.
    assert spec.models[0].layout_path == "azureml-models/sklearn_mnist_model/1/sklearn_mnist_model.pkl"
    assert spec.model_dir_relative() == "azureml-models/sklearn_mnist_model/1"
    assert spec.entry_script.path == folder / "score.py"
    assert spec.environment.kind == "pip"


def test_init_in_an_empty_folder_is_valid_once_its_files_exist(tmp_path):
    folder = tmp_path / "new-service"
    result = run_init(folder)
    assert result.exit_code == 0, result.output
    assert "fix what the spec check reports" in result.output
    assert "models[0].path: no such file or folder: model.pkl" in result.output

    shutil.copy(PROJECT / "score.py", folder)
    shutil.copy(PROJECT / "requirements.txt", folder)
    (folder / "model.pkl").write_bytes(b"weights")
    spec = load_spec(folder / "fleetdeploy.yml")
    assert spec.service == "new-service"
    assert spec.model_dir_relative() == "azureml-models/model/1"


def test_scaffold_writes_every_section_with_its_default(tmp_path):
    shutil.copy(PROJECT / "score.py", tmp_path)
    shutil.copy(PROJECT / "requirements.txt", tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"weights")
    target, _ = write_scaffold(tmp_path, service="svc")
    written = yaml.safe_load(target.read_text())
    assert set(written) == set(Spec.model_fields)
    spec = load_spec(target)
    defaults = Spec.model_fields
    for section in ("endpoint", "resources", "server", "health", "rollout", "node_runtime"):
        assert getattr(spec, section) == defaults[section].default, section
    assert (spec.port, spec.runtime, spec.registry) == (6789, "docker", None)


def test_init_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "fleetdeploy.yml").write_text("service: mine\n")
    result = run_init(tmp_path)
    assert isinstance(result.exception, ConfigError)
    assert "fleetdeploy.yml already exists (use --force to overwrite it)" in str(result.exception)
    assert (tmp_path / "fleetdeploy.yml").read_text() == "service: mine\n"

    assert run_init(tmp_path, "--force").exit_code == 0
    assert "service: " + tmp_path.name.lower().replace("_", "-") in (tmp_path / "fleetdeploy.yml").read_text()


def test_conda_file_and_several_models(tmp_path):
    shutil.copy(PROJECT / "conda_dependencies.yml", tmp_path)
    shutil.copy(PROJECT / "src" / "score_headers.py", tmp_path)  # found although not named score.py
    (tmp_path / "models").mkdir()
    for name in ("a.onnx", "b.joblib"):
        (tmp_path / "models" / name).write_bytes(b"weights")

    result = run_init(tmp_path, "--service", "two-models")

    assert result.exit_code == 0, result.output
    assert "also found    models/b.joblib" in result.output
    text = (tmp_path / "fleetdeploy.yml").read_text()
    assert "  # - name: b\n  #   path: models/b.joblib\n" in text
    spec = load_spec(tmp_path / "fleetdeploy.yml")
    assert [model.name for model in spec.models] == ["a"]
    assert spec.environment.kind == "conda" and spec.entry_script.relative_path == "score_headers.py"


def test_a_broken_score_py_is_named_not_replaced(tmp_path):
    shutil.copy(PROJECT / "no_functions.py", tmp_path / "score.py")
    result = run_init(tmp_path)
    assert "entry script  score.py (fix: score.py defines no top-level function `init`)" in result.output


def test_bad_service_option(tmp_path):
    result = run_init(tmp_path, "--service", "My Service")
    assert "--service 'My Service': use lowercase letters, digits and '-', e.g. 'my-service'" in str(
        result.exception
    )
    assert not (tmp_path / "fleetdeploy.yml").exists()


@pytest.mark.parametrize(
    "folder, name",
    [("My_Model v2", "my-model-v2"), ("2024-mnist", "mnist"), ("___", "scoring"), ("x" * 60, "x" * 41)],
)
def test_service_name_from_folder(folder, name):
    assert service_name(folder) == name


@pytest.mark.parametrize(
    ("local", "written", "said"),
    [
        ("fleetdeploy/python:3.11-slim", "fleetdeploy/python:3.11-slim", "sandbox's local stand-in"),
        ("python:3.11-slim", "python:3.11-slim", "your registry's copy"),
    ],
)
def test_init_names_the_sandbox_base_image_only_where_the_sandbox_was_set_up(
    tmp_path, monkeypatch, local, written, said
):
    from fleetdeploy.spec import scaffold

    monkeypatch.setattr(scaffold, "default_base_image", lambda: local)
    shutil.copy(PROJECT / "score.py", tmp_path)
    shutil.copy(PROJECT / "requirements.txt", tmp_path)
    assert run_init(tmp_path).exit_code == 0
    text = (tmp_path / "fleetdeploy.yml").read_text()
    assert said in text
    assert yaml.safe_load(text)["environment"]["base_image"] == written
