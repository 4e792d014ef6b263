"""`fleetdeploy init [DIR]`: write a commented fleetdeploy.yml, pre-filled from what DIR holds."""

from pathlib import Path

import click


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing fleetdeploy.yml.")
@click.option("--service", metavar="NAME", help="Service name (default: from the folder's name).")
def init(directory: Path, force: bool, service: str | None):
    """Write a commented deployment spec (fleetdeploy.yml) in DIRECTORY (default: here)."""
    from fleetdeploy.spec import SpecError, load_spec
    from fleetdeploy.spec.scaffold import write_scaffold

    target, scaffold = write_scaffold(directory, force=force, service=service)
    click.echo(f"wrote {target}")
    click.echo(f"  service       {scaffold.service}")
    click.echo(f"  entry script  {_describe(scaffold.entry_script)}")
    for model in scaffold.models:
        click.echo(f"  model         {_describe(model)}")
    for other in scaffold.other_models:
        click.echo(f"  also found    {other} (left commented out: several models change AZUREML_MODEL_DIR)")
    click.echo(f"  environment   {scaffold.environment.kind}: {_describe(scaffold.environment)}")
    try:
        load_spec(target)
    except SpecError as exc:
        click.secho("\nBefore deploying, fix what the spec check reports:", fg="yellow")
        for issue in exc.issues:
            click.echo(f"  {issue}")
        return
    click.secho("\nThe spec is valid. Next: fleetdeploy apply INVENTORY", fg="green")


def _describe(found) -> str:
    return found.path if found.found else f"{found.path} ({found.note})"
