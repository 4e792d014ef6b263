"""The conda runtime on the sandbox. What needs no channel runs always: a shipped installer is copied to
the node and checked against its declared sha256 before it can run. The deploy end to end needs a conda
channel and the Miniforge installer URL: both are probed for real first, and the test is skipped naming
what is unreachable (from the machines this project is built on, neither is). Never a fake channel or a
fake installer: the file shipped in the checksum test is refused because it is not the declared one, and
is never run."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import yaml

from fleetdeploy.spec.node_runtime import DEFAULT_CONDA_INSTALLER
from tests.e2e.deploy_helpers import copy_example, fleetdeploy, node_exec, seed_client

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timeout(1800)]

CHANNEL_PROBE = "https://conda.anaconda.org/conda-forge/noarch/repodata.json"


@pytest.fixture(scope="module")
def fleet(sandbox_fleet):
    # The venv tests' fleet when both files run in one session (the factory returns the same sandbox).
    return sandbox_fleet("venv", nodes=3, distros=("bookworm", "trixie"), docker=("absent",))


def conda_project(tmp_path_factory, **conda_settings):
    project = copy_example(tmp_path_factory.mktemp("mnist-conda"))
    spec_path = project / "fleetdeploy.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["runtime"] = "conda"
    spec["environment"] = {"conda": "conda_dependencies.yml"}
    spec["node_runtime"] = {"conda": conda_settings}
    pins = [line for line in (project / "requirements.txt").read_text().split() if "==" in line]
    (project / "conda_dependencies.yml").write_text(
        "channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        + "".join(f"      - {line}\n" for line in pins)
    )
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return project


def unreachable(url: str) -> str | None:
    """Why `url` cannot be fetched from here, or None when it can."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=8):
            return None
    except urllib.error.HTTPError as exc:
        return None if exc.code < 500 else f"{url}: HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"


def test_a_shipped_installer_that_is_not_the_declared_one_is_refused_before_it_runs(
    fleet, tmp_path_factory, docker_engine
):
    node = fleet.nodes[1]  # trixie; the venv tests use node1 and node3 for their failure cases
    project = conda_project(
        tmp_path_factory, installer="Miniforge3-Linux-x86_64.sh", installer_sha256="0" * 64
    )
    # Not an installer: a file that must never run. The check refuses it for its checksum alone.
    (project / "Miniforge3-Linux-x86_64.sh").write_text("#!/bin/sh\ntouch /tmp/fleetdeploy-installer-ran\n")
    serving = node_exec(
        docker_engine, node, "cat /opt/fleetdeploy/mnist/state/active.json 2>/dev/null || echo '{}'"
    )
    result = fleetdeploy("apply", fleet.inventory, "-f", project / "fleetdeploy.yml", "--limit", node.host)
    assert result.returncode != 0, result.stdout + result.stderr
    text = re.sub(r"\s+", " ", result.stdout)
    assert f"host {node.host}: the conda installer" in text and "expected " + "0" * 64 in text, result.stdout[
        -4000:
    ]
    assert "It was not run" in text
    shipped = node_exec(docker_engine, node, "sha256sum /var/cache/fleetdeploy/Miniforge3-Linux-x86_64.sh")
    assert shipped.split()[0] != "0" * 64, "the file was shipped to the node and checksummed there"
    assert (
        node_exec(docker_engine, node, "test -e /tmp/fleetdeploy-installer-ran && echo ran || echo no")
        == "no"
    )
    assert node_exec(docker_engine, node, "test -e /opt/fleetdeploy/conda && echo yes || echo no") == "no"
    after = node_exec(
        docker_engine, node, "cat /opt/fleetdeploy/mnist/state/active.json 2>/dev/null || echo '{}'"
    )
    assert json.loads(after) == json.loads(serving), "what served before keeps serving"


def test_conda_runtime_end_to_end(fleet, tmp_path_factory):
    reasons = [
        reason
        for reason in (unreachable(CHANNEL_PROBE), unreachable(DEFAULT_CONDA_INSTALLER.format(arch="x86_64")))
        if reason
    ]
    if reasons:
        pytest.skip("no conda channel or installer is reachable from here: " + "; ".join(reasons))
    project = conda_project(tmp_path_factory)
    node = fleet.nodes[1]
    result = fleetdeploy("apply", fleet.inventory, "-f", project / "fleetdeploy.yml", "--limit", node.host)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "prediction: [2]" in seed_client(project, node)
