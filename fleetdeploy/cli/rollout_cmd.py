"""`fleetdeploy rollback`, `releases` and `unlock`: release operations that send nothing to the nodes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import (
    _console,
    _inventory_arg,
    _limit_opt,
    _lock_wait_opt,
    _say,
    _spec_opt,
    interruptible,
)


@click.command()
@_inventory_arg
@_spec_opt
@_limit_opt
@_lock_wait_opt
@click.option(
    "--to", "to", metavar="RELEASE", help="The release to go back to (default: each node's previous one)."
)
def rollback(inventory: Path, spec_path: Path, limit: str | None, lock_wait: float, to: str | None):
    """Switch every node of INVENTORY back to a release it keeps, through the zero-downtime switch."""
    from fleetdeploy.cli.progress import make_progress, print_summary
    from fleetdeploy.ops import releases as operations

    console = _console()
    op = operations.prepare(inventory, spec_path, limit=limit)
    console.print(
        f"rolling {op.spec.service} back to {to or 'each node’s previous release'} on {len(op.hosts)} node(s)"
    )
    with interruptible(console) as (_stop, cancel), make_progress(console) as progress:
        result = operations.rollback(
            op, to=to, lock_wait=lock_wait, on_event=progress, cancel=cancel, say=_say(console)
        )
    print_summary(console, result)
    sys.exit(0 if result.succeeded else 1)


@click.command()
@_inventory_arg
@_spec_opt
@_limit_opt
def releases(inventory: Path, spec_path: Path, limit: str | None):
    """List the releases each node of INVENTORY keeps, and which one serves."""
    from fleetdeploy.cli.progress import print_releases
    from fleetdeploy.ops import releases as operations

    console = _console()
    op = operations.prepare(inventory, spec_path, limit=limit)
    result = operations.releases(op)
    print_releases(console, result)
    sys.exit(0 if result.succeeded else 1)


@click.command()
@_inventory_arg
@_spec_opt
@_limit_opt
def unlock(inventory: Path, spec_path: Path, limit: str | None):
    """Give back the service's deploy lock on every node, whoever holds it (when its holder is gone)."""
    from fleetdeploy.cli.progress import print_summary
    from fleetdeploy.ops import releases as operations

    console = _console()
    op = operations.prepare(inventory, spec_path, limit=limit)
    result = operations.unlock(op)
    print_summary(console, result)
    sys.exit(0 if result.succeeded else 1)
