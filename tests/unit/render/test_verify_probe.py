"""fleet_verify's /score probe (roles/fleet_verify/vars/main.yml), run as the role runs it: the
controller's Python, the body on stdin, against a real HTTP server on 127.0.0.1."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from fleetdeploy.render import ansible_sources

PROBE = yaml.safe_load((ansible_sources().roles / "fleet_verify" / "vars" / "main.yml").read_text())[
    "__fleet_verify_probe"
]


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if self.headers["Content-Type"] == "application/json" else 415
        reply = json.dumps(json.loads(body)["data"][::-1]).encode() if status == 200 else b"bad type"
        self.send_response(500 if b"boom" in body else status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _probe(url, body):
    run = subprocess.run(
        [sys.executable, "-c", PROBE, f"{url}/score", "5"],
        input=body.encode(),
        capture_output=True,
        check=False,
    )
    return run.returncode, run.stdout, run.stderr


@pytest.mark.integration
def test_probe_posts_json_and_times_the_request(server):
    rc, out, _ = _probe(server, '{"data": [1, 2, 3]}')
    result = json.loads(out)
    assert rc == 0
    assert result["status"] == 200
    assert json.loads(result["content"]) == [3, 2, 1]
    assert 0 < result["latency_ms"] < 5000


@pytest.mark.integration
def test_probe_reports_an_error_status_with_its_body(server):
    rc, out, _ = _probe(server, '{"data": ["boom"]}')
    assert rc == 0
    assert json.loads(out)["status"] == 500


@pytest.mark.integration
def test_probe_fails_with_the_reason_when_nothing_listens():
    rc, _, err = _probe("http://127.0.0.1:9", "{}")
    assert rc != 0
    assert b"Connection refused" in err
