"""Benchmark: `fleetdeploy serve` on each of its HTTP servers (--http uvicorn, granian) against Azure
ML's own server (azmlinfsrv) and against calling run() in a tight loop, on the seed's score.py, a
784-feature LogisticRegression and the seed's request body.

One server worker pinned to core 0, wrk pinned to core 1; concurrency 1, 8 and 64. The servers run
side by side and are measured in interleaved rounds (the machine is shared: interleaving spreads other
people's load over all of them), and each figure is the median of the rounds. Bounded: ~3 minutes.

    .venv/bin/python bench/serve/run.py [--rounds 3] [--duration 5]

Sets up what it needs: trains the model into a temporary folder, creates bench/serve/.venv-azml with
azureml-inference-server-http and the project's numpy/scikit-learn versions (first run only).
"""

import argparse
import contextlib
import importlib.metadata
import io
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MNIST = REPO / "examples" / "mnist"
AZML_VENV = REPO / "bench" / "serve" / ".venv-azml"
RESULTS = REPO / "bench" / "serve" / "results"
SERVER_CORE, LOAD_CORE = "0", "1"
CONCURRENCY = (1, 8, 64)
HTTP_SERVERS = ("uvicorn", "granian")  # fleetdeploy serve --http ...


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per measurement")
    parser.add_argument("--log-level", default="info", help="fleetdeploy serve --log-level (default info)")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (apt-get install {'wrk' if tool == 'wrk' else 'util-linux'})")

    work = Path(tempfile.mkdtemp(prefix="fleetdeploy-bench-"))
    servers = []
    try:
        model_dir = work / "model"
        _run([sys.executable, MNIST / "train.py", "--out", model_dir / "sklearn_mnist_model.pkl"])
        ensure_azml_venv()
        body, headers = seed_request()
        lua = work / "post.lua"
        (work / "body.json").write_text(body)
        lua.write_text(
            'wrk.method = "POST"\n'
            f'local f = io.open("{work / "body.json"}", "rb"); wrk.body = f:read("*a"); f:close()\n'
            + "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
        )
        load_before = os.getloadavg()
        targets = {}
        for http in HTTP_SERVERS:
            port = free_port()
            servers.append(start(
                [REPO / ".venv" / "bin" / "fleetdeploy", "serve", "--entry-script", MNIST / "score.py",
                 "--model-dir", model_dir, "--host", "127.0.0.1", "--port", port, "--log-level", args.log_level,
                 "--http", http],
                work / f"fleetdeploy-{http}.log"))
            targets[f"fleetdeploy {http}"] = (servers[-1], port)
        az_port, az_health = free_port(), free_port()
        servers.append(start(
            [AZML_VENV / "bin" / "azmlinfsrv", "--entry_script", MNIST / "score.py", "--model_dir", model_dir,
             "--port", az_port, "--health_port", az_health],
            work / "azmlinfsrv.log"))
        targets["azmlinfsrv"] = (servers[-1], az_port)
        for name, (_, port) in targets.items():
            check_answer(name, port, body, headers)

        samples: dict[tuple[str, int], list[dict]] = {}
        inprocess: list[dict] = []
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", file=sys.stderr)
            inprocess.append(inprocess_rate(model_dir, body, seconds=2.0))
            for concurrency in CONCURRENCY:
                for name, (process, port) in targets.items():
                    samples.setdefault((name, concurrency), []).append(
                        wrk(process, port, concurrency, args.duration, lua))
        load_after = os.getloadavg()
        report = table(samples, list(targets), inprocess, load_before, load_after, args)
        print(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.txt").write_text(report + "\n")
    finally:
        stop_all(servers)
        shutil.rmtree(work, ignore_errors=True)


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def ensure_azml_venv() -> Path:
    """A separate venv so azmlinfsrv's Flask/gunicorn stack never touches the project's."""
    python = AZML_VENV / "bin" / "python"
    stamp = AZML_VENV / ".installed"
    if stamp.exists():
        return python
    # Same numpy/scikit-learn as the project venv: run() must cost the same under both servers.
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("numpy", "scikit-learn", "joblib", "scipy")]
    print(f"bench: creating {AZML_VENV} with azureml-inference-server-http, {' '.join(pins)}", file=sys.stderr)
    _run(["python3", "-m", "venv", AZML_VENV])
    _run([python, "-m", "pip", "install", "-q", "azureml-inference-server-http", *pins])
    stamp.touch()
    return python


def seed_request() -> tuple[str, dict]:
    """The seed's client.py, run unmodified with a stand-in `requests` that records what it would post."""
    sent = {}
    fake = types.ModuleType("requests")
    fake.post = lambda url, data, headers=None: sent.update(url=url, data=data, headers=headers) or \
        types.SimpleNamespace(text="")
    real = sys.modules.get("requests")
    sys.modules["requests"] = fake
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile((MNIST / "client.py").read_text(), "client.py", "exec"), {"__name__": "seed_client"})  # noqa: S102
    finally:
        sys.modules.pop("requests")
        if real is not None:
            sys.modules["requests"] = real
    return sent["data"], sent["headers"] or {}


