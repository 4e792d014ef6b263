"""`fleetdeploy invoke`: one request to the scoring service of every node, each node's answer printed
(as `az ml online-endpoint invoke` does for an Azure endpoint); `--local NAME` to a service on this
machine's Docker engine (LocalWebservice, fleetdeploy/local)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import _console, _inventory_arg, _limit_opt
from fleetdeploy.cli.ops_cmd import _json_opt, _port_opt, _service_opt, _spec_long_opt, _target


@click.command()
@_inventory_arg(runs_ansible=False, becomes=False, optional=True)  # HTTP from here to each node, no Ansible run
@_spec_long_opt
@_service_opt
@_port_opt
@_limit_opt
@click.option("--node", help="Only this host (its inventory name).")
@click.option("--local", "local_name", metavar="NAME",
              help="The service NAME on this machine's Docker engine (Model.deploy with LocalWebservice), not a fleet.")
@click.option("--workspace", type=click.Path(path_type=Path),
              help="With --local: the workspace folder [default: found as Workspace.from_config() finds it].")
@click.option(
    "-r", "--request-file", type=click.File("rb"), help="The request body (JSON), or - for stdin [default: the spec's sample request]."
)
@click.option("--timeout", type=float, default=60, show_default=True, help="Seconds to wait for each node's answer.")
@_json_opt
def invoke(inventory, spec_path, service, port, limit, node, local_name, workspace, request_file, timeout, as_json):
    """POST a request to /score on every node of INVENTORY (or the local service --local NAME) and print
    each answer."""
    from fleetdeploy.errors import ConfigError
    from fleetdeploy.health.probe import invoke_fleet
    from fleetdeploy.inventory import load_inventory
    from fleetdeploy.ops.logs import pick_hosts

    if (inventory is None) == (local_name is None):
        raise click.UsageError("give INVENTORY (a fleet) or --local NAME (a service on this machine), one of them")
    if local_name is not None:
        local = _local_service(local_name, workspace)
        spec_path, urls = local.settings().spec, {"local": local.base_url}
    target = _target(spec_path, service, port)
    if request_file is not None:
        body = request_file.read()
    elif target.sample_body is not None:
        body = target.sample_body.encode()
    else:
        raise ConfigError("give the request: --request-file FILE (or - for stdin); the spec has no sample request")
    if local_name is None:
        hosts = pick_hosts(load_inventory(inventory, limit=limit), node)
        urls = target.urls(hosts)
    request_id = f"invoke-{uuid.uuid4().hex[:12]}"
    answers = invoke_fleet(
        urls,
        body,
        request_id=request_id,
        timeout=timeout,
        key=target.key(),
        context=target.context(),
    )
    ok = all(answer.status == 200 for answer in answers.values())
    if as_json:
        click.echo(json.dumps({"service": target.service, "nodes": [_as_json(name, a) for name, a in answers.items()]}, indent=2))
        sys.exit(0 if ok else 1)
    console = _console()
    for name, answer in answers.items():
        if answer.error:
            console.print(f"{name}: {answer.url}: {answer.error}", markup=False, style="red")
            continue
        style = "green" if answer.status == 200 else "red"
        console.print(
            f"{name}: {answer.status} in {answer.latency_ms:.1f} ms (request id {answer.request_id})", markup=False, style=style
        )
        console.print(f"  {answer.answer}", markup=False)
    sys.exit(0 if ok else 1)


def _local_service(name: str, workspace: Path | None):
    from fleetdeploy.local.service import LocalService
    from fleetdeploy.registry import Workspace

    found = Workspace(workspace) if workspace else Workspace.from_config()
    return LocalService(found.path, name)


def _as_json(name: str, answer) -> dict:
    try:
        parsed = json.loads(answer.answer) if answer.answer is not None else None
    except ValueError:
        parsed = answer.answer  # not JSON (a raw-HTTP entry script's text): as it came
    return {
        "node": name,
        "url": answer.url,
        "status": answer.status,
        "latency_ms": answer.latency_ms,
        "request_id": answer.request_id,
        "answer": parsed,
        "error": answer.error,
    }
