"""`fleetdeploy status`, `logs`, `history` and `remove`: day-two operations on a deployed fleet.

Thin: the work is in fleetdeploy.ops; this module chooses the target service, prints tables (rich,
in the style of cli/progress.py) or JSON, and sets the exit code: 0 all well, 1 some node is not,
2 bad input (every FleetdeployError with exit_code 2).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import _console, _inventory_arg, _limit_opt, _lock_wait_opt

_spec_opt = click.option(
    "-f",
    "--file",
    "spec_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The deployment spec naming the service (default: ./fleetdeploy.yml).",
)
# `logs -f` is --follow (as in kubectl, docker and tail): the spec is --file there.
_spec_long_opt = click.option(
    "--file",
    "spec_path",
    type=click.Path(path_type=Path),
    default=None,
    help="The deployment spec (default: ./fleetdeploy.yml).",
)
_service_opt = click.option("--service", help="Name the service instead of reading a spec.")
_port_opt = click.option("--port", type=int, help="The service's node port (default: the spec's, else 6789).")
_json_opt = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (documented in docs/operations.md)."
)

_STATE_STYLES = {
    "healthy": "green",
    "unhealthy": "bold red",
    "unreachable": "bold red",
    "not deployed": "yellow",
}
_OUTCOME_STYLES = {
    "removed": "green",
    "nothing to remove": "dim",
    "failed": "bold red",
    "unreachable": "bold red",
}


def _wide_console():
    """Tables are wider than 80 columns: a pipe or CI log gets 160 rather than rich's default 80."""
    console = _console()
    if not console.is_terminal:
        console.width = 160
    return console


def _target(spec_path, service, port):
    from fleetdeploy.ops.target import resolve_target

    return resolve_target(spec_path, service, port)


@click.command()
@_inventory_arg
@_spec_opt
@_service_opt
@_port_opt
@_limit_opt
@_json_opt
@click.option(
    "--drift", is_flag=True, help="Also compare what runs on each node with its release record and the spec."
)
@click.option(
    "--facts",
    "all_facts",
    is_flag=True,
    help="Ask every node for its container state and restarts (one Ansible run).",
)
@click.option("-w", "--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Seconds between refreshes (--watch)."
)
def status(inventory, spec_path, service, port, limit, as_json, drift, all_facts, watch, interval):
    """Every node's health: reachable, live, ready, release served, /score latency, container state.

    Exit status 0 only when every node is healthy (and, with --drift, none has drifted)."""
    from fleetdeploy.ops.status import fleet_status

    target = _target(spec_path, service, port)
    desired = None
    if drift and target.spec_path is not None:
        from fleetdeploy.inventory import load_inventory
        from fleetdeploy.ops.desired import desired_from_spec

        desired = desired_from_spec(target.spec_path, Path(inventory), load_inventory(inventory, limit=limit))

    def once():
        return fleet_status(inventory, target, limit=limit, all_facts=all_facts, drift=drift, desired=desired)

    console = _wide_console()
    if not watch:
        result = once()
        _show_status(console, result, as_json)
        sys.exit(result.exit_code)
    exit_code = _watch(console, once, as_json, interval)
    sys.exit(exit_code)


def _watch(console, once, as_json: bool, interval: float) -> int:
    from rich.live import Live

    exit_code = 1
    try:
        if as_json:  # one JSON document a line per refresh
            while True:
                result = once()
                exit_code = result.exit_code
                click.echo(json.dumps(result.as_json()))
                time.sleep(interval)
        with Live(console=console, auto_refresh=False) as live:
            while True:
                result = once()
                exit_code = result.exit_code
                live.update(_status_view(result, stamp=time.strftime("%H:%M:%S")), refresh=True)
                time.sleep(interval)
    except KeyboardInterrupt:
        return exit_code


