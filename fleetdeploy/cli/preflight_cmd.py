"""`fleetdeploy check`: the preflight table; and apply's first step, which runs the same checks."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import _console, _inventory_arg, _limit_opt, _spec_opt

_STYLES = {"ok": "green", "warn": "yellow", "fail": "red"}


@click.command()
@_inventory_arg
@_spec_opt
@_limit_opt
def check(inventory: Path, spec_path: Path, limit: str | None):
    """Preflight: can every node of INVENTORY take the spec's service? Builds and sends nothing."""
    from rich.table import Table

    console = _console()
    _loaded, results, seconds = preflight(inventory, spec_path, limit)
    table = Table(title=f"Preflight ({seconds:.1f} s)", title_justify="left")
    for column in ("node", "check", "result", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for node in results.values():
        for item in node.checks:
            table.add_row(node.host, item.name, f"[{_STYLES[item.status]}]{item.status}[/]", item.detail, item.fix)
    console.print(table)
    failing = [node.host for node in results.values() if node.failed]
    console.print(
        f"{len(results)} node(s): {len(results) - len(failing)} ready"
        + (f", {len(failing)} not ({', '.join(failing)})" if failing else "")
    )
    sys.exit(1 if failing else 0)


def preflight(inventory: Path, spec_path: Path, limit: str | None):
    """((spec, inventory) as read, results by host, seconds taken) for the hosts of `inventory` that
    `limit` selects."""
    from fleetdeploy.inventory import load_inventory
    from fleetdeploy.preflight import run_preflight
    from fleetdeploy.spec import load_spec

    spec = load_spec(spec_path)
    selected = load_inventory(inventory, limit=limit)
    started = time.perf_counter()
    results = run_preflight(inventory, spec, selected)
    return (spec, selected), results, time.perf_counter() - started


def preflight_before_apply(console, inventory: Path, spec_path: Path, limit: str | None, *, dry_run: bool):
    """apply's first step. Prints each failing check with its fix; exits 1 before anything is built when
    more nodes fail than the spec's max_fail allows (a dry run goes on: it reports, it does not deploy).
    Returns the spec and the inventory it read, for the plan."""
    from fleetdeploy.spec.rollout import allowed_failures

    loaded, results, seconds = preflight(inventory, spec_path, limit)
    spec = loaded[0]
    failing = {node.host: node.failed for node in results.values() if node.failed}
    console.print(f"preflight: {len(results) - len(failing)} of {len(results)} node(s) ready ({seconds:.1f} s)")
    for host, checks in failing.items():
        for item in checks:
            fix = f" (fix: {item.fix})" if item.fix else ""
            console.print(f"  {host}: failed: {item.name}: {item.detail}{fix}", markup=False, style="red")
    if not failing or dry_run:
        return loaded
    allowed = allowed_failures(spec.rollout.max_fail, len(results))
    if len(failing) > allowed:
        console.print(
            f"apply stops before building anything: {len(failing)} node(s) failed preflight, max_fail allows "
            f"{allowed} (`fleetdeploy check` shows every check)",
            markup=False,
        )
        sys.exit(1)
    console.print(f"going on: max_fail allows {allowed}; {', '.join(failing)} will count against it", markup=False)
    return loaded
