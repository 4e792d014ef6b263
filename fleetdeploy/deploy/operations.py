"""Operations on a deployed service that need no new release: rollback, releases, unlock. They render
the same Ansible project as apply, with the service's variables only, and nothing is sent but commands."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.deploy.apply import new_run_dir, prune_runs
from fleetdeploy.deploy.lock import local_lock, new_holder
from fleetdeploy.deploy.variables import service_operation_variables
from fleetdeploy.inventory import Inventory, load_inventory
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.model import Spec


@dataclass(frozen=True)
class Operation:
    spec: Spec
    inventory: Inventory
    private_data_dir: Path

    @property
    def hosts(self) -> list[str]:
        return [host.name for host in self.inventory]


def prepare(inventory_path: Path, spec_path: Path, *, limit: str | None, playbook: str) -> Operation:
    from fleetdeploy.render import render_project

    spec = load_spec(spec_path)
    inventory = load_inventory(inventory_path, limit=limit)
    run_dir = new_run_dir(spec.service)
    rendered = render_project(
        run_dir,
        inventory_path=Path(inventory_path),
        variables=service_operation_variables(spec),
        playbook=playbook,
    )
    prune_runs(run_dir.parent)
    return Operation(spec, inventory, rendered.private_data_dir)


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
    whole operation (the lock on every node or on none, the switch, the check, each node's history, the
    lock given back); here only this controller's own lock and its holder record."""
    from fleetdeploy.deploy import session

    holder = new_holder("rollback", to)
    with local_lock(op.spec.service, lock_wait):
        result = session.run(
            op.private_data_dir,
            "playbooks/rollback.yml",
            op.hosts,
            {"fleet_lock_holder": holder, "fleet_lock_wait": int(lock_wait), "fleetdeploy_rollback_to": to or ""},
            on_event=on_event,
            cancel=cancel,
        )
    session.check_lock(result, say)
    return result


def releases(op: Operation, *, on_event: Callable | None = None):
    from fleetdeploy.deploy import session

    return session.run(op.private_data_dir, "playbooks/releases.yml", op.hosts, on_event=on_event)


def unlock(op: Operation, *, on_event: Callable | None = None):
    """Give back a lock whose holder is gone for good, whoever took it."""
    from fleetdeploy.deploy import session

    holder = {**new_holder("unlock"), "run_id": "*"}
    return session.run(
        op.private_data_dir,
        session.LOCK_PLAYBOOK,
        op.hosts,
        {"fleet_lock_holder": holder, "fleetdeploy_lock_action": "release"},
        on_event=on_event,
    )
