"""Asking the nodes themselves: one run of playbooks/inspect.yml (role fleet_inspect, one module call
per node, no fact gathering) returns each node's `fleetdeploy_report` (active.json, the serving
container or unit, the front, the release manifest; optionally file hashes and history lines).

Runs are kept under <data home>/ops/<service>/ (not runs/, so status --watch never pushes apply's
runs out)."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fleetdeploy.deploy.apply import prune_runs
from fleetdeploy.inventory import Inventory
from fleetdeploy.ops.target import Target
from fleetdeploy.paths import data_home

PLAYBOOK = "inspect.yml"
OPS_RUNS_KEPT = 10


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


def ops_run_dir(service: str, action: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = data_home() / "ops" / service / f"{stamp}-{action}"
    path.mkdir(parents=True)
    return path


def run_on_nodes(
    inventory_path: Path,
    playbook: str,
    variables: dict,
    *,
    service: str,
    action: str,
    limit: str | None,
    on_event=None,
    lock: dict | None = None,
    lock_wait: float = 0,
):
    """Render the project with `playbook` into a fresh ops run folder and run it; RunResult back. With a
    `lock` holder, the run holds the service's deploy lock on the nodes (as apply does), so it cannot
    interleave with an apply or a rollback."""
    from fleetdeploy.render import render_project
    from fleetdeploy.run import run_playbook

    run_dir = ops_run_dir(service, action)
    # Roles that record history (fleet_history) name who did it, from where, in which run.
    variables = {
        **variables,
        "fleet_history_run_id": run_dir.name,
        "fleet_history_user": getpass.getuser(),
        "fleet_history_controller": socket.gethostname(),
    }
    rendered = render_project(run_dir, inventory_path=inventory_path, variables=variables, playbook=playbook)
    if lock is None:
        result = run_playbook(rendered.private_data_dir, rendered.playbook, limit=limit, on_event=on_event)
    else:
        from fleetdeploy.deploy.lock import local_lock
        from fleetdeploy.deploy.session import check_lock

        # The playbook takes the lock on every node or on none and gives it back (remove.yml).
        with local_lock(service, lock_wait):
            result = run_playbook(
                rendered.private_data_dir,
                rendered.playbook,
                limit=limit,
                on_event=on_event,
                extravars={"fleet_lock_holder": lock, "fleet_lock_wait": int(lock_wait)},
            )
        check_lock(result, lambda line: None)
    prune_runs(run_dir.parent, keep=OPS_RUNS_KEPT)
    return result


def inspect_nodes(
    inventory_path: Path,
    inventory: Inventory,
    target: Target,
    hosts: list[str],
    *,
    hash_files: bool = False,
    history_lines: int = 0,
) -> dict[str, NodeFacts]:
    """fleet_inspect on `hosts` (names from `inventory`); every asked host gets an entry."""
    if not hosts:
        return {}
    variables = {
        "fleet_inspect_service": target.service,
        "fleet_inspect_hash_files": hash_files,
        "fleet_inspect_history_lines": history_lines,
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