def _show_status(console, result, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    console.print(_status_view(result))


def _tls(node) -> str:
    # Days left and the start of the certificate's sha256, so nodes serving different ones stand out.
    if node.tls_days_left is None:
        return "-"
    return f"{node.tls_days_left}d {node.tls_fingerprint[:8]}" if node.tls_fingerprint else f"{node.tls_days_left}d"


def _status_view(result, stamp: str | None = None):
    """A table of short columns, then each node's reasons on lines of their own (they are long)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = f"Status of {result.service}" + (f" at {stamp}" if stamp else "")
    table = Table(title=title, title_justify="left")
    for column in ("node", "state", "release", "live/ready", "/score", "tls", "auth", "container", "restarts"):
        table.add_column(column, no_wrap=column != "container", overflow="fold")
    notes = []
    for node in result.nodes:
        table.add_row(
            node.node,
            Text(node.state + (" (drifted)" if node.drift else ""), style=_STATE_STYLES.get(node.state, "")),
            node.release or "-",
            _live_ready(node),
            _score(node),
            _tls(node),
            {True: "key", False: "none", None: "-"}[node.auth],
            _instance(node),
            "-" if node.restarts is None else str(node.restarts),
        )
        for reason in node.reasons:
            notes.append(Text(f"{node.node}: {reason}", style="red"))
        for item in node.drift or ():
            notes.append(Text(f"{node.node}: drift: {item}", style="yellow"))
        if node.overrides:
            settings = ", ".join(f"{name}={value}" for name, value in node.overrides.items())
            notes.append(Text(f"{node.node}: inventory overrides the spec: {settings}", style="dim"))
    summary = result.summary()
    counts = ", ".join(
        f"{summary[key]} {key.replace('_', ' ')}"
        for key in ("healthy", "unhealthy", "unreachable", "not_deployed")
        if summary[key]
    )
    if summary["drifted"] is not None:
        counts += f"; {summary['drifted']} drifted"
    line = Text(f"{summary['nodes']} node(s): {counts}", style="green" if result.healthy else "red")
    if not result.facts_gathered_for:
        line.append("  (HTTP only; --facts asks every node for its container state)", style="dim")
    return Group(table, *notes, line)


def _live_ready(node) -> str:
    if node.live is None:
        return "-"
    return f"{'yes' if node.live else 'no'}/{'yes' if node.ready else 'no'}"


def _score(node) -> str:
    if node.score_status is None:
        return "-"
    latency = f" {node.score_latency_ms:.1f} ms" if node.score_latency_ms is not None else ""
    return f"{node.score_status}{latency}"


def _instance(node) -> str:
    """The serving container's (or unit's) state and slot; its name is in --json."""
    if not node.instance_state:
        return "-"
    return node.instance_state + (f" [{node.slot}]" if node.slot else "")


@click.command()
@_inventory_arg(runs_ansible=False)  # logs reads over ssh itself (fleetdeploy.ops.logs), not through Ansible
@_spec_long_opt
@_service_opt
@_limit_opt
@click.option("--node", help="Only this host (its inventory name).")
@click.option(
    "-n", "--lines", type=int, help="Lines from the end of each node's log [default: 100; all with --grep]."
)
@click.option("--since", help="Only lines newer than this: 10m, 2h, 2026-11-24T10:00:00.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines from every node until Ctrl-C.")
@click.option("--grep", help="Only lines containing this text (e.g. a request id).")
def logs(inventory, spec_path, service, limit, node, lines, since, follow, grep):
    """The scoring service's log from the nodes, each line prefixed with its node."""
    import threading

    from fleetdeploy.inventory import load_inventory
    from fleetdeploy.ops.logs import LogRequest, pick_hosts, read_logs

    target = _target(spec_path, service, None)
    hosts = pick_hosts(load_inventory(inventory, limit=limit), node)
    if lines is None and grep is None:
        lines = 100
    request = LogRequest(target.service, lines=lines, since=since, follow=follow, grep=grep)
    lock = threading.Lock()

    def emit(name: str, line: str) -> None:
        with lock:
            click.echo(f"{name} | {line}")

    def errors(log) -> None:
        with lock:
            for error in log.errors:
                click.secho(f"{log.node} | error: {error}", fg="red", err=True)

    try:
        # With -f a node's errors are said when its stream ends, not after Ctrl-C.
        result = read_logs(
            hosts, request, on_line=emit if follow else None, on_end=errors if follow else None
        )
    except KeyboardInterrupt:  # read_logs has closed every ssh session: the nodes stopped reading
        sys.exit(0)
    for host in hosts:
        log = result[host.name]
        for line in log.lines:
            emit(host.name, line)
        if not follow:
            errors(log)
    sys.exit(0 if all(log.ok for log in result.values()) else 1)


