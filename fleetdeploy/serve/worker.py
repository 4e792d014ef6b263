"""One worker process: an HTTP server on the shared listening socket, with the entry script's init()
running beside it so that liveness answers while a large model loads. Readiness follows init()."""

import gc
import json
import signal
import socket
import threading
import time

import uvicorn

from fleetdeploy.serve.app import Readiness, ScoringApp
from fleetdeploy.serve.entry_script import EntryScript
from fleetdeploy.serve.errors import InitFailed
from fleetdeploy.serve.identity import describe, list_model_dir
from fleetdeploy.serve.logs import LOG
from fleetdeploy.serve.metrics import Metrics
from fleetdeploy.serve.scoring import ScoreError, Scorer
from fleetdeploy.serve.settings import Settings
from fleetdeploy.serve.swagger import swagger_document


def event_loop() -> str:
    try:
        import uvloop  # noqa: F401  (measured faster; see docs/serve.md)
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_worker(settings: Settings, script: EntryScript, sock: socket.socket) -> int:
    """Serve until SIGTERM/SIGINT (drain, then 0) or until init() fails (InitFailed.exit_code)."""
    metrics = Metrics(settings.service, settings.release)
    readiness = Readiness()
    app = ScoringApp(settings, Scorer(script, settings.timeout), metrics, readiness)
    config = uvicorn.Config(
        app,
        http="httptools",
        loop=event_loop(),
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=settings.drain_timeout,
    )
    server = uvicorn.Server(config)
    outcome = {"exit_code": 0}
    threading.Thread(
        target=_start, args=(settings, script, app, server, outcome), name="fleetdeploy-init", daemon=True
    ).start()
    # uvicorn re-raises the stop signal after draining; these no-ops make that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    server.run(sockets=[sock])
    return outcome["exit_code"]


def _start(settings: Settings, script: EntryScript, app: ScoringApp, server: uvicorn.Server, outcome: dict):
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
        server.should_exit = True
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
