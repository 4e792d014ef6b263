"""The HTTP surface: routing, readiness, scoring, errors, request ids, metrics and the access log, written
once for both HTTP servers. No framework: the per-request budget is tens of microseconds. asgi.py
(uvicorn) and rsgi.py (granian) are thin adapters that turn their server's request into a `Request` and
send the `Response` back.

run() is called on the event loop's thread on purpose (both servers run the loop on the worker's main
thread): one worker scores one request at a time, as Azure ML's server does, without a thread hop per
request, and the SIGALRM scoring timeout works; workers add parallelism. Liveness while every worker is busy is
answered off the loop (liveness.py)."""

import itertools
import json
import os
import time
from dataclasses import dataclass

from fleetdeploy import __version__
from fleetdeploy.serve import rawhttp
from fleetdeploy.serve.auth import KeyCheck
from fleetdeploy.serve.logs import LOG, log_access
from fleetdeploy.serve.metrics import Metrics
from fleetdeploy.serve.scoring import (
    BadRequest,
    NotSerialisable,
    RunFailed,
    RunTimedOut,
    ScoreError,
    Scorer,
    encode_result,
)
from fleetdeploy.serve.settings import Settings

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"

# Azure ML's server refuses longer request ids with 431 rather than echo and log whatever a client sends.
REQUEST_ID_LIMIT = 100
# Sent on every response, as Azure's server sends its own (`azmlinfsrv/1.4.0`).
SERVER_VERSION = f"fleetdeploy/{__version__}"
# Errors that come from the entry script's run(): Azure marks them for clients and dashboards.
_RUN_ERRORS = (RunFailed, RunTimedOut, NotSerialisable)
_RUN_FAILED = (("x-ms-run-function-failed", "True"),)
_BEARER = (("www-authenticate", 'Bearer realm="fleetdeploy"'),)


class RequestIds:
    """Ids for requests that bring none: a random per-process prefix and a counter (uuid4() costs a
    syscall and ~2 us a request; these stay unique across workers and restarts)."""

    def __init__(self):
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)
        os.register_at_fork(after_in_child=self.__init__)  # forked workers must not share a prefix

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"


new_request_id = RequestIds().next


class PayloadTooLarge(ScoreError):
    status = 413


class BodyStalled(ScoreError):
    status = 408


# Set in an ASGI request's scope when its body stalled (uvicorn_limits.py); the read answers BodyStalled.
BODY_STALLED = "fleetdeploy.body_stalled"


def body_stalled(seconds: float) -> BodyStalled:
    return BodyStalled(f"the request body stopped arriving for {seconds:g} s (--read-timeout)")


class ClientGone(Exception):
    """The client closed the connection before its body arrived: nothing can be answered."""


class Readiness:
    """Ready only once init() (and the sample request, when configured) succeeded."""

    def __init__(self):
        self.ready = False
        self.reason = "init() has not finished yet"

    def set(self, ready: bool, reason: str = "") -> None:
        self.reason = reason
        self.ready = ready


class Request:
    """One request as the app sees it. Adapters fill the fields and implement the methods; headers and
    server details are methods because only some requests need them (run(request_headers), @rawhttp)."""

    __slots__ = ("authorization", "client_request_id", "content_length", "method", "path", "query_string",
                 "request_id")

    def __init__(self, method: str, path: str, query_string: str, content_length: str | None, request_id: str,
                 client_request_id: str | None = None, authorization: str | None = None):
        self.method = method
        self.path = path
        self.query_string = query_string
        self.content_length = content_length  # the Content-Length header as sent, or None
        self.request_id = request_id
        self.client_request_id = client_request_id  # x-ms-client-request-id as sent, echoed back
        self.authorization = authorization  # the Authorization header, for key auth

    def response_headers(self) -> list[tuple[str, str]]:
        """The headers every response carries beyond content-type and content-length."""
        headers = [("x-request-id", self.request_id), ("x-ms-server-version", SERVER_VERSION)]
        if self.client_request_id is not None:
            headers.append(("x-ms-client-request-id", self.client_request_id))
        return headers

    async def read_body(self, limit: int, stall_timeout: float) -> bytes:
        """The whole body; PayloadTooLarge past `limit` bytes, ClientGone if the client left, BodyStalled
        if it stopped sending for `stall_timeout` seconds."""
        raise NotImplementedError

    def header_items(self) -> list[tuple[str, str]]:
        """(lower-case name, value) pairs, repeated headers repeated."""
        raise NotImplementedError

    def server(self) -> tuple[str, int, str, str]:
        """(host, port, http version, scheme) the request came in on (for @rawhttp's Flask request)."""
        raise NotImplementedError


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple = ()  # (name, value) str pairs beyond content-type, content-length, x-request-id


