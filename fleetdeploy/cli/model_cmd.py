"""`fleetdeploy model`: the model registry (docs/models.md), as `az ml model create|list|show|download`
and the SDK's Model.register/list/download/add_tags have it for an Azure workspace, on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import click

_workspace_opt = click.option(
    "-w", "--workspace", "workspace_path", type=click.Path(path_type=Path), default=None,
    help="The registry folder (default: a fleetdeploy-workspace.json found upward, else the data home's).",
)
_json_opt = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _workspace(path: Path | None):
    from fleetdeploy.registry import Workspace

    return Workspace(path) if path is not None else Workspace.from_config()


def _tags(values: tuple[str, ...]) -> dict[str, str]:
    from fleetdeploy.errors import ConfigError

    tags = {}
    for value in values:
        key, equals, text = value.partition("=")
        if not key or not equals:
            raise ConfigError(f"--tag {value!r}: write key=value")
        tags[key] = text
    return tags


@click.group()
def model():
    """Registered models: names, versions counting up, tags, files kept by their sha256."""


@model.command()
@click.argument("model_path", type=click.Path(path_type=Path))
@click.option("-n", "--name", "name", required=True, help="The model's name (versions count up per name).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeat for several).")
@click.option("--description", default="", help="What the model is.")
@click.option("--trust", is_flag=True,
              help="Register a pickle that imports something outside the known-safe list (its findings are kept).")
@_workspace_opt
@_json_opt
def register(model_path: Path, name: str, tags, description: str, trust: bool, workspace_path, as_json: bool):
    """Register MODEL_PATH (a file or a folder) as the next version of NAME."""
    registered = _workspace(workspace_path).register(model_path, name, tags=_tags(tags), description=description,
                                                     trust=trust)
    if as_json:
        click.echo(json.dumps(registered.as_json(), indent=2))
        return
    scanned = registered.properties.get("sklearn_version")
    click.echo(f"registered {registered.id} ({len(registered.files)} file(s))"
               + (f", saved by scikit-learn {scanned}" if scanned else ""))


@model.command("list")
@click.option("-n", "--name", default=None, help="Only this model's versions.")
@click.option("--tag", "tags", multiple=True, metavar="KEY[=VALUE]", help="Only versions with this tag.")
@_workspace_opt
@_json_opt
def list_models(name: str | None, tags, workspace_path, as_json: bool):
    """The registered versions, oldest first."""
    from fleetdeploy.errors import ConfigError

    found = _workspace(workspace_path).list(name, list(tags))
    if (name or tags) and not found:
        raise ConfigError(f"no registered model matches{' name ' + name if name else ''}"
                          f"{' tags ' + ', '.join(tags) if tags else ''}")
    if as_json:
        click.echo(json.dumps([model.as_json() for model in found], indent=2))
        return
    for each in found:
        tags_text = ", ".join(f"{key}={value}" for key, value in each.tags.items())
        click.echo(f"{each.id:<32} {each.created}  {tags_text}")


@model.command()
@click.argument("name")
@click.option("-v", "--version", default=None, help="The version (default: the latest).")
@_workspace_opt
def show(name: str, version: str | None, workspace_path):
    """One version's record (JSON): files and their sha256, tags, properties (the pickle scan's findings)."""
    click.echo(json.dumps(_workspace(workspace_path).get(name, version).as_json(), indent=2))


@model.command()
@click.argument("name")
@click.option("-v", "--version", default=None, help="The version (default: the latest).")
@click.option("-o", "--output", "target_dir", type=click.Path(path_type=Path), default=Path("."),
              help="The folder to copy it into (default: here).")
@click.option("--exist-ok", is_flag=True, help="Replace a file or folder of the same name there.")
@_workspace_opt
def download(name: str, version: str | None, target_dir: Path, exist_ok: bool, workspace_path):
    """Copy a registered version's file or folder out of the registry."""
    click.echo(str(_workspace(workspace_path).download(name, version, target_dir, exist_ok=exist_ok)))


@model.command()
@click.argument("name")
@click.option("-v", "--version", required=True, help="The version whose tags change.")
@click.option("--add", "add", multiple=True, metavar="KEY=VALUE", help="A tag to set.")
@click.option("--remove", "remove", multiple=True, metavar="KEY", help="A tag to remove.")
@_workspace_opt
def tag(name: str, version: str, add, remove, workspace_path):
    """Set or remove tags of a version (the only thing a version lets change)."""
    updated = _workspace(workspace_path).tag(name, version, add=_tags(add), remove=list(remove))
    click.echo(f"{updated.id}: " + (", ".join(f"{k}={v}" for k, v in updated.tags.items()) or "no tags"))
