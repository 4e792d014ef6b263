"""Starting, refusing to start, readiness, draining and workers: real `fleetdeploy serve` processes."""

import concurrent.futures
import json
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.integration.serve.conftest import MNIST, SCRIPTS
from tests.seed_port import seed_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_seed_client_scores_a_two_with_container_style_env(start_server, mnist_model_dir, tmp_path):
    # Configured the way the container does it: env only, no flags except the test's bind address.
    env = {"AML_APP_ROOT": str(MNIST), "AZUREML_ENTRY_SCRIPT": "score.py",
           "AZUREML_MODEL_DIR": str(mnist_model_dir), "FLEETDEPLOY_SERVICE": "mnist"}
    # The seed's client posts to http://localhost:6789/score and must run unmodified: the port is taken in
    # turns with the e2e tests' relay on another worker, which would otherwise answer in this server's place.
    with seed_port() as port:
        server = start_server([], env=env, port=port)
        server.wait_until("/ready")
        client = subprocess.run([sys.executable, str(MNIST / "client.py")], check=False, capture_output=True,
                                text=True, timeout=30, cwd=tmp_path)
        assert client.returncode == 0, client.stderr
        assert client.stdout.splitlines()[-1] == "prediction: [2]"
        assert server.stop() == 0


def test_not_ready_while_init_runs_but_alive(start_server, tmp_path):
    gate = tmp_path / "init-may-finish"
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py"], env={"TOOLBOX_INIT_GATE": str(gate)})
    server.wait_until("/")
    ready = requests.get(server.url + "/ready", timeout=5)
    assert ready.status_code == 503 and ready.json()["reason"] == "init() has not finished yet"
    response = requests.post(server.url + "/score", data='{"action": "echo"}', timeout=5)
    assert response.status_code == 503 and "not ready" in response.json()["message"]
    assert response.headers["Retry-After"] == "1"  # a client (or a proxy) knows to come back soon
    gate.touch()
    server.wait_until("/ready", timeout=15)
    assert requests.post(server.url + "/score", data='{"action": "echo"}', timeout=5).status_code == 200


def test_ready_waits_for_the_sample_request(start_server):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--sample-request", '{"action": "raise"}'])
    server.wait_for_log("the sample request failed", timeout=15)
    ready = requests.get(server.url + "/ready", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["reason"] == "the sample request failed: run() raised ValueError: expected 784 pixels, got 3"


def test_ready_after_a_good_sample_request(start_server):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py"],
                          env={"FLEETDEPLOY_SAMPLE_REQUEST": '{"action": "echo"}'})
    server.wait_until("/ready")


def test_script_without_init_refuses_to_start(start_server):
    server = start_server(["--entry-script", SCRIPTS / "no_init.py"])
    assert server.wait_exit() == 3
    assert "no_init.py: defines no init() function" in server.log()


def test_syntax_error_refuses_to_start_naming_file_and_line(start_server, tmp_path):
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n\n\ndef run(raw_data)\n    return raw_data\n")
    server = start_server(["--entry-script", script])
    assert server.wait_exit() == 3
    assert f"{script}:5: syntax error" in server.log()


@pytest.mark.parametrize("statement", ["import sys; sys.exit(0)", "raise KeyboardInterrupt"])
def test_entry_script_exiting_at_import_is_a_bad_entry_script(start_server, tmp_path, statement):
    script = tmp_path / "score.py"
    script.write_text(f"{statement}\n\n\ndef init():\n    pass\n\n\ndef run(raw_data):\n    return raw_data\n")
    server = start_server(["--entry-script", script])
    assert server.wait_exit() == 3  # never 0 (a stop) nor 1 (a crash worth restarting)
    assert f"{script}:1: importing the entry script failed:" in server.log()


def test_error_detail_sends_the_exception_text_for_debugging(start_server):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py"], env={"FLEETDEPLOY_ERROR_DETAIL": "true"})
    server.wait_until("/ready")
    response = requests.post(server.url + "/score", data='{"action": "raise"}', timeout=10)
    assert response.status_code == 500
    assert response.json()["message"] == "run() raised ValueError: expected 784 pixels, got 3"


def test_missing_entry_script_is_a_config_error(start_server, tmp_path):
    server = start_server(["--entry-script", tmp_path / "scor.py"])
    assert server.wait_exit() == 2
    assert f"--entry-script: entry script {tmp_path / 'scor.py'} does not exist" in server.log()


