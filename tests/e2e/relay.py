"""A loopback TCP relay, so the seed's client script (which always posts to localhost:6789) can talk
to each sandbox node's published scoring port unmodified. Both ends are on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

from tests.seed_port import seed_port


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self):
        upstream = socket.create_connection(("127.0.0.1", self.server.target_port), timeout=30)
        with upstream:
            done = threading.Event()

            def pump(src, dst):
                try:
                    while chunk := src.recv(65536):
                        dst.sendall(chunk)
                except OSError:
                    pass
                finally:
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    done.set()

            back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
            back.start()
            pump(self.request, upstream)
            back.join(timeout=60)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


@contextlib.contextmanager
def relay(target_port: int):
    """127.0.0.1:6789 relayed to `target_port` while the block runs (taking turns with other tests on 6789)."""
    with seed_port() as listen_port:
        server = _Server(("127.0.0.1", listen_port), _Pipe)
        server.target_port = target_port
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
