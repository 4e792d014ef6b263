"""How clients reach a service (docs/security.md): `fleetdeploy keys`, the service's two keys
(endpoint.auth: key) as `az ml online-endpoint get-credentials` and `regenerate-keys` have them for an
Azure endpoint; `fleetdeploy ca`, the fleet CA's certificate for clients (endpoint.tls: fleet-ca)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import _console, _inventory_arg, _limit_opt, vault_options
from fleetdeploy.cli.ops_cmd import _json_opt, _spec_opt

_WHICH = click.Choice(["primary", "secondary", "metrics"])


def _keys_path(spec_path: Path, which: str | None = None) -> Path:
    from fleetdeploy.errors import ConfigError
    from fleetdeploy.spec import load_spec

    spec = load_spec(spec_path)
    if spec.keys_path is None:
        raise ConfigError(f"{spec_path}: endpoint.auth is not `key`: service {spec.service} has no keys")
    if which == "metrics" and not spec.endpoint.metrics_token:
        raise ConfigError(
            f"{spec_path}: endpoint.metrics_token is not true: service {spec.service} has no metrics token "
            "(set it, then `fleetdeploy apply` makes one)"
        )
    return spec.keys_path


@click.group()
def keys():
    """The service's primary and secondary keys (endpoint.auth: key), and its metrics token
    (endpoint.metrics_token)."""


@keys.command()
@_spec_opt
@click.option("--which", type=_WHICH, help="Only this key.")
@_json_opt
@vault_options
def show(spec_path: Path, which: str | None, as_json: bool):
    """Print the service's keys, read from the spec's endpoint.keys_file."""
    from fleetdeploy.keys import read_keys

    found = read_keys(_keys_path(spec_path, which))
    names = [which] if which else found.names()
    if which and found.get(which) is None:
        from fleetdeploy.errors import ConfigError

        raise ConfigError(f"{spec_path}: the keys file has no {which} token yet: `fleetdeploy apply` makes it")
    if as_json:
        click.echo(json.dumps({name: found.get(name) for name in names}, indent=2))
    elif which:
        click.echo(found.get(which))
    else:
        for name in names:
            click.echo(f"{name:<9} {found.get(name)}")


@keys.command()
@_inventory_arg
@_spec_opt
@_limit_opt
@click.option("--which", type=_WHICH, required=True,
              help="The key to replace; the other keeps working (metrics: the scrapers' token, which has no twin).")
def regenerate(inventory: Path, spec_path: Path, limit: str | None, which: str):
    """Replace one key in the keys file and on every node of INVENTORY; the old one stops working there."""
    from fleetdeploy.keys import regenerate as new_key

    path = _keys_path(spec_path, which)
    op = _operation(inventory, spec_path, limit)  # the inventory checked before the key changes
    new_key(path, which)
    _console().print(f"keys: new {which} key in {path}", markup=False)
    _push(op, f"the new {which} key")


@keys.command()
@_inventory_arg
@_spec_opt
@_limit_opt
def push(inventory: Path, spec_path: Path, limit: str | None):
    """Give every node of INVENTORY the keys now in the keys file (a node that missed a regenerate)."""
    _keys_path(spec_path)
    _push(_operation(inventory, spec_path, limit), "the keys")


def _operation(inventory: Path, spec_path: Path, limit: str | None):
    from fleetdeploy.ops import releases as operations

    return operations.prepare(inventory, spec_path, limit=limit)


def _push(op, what: str) -> None:
    from fleetdeploy.cli.progress import make_progress, print_summary
    from fleetdeploy.ops import releases as operations

    console = _console()
    with make_progress(console) as progress:
        result = operations.push_keys(op, on_event=progress)
    print_summary(console, result)
    if not result.succeeded:
        console.print(
            f"{what} did not reach every node: those keep the keys they had; `fleetdeploy keys push` (or "
            "`fleetdeploy apply`) gives them the keys file's",
            markup=False,
            style="red",
        )
    sys.exit(0 if result.succeeded else 1)


@click.group()
def ca():
    """The fleet's CA (endpoint.tls: fleet-ca), which signs each node's certificate."""


@ca.command()
@_spec_opt
def export(spec_path: Path):
    """Print the CA certificate (PEM) clients trust to reach the nodes over https."""
    from fleetdeploy.errors import ConfigError
    from fleetdeploy.spec import load_spec

    spec = load_spec(spec_path)
    if spec.fleet_ca_dir is None:
        raise ConfigError(f"{spec_path}: endpoint.tls is not `fleet-ca`: service {spec.service} uses no fleet CA")
    cert = spec.fleet_ca_dir / "ca.pem"
    if not cert.is_file():
        raise ConfigError(f"{cert}: no fleet CA yet; the first `fleetdeploy apply` with endpoint.tls: fleet-ca makes it")
    click.echo(cert.read_text(), nl=False)