def start(command, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(["taskset", "-c", SERVER_CORE, *map(str, command)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=log.parent)


def check_answer(name: str, port: int, body: str, headers: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/score", body.encode(), headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                answer = response.read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"bench: {name} did not answer on 127.0.0.1:{port} within {timeout}s")
            time.sleep(0.2)
    if answer.strip() != "[2]":
        sys.exit(f"bench: {name} answered {answer!r} to the seed request, expected [2]")


def inprocess_rate(model_dir: Path, body: str, seconds: float) -> dict:
    """run() calls per second in a tight loop on the server's core (and CPU microseconds per call)."""
    code = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(MNIST)!r}); os.environ['AZUREML_MODEL_DIR'] = {str(model_dir)!r}\n"
        "import score; score.init(); body = sys.stdin.read()\n"
        "for _ in range(300): score.run(body)\n"
        "n, start, cpu = 0, time.perf_counter(), time.process_time()\n"
        f"while time.perf_counter() - start < {seconds}:\n"
        "    for _ in range(100): score.run(body)\n"
        "    n += 100\n"
        "print(n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6)\n"
    )
    out = subprocess.run(["taskset", "-c", SERVER_CORE, sys.executable, "-c", code], input=body,
                         capture_output=True, text=True, check=True).stdout
    rate, cpu_us = map(float, out.split())
    return {"rps": rate, "cpu_us": cpu_us}


def wrk(server: subprocess.Popen, port: int, concurrency: int, duration: int, lua: Path, url: str = "") -> dict:
    """One wrk run against the server on `port` (or `url`, e.g. an https front before it)."""
    cpu_before = tree_cpu_seconds(server.pid)
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency",
         "--timeout", "10s", "-s", str(lua), url or f"http://127.0.0.1:{port}/score"],
        capture_output=True, text=True, check=True, timeout=duration + 30,
    ).stdout
    cpu = tree_cpu_seconds(server.pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "failures": (int(bad.group(1)) if bad else 0),
        "socket_errors": errors.group(1).strip() if errors else "",
        "cpu_us": cpu / max(requests, 1) * 1e6,
    }


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its descendants (gunicorn's workers for azmlinfsrv). Unlike
    req/s, CPU per request barely moves when other work competes for the core."""
    parents, times = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        parents[child], times[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def table(samples, names, inprocess, load_before, load_after, args) -> str:
    run_rps = statistics.median(r["rps"] for r in inprocess)
    run_cpu = statistics.median(r["cpu_us"] for r in inprocess)
    lines = [
        ("fleetdeploy serve (--http uvicorn, granian) vs azmlinfsrv: seed score.py, 784-feature "
        f"LogisticRegression, seed request body ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"),
        (f"1 worker on core {SERVER_CORE}, wrk on core {LOAD_CORE}, {args.duration}s per point, median of "
        f"{args.rounds} interleaved rounds; fleetdeploy --log-level {args.log_level}"),
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores shared with other work)",
        (f"in-process run(): {run_rps:,.0f} calls/s, {run_cpu:.0f} us CPU per call "
        f"(rounds: {', '.join(format(r['rps'], ',.0f') for r in inprocess)})"),
        "",
        (f"{'server':<20}{'conc':>5}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs azml':>9}{'vs run()':>9}"
        f"{'CPU us/req':>11}{'run() CPU share':>16}{'fail':>6}"),
    ]
    for concurrency in CONCURRENCY:
        azml = _median(samples[("azmlinfsrv", concurrency)])
        for name in names:
            point = _median(samples[(name, concurrency)])
            lines.append(
                f"{name:<20}{concurrency:>5}{point['rps']:>9,.0f}{point['p50']:>9.2f}{point['p99']:>9.2f}"
                f"{point['rps'] / azml['rps']:>8.2f}x{point['rps'] / run_rps:>9.0%}{point['cpu_us']:>11.0f}"
                f"{run_cpu / point['cpu_us']:>16.0%}{point['failures']:>6}"
            )
    lines += [
        "",
        "vs run(): req/s over in-process calls/s. run() CPU share: in-process CPU per call over the server's",
        "CPU per request (all its processes), the same ratio measured in CPU time, which other people's",
        "load on the shared cores disturbs far less than wall-clock rates.",
    ]
    return "\n".join(lines)


def _median(points: list[dict]) -> dict:
    return {
        "rps": statistics.median(p["rps"] for p in points),
        "p50": statistics.median(p["p50"] for p in points),
        "p99": statistics.median(p["p99"] for p in points),
        "failures": sum(p["failures"] for p in points),
        "cpu_us": statistics.median(p["cpu_us"] for p in points),
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(command) -> None:
    subprocess.run([str(c) for c in command], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
