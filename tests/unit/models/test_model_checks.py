"""What apply checks of the spec's models before building: pickles that would run code, and the
scikit-learn version a model was saved with against the one the environment pins. Models named by the
registry instead of a path."""

import json

import pytest

from fleetdeploy.errors import ConfigError, FleetdeployError
from fleetdeploy.model_checks import check_models, pinned_version
from fleetdeploy.registry import Workspace
from fleetdeploy.spec import load_spec
from tests.unit.models.conftest import RunsCode

SKLEARN = __import__("sklearn").__version__


def write_spec(tmp_path, models: str, requirements: str = f"scikit-learn=={SKLEARN}\n", extra: str = ""):
    (tmp_path / "score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return 1\n")
    (tmp_path / "requirements.txt").write_text(requirements)
    (tmp_path / "fleetdeploy.yml").write_text(
        f"service: mnist\nmodels:\n{models}entry_script:\n  path: score.py\nenvironment:\n  pip: requirements.txt\n"
        + extra
    )
    return load_spec(tmp_path / "fleetdeploy.yml")


@pytest.mark.parametrize(("lines", "expected"), [
    (["scikit-learn==1.5.2"], (True, "1.5.2")), (["numpy", "Scikit_Learn == 1.4.0  # pinned"], (True, "1.4.0")),
    (["scikit-learn=1.3.0"], (True, "1.3.0")), (["scikit-learn>=1.3"], (True, None)),
    (["scikit-learn"], (True, None)), (["numpy==2.0"], (False, None)),
])
def test_the_pinned_version_is_read_in_pip_and_conda_spellings(lines, expected):
    assert pinned_version(lines) == expected


def test_a_model_saved_by_the_pinned_version_passes(tmp_path, make_file, ridge):
    make_file("m.pkl", ridge)
    reports = check_models(write_spec(tmp_path, "  - name: m\n    path: m.pkl\n"), print)
    assert reports[0].sklearn_versions == [SKLEARN]


@pytest.mark.parametrize(("requirements", "message"), [
    ("scikit-learn==0.24.2\n", (f"was saved by scikit-learn {SKLEARN}, but .*requirements.txt pins 0.24.2: pin "
                               f"`scikit-learn=={SKLEARN}`, or re-save the model with 0.24.2")),
    ("scikit-learn>=1\n", (f"was saved by scikit-learn {SKLEARN}, and .*requirements.txt pins no version: pin "
                          f"`scikit-learn=={SKLEARN}`")),
    ("numpy\n", "was saved .* and .*requirements.txt does not install it"),
])
def test_another_scikit_learn_is_refused_naming_the_model_and_the_fix(tmp_path, make_file, ridge, requirements, message):
    make_file("m.pkl", ridge)
    spec = write_spec(tmp_path, "  - name: m\n    path: m.pkl\n", requirements)
    with pytest.raises(ConfigError, match=r"models\[0\] \(m 1\): .*m.pkl " + message):
        check_models(spec, print)


def test_a_model_that_runs_code_is_refused_unless_the_entry_trusts_it(tmp_path, make_file):
    make_file("m.pkl", [RunsCode()], how="pickle")
    with pytest.raises(ConfigError, match=r"import posix.system \(runs code.*set `trusted: true`"):
        check_models(write_spec(tmp_path, "  - name: m\n    path: m.pkl\n"), print)
    said = []
    check_models(write_spec(tmp_path, "  - name: m\n    path: m.pkl\n    trusted: true\n"), said.append)
    assert said and said[0].startswith("warning: models[0] (m 1)") and "trusted: true" in said[0]


def test_a_spec_names_a_registered_model_by_version_tag_or_latest(tmp_path, make_file, ridge):
    workspace = Workspace(tmp_path / "registry")
    workspace.register(make_file("m.pkl", ridge), "sklearn_regression_model", tags={"stage": "prod"})
    workspace.register(make_file("m.pkl", ridge), "sklearn_regression_model")
    for entry, version in (("    version: 1\n", 1), ("    tag: stage=prod\n", 1), ("", 2)):
        spec = write_spec(tmp_path, f"  - name: sklearn_regression_model\n{entry}", extra="workspace: registry\n")
        model = spec.models[0]
        assert (model.version, model.registered) == (version, True)
        assert model.path == workspace.get("sklearn_regression_model", version).path
        assert spec.models[0].layout_dir == f"azureml-models/sklearn_regression_model/{version}"


def test_a_spec_finds_the_workspace_from_its_config(tmp_path, make_file, ridge):
    Workspace(tmp_path / "registry").register(make_file("m.pkl", ridge), "m")
    (tmp_path / "fleetdeploy-workspace.json").write_text(json.dumps({"workspace_dir": "registry"}))
    assert write_spec(tmp_path, "  - name: m\n").models[0].registered


@pytest.mark.parametrize(("entry", "message"), [
    ("  - name: m\n    version: 9\n", r"models\[0\]: model m has no version 9 \(versions: 1\)"),
    ("  - name: other\n", r"models\[0\]: no registered model named 'other'.*\(registered: m\)"),
    ("  - name: m\n    path: m.pkl\n    tag: a\n", r"models\[0\].tag: tag picks a registered model version"),
])
def test_a_bad_registry_reference_names_the_entry_and_what_exists(tmp_path, make_file, ridge, entry, message):
    Workspace(tmp_path / "registry").register(make_file("m.pkl", ridge), "m")
    with pytest.raises(FleetdeployError, match=message):
        write_spec(tmp_path, entry, extra="workspace: registry\n")
