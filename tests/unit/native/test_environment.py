"""The environment a venv or conda node builds: what goes in, what its hash covers (a change of any
of it means a new envs/<hash> folder, an unchanged one means none), and how the installer is shipped."""

import hashlib

import pytest
import yaml

from fleetdeploy.native.environment import resolve_conda_file, resolve_native_environment, server_requirements
from fleetdeploy.native.prepare import installer_checksum
from fleetdeploy.native.wheelhouse import download_command, platform_tags
from fleetdeploy.spec import load_spec
from tests.unit.native.test_spec_runtimes import write_spec

CONDA = """
name: project_environment
channels: [defaults]
dependencies:
  - python=3.12
  - pip
  - pip:
      - azureml-defaults
      - scikit-learn==1.9.1
"""


def spec_with(tmp_path, **top):
    return load_spec(write_spec(tmp_path, **top))


def test_venv_environment_is_the_pip_lines_and_the_server(tmp_path):
    env = resolve_native_environment(spec_with(tmp_path, runtime="venv"), "serverhash")
    assert env.requirements == ("numpy",)
    assert env.server_requirements == server_requirements() and "uvicorn>=0.30" in env.server_requirements
    assert env.pythons[:3] == ("3.11", "3.12", "3.13") and env.conda is None
    assert len(env.env_hash) == 16


def test_the_hash_changes_with_what_the_environment_holds_and_only_then(tmp_path):
    spec = spec_with(tmp_path, runtime="venv")
    first = resolve_native_environment(spec, "serverhash").env_hash
    assert resolve_native_environment(spec, "serverhash").env_hash == first
    assert resolve_native_environment(spec, "another-server").env_hash != first
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n")
    assert resolve_native_environment(spec, "serverhash").env_hash != first
    (tmp_path / "requirements.txt").write_text("numpy\n")
    indexed = spec_with(
        tmp_path, runtime="venv", node_runtime={"venv": {"index_url": "https://pypi.example.com/simple"}}
    )
    assert resolve_native_environment(indexed, "serverhash").env_hash != first
    # Settings of the process, not of the environment, leave it alone.
    other_user = spec_with(tmp_path, runtime="venv", node_runtime={"user": "scoring"}, port=7000)
    assert resolve_native_environment(other_user, "serverhash").env_hash == first


def test_the_conda_file_gets_the_server_and_the_configured_channels(tmp_path):
    spec = spec_with(
        tmp_path,
        conda=CONDA,
        runtime="conda",
        node_runtime={"conda": {"channels": ["https://mirror.example.com/conda-forge"]}},
    )
    conda, requirements, notices = resolve_conda_file(spec, ("click>=8.1",))
    assert conda == {
        "name": "project_environment",
        "channels": ["https://mirror.example.com/conda-forge", "nodefaults"],
        "dependencies": ["python=3.12", "pip", {"pip": ["scikit-learn==1.9.1", "click>=8.1"]}],
    }
    assert requirements == ("scikit-learn==1.9.1",)
    assert "not installing 'azureml-defaults'" in notices[0]
    env = resolve_native_environment(spec, "serverhash")
    mirrored = env.env_hash
    assert yaml.safe_load(env.conda_yaml()) == env.conda
    plain = resolve_native_environment(spec_with(tmp_path, conda=CONDA, runtime="conda"), "serverhash")
    assert plain.conda["channels"] == ["defaults", "nodefaults"]
    assert plain.env_hash != mirrored, "a channel change is a new environment"


def test_a_pip_spec_under_conda_gets_a_python_the_server_runs_on(tmp_path):
    conda, _, _ = resolve_conda_file(spec_with(tmp_path, runtime="conda"), ("click>=8.1",))
    assert conda["dependencies"] == ["python>=3.11", "pip", {"pip": ["numpy", "click>=8.1"]}]
    assert conda["channels"] == ["conda-forge", "nodefaults"]


def test_a_shipped_installer_is_checked_against_its_own_checksum(tmp_path):
    installer = tmp_path / "Miniforge3-Linux-x86_64.sh"
    installer.write_bytes(b"#!/bin/sh\necho an installer\n")
    shipped = spec_with(tmp_path, runtime="conda", node_runtime={"conda": {"installer": installer.name}})
    assert installer_checksum(shipped) == hashlib.sha256(installer.read_bytes()).hexdigest()
    pinned = "a" * 64
    given = spec_with(
        tmp_path,
        runtime="conda",
        node_runtime={"conda": {"installer": installer.name, "installer_sha256": pinned}},
    )
    assert installer_checksum(given) == pinned
    assert installer_checksum(spec_with(tmp_path, runtime="conda")) is None  # a URL without a pin
    assert installer_checksum(spec_with(tmp_path, runtime="venv")) is None


def test_the_wheelhouse_asks_pip_for_wheels_of_the_nodes_python_and_platform(tmp_path):
    command = download_command(tmp_path / "r.txt", tmp_path / "out", "3.13", "x86_64", None)
    text = " ".join(command)
    assert "download" in command and "--only-binary=:all:" in command
    assert "--python-version 3.13" in text and "--abi cp313" in text and "--implementation cp" in text
    assert "--platform manylinux2014_x86_64" in text and "--platform manylinux_2_28_x86_64" in text
    assert "--index-url" not in command
    assert "--index-url https://pypi.example.com/simple" in " ".join(
        download_command(
            tmp_path / "r.txt", tmp_path / "out", "3.11", "aarch64", "https://pypi.example.com/simple"
        )
    )
    assert all(tag.endswith("_aarch64") for tag in platform_tags("aarch64"))


@pytest.mark.parametrize("runtime", ["venv", "conda"])
def test_role_variables_map_the_release_onto_the_native_roles(tmp_path, runtime):
    from fleetdeploy.artifacts import stage_spec_artifacts
    from fleetdeploy.deploy.release import PreparedRelease
    from fleetdeploy.native.prepare import NativeRelease, native_release_id
    from fleetdeploy.runtimes import role_variables

    spec = spec_with(tmp_path, runtime=runtime, resources={"cpus": 1.5, "memory": "1g"})
    environment = resolve_native_environment(spec, "serverhash")
    native = NativeRelease(environment, tmp_path / "env", "fleetdeploy-0.1.0-py3-none-any.whl", None, None)
    staged = stage_spec_artifacts(spec, tmp_path / "run" / "staged")
    release = native_release_id(native, staged, {"runtime": runtime})
    variables = role_variables(
        spec, PreparedRelease(release, staged, {"runtime": runtime}, native)
    )
    assert variables["fleetdeploy_runtime"] == runtime
    assert not any(name.startswith(("fleet_image_", "fleet_service_", "fleet_docker_")) for name in variables)
    unit = {name: value for name, value in variables.items() if name.startswith("fleet_unit_")}
    assert unit["fleet_unit_env_hash"] == environment.env_hash
    assert unit["fleet_unit_slot_ports"] == {"blue": 16789, "green": 26789}
    assert unit["fleet_unit_cpus"] == 1.5 and unit["fleet_unit_memory"] == 1024**3
    manifest = variables["fleet_artifacts_release_manifest"]
    assert manifest["runtime"] == runtime and manifest["service_vars"] == unit, (
        "rollback restarts from the manifest"
    )
    prefix = "fleet_venv_" if runtime == "venv" else "fleet_conda_"
    assert variables[prefix + "env_hash"] == environment.env_hash
    if runtime == "conda":
        assert "nodefaults" not in variables["fleet_conda_channels"]
        assert variables["fleet_conda_installer_is_url"] is True
