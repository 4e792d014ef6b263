"""What a sandbox is made of, decided before touching Docker: its nodes, names, labels and ports.

Pure functions only, so the rules (name syntax, release cycling, per-node Docker modes) are unit-tested
without an engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fleetdeploy.errors import ConfigError
from fleetdeploy.sandbox.images import DOCKER_MODES, RELEASES, node_image

SANDBOX_LABEL = "fleetdeploy.sandbox"
NODE_LABEL = "fleetdeploy.node"
RELEASE_LABEL = "fleetdeploy.release"
DOCKER_LABEL = "fleetdeploy.docker"
STATE_LABEL = "fleetdeploy.state"  # the sandbox's state folder, whatever FLEETDEPLOY_HOME `list` runs with
SSH_PORT = 22
SCORING_PORT = 6789
MAX_NODES = 20
_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")


@dataclass(frozen=True)
class NodePlan:
    sandbox: str
    index: int  # 1-based, as in node1, node2...
    release: str
    docker: str  # "preinstalled" | "absent"
    ports: tuple[tuple[int, int | None], ...]  # (container port, fixed host port or None: ephemeral)

    @property
    def host(self) -> str:
        """The node's name in the inventory."""
        return f"node{self.index}"

    @property
    def container(self) -> str:
        return f"fleetdeploy-{self.sandbox}-{self.host}"

    @property
    def volume(self) -> str:
        """Holds the node's /var/lib/docker: an inner engine cannot keep overlay2 layers on overlayfs."""
        return f"{self.container}-docker"

    @property
    def image(self) -> str:
        return node_image(self.release, self.docker)

    @property
    def labels(self) -> dict[str, str]:
        return {
            SANDBOX_LABEL: self.sandbox,
            NODE_LABEL: self.host,
            RELEASE_LABEL: self.release,
            DOCKER_LABEL: self.docker,
        }


def network_name(sandbox: str) -> str:
    return f"fleetdeploy-{sandbox}"


def sandbox_labels(sandbox: str) -> dict[str, str]:
    return {SANDBOX_LABEL: sandbox}


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise ConfigError(
            f"sandbox name {name!r}: use a lowercase letter then up to 30 of a-z, 0-9 and '-' (e.g. 'demo')"
        )
    return name


def plan_nodes(
    sandbox: str,
    nodes: int,
    distros: Sequence[str] = ("bookworm",),
    docker: Sequence[str] = ("absent",),
    extra_ports: Sequence[int] = (),
    ssh_ports: Sequence[int] | None = None,
) -> list[NodePlan]:
    """One plan per node. Releases and Docker modes cycle over the nodes: node1 gets the first of each,
    node2 the second, and so on, so `bookworm,trixie` over 3 nodes gives bookworm, trixie, bookworm.
    `ssh_ports` fixes each node's published SSH port instead of letting Docker pick a free one."""
    problems = []
    if not _NAME.fullmatch(sandbox or ""):
        problems.append(f"--name {sandbox!r}: use a lowercase letter then up to 30 of a-z, 0-9 and '-'")
    if not 1 <= nodes <= MAX_NODES:
        problems.append(f"--nodes {nodes}: choose between 1 and {MAX_NODES}")
    problems += choice_problems(distros, docker)
    for port in extra_ports:
        if not 1 <= port <= 65535 or port in (SSH_PORT, SCORING_PORT):
            problems.append(f"extra port {port}: a container port 1-65535 other than 22 and 6789")
    if ssh_ports is not None and len(ssh_ports) != nodes:
        problems.append(f"--ssh-port given {len(ssh_ports)} times for {nodes} nodes: give one per node")
    if problems:
        raise ConfigError("sandbox up: " + "; ".join(problems))
    container_ports = (SSH_PORT, SCORING_PORT, *dict.fromkeys(extra_ports))
    return [
        NodePlan(
            sandbox=sandbox,
            index=i + 1,
            release=distros[i % len(distros)],
            docker=docker[i % len(docker)],
            ports=tuple((p, ssh_ports[i] if ssh_ports and p == SSH_PORT else None) for p in container_ports),
        )
        for i in range(nodes)
    ]


def choice_problems(distros: Sequence[str], docker: Sequence[str]) -> list[str]:
    """What is wrong with --distro and --docker values (empty when nothing is)."""
    return _unknown("--distro", distros, RELEASES) + _unknown("--docker", docker, DOCKER_MODES)


def _unknown(option: str, values: Sequence[str], allowed: Sequence[str]) -> list[str]:
    if not values:
        return [f"{option}: give at least one of {', '.join(allowed)}"]
    return [f"{option} {v!r}: choose from {', '.join(allowed)}" for v in values if v not in allowed]
