"""An entry script whose run() does what the request asks, to exercise the server's behaviours.
Env: TOOLBOX_MARKERS (folder: init() drops a file named after its pid), TOOLBOX_INIT_GATE (init() waits
until this file exists), TOOLBOX_INIT_FAIL (init() raises)."""

import json
import os
import time

import numpy as np


def init():
    markers = os.environ.get("TOOLBOX_MARKERS")
    if markers:
        open(os.path.join(markers, str(os.getpid())), "w").close()
    gate = os.environ.get("TOOLBOX_INIT_GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.02)
    if os.environ.get("TOOLBOX_INIT_FAIL"):
        raise RuntimeError("cannot unpickle model.pkl: truncated file")


def run(raw_data, request_headers):
    request = json.loads(raw_data)
    action = request.get("action", "echo")
    if action == "echo":
        return {"raw": raw_data, "pid": os.getpid()}
    if action == "raise":
        raise ValueError("expected 784 pixels, got 3")
    if action == "leak":  # the kind of message a server must not send to clients
        raise ConnectionError("cannot reach postgres://scorer:password=hunter2@db/features")
    if action == "exit":
        raise SystemExit(3)
    if action == "interrupt":
        raise KeyboardInterrupt()
    if action == "sleep":
        if "started" in request:  # lets a test know run() is under way before it acts
            open(request["started"], "w").close()
        time.sleep(request["seconds"])
        return {"slept": request["seconds"], "pid": os.getpid()}
    if action == "spin":  # pure Python, holding the GIL but for the interpreter's switches
        if "started" in request:
            open(request["started"], "w").close()
        deadline = time.monotonic() + request["seconds"]
        while time.monotonic() < deadline:
            pass
        return {"spun": request["seconds"], "pid": os.getpid()}
    if action == "numpy":
        return {"array": np.arange(3), "scalar": np.float32(1.5)}
    if action == "set":
        return {1, 2}
    if action == "headers":
        return request_headers
    raise KeyError(action)
