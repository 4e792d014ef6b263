"""Liveness while every worker is inside run().

run() holds its worker's event loop (app.py), and a busy worker accepts nothing so that the kernel hands
new connections to idle ones (supervisor.py). When every worker is busy, a liveness probe (`GET /`) would
wait in the kernel's queue behind the slowest run(), and a probe with a timeout of a second would report
a healthy server dead. So each worker has a small thread that watches the listener and, only once every
worker has been inside run() for GRACE seconds, takes new connections itself: a `GET /` or `HEAD /` is
answered on the thread, anything else is handed to the worker's event loop unread (MSG_PEEK), which
serves it as any connection once run() returns. While any worker is idle the thread takes nothing, so
the fast path (no thread hop per request or per connection) and the balancing between workers stay as
they were.

Which workers are busy is a shared array of "run() started at" times (CLOCK_MONOTONIC, the same clock in
every process), one slot per worker, in memory mapped before the workers are forked: two stores per
request, no lock."""

import ctypes
import mmap
import select
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

from fleetdeploy.serve.app import Request, ScoringApp, new_request_id

GRACE = 0.02  # seconds every worker must have been in run() before the thread takes connections
_HEAD_WAIT = 0.25  # seconds a taken connection gets to send its request head before it is handed over
_HEAD_LIMIT = 16 * 1024  # bytes of head the thread reads at most; a larger one goes to the loop's limits
_SEND_TIMEOUT = 1.0
_PEEK_AGAIN = 0.005  # seconds between looks at a head that arrives in pieces


class BusyBoard:
    """When each worker's run() started (0.0: not in run()), shared by the forked workers."""

    def __init__(self, workers: int):
        self._memory = mmap.mmap(-1, 8 * workers)  # anonymous and MAP_SHARED: one copy across fork()
        self._started = (ctypes.c_double * workers).from_buffer(self._memory)

    def slot(self, index: int) -> "BusySlot":
        return BusySlot(self._started, index)

    def all_busy_for(self) -> float:
        """Seconds for which every worker has been inside run(); 0.0 while any is not."""
        oldest_start = max(self._started)
        if min(self._started) == 0.0:
            return 0.0
        return time.monotonic() - oldest_start


class BusySlot:
    """One worker's entry on the board: entered just before run(), left just after."""

    __slots__ = ("_index", "_started")

    def __init__(self, started, index: int):
        self._started, self._index = started, index

    def enter(self) -> None:
        self._started[self._index] = time.monotonic()

    def leave(self) -> None:
        self._started[self._index] = 0.0


class BusyLiveness:
    """The thread described above, for one worker. hand_over(connection) must be thread-safe: it gives
    a connection, nothing of it read, to the worker's event loop; has_room() says whether the loop can
    take one more (else connections stay in the kernel's queue, as they would without this thread)."""

    def __init__(self, listener: socket.socket, board: BusyBoard, app: ScoringApp,
                 hand_over: Callable[[socket.socket], None], has_room: Callable[[], bool]):
        self._listener = listener
        self._board = board
        self._app = app
        self._hand_over = hand_over
        self._has_room = has_room
        self._stopped = False
        self._wake_read, self._wake_write = socket.socketpair()
        self._thread = threading.Thread(target=self._watch, name="fleetdeploy-liveness", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Safe from a signal handler: the thread stops touching the listener before it is closed."""
        self._stopped = True
        try:
            self._wake_write.send(b"x")
        except OSError:
            pass

    def _watch(self) -> None:
        poller = select.poll()
        poller.register(self._listener, select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        while not self._stopped:
            poller.poll()
            if self._stopped:
                return
            # A connection is waiting. While any worker is idle it will take it within microseconds;
            # look again later rather than spin on a listener that stays readable until then.
            wait = GRACE - self._board.all_busy_for()
            if wait > 0 or not self._has_room():
                time.sleep(max(wait, GRACE))
                continue
            try:
                connection, _ = self._listener.accept()  # non-blocking: the event loop's socket
            except (BlockingIOError, InterruptedError):
                continue  # another worker freed up and took it
            except OSError:
                return  # the listener was closed (a drain)
            self._take(connection)

    def _take(self, connection: socket.socket) -> None:
        try:
            head = _peek_head(connection)
            request = _liveness_request(head) if head is not None else None
            if request is None:
                connection.setblocking(False)
                self._hand_over(connection)
                return
            connection.recv(len(head))  # the head only: it was peeked, now it is consumed
            self._answer(connection, request)
        except OSError:
            pass  # the client went away
        connection.close()

    def _answer(self, connection: socket.socket, request: Request) -> None:
        started = time.perf_counter()
        response = self._app.respond_alive(request)
        headers = [("content-type", response.content_type), ("content-length", str(len(response.body))),
                   *request.response_headers(), *response.headers, ("connection", "close")]
        lines = [f"HTTP/1.1 {response.status} {HTTPStatus(response.status).phrase}"]
        lines += [f"{name}: {value}" for name, value in headers]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if request.method != "HEAD":
            message += response.body
        connection.settimeout(_SEND_TIMEOUT)
        try:
            connection.sendall(message)
        finally:
            self._app.finished(request, response, started)


def _peek_head(connection: socket.socket) -> bytes | None:
    """The request head (through its blank line) without consuming it; None if it is not a liveness
    request, is not all there within _HEAD_WAIT seconds, or is larger than _HEAD_LIMIT."""
    deadline = time.monotonic() + _HEAD_WAIT
    poller = select.poll()
    poller.register(connection, select.POLLIN)
    seen = b""
    while True:
        end = seen.find(b"\r\n\r\n")
        if end >= 0:
            return seen[: end + 4]
        if len(seen) >= _HEAD_LIMIT or not _may_be_liveness(seen):
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if not seen:
            if not poller.poll(remaining * 1000):
                return None
        else:
            time.sleep(min(_PEEK_AGAIN, remaining))  # peeked bytes keep the socket readable: no poll()
        peeked = connection.recv(_HEAD_LIMIT, socket.MSG_PEEK)
        if not peeked:
            return None  # closed before sending anything
        seen = peeked


_LIVENESS_STARTS = (b"GET / ", b"GET /?", b"HEAD / ", b"HEAD /?")


def _may_be_liveness(received: bytes) -> bool:
    """False as soon as the request line shows a request other than GET / or HEAD /."""
    line = received.split(b"\r\n", 1)[0]
    return any(line.startswith(start) or start.startswith(line) for start in _LIVENESS_STARTS)


def _liveness_request(head: bytes) -> Request | None:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] not in ("GET", "HEAD") or parts[1].split("?", 1)[0] != "/":
        return None
    if not parts[2].startswith("HTTP/1."):
        return None
    request_id = client_request_id = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name, value = name.strip().lower(), value.strip()
        if name == "x-request-id":
            request_id = value
        elif name == "x-ms-client-request-id":
            client_request_id = value
        elif name in ("content-length", "transfer-encoding") and value not in ("", "0"):
            return None  # a body: the loop's parser deals with it
    return Request(parts[0], "/", parts[1].partition("?")[2], None, request_id or new_request_id(),
                   client_request_id)
