"""Operations on a deployed service that need no new release: rollback, releases, unlock, the keys'
hashes. Each is one playbook run (ops/runs.py) with the service's values only; nothing is sent but
commands (and, for the keys, their hashes)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.deploy.lock import new_holder
from fleetdeploy.deploy.variables import host_variables, service_operation_variables
from fleetdeploy.inventory import Inventory, load_inventory
from fleetdeploy.ops.runs import run_on_nodes
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.overrides import host_specs


@dataclass(frozen=True)
class Operation:
    spec: Spec
    inventory: Inventory
    inventory_path: Path

    @property
    def hosts(self) -> list[str]:
        return [host.name for host in self.inventory]

    def run(self, playbook: str, action: str, **kwargs):
        base = service_operation_variables(self.spec)
        # A host's own port (fleetdeploy_port) is where its check from the controller goes.
        hosts = host_specs(self.spec, self.inventory)
        return run_on_nodes(
            self.inventory_path,
            playbook,
            base,
            service=self.spec.service,
            action=action,
            limit=",".join(self.hosts),
            host_variables=host_variables(base, hosts, service_operation_variables),
            **kwargs,
        )


def prepare(inventory_path: Path, spec_path: Path, *, limit: str | None) -> Operation:
    """The spec and the targeted hosts, checked before anything runs."""
    return Operation(load_spec(spec_path), load_inventory(inventory_path, limit=limit), Path(inventory_path))


def rollback(
    op: Operation,
    *,
    to: str | None,
    lock_wait: float = 0,
    on_event: Callable | None = None,
    cancel: threading.Event | None = None,
    say: Callable[[str], None] = lambda line: None,
):
    """Every node back to `to`, or to the release it served before its current one. rollback.yml is the
    whole operation: the lock on every node or on none, the switch, the check, each node's history, the
    lock given back."""
    return op.run(
        "rollback.yml",
        "rollback",
        extravars={"fleetdeploy_rollback_to": to or ""},
        lock=new_holder("rollback", to),
        lock_wait=lock_wait,
        on_event=on_event,
        cancel=cancel,
        say=say,
    )


def releases(op: Operation, *, on_event: Callable | None = None):
    return op.run("releases.yml", "releases", on_event=on_event)


def unlock(op: Operation, *, on_event: Callable | None = None):
    """Give back a lock whose holder is gone for good, whoever took it."""
    holder = {**new_holder("unlock"), "run_id": "*"}
    return op.run(
        "lock.yml",
        "unlock",
        extravars={"fleet_lock_holder": holder, "fleetdeploy_lock_action": "release"},
        on_event=on_event,
    )


def push_keys(op: Operation, *, on_event: Callable | None = None):
    """Every node's front checks the keys now in the spec's keys file (endpoint.auth: key)."""
    return op.run("keys.yml", "keys", on_event=on_event)
