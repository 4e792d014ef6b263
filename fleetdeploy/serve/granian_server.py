"""Serving the app with granian's RSGI interface on the worker's socket.

granian's public API (`granian.Granian`) binds its own socket and runs its own worker processes, which
would take init(), its exit codes, readiness and PR_SET_PDEATHSIG out of our supervisor's hands. So each
of our workers embeds one granian worker the way granian's own worker processes do (granian/server/mp.py):
an RSGIWorker (Rust: HTTP parsing and I/O on its own thread) on our inherited listening socket, handing
requests to an event loop on this process's main thread, where the app runs (and SIGALRM can interrupt
run()). Those are granian internals, hence the narrow version range in requirements/dev.txt (checked at
start, SUPPORTED_SERIES); the integration tests run the contract tests on this backend too."""

import asyncio
import signal
import socket

from granian import __version__ as granian_version  # noqa: F401  (checked by worker.http_server)
from granian._futures import _future_watcher_wrapper, _new_cbscheduler
from granian._granian import RSGIWorker, SocketHolder, WorkerSignal
from granian.http import HTTP1Settings

from fleetdeploy.serve.app import ScoringApp
from fleetdeploy.serve.liveness import BusyBoard
from fleetdeploy.serve.logs import LOG
from fleetdeploy.serve.rsgi import RsgiApp
from fleetdeploy.serve.settings import Settings

SUPPORTED_SERIES = "2.8."  # the granian releases whose worker internals this module was written against
_BACKLOG = 2048  # as main.listen(); granian records it with the socket
_TLS_OFF = (False, None, None, None, "tls1.3", None, [], False)  # (enabled, cert, key, password, min, ca, crl, verify)


def _tls(settings: Settings) -> tuple:
    if settings.tls_cert is None:
        return _TLS_OFF
    # The files passed main.check_endpoint_security's checks (tls.server_context) before the port was taken.
    return (True, str(settings.tls_cert), str(settings.tls_key), None, "tls1.2", None, [], False)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # measured faster for uvicorn; granian's own workers prefer it too
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _http1(settings: Settings) -> HTTP1Settings:
    # hyper's own limits: the head must arrive within the read timeout, and its buffer (at least 8 KiB,
    # hyper's minimum) bounds the head's size.
    return HTTP1Settings(
        header_read_timeout=int(settings.read_timeout * 1000),
        keep_alive=True,
        max_buffer_size=max(settings.max_header_size, 8192),
    )


class GranianServer:
    def __init__(self, app: ScoringApp, settings: Settings, board: BusyBoard):
        # The board is not used: granian's Rust thread accepts and reads every connection itself, and a
        # request reaches Python only on the loop run() holds (docs/serve.md, "Workers and signals").
        del board
        self._app = app
        self._drain_timeout = settings.drain_timeout
        self._settings = settings
        self._loop = _new_loop()  # made here, on the main thread, so stop() can reach it from any thread
        self._signal = WorkerSignal()  # set: granian stops accepting, lets in-flight requests finish
        self._stopped = asyncio.Event()
        self._draining = False

    def run(self, sock: socket.socket) -> None:
        """Serve on the main thread until stop() or SIGTERM/SIGINT, then drain."""
        loop = self._loop
        asyncio.set_event_loop(loop)
        # granian calls this once its connections are closed (the drain is over).
        self._signal.add_cb(lambda: loop.call_soon_threadsafe(self._stopped.set))
        # signal.signal, not loop.add_signal_handler: the handler must run while run() holds the loop, so
        # that granian stops accepting (and closes the listener) at once, not once run() returns.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        worker = RSGIWorker(
            1,  # worker id, only used in granian's own logs
            (None, SocketHolder(sock.fileno(), False, _BACKLOG)),
            None,  # no IPC pipe: granian's metrics are off, ours are in /metrics
            1,  # Rust runtime threads: one, as granian's single-threaded runtime mode
            512,  # Rust blocking threads (granian's default)
            1,  # Python threads: the app runs on the loop, never on them
            30,  # their idle timeout (granian's default)
            self._settings.max_connections,  # requests one granian worker serves at once ("backpressure")
            "1",  # HTTP/1.1 only, as Azure ML's server and clients speak
            _http1(self._settings),
            None,  # HTTP/2 settings
            False,  # no websockets
            None,  # no static files
            *_tls(self._settings),
            (None, None),  # granian's metrics collection: off
        )
        scheduler = _new_cbscheduler(loop, _future_watcher_wrapper(RsgiApp(self._app).__rsgi__), impl_asyncio=False)
        worker.serve_str(scheduler, loop, self._signal)
        loop.run_until_complete(self._stopped.wait())

    def stop(self) -> None:
        """Drain and return from run(); safe from any thread."""
        self._loop.call_soon_threadsafe(self._drain)

    def _on_signal(self, signum, frame) -> None:
        self._signal.set()  # granian's Rust side acts on it at once, the loop being busy or not
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        self._signal.set()
        self._loop.call_later(self._drain_timeout, self._give_up)

    def _give_up(self) -> None:
        if not self._stopped.is_set():
            LOG.warning(f"requests still in flight after the drain timeout of {self._drain_timeout:g} s; stopping")
            self._stopped.set()
