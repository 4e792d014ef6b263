"""Logging for the server: one JSON object a line on stderr, so node log shippers (journald, docker's
json-file) can filter by request id, status or level without parsing free text. The entry script's
own `logging` calls go through the same handler.

Lines are buffered and flushed every 0.1 s (warnings and errors at once): a write() per access line
was a third of the server's per-request cost in the benchmark (docs/serve.md)."""

import atexit
import io
import json
import logging
import os
import threading
import time

ACCESS = logging.getLogger("fleetdeploy.access")
LOG = logging.getLogger("fleetdeploy.serve")

_FLUSH_EVERY = 0.1  # seconds a line may wait in the buffer
_quote = json.encoder.encode_basestring_ascii  # the C string escaper json.dumps itself uses


class _Output:
    """A buffered stderr shared by every handler of this process, flushed by a small timer thread."""

    def __init__(self):
        self._stream = io.BufferedWriter(io.FileIO(os.dup(2), "w"), buffer_size=64 * 1024)
        self._lock = threading.Lock()
        self._start_flusher()
        # Across fork(): flush first (else parent and child would both write what was buffered) and
        # hold the lock so the child's copy is not left locked by a thread that does not exist there.
        os.register_at_fork(before=self._before_fork, after_in_parent=self._lock.release,
                            after_in_child=self._after_fork_in_child)
        atexit.register(self.flush)

    def write(self, line: str, flush: bool = False) -> None:
        with self._lock:
            self._stream.write(line.encode("utf-8", "backslashreplace"))
            if flush:
                self._stream.flush()

    def flush(self) -> None:
        with self._lock:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed (the container is going away); nothing better to do

    def _before_fork(self) -> None:
        self._lock.acquire()
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def _after_fork_in_child(self) -> None:
        self._lock.release()
        self._start_flusher()  # threads do not survive fork()

    def _start_flusher(self) -> None:
        def loop():
            while True:
                time.sleep(_FLUSH_EVERY)
                self.flush()

        threading.Thread(target=loop, name="fleetdeploy-log-flush", daemon=True).start()


_output: _Output | None = None
_second = (0, "")  # (unix second, its formatted form): one strftime a second, not one a line


def _timestamp(created: float) -> str:
    global _second
    whole = int(created)
    if whole != _second[0]:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((created - whole) * 1000):03d}Z"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": _timestamp(record.created), "level": record.levelname.lower(), "logger": record.name}
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        message = record.getMessage()
        if message:
            line["msg"] = message
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _output.write(self.format(record) + "\n", flush=record.levelno >= logging.WARNING)
        except Exception:  # noqa: BLE001  (logging must never take the server down)
            self.handleError(record)

    def flush(self) -> None:
        _output.flush()


def setup_logging(level: str) -> None:
    global _output
    if _output is None:
        _output = _Output()
    handler = _Handler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log is replaced by ours (one line per request with the request id).
    logging.getLogger("uvicorn.access").disabled = True


def flush_logs() -> None:
    if _output is not None:
        _output.flush()


def log_access(method: str, path: str, status: int, ms: float, size: int, request_id: str) -> None:
    # Written directly rather than through a LogRecord: same format, a third of the cost.
    if _output is not None and ACCESS.isEnabledFor(logging.INFO):
        _output.write(
            f'{{"ts": "{_timestamp(time.time())}", "level": "info", "logger": "fleetdeploy.access", '
            f'"method": {_quote(method)}, "path": {_quote(path)}, "status": {status}, "ms": {ms:.3f}, '
            f'"bytes": {size}, "request_id": {_quote(request_id)}}}\n'
        )
