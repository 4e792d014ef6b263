"""`remove`: stop and remove the service on every node (playbooks/remove.yml, role fleet_remove);
`purge` also removes its images and files, keeping each node's history. Docker itself stays."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.deploy.lock import new_holder
from fleetdeploy.inventory import load_inventory
from fleetdeploy.ops.runs import run_on_nodes
from fleetdeploy.ops.target import Target

PLAYBOOK = "remove.yml"


@dataclass(frozen=True)
class NodeRemoval:
    node: str
    outcome: str  # removed | nothing to remove | failed | unreachable
    previous: str | None = None  # the release that was serving
    message: str | None = None


@dataclass(frozen=True)
class Removal:
    service: str
    purge: bool
    nodes: tuple[NodeRemoval, ...]
    stdout_path: Path | None = None

    @property
    def failed(self) -> tuple[NodeRemoval, ...]:
        """The nodes where the service may still be (failed, unreachable)."""
        return tuple(node for node in self.nodes if node.outcome not in ("removed", "nothing to remove"))

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def removal_from_result(result, hosts: list[str]) -> list[NodeRemoval]:
    """Pure: remove.yml's RunResult -> one line per host."""
    nodes = []
    for name in hosts:
        host = result.hosts.get(name)
        if host is None:
            nodes.append(NodeRemoval(name, "failed", message=f"no result from Ansible (run {result.status})"))
        elif host.unreachable:
            nodes.append(NodeRemoval(name, "unreachable", message=host.message))
        elif host.failed:
            nodes.append(NodeRemoval(name, "failed", message=f"{host.failed_task}: {host.message}"))
        else:
            report = host.report
            found = str(report.get("found")).lower() == "true"
            previous = report.get("previous") or None
            nodes.append(NodeRemoval(name, "removed" if found else "nothing to remove", previous))
    return nodes


def remove_service(
    inventory_path: Path,
    target: Target,
    *,
    purge: bool = False,
    limit: str | None = None,
    lock_wait: float = 0,
    on_event=None,
) -> Removal:
    """Raises LockHeld, touching nothing, while an apply or rollback of the service holds a node."""
    inventory = load_inventory(inventory_path, limit=limit)
    variables = {
        "fleet_remove_service": target.service,
        "fleet_remove_purge": purge,
    }
    result = run_on_nodes(
        inventory_path,
        PLAYBOOK,
        variables,
        service=target.service,
        action="remove",
        limit=",".join(inventory.names),
        on_event=on_event,
        lock=new_holder("remove"),
        lock_wait=lock_wait,
    )
    return Removal(
        target.service, purge, tuple(removal_from_result(result, inventory.names)), result.stdout_path
    )
