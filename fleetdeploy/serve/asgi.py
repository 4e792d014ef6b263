"""The app on uvicorn: an ASGI callable that turns the scope into a Request and sends the Response."""

import time

from fleetdeploy.serve.app import (
    BODY_STALLED,
    ClientGone,
    Request,
    ScoringApp,
    body_stalled,
    new_request_id,
    too_large,
)


class AsgiRequest(Request):
    __slots__ = ("_receive", "_scope")

    def __init__(self, scope, receive):
        request_id = content_length = client_request_id = authorization = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"content-length":
                content_length = value.decode("latin-1")
            elif name == b"x-ms-client-request-id":
                client_request_id = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        super().__init__(scope["method"], scope["path"], scope["query_string"].decode("latin-1"), content_length,
                         request_id or new_request_id(), client_request_id, authorization)
        self._scope = scope
        self._receive = receive

    async def read_body(self, limit: int, stall_timeout: float) -> bytes:
        # The stall timer is uvicorn_limits' (no timer on the hot path: it starts only when a body comes
        # in pieces); it flags the scope and wakes this read.
        message = await self._receive()
        body = message.get("body", b"")
        if len(body) > limit:  # chunked: uvicorn may hand over everything received so far at once
            raise too_large(len(body), limit)
        if not message.get("more_body"):
            return body  # the common case: the whole body arrived in one piece
        chunks, size = [body], len(body)
        while message.get("more_body"):
            message = await self._receive()
            if BODY_STALLED in self._scope:
                raise body_stalled(stall_timeout)
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def header_items(self) -> list[tuple[str, str]]:
        return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in self._scope["headers"]]

    def server(self) -> tuple[str, int, str, str]:
        host, port = self._scope.get("server") or ("127.0.0.1", 80)
        return str(host), int(port), self._scope.get("http_version", "1.1"), self._scope.get("scheme", "http")


class AsgiApp:
    def __init__(self, app: ScoringApp):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return  # lifespan events are switched off in the uvicorn config
        started = time.perf_counter()
        request = AsgiRequest(scope, receive)
        response = None
        try:
            response = await self.app.respond(request)
            if response is not None:
                headers = [
                    (b"content-type", response.content_type.encode("latin-1")),
                    (b"content-length", str(len(response.body)).encode()),
                    *((name.encode("latin-1"), value.encode("latin-1"))
                      for name, value in (*request.response_headers(), *response.headers)),
                ]
                await send({"type": "http.response.start", "status": response.status, "headers": headers})
                await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else response.body})
        finally:
            self.app.finished(request, response, started)
