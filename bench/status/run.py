"""Benchmark: `fleetdeploy status` (and `fleetdeploy check`, preflight) on a healthy 10-node sandbox,
against `ansible all -m ping` on the same fleet (the cheapest thing Ansible can do on every node, as the
peer).

One sandbox of N nodes (Docker preinstalled, bookworm), the example deployed to all of them at once,
then each command timed as a fresh process, `--repeat` times, median and spread printed:

    fleetdeploy status            HTTP probes only (the default for healthy nodes)
    fleetdeploy status --facts    plus every node's container state over Ansible (one module call)
    fleetdeploy status --drift    plus file hashes on every node and the spec hashed here
    fleetdeploy check             preflight: one read-only module call per node (apply's first step)
    ansible all -m ping           the peer (ansible's defaults; the sandbox inventory's SSH settings)

and the in-process time of the HTTP part alone (no Python start, no imports), which is what
the fleet size changes.

    .venv/bin/python bench/status/run.py [--nodes 10] [--repeat 5]

Writes bench/status/results/latest.txt. Everything it makes (the sandbox, a FLEETDEPLOY_HOME) is
temporary and removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "status" / "results"
VENV_BIN = REPO / ".venv" / "bin"
FLEETDEPLOY = [str(VENV_BIN / "python"), "-m", "fleetdeploy"]


def timed(argv: list[str], env: dict, expect: int = 0, timeout: float = 600) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        raise SystemExit(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed


def series(argv: list[str], env: dict, repeat: int) -> list[float]:
    timed(argv, env)  # warm: page cache, SSH host keys read once
    return [timed(argv, env) for _ in range(repeat)]


def describe(times: list[float]) -> str:
    return f"median {statistics.median(times):6.2f} s  (min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"


def in_process_http(inventory: Path, spec: Path, repeat: int) -> list[float]:
    from fleetdeploy.ops.status import fleet_status
    from fleetdeploy.ops.target import resolve_target

    target = resolve_target(spec)
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        result = fleet_status(inventory, target)
        times.append(time.perf_counter() - started)
        assert result.healthy, result.as_json()
    return times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fleetdeploy-bench-status-"))
    env = {
        **os.environ,
        "FLEETDEPLOY_HOME": str(work / "home"),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }
    os.environ["FLEETDEPLOY_HOME"] = env["FLEETDEPLOY_HOME"]
    name = f"bench-status-{secrets.token_hex(3)}"
    project = work / "mnist"
    shutil.copytree(REPO / "examples" / "mnist", project, ignore=shutil.ignore_patterns("__pycache__"))
    spec = project / "fleetdeploy.yml"
    # Every node at once: the deploy is set-up here, not what is measured.
    values = yaml.safe_load(spec.read_text())
    values["rollout"] = {"batch": "100%"}
    spec.write_text(yaml.safe_dump(values, sort_keys=False))
    lines = []
    try:
        up = subprocess.run(
            [*FLEETDEPLOY, "sandbox", "up", "--name", name, "--nodes", str(args.nodes), "--docker", "preinstalled"],
            env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if up.returncode != 0:
            raise SystemExit(f"sandbox up failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
        inventory = Path(up.stdout.strip().splitlines()[-1])
        print(f"sandbox {name}: {args.nodes} nodes; deploying the example to all of them", flush=True)
        # Ten image loads at once: over 10 minutes on a loaded 2-core machine.
        deploy = timed([*FLEETDEPLOY, "apply", str(inventory), "-f", str(spec)], env, timeout=1800)
        print(f"deployed in {deploy:.0f} s; measuring", flush=True)
        status = [*FLEETDEPLOY, "status", str(inventory), "-f", str(spec)]
        rows = {
            "fleetdeploy status": series(status, env, args.repeat),
            "fleetdeploy status --facts": series([*status, "--facts"], env, args.repeat),
            "fleetdeploy status --drift": series([*status, "--drift"], env, args.repeat),
            "fleetdeploy check": series([*FLEETDEPLOY, "check", str(inventory), "-f", str(spec)], env, args.repeat),
            "ansible all -m ping": series(
                [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "ansible.builtin.ping"],
                env,
                args.repeat,
            ),
            "status HTTP part, in process": in_process_http(inventory, spec, args.repeat),
        }
        peer = statistics.median(rows["ansible all -m ping"])
        lines.append(
            f"# bench/status/run.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.nodes} healthy nodes, "
            f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )
        for label, times in rows.items():
            ratio = statistics.median(times) / peer
            lines.append(f"{label:32s} {describe(times)}  = {ratio:4.2f} x ping")
    finally:
        subprocess.run(
            [*FLEETDEPLOY, "sandbox", "down", "--name", name], env=env, capture_output=True, check=False
        )
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.txt").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
