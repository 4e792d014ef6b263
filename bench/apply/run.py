"""Benchmark: `fleetdeploy apply` against plain `ansible-playbook` running the project `fleetdeploy render`
writes, on sandbox fleets of 1, 3 and 6 nodes; and the bytes each node receives per deploy.

For each fleet size N, two fresh sandboxes (nodes with Docker preinstalled, bookworm and trixie
alternating, so apt mirror speed stays out of the figures):

    fleet A: fleetdeploy apply (cold), apply again (no-op), ansible-playbook on the rendered project
             (no-op), `ansible all -m ping` (the floor: one module round trip per node), then a
             score.py-only change deployed with apply
    fleet B: ansible-playbook on a rendered project (cold)

Wall time of each run comes from the real CLI and the real ansible-playbook, each started as a process
with fresh SSH connections (a private ControlPath folder per run). The bytes sent to a node are its
eth0 rx_bytes before and after a run (SSH and Ansible's own module traffic included). No-op runs are
checked to change nothing, and a run that deploys another release than expected stops the benchmark
(someone changing the scoring server mid-run would otherwise silently turn a no-op into a deploy).

    .venv/bin/python bench/apply/run.py [--nodes 1,3,6] [--budget-minutes 25] [--absent-row] [--transfer]
    .venv/bin/python bench/apply/run.py --nodes '' --transfer    # the transfer rows alone

--transfer adds, on 3 nodes, tunnel transfer beside the tarball (docs/image.md "Transfer"): for each
mode a fresh fleet gets a cold deploy, an environment change (one package added to the requirements)
and a second service with the same requirements on the same nodes; wall seconds and MB per node each.
(fd's cold runs in the main table use apply's default, the tunnel; ap's the tarball, as a rendered
project run on its own does.)

Bounded: before each fleet size it predicts the time from the previous one and stops when the budget
would be exceeded, printing the command for what was left out. Writes bench/apply/results/latest.txt.
Everything it makes (sandboxes, FLEETDEPLOY_HOME, the image tarball cache) lives in a temporary folder
or is labelled with the sandbox name, and is removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path("examples") / "mnist"
RESULTS = REPO / "bench" / "apply" / "results"
VENV_BIN = REPO / ".venv" / "bin"
DISTROS = ("bookworm", "trixie")
RUN_TIMEOUT = 1800  # seconds; one run that takes longer is a failure, not a figure
MB = 1e6


@dataclass
class Run:
    """One timed run of one tool on one fleet."""

    tool: str  # "fleetdeploy" | "ansible-playbook" | "ansible ping"
    case: str  # "cold" | "no-op" | "score.py" | "ping"
    nodes: int
    seconds: float
    rx_bytes: dict[str, int]  # node -> bytes received during the run
    changed: int  # tasks reported changed, all nodes together
    load: tuple[float, float]  # 1-minute load average before, after
    playbook_seconds: float | None = None  # fleetdeploy only: the playbook's own span in its job events
    ssh_bytes: dict[str, int] | None = None  # node -> of rx_bytes, those sent to port 22

    @property
    def ssh_mb_per_node(self) -> float | None:
        return sum(self.ssh_bytes.values()) / len(self.ssh_bytes) / MB if self.ssh_bytes else None

    @property
    def mb_per_node(self) -> float:
        return sum(self.rx_bytes.values()) / len(self.rx_bytes) / MB

    @property
    def mb_max(self) -> float:
        return max(self.rx_bytes.values()) / MB


@dataclass
class Bench:
    work: Path
    env: dict
    source: Path  # the snapshot of the repository being measured
    commit: str
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def log(self, name: str) -> Path:
        return self.work / "logs" / f"{len(self.runs) + 1:02d}-{name}.log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,3,6", help="comma list of fleet sizes (default 1,3,6)")
    parser.add_argument("--budget-minutes", type=float, default=25.0, help="stop before exceeding this")
    parser.add_argument(
        "--noop-rounds", type=int, default=3, help="no-op runs per tool, interleaved; the median counts"
    )
    parser.add_argument(
        "--ref", default="HEAD", help="the commit to measure (default HEAD; the working tree is not used)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep every run's output in /tmp")
    parser.add_argument(
        "--transfer", action="store_true", help="also compare tunnel transfer with tarballs on 3 nodes"
    )
    parser.add_argument(
        "--absent-row", action="store_true", help="also time a cold apply on 1 node without Docker (apt)"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.nodes.split(",") if n.strip()]
    if (not sizes and not args.transfer) or any(n < 1 or n > 20 for n in sizes):
        sys.exit(f"bench: --nodes {args.nodes!r}: give fleet sizes between 1 and 20, e.g. 1,3,6")

    subprocess.run([REPO / "scripts" / "make-example.sh"], check=True)
    work = Path(tempfile.mkdtemp(prefix="fleetdeploy-bench-apply-"))
    (work / "logs").mkdir()
    # A private FLEETDEPLOY_HOME (sandbox state, run folders) and image cache: other people's applies on
    # this machine prune the shared tarball cache, which would pull a rendered project's tarball away.
    os.environ["FLEETDEPLOY_HOME"] = str(work / "home")
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    try:
        source, commit = snapshot(work, args.ref)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # The CLI and this process import fleetdeploy from the snapshot (ahead of the editable install).
    sys.path.insert(0, str(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(source)
    bench = Bench(work, env, source, commit)
    started, load_start = time.monotonic(), os.getloadavg()
    failed = True
    skipped: list[int] = []
    try:
        previous: tuple[int, float] | None = None
        for n in sizes:
            elapsed = time.monotonic() - started
            if previous and elapsed + previous[1] * n / previous[0] > args.budget_minutes * 60:
                skipped = sizes[sizes.index(n) :]
                break
            size_started = time.monotonic()
            measure_size(bench, n, max(args.noop_rounds, 1))
            previous = (n, time.monotonic() - size_started)
        if args.absent_row and not skipped:
            measure_absent(bench)
        if args.transfer and not skipped:
            measure_transfer(bench)
        failed = False
    finally:
        report = table(bench, load_start, os.getloadavg(), time.monotonic() - started, skipped, args)
        print(report)
        if bench.runs:
            RESULTS.mkdir(exist_ok=True)
            measured = "-".join(map(str, sorted({r.nodes for r in bench.runs})))
            names = ["failed.txt"] if failed else ["latest.txt", f"nodes-{measured}.txt"] if sizes else ["transfer.txt"]
            for name in names:
                (RESULTS / name).write_text(report + "\n")
        if failed or args.keep_logs:
            print(f"bench: logs kept in {work / 'logs'}", file=sys.stderr)
            for sub in ("home", "cache", "projects"):
                shutil.rmtree(work / sub, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def snapshot(work: Path, ref: str) -> tuple[Path, str]:
    """The repository at `ref`, exported. Others edit the shared working tree while this runs; a
    change to the scoring server's files mid-run would make a new image, so a new release, and turn
    a no-op into a deploy. The example's model is not committed: it is copied from the checkout."""
    commit = git("rev-parse", "--short=12", f"{ref}^{{commit}}").strip()
    source = work / "src"
    source.mkdir()
    archive = subprocess.run(["git", "-C", REPO, "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", source], input=archive, check=True)
    model = EXAMPLE / "model" / "sklearn_mnist_model.pkl"
    (source / model).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / model, source / model)
    return source, commit


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def measure_size(bench: Bench, n: int, noop_rounds: int) -> None:
    tag = secrets.token_hex(2)
    project = copy_example(bench, f"{n}-a")
    with sandbox(f"bench-{n}-{tag}a", n, "preinstalled") as fleet_a:
        # Untimed: builds the scoring image if needed and saves its tarball, so the timed runs below
        # measure deploying, as any repeated apply would; the build is docs/image.md's subject.
        rendered = render(bench, fleet_a, project, f"{n}-a")
        cold = apply(bench, fleet_a, project, "cold")
        # Other people's load on the shared cores moves single no-op figures by tens of percent: the
        # two tools take turns (fd ap, ap fd, ...) and the median of each is reported.
        for round_number in range(noop_rounds):
            order = ("fd", "ap", "ping") if round_number % 2 == 0 else ("ping", "ap", "fd")
            for tool in order:
                if tool == "ping":
                    ping(bench, fleet_a, rendered)
                    continue
                if tool == "fd":
                    noop = apply(bench, fleet_a, project, "no-op")
                    if noop.release != cold.release:
                        raise SystemExit(
                            "bench: the release changed between applies (scoring server edited?)"
                        )
                else:
                    noop = ansible_playbook(bench, fleet_a, rendered, "no-op")
                if noop.changed:
                    raise SystemExit(
                        f"bench: a no-op {noop.tool} on {n} node(s) changed {noop.changed} task(s)"
                    )
        script = project / "score.py"
        script.write_text(script.read_text() + "\n# bench: a comment, a new release of the code only\n")
        apply(bench, fleet_a, project, "score.py")
    pristine = copy_example(bench, f"{n}-b")
    with sandbox(f"bench-{n}-{tag}b", n, "preinstalled") as fleet_b:
        rendered_b = render(bench, fleet_b, pristine, f"{n}-b")
        if rendered_b.release != cold.release:
            raise SystemExit("bench: fleet B renders another release than fleet A got (sources edited?)")
        ansible_playbook(bench, fleet_b, rendered_b, "cold")


