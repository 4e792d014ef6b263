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
@click.option("--error-detail/--no-error-detail", default=None,
              help="send run()'s exception text in 500 answers, for debugging [env FLEETDEPLOY_ERROR_DETAIL]")
@click.option("--read-timeout", type=float,
              help="seconds for headers to arrive and the longest body stall [env FLEETDEPLOY_READ_TIMEOUT, default 30]")
@click.option("--keep-alive", type=float,
              help="seconds an idle connection is kept [env FLEETDEPLOY_KEEP_ALIVE, default 5]")
@click.option("--max-header-size", help="largest request line + headers [env FLEETDEPLOY_MAX_HEADER_SIZE, default 64KiB]")
@click.option("--max-connections", type=int,
              help="open connections per worker; more get 503 [env FLEETDEPLOY_MAX_CONNECTIONS, default 1000]")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="serve HTTPS with this certificate (PEM, chain "
              "after it) [env FLEETDEPLOY_TLS_CERT]")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="its private key, mode 600 [env FLEETDEPLOY_TLS_KEY]")
@click.option("--auth-key-file", type=click.Path(dir_okay=False),
              help="require Authorization: Bearer <key> on every path but GET / [env FLEETDEPLOY_AUTH_KEY_FILE]")
def serve(**flags):
    """Serve an entry script's init()/run() at POST /score (Azure ML's contract)."""
    from fleetdeploy.serve.main import serve as run_server
    from fleetdeploy.serve.settings import load_settings

    sys.exit(run_server(load_settings(flags)))