def test_init_raising_exits_with_traceback_and_model_listing(start_server, tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"1234")
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--model-dir", tmp_path],
                          env={"TOOLBOX_INIT_FAIL": "1"})
    assert server.wait_exit() == 4
    log = server.log()
    record = next(json.loads(line) for line in log.splitlines() if line.startswith("{") and "traceback" in line)
    assert "RuntimeError: cannot unpickle model.pkl: truncated file" in record["traceback"]
    assert 'toolbox.py", line' in record["traceback"]
    assert f"contents of AZUREML_MODEL_DIR={tmp_path}" in record["msg"] and "model.pkl  (4 bytes)" in record["msg"]
    assert "error: init() in" in log  # the CLI's one-line summary


def test_port_in_use_is_a_clear_error(start_server):
    first = start_server(["--entry-script", SCRIPTS / "toolbox.py"])
    first.wait_until("/")
    second = start_server(["--entry-script", SCRIPTS / "toolbox.py"], port=first.port)
    assert second.wait_exit() != 0
    assert f"cannot listen on 127.0.0.1:{first.port}" in second.log()


def test_sigterm_finishes_in_flight_requests_then_exits_0(start_server, tmp_path):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--drain-timeout", "10"])
    server.wait_until("/ready")
    started = tmp_path / "run-started"
    body = json.dumps({"action": "sleep", "seconds": 1.5, "started": str(started)})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(requests.post, server.url + "/score", data=body, timeout=10)
        wait_for_file(started)
        server.process.send_signal(signal.SIGTERM)
        response = in_flight.result()
    assert response.status_code == 200 and response.json()["slept"] == 1.5
    assert server.wait_exit() == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=2)


def test_sigterm_answers_requests_queued_behind_a_busy_run_and_refuses_new_connections(start_server, tmp_path):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--drain-timeout", "10"])
    server.wait_until("/ready")
    started = tmp_path / "run-started"
    busy = json.dumps({"action": "sleep", "seconds": 1.5, "started": str(started)})
    queued = json.dumps({"action": "sleep", "seconds": 0.2})
    early = socket.create_connection(("127.0.0.1", server.port), timeout=20)  # accepted while the worker idles
    time.sleep(0.2)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        first = pool.submit(requests.post, server.url + "/score", data=busy, timeout=20)
        wait_for_file(started)
        behind = [pool.submit(requests.post, server.url + "/score", data=queued, timeout=20) for _ in range(2)]
        early.sendall(b"GET /score?action=echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # unread
        time.sleep(0.3)  # all sent, waiting for the one worker
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):  # nothing new is accepted once SIGTERM arrived
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        answers = [future.result() for future in (first, *behind)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    with early:
        assert early.makefile("rb").readline().startswith(b"HTTP/1.1 200")
    assert server.wait_exit() == 0


def test_drain_timeout_bounds_the_wait_for_a_client_that_never_finishes(start_server):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--drain-timeout", "1"])
    server.wait_until("/ready")
    with socket.create_connection(("127.0.0.1", server.port)) as stuck:
        stuck.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")  # 90 short
        time.sleep(0.2)  # the server has the request and waits for the rest of its body
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.wait_exit(timeout=10) == 0
    assert 0.8 < time.monotonic() - started < 5


def start_two_workers(start_server, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--workers", "2"],
                          env={"TOOLBOX_MARKERS": str(markers)})
    server.wait_until("/ready")
    deadline = time.monotonic() + 15
    while server.log().count("init() finished") < 2:  # both workers ready, not just the first
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    return server, {int(p.name) for p in markers.iterdir()}


def test_workers_share_the_port_each_running_init_once(start_server, tmp_path):
    server, init_pids = start_two_workers(start_server, tmp_path)
    # New connections go to whichever idle worker accepts first: a few dozen reach both.
    pids, sent = set(), 0
    while len(pids) < 2 and sent < 60:
        pids.add(requests.post(server.url + "/score", data='{"action": "echo"}', timeout=5).json()["pid"])
        sent += 1
    assert len(pids) == 2 and pids == init_pids  # each worker ran init() exactly once
    metrics = requests.get(server.url + "/metrics", timeout=5).text  # whichever worker answers, both count
    assert f'fleetdeploy_requests_total{{endpoint="/score",release="",service="",status="200"}} {sent}.0' in metrics
    assert server.stop() == 0


def test_a_worker_busy_in_run_leaves_new_connections_to_idle_ones(start_server, tmp_path, http_server):
    if http_server == "granian":
        pytest.skip("granian accepts connections on its own I/O thread while run() holds the worker's loop, "
                    "so a new request may wait behind a busy worker (docs/serve.md, Workers and signals)")
    server, _ = start_two_workers(start_server, tmp_path)
    # A worker busy in run() accepts nothing, so a request sent meanwhile must reach the other one.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = []
        for number in range(2):
            started = tmp_path / f"run-{number}-started"
            body = json.dumps({"action": "sleep", "seconds": 0.5, "started": str(started)})
            futures.append(pool.submit(requests.post, server.url + "/score", data=body, timeout=10))
            wait_for_file(started)
        pids = {f.result().json()["pid"] for f in futures}
    assert len(pids) == 2
    assert server.stop() == 0


def test_liveness_answers_at_once_while_every_worker_is_inside_run(start_server, tmp_path, http_server):
    if http_server == "granian":
        pytest.skip("granian's Rust thread accepts and reads every connection and hands each request to the "
                    "loop run() holds, so a probe waits for run() (docs/serve.md, Workers and signals)")
    server, _ = start_two_workers(start_server, tmp_path)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        busy = []
        for number in range(2):  # both workers in a pure-Python run(), the worst case for another thread
            started = tmp_path / f"spin-{number}-started"
            body = json.dumps({"action": "spin", "seconds": 4, "started": str(started)})
            busy.append(pool.submit(requests.post, server.url + "/score", data=body, timeout=20))
            wait_for_file(started)
        queued = pool.submit(requests.post, server.url + "/score", data='{"action": "echo"}', timeout=20)
        times = []
        for number in range(5):
            began = time.monotonic()
            probe = requests.get(server.url + "/", headers={"x-request-id": f"probe-{number}"}, timeout=5)
            times.append(time.monotonic() - began)
            assert probe.status_code == 200 and probe.text == "Healthy"
            assert probe.headers["x-request-id"] == f"probe-{number}"
        head = requests.head(server.url + "/", timeout=5)
        assert head.status_code == 200 and head.headers["content-length"] == "7"
        assert all(not future.done() for future in busy)  # every probe was answered while run() ran
        # Requests that are not liveness, taken by the same thread, are served once a worker is free.
        assert queued.result().status_code == 200
        assert [future.result().status_code for future in busy] == [200, 200]
    assert max(times) < 0.5 and sorted(times)[2] < 0.1, times
    assert '"path": "/", "status": 200' in server.wait_for_log('"request_id": "probe-4"')
    assert server.stop() == 0


def test_worker_init_failure_stops_the_whole_server(start_server):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--workers", "2"],
                          env={"TOOLBOX_INIT_FAIL": "1"})
    assert server.wait_exit(timeout=30) == 4
    assert "could not start (exit code 4); stopping the server" in server.log()


