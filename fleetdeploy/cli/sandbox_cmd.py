"""`fleetdeploy sandbox`: a local fleet of node containers for trying fleetdeploy and for tests."""

import click


@click.group()
def sandbox():
    """Create, list and remove local sandbox fleets."""
