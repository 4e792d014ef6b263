"""The per-host values of a rendered project under real ansible-playbook: a host with inventory overrides
takes its vars/hosts/<host>.json over vars/fleetdeploy.json, the others the fleet's values, with the
vars_files every play of deploy.yml has (a play's set_fact still outranks both: same precedence level)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fleetdeploy.render import render_project

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


def test_a_host_file_overrides_the_fleet_values_for_that_host_only(tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(f"{name} ansible_connection=local\n" for name in ("n1", "n2")))
    rendered = render_project(
        tmp_path / "run",
        inventory_path=inventory,
        variables={"fleet_service_workers": 1, "fleetdeploy_release": "aaaaaaaaaaaa"},
        host_variables={"n2": {"fleet_service_workers": 4, "fleetdeploy_release": "bbbbbbbbbbbb"}},
    )
    play = yaml.safe_load((ROOT / "playbooks" / "deploy.yml").read_text())[0]
    probe = {
        "name": "Say the values",
        "hosts": "all",
        "gather_facts": False,
        "vars_files": play["vars_files"],
        "tasks": [{"ansible.builtin.debug": {"msg": "VALUES {{ inventory_hostname }} {{ fleet_service_workers }} {{ fleetdeploy_release }}"}}],
    }
    (rendered.project_dir / "playbooks" / "probe.yml").write_text(yaml.safe_dump([probe]))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "playbooks/probe.yml"],
        cwd=rendered.project_dir, capture_output=True, text=True, check=False,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    said = sorted(line.split("VALUES ", 1)[1].rstrip('"') for line in done.stdout.splitlines() if "VALUES " in line)
    assert said == ["n1 1 aaaaaaaaaaaa", "n2 4 bbbbbbbbbbbb"], done.stdout
    assert json.loads((rendered.project_dir / "vars" / "no-overrides.json").read_text()) == {}
