"""Command-line entry point. Each subcommand lives in its own module and imports its heavy
dependencies lazily, so `fleetdeploy serve` inside a scoring image needs only the server's packages."""

import sys

import click

from fleetdeploy import __version__
from fleetdeploy.errors import FleetdeployError


class _Group(click.Group):
    """Prints expected errors as one clear line instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FleetdeployError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fleetdeploy")
def main():
    """Deploy ML scoring services (score.py + models) to on-prem fleets with Ansible."""


def _register():
    from fleetdeploy.cli import serve_cmd

    main.add_command(serve_cmd.serve)
    # Controller commands need the controller dependencies; a scoring image has only `serve`.
    try:
        from fleetdeploy.cli import apply_cmd, init_cmd, sandbox_cmd
    except ImportError:
        return
    main.add_command(sandbox_cmd.sandbox)
    main.add_command(init_cmd.init)
    main.add_command(apply_cmd.apply)
    main.add_command(apply_cmd.render)
    from fleetdeploy.cli import env_cmd

    main.add_command(env_cmd.env)
    from fleetdeploy.cli import ops_cmd

    main.add_command(ops_cmd.status)
    main.add_command(ops_cmd.logs)
    main.add_command(ops_cmd.history)
    main.add_command(ops_cmd.remove)
    from fleetdeploy.cli import rollout_cmd

    main.add_command(rollout_cmd.rollback)
    main.add_command(rollout_cmd.releases)
    main.add_command(rollout_cmd.unlock)


_register()
