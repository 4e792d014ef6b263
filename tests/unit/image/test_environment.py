from pathlib import Path

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.image.environment import (
    EnvironmentInput,
    check_python,
    requirement_name,
    resolve_environment,
)

AZURE_CONDA = """\
name: project_environment
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
      - azureml-defaults
      - scikit-learn==1.4.2
      - joblib
"""


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pip_file_lines_are_kept_without_comments_and_continuations(tmp_path):
    req = _file(
        tmp_path,
        "requirements.txt",
        "# pinned\nnumpy==1.26.4  # inline comment\n\nscikit-learn>=1.4 \\\n    ; python_version >= '3.8'\n"
        "--extra-index-url https://example.invalid/simple\n",
    )
    resolved = resolve_environment(EnvironmentInput(pip=req))
    assert resolved.requirements == (
        "numpy==1.26.4",
        "scikit-learn>=1.4 ; python_version >= '3.8'",
        "--extra-index-url https://example.invalid/simple",
    )
    assert resolved.python_spec is None and resolved.notices == ()


def test_included_requirement_files_are_inlined(tmp_path):
    _file(tmp_path, "base.txt", "joblib\n")
    req = _file(tmp_path, "requirements.txt", "-r base.txt\nnumpy\n")
    assert resolve_environment(EnvironmentInput(pip=req)).requirements == ("joblib", "numpy")


def test_azure_server_packages_are_dropped_with_a_notice(tmp_path):
    req = _file(tmp_path, "r.txt", "azureml-defaults==1.50\nAzureML_Inference_Server_HTTP\nnumpy\n")
    resolved = resolve_environment(EnvironmentInput(pip=req))
    assert resolved.requirements == ("numpy",)
    assert len(resolved.notices) == 2
    assert "azureml-defaults==1.50" in resolved.notices[0] and "replaces" in resolved.notices[0]


def test_azure_conda_file_becomes_its_pip_list(tmp_path):
    resolved = resolve_environment(EnvironmentInput(conda=_file(tmp_path, "env.yml", AZURE_CONDA)))
    assert resolved.requirements == ("scikit-learn==1.4.2", "joblib")
    assert resolved.python_spec == "==3.11.*"
    assert resolved.notices and "azureml-defaults" in resolved.notices[0]


def test_conda_packages_are_refused_by_name(tmp_path):
    text = "dependencies:\n  - python=3.11\n  - numpy=1.26\n  - conda-forge::lightgbm\n  - pip\n"
    with pytest.raises(ConfigError) as info:
        resolve_environment(EnvironmentInput(conda=_file(tmp_path, "env.yml", text)))
    message = str(info.value)
    assert "env.yml" in message and "numpy=1.26, conda-forge::lightgbm" in message
    assert "conda-capable base image" in message


@pytest.mark.parametrize(
    ("pin", "spec"),
    [
        ("python=3.11", "==3.11.*"),
        ("python=3.11.4", "==3.11.4"),
        ("python=3.11.4=h955ad1f_0", "==3.11.4"),
        ("python 3.11", "==3.11.*"),
        ("python>=3.9,<3.12", ">=3.9,<3.12"),
        ("python", None),
    ],
)
def test_conda_python_pins_become_specifiers(tmp_path, pin, spec):
    path = _file(tmp_path, "env.yml", f"dependencies:\n  - {pin}\n  - pip:\n    - numpy\n")
    assert resolve_environment(EnvironmentInput(conda=path)).python_spec == spec


def test_python_pin_is_checked_against_the_base(tmp_path):
    path = _file(tmp_path, "env.yml", "dependencies:\n  - python=3.8\n")
    resolved = resolve_environment(EnvironmentInput(conda=path))
    with pytest.raises(
        ConfigError, match=r"env.yml: asks for python ==3.8.\* but base image b:1 has Python 3.11.2"
    ):
        check_python(resolved, "3.11.2", base_image="b:1", source=path)
    check_python(resolved, "3.8.10", base_image="b:1", source=path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-e git+https://x.invalid/p.git#egg=p\n", r"r.txt:1: -e is not supported"),
        ("numpy\n-c constraints.txt\n", r"r.txt:2: -c is not supported"),
        ("./local_pkg\n", r"r.txt:1: local path './local_pkg'"),
        ("-r missing.txt\n", r"r.txt: -r .*missing.txt does not exist"),
        ("-r r.txt\n", "includes itself"),
    ],
)
def test_bad_pip_files_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        resolve_environment(EnvironmentInput(pip=_file(tmp_path, "r.txt", text)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "dependencies: expected a list"),
        ("dependencies: [1]\n", r"dependencies\[0\]: expected a package"),
        ("dependencies:\n  - pip: numpy\n", r"dependencies\[0\].pip: expected a list"),
        ("dependencies: [\n", "not valid YAML"),
    ],
)
def test_bad_conda_files_name_the_field(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        resolve_environment(EnvironmentInput(conda=_file(tmp_path, "env.yml", text)))


def test_missing_files_and_ambiguous_input_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="environment.pip: .*nope.txt does not exist"):
        resolve_environment(EnvironmentInput(pip=tmp_path / "nope.txt"))
    with pytest.raises(ConfigError, match="environment.conda: .*nope.yml does not exist"):
        resolve_environment(EnvironmentInput(conda=tmp_path / "nope.yml"))
    with pytest.raises(ConfigError, match="exactly one of pip or conda"):
        EnvironmentInput(pip=tmp_path / "a", conda=tmp_path / "b")


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("AzureML.Defaults>=1", "azureml-defaults"),
        ("scikit_learn[alldeps]==1.4", "scikit-learn"),
        ("--index-url https://x.invalid", None),
        ("https://x.invalid/p.whl", None),
        ("pkg @ https://x.invalid/p.whl", "pkg"),
    ],
)
def test_requirement_name(line, name):
    assert requirement_name(line) == name
