"""The HTTP surface, as a bare ASGI application (no framework: the per-request budget is tens of
microseconds). run() is called on the event loop's thread on purpose: one worker scores one request at
a time, as Azure ML's server does, without a thread hop per request; workers add parallelism."""

import itertools
import json
import os
import time
from dataclasses import dataclass

from fleetdeploy.serve import rawhttp
from fleetdeploy.serve.logs import LOG, log_access
from fleetdeploy.serve.metrics import Metrics
from fleetdeploy.serve.scoring import BadRequest, RunFailed, ScoreError, Scorer, encode_result
from fleetdeploy.serve.settings import Settings

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


class RequestIds:
    """Ids for requests that bring none: a random per-process prefix and a counter (uuid4() costs a
    syscall and ~2 us a request; these stay unique across workers and restarts)."""

    def __init__(self):
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)
        os.register_at_fork(after_in_child=self.__init__)  # forked workers must not share a prefix

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"


_request_ids = RequestIds()


class PayloadTooLarge(ScoreError):
    status = 413


class ClientGone(Exception):
    pass


class Readiness:
    """Ready only once init() (and the sample request, when configured) succeeded."""

    def __init__(self):
        self.ready = False
        self.reason = "init() has not finished yet"

    def set(self, ready: bool, reason: str = "") -> None:
        self.reason = reason
        self.ready = ready


@dataclass
class Response:
    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple = ()


def error(status: int, message: str, headers: tuple = ()) -> Response:
    return Response(status, json.dumps({"message": message}).encode(), JSON, headers)


class ScoringApp:
    def __init__(self, settings: Settings, scorer: Scorer, metrics: Metrics, readiness: Readiness):
        self.settings = settings
        self.scorer = scorer
        self.metrics = metrics
        self.readiness = readiness
        self.identity: bytes | None = None  # GET /version body, set once the hashes are computed
        self.swagger: bytes | None = None
        self._routes = {
            "/": (("GET", "HEAD"), self._liveness),
            "/score": (("POST", "GET"), self._score),
            "/ready": (("GET",), self._ready),
            "/metrics": (("GET",), self._metrics),
            "/version": (("GET",), self._version),
            "/swagger.json": (("GET",), self._swagger),
        }

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return  # lifespan events are switched off in the uvicorn config
        started = time.perf_counter()
        request_id = content_length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"content-length":
                content_length = value
        if not request_id:
            request_id = _request_ids.next()
        path, method = scope["path"], scope["method"]
        route = self._routes.get(path)
        self.metrics.request_started()
        response = None
        try:
            if route is None:
                response = error(404, f"no such path: {path} (scoring is at POST /score)")
            elif method not in route[0]:
                allow = ", ".join(route[0])
                response = error(405, f"{method} is not allowed on {path} (allowed: {allow})",
                                 ((b"allow", allow.encode()),))
            else:
                response = await route[1](scope, receive, content_length, request_id)
        except ClientGone:
            response = Response(499, b"")  # nothing can be sent; counted and logged as nginx does
            return
        except ScoreError as exc:
            response = error(exc.status, exc.message)
            if isinstance(exc, RunFailed):
                LOG.error("run() failed", exc_info=exc.__cause__, extra={"fields": {"request_id": request_id}})
        except Exception:  # noqa: BLE001  (a server bug must still answer, and be logged)
            LOG.exception("unexpected server error", extra={"fields": {"request_id": request_id}})
            response = error(500, "internal server error (see the server log for this request id)")
        finally:
            if response is not None and response.status != 499:
                await _send(send, response, request_id, method == "HEAD")
            if response is not None:
                elapsed = time.perf_counter() - started
                endpoint = path if route is not None else "other"
                self.metrics.request_finished(endpoint, response.status, elapsed)
                log_access(method, path, response.status, elapsed * 1000, len(response.body), request_id)

    async def _score(self, scope, receive, content_length, request_id) -> Response:
        if not self.readiness.ready:
            return error(503, f"not ready: {self.readiness.reason}")
        headers = _header_dict(scope["headers"]) if self.scorer.script.takes_headers else None
        if self.scorer.script.rawhttp:
            return await self._score_raw(scope, receive, content_length, headers)
        if scope["method"] == "GET":
            return Response(200, self.scorer.score_query(scope["query_string"].decode("latin-1"), headers))
        body = await self._read_body(receive, content_length)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the body is not UTF-8 text (byte {body[exc.start]:#04x} at offset {exc.start})")
        return Response(200, self.scorer.score(text, headers))

    async def _score_raw(self, scope, receive, content_length, headers) -> Response:
        body = await self._read_body(receive, content_length)
        result = self.scorer.score_raw(rawhttp.flask_request(scope, body), headers)
        if rawhttp.is_response(result):
            return Response(*rawhttp.unpack_response(result))
        return Response(200, encode_result(result))

    async def _read_body(self, receive, content_length) -> bytes:
        limit = self.settings.max_body
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            raise _too_large(int(content_length), limit)
        message = await receive()
        body = message.get("body", b"")
        if len(body) > limit:  # chunked: uvicorn may hand over everything received so far at once
            raise _too_large(len(body), limit)
        if not message.get("more_body"):
            return body  # the common case: the whole body arrived in one piece
        chunks, size = [body], len(body)
        while message.get("more_body"):
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _liveness(self, *_):
        return Response(200, b"Healthy", TEXT)

    async def _ready(self, *_):
        if self.readiness.ready:
            return Response(200, b'{"ready": true}')
        return Response(503, json.dumps({"ready": False, "reason": self.readiness.reason}).encode())

    async def _metrics(self, *_):
        return Response(200, self.metrics.render(), self.metrics.content_type.encode())

    async def _version(self, *_):
        if self.identity is None:
            return error(503, "still computing the hashes of the model files")
        return Response(200, self.identity)

    async def _swagger(self, *_):
        if self.swagger is None:
            return error(404, "no swagger.json: run() is not decorated with inference-schema's "
                              "@input_schema/@output_schema (or inference-schema is not installed)")
        return Response(200, self.swagger)


async def _send(send, response: Response, request_id: str, head: bool) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
        *response.headers,
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


def _header_dict(raw_headers) -> dict[str, str]:
    # Azure ML passes dict(flask.request.headers): Title-Cased names ("X-Request-Id").
    return {name.decode("latin-1").title(): value.decode("latin-1") for name, value in raw_headers}


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is {size} bytes, over the limit of {limit} bytes (raise it with --max-body or FLEETDEPLOY_MAX_BODY)"
    )
