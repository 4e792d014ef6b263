"""Preflight: can each node take the service, asked before anything is built or sent.

`fleetdeploy check` prints it as a table; `apply` runs it first and stops before building anything when
more nodes fail it than the spec's max_fail allows. One read-only run of playbooks/preflight.yml (role
fleet_preflight, one module call per node) gathers facts; every verdict is made here, by `judge`, so the
rules are one piece of Python that unit tests cover."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fleetdeploy.spec.model import Spec

PLAYBOOK = "preflight.yml"
MIN_PYTHON = (3, 8)  # the oldest node Python ansible-core 2.19 runs modules with
MAX_CLOCK_SKEW = 60.0  # seconds; TLS certificates, logs and the history read wrong beyond it
DATA_MARGIN = 100 * 1024 * 1024  # code, release records, logs and the front's files under the data root
# The families the roles are written for. Debian 12 and 13 are what the sandbox tests run.
TESTED = {"debian": ("12", "13")}
SUPPORTED_FAMILIES = ("debian", "ubuntu", "rhel", "fedora", "centos", "rocky", "almalinux")

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    name: str  # ssh, sudo, python, os, disk, memory, port, docker, cpu, gpu, selinux, clock
    status: str  # ok, warn (reported, not blocking), fail
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Needs:
    """What the spec asks of a node, in the terms the facts are in."""

    service: str
    port: int
    runtime: str
    memory: int | None  # bytes, the container's or unit's limit
    gpus: bool
    data_bytes: int  # under the data root: the models, kept releases' worth, and a margin
    kept_releases: int

    @classmethod
    def from_spec(cls, spec: Spec) -> Needs:
        models = sum(
            path.stat().st_size
            for model in spec.models
            for path in ([model.path] if model.path.is_file() else model.path.rglob("*"))
            if path.is_file()
        )
        kept = spec.rollout.keep_releases
        return cls(
            service=spec.service,
            port=spec.port,
            runtime=spec.runtime,
            memory=spec.resources.memory,
            gpus=bool(spec.resources.gpus),
            data_bytes=models * kept + DATA_MARGIN,
            kept_releases=kept,
        )


@dataclass(frozen=True)
class NodePreflight:
    host: str
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == FAIL]


def run_preflight(inventory_path: Path, spec: Spec, hosts: list[str]) -> dict[str, NodePreflight]:
    """Ask every host (one read-only Ansible run) and judge each."""
    from fleetdeploy.ops.runs import run_on_nodes

    needs = Needs.from_spec(spec)
    variables = {"fleet_preflight_service": spec.service, "fleet_preflight_port": spec.port}
    started = time.time()
    result = run_on_nodes(
        inventory_path, PLAYBOOK, variables, service=spec.service, action="preflight", limit=",".join(hosts)
    )
    window = (started, time.time())
    return {name: NodePreflight(name, judge_host(result.hosts.get(name), needs, window)) for name in hosts}


def judge_host(host, needs: Needs, window: tuple[float, float]) -> list[Check]:
    """The checks of one host from its Ansible result (None: Ansible said nothing about it)."""
    if host is None:
        return [Check("ssh", FAIL, "Ansible gave no result for this host", "see the run folder's artifacts")]
    if host.unreachable:
        return [Check("ssh", FAIL, host.message or "unreachable", "check ansible_host/port/user and the SSH key")]
    facts = (host.report or {}).get("preflight")
    if host.failed or not facts:
        message = host.message or "the preflight module failed"
        lowered = message.lower()
        if "sudo" in lowered or "become" in lowered or "password" in lowered:
            return [Check("ssh", OK, "reached"), Check("sudo", FAIL, message, "passwordless sudo, or -K / --become-password-file")]
        if "python" in lowered or "interpreter" in lowered:
            return [Check("ssh", OK, "reached"), Check("python", FAIL, message, "install python3 (3.8 or newer) on the node")]
        return [Check("ssh", OK, "reached"), Check("preflight", FAIL, message)]
    return [Check("ssh", OK, "reached"), Check("sudo", OK, "works"), *judge(facts, needs, window)]


def judge(facts: dict, needs: Needs, window: tuple[float, float]) -> list[Check]:
    """Pure: the verdicts on one node's facts (fleet_preflight's report)."""
    return [
        _python(facts["python"]),
        _os(facts["os"]),
        _disk(facts["disk"], needs),
        _memory(facts["memory"], needs),
        _port(facts["port"], needs),
        *([_docker(facts["docker"])] if needs.runtime == "docker" else []),
        _cpu(facts["cpu"]),
        *([_gpu(facts["nvidia"])] if needs.gpus else []),
        _selinux(facts["selinux"]),
        _clock(facts["time"], window),
    ]


def _python(version: str) -> Check:
    parts = tuple(int(part) for part in version.split(".")[:2])
    if parts < MIN_PYTHON:
        return Check("python", FAIL, f"python3 {version}", "install python3 3.8 or newer (Ansible runs its modules with it)")
    return Check("python", OK, version)


def _os(os_release: dict) -> Check:
    ident, like, version = os_release.get("id", ""), os_release.get("id_like", ""), os_release.get("version_id", "")
    name = os_release.get("pretty_name") or f"{ident} {version}".strip() or "unknown"
    if version.split(".")[0] in TESTED.get(ident, ()):
        return Check("os", OK, name)
    families = {ident, *like.split()}
    if families & set(SUPPORTED_FAMILIES):
        return Check("os", WARN, f"{name}: rendered for, not tested on the sandbox", "see docs/real-machines.md")
    return Check("os", FAIL, f"{name}: not a system the roles are written for", "use a Debian, Ubuntu or RHEL-family node")


def _disk(disk: dict, needs: Needs) -> Check:
    free, path = disk["free"], disk["path"]
    detail = f"{_size(free)} free under {path}"
    if free < needs.data_bytes:
        return Check(
            "disk", FAIL, f"{detail}; the service needs {_size(needs.data_bytes)} there "
            f"(models x {needs.kept_releases} kept releases, and {_size(DATA_MARGIN)} for code, records and logs)",
            f"free space under {path}, or lower rollout.keep_releases",
        )
    if needs.runtime == "docker":
        detail += f"; {_size(disk['docker_free'])} under {disk['docker_path']} for images"
    return Check("disk", OK, detail)


def _memory(memory: dict, needs: Needs) -> Check:
    total = memory.get("total") or 0
    detail = f"{_size(total)} total, {_size(memory.get('available') or 0)} available"
    if needs.memory and total < needs.memory:
        return Check(
            "memory", FAIL, f"{detail}; the spec's memory limit is {_size(needs.memory)}",
            "lower resources.memory for this node, or give it more memory",
        )
    return Check("memory", OK, detail)


def _port(port: dict, needs: Needs) -> Check:
    number, holders = port["number"], port["holders"]
    others = [holder for holder in holders if holder != needs.service]
    if others:
        return Check(
            "port", FAIL, f"port {number} is held by fleetdeploy service {', '.join(others)}",
            f"give {needs.service} another port (spec `port`), or remove {others[0]}",
        )
    if port["listening"] and needs.service not in holders:
        return Check(
            "port", FAIL, f"port {number} is held by another program", f"free port {number}, or change the spec's port"
        )
    return Check("port", OK, f"{number}: {'ours' if port['listening'] else 'free'}")


def _docker(docker: dict) -> Check:
    if not docker["installed"]:
        return Check("docker", OK, "not installed: apply installs it (apt)")
    if not docker["running"]:
        return Check("docker", WARN, f"installed, engine not answering: {docker.get('error') or ''}".strip(), "apply starts it")
    return Check("docker", OK, f"engine {docker['version']}")


def _cpu(cpu: dict) -> Check:
    if cpu["missing_x86_64_v2"]:
        return Check(
            "cpu", WARN, f"{cpu['machine']} without {', '.join(cpu['missing_x86_64_v2'])} (below x86-64-v2)",
            "recent numpy/scikit-learn wheels may not run here: pin older ones or build from source",
        )
    return Check("cpu", OK, f"{cpu['machine']}, {cpu['count']} core(s)")


def _gpu(nvidia: dict) -> Check:
    if not nvidia["driver"]:
        return Check("gpu", FAIL, "the spec asks for GPUs; nvidia-smi finds none", "install the NVIDIA driver")
    if not nvidia["toolkit"]:
        return Check("gpu", FAIL, "no NVIDIA container toolkit", "install nvidia-container-toolkit")
    return Check("gpu", OK, f"{len(nvidia['gpus'])} GPU(s)")


def _selinux(selinux: dict) -> Check:
    if selinux["mode"] == "enforcing" and not selinux["haproxy_connect_any"]:
        return Check(
            "selinux", FAIL, "enforcing; HAProxy may not reach the slot ports",
            "setsebool -P haproxy_connect_any 1",
        )
    return Check("selinux", OK, selinux["mode"])


def _clock(node_time: float, window: tuple[float, float]) -> Check:
    start, end = window
    skew = 0.0 if start - 1 <= node_time <= end + 1 else min(abs(node_time - start), abs(node_time - end))
    if skew > MAX_CLOCK_SKEW:
        return Check("clock", FAIL, f"{skew:.0f} s off the controller's", "enable NTP (systemd-timesyncd, chrony)")
    return Check("clock", OK, f"within {max(skew, 1.0):.0f} s of the controller's")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)
