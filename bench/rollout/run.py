"""Benchmark: how long a rolling update takes on sandbox fleets of 3 and 6 nodes, and what it does to
the latency clients see: p99 of POST /score during each rollout against p99 in steady state, measured
with the same load in the same run, taking turns (steady, rollout, steady, rollout, ...).

For each fleet size N, one fresh sandbox (nodes with Docker preinstalled, bookworm and trixie
alternating) and the example model:

    untimed: the first deploy (v1; ships the scoring image), then v2 and back to v1, all nodes at
             once (both code releases on the nodes, as on any fleet in use)
    per rollout setting (`batch: 1` one node at a time, and `batch: [1, 100%]` a canary then the rest),
    `--rounds` times: steady load for `--steady` seconds, then a rollout (v1 -> v2 or back) under the
             same load
    reference, `--rounds` times: the same, but an apply of the release already served (batch 1): what
             Ansible's checks alone do to the latency on this machine, the floor under the figures above

The load is tests/load.py (the generator the rollout tests use): `--rate` requests/s in all,
spread over every node's published scoring port on 127.0.0.1, keep-alive, no retries, bounded in
requests and time. Each rollout must end with every node serving its release and 0 failed requests;
otherwise the figures are still printed, and the run exits non-zero.

    .venv/bin/python bench/rollout/run.py [--nodes 3,6] [--rounds 2] [--rate 120] [--steady 20]

Measures a `git archive` of `--ref` (default HEAD), not the shared working tree. Writes
bench/rollout/results/latest.txt (failed.txt when a run went wrong). Everything it makes is removed
at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path("examples") / "mnist"
RESULTS = REPO / "bench" / "rollout" / "results"
VENV_BIN = REPO / ".venv" / "bin"
DISTROS = ("bookworm", "trixie")
SETTINGS = {"batch 1": {"batch": 1, "max_fail": 0}, "batch [1, 100%]": {"batch": [1, "100%"], "max_fail": 0}}
# The floor under every rollout figure: the same apply, one node at a time, of the release already served
# (no container starts, no switch; only Ansible's checks on each node, under the same load).
NO_OP = "no-op apply, batch 1 (reference)"
RUN_TIMEOUT = 1800


@dataclass
class Rollout:
    nodes: int
    setting: str
    seconds: float
    p99_ms: float
    p50_ms: float
    steady_p99_ms: float
    steady_p50_ms: float
    sent: int
    failed: int
    rate: float
    generator_cpu: float  # share of one core the load generator used
    load: tuple[float, float]

    @property
    def ratio(self) -> float:
        return self.p99_ms / self.steady_p99_ms


@dataclass
class Bench:
    work: Path
    env: dict
    commit: str
    args: argparse.Namespace
    rollouts: list[Rollout] = field(default_factory=list)
    applies: int = 0  # numbers the log files
    problems: list[str] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="3,6", help="comma list of fleet sizes (default 3,6)")
    parser.add_argument("--rounds", type=int, default=2, help="rollouts per setting and size (default 2)")
    parser.add_argument(
        "--rate", type=float, default=120, help="requests/s over the whole fleet (default 120)"
    )
    parser.add_argument("--steady", type=float, default=20, help="seconds of steady load before each rollout")
    parser.add_argument("--ref", default="HEAD", help="the commit to measure (default HEAD)")
    parser.add_argument("--keep-logs", action="store_true", help="keep every run's output in /tmp")
    args = parser.parse_args()
    sizes = [int(n) for n in args.nodes.split(",") if n.strip()]
    if not sizes or any(n < 1 or n > 12 for n in sizes) or args.rounds < 1 or args.rate <= 0:
        sys.exit(f"bench: --nodes {args.nodes!r}: give fleet sizes between 1 and 12; --rounds and --rate > 0")

    subprocess.run([REPO / "scripts" / "make-example.sh"], check=True)
    work = Path(tempfile.mkdtemp(prefix="fleetdeploy-bench-rollout-"))
    (work / "logs").mkdir()
    os.environ["FLEETDEPLOY_HOME"] = str(work / "home")  # private sandbox state and run folders
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # a private image tarball cache
    try:
        source, commit = snapshot(work, args.ref)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    sys.path.insert(0, str(source))  # the load generator and the sandbox code of the measured commit
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(source)
    bench = Bench(work, env, commit, args)
    started, load_start = time.monotonic(), os.getloadavg()
    failed = True
    try:
        for n in sizes:
            measure_size(bench, source, n)
        failed = bool(bench.problems)
    finally:
        report = table(bench, load_start, time.monotonic() - started)
        print(report)
        if bench.rollouts:
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / ("failed.txt" if failed else "latest.txt")).write_text(report + "\n")
        if failed or args.keep_logs:
            print(f"bench: logs kept in {work / 'logs'}", file=sys.stderr)
            for sub in ("home", "cache", "projects", "src"):
                shutil.rmtree(work / sub, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


def snapshot(work: Path, ref: str) -> tuple[Path, str]:
    """The repository at `ref`, exported (others edit the shared working tree while this runs; a changed
    scoring server would mean another image). The example's model is not committed: copied over."""
    done = subprocess.run(
        ["git", "-C", REPO, "rev-parse", "--short=12", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"bench: --ref {ref}: {done.stderr.strip()}")
    commit = done.stdout.strip()
    source = work / "src"
    source.mkdir()
    archive = subprocess.run(["git", "-C", REPO, "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", source], input=archive, check=True)
    model = EXAMPLE / "model" / "sklearn_mnist_model.pkl"
    (source / model).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / model, source / model)
    return source, commit


