"""Starting the server: validate the entry script, bind the port, then run one worker in this
process or supervise several. Errors before serving are FleetdeployErrors naming what to fix."""

import os
import shutil
import socket
import tempfile

from fleetdeploy.errors import EnvironmentProblem
from fleetdeploy.serve.auth import parse_key_file
from fleetdeploy.serve.entry_script import load_entry_script
from fleetdeploy.serve.errors import InitFailed
from fleetdeploy.serve.logs import LOG, setup_logging
from fleetdeploy.serve.secrets_file import load_secrets
from fleetdeploy.serve.settings import Settings
from fleetdeploy.serve.tls import days_left, server_context


def serve(settings: Settings) -> int:
    """Blocks until the server stops; returns the process exit code (0 after a clean drain)."""
    setup_logging(settings.log_level)
    _export_azure_environment(settings)
    secret_names = load_secrets()
    if secret_names:
        LOG.info(f"secrets for the entry script: {', '.join(secret_names)}")
    metrics_dir = None
    if settings.workers > 1:
        # Must be set before prometheus_client is first imported (it picks its value store then).
        try:
            metrics_dir = tempfile.mkdtemp(prefix="fleetdeploy-metrics-")
        except OSError as exc:
            raise EnvironmentProblem(
                f"--workers {settings.workers} needs a writable temporary folder for the workers' metrics "
                f"({tempfile.gettempdir()}: {exc.strerror}); set TMPDIR to one (a tmpfs in read-only containers)"
            ) from None
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # Only now: prometheus_client (imported by the worker module) picks its value store on import.
    from fleetdeploy.serve.liveness import BusyBoard
    from fleetdeploy.serve.worker import http_server, run_worker

    try:
        # Imported once here, before any fork: a broken script or a missing HTTP server is refused before
        # the port is taken, and workers share the imported modules' memory.
        http_server(settings.http)
        check_endpoint_security(settings)
        script = load_entry_script(settings.entry_script, settings.app_root)
        sock = listen(settings.host, settings.port)
        scheme = "https" if settings.tls_cert else "http"
        LOG.info(
            f"serving {settings.entry_script} on {scheme}://{settings.host}:{settings.port} "
            f"with {settings.workers} worker(s) on {settings.http}"
            + (", key auth on" if settings.auth_key_file else ""),
            extra={"fields": {"service": settings.service, "release": settings.release, "pid": os.getpid()}},
        )
        board = BusyBoard(settings.workers)  # before any fork: the workers share it
        if settings.workers == 1:
            code = run_worker(settings, script, sock, board)
        else:
            from fleetdeploy.serve.supervisor import supervise

            code = supervise(settings, script, sock, board)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    if code == InitFailed.exit_code:
        raise InitFailed(
            f"init() in {settings.entry_script} raised; its traceback and the model directory are in the log"
        )
    return code


def check_endpoint_security(settings: Settings) -> None:
    """TLS files and the key file are refused before the port is taken, naming what to fix."""
    if settings.tls_cert is not None:
        server_context(settings.tls_cert, settings.tls_key)
        days = days_left(settings.tls_cert)
        if days is not None and days < 30:
            LOG.warning(f"the TLS certificate {settings.tls_cert} expires in {days} days")
    if settings.auth_key_file is not None:
        parse_key_file(settings.auth_key_file)


def listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EnvironmentProblem(
            f"cannot listen on {host}:{port}: {exc.strerror} "
            "(another server there? pick another --port or FLEETDEPLOY_PORT)"
        ) from None
    sock.listen(2048)
    return sock


def _export_azure_environment(settings: Settings) -> None:
    # Entry scripts read these (init() joins AZUREML_MODEL_DIR with its file name).
    os.environ["AML_APP_ROOT"] = str(settings.app_root)
    os.environ["AZUREML_ENTRY_SCRIPT"] = str(settings.entry_script)
    if settings.model_dir is not None:
        os.environ["AZUREML_MODEL_DIR"] = str(settings.model_dir)
