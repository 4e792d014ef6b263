"""fleet_verify's probe (roles/fleet_verify/vars/main.yml), run as the role runs it: the controller's
Python, the body on stdin, against a real HTTP server on 127.0.0.1: /ready until 200, then /score."""

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
    not_ready_answers = 0  # how many /ready requests answer 503 before 200

    def do_GET(self):
        cls = type(self)
        status = 503 if cls.not_ready_answers > 0 else 200
        cls.not_ready_answers -= 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

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
    _Echo.not_ready_answers = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _probe(url, body, ready_timeout=5):
    run = subprocess.run(
        [sys.executable, "-c", PROBE, url, str(ready_timeout), "5"],
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
    assert result["ready"] == 200 and result["status"] == 200
    assert json.loads(result["content"]) == [3, 2, 1]
    assert 0 < result["latency_ms"] < 5000


@pytest.mark.integration
def test_probe_reports_an_error_status_with_its_body(server):
    rc, out, _ = _probe(server, '{"data": ["boom"]}')
    assert rc == 0
    assert json.loads(out)["status"] == 500


@pytest.mark.integration
def test_probe_waits_for_ready_before_the_request(server):
    _Echo.not_ready_answers = 2
    rc, out, _ = _probe(server, '{"data": [1]}')
    assert rc == 0
    assert json.loads(out)["ready"] == 200 and json.loads(out)["status"] == 200
    assert _Echo.not_ready_answers < 0


@pytest.mark.integration
def test_probe_without_a_body_only_waits_for_ready(server):
    rc, out, _ = _probe(server, "")
    assert rc == 0
    assert json.loads(out) == {"ready": 200}


@pytest.mark.integration
def test_probe_reports_the_last_ready_answer_when_it_never_came(server):
    _Echo.not_ready_answers = 100
    rc, out, _ = _probe(server, '{"data": [1]}', ready_timeout=1)
    assert rc == 0
    assert json.loads(out) == {"ready": 503}


@pytest.mark.integration
def test_probe_names_the_reason_when_nothing_listens():
    rc, out, _ = _probe("http://127.0.0.1:9", "{}", ready_timeout=0)
    assert rc == 0
    assert "Connection refused" in json.loads(out)["ready"]