def measure_size(bench: Bench, source: Path, n: int) -> None:
    projects = {name: version(bench, source, f"{n}-{name}", name) for name in ("v1", "v2")}
    with sandbox(f"bench-roll-{n}-{secrets.token_hex(2)}", n) as fleet:
        # Untimed set-up, all nodes at once: the image shipped, both code releases on the nodes.
        for project in projects.values():
            set_rollout(project, {"batch": "100%", "max_fail": 0})
        for name in ("v1", "v2", "v1"):
            run_apply(bench, fleet, projects[name], f"setup-{n}-{name}")
        releases: dict[str, str] = {}
        current = "v1"
        for setting, rollout in SETTINGS.items():
            for project in projects.values():
                set_rollout(project, rollout)
            for _ in range(bench.args.rounds):
                target = "v2" if current == "v1" else "v1"
                bench.rollouts.append(
                    measure_rollout(bench, fleet, projects[target], setting, releases, target)
                )
                current = target
        set_rollout(projects[current], SETTINGS["batch 1"])
        for _ in range(bench.args.rounds):
            bench.rollouts.append(measure_rollout(bench, fleet, projects[current], NO_OP, releases, current))


def measure_rollout(bench: Bench, fleet, project: Path, setting: str, releases: dict, target: str) -> Rollout:
    try:
        from tests.load import start_load
    except ImportError:  # a --ref from before the generator left the package
        from fleetdeploy.health.load import start_load

    args = bench.args
    targets = {node.host: node.scoring_url for node in fleet.nodes}
    body = (project / "sample_request.json").read_bytes()
    bound = args.steady + RUN_TIMEOUT
    load = start_load(
        targets,
        rate=args.rate,
        max_requests=int(args.rate * bound),
        max_seconds=bound,
        body=body,
        expect_body=b"[2]",
        timeout=10,
        # 4 keep-alive connections per node: at 40 requests/s per node each waits 100 ms between
        # requests, so one slow answer on a busy machine does not make the schedule skip.
        connections_per_node=4,
    )
    loadavg = os.getloadavg()[0]
    time.sleep(args.steady)
    begin = load.elapsed()
    try:
        seconds = run_apply(bench, fleet, project, f"rollout-{len(fleet.nodes)}-{setting}-{target}")
    finally:
        end = load.elapsed()
        load.stop()
        report = load.result(timeout=60)
    steady = report.summary(report.between(1.0, begin))  # the first second warms connections up
    during = report.summary(report.between(begin, end))
    served = {host: release_of(url) for host, url in targets.items()}
    expected = releases.setdefault(target, served[fleet.nodes[0].host])
    label = f"{len(fleet.nodes)} nodes, {setting}, to {target}"
    if set(served.values()) != {expected}:
        bench.problems.append(f"{label}: nodes serve {served}, expected {expected} everywhere")
    whole = report.summary()
    if whole.failed:
        bench.problems.append(f"{label}: {whole.failed} failed requests {whole.failures_by_node}")
    return Rollout(
        nodes=len(fleet.nodes),
        setting=setting,
        seconds=seconds,
        p99_ms=during.p99_ms or float("nan"),
        p50_ms=during.p50_ms or float("nan"),
        steady_p99_ms=steady.p99_ms or float("nan"),
        steady_p50_ms=steady.p50_ms or float("nan"),
        sent=whole.sent,
        failed=whole.failed,
        rate=whole.rate,
        generator_cpu=whole.cpu_seconds / max(whole.seconds, 1e-9),
        load=(loadavg, os.getloadavg()[0]),
    )


def release_of(url: str) -> str | None:
    try:
        with urllib.request.urlopen(f"{url}/version", timeout=10) as answer:
            return json.load(answer).get("release")
    except OSError as exc:
        return f"unreachable ({exc})"