HEALTHY = Response(200, b"Healthy", TEXT)  # liveness, as Azure's server answers it

# Seconds a client is told to wait before retrying a request refused while init() runs (it usually takes
# a second or two: docs/serve.md).
NOT_READY_RETRY_AFTER = "1"


def error(status: int, message: str, request_id: str, headers: tuple = ()) -> Response:
    """The JSON error every failure answers with; the request id lets a client quote the log line."""
    return Response(status, json.dumps({"message": message, "request_id": request_id}).encode(), JSON, headers)


class ScoringApp:
    def __init__(self, settings: Settings, scorer: Scorer, metrics: Metrics, readiness: Readiness):
        self.settings = settings
        self.scorer = scorer
        self.metrics = metrics
        self.readiness = readiness
        # Key auth (--auth-key-file), or None: every path open, as Azure's local server and the seed's flow.
        self.auth = KeyCheck(settings.auth_key_file) if settings.auth_key_file is not None else None
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

    async def respond(self, request: Request) -> Response | None:
        """The response to send, or None when the client is gone. Call finished() once it is sent."""
        self.metrics.request_started()
        path, method = request.path, request.method
        route = self._routes.get(path)
        try:
            if _ids_too_long(request):
                return _id_too_long(request)
            if self.auth is not None and not self._opens(request):
                # Which keys exist, or whether the one sent was close, is not said.
                return error(401, "this service needs a key: send Authorization: Bearer <key>",
                             request.request_id, _BEARER)
            if route is None:
                return error(404, f"no such path: {path} (scoring is at POST /score)", request.request_id)
            if method not in route[0]:
                allow = ", ".join(route[0])
                return error(405, f"{method} is not allowed on {path} (allowed: {allow})", request.request_id,
                             (("allow", allow),))
            return await route[1](request)
        except ClientGone:
            return None
        except ScoreError as exc:
            return self._score_error(request, exc)
        except Exception:  # noqa: BLE001  (a server bug must still answer, and be logged)
            LOG.exception("unexpected server error", extra={"fields": {"request_id": request.request_id}})
            return error(500, "internal server error (see the server log for this request id)", request.request_id)

    def _opens(self, request: Request) -> bool:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return True  # liveness stays open, for probes that hold no key
        return self.auth.allows(request.authorization, metrics_only=request.path == "/metrics")

    def _score_error(self, request: Request, exc: ScoreError) -> Response:
        if not isinstance(exc, _RUN_ERRORS):
            return error(exc.status, exc.message, request.request_id)
        message = exc.message
        if isinstance(exc, RunFailed):
            LOG.error(message, exc_info=exc.__cause__, extra={"fields": {"request_id": request.request_id}})
            # The exception's text may carry what run() was given or holds (a password in a connection
            # string): clients get it only when the server is told to send it (--error-detail).
            if not self.settings.error_detail:
                message = "run() failed"
        return error(exc.status, message, request.request_id, _RUN_FAILED)

    def finished(self, request: Request, response: Response | None, started: float) -> None:
        """Metrics and the access line; a client that left is counted and logged as 499, as nginx does."""
        status, size = (response.status, len(response.body)) if response is not None else (499, 0)
        elapsed = time.perf_counter() - started
        endpoint = request.path if request.path in self._routes else "other"
        self.metrics.request_finished(endpoint, status, elapsed)
        log_access(request.method, request.path, status, elapsed * 1000, size, request.request_id)

    async def _score(self, request: Request) -> Response:
        if not self.readiness.ready:
            # init() still running (a start, a reboot, a restart after a crash): clients may retry soon.
            return error(503, f"not ready: {self.readiness.reason}", request.request_id,
                         (("Retry-After", NOT_READY_RETRY_AFTER),))
        headers = _header_dict(request.header_items()) if self.scorer.script.takes_headers else None
        if self.scorer.script.rawhttp:
            return await self._score_raw(request, headers)
        if request.method == "GET":
            return self._scored(self.scorer.score_query(request.query_string, headers))
        body = await self._read_body(request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the body is not UTF-8 text (byte {body[exc.start]:#04x} at offset {exc.start})")
        return self._scored(self.scorer.score(text, headers))

    async def _score_raw(self, request: Request, headers) -> Response:
        body = await self._read_body(request)
        result = self.scorer.score_raw(rawhttp.flask_request(request, body), headers)
        if rawhttp.is_response(result):
            status, body, content_type, own_headers = rawhttp.unpack_response(result)
            # As Azure: a response run() built itself with a 5xx status counts as a failed run().
            return Response(status, body, content_type, (*own_headers, *self._run_headers(status < 500)))
        return self._scored(encode_result(result))

    def _scored(self, body: bytes) -> Response:
        return Response(200, body, JSON, self._run_headers(True))

    def _run_headers(self, succeeded: bool) -> tuple:
        # Azure's names and formats: clients and dashboards written for Azure ML read these.
        return (("x-ms-run-function-failed", "False" if succeeded else "True"),
                ("x-ms-run-fn-exec-ms", f"{self.scorer.last_run_ms:.3f}"))

    async def _read_body(self, request: Request) -> bytes:
        limit, declared = self.settings.max_body, request.content_length
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large(int(declared), limit)  # refused before reading a byte of it
        return await request.read_body(limit, self.settings.read_timeout)

    async def _liveness(self, _):
        return HEALTHY

    def respond_alive(self, request: Request) -> Response:
        """GET / answered off the event loop while every worker is in run() (liveness.py), by respond()'s
        rules for that path. Call finished() once it is sent."""
        self.metrics.request_started()
        if _ids_too_long(request):
            return _id_too_long(request)
        return HEALTHY

    async def _ready(self, _):
        if self.readiness.ready:
            return Response(200, b'{"ready": true}')
        return Response(503, json.dumps({"ready": False, "reason": self.readiness.reason}).encode())

    async def _metrics(self, _):
        return Response(200, self.metrics.render(), self.metrics.content_type)

    async def _version(self, request):
        if self.identity is None:
            return error(503, "still computing the hashes of the model files", request.request_id)
        return Response(200, self.identity)

    async def _swagger(self, request):
        if self.swagger is None:
            return error(404, "no swagger.json: run() is not decorated with inference-schema's "
                              "@input_schema/@output_schema (or inference-schema is not installed)",
                         request.request_id)
        return Response(200, self.swagger)


def _ids_too_long(request: Request) -> bool:
    return len(request.request_id) > REQUEST_ID_LIMIT or len(request.client_request_id or "") > REQUEST_ID_LIMIT


def _id_too_long(request: Request) -> Response:
    # Neither echoed nor logged: the response and the access line get an id of our own.
    request.request_id, request.client_request_id = new_request_id(), None
    return error(431, f"x-request-id and x-ms-client-request-id must not exceed {REQUEST_ID_LIMIT} characters",
                 request.request_id)


def _header_dict(items) -> dict[str, str]:
    # Azure ML passes dict(flask.request.headers): Title-Cased names ("X-Request-Id").
    return {name.title(): value for name, value in items}


def too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is {size} bytes, over the limit of {limit} bytes (raise it with --max-body or FLEETDEPLOY_MAX_BODY)"
    )
