"""fleet_verify's default URL (roles/fleet_verify/defaults/main.yml and its filter plugin) rendered by real
ansible-playbook for the same host variables as fleetdeploy's own probes (inventory.scoring_url): the
role's check and `status`/`invoke` reach each service of a node at the same address."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleetdeploy.inventory import load_inventory, scoring_url

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROLE = Path(__file__).resolve().parents[2] / "roles" / "fleet_verify"
INVENTORY = """
all:
  hosts:
    mapped:
      ansible_host: 10.0.0.3
      fleetdeploy_scoring_urls: {6789: "http://127.0.0.1:32770", 6790: "http://127.0.0.1:32772"}
    proxied:
      fleetdeploy_scoring_url: "https://lb.example/proxied-{port}/"
    plain:
      ansible_host: "2001:db8::7"
  vars:
    ansible_connection: local
"""
PLAYBOOK = f"""
- name: Where fleet_verify reaches each host
  hosts: all
  gather_facts: false
  vars_files: [{ROLE / "defaults" / "main.yml"}]
  tasks:
    - name: Say the URL
      ansible.builtin.debug:
        msg: "URL {{{{ inventory_hostname }}}} {{{{ fleet_verify_url }}}}"
"""


@pytest.mark.parametrize("port", [6789, 6790])
def test_the_role_and_the_cli_reach_each_service_at_the_same_url(tmp_path, port):
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    (tmp_path / "url.yml").write_text(PLAYBOOK)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "hosts.yml", "url.yml",
         "-e", json.dumps({"fleet_verify_port": port})],
        cwd=tmp_path, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "ANSIBLE_FILTER_PLUGINS": str(ROLE / "filter_plugins"),
             "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line.split('"URL ', 1)[1].rstrip('"') for line in done.stdout.splitlines() if '"URL ' in line]
    said = dict(line.split(" ", 1) for line in lines)
    inventory = load_inventory(tmp_path / "hosts.yml")
    assert said == {host.name: scoring_url(host, port) for host in inventory}
    assert said["mapped"] == f"http://127.0.0.1:{32770 if port == 6789 else 32772}"
    assert said["proxied"] == f"https://lb.example/proxied-{port}"
    assert said["plain"] == f"http://[2001:db8::7]:{port}"
