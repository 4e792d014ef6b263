"""`fleetdeploy env export`: the spec's environment as files users can build themselves."""

from __future__ import annotations

from pathlib import Path

import click

from fleetdeploy.cli.apply_cmd import _spec_opt


@click.group()
def env():
    """The scoring environment a spec resolves to."""


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