def measure_absent(bench: Bench) -> None:
    project = copy_example(bench, "absent")
    with sandbox(f"bench-1-{secrets.token_hex(2)}x", 1, "absent") as fleet:
        run = apply(bench, fleet, project, "cold, Docker absent")
    bench.notes.append(
        f"cold apply on 1 node without Docker (installs docker.io from deb.debian.org): {run.seconds:.1f} s, "
        f"{run.mb_per_node:.0f} MB received (apt downloads included)"
    )


TRANSFER_NODES = 3
SECOND_PORT = 6790  # the second service's, published by the transfer fleets


def measure_transfer(bench: Bench) -> None:
    for mode in ("archive", "tunnel"):
        project = copy_example(bench, f"transfer-{mode}")
        set_spec(project, transfer={"mode": mode})
        name = f"bench-t{mode[0]}-{secrets.token_hex(2)}"
        with sandbox(name, TRANSFER_NODES, "preinstalled", extra_ports=(SECOND_PORT,)) as fleet:
            apply(bench, fleet, project, f"cold, {mode}")
            with (project / "requirements.txt").open("a") as requirements:
                requirements.write("six==1.17.0\n")  # a new environment: base layers unchanged
            apply(bench, fleet, project, f"environment, {mode}")
            second = copy_example(bench, f"transfer-{mode}-second")
            shutil.copy(project / "requirements.txt", second / "requirements.txt")
            set_spec(second, service="mnist-second", port=SECOND_PORT, transfer={"mode": mode})
            apply(bench, fleet, second, f"second service, {mode}")


