"""The app on granian: an RSGI callable that turns granian's scope and protocol into a Request and sends
the Response. Headers are looked up in granian's own (Rust) header map, the body arrives in one await."""

import time

from fleetdeploy.serve.app import ClientGone, Request, ScoringApp, new_request_id, too_large


class RsgiRequest(Request):
    __slots__ = ("_proto", "_scope")

    def __init__(self, scope, proto):
        headers = scope.headers
        super().__init__(scope.method, scope.path, scope.query_string, headers.get("content-length"),
                         headers.get("x-request-id") or new_request_id())
        self._scope = scope
        self._proto = proto

    async def read_body(self, limit: int) -> bytes:
        try:
            if self.content_length is not None:
                return await self._proto()  # declared and within the limit (checked by the app)
            chunks, size = [], 0
            async for chunk in self._proto:  # chunked: count while reading
                size += len(chunk)
                if size > limit:
                    raise too_large(size, limit)
                chunks.append(chunk)
            return b"".join(chunks)
        except (RuntimeError, OSError) as exc:  # granian's ProtocolClosed is a RuntimeError
            raise ClientGone() from exc

    def header_items(self) -> list[tuple[str, str]]:
        return self._scope.headers.items()

    def server(self) -> tuple[str, int, str, str]:
        host, _, port = self._scope.server.rpartition(":")
        return host.strip("[]"), int(port), self._scope.http_version, self._scope.scheme


class RsgiApp:
    def __init__(self, app: ScoringApp):
        self.app = app

    async def __rsgi__(self, scope, proto):
        if scope.proto != "http":
            return  # websockets are switched off in the granian worker
        started = time.perf_counter()
        request = RsgiRequest(scope, proto)
        response = await self.app.respond(request)
        try:
            if response is not None:
                # granian sets Content-Length itself and sends no body to HEAD.
                proto.response_bytes(
                    response.status,
                    [("content-type", response.content_type), ("x-request-id", request.request_id),
                     *response.headers],
                    response.body,
                )
        finally:
            self.app.finished(request, response, started)
