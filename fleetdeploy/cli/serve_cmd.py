"""`fleetdeploy serve`: run an Azure ML entry script locally or inside a scoring container.

Imports only the server's own small dependencies: this is the container's entrypoint."""

import sys

import click


@click.command()
@click.option("--entry-script", type=click.Path(dir_okay=False), help="score.py [env AZUREML_ENTRY_SCRIPT]")
@click.option("--model-dir", type=click.Path(file_okay=False), help="exported as AZUREML_MODEL_DIR for init()")
@click.option("--host", help="address to bind [env FLEETDEPLOY_HOST, default 0.0.0.0]")
@click.option("--port", type=int, help="[env FLEETDEPLOY_PORT, default 6789]")
@click.option("--workers", type=int, help="processes, each running init() once [env FLEETDEPLOY_WORKERS, default 1]")
@click.option("--timeout", type=float, help="seconds a run() may take, 0 = none [env FLEETDEPLOY_TIMEOUT, default 60]")
@click.option("--max-body", help="largest request body, e.g. 100MiB [env FLEETDEPLOY_MAX_BODY]")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="[env FLEETDEPLOY_LOG_LEVEL, default info]")
@click.option("--service", help="service name for /version and metrics [env FLEETDEPLOY_SERVICE]")
@click.option("--release", help="release id for /version and metrics [env FLEETDEPLOY_RELEASE]")
@click.option("--sample-request", help="body run() must answer before /ready [env FLEETDEPLOY_SAMPLE_REQUEST]")
@click.option("--drain-timeout", type=float,
              help="seconds in-flight requests get after SIGTERM [env FLEETDEPLOY_DRAIN_TIMEOUT, default 30]")
@click.option("--http", type=click.Choice(["uvicorn", "granian"], case_sensitive=False),
              help="HTTP server under the app [env FLEETDEPLOY_HTTP, default uvicorn]")
def serve(**flags):
    """Serve an entry script's init()/run() at POST /score (Azure ML's contract)."""
    from fleetdeploy.serve.main import serve as run_server
    from fleetdeploy.serve.settings import load_settings

    sys.exit(run_server(load_settings(flags)))
