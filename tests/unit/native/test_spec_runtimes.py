"""`runtime: venv | conda` in the spec: what each accepts, and the bad input of issue 7 reported with
the file, line and path of the bad value."""

from pathlib import Path

import pytest
import yaml

from fleetdeploy.spec import SpecError, load_spec
from fleetdeploy.spec.node_runtime import DEFAULT_CONDA_INSTALLER, allowed_pythons, python_specifier

PROJECT = Path(__file__).parents[2] / "fixtures" / "specs" / "project"


def write_spec(tmp_path, conda: str | None = None, **top) -> Path:
    (tmp_path / "model.pkl").write_bytes((PROJECT / "sklearn_mnist_model.pkl").read_bytes())
    (tmp_path / "score.py").write_text((PROJECT / "score.py").read_text())
    (tmp_path / "requirements.txt").write_text("numpy\n")
    environment = {"pip": "requirements.txt"}
    if conda is not None:
        (tmp_path / "env.yml").write_text(conda)
        environment = {"conda": "env.yml"}
    spec = {
        "service": "mnist",
        "models": [{"name": "m", "path": "model.pkl"}],
        "entry_script": {"path": "score.py"},
        "environment": environment,
        **top,
    }
    path = tmp_path / "fleetdeploy.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def problems(path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [str(issue) for issue in caught.value.issues]


@pytest.mark.parametrize("runtime", ["docker", "venv", "conda"])
def test_every_runtime_loads_with_defaults(tmp_path, runtime):
    spec = load_spec(write_spec(tmp_path, runtime=runtime))
    assert spec.runtime == runtime
    assert spec.node_runtime.user == "fleetdeploy"
    assert spec.node_runtime.conda.installer == DEFAULT_CONDA_INSTALLER
    assert spec.node_runtime.conda.installer_is_url


def test_an_unknown_runtime_lists_the_runtimes(tmp_path):
    [issue] = problems(write_spec(tmp_path, runtime="podman"))
    assert "runtime: unknown runtime 'podman' (one of docker, venv, conda)" in issue


def test_invalid_conda_yaml_names_the_path_of_the_bad_value(tmp_path):
    conda = "dependencies:\n  - python=3.11\n  - pip:\n      - numpy\n      - 7\n"
    [issue] = problems(write_spec(tmp_path, conda=conda, runtime="conda"))
    assert (
        "fleetdeploy.yml:8: environment.conda: env.yml:3: dependencies[1].pip: must be a list of pip requirement strings"
        in issue
    )


def test_a_python_the_server_cannot_run_on_is_refused_for_both_native_runtimes(tmp_path):
    for runtime in ("venv", "conda"):
        conda = "dependencies:\n  - python=3.8\n  - pip:\n      - numpy\n"
        [issue] = problems(write_spec(tmp_path, conda=conda, runtime=runtime))
        assert (
            "environment.conda: env.yml: dependencies[0]: 'python=3.8' excludes Python 3.11 and newer"
            in issue
        )
        assert "(pin python=3.11 or newer)" in issue


def test_venv_cannot_install_conda_packages_and_says_to_use_conda(tmp_path):
    conda = "dependencies:\n  - python=3.11\n  - cudatoolkit=11.8\n  - pip:\n      - numpy\n"
    [issue] = problems(write_spec(tmp_path, conda=conda, runtime="venv"))
    assert "runtime: venv cannot install conda packages cudatoolkit=11.8 (from env.yml)" in issue
    assert "use `runtime: conda`" in issue
    assert load_spec(write_spec(tmp_path, conda=conda, runtime="conda")).runtime == "conda"


def test_node_runtime_values_are_checked(tmp_path):
    found = problems(
        write_spec(
            tmp_path,
            runtime="conda",
            node_runtime={
                "user": "root",
                "venv": {"index_url": "pypi.internal", "wheelhouse_python": ["3.11", "three"]},
                "conda": {"installer": "missing.sh", "installer_sha256": "abc", "channels": []},
            },
        )
    )
    text = "\n".join(found)
    assert "node_runtime.user: the service must not run as root" in text
    assert "node_runtime.venv.index_url: not an index URL: 'pypi.internal'" in text
    assert "node_runtime.venv.wheelhouse_python: not Python versions: ['three']" in text
    assert "node_runtime.conda.installer: no such installer file: missing.sh" in text
    assert "node_runtime.conda.installer_sha256: not a sha256: 'abc'" in text
    assert "node_runtime.conda.channels: must be a list of channel names or URLs, got []" in text
    assert len(found) == 6


def test_a_local_installer_becomes_an_absolute_path_and_its_kind_is_read_from_the_name(tmp_path):
    (tmp_path / "Miniforge3-Linux-x86_64.sh").write_text("#!/bin/sh\n")
    spec = load_spec(
        write_spec(
            tmp_path, runtime="conda", node_runtime={"conda": {"installer": "Miniforge3-Linux-x86_64.sh"}}
        )
    )
    conda = spec.node_runtime.conda
    assert conda.installer == str(tmp_path / "Miniforge3-Linux-x86_64.sh") and not conda.installer_is_url
    assert conda.installer_kind == "shell"
    url = "https://mirror.example.com/micromamba/linux-64/micromamba-2.0.5-0.tar.bz2"
    spec = load_spec(write_spec(tmp_path, runtime="conda", node_runtime={"conda": {"installer": url}}))
    assert spec.node_runtime.conda.installer_kind == "micromamba"


@pytest.mark.parametrize(
    ("pin", "allowed"),
    [
        (None, ["3.11", "3.12", "3.13"]),
        ("python=3.12", ["3.12"]),
        ("python>=3.12,<3.14", ["3.12", "3.13"]),
        ("python=3.11.4=h12345_0", ["3.11"]),
        ("python 3.13.*", ["3.13"]),
        ("python<3.10", []),
    ],
)
def test_allowed_pythons_follow_the_conda_pin(pin, allowed):
    content = {"dependencies": [pin] if pin else ["pip"]}
    assert allowed_pythons(content)[: len(allowed)] == allowed
    if not allowed:
        assert allowed_pythons(content) == []


def test_python_specifier_reads_conda_forms():
    assert str(python_specifier("=3.8")) == "==3.8.*"
    assert python_specifier("") is None
    assert python_specifier("~~bad") is None
