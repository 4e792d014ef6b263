"""fleet_verify's probe (roles/fleet_verify/action_plugins/fleet_probe.py), against a real HTTP server on
127.0.0.1: /ready until 200, then /score; and the message a failed check gives."""

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fleetdeploy.render import ansible_sources

_spec = importlib.util.spec_from_file_location(
    "fleet_probe", ansible_sources().roles / "fleet_verify" / "action_plugins" / "fleet_probe.py"
)
fleet_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fleet_probe)


class _Echo(BaseHTTPRequestHandler):
    not_ready_answers = 0  # how many /ready requests answer 503 before 200

    identity = b'{"service": "mnist", "release": "r2"}'  # what GET /version answers

    def do_GET(self):
        cls = type(self)
        if self.path == "/version":
            reply = cls.identity
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
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
    return fleet_probe.probe(url, body.encode(), ready_timeout, 5)


@pytest.mark.integration
def test_probe_posts_json_and_times_the_request(server):
    result = _probe(server, '{"data": [1, 2, 3]}')
    assert result["ready"] == 200 and result["status"] == 200
    assert json.loads(result["content"]) == [3, 2, 1]
    assert 0 < result["latency_ms"] < 5000


@pytest.mark.integration
def test_probe_reports_an_error_status_with_its_body(server):
    seen = _probe(server, '{"data": ["boom"]}')
    assert seen["status"] == 500


@pytest.mark.integration
def test_probe_waits_for_ready_before_the_request(server):
    _Echo.not_ready_answers = 2
    seen = _probe(server, '{"data": [1]}')
    assert seen["ready"] == 200 and seen["status"] == 200
    assert _Echo.not_ready_answers < 0


@pytest.mark.integration
def test_probe_without_a_body_only_waits_for_ready(server):
    seen = _probe(server, "")
    assert seen == {"ready": 200}


@pytest.mark.integration
def test_probe_reports_the_last_ready_answer_when_it_never_came(server):
    _Echo.not_ready_answers = 100
    seen = _probe(server, '{"data": [1]}', ready_timeout=1)
    assert seen == {"ready": 503}


@pytest.mark.integration
def test_probe_names_the_reason_when_nothing_listens():
    seen = _probe("http://127.0.0.1:9", "{}", ready_timeout=0)
    assert "Connection refused" in seen["ready"]


@pytest.mark.integration
def test_probe_reads_what_answers_when_asked_to_identify_it(server):
    seen = fleet_probe.probe(server, b"", 5, 5, identify=True)
    assert seen == {"ready": 200, "version": {"service": "mnist", "release": "r2"}}
    assert "version" not in _probe(server, "")


def _failure(seen, sample='{"data": [1]}', expected="", service="", release=""):
    return fleet_probe.failure(seen, "node1", "http://127.0.0.1:1", 60, sample, expected, service, release)


def test_a_node_answering_for_another_service_or_release_fails_naming_what_answered():
    seen = {"ready": 200, "version": {"service": "mnist", "release": "0b760a52fc56"}, "status": 200,
            "content": "[2]"}
    assert _failure(seen, service="mnist", release="0b760a52fc56") == ""
    assert _failure(seen, service="fraud", release="8153ed0b6b5e") == (
        "host node1: http://127.0.0.1:1 is answered by service mnist release 0b760a52fc56, not service fraud "
        "release 8153ed0b6b5e: another service may hold this port, or the URL (fleetdeploy_scoring_url or "
        "fleetdeploy_scoring_urls in the inventory) may point at another one"
    )
    assert "is answered by service mnist release 0b760a52fc56, not release r9" in _failure(seen, release="r9")
    assert _failure({"ready": 200, "version": "GET /version answered 404: {}"}, release="r9") == (
        "host node1: http://127.0.0.1:1 cannot tell what answers there: GET /version answered 404: {}"
    )


def test_a_passed_check_gives_no_message():
    seen = {"ready": 200, "status": 200, "content": "[2]"}
    assert _failure(seen, expected="[2]") == ""
    assert _failure({"ready": 200}, sample="") == ""


def test_a_failed_check_names_the_host_the_url_and_what_came_back():
    assert _failure({"ready": 503}).startswith(
        "host node1: GET http://127.0.0.1:1/ready did not answer 200 within 60s from the controller (last: 503)."
    )
    assert _failure({"ready": 200, "status": 500, "content": "boom"}) == (
        "host node1: POST http://127.0.0.1:1/score answered 500: boom"
    )
    assert _failure({"ready": 200, "status": None, "content": "", "error": "timed out"}) == (
        "host node1: POST http://127.0.0.1:1/score failed: timed out"
    )
    assert _failure({"ready": 200, "status": 200, "content": "[3]"}, expected="[2]") == (
        "host node1: /score answered [3], expected [2]."
    )
    assert _failure({"ready": 200, "status": 200, "content": "not json"}, expected="[2]").endswith(
        "expected [2]."
    )
