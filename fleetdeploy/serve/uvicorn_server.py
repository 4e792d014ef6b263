"""Serving the app with uvicorn (httptools parser, uvloop when installed) on the worker's socket, with a
drain that answers everything accepted before SIGTERM and nothing after it."""

import asyncio
import collections
import functools
import signal
import socket
from collections.abc import Callable

import uvicorn

from fleetdeploy.serve.app import ScoringApp
from fleetdeploy.serve.asgi import AsgiApp
from fleetdeploy.serve.liveness import BusyBoard, BusyLiveness
from fleetdeploy.serve.settings import Settings
from fleetdeploy.serve.tls import server_context
from fleetdeploy.serve.uvicorn_limits import limited_protocol


def event_loop() -> str:
    try:
        import uvloop  # noqa: F401  (measured faster; see docs/serve.md)
    except ImportError:
        return "asyncio"
    return "uvloop"


class _DrainingServer(uvicorn.Server):
    """uvicorn's Server, with a drain that keeps the requests a busy worker has not read yet.

    run() holds the event loop (app.py), so while it runs, new connections wait in the kernel's accept
    queue. uvicorn's own shutdown closes the listener, which resets them: those clients lose requests
    they sent before SIGTERM, and clients that come after the signal still get queued until then. Here
    the signal takes the queued connections out of the kernel and closes the listener at once (later
    clients are refused), and the drain hands them to uvicorn before its shutdown runs. Their requests
    are read in the loop iteration that follows (I/O is polled before the shutdown coroutine resumes),
    so uvicorn's shutdown finds each with a request under way and waits for its answer, as for requests
    on connections it had accepted itself (`test_lifecycle.py`, the queued-requests test).

    Connections the liveness thread took while every worker was in run() (liveness.py) come in the same
    way: `take()` queues them for the loop, and the drain adopts any still queued before shutting down."""

    def __init__(self, config: uvicorn.Config, max_connections: int,
                 liveness: Callable[..., BusyLiveness] | None):
        super().__init__(config)
        self._max_connections = max_connections
        self.listener: socket.socket | None = None  # set by run(), before serving
        self._taken: collections.deque[socket.socket] = collections.deque()  # accepted, not yet served
        self._make_liveness = liveness
        self._liveness: BusyLiveness | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serving_taken: asyncio.Future | None = None

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        self._loop = asyncio.get_running_loop()
        if self._make_liveness is not None and self.listener is not None:
            self._liveness = self._make_liveness(self.listener, hand_over=self.take, has_room=self.has_room)
            self._liveness.start()

    def take(self, connection: socket.socket) -> None:
        """Serve a connection accepted elsewhere (the liveness thread); safe from any thread."""
        self._taken.append(connection)
        self._loop.call_soon_threadsafe(self._serve_taken_soon)

    def has_room(self) -> bool:
        """Whether one more connection stays within --max-connections; read from the liveness thread."""
        return len(self.server_state.connections) + len(self._taken) < self._max_connections

    def _serve_taken_soon(self) -> None:
        if self._serving_taken is None or self._serving_taken.done():
            self._serving_taken = asyncio.ensure_future(self._serve_taken())

    def handle_exit(self, sig, frame) -> None:
        # On the main thread, between two bytecodes of whatever runs there (often run() itself).
        if not self.should_exit and self.listener is not None:
            self._stop_listening(self.listener)
        super().handle_exit(sig, frame)

    def _stop_listening(self, listener: socket.socket) -> None:
        if self._liveness is not None:
            self._liveness.stop()
        try:
            while True:
                connection, _ = listener.accept()  # the socket is non-blocking (the event loop's)
                self._taken.append(connection)
        except OSError:
            pass  # BlockingIOError: the queue is empty
        for server in self.servers:
            server.close()
        # Other workers and the supervisor close their copies on the same SIGTERM.
        listener.close()

    async def _serve_taken(self) -> None:
        loop = asyncio.get_running_loop()
        protocol = functools.partial(self.config.http_protocol_class, config=self.config,
                                     server_state=self.server_state, app_state=self.lifespan.state)
        while self._taken:
            connection = self._taken.popleft()
            try:
                await loop.connect_accepted_socket(protocol, connection, ssl=self.config.ssl)
            except OSError:
                connection.close()  # the client left before it was served: nothing to answer

    async def shutdown(self, sockets=None) -> None:
        # Every taken connection is adopted (and its request read: the loop polls I/O before this
        # coroutine resumes) before uvicorn's shutdown closes the connections that have no request.
        if self._serving_taken is not None:
            await self._serving_taken
        await self._serve_taken()
        await super().shutdown(sockets)


def _tls(settings: Settings):
    if settings.tls_cert is None:
        return None
    context = server_context(settings.tls_cert, settings.tls_key)
    return lambda config, default: context


class UvicornServer:
    def __init__(self, app: ScoringApp, settings: Settings, board: BusyBoard):
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
            ssl_context_factory=_tls(settings),
        )
        # Liveness while every worker is in run() (liveness.py) needs to read a request before TLS would
        # let it: with --tls-cert a probe waits for a worker like any request (docs/serve.md).
        liveness = None
        if settings.tls_cert is None:
            liveness = functools.partial(BusyLiveness, board=board, app=app)
        self._server = _DrainingServer(config, settings.max_connections, liveness)

    def run(self, sock: socket.socket) -> None:
        """Serve on the main thread until stop() or SIGTERM/SIGINT, then drain."""
        # uvicorn re-raises the stop signal after draining; these no-ops make that a clean exit 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        self._server.listener = sock
        self._server.run(sockets=[sock])

    def stop(self) -> None:
        """Drain and return from run(); safe from any thread."""
        self._server.should_exit = True
