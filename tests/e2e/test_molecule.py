"""Each role's molecule scenario (molecule/<role>/) on the sandbox node images: create, prepare,
converge, idempotence (changed=0), side effects, verify, destroy. fleet_verify has no scenario of its
own: it needs a running service, and fleet_service's scenario runs it on its own (a separate scenario
repeated that whole set-up: 177 s on a fresh machine).

Measured in a clean-clone `make test` (2026-12-01, two workers): fleet_docker 96 s (apt installs
docker.io from Debian's mirror), fleet_image 114 s, fleet_artifacts 77 s, fleet_service 206 s with
fleet_verify in it (alone, the two had taken 227 s and 177 s). They run in every `make test`;
FLEETDEPLOY_MOLECULE=0 skips them for a quick local run.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["fleet_docker", "fleet_image", "fleet_artifacts", "fleet_service"]
VENV_BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.docker,
    pytest.mark.skipif(
        os.environ.get("FLEETDEPLOY_MOLECULE") == "0",
        reason="FLEETDEPLOY_MOLECULE=0 asked to skip the molecule scenarios",
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.timeout(900)
def test_molecule_scenario(scenario, sandbox_images, tmp_path):
    env = {
        **os.environ,
        # molecule runs ansible-playbook and ansible-config from PATH.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
    }
    log = tmp_path / f"molecule-{scenario}.log"
    with log.open("w") as out:
        result = subprocess.run(
            [str(VENV_BIN / "molecule"), "-c", "molecule/resources/base.yml", "test", "-s", scenario],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=880,
        )
    assert result.returncode == 0, f"molecule {scenario} failed; end of {log}:\n" + log.read_text()[-6000:]