def set_spec(project: Path, **values) -> None:
    import yaml

    path = project / "fleetdeploy.yml"
    spec = yaml.safe_load(path.read_text())
    spec.update(values)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))


@contextlib.contextmanager
def sandbox(name: str, nodes: int, docker: str, extra_ports: tuple[int, ...] = ()):
    """A sandbox for the `with` block, removed afterwards whatever happens."""
    from fleetdeploy.sandbox import lifecycle

    print(f"bench: sandbox {name}: {nodes} node(s), Docker {docker}", file=sys.stderr)
    try:
        box = lifecycle.up(
            name,
            nodes=nodes,
            distros=DISTROS,
            docker_modes=(docker,),
            extra_ports=extra_ports,
            progress=lambda line: print(f"  [{name}] {line}", file=sys.stderr),
        )
        count_ssh(box)
        yield box
    finally:
        if lifecycle.find(name) is not None:
            lifecycle.down(name)


@dataclass
class Rendered:
    folder: Path
    release: str


@dataclass
class ApplyRun(Run):
    release: str = ""


def copy_example(bench: Bench, label: str) -> Path:
    dest = bench.work / "projects" / label
    shutil.copytree(bench.source / EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def render(bench: Bench, fleet, project: Path, label: str) -> Rendered:
    out = bench.work / "rendered" / label
    done = timed(
        bench,
        [VENV_BIN / "fleetdeploy", "render", fleet.inventory, "-f", project / "fleetdeploy.yml", "-o", out],
        f"render-{label}",
        cwd=project,
    )[0]
    values = json.loads((out / "project" / "vars" / "fleetdeploy.json").read_text())
    release, archive = values.get("fleetdeploy_release"), values.get("fleet_image_archive")
    if not release:
        raise SystemExit(f"bench: no release id in {out}/project/vars/fleetdeploy.json")
    # A rendered project names its files relative to project/ (render/bundle.py).
    size = f"; image tarball {(out / 'project' / archive).stat().st_size / MB:.0f} MB" if archive else ""
    bench.notes.append(f"render ({label}, untimed setup): {done:.1f} s{size}")
    return Rendered(out, release)


def apply(bench: Bench, fleet, project: Path, case: str) -> ApplyRun:
    command = [VENV_BIN / "fleetdeploy", "apply", fleet.inventory, "-f", project / "fleetdeploy.yml"]
    log = bench.log(f"apply-{len(fleet.nodes)}-{case.split(',')[0]}")
    before, load = rx_bytes(fleet), os.getloadavg()[0]
    seconds, output = timed(bench, command, log.stem, cwd=project)
    after = rx_bytes(fleet)
    release = re.search(r"^release (\w+) ->", output, re.MULTILINE)
    run_folder = re.search(r"run folder (\S+)", output)
    if not (release and run_folder):
        raise SystemExit(f"bench: apply printed no release/run folder; see {log}")
    changed, span = changes_and_span(Path(run_folder.group(1)))
    total, ssh = received(before, after)
    run = ApplyRun(
        "fleetdeploy",
        case,
        len(fleet.nodes),
        seconds,
        total,
        changed,
        (load, os.getloadavg()[0]),
        playbook_seconds=span,
        ssh_bytes=ssh,
        release=release.group(1),
    )
    bench.runs.append(run)
    return run


def ansible_playbook(bench: Bench, fleet, rendered: Rendered, case: str) -> Run:
    # As the rendered README says: from project/, with its ansible.cfg and the vars file.
    command = [VENV_BIN / "ansible-playbook", "playbooks/deploy.yml"]
    before, load = rx_bytes(fleet), os.getloadavg()[0]
    seconds, output = timed(
        bench,
        command,
        bench.log(f"ansible-playbook-{len(fleet.nodes)}-{case}").stem,
        cwd=rendered.folder / "project",
    )
    after = rx_bytes(fleet)
    total, ssh = received(before, after)
    run = Run(
        "ansible-playbook",
        case,
        len(fleet.nodes),
        seconds,
        total,
        changed_outside_bookkeeping(output),
        (load, os.getloadavg()[0]),
        ssh_bytes=ssh,
    )
    bench.runs.append(run)
    return run


def ping(bench: Bench, fleet, rendered: Rendered) -> Run:
    """`ansible all -m ping` on the same inventory from the same project folder (its ansible.cfg: same
    SSH settings, pipelining, forks): one module round trip per node, the floor a no-op is held to
    (issue: a no-op apply within 3x of it)."""
    command = [VENV_BIN / "ansible", "all", "-m", "ansible.builtin.ping"]
    before, load = rx_bytes(fleet), os.getloadavg()[0]
    label = bench.log(f"ping-{len(fleet.nodes)}").stem
    seconds, output = timed(bench, command, label, cwd=rendered.folder / "project")
    if output.count("SUCCESS") != len(fleet.nodes):
        raise SystemExit(f"bench: `ansible all -m ping` did not reach every node:\n{output[-2000:]}")
    total, ssh = received(before, rx_bytes(fleet))
    run = Run("ansible ping", "ping", len(fleet.nodes), seconds, total, 0, (load, os.getloadavg()[0]), ssh_bytes=ssh)
    bench.runs.append(run)
    return run


def timed(bench: Bench, command: list, label: str, *, cwd: Path) -> tuple[float, str]:
    """Run a command to completion; its wall time and output. Each run gets its own SSH ControlPath
    folder, so no run starts on connections an earlier one left open (ControlPersist)."""
    log = bench.work / "logs" / f"{label}.log"
    control = bench.work / "cp" / label
    control.mkdir(parents=True)
    env = {**bench.env, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)}
    print(f"bench: {label}", file=sys.stderr)
    start = time.perf_counter()
    done = subprocess.run(
        [str(c) for c in command],
        check=False,
        cwd=cwd,
        env=env,
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
    return seconds, done.stdout


def count_ssh(fleet) -> None:
    """A rule that only counts: the bytes each node receives on port 22, so what came over SSH can be
    told from the rest (the Docker role still runs apt for community.docker's Python bindings). Nodes
    without iptables (no Docker preinstalled) report totals only."""
    for node in fleet.nodes:
        node_shell(node, "command -v iptables >/dev/null && iptables -w -I INPUT 1 -p tcp --dport 22 || true")


def rx_bytes(fleet) -> dict[str, tuple[int, int | None]]:
    """Per node: bytes its eth0 has received so far, and of those the bytes sent to its SSH port."""
    counts = {}
    for node in fleet.nodes:
        out = node_shell(
            node,
            "cat /sys/class/net/eth0/statistics/rx_bytes; command -v iptables >/dev/null && "
            "iptables -w -L INPUT -v -x -n | awk '/dpt:22$/ {print $2; exit}' || true",
        ).split()
        counts[node.host] = (int(out[0]), int(out[1]) if len(out) > 1 else None)
    return counts


def received(before: dict, after: dict) -> tuple[dict[str, int], dict[str, int] | None]:
    total = {host: after[host][0] - before[host][0] for host in after}
    if any(after[host][1] is None for host in after):
        return total, None
    return total, {host: after[host][1] - before[host][1] for host in after}


def node_shell(node, command: str) -> str:
    from fleetdeploy.dockerhost import docker_client, exec_output

    code, out = exec_output(docker_client().containers.get(node.container), ["sh", "-c", command])
    if code != 0:
        raise SystemExit(f"bench: `{command}` in {node.container} exited {code}: {out}")
    return out


def changed_outside_bookkeeping(output: str) -> int:
    """Tasks Ansible's screen output reports changed, all nodes together, but for the lock and the history
    record, which every run writes."""
    from tests.e2e.deploy_helpers import changed_in_output  # the measured commit's (sys.path)

    return sum(len(tasks) for tasks in changed_in_output(output).values())


def changes_and_span(run_folder: Path) -> tuple[int, float | None]:
    """From ansible-runner's job events of one apply: the tasks that reported a change (all hosts, the lock
    and history left out), and
    the seconds from the playbook's start to its stats, the part plain ansible-playbook also does."""
    from tests.e2e.deploy_helpers import changed_tasks  # the measured commit's (sys.path)

    changed = sum(len(tasks) for tasks in changed_tasks(run_folder).values())
    stamps = {}
    for path in run_folder.glob("artifacts/*/job_events/*.json"):
        event = json.loads(path.read_text())
        kind = event.get("event")
        if kind in ("playbook_on_start", "playbook_on_stats"):
            stamps[kind] = datetime.fromisoformat(event["created"])
    if len(stamps) < 2:
        return changed, None
    return changed, (stamps["playbook_on_stats"] - stamps["playbook_on_start"]).total_seconds()


def table(bench: Bench, load_start, load_end, elapsed: float, skipped: list[int], args) -> str:
    def runs(tool: str, case: str, n: int) -> list[Run]:
        return [r for r in bench.runs if (r.tool, r.case, r.nodes) == (tool, case, n)]

    def median(values: list[float]) -> float | None:
        return statistics.median(values) if values else None

    def secs(tool: str, case: str, n: int) -> float | None:
        return median([r.seconds for r in runs(tool, case, n)])

    def col(value: float | None, width: int = 7) -> str:
        return f"{value:{width}.1f}" if value is not None else " " * (width - 1) + "-"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:5.2f}x" if a and b else "     -"

    def mb(tool: str, case: str, n: int) -> str:
        found = runs(tool, case, n)
        if not found:
            return "-"
        ssh = [r.ssh_mb_per_node for r in found if r.ssh_mb_per_node is not None]
        via_ssh = f"/{median(ssh):.2f}" if ssh else ""
        return f"{median([r.mb_per_node for r in found]):.2f}{via_ssh}"

    def outside(n: int) -> float | None:
        """fleetdeploy's own seconds around the playbook (plan, runner start, probes), no-op median."""
        return median(
            [r.seconds - r.playbook_seconds for r in runs("fleetdeploy", "no-op", n) if r.playbook_seconds]
        )

    sizes = sorted({r.nodes for r in bench.runs if ", " not in r.case})  # not the transfer or absent rows
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"fleetdeploy apply vs plain ansible-playbook on sandbox fleets ({stamp}, commit {bench.commit})",
        "$ .venv/bin/python bench/apply/run.py " + " ".join(sys.argv[1:]),
        "nodes: Docker preinstalled, bookworm/trixie alternating; each run with fresh SSH connections;",
        "the scoring image was built and its tarball saved before timing (untimed `fleetdeploy render`)",
        (
            f"load average (1/5/15 min) at start {fmt_load(load_start)}, at end {fmt_load(load_end)} "
            f"(2 cores, shared); {elapsed / 60:.1f} min in all"
        ),
    ]
    if sizes:  # not with --nodes '' --transfer
        lines += [
            "",
            ("wall seconds  fd cold  ap cold  ratio   fd no-op  ap no-op  ratio   ping  fd no-op/ping  "
            "fd around playbook  fd score.py"),
        ]
    for n in sizes:
        fd_cold, ap_cold = secs("fleetdeploy", "cold", n), secs("ansible-playbook", "cold", n)
        fd_noop, ap_noop = secs("fleetdeploy", "no-op", n), secs("ansible-playbook", "no-op", n)
        pinged = secs("ansible ping", "ping", n)
        lines.append(
            f"{n} node(s)    {col(fd_cold)}  {col(ap_cold)}  {ratio(fd_cold, ap_cold)}  "
            f"{col(fd_noop, 8)}  {col(ap_noop, 8)}  {ratio(fd_noop, ap_noop)}  {col(pinged, 5)}  "
            f"{ratio(fd_noop, pinged):>13}  {col(outside(n), 18)}  {col(secs('fleetdeploy', 'score.py', n), 11)}"
        )
    if sizes:
        lines += [
            "",
            "MB received per node, all/over SSH  first deploy fd  first deploy ap  score.py only  no change fd  ap",
        ]
    for n in sizes:
        lines.append(
            f"{n} node(s)                          {mb('fleetdeploy', 'cold', n):>15}  "
            f"{mb('ansible-playbook', 'cold', n):>15}  {mb('fleetdeploy', 'score.py', n):>13}  "
            f"{mb('fleetdeploy', 'no-op', n):>12}  {mb('ansible-playbook', 'no-op', n)}"
        )
    if any(r.case.endswith(", tunnel") for r in bench.runs):
        lines += [
            "",
            f"transfer on {TRANSFER_NODES} nodes   tarball s  tunnel s  ratio   tarball MB/node  tunnel MB/node  ratio",
        ]
        for case in ("cold", "environment", "second service"):
            a, t = secs("fleetdeploy", f"{case}, archive", TRANSFER_NODES), secs("fleetdeploy", f"{case}, tunnel", TRANSFER_NODES)
            a_mb = median([r.mb_per_node for r in runs("fleetdeploy", f"{case}, archive", TRANSFER_NODES)])
            t_mb = median([r.mb_per_node for r in runs("fleetdeploy", f"{case}, tunnel", TRANSFER_NODES)])
            lines.append(
                f"{case:24} {col(a, 9)}  {col(t, 8)}  {ratio(t, a)}  {col(a_mb, 15)}  {col(t_mb, 14)}  {ratio(t_mb, a_mb)}"
            )
    lines += [
        "",
        "every run (tool, case, nodes, seconds [playbook span], MB/node all/SSH, changed tasks, load before/after):",
    ]
    for r in bench.runs:
        span = f"[{r.playbook_seconds:6.1f}]" if r.playbook_seconds else " " * 8
        lines.append(
            f"  {r.tool:16} {r.case:20} {r.nodes}  {r.seconds:7.1f} s {span}  {r.mb_per_node:7.2f}/"
            f"{r.ssh_mb_per_node if r.ssh_mb_per_node is not None else float('nan'):.2f} MB  "
            f"changed {r.changed:3}  load {r.load[0]:.2f} -> {r.load[1]:.2f}"
        )
    lines += [f"  {note}" for note in bench.notes]
    lines += [
        "",
        "fd = fleetdeploy apply (the CLI: plan, release check, render, ansible-runner, /version and /score",
        "probes); ap = ansible-playbook playbooks/deploy.yml in the rendered",
        "project/. cold = first deploy to fresh nodes (fd on fleet A, ap on fleet B); no-op = the same",
        "release again on fleet A (wall seconds: median of the interleaved rounds); score.py = one comment",
        "appended to the entry script. ping = `ansible all -m ping` from the same project folder (median;",
        "the target is fd no-op within 3x of it). fd around playbook = fd no-op wall time minus the playbook's span in",
        "its job events. MB = the node's eth0 rx_bytes during the run (median over runs and nodes), all",
        "of it / what went to port 22 (an iptables counter on the node): SSH is compressed (Ansible's",
        "default ssh -C) and carries Ansible's module payloads and the data; the rest is the node's own",
        "apt traffic (the Docker role installs community.docker's Python bindings on a first deploy).",
    ]
    if skipped:
        lines += [
            "",
            (
                f"not measured (the {args.budget_minutes:g}-minute budget would be exceeded): "
                f"{','.join(map(str, skipped))} node(s); run them with"
            ),
            f"  .venv/bin/python bench/apply/run.py --nodes {','.join(map(str, skipped))}",
        ]
    return "\n".join(lines)


def fmt_load(load) -> str:
    return "/".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
