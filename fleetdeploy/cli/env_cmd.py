"""`fleetdeploy env`: the spec's environment as files users can build themselves (export), and the
workspace's registered environments (register, list, build: the SDK's Environment, docs/azureml.md)."""

from __future__ import annotations

from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import _spec_opt
from fleetdeploy.cli.model_cmd import _workspace, _workspace_opt


@click.group()
def env():
    """Scoring environments: a spec's, exported; the workspace's, registered and built."""


@env.command("export")
@_spec_opt
@click.option(
    "-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder to write."
)
def export(spec_path: Path, out_dir: Path):
    """Write the resolved conda file, pip requirements, server wheel and a Dockerfile to OUTPUT."""
    from fleetdeploy.native.export import export_environment
    from fleetdeploy.spec import load_spec

    exported = export_environment(load_spec(spec_path), out_dir)
    for notice in exported.notices:
        click.echo(f"  {notice}")
    for name in exported.files:
        click.echo(f"wrote {exported.out_dir / name}")


@env.command("register")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-n", "--name", required=True, help="The environment's name (a new version only when FILE differs).")
@_workspace_opt
def register(file: Path, name: str, workspace_path: Path | None):
    """Register FILE as environment NAME: pip requirements (.txt) or a conda specification (.yml/.yaml)."""
    from fleetdeploy.azureml.environment import Environment

    make = Environment.from_conda_specification if file.suffix in (".yml", ".yaml") else Environment.from_pip_requirements
    registered = make(name, file).register(_workspace(workspace_path))
    click.echo(f"environment {registered.name} version {registered.version} ({registered.kind})")


@env.command("list")
@_workspace_opt
def list_environments(workspace_path: Path | None):
    """The registered environments and their versions."""
    from fleetdeploy.azureml.environment import Environment

    for name, versions in Environment.registered(_workspace(workspace_path)).items():
        click.echo(f"{name}  versions {', '.join(map(str, versions))}")


@env.command("build")
@click.argument("name")
@click.option("--version", "version", help="The registered version [default: the latest].")
@click.option("--docker", "use_docker", is_flag=True,
              help="Build the scoring image on this machine's Docker engine instead of a local Python environment.")
@_workspace_opt
def build(name: str, version: str | None, use_docker: bool, workspace_path: Path | None):
    """Build registered environment NAME here, as Environment.build_local does: a venv (pip) or conda
    prefix with the scoring server in it (its bin/fleetdeploy serves), or with --docker the scoring image."""
    from fleetdeploy.azureml.environment import Environment

    workspace = _workspace(workspace_path)
    environment = Environment.get(workspace, name, version)
    click.echo(f"building environment {name} version {environment.version}" + (" (image)" if use_docker else ""))
    click.echo(environment.build_local(workspace, useDocker=use_docker))
