"""The load generator against real sockets: a real `fleetdeploy serve` process answering the example's
sample request, and a tiny server that fails on purpose (resets, clean closes, refusals, timeouts,
5xx, a pooled connection closed under the client). Every kind must be counted as what it is, nothing
retried, and both bounds must stop a run by themselves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integration.health.misbehaving import MisbehavingServer, wait_for
from tests.load import VersionWatcher, percentile, start_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "mnist"
BODY = (EXAMPLE / "sample_request.json").read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    """A real scoring server with the example's model and entry script; killed after the test."""
    process = start_serve(tmp_path)
    yield process
    stop_serve(process)


def start_serve(tmp_path, *extra: str, scheme: str = "http"):
    port = free_port()
    log = tmp_path / "serve.log"
    command = [
        sys.executable,
        "-m",
        "fleetdeploy",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--entry-script",
        str(EXAMPLE / "score.py"),
        "--model-dir",
        str(EXAMPLE / "model"),
        "--service",
        "mnist",
        "--release",
        "r-load-1",
        "--drain-timeout",
        "1",
        *extra,
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/ready", timeout=1, verify=False).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    process.url = url
    return process


def stop_serve(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run(targets, **options):
    settings = {"rate": 100, "max_requests": 10_000, "max_seconds": 2.0, "body": BODY, "timeout": 2.0}
    return start_load(targets, **{**settings, **options}).result(timeout=60)


def test_real_server_answers_every_request_at_the_asked_rate(serve):
    report = run(
        {"node1": serve.url, "node2": serve.url, "node3": serve.url},
        rate=150,
        max_seconds=4,
        expect_body=b"[2]",
    )
    summary = report.summary()
    assert summary.failed == 0, summary.line()
    assert summary.stopped_by == "time"
    assert 130 <= summary.rate <= 160, summary.line()
    assert set(summary.sent_by_node) == {"node1", "node2", "node3"}
    assert max(summary.sent_by_node.values()) - min(summary.sent_by_node.values()) <= 3, summary.sent_by_node
    assert summary.connections == 6, "keep-alive: one connection per worker for the whole run"
    assert summary.p50_ms <= summary.p90_ms <= summary.p99_ms <= summary.max_ms
    assert summary.cpu_seconds < 0.5 * summary.seconds, f"the generator itself is too heavy: {summary.line()}"


def test_request_bound_stops_the_run_by_itself(serve):
    report = run({"node1": serve.url}, rate=200, max_requests=57, max_seconds=30)
    summary = report.summary()
    assert (summary.sent, summary.stopped_by) == (57, "requests"), summary.line()
    assert summary.seconds < 2


def test_time_bound_stops_the_run_by_itself(serve):
    started = time.monotonic()
    report = run({"node1": serve.url}, rate=50, max_requests=1_000_000, max_seconds=1.0)
    assert report.summary().stopped_by == "time"
    assert time.monotonic() - started < 2.0
    assert all(record.start < 1.0 for record in report.records)


def test_a_stopped_server_shows_up_as_refused(serve):
    load = start_load(
        {"node1": serve.url}, rate=100, max_requests=10_000, max_seconds=6, body=BODY, timeout=2
    )
    time.sleep(1.0)
    os.killpg(serve.pid, signal.SIGTERM)  # the naive deploy: stop the server while clients are sending
    serve.wait(timeout=20)
    time.sleep(1.0)
    load.stop()
    summary = load.result(timeout=10).summary()
    assert summary.stopped_by == "caller"
    assert summary.ok >= 80, summary.line()
    assert summary.failures.get("refused", 0) >= 50, summary.line()
    assert summary.failures_by_node == {"node1": summary.failures}


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("reset", "reset"), ("close", "closed"), ("hang", "timeout"), ("error", "http_503")],
)
def test_each_failure_is_counted_as_its_kind(mode, kind):
    with MisbehavingServer(mode) as server:
        report = run(
            {"bad": server.url}, rate=20, max_requests=6, max_seconds=10, timeout=0.3, connections_per_node=1
        )
    summary = report.summary()
    assert summary.sent == 6 and summary.failures == {kind: 6}, summary.line()
    assert summary.failures_by_node == {"bad": {kind: 6}}
    assert server.requests == 6, "each request reached the server once: nothing was retried"
    expected_connections = 1 if mode == "error" else 6  # a 5xx keeps the connection; the others end it
    assert summary.connections == expected_connections, summary.line()