@click.command()
@_inventory_arg
@_spec_opt
@_service_opt
@_limit_opt
@_json_opt
@click.option("-n", "--lines", type=int, default=50, show_default=True, help="Records per node, newest.")
def history(inventory, spec_path, service, limit, as_json, lines):
    """Each apply, rollback and remove recorded on the nodes: when, who, which release, result."""
    from rich.table import Table
    from rich.text import Text

    from fleetdeploy.ops.history import read_history

    result = read_history(inventory, _target(spec_path, service, None), limit=limit, lines=lines)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        sys.exit(result.exit_code)
    console = _wide_console()
    table = Table(title=f"History of {result.service}", title_justify="left")
    for column in ("time (UTC)", "node", "action", "release", "previous", "result", "by", "detail"):
        table.add_column(column, overflow="fold")
    for entry in result.entries:
        table.add_row(
            (entry.time or "-").replace("T", " ")[:19],
            entry.node,
            entry.action or "-",
            entry.release or "-",
            entry.previous or "-",
            Text(entry.result or "-", style="green" if entry.result == "ok" else "red"),
            f"{entry.user or '?'}@{entry.controller or '?'}",
            entry.detail or "",
        )
    console.print(table)
    if not result.entries:
        console.print("no records on any node", style="dim")
    for node, problem in result.problems.items():
        console.print(f"{node}: {problem}", style="red", markup=False)
    sys.exit(result.exit_code)


@click.command()
@_inventory_arg
@_spec_opt
@_service_opt
@_limit_opt
@click.option(
    "--purge", is_flag=True, help="Also remove the service's images and files (each node keeps its history)."
)
@_lock_wait_opt
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(inventory, spec_path, service, limit, purge, lock_wait, yes):
    """Stop and remove the service from the nodes (containers or units, its front, its state)."""
    from rich.table import Table
    from rich.text import Text

    from fleetdeploy.cli.progress import make_progress
    from fleetdeploy.errors import ConfigError
    from fleetdeploy.inventory import load_inventory
    from fleetdeploy.ops.remove import remove_service

    target = _target(spec_path, service, None)
    names = load_inventory(inventory, limit=limit).names
    what = "remove and purge" if purge else "remove"
    if not yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"refusing to {what} service {target.service} without confirmation: pass --yes")
        click.confirm(
            f"{what} service {target.service} on {len(names)} node(s) ({', '.join(names)})?", abort=True
        )
    console = _wide_console()
    with make_progress(console) as progress:
        result = remove_service(
            inventory, target, purge=purge, limit=limit, lock_wait=lock_wait, on_event=progress
        )
    table = Table(title=f"Remove {result.service}" + (" (purge)" if purge else ""), title_justify="left")
    for column in ("node", "result", "was serving", "message"):
        table.add_column(column, overflow="fold")
    for node in result.nodes:
        table.add_row(
            node.node,
            Text(node.outcome, style=_OUTCOME_STYLES.get(node.outcome, "")),
            node.previous or "-",
            node.message or "",
        )
    console.print(table)
    if result.exit_code and result.stdout_path:
        console.print(
            f"Full Ansible output: {result.stdout_path}", style="red", markup=False, highlight=False
        )
    sys.exit(result.exit_code)
