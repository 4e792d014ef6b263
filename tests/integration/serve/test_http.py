"""The HTTP contract of one running server (toolbox entry script, real process, real HTTP), on each HTTP
server under the app."""

import hashlib
import json
import re
import time

import pytest
import requests

from tests.integration.serve.conftest import HTTP_SERVERS, SCRIPTS, Server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module", params=HTTP_SERVERS)
def server(request, tmp_path_factory):
    if request.param == "granian":
        pytest.importorskip("granian", reason="granian is not installed (requirements/dev.txt lists it)")
    model_dir = tmp_path_factory.mktemp("model")
    (model_dir / "model.pkl").write_bytes(b"not really a model")
    server = Server(
        ["--entry-script", SCRIPTS / "toolbox.py", "--model-dir", model_dir, "--timeout", "0.5",
         "--max-body", "64KiB", "--service", "toolbox", "--release", "r-1234"],
        tmp_path_factory.mktemp("logs") / "toolbox.log",
        http=request.param,
    )
    server.model_dir = model_dir
    server.wait_until("/ready")
    yield server
    try:
        assert server.stop() == 0
    finally:
        server.kill_all()


def score(server, body, **kwargs):
    return requests.post(f"{server.url}/score", data=body, timeout=10, **kwargs)


def test_liveness_answers_healthy_like_azure(server):
    response = requests.get(server.url + "/", timeout=5)
    assert (response.status_code, response.text) == (200, "Healthy")


def test_ready_once_init_succeeded(server):
    response = requests.get(server.url + "/ready", timeout=5)
    assert response.status_code == 200 and response.json() == {"ready": True}


def test_body_reaches_run_unparsed(server):
    body = '{"action": "echo",   "data": [[1, 2]]}'
    response = score(server, body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["raw"] == body  # spacing kept: Azure does not pre-parse


def test_request_id_is_echoed_and_logged(server):
    response = score(server, '{"action": "echo"}', headers={"x-request-id": "req-echo-42"})
    assert response.headers["x-request-id"] == "req-echo-42"
    line = _access_line(server, "req-echo-42")
    assert (line["method"], line["path"], line["status"]) == ("POST", "/score", 200)
    assert line["bytes"] == len(response.content) and line["ms"] > 0


def test_request_id_is_generated_when_absent(server):
    request_id = score(server, '{"action": "echo"}').headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", request_id)
    assert score(server, '{"action": "echo"}').headers["x-request-id"] != request_id
    _access_line(server, request_id)


def test_run_gets_request_headers_when_it_declares_them(server):
    headers = score(server, '{"action": "headers"}', headers={"X-Tenant": "acme"}).json()
    assert headers["X-Tenant"] == "acme" and "Content-Length" in headers


def test_get_score_with_query_parameters_like_azure(server):
    response = requests.get(f"{server.url}/score", params={"action": "echo", "n": "[1,2]"}, timeout=5)
    assert response.status_code == 200
    assert json.loads(response.json()["raw"]) == {"action": "echo", "n": [1, 2]}


def test_run_raising_is_500_with_no_detail_and_the_traceback_only_in_log(server):
    response = score(server, '{"action": "leak"}', headers={"x-request-id": "req-raise-1"})
    assert response.status_code == 500
    # As Azure: nothing of the exception reaches the client (its text here carries a password).
    assert response.json() == {"message": "run() failed", "request_id": "req-raise-1"}
    assert response.headers["x-ms-run-function-failed"] == "True"
    log = server.wait_for_log('"request_id": "req-raise-1"')
    record = next(json.loads(line) for line in log.splitlines()
                  if "req-raise-1" in line and '"traceback"' in line)
    assert 'toolbox.py", line' in record["traceback"] and "password=hunter2" in record["traceback"]
    assert record["msg"] == "run() raised ConnectionError: cannot reach postgres://scorer:password=hunter2@db/features"
    assert _access_line(server, "req-raise-1")["status"] == 500


@pytest.mark.parametrize("action", ["exit", "interrupt"])
def test_run_raising_system_exit_or_keyboard_interrupt_fails_only_that_request(server, action):
    request_id = f"req-{action}-1"
    response = score(server, json.dumps({"action": action}), headers={"x-request-id": request_id})
    assert response.status_code == 500
    assert response.json() == {"message": "run() failed", "request_id": request_id}
    assert _access_line(server, request_id)["status"] == 500
    assert score(server, '{"action": "echo"}').status_code == 200  # the worker carries on
    in_flight = re.search(r"^fleetdeploy_requests_in_flight\{.*\} (\S+)$",
                          requests.get(f"{server.url}/metrics", timeout=5).text, re.MULTILINE)
    assert float(in_flight.group(1)) == 1.0  # the /metrics request itself: nothing leaked


def test_answers_carry_azure_headers(server):
    response = score(server, '{"action": "echo"}', headers={"x-ms-client-request-id": "client-7"})
    assert response.headers["x-ms-run-function-failed"] == "False"
    assert float(response.headers["x-ms-run-fn-exec-ms"]) >= 0
    assert re.fullmatch(r"fleetdeploy/\d+\.\d+\.\d+", response.headers["x-ms-server-version"])
    assert response.headers["x-ms-client-request-id"] == "client-7"
    liveness = requests.get(server.url + "/", timeout=5)
    assert "x-ms-server-version" in liveness.headers and "x-ms-run-function-failed" not in liveness.headers


@pytest.mark.parametrize("header", ["x-request-id", "x-ms-client-request-id"])
def test_request_id_over_100_characters_is_431_and_neither_echoed_nor_logged(server, header):
    long_id = "r" * 101
    response = score(server, '{"action": "echo"}', headers={header: long_id})
    assert response.status_code == 431
    assert "must not exceed 100 characters" in response.json()["message"]
    assert long_id not in response.headers.values()
    _access_line(server, response.headers["x-request-id"])
    assert long_id not in server.log()
    assert score(server, '{"action": "echo"}', headers={header: "r" * 100}).status_code == 200


def test_deeply_nested_query_value_is_400_not_a_server_error(server):
    depth = 5000  # over Python's recursion limit, well under the header size limit
    response = requests.get(f"{server.url}/score?data={'[' * depth}{']' * depth}", timeout=5)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]
    assert "unexpected server error" not in server.log()


