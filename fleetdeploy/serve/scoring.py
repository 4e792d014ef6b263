"""Calling run() for one request: building its arguments, enforcing the scoring timeout, and turning
the result into JSON. Pure of HTTP so it can be unit-tested with plain functions."""

import inspect
import json
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fleetdeploy.serve.entry_script import EntryScript

if TYPE_CHECKING:
    from fleetdeploy.serve.liveness import BusySlot


class ScoreError(Exception):
    """A request that cannot be answered with run()'s result; status and message go to the client."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(ScoreError):
    status = 400


class RunFailed(ScoreError):
    """run() raised; the original exception is the __cause__ (logged with its traceback). The message
    names the exception; the app sends it to clients only when the server is told to (error_detail)."""


class RunTimedOut(ScoreError):
    status = 504


class NotSerialisable(ScoreError):
    pass


class _Alarm(BaseException):
    # BaseException so that a user's `except Exception:` around their model call cannot swallow it.
    pass


class Scorer:
    def __init__(self, script: EntryScript, timeout: float, busy: "BusySlot | None" = None):
        self.script = script
        self.timeout = timeout
        # This worker's slot on the board of workers inside run() (liveness.py); None: not tracked.
        self._busy = busy
        self.last_run_ms = 0.0  # how long the last run() took (one request at a time per worker)
        self._armed = False
        self._main_thread = threading.main_thread().ident
        # SIGALRM instead of a watchdog thread: no thread hop per request. It interrupts Python code;
        # a long call inside C (one huge matrix product) is interrupted when it returns to Python.
        self._use_alarm = timeout > 0 and threading.get_ident() == self._main_thread
        if self._use_alarm:
            signal.signal(signal.SIGALRM, self._on_alarm)

    def score(self, body: str, headers: Mapping[str, str] | None = None) -> bytes:
        """run() on a POST body (a str, passed as is unless run() is @input_schema-decorated)."""
        if self.script.schema_params is None:
            kwargs = {self.script.data_param: body}
        else:
            kwargs = self._schema_arguments(_json_object(body))
        return encode_result(self._call(kwargs, headers))

    def score_query(self, query_string: str, headers: Mapping[str, str] | None = None) -> bytes:
        """run() on GET /score?a=1&b=[1,2]: parameters become a JSON object, values parsed as JSON when
        they are JSON (as Azure ML's server does)."""
        params: dict[str, object] = {}
        for key, value in parse_qsl(query_string, keep_blank_values=True):
            parsed = _maybe_json(value)
            if key in params:
                previous = params[key]
                params[key] = [*previous, parsed] if isinstance(previous, list) else [previous, parsed]
            else:
                params[key] = parsed
        if self.script.schema_params is None:
            kwargs = {self.script.data_param: json.dumps(params)}
        else:
            kwargs = self._schema_arguments(params)
        return encode_result(self._call(kwargs, headers))

    def score_raw(self, request, headers: Mapping[str, str] | None = None) -> object:
        """@rawhttp: run(flask_request); the result is returned as is (a response object, or anything
        encode_result() takes)."""
        return self._call({self.script.data_param: request}, headers)

    def _schema_arguments(self, values: dict) -> dict:
        kwargs = {}
        for param in self.script.schema_params:
            value = values.get(param.name, param.default)
            if value is inspect.Parameter.empty:
                raise BadRequest(f"no value for run()'s {param.name!r} parameter in the request")
            kwargs[param.name] = value
        return kwargs

    def _call(self, kwargs: dict, headers: Mapping[str, str] | None):
        if self.script.takes_headers:
            kwargs["request_headers"] = headers if headers is not None else {}
        on_loop = threading.get_ident() == self._main_thread  # not the sample request on init()'s thread
        alarm = self._use_alarm and on_loop
        busy = self._busy if on_loop else None
        started = time.perf_counter()
        try:
            if alarm:
                self._armed = True
                signal.setitimer(signal.ITIMER_REAL, self.timeout)
            if busy is not None:
                busy.enter()
            try:
                return self.script.run(**kwargs)
            finally:
                if busy is not None:
                    busy.leave()
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                    self._armed = False
                self.last_run_ms = (time.perf_counter() - started) * 1000
        except _Alarm:
            raise RunTimedOut(
                f"run() did not finish within the scoring timeout of {self.timeout:g} s "
                "(raise it with --timeout or FLEETDEPLOY_TIMEOUT)"
            ) from None
        except BaseException as exc:  # SystemExit or KeyboardInterrupt from run() fails one request too
            raise RunFailed(f"run() raised {type(exc).__name__}: {exc}".splitlines()[0]) from exc

    def _on_alarm(self, signum, frame):
        if self._armed:
            self._armed = False
            raise _Alarm()


def encode_result(result: object) -> bytes:
    """JSON bytes of run()'s result; numpy arrays and scalars become lists and numbers."""
    try:
        return _ENCODER.encode(result).encode()
    except (TypeError, ValueError) as exc:
        raise NotSerialisable(f"run() returned a value that is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise NotSerialisable("run() returned a value nested too deeply to encode as JSON") from None


def _numpy_aware(value: object):
    # Duck-typed so the server never imports numpy itself (it is the user's dependency, not ours).
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    raise TypeError(f"type {name} (return lists, dicts, strings, numbers or numpy arrays)")


# One encoder for the process: json.dumps(default=...) would build a new one per call.
_ENCODER = json.JSONEncoder(default=_numpy_aware)


def _json_object(body: str) -> dict:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON ({exc}); run() takes named inputs (@input_schema)") from None
    except RecursionError:
        raise _too_deep("the body") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object whose keys are run()'s parameters (@input_schema)")
    return value


def _maybe_json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        raise _too_deep("a query parameter") from None


def _too_deep(what: str) -> BadRequest:
    # json.loads recurses once per nesting level: `[[[[...` a few thousand deep exhausts Python's stack.
    return BadRequest(f"{what} is JSON nested too deeply to parse (over {sys.getrecursionlimit()} levels)")
