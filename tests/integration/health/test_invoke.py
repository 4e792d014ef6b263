"""`fleetdeploy invoke`'s requests (fleetdeploy/health/probe.py: invoke_fleet) against real HTTP servers on
127.0.0.1: one answering as the scoring server does, one answering 500, and a port nobody listens on.
Against deployed sandbox nodes: tests/e2e/test_ops.py."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetdeploy.health.probe import invoke_fleet

pytestmark = pytest.mark.integration


class Scoring(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        failing = self.server.server_address[1] == self.server.failing_port
        answer = b'{"message": "run() failed"}' if failing else json.dumps({"echo": json.loads(body)}).encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-request-id", self.headers["x-request-id"])
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def serve(failing: bool) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scoring)
    server.failing_port = server.server_address[1] if failing else None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_each_node_answers_with_its_own_request_id_status_and_body():
    good, bad = serve(failing=False), serve(failing=True)
    try:
        urls = {
            "good": f"http://127.0.0.1:{good.server_address[1]}",
            "bad": f"http://127.0.0.1:{bad.server_address[1]}",
            "dead": f"http://127.0.0.1:{free_port()}",
        }
        answers = invoke_fleet(urls, b'{"data": [[1, 2]]}', request_id="invoke-abc", timeout=5)
    finally:
        good.shutdown()
        bad.shutdown()
    assert answers["good"].status == 200 and json.loads(answers["good"].answer) == {"echo": {"data": [[1, 2]]}}
    assert answers["good"].request_id == "invoke-abc-good" and answers["good"].latency_ms > 0
    assert answers["bad"].status == 500 and "run() failed" in answers["bad"].answer
    assert answers["dead"].status is None and "Connection refused" in answers["dead"].error
    assert answers["dead"].url.endswith("/score")
