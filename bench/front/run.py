"""Benchmark: what TLS and key auth at the node front cost (docs/security.md). One `fleetdeploy serve`
(uvicorn, one worker, the seed's score.py and model) behind three HAProxy fronts rendered from
roles/fleet_front's own template: plain HTTP, TLS (a fleet-CA certificate), TLS + key auth. wrk sends
the seed's request with keep-alive connections at concurrency 8 (the key's header on all three, so the
requests are the same bytes); the fronts are measured in interleaved rounds and each figure is the
median. Target (issue 12): TLS + key keeps at least 85% of plain's req/s and adds at most 1 ms to p99.

    .venv/bin/python bench/front/run.py [--rounds 3] [--duration 8]

Sets up what it needs: HAProxy from the machine's package manager when missing (apt-get), the model
trained into a temporary folder, a CA and certificate in it. Server and fronts share core 0, wrk core 1.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jinja2

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "roles" / "fleet_front" / "templates" / "front.cfg.j2"
RESULTS = REPO / "bench" / "front" / "results"
CONCURRENCY = 8
KEY = "bench-key-" + "k" * 32
FRONTS = {"plain": (False, False), "tls": (True, False), "tls+key": (True, True)}


def serve_bench():
    """bench/serve/run.py, for its helpers: the seed's request, starting a pinned process, wrk."""
    spec = importlib.util.spec_from_file_location("serve_bench", REPO / "bench" / "serve" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_haproxy() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else "")
    if found:
        return found
    print("bench: installing haproxy (apt-get)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return "/usr/sbin/haproxy"


def front_config(work: Path, name: str, port: int, slot_port: int, tls: bool, auth: bool) -> Path:
    """The role's template, as fleet_front renders it for one service on a node."""
    pem, keys = work / "front.pem", work / "front.keys"
    text = jinja2.Template(TEMPLATE.read_text(), keep_trailing_newline=True).render(
        ansible_managed="bench/front/run.py",
        fleet_front_service=f"bench-{name.replace('+', '-')}",
        __fleet_front_socket=str(work / f"{name}.sock"),
        fleet_front_keepalive_timeout=60,
        fleet_front_server_timeout=90,
        fleet_front_bind="127.0.0.1",
        fleet_front_port=port,
        fleet_front_tls=tls,
        __fleet_front_tls_file=str(pem),
        fleet_front_key_hashes=[hashlib.sha256(KEY.encode()).hexdigest()] if auth else [],
        __fleet_front_keys_file=str(keys),
        __fleet_front_slots=["blue", "green"],
        fleet_front_slot_ports={"blue": slot_port, "green": slot_port + 1},
        __fleet_front_config_slot="blue",
    )
    # The node's haproxy user is made by its package; here the bench runs it as the invoking user.
    text = text.replace("    user haproxy\n    group haproxy\n", "")
    path = work / f"{name}.cfg"
    path.write_text(text)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds of wrk per measurement")
    args = parser.parse_args()
    serve = serve_bench()
    haproxy = ensure_haproxy()
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (apt-get install {'wrk' if tool == 'wrk' else 'util-linux'})")

    sys.path.insert(0, str(REPO))
    from fleetdeploy.fleet_ca import FleetCA

    work = Path(tempfile.mkdtemp(prefix="fleetdeploy-bench-front-"))
    processes = []
    try:
        model_dir = work / "model"
        serve._run([sys.executable, serve.MNIST / "train.py", "--out", model_dir / "sklearn_mnist_model.pkl"])
        ca = FleetCA(work / "ca")
        ca.ensure()
        node = ca.node_certificate("node", ["localhost", "127.0.0.1"])
        (work / "front.pem").write_text(node.cert.read_text() + node.key.read_text())
        (work / "front.keys").write_text(hashlib.sha256(KEY.encode()).hexdigest() + "\n")

        slot_port = serve.free_port()
        server = serve.start(
            [REPO / ".venv" / "bin" / "fleetdeploy", "serve", "--entry-script", serve.MNIST / "score.py",
             "--model-dir", model_dir, "--host", "127.0.0.1", "--port", slot_port, "--http", "uvicorn"],
            work / "serve.log")
        processes.append(server)
        body, headers = serve.seed_request()
        serve.check_answer("fleetdeploy serve", slot_port, body, headers)
        lua = work / "post.lua"
        (work / "body.json").write_text(body)
        sent = {**headers, "Authorization": f"Bearer {KEY}"}
        lua.write_text(
            'wrk.method = "POST"\n'
            f'local f = io.open("{work / "body.json"}", "rb"); wrk.body = f:read("*a"); f:close()\n'
            + "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in sent.items())
        )

        urls = {}
        for name, (tls, auth) in FRONTS.items():
            port = serve.free_port()
            config = front_config(work, name, port, slot_port, tls, auth)
            subprocess.run([haproxy, "-c", "-q", "-f", config], check=True)
            processes.append(serve.start([haproxy, "-Ws", "-f", config], work / f"{name}.log"))
            urls[name] = f"{'https' if tls else 'http'}://127.0.0.1:{port}/score"
        check_fronts(urls, body, sent, ca.cert_path)

        samples: dict[str, list[dict]] = {name: [] for name in FRONTS}
        load_before = os.getloadavg()
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds}", file=sys.stderr)
            for name, url in urls.items():
                samples[name].append(serve.wrk(server, slot_port, CONCURRENCY, args.duration, lua, url))
        report = table(samples, args, load_before, os.getloadavg())
        print(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "latest.txt").write_text(report + "\n")
    finally:
        serve.stop_all(list(reversed(processes)))
        shutil.rmtree(work, ignore_errors=True)


