"""uvicorn's httptools protocol with the limits a server facing untrusted clients needs and uvicorn leaves
out (docs/serve.md, "Limits"): a cap on a worker's open connections, on the size of a request's head, on
the time the head may take to arrive and on how long its body may stall. Without them one client holds a
connection forever by sending nothing, or half a body, or headers without end. uvicorn's own idle
keep-alive timeout stays as it is.

Refusals that come before the app has the request are written straight to the socket in the app's JSON
error format, then the connection is closed; a stalled body wakes the app's read (asgi.py), which answers
408 itself, so it is logged and counted like any other answer."""

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from fleetdeploy.serve.app import BODY_STALLED, SERVER_VERSION, error, new_request_id
from fleetdeploy.serve.logs import log_access
from fleetdeploy.serve.settings import Settings

# A refused connection is closed after the client's unread bytes are drained, for at most this long: closing
# with bytes unread makes the kernel send a reset, which can reach the client before it has read the refusal
# (nginx's lingering_close, Apache's lingering close).
_LINGER = 2.0

# A timer that fires this late means the event loop was held (run() of another request on this worker):
# the client may well have sent everything meanwhile, unread. Look again after the loop has read.
_LOOP_HELD = 0.1
_GRACE = 0.2


def limited_protocol(settings: Settings) -> type:
    """The protocol class for uvicorn.Config(http=...), with this server's limits."""

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._in_head = True  # bytes received now belong to a request line and headers
            self._in_body = False
            self._head_bytes = 0  # raw bytes received for a head still incomplete
            self._head_size = 0  # exact size of the parsed request line and headers
            self._head_too_large = False
            self._timer = None
            self._deadline = 0.0
            self._refused = False  # answered and closing: what still arrives is read and dropped

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > settings.max_connections:
                self._refuse(503, f"this worker already has {settings.max_connections} open connections "
                                  "(--max-connections); retry shortly", (b"retry-after: 1\r\n",))
                return
            self._arm(self._head_late)  # a client that connects and sends nothing is not kept for ever

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self._head_too_large or (self._in_head and self._head_bytes > settings.max_header_size):
                self._refuse(431, f"the request line and headers are over {settings.max_header_size} bytes "
                                  "(--max-header-size)")
            elif self._in_head and self._head_bytes and self._timer is None:
                self._arm(self._head_late)
            elif self._in_body:
                self._arm(self._body_stalled)  # a stall is counted from the last bytes received

        # The parser's callbacks, during super().data_received().
        def on_message_begin(self) -> None:
            self._head_size = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value) + 4
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head, self._in_body, self._head_bytes = False, True, 0
            self._disarm()
            if self._head_size > settings.max_header_size:
                self._head_too_large = True  # refused once the parser returns; the app never sees it
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._head_too_large:
                super().on_body(body)

        def on_message_complete(self) -> None:
            self._in_head, self._in_body = True, False
            self._disarm()
            if not self._head_too_large:
                super().on_message_complete()

        def _arm(self, callback) -> None:
            self._disarm()
            self._deadline = self.loop.time() + settings.read_timeout
            self._timer = self.loop.call_at(self._deadline, callback)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _held(self, callback) -> bool:
            if self.loop.time() - self._deadline <= _LOOP_HELD:
                return False
            self._deadline = self.loop.time() + _GRACE
            self._timer = self.loop.call_at(self._deadline, callback)
            return True

        def _head_late(self) -> None:
            self._timer = None
            if self._in_head and not self.transport.is_closing() and not self._held(self._head_late):
                self._refuse(408, f"the request headers did not arrive within {settings.read_timeout:g} s "
                                  "(--read-timeout)")

        def _body_stalled(self) -> None:
            self._timer = None
            cycle = self.cycle
            if not self._in_body or cycle is None or self._held(self._body_stalled):
                return
            cycle.scope[BODY_STALLED] = settings.read_timeout
            cycle.keep_alive = False  # the rest of the body, if it ever comes, is not read
            cycle.message_event.set()  # wakes the app's read, which answers 408

        def _refuse(self, status: int, message: str, extra: tuple = ()) -> None:
            request_id = new_request_id()
            body = error(status, message, request_id).body  # the app's own error format
            self.transport.write(b"".join([
                STATUS_LINE[status],
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"x-request-id: %s\r\n" % request_id.encode(),
                b"x-ms-server-version: %s\r\n" % SERVER_VERSION.encode(),
                *extra,
                b"connection: close\r\n\r\n",
                body,
            ]))
            self._disarm()
            self._refused = True
            if self.transport.can_write_eof():
                self.transport.write_eof()  # the answer, then FIN; the client's EOF or the timer closes
                self._timer = self.loop.call_later(_LINGER, self.transport.close)
            else:
                self.transport.close()
            log_access("-", "-", status, 0.0, len(body), request_id)

    return LimitedHttpToolsProtocol
