"""A sandbox's files on the host: its SSH key, the pinned host keys and the Ansible inventory.

Kept in `$FLEETDEPLOY_HOME/sandboxes/<name>/` (default `~/.local/share/fleetdeploy`), so a sandbox
outlives the shell that made it and `down` knows what to delete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleetdeploy.paths import data_home
from fleetdeploy.sandbox.plan import SCORING_PORT, SSH_PORT


@dataclass(frozen=True)
class Node:
    """A running node as the host reaches it: through ports published on 127.0.0.1."""

    host: str  # inventory name: node1, node2...
    container: str
    release: str
    docker: str  # "preinstalled" | "absent"
    ports: Mapping[int, int]  # container port -> host port on 127.0.0.1

    @property
    def ssh_port(self) -> int:
        return self.ports[SSH_PORT]

    @property
    def scoring_port(self) -> int:
        return self.ports[SCORING_PORT]

    @property
    def scoring_url(self) -> str:
        return f"http://127.0.0.1:{self.scoring_port}"

    @property
    def scoring_urls(self) -> dict[int, str]:
        """Every published port but SSH may hold a service (6789, a second one on 6790...)."""
        return {port: f"http://127.0.0.1:{published}" for port, published in self.ports.items() if port != SSH_PORT}


@dataclass(frozen=True)
class StatePaths:
    folder: Path

    @property
    def inventory(self) -> Path:
        return self.folder / "inventory.yml"

    @property
    def private_key(self) -> Path:
        return self.folder / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.folder / "known_hosts"


def state_paths(sandbox: str) -> StatePaths:
    return StatePaths(data_home() / "sandboxes" / sandbox)


def new_keypair() -> tuple[bytes, str]:
    """A fresh ed25519 key: (OpenSSH private key bytes, public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode()


def known_hosts_lines(port: int, host_key_lines: Iterable[str]) -> list[str]:
    """`ssh_host_*.pub` lines as known_hosts entries for 127.0.0.1:<port> (OpenSSH's [host]:port form)."""
    address = "127.0.0.1" if port == 22 else f"[127.0.0.1]:{port}"
    entries = []
    for line in host_key_lines:
        fields = line.split()
        if len(fields) >= 2 and not line.startswith("#"):
            entries.append(f"{address} {fields[0]} {fields[1]}")
    return entries


def inventory(nodes: Iterable[Node], paths: StatePaths) -> dict:
    """The Ansible YAML inventory of docs/design.md: group `fleet`, whose children are one group per
    Debian release holding that release's nodes."""
    nodes = list(nodes)
    releases: dict = {}
    for node in nodes:
        host = {
            "ansible_host": "127.0.0.1",
            "ansible_port": node.ssh_port,
            "ansible_user": "fleet",
            "ansible_ssh_private_key_file": str(paths.private_key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={paths.known_hosts}",
            "fleetdeploy_scoring_url": node.scoring_url,
        }
        if len(node.scoring_urls) > 1:
            # The controller reaches each service at its own port's (inventory.scoring_url, fleet_verify).
            host["fleetdeploy_scoring_urls"] = node.scoring_urls
        releases.setdefault(node.release, {"hosts": {}})["hosts"][node.host] = host
    fleet = {"vars": {"ansible_python_interpreter": "/usr/bin/python3"}, "children": releases}
    return {"all": {"children": {"fleet": fleet}}}


def write_state(paths: StatePaths, private_key: bytes, known_hosts: list[str], nodes: list[Node]) -> None:
    paths.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    # ssh refuses a private key others can read.
    fd = os.open(paths.private_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_key)
    paths.known_hosts.write_text("\n".join(known_hosts) + "\n")
    header = "# Written by `fleetdeploy sandbox up`; removed by `fleetdeploy sandbox down`.\n"
    paths.inventory.write_text(header + yaml.safe_dump(inventory(nodes, paths), sort_keys=False))


def remove_state(paths: StatePaths) -> bool:
    if not paths.folder.exists():
        return False
    shutil.rmtree(paths.folder)
    return True
