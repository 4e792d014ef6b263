"""What a loaded spec exposes to the rest of fleetdeploy: absolute paths, parsed quantities, the
Azure model layout and the Docker shapes."""

from pathlib import Path

import pytest

from fleetdeploy.spec import Resources, load_spec

FIXTURES = Path(__file__).parents[2] / "fixtures" / "specs"
PROJECT = FIXTURES / "project"


@pytest.fixture(scope="module")
def full():
    return load_spec(FIXTURES / "valid-full.yml")


@pytest.fixture(scope="module")
def minimal():
    return load_spec(FIXTURES / "valid-minimal.yml")


def test_defaults_follow_the_design_contract(minimal):
    assert minimal.runtime == "docker"
    assert minimal.port == 6789
    assert minimal.environment.base_image == "fleetdeploy/python:3.11-slim"
    assert (minimal.resources.cpus, minimal.resources.memory, minimal.resources.gpus) == (None, None, 0)
    assert minimal.server.model_dump() == {
        "workers": 1,
        "timeout": 60.0,
        "max_body": 100 * 1024**2,
        "log_level": "info",
    }
    assert minimal.health.ready_timeout == 120.0
    assert minimal.health.sample_request_body() is None
    assert (minimal.rollout.batch, minimal.rollout.max_fail, minimal.rollout.pause) == ([1], 0, 0.0)
    assert minimal.registry is None


def test_one_model_sets_model_dir_to_its_version_folder(minimal):
    assert minimal.models[0].version == 1
    assert minimal.model_dir_relative() == "azureml-models/sklearn_mnist/1"
    assert minimal.models[0].layout_path == "azureml-models/sklearn_mnist/1/sklearn_mnist_model.pkl"


def test_several_models_set_model_dir_to_the_root(full):
    assert full.model_dir_relative() == "azureml-models"
    assert [model.layout_path for model in full.models] == [
        "azureml-models/sklearn_mnist/3/sklearn_mnist_model.pkl",
        "azureml-models/encoder/2024-05-01/model_folder",
    ]
    assert full.models[1].path == PROJECT / "model_folder"


def test_entry_script_without_source_dir_ships_its_own_folder(minimal):
    assert minimal.entry_script.path == PROJECT / "score.py"
    assert minimal.entry_script.source_dir == PROJECT
    assert minimal.entry_script.relative_path == "score.py"


def test_entry_script_path_is_relative_to_source_dir(full):
    assert full.entry_script.source_dir == PROJECT
    assert full.entry_script.relative_path == "src/score_headers.py"


def test_pip_environment(minimal):
    assert minimal.environment.kind == "pip"
    assert minimal.environment.file == PROJECT / "requirements.txt"
    assert minimal.environment.pip_requirements() == ["numpy>=1.26", "scikit-learn>=1.4", "joblib>=1.3"]
    assert minimal.environment.conda_content is None


def test_conda_environment_is_parsed(full):
    env = full.environment
    assert env.kind == "conda" and env.file == PROJECT / "conda_dependencies.yml"
    assert env.conda_content["channels"] == ["conda-forge"]
    assert env.conda_content["dependencies"][0] == "python=3.11"
    assert env.pip_requirements() == ["numpy>=1.26", "scikit-learn>=1.4", "joblib>=1.3"]
    assert env.base_image == "registry.example.com/ml/python:3.11-slim"


def test_quantities_are_parsed(full):
    assert full.port == 8080
    assert (full.resources.cpus, full.resources.memory) == (2.5, 2 * 1024**3)
    assert (full.server.workers, full.server.timeout, full.server.max_body) == (4, 90.0, 10 * 1024**2)
    assert full.server.log_level == "debug"
    assert (full.health.ready_timeout, full.health.request_timeout) == (300.0, 3.0)
    assert (full.rollout.batch, full.rollout.max_fail, full.rollout.pause) == ([1, "50%"], "10%", 30.0)
    assert full.registry == "registry.example.com:5000/ml"


def test_sample_request_from_file_and_inline(full):
    assert full.health.sample_request_body() == (PROJECT / "sample_request.json").read_text()
    assert full.health.expected_response == [2]
    inline = load_spec(FIXTURES / "valid-inline-sample.yml")
    assert inline.health.sample_request_body() == '{"data": [[0.0, 0.5]]}'
    assert (inline.resources.cpus, inline.resources.memory, inline.resources.gpus) == (None, None, "all")


@pytest.mark.parametrize(
    "gpus, expected",
    [
        (0, []),
        ("all", [{"Driver": "nvidia", "Capabilities": [["gpu"]], "Count": -1}]),
        (2, [{"Driver": "nvidia", "Capabilities": [["gpu"]], "Count": 2}]),
        (["0", 3], [{"Driver": "nvidia", "Capabilities": [["gpu"]], "DeviceIDs": ["0", "3"]}]),
    ],
)
def test_gpu_device_requests(gpus, expected):
    assert Resources.model_validate({"gpus": gpus}).device_requests() == expected


def test_rollout_helpers(full):
    assert full.rollout.batches(5) == [[0], [1, 2], [3, 4]]
    assert full.rollout.allowed_failures(25) == 2


def test_warmup_cpu_shares_defaults_low_and_is_bounded_by_dockers_range(minimal):
    from fleetdeploy.spec.sections import Rollout

    assert minimal.rollout.warmup_cpu_shares == 128
    assert Rollout.model_validate({"warmup_cpu_shares": 1024}).warmup_cpu_shares == 1024
    for bad in (1, 1025):
        with pytest.raises(ValueError, match="warmup_cpu_shares"):
            Rollout.model_validate({"warmup_cpu_shares": bad})