def test_scoring_timeout_is_a_clear_504(server):
    response = score(server, '{"action": "sleep", "seconds": 5}')
    assert response.status_code == 504
    assert "did not finish within the scoring timeout of 0.5 s" in response.json()["message"]
    assert score(server, '{"action": "echo"}').status_code == 200  # the worker carries on


def test_numpy_results_are_serialised(server):
    assert score(server, '{"action": "numpy"}').json() == {"array": [0, 1, 2], "scalar": 1.5}


def test_unserialisable_result_is_500_naming_the_type(server):
    response = score(server, '{"action": "set"}')
    assert response.status_code == 500 and "type set" in response.json()["message"]
    assert response.headers["x-ms-run-function-failed"] == "True"


def test_body_over_the_limit_is_413(server):
    response = score(server, "x" * (65 * 1024))
    assert response.status_code == 413
    assert "over the limit of 65536 bytes" in response.json()["message"]


def test_chunked_body_over_the_limit_is_413(server):
    chunks = (b"x" * 8192 for _ in range(10))  # no Content-Length: the limit is enforced while reading
    response = score(server, chunks)
    assert response.status_code == 413


def test_non_utf8_body_is_400(server):
    response = score(server, b'{"data": "\xff\xfe"}')
    assert response.status_code == 400
    assert "not UTF-8 text (byte 0xff at offset 10)" in response.json()["message"]


def test_wrong_method_is_405_with_allow(server):
    response = requests.put(f"{server.url}/score", data="{}", timeout=5)
    assert response.status_code == 405 and response.headers["allow"] == "POST, GET"
    assert "PUT is not allowed" in response.json()["message"]


def test_unknown_path_is_404_json(server):
    response = requests.get(f"{server.url}/predict", timeout=5)
    assert response.status_code == 404 and "POST /score" in response.json()["message"]


def test_version_reports_hashes_of_what_is_served(server):
    version = requests.get(f"{server.url}/version", timeout=5).json()
    assert (version["service"], version["release"]) == ("toolbox", "r-1234")
    script_hash = hashlib.sha256((SCRIPTS / "toolbox.py").read_bytes()).hexdigest()
    assert version["entry_script"] == {"path": "toolbox.py", "sha256": script_hash}
    model_hash = hashlib.sha256(b"not really a model").hexdigest()
    assert version["models"]["files"] == {"model.pkl": model_hash}
    assert len(version["environment"]["sha256"]) == 64


def test_metrics_in_prometheus_format_labelled_with_service_and_release(server):
    score(server, '{"action": "raise"}')
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    labels = 'release="r-1234",service="toolbox"'
    assert re.search(rf'fleetdeploy_requests_total{{endpoint="/score",{labels},status="500"}} [1-9]', text)
    assert re.search(rf'fleetdeploy_requests_total{{endpoint="/score",{labels},status="200"}} [1-9]', text)
    assert f'fleetdeploy_request_duration_seconds_bucket{{endpoint="/score",le="0.005",{labels}}}' in text
    assert f"fleetdeploy_requests_in_flight{{{labels}}} 1.0" in text  # this very request
    assert re.search(rf"fleetdeploy_init_duration_seconds{{{labels}}} \d", text)
    assert f"fleetdeploy_ready{{{labels}}} 1.0" in text


def test_swagger_absent_without_schema_decorators(server):
    response = requests.get(f"{server.url}/swagger.json", timeout=5)
    assert response.status_code == 404 and "@input_schema" in response.json()["message"]


def _access_line(server, request_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout  # access lines are flushed every 0.1 s, errors at once
    while True:
        lines = [line for line in server.log().splitlines()
                 if f'"request_id": "{request_id}"' in line and '"fleetdeploy.access"' in line]
        if lines:
            return json.loads(lines[0])
        assert time.monotonic() < deadline, f"no access line for {request_id}:\n{server.log()}"
        time.sleep(0.05)
