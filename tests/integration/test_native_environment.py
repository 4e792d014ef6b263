"""The controller side of the runtimes without Docker, with real pip: a wheelhouse downloaded for the
nodes' Pythons (reused when unchanged, a clear error when a wheel does not exist), and `env export`
writing files a `docker build` of the folder can use as they are."""

import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from fleetdeploy.errors import EnvironmentProblem
from fleetdeploy.native.export import export_environment
from fleetdeploy.native.wheelhouse import build_wheelhouse
from fleetdeploy.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_a_wheelhouse_holds_wheels_for_each_node_python_and_is_reused(tmp_path):
    house = build_wheelhouse(
        ["click>=8.1", "httptools>=0.6"], tmp_path, pythons=["3.11", "3.13"], arch="x86_64"
    )
    wheels = sorted(path.name for path in house.glob("*.whl"))
    assert any(name.startswith("click-") and name.endswith("-py3-none-any.whl") for name in wheels), wheels
    # httptools is compiled: one wheel per CPython, both for manylinux x86_64.
    for tag in ("cp311", "cp313"):
        assert any(name.startswith("httptools-") and tag in name and "x86_64" in name for name in wheels), (
            wheels
        )
    marker = (house / ".complete").stat().st_mtime_ns
    assert (
        build_wheelhouse(["click>=8.1", "httptools>=0.6"], tmp_path, pythons=["3.11", "3.13"], arch="x86_64")
        == house
    )
    assert (house / ".complete").stat().st_mtime_ns == marker, (
        "an unchanged wheelhouse is not downloaded again"
    )


def test_a_requirement_without_a_wheel_names_the_python_and_platform(tmp_path):
    with pytest.raises(EnvironmentProblem, match=r"wheels for Python 3\.13 on aarch64 failed"):
        build_wheelhouse(
            ["fleetdeploy-no-such-project-7f3a==1.0"], tmp_path, pythons=["3.13"], arch="aarch64"
        )
    assert not list((tmp_path / "wheelhouses").glob("*/.complete"))


def test_env_export_writes_what_a_docker_build_of_the_folder_needs(tmp_path):
    out = tmp_path / "exported"
    exported = export_environment(load_spec(EXAMPLE / "fleetdeploy.yml"), out)
    dockerfile = (out / "Dockerfile").read_text()
    copied = [
        name for line in dockerfile.splitlines() if line.startswith("COPY ") for name in line.split()[1:-1]
    ]
    assert copied and all((out / name).is_file() for name in copied), copied
    assert re.search(r"^FROM fleetdeploy/python:3.11-slim$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["fleetdeploy", "serve"]' in dockerfile and "USER 10001" in dockerfile
    conda = yaml.safe_load((out / "conda_dependencies.yml").read_text())
    pip = conda["dependencies"][-1]["pip"]
    assert "scikit-learn==1.9.1" in pip and any(line.startswith("uvicorn") for line in pip)
    wheel = next(out.glob("fleetdeploy-*.whl"))
    assert "fleetdeploy/serve/app.py" in zipfile.ZipFile(wheel).namelist()
    assert json.loads((out / "environment.json").read_text())["runtime"] == "docker"
    assert set(exported.files) == {p.name for p in out.iterdir()}
