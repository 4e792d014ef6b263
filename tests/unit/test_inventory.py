"""Inventory loading goes through Ansible's real InventoryManager (no fakes): these tests parse the
fixture inventories in tests/fixtures/inventories the way `ansible-playbook -i` would."""

from pathlib import Path

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.inventory import Host, load_inventory, scoring_url

INVENTORIES = Path(__file__).parents[1] / "fixtures" / "inventories"


def test_yaml_inventory_like_the_sandbox_writes():
    inventory = load_inventory(INVENTORIES / "fleet.yml")
    assert inventory.names == ["node-bookworm-1", "node-bookworm-2", "node-trixie-1"]
    node = inventory.get("node-bookworm-1")
    assert (node.address, node.port, node.user) == ("127.0.0.1", 22001, "fleet")
    assert set(node.groups) == {"fleet", "bookworm"}
    # A host var beats the `all` group var.
    assert inventory.get("node-trixie-1").user == "admin"
    # Values are builtin types, not Ansible's tagged subclasses.
    assert type(node.vars["ansible_host"]) is str and type(node.vars["ansible_port"]) is int
    assert "inventory_hostname" not in node.vars and "groups" not in node.vars


def test_ini_inventory_with_group_vars_and_children():
    inventory = load_inventory(str(INVENTORIES / "fleet.ini"))
    assert inventory.names == ["web1", "web2", "gpu1"]
    assert inventory.get("web2").vars == {
        "ansible_host": "192.0.2.11",
        "ansible_port": 2222,
        "ansible_user": "deploy",
    }
    assert inventory.get("gpu1").user == "ml"
    assert set(inventory.get("gpu1").groups) == {"gpu", "fleet"}


def test_folder_with_group_vars_host_vars_and_an_inventory_plugin():
    inventory = load_inventory(INVENTORIES / "fleet_dir")
    web1, web2, gpu1 = (inventory.get(name) for name in ("web1", "web2", "gpu1"))
    assert web1.address == "198.51.100.1" and web1.user == "www"  # group_vars/web.yml beats all.yml
    assert web2.address == "web2" and web2.vars["ansible_python_interpreter"] == "/usr/bin/python3"
    assert gpu1.user == "fleet" and gpu1.vars["gpu_count"] == 2
    assert "has_gpu" in gpu1.groups  # made by the `constructed` plugin from host_vars


@pytest.mark.parametrize(
    "limit, names",
    [
        ("bookworm", ["node-bookworm-1", "node-bookworm-2"]),
        ("node-trixie-1", ["node-trixie-1"]),
        ("*-2,trixie", ["node-bookworm-2", "node-trixie-1"]),
        ("fleet:!bookworm", ["node-trixie-1"]),
    ],
)
def test_limit_patterns(limit, names):
    inventory = load_inventory(INVENTORIES / "fleet.yml", limit=limit)
    assert inventory.names == names and inventory.limit == limit


def test_limit_on_plugin_made_group():
    assert load_inventory(INVENTORIES / "fleet_dir", limit="has_gpu").names == ["gpu1"]


def test_limit_matching_nothing_lists_the_hosts():
    with pytest.raises(ConfigError) as caught:
        load_inventory(INVENTORIES / "fleet.yml", limit="web*")
    assert str(caught.value) == (
        "--limit web* matches no host; the inventory has: node-bookworm-1, node-bookworm-2, node-trixie-1"
    )


def test_missing_inventory_is_named(tmp_path):
    with pytest.raises(ConfigError, match=f"^{tmp_path}/hosts.yml: no such inventory file or folder$"):
        load_inventory(tmp_path / "hosts.yml")


@pytest.mark.parametrize(
    "name, reason",
    [
        ("broken.yml", r"YAML parsing failed: While parsing a flow sequence .*broken\.yml:3:1\)"),
        ("broken.ini", r"'ini' plugin\. Failed to parse inventory: "),
    ],
)
def test_unparseable_inventory_gives_ansibles_reason(name, reason):
    with pytest.raises(ConfigError, match=f"{name}: cannot parse inventory\n") as caught:
        load_inventory(INVENTORIES / name)
    assert caught.match(reason)


def test_one_bad_source_fails_the_whole_load():
    # Ansible alone would warn and go on with fleet.yml: a partial fleet is not what the user asked for.
    with pytest.raises(ConfigError, match="broken.ini: cannot parse inventory"):
        load_inventory([INVENTORIES / "fleet.yml", INVENTORIES / "broken.ini"])


def test_inventory_without_hosts():
    with pytest.raises(ConfigError, match="no_hosts.yml: the inventory has no hosts"):
        load_inventory(INVENTORIES / "no_hosts.yml")


def test_inline_host_list():
    assert load_inventory("alpha,beta,").names == ["alpha", "beta"]


def test_scoring_url_prefers_the_host_var():
    inventory = load_inventory(INVENTORIES / "fleet.yml")
    assert scoring_url(inventory.get("node-bookworm-1"), 6789) == "http://127.0.0.1:16789"
    assert scoring_url(inventory.get("node-bookworm-2"), 6789) == "http://127.0.0.1:16790"
    assert scoring_url(inventory.get("node-trixie-1"), 6789) == "http://127.0.0.1:6789"


def test_scoring_url_template_is_rendered_with_host_vars():
    gpu1 = load_inventory(INVENTORIES / "fleet_dir").get("gpu1")
    assert scoring_url(gpu1, 6789) == "http://198.51.100.5:8080"


@pytest.mark.parametrize(
    "host, url",
    [
        (Host("web2"), "http://web2:7000"),
        (Host("gpu1", {"ansible_host": "2001:db8::7"}), "http://[2001:db8::7]:7000"),
        (Host("n", {"ansible_host": "10.0.0.3"}), "http://10.0.0.3:7000"),
    ],
)
def test_scoring_url_defaults_to_ansible_host_and_port(host, url):
    assert scoring_url(host, 7000) == url


def test_each_service_port_has_its_own_url_when_the_host_maps_them():
    """Two services on one node: `fleetdeploy_scoring_urls` names each port's URL (YAML gives int keys,
    JSON string ones); a port it does not name falls back to fleetdeploy_scoring_url, then the default."""
    mapped = {6789: "http://127.0.0.1:32770/", "6790": "http://127.0.0.1:32772"}
    host = Host("node1", {"ansible_host": "10.0.0.3", "fleetdeploy_scoring_urls": mapped})
    assert scoring_url(host, 6789) == "http://127.0.0.1:32770"
    assert scoring_url(host, 6790) == "http://127.0.0.1:32772"
    assert scoring_url(host, 7000) == "http://10.0.0.3:7000"
    behind_proxy = Host("n", {"fleetdeploy_scoring_url": "https://lb.example/n1-{port}", **host.vars})
    assert scoring_url(behind_proxy, 6790) == "http://127.0.0.1:32772"
    assert scoring_url(behind_proxy, 7000) == "https://lb.example/n1-7000"

