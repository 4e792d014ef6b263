"""`fleetdeploy serve`: run an Azure ML entry script locally or inside a scoring container."""

import click


@click.command()
def serve():
    """Serve an entry script's init()/run() at POST /score."""
    raise click.ClickException("not implemented yet")