def test_swagger_for_input_schema_decorated_run(start_server):
    pytest.importorskip("inference_schema")
    server = start_server(["--entry-script", SCRIPTS / "with_schema.py"])
    server.wait_until("/ready")
    response = requests.post(server.url + "/score", json={"values": [1.5, 2.5]}, timeout=5)
    assert response.status_code == 200 and response.json() == {"total": 4.0}
    swagger = requests.get(server.url + "/swagger.json", timeout=5).json()
    body_schema = swagger["paths"]["/score"]["post"]["parameters"][0]["schema"]
    assert body_schema["properties"]["values"]["type"] == "array"
    assert swagger["paths"]["/score"]["post"]["responses"]["200"]["schema"]["type"] == "object"


def test_workers_do_not_outlive_a_killed_supervisor(start_server):
    server = start_server(["--entry-script", SCRIPTS / "toolbox.py", "--workers", "2"])
    server.wait_until("/ready")
    server.process.kill()  # SIGKILL: no chance to forward anything
    server.process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            requests.get(server.url + "/", timeout=1)
        except requests.ConnectionError:
            return  # the workers drained and closed the port
        time.sleep(0.1)
    pytest.fail(f"workers still answer on {server.url} after their supervisor was killed")


def test_rawhttp_script_gets_the_request_and_returns_its_own_response(start_server):
    pytest.importorskip("flask")
    server = start_server(["--entry-script", SCRIPTS / "raw_score.py"],
                          env={"PYTHONPATH": str(SCRIPTS / "fake_azure")})
    server.wait_until("/ready")
    payload = bytes(range(256))  # binary, not UTF-8: a @rawhttp script takes any bytes
    response = requests.post(server.url + "/score", data=payload, timeout=5)
    assert response.status_code == 201, response.text
    assert response.content == payload[::-1]
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-bytes"] == "256" and "x-request-id" in response.headers
    answer = requests.get(server.url + "/score", params={"q": "cat"}, headers={"X-Agent": "probe"}, timeout=5)
    assert answer.json() == {"query": "cat", "agent": "probe"}


def wait_for_file(path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout}s"
        time.sleep(0.02)
