"""Per-host settings (fleetdeploy/spec/overrides.py): inventory variables fleetdeploy_* laid over the spec
for the hosts they apply to, refused as the spec would refuse them (naming the inventory and the host), and
what follows from them: a release id of the host's own, the variables that differ in its own vars file, and
the settings status --drift judges it by."""

from __future__ import annotations

import pytest

from fleetdeploy.deploy.release import container_settings
from fleetdeploy.deploy.variables import host_variables
from fleetdeploy.inventory import Host, Inventory
from fleetdeploy.ops.drift import Desired
from fleetdeploy.runtimes import role_variables
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.overrides import OverrideError, differences, host_port, host_specs
from tests.unit.deploy.test_variables import _example_spec, _prepared_of


def _inventory(*hosts: Host, source: str = "inventory.yml") -> Inventory:
    return Inventory((source,), hosts)


@pytest.fixture
def spec(tmp_path):
    return load_spec(_example_spec(tmp_path))


def test_a_host_without_overrides_keeps_the_spec_itself(spec):
    hosts = host_specs(spec, _inventory(Host("node1"), Host("node2", {"ansible_host": "10.0.0.2"})))
    assert all(host.spec is spec and host.overrides == {} for host in hosts.values())


def test_overrides_replace_values_and_merge_mappings_key_by_key(spec):
    gpu = Host("gpu1", {"fleetdeploy_workers": 4, "fleetdeploy_resources": {"gpus": "all"}, "fleetdeploy_env": {"MODE": "gpu"}})
    mine = host_specs(spec, _inventory(gpu, Host("web", {"fleetdeploy_port": 7000})))
    assert mine["gpu1"].spec.server.workers == 4
    assert (mine["gpu1"].spec.resources.gpus, mine["gpu1"].spec.resources.memory) == ("all", spec.resources.memory)
    assert mine["gpu1"].spec.env == {**spec.env, "MODE": "gpu"}
    assert mine["web"].spec.port == 7000 and mine["web"].spec.rollout.slot_ports_for(7000)["blue"] == 17000
    assert differences(spec, mine["gpu1"]) == {
        "server.workers": (1, 4), "resources.gpus": (0, "all"), "env.MODE": (None, "gpu")
    }


def test_values_the_spec_would_refuse_are_refused_naming_the_inventory_host_and_variable(spec):
    hosts = [
        Host("node1", {"fleetdeploy_workers": 0}),
        Host("node2", {"fleetdeploy_resources": {"memry": "1g", "cpus": "many"}}),
        Host("node3", {"fleetdeploy_port": 60000}),
    ]
    with pytest.raises(OverrideError) as refused:
        host_specs(spec, _inventory(*hosts, source="site/inventory.yml"))
    lines = str(refused.value).splitlines()
    assert lines[0] == "4 problems in the inventory's fleetdeploy_ settings:"
    assert "  site/inventory.yml: host node1: fleetdeploy_workers: should be greater than or equal to 1, got 0" in lines
    assert "  site/inventory.yml: host node2: fleetdeploy_resources.memry: unknown key 'memry' (did you mean 'memory'?)" in lines
    assert any(line.startswith("  site/inventory.yml: host node2: fleetdeploy_resources.cpus: ") for line in lines)
    assert any(
        line.startswith("  site/inventory.yml: host node3: fleetdeploy_port (spec rollout.slot_ports): port 60000 leaves")
        for line in lines
    ), lines


def test_a_hosts_port_is_its_fleetdeploy_port_else_the_default():
    assert host_port(Host("a", {"fleetdeploy_port": 7000}), 6789) == 7000
    assert host_port(Host("a", {"fleetdeploy_port": "7001"}), 6789) == 7001
    assert host_port(Host("a"), 6789) == 6789


def test_changed_settings_give_the_host_its_own_release_and_its_own_variables(spec, tmp_path):
    prepared = _prepared_of(tmp_path, spec)
    hosts = host_specs(spec, _inventory(Host("a"), Host("b", {"fleetdeploy_workers": 3}), Host("c", {"fleetdeploy_workers": 1})))
    assert prepared.for_host(hosts["a"].spec) is prepared
    assert prepared.for_host(hosts["c"].spec) is prepared  # an override equal to the spec changes nothing
    mine = prepared.for_host(hosts["b"].spec)
    assert mine.release != prepared.release and mine.settings["workers"] == 3
    assert (mine.staged, mine.runs_from) == (prepared.staged, prepared.runs_from)

    base = role_variables(spec, prepared)
    per_host = host_variables(base, hosts, lambda s: role_variables(s, prepared.for_host(s)))
    assert set(per_host) == {"b"}
    assert per_host["b"]["fleetdeploy_release"] == mine.release and per_host["b"]["fleet_service_workers"] == 3
    assert per_host["b"]["fleet_rollout_desired"] != base["fleet_rollout_desired"]
    assert "fleet_image_name" not in per_host["b"]  # the same image: only what differs is written


def test_drift_judges_a_host_by_its_own_settings(spec):
    desired = Desired({}, {}, {"workers": 1}, host_settings={"b": {"workers": 3}})
    assert desired.for_host("a").settings == {"workers": 1}
    assert desired.for_host("b").settings == {"workers": 3}
    assert container_settings(host_specs(spec, _inventory(Host("b", {"fleetdeploy_workers": 3})))["b"].spec)["workers"] == 3