def version(bench: Bench, source: Path, label: str, marker: str) -> Path:
    """A copy of the example whose score.py carries a marker comment (so v1 and v2 are two releases)."""
    dest = bench.work / "projects" / label
    shutil.copytree(source / EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    script = dest / "score.py"
    script.write_text(script.read_text() + f"\n# bench/rollout: {marker}\n")
    return dest


def set_rollout(project: Path, rollout: dict) -> None:
    spec_path = project / "fleetdeploy.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["rollout"] = rollout
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))


@contextlib.contextmanager
def sandbox(name: str, nodes: int):
    """A sandbox with Docker preinstalled for the `with` block, removed afterwards whatever happens."""
    from fleetdeploy.sandbox import lifecycle

    print(f"bench: sandbox {name}: {nodes} node(s)", file=sys.stderr)
    try:
        yield lifecycle.up(
            name,
            nodes=nodes,
            distros=DISTROS,
            docker_modes=("preinstalled",),
            progress=lambda line: print(f"  [{name}] {line}", file=sys.stderr),
        )
    finally:
        if lifecycle.find(name) is not None:
            lifecycle.down(name)


def run_apply(bench: Bench, fleet, project: Path, label: str) -> float:
    """`fleetdeploy apply` to completion in its own process with fresh SSH connections; wall seconds."""
    command = [VENV_BIN / "fleetdeploy", "apply", fleet.inventory, "-f", project / "fleetdeploy.yml"]
    bench.applies += 1
    name = (
        f"{bench.applies:02d}-{label}".replace(" ", "_").replace("/", "").replace(",", "").replace("%", "pc")
    )
    log = bench.work / "logs" / f"{name}.log"
    # Short: the ssh control socket path must fit a Unix socket address (108 bytes).
    control = bench.work / "cp" / f"{bench.applies:02d}"
    control.mkdir(parents=True)
    print(f"bench: {label}", file=sys.stderr)
    start = time.perf_counter()
    done = subprocess.run(
        [str(c) for c in command],
        check=False,
        cwd=project,
        env={**bench.env, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    seconds = time.perf_counter() - start
    log.write_text(f"$ {' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise SystemExit(
            f"bench: {label} exited {done.returncode} after {seconds:.0f} s:\n{tail}\n(log: {log})"
        )
    print(f"bench: {label}: {seconds:.1f} s", file=sys.stderr)
    return seconds


def table(bench: Bench, load_start: tuple, seconds: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    args = bench.args
    header = (
        f"bench/rollout  commit {bench.commit}  {now}  {seconds / 60:.1f} min  "
        f"load avg (1 min) {load_start[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    method = (
        f"load: {args.rate:g} req/s over all nodes, POST /score (examples/mnist sample), keep-alive, no "
        f"retries; {args.steady:g} s steady before each rollout; 'during' = requests sent while apply ran"
    )
    columns = (
        "| nodes | rollout | runs | wall s (median) | s per node | p99 steady ms | p99 during ms | p99 ratio "
        "| p50 steady / during ms | failed / sent | achieved req/s | generator CPU |"
    )
    lines = [header, method, "", columns, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[int, str], list[Rollout]] = {}
    for rollout in bench.rollouts:
        groups.setdefault((rollout.nodes, rollout.setting), []).append(rollout)
    for (nodes, setting), runs in groups.items():
        wall = statistics.median(r.seconds for r in runs)
        steady = statistics.median(r.steady_p99_ms for r in runs)
        during = statistics.median(r.p99_ms for r in runs)
        lines.append(
            f"| {nodes} | {setting} | {len(runs)} | {wall:.1f} | {wall / nodes:.1f} | {steady:.1f} | {during:.1f} "
            f"| {statistics.median(r.ratio for r in runs):.2f} "
            f"| {statistics.median(r.steady_p50_ms for r in runs):.1f} / {statistics.median(r.p50_ms for r in runs):.1f} "
            f"| {sum(r.failed for r in runs)} / {sum(r.sent for r in runs)} "
            f"| {min(r.rate for r in runs):.0f} | {100 * max(r.generator_cpu for r in runs):.0f}% |"
        )
    lines.append("")
    lines.append("Each run (wall s, p99 steady -> during ms, ratio, load average before -> after):")
    for r in bench.rollouts:
        lines.append(
            f"  {r.nodes} nodes, {r.setting}: {r.seconds:.1f} s, {r.steady_p99_ms:.1f} -> {r.p99_ms:.1f} ms, "
            f"x{r.ratio:.2f}, load {r.load[0]:.1f} -> {r.load[1]:.1f}, {r.failed} failed"
        )
    if bench.problems:
        lines += ["", "PROBLEMS:", *(f"  {problem}" for problem in bench.problems)]
    command = (
        f".venv/bin/python bench/rollout/run.py --nodes {args.nodes} --rounds {args.rounds} "
        f"--rate {args.rate:g} --steady {args.steady:g}"
    )
    lines += ["", f"command: {command}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
