"""Logging for the server: one JSON object a line on stderr, so node log shippers (journald, docker's
json-file) can filter by request id, status or level without parsing free text. The entry script's
own `logging` calls go through the same handler."""

import json
import logging
import sys
import time

ACCESS = logging.getLogger("fleetdeploy.access")
LOG = logging.getLogger("fleetdeploy.serve")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        message = record.getMessage()
        if message:
            line["msg"] = message
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log is replaced by ours (one line per request with the request id).
    logging.getLogger("uvicorn.access").disabled = True


def log_access(method: str, path: str, status: int, ms: float, size: int, request_id: str) -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        fields = {"method": method, "path": path, "status": status, "ms": round(ms, 3), "bytes": size,
                  "request_id": request_id}
        ACCESS.info("", extra={"fields": fields})
