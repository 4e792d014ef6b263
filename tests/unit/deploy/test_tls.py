"""Each node's certificate as per-host variables (endpoint.tls): the fleet CA issues them, a site's files are
checked before anything is built, and a renewed certificate changes the host's desired digest."""

from __future__ import annotations

import os

import pytest
import yaml

from fleetdeploy.deploy.tls import tls_host_variables, with_tls
from fleetdeploy.deploy.variables import desired_digest
from fleetdeploy.errors import ConfigError
from fleetdeploy.fleet_ca import FleetCA
from fleetdeploy.inventory import load_inventory
from tests.unit.test_secret_values import spec_with


def inventory_file(tmp_path, hosts: dict):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return path


@pytest.fixture
def site_pair(tmp_path):
    """A certificate and key from a CA of the site's (made here with fleetdeploy's)."""
    made = FleetCA(tmp_path / "site-ca")
    made.ensure()
    return made.node_certificate("node1", ["node1", "10.0.0.5"])


def test_without_tls_no_host_gets_anything(tmp_path):
    path = inventory_file(tmp_path, {"node1": {}})
    assert tls_host_variables(spec_with(tmp_path, ""), load_inventory(path), path) == {}


def test_the_fleet_ca_issues_each_node_a_certificate_once(tmp_path):
    path = inventory_file(tmp_path, {"node1": {"ansible_host": "127.0.0.1"}, "node2": {"ansible_host": "127.0.0.1"}})
    spec = spec_with(tmp_path, f"endpoint:\n  tls: fleet-ca\n  ca_dir: {tmp_path / 'ca'}\n")
    said = []
    first = tls_host_variables(spec, load_inventory(path), path, said.append)
    assert said == [
        f"tls: made the fleet's CA in {tmp_path / 'ca'} (clients trust it: `fleetdeploy ca export -f {spec.source}`)",
        f"tls: issued certificates for node1, node2 (fleet CA {tmp_path / 'ca'})",
    ]
    assert first["node1"]["fleet_front_tls_cert_src"] == str(tmp_path / "ca" / "nodes" / "node1.pem")
    said.clear()
    assert tls_host_variables(spec, load_inventory(path), path, said.append) == first and said == []


def test_a_renewed_certificate_changes_the_hosts_desired_digest(tmp_path):
    base = {"fleet_front_tls": True, "fleet_rollout_desired": "base"}
    one = {"node1": {"fleet_front_tls_cert_src": "/c", "fleet_front_tls_fingerprint": "aaaa"}}
    two = {"node1": {"fleet_front_tls_cert_src": "/c", "fleet_front_tls_fingerprint": "bbbb"}}
    first, second = with_tls({}, one, base, desired_digest), with_tls({}, two, base, desired_digest)
    assert first["node1"]["fleet_rollout_desired"] != second["node1"]["fleet_rollout_desired"]
    kept = with_tls({"node1": {"fleet_service_workers": 2}}, one, base, desired_digest)
    assert kept["node1"]["fleet_service_workers"] == 2


def test_a_site_pair_is_taken_relative_to_the_inventory(tmp_path, site_pair):
    path = inventory_file(tmp_path, {"node1": {"fleetdeploy_tls_cert": "site-ca/nodes/node1.pem",
                                               "fleetdeploy_tls_key": str(site_pair.key)}})
    spec = spec_with(tmp_path, "endpoint:\n  tls: files\n")
    found = tls_host_variables(spec, load_inventory(path), path)
    assert found["node1"]["fleet_front_tls_cert_src"] == str(site_pair.cert)


def test_hosts_without_their_files_are_named_before_anything_is_built(tmp_path):
    path = inventory_file(tmp_path, {"node1": {}, "node2": {}})
    spec = spec_with(tmp_path, "endpoint:\n  tls: files\n")
    with pytest.raises(ConfigError, match="host\\(s\\) node1, node2 have no fleetdeploy_tls_cert and fleetdeploy_tls_key"):
        tls_host_variables(spec, load_inventory(path), path)


def test_a_key_others_can_read_or_that_is_not_the_certificates_is_refused(tmp_path, site_pair):
    made = FleetCA(tmp_path / "site-ca").node_certificate("node2", ["node2"])
    spec = spec_with(tmp_path, "endpoint:\n  tls: files\n")
    path = inventory_file(tmp_path, {"node1": {"fleetdeploy_tls_cert": str(site_pair.cert),
                                               "fleetdeploy_tls_key": str(made.key)}})
    with pytest.raises(ConfigError, match=f"host node1: fleetdeploy_tls_key: {made.key} is not the private key of the"):
        tls_host_variables(spec, load_inventory(path), path)
    os.chmod(site_pair.key, 0o644)
    path = inventory_file(tmp_path, {"node1": {"fleetdeploy_tls_cert": str(site_pair.cert),
                                               "fleetdeploy_tls_key": str(site_pair.key)}})
    with pytest.raises(ConfigError, match="fleetdeploy_tls_key: .* can be read by other users \\(mode 0644\\)"):
        tls_host_variables(spec, load_inventory(path), path)


def test_an_expired_site_certificate_is_refused(tmp_path):
    made = FleetCA(tmp_path / "site-ca")
    made.ensure()
    old = made.node_certificate("node1", ["node1"], days=-1)
    spec = spec_with(tmp_path, "endpoint:\n  tls: files\n")
    path = inventory_file(tmp_path, {"node1": {"fleetdeploy_tls_cert": str(old.cert), "fleetdeploy_tls_key": str(old.key)}})
    with pytest.raises(ConfigError, match="host node1: fleetdeploy_tls_cert: .* expired on .*; renew it"):
        tls_host_variables(spec, load_inventory(path), path)
