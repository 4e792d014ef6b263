"""A sandbox's files: inventory in the shape of docs/design.md, pinned host keys, a private key ssh accepts."""

import stat

import yaml

from fleetdeploy.sandbox.state import Node, known_hosts_lines, new_keypair, state_paths, write_state

NODES = [
    Node("node1", "fleetdeploy-x-node1", "bookworm", "absent", {22: 40001, 6789: 40002}),
    Node("node2", "fleetdeploy-x-node2", "trixie", "preinstalled", {22: 40003, 6789: 40004, 8080: 40005}),
]


def test_state_lives_under_fleetdeploy_home(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path))
    assert state_paths("x").inventory == tmp_path / "sandboxes" / "x" / "inventory.yml"


def test_default_state_folder_is_xdg_data(monkeypatch, tmp_path):
    monkeypatch.delenv("FLEETDEPLOY_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_paths("x").folder == tmp_path / ".local/share/fleetdeploy/sandboxes/x"


def test_known_hosts_entries_name_the_published_port():
    keys = [
        "ssh-ed25519 AAAAC3Nz root@fleetdeploy-x-node1",
        "",
        "# comment",
        "ecdsa-sha2-nistp256 AAAAE2 root@n",
    ]
    assert known_hosts_lines(40001, keys) == [
        "[127.0.0.1]:40001 ssh-ed25519 AAAAC3Nz",
        "[127.0.0.1]:40001 ecdsa-sha2-nistp256 AAAAE2",
    ]
    assert known_hosts_lines(22, keys[:1]) == ["127.0.0.1 ssh-ed25519 AAAAC3Nz"]


def test_written_inventory_matches_the_design(monkeypatch, tmp_path):
    monkeypatch.setenv("FLEETDEPLOY_HOME", str(tmp_path))
    paths = state_paths("x")
    private, public = new_keypair()
    write_state(paths, private, ["[127.0.0.1]:40001 ssh-ed25519 AAAA"], NODES)

    fleet = yaml.safe_load(paths.inventory.read_text())["all"]["children"]["fleet"]
    assert fleet["vars"] == {"ansible_python_interpreter": "/usr/bin/python3"}
    releases = fleet["children"]
    assert set(releases["bookworm"]["hosts"]) == {"node1"} and set(releases["trixie"]["hosts"]) == {"node2"}
    assert releases["trixie"]["hosts"]["node2"] == {
        "ansible_host": "127.0.0.1",
        "ansible_port": 40003,
        "ansible_user": "fleet",
        "ansible_ssh_private_key_file": str(paths.private_key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={paths.known_hosts}",
        "fleetdeploy_scoring_url": "http://127.0.0.1:40004",
        "fleetdeploy_scoring_urls": {6789: "http://127.0.0.1:40004", 8080: "http://127.0.0.1:40005"},
    }
    assert "fleetdeploy_scoring_urls" not in releases["bookworm"]["hosts"]["node1"]
    assert paths.known_hosts.read_text() == "[127.0.0.1]:40001 ssh-ed25519 AAAA\n"
    assert stat.S_IMODE(paths.private_key.stat().st_mode) == 0o600
    assert paths.private_key.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert public.startswith("ssh-ed25519 ")


def test_every_keypair_is_new():
    assert new_keypair()[1] != new_keypair()[1]
