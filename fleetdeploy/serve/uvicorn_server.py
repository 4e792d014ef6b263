"""Serving the app with uvicorn (httptools parser, uvloop when installed) on the worker's socket."""

import signal
import socket

import uvicorn

from fleetdeploy.serve.app import ScoringApp
from fleetdeploy.serve.asgi import AsgiApp
from fleetdeploy.serve.settings import Settings
from fleetdeploy.serve.uvicorn_limits import limited_protocol


def event_loop() -> str:
    try:
        import uvloop  # noqa: F401  (measured faster; see docs/serve.md)
    except ImportError:
        return "asyncio"
    return "uvloop"


class UvicornServer:
    def __init__(self, app: ScoringApp, settings: Settings):
        config = uvicorn.Config(
            AsgiApp(app),
            http=limited_protocol(settings),  # httptools, with our limits (uvicorn_limits.py)
            loop=event_loop(),
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=settings.drain_timeout,
            timeout_keep_alive=settings.keep_alive,
        )
        self._server = uvicorn.Server(config)

    def run(self, sock: socket.socket) -> None:
        """Serve on the main thread until stop() or SIGTERM/SIGINT, then drain."""
        # uvicorn re-raises the stop signal after draining; these no-ops make that a clean exit 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        self._server.run(sockets=[sock])

    def stop(self) -> None:
        """Drain and return from run(); safe from any thread."""
        self._server.should_exit = True