def check_fronts(urls: dict[str, str], body: str, headers: dict, ca_cert: Path) -> None:
    """Each front answers the seed request with [2] (TLS verified against the CA); without the key, the
    keyed front answers 401."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(ca_cert))
    deadline = time.monotonic() + 30
    for name, url in urls.items():
        while True:
            try:
                request = urllib.request.Request(url, body.encode(), headers)
                with urllib.request.urlopen(request, timeout=5, context=context) as answer:
                    assert answer.read().strip() == b"[2]", name
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    unkeyed = {k: v for k, v in headers.items() if k != "Authorization"}
    try:
        urllib.request.urlopen(urllib.request.Request(urls["tls+key"], body.encode(), unkeyed), context=context)
        sys.exit("bench: the keyed front answered a request without the key")
    except urllib.error.HTTPError as refused:
        assert refused.code == 401


def table(samples: dict[str, list[dict]], args, load_before, load_after) -> str:
    med = {
        name: {key: statistics.median(point[key] for point in points) for key in ("rps", "p50", "p99")}
        | {"failures": sum(point["failures"] for point in points)}
        for name, points in samples.items()
    }
    plain = med["plain"]
    lines = [
        (
            f"bench/front: one fleetdeploy serve (uvicorn, 1 worker) behind roles/fleet_front's HAProxy config, "
            f"wrk -c{CONCURRENCY} keep-alive, {args.duration}s x {args.rounds} interleaved rounds, median; "
            f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
        ),
        f"{'front':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'req/s vs plain':>15} {'p99 vs plain':>13} {'failed':>7}",
    ]
    for name, point in med.items():
        lines.append(
            f"{name:<10} {point['rps']:>9.0f} {point['p50']:>8.2f} {point['p99']:>8.2f} "
            f"{point['rps'] / plain['rps']:>15.2f} {point['p99'] - plain['p99']:>+12.2f}ms {point['failures']:>7}"
        )
    keyed = med["tls+key"]
    ok = keyed["rps"] >= 0.85 * plain["rps"] and keyed["p99"] - plain["p99"] <= 1.0
    lines.append(
        f"target (TLS + key >= 0.85 x plain req/s, p99 + <= 1 ms): {'met' if ok else 'NOT met'} "
        f"({keyed['rps'] / plain['rps']:.2f} x, {keyed['p99'] - plain['p99']:+.2f} ms)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
