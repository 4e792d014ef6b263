"""Asking the nodes themselves: one run of playbooks/inspect.yml (role fleet_inspect, one module call
per node, no fact gathering) returns each node's `fleetdeploy_report` (active.json, the serving
container or unit, the front, the release manifest; optionally file hashes and history lines).

Runs are kept under <data home>/ops/<service>/ (ops/runs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.inventory import Inventory
from fleetdeploy.ops.runs import run_on_nodes
from fleetdeploy.ops.target import Target

PLAYBOOK = "inspect.yml"


@dataclass(frozen=True)
class NodeFacts:
    """What one node said, or why it could not say it."""

    reachable: bool
    report: dict  # fleet_inspect's fleetdeploy_report; {} when the node could not be asked
    error: str | None = None  # SSH or module failure, as Ansible worded it

    @property
    def deployed(self) -> bool:
        return bool(self.report.get("deployed"))

    @property
    def active(self) -> dict:
        return self.report.get("active") or {}

    @property
    def instance(self) -> dict:
        return self.report.get("instance") or {}

    @property
    def manifest(self) -> dict | None:
        return self.report.get("manifest")


def inspect_nodes(
    inventory_path: Path,
    inventory: Inventory,
    target: Target,
    hosts: list[str],
    *,
    hash_files: bool = False,
    history_lines: int = 0,
    stored: bool = False,
    image_id: str = "",
) -> dict[str, NodeFacts]:
    """fleet_inspect on `hosts` (names from `inventory`); every asked host gets an entry. `stored` (and
    `image_id`): also what the node keeps that a deploy would not send again (apply --check)."""
    if not hosts:
        return {}
    variables = {
        "fleet_inspect_service": target.service,
        "fleet_inspect_hash_files": hash_files,
        "fleet_inspect_history_lines": history_lines,
        "fleet_inspect_stored": stored,
        "fleet_inspect_image_id": image_id,
    }
    result = run_on_nodes(
        inventory_path, PLAYBOOK, variables, service=target.service, action="inspect", limit=",".join(hosts)
    )
    return facts_from_result(result, hosts)


def facts_from_result(result, hosts: list[str]) -> dict[str, NodeFacts]:
    """Pure: a RunResult of inspect.yml -> NodeFacts per asked host."""
    facts = {}
    for name in hosts:
        host = result.hosts.get(name)
        if host is None:
            message = f"Ansible gave no result for this host (run {result.status}); see {result.stdout_path}"
            facts[name] = NodeFacts(reachable=False, report={}, error=message)
        elif host.unreachable:
            facts[name] = NodeFacts(reachable=False, report={}, error=host.message or "unreachable")
        elif host.failed:
            facts[name] = NodeFacts(
                reachable=True, report=host.report, error=host.message or "inspect failed"
            )
        else:
            facts[name] = NodeFacts(reachable=True, report=host.report)
    return facts
