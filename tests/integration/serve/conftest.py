"""Real `fleetdeploy serve` processes on 127.0.0.1 for the integration tests, each test on both HTTP
servers (--http uvicorn and granian): the contract must hold whichever one is under the app."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
MNIST = REPO / "examples" / "mnist"
HTTP_SERVERS = ("uvicorn", "granian")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `python -m fleetdeploy serve` process, its URL and its log (stdout+stderr)."""

    def __init__(self, args, log_path: Path, env=None, port=None, http="uvicorn"):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [sys.executable, "-m", "fleetdeploy", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   *args]
        with open(log_path, "wb") as log:
            # Its own session, so that teardown can end the server and any worker it forked.
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                            env={**os.environ, "FLEETDEPLOY_HTTP": http, **(env or {})},
                                            start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the server log after {timeout}s:\n{self.log()}")
            time.sleep(0.05)
        return self.log()

    def wait_until(self, path: str, status: int = 200, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + path, timeout=2).status_code == status:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {path} did not answer {status} within {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def kill_all(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)


@pytest.fixture(params=HTTP_SERVERS)
def http_server(request) -> str:
    """The --http value a test's servers run with (via FLEETDEPLOY_HTTP, as the container sets it)."""
    if request.param == "granian":
        pytest.importorskip("granian", reason="granian is not installed (requirements/dev.txt lists it)")
    return request.param


@pytest.fixture
def start_server(tmp_path, http_server):
    """start_server(args, env=..., port=...) -> Server; every server is stopped after the test."""
    started = []

    def start(args, env=None, port=None, name="server"):
        server = Server([str(a) for a in args], tmp_path / f"{name}-{len(started)}.log", env=env, port=port,
                        http=http_server)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill_all()


@pytest.fixture(scope="session")
def mnist_model_dir(tmp_path_factory) -> Path:
    """The example's 784-feature LogisticRegression, trained here on sklearn's bundled digits."""
    model_dir = tmp_path_factory.mktemp("azureml-models") / "sklearn_mnist" / "1"
    subprocess.run([sys.executable, str(MNIST / "train.py"), "--out", str(model_dir / "sklearn_mnist_model.pkl")],
                   check=True, capture_output=True)
    return model_dir
