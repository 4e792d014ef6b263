"""Command-line entry point. Each subcommand lives in its own module and imports its heavy
dependencies lazily, so `fleetdeploy serve` inside a scoring image needs only the server's packages."""

import importlib.util
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
    # A scoring image installs the server's packages only (no ansible-runner): there, `serve` is the one
    # command. Anywhere else an ImportError is a real fault and must show, not hide every other command.
    if importlib.util.find_spec("ansible_runner") is None:
        return
    from fleetdeploy.cli import (
        apply_cmd,
        endpoint_cmd,
        env_cmd,
        init_cmd,
        invoke_cmd,
        model_cmd,
        ops_cmd,
        preflight_cmd,
        rollout_cmd,
        sandbox_cmd,
    )

    for command in (
        sandbox_cmd.sandbox,
        init_cmd.init,
        apply_cmd.apply,
        apply_cmd.render,
        preflight_cmd.check,
        env_cmd.env,
        model_cmd.model,
        ops_cmd.status,
        ops_cmd.logs,
        invoke_cmd.invoke,
        endpoint_cmd.keys,
        endpoint_cmd.ca,
        ops_cmd.history,
        ops_cmd.remove,
        rollout_cmd.rollback,
        rollout_cmd.releases,
        rollout_cmd.unlock,
    ):
        main.add_command(command)


_register()
