"""A tiny HTTP server on a real socket that fails on purpose, one way per `mode`, to prove the load
generator sees each failure for what it is:

    ok          200 "[2]" with keep-alive
    error       503 with keep-alive
    reset       reads the request, then closes with SO_LINGER 0 (the client gets a TCP reset)
    close       reads the request, then closes without answering (a clean FIN, no answer)
    hang        reads the request and never answers (the client times out)
    idle-close  answers with keep-alive, then closes each connection `idle_close_after` s after its
                last answer (a server-side close of a pooled connection)

`release` is what GET /version reports; set it while running to simulate a switch."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Self


class MisbehavingServer:
    def __init__(self, mode: str, *, release: str = "r1", idle_close_after: float = 0.2):
        self.mode = mode
        self.release = release
        self.idle_close_after = idle_close_after
        self.requests = 0  # requests read, whatever became of them
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc_info) -> None:
        self._closing.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=1)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        with client:
            reader = client.makefile("rb")
            # Only idle-close gives up on a quiet connection (a buffered reader is unusable after a
            # timeout, so the connection ends there); other modes wait for the client to close it.
            client.settimeout(self.idle_close_after if self.mode == "idle-close" else None)
            while not self._closing.is_set():
                try:
                    request = _read_request(reader)
                except OSError:  # idle-close's timeout, or the client went away
                    return
                if request is None:
                    return
                with self._lock:
                    self.requests += 1
                if not self._answer(client, *request):
                    return

    def _answer(self, client: socket.socket, method: str, path: str) -> bool:
        """Act out the mode for one request; False when the connection is done."""
        if path == "/version":
            return _send(client, 200, json.dumps({"service": "misbehaving", "release": self.release}))
        if self.mode in ("ok", "idle-close"):
            return _send(client, 200, "[2]")
        if self.mode == "error":
            return _send(client, 503, '"not ready"')
        if self.mode == "reset":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if self.mode == "close":
            client.shutdown(socket.SHUT_RDWR)
            return False
        if self.mode == "hang":
            self._closing.wait(30)
            return False
        raise ValueError(f"unknown mode {self.mode!r}")


def _read_request(reader) -> tuple[str, str] | None:
    """Read one request (line, headers, Content-Length body); None at the end of the connection."""
    line = reader.readline()
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    length = 0
    while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    reader.read(length)
    return method, path


def _send(client: socket.socket, status: int, body: str) -> bool:
    payload = body.encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    try:
        client.sendall(head.encode() + payload)
    except OSError:
        return False
    return True


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {predicate}")
        time.sleep(0.02)
