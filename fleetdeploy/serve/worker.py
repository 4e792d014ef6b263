"""One worker process: an HTTP server (uvicorn or granian, --http) on the shared listening socket, with
the entry script's init() running beside it so that liveness answers while a large model loads.
Readiness follows init()."""

import gc
import json
import socket
import threading
import time
from collections.abc import Callable

from fleetdeploy.errors import EnvironmentProblem
from fleetdeploy.serve.app import Readiness, ScoringApp
from fleetdeploy.serve.entry_script import EntryScript
from fleetdeploy.serve.errors import InitFailed
from fleetdeploy.serve.identity import describe, list_model_dir
from fleetdeploy.serve.liveness import BusyBoard
from fleetdeploy.serve.logs import LOG
from fleetdeploy.serve.metrics import Metrics
from fleetdeploy.serve.scoring import ScoreError, Scorer
from fleetdeploy.serve.settings import Settings
from fleetdeploy.serve.swagger import swagger_document


def run_worker(settings: Settings, script: EntryScript, sock: socket.socket, board: BusyBoard, slot: int = 0) -> int:
    """Serve until SIGTERM/SIGINT (drain, then 0) or until init() fails (InitFailed.exit_code). `board`
    holds which workers are inside run(), `slot` is this worker's place on it (liveness.py)."""
    metrics = Metrics(settings.service, settings.release)
    readiness = Readiness()
    busy = board.slot(slot)
    busy.leave()  # a worker that died inside run() left its slot marked
    app = ScoringApp(settings, Scorer(script, settings.timeout, busy), metrics, readiness)
    server = http_server(settings.http)(app, settings, board)
    outcome = {"exit_code": 0}
    threading.Thread(
        target=_start, args=(settings, script, app, server.stop, outcome), name="fleetdeploy-init", daemon=True
    ).start()
    server.run(sock)
    return outcome["exit_code"]


def http_server(name: str):
    """The server class for --http: both take (app, settings, board) and offer run(sock) and a thread-safe
    stop()."""
    if name == "granian":
        fix = "pip install 'granian>=2.8.7,<2.9' (see docs/serve.md) or use --http uvicorn"
        try:
            from fleetdeploy.serve.granian_server import SUPPORTED_SERIES, GranianServer, granian_version
        except ImportError as exc:
            raise EnvironmentProblem(
                f"--http granian (or FLEETDEPLOY_HTTP=granian) needs granian, which is not importable ({exc}): {fix}"
            ) from None
        if not granian_version.startswith(SUPPORTED_SERIES):
            raise EnvironmentProblem(
                f"--http granian needs granian {SUPPORTED_SERIES}x (the server embeds its worker internals), "
                f"found {granian_version}: {fix}"
            )
        return GranianServer
    from fleetdeploy.serve.uvicorn_server import UvicornServer

    return UvicornServer


def _start(settings: Settings, script: EntryScript, app: ScoringApp, stop: Callable[[], None], outcome: dict):
    try:
        app.identity = json.dumps(describe(settings)).encode()
    except OSError as exc:
        LOG.warning(f"cannot hash what is served, GET /version will fail: {exc}")
    swagger = swagger_document(script, settings.service)
    if swagger is not None:
        app.swagger = json.dumps(swagger).encode()

    started = time.perf_counter()
    try:
        script.init()
    except BaseException as exc:  # noqa: BLE001  (SystemExit from a script is a failed init() too)
        LOG.error(
            f"init() in {script.path} raised {type(exc).__name__}: {exc}; the server exits.\n"
            + list_model_dir(settings.model_dir),
            exc_info=exc,
        )
        app.readiness.set(False, f"init() raised {type(exc).__name__}")
        outcome["exit_code"] = InitFailed.exit_code
        stop()
        return
    seconds = time.perf_counter() - started
    # What init() loaded lives as long as the worker: keep the garbage collector from walking it
    # again and again between requests.
    gc.collect()
    gc.freeze()
    app.metrics.init_finished(seconds)
    LOG.info(f"init() finished in {seconds:.3f} s", extra={"fields": {"init_seconds": round(seconds, 6)}})

    if settings.sample_request is not None:
        try:
            app.scorer.score(settings.sample_request)
        except ScoreError as exc:
            LOG.error(f"the sample request failed, staying not ready: {exc.message}", exc_info=exc.__cause__)
            app.readiness.set(False, f"the sample request failed: {exc.message}")
            return
    app.readiness.set(True)
    app.metrics.set_ready(True)
