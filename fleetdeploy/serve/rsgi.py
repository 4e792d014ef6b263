"""The app on granian: an RSGI callable that turns granian's scope and protocol into a Request and sends
the Response. Headers are looked up in granian's own (Rust) header map, the body arrives in one await."""

import asyncio
import time

from fleetdeploy.serve.app import ClientGone, Request, ScoringApp, body_stalled, new_request_id, too_large


class RsgiRequest(Request):
    __slots__ = ("_proto", "_scope")

    def __init__(self, scope, proto):
        headers = scope.headers
        super().__init__(scope.method, scope.path, scope.query_string, headers.get("content-length"),
                         headers.get("x-request-id") or new_request_id(), headers.get("x-ms-client-request-id"),
                         headers.get("authorization"))
        self._scope = scope
        self._proto = proto

    async def read_body(self, limit: int, stall_timeout: float) -> bytes:
        try:
            if self.content_length is not None:
                # Declared and within the limit (checked by the app); granian hands it over in one piece,
                # so the whole body gets `stall_timeout`.
                return await asyncio.wait_for(self._proto(), stall_timeout)
            chunks, size = [], 0
            pieces = self._proto.__aiter__()
            while True:  # chunked: count while reading, each piece within `stall_timeout`
                try:
                    chunk = await asyncio.wait_for(pieces.__anext__(), stall_timeout)
                except StopAsyncIteration:
                    return b"".join(chunks)
                size += len(chunk)
                if size > limit:
                    raise too_large(size, limit)
                chunks.append(chunk)
        except TimeoutError:
            raise body_stalled(stall_timeout) from None
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
        response = None
        try:
            response = await self.app.respond(request)
            if response is not None:
                # granian sets Content-Length itself and sends no body to HEAD.
                proto.response_bytes(
                    response.status,
                    [("content-type", response.content_type), *request.response_headers(), *response.headers],
                    response.body,
                )
        finally:
            self.app.finished(request, response, started)