def test_a_port_nobody_listens_on_is_refused():
    summary = run({"gone": f"http://127.0.0.1:{free_port()}"}, max_requests=5, max_seconds=5).summary()
    assert summary.failures == {"refused": 5}, summary.line()


def test_a_pooled_connection_closed_by_the_server_is_a_failure_not_a_retry():
    # The server closes each connection 20 ms after its last answer; requests come every 50 ms.
    with MisbehavingServer("idle-close", idle_close_after=0.02) as server:
        summary = run(
            {"front": server.url}, rate=20, max_requests=20, max_seconds=10, connections_per_node=1
        ).summary()
    assert summary.failed >= 5, summary.line()
    assert set(summary.failures) <= {"closed", "reset"}, summary.line()
    assert server.requests == summary.ok, "a request the server never read must not have been resent"


def test_an_unexpected_answer_is_a_failure():
    with MisbehavingServer("ok") as server:
        summary = run({"n": server.url}, max_requests=5, expect_body=b"[7]").summary()
    assert summary.failures == {"bad_answer": 5}, summary.line()


def test_between_and_percentiles():
    assert percentile([], 99) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 99) == 99.0
    with MisbehavingServer("ok") as server:
        report = run({"n": server.url}, rate=100, max_seconds=1.0)
    early = report.between(0, 0.5)
    assert 40 <= len(early) <= 60 and all(record.start < 0.5 for record in early)
    assert report.summary(early).sent == len(early)


def test_unbounded_runs_are_refused():
    with pytest.raises(ValueError, match="bounded"):
        start_load({"n": "http://127.0.0.1:1"}, rate=10, max_requests=0, max_seconds=1, body=b"")
    with pytest.raises(ValueError, match="not an http"):
        start_load({"n": "127.0.0.1:1"}, rate=10, max_requests=1, max_seconds=1, body=b"")


def test_watcher_records_each_nodes_release_sequence(serve):
    with MisbehavingServer("ok", release="v1") as flipping:
        watcher = VersionWatcher({"real": serve.url, "flip": flipping.url}, max_seconds=10, interval=0.05)
        with watcher:
            wait_for(lambda: watcher.current("flip") == "v1")
            flipping.release = "v2"
            wait_for(lambda: watcher.current("flip") == "v2")
            flipping.release = "v1"
            wait_for(lambda: watcher.current("flip") == "v1")
    assert watcher.releases("flip") == ["v1", "v2", "v1"]
    assert watcher.releases("real") == ["r-load-1"]
    assert watcher.errors("real") == []


def test_watcher_keeps_errors_apart_from_releases():
    with MisbehavingServer("ok", release="v1") as server:
        watcher = VersionWatcher({"n": server.url}, max_seconds=10, interval=0.05).start()
        wait_for(lambda: watcher.current("n") == "v1")
    # The server is gone: refused (a poll caught in the listener's backlog as it closed may be reset first).
    wait_for(lambda: any(sighting.error == "refused" for sighting in watcher.errors("n")))
    watcher.stop()
    assert watcher.releases("n") == ["v1"]
    assert watcher.current("n") is None


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # the readiness poll's
def test_https_targets_are_loaded_trusting_the_given_ca_with_the_hostname_checked(tmp_path):
    """What the sandbox's TLS tests send with: https on keep-alive connections, the server's certificate
    checked against the given CA for the URL's host; one the client does not trust is its own failure kind."""
    import ssl

    from fleetdeploy.fleet_ca import FleetCA

    ca = FleetCA(tmp_path / "ca")
    ca.ensure()
    node = ca.node_certificate("node1", ["127.0.0.1"])
    process = start_serve(tmp_path, "--tls-cert", str(node.cert), "--tls-key", str(node.key), scheme="https")
    try:
        trusted = ssl.create_default_context(cafile=str(ca.cert_path))
        report = run({"node1": process.url}, rate=20, max_requests=20, max_seconds=20, body=BODY,
                     expect_body=b"[2]", tls_context=trusted)
        summary = report.summary()
        assert summary.ok == 20 and summary.connections == 2, summary.line()  # one per worker: kept alive
        strangers = run({"node1": process.url}, rate=20, max_requests=4, max_seconds=10, body=BODY,
                        tls_context=ssl.create_default_context())
        assert strangers.summary().failures == {"tls_verify": 4}, strangers.summary().line()
    finally:
        stop_serve(process)
