# Preflight's verdicts: can a node take the service, judged on what the module fleet_preflight reported.
# Pure functions, the one place the rules live: deploy.yml's first play says each node's failures and
# stops the deploy past rollout.max_fail (so a project run by ansible-playbook or AWX checks as apply
# does), and fleetdeploy (fleetdeploy/preflight.py:
# `fleetdeploy check`, apply's first step) loads this very file. Unit-tested in tests/unit/test_preflight.py.
from __future__ import annotations

import time

MIN_PYTHON = (3, 8)  # the oldest node Python ansible-core 2.19 runs modules with
MAX_CLOCK_SKEW = 60.0  # seconds; TLS certificates, logs and the history read wrong beyond it
DATA_MARGIN = 100 * 1024 * 1024  # code, release records, logs and the front's files under the data root
# The families the roles are written for. Debian 12 and 13 are what the sandbox tests run.
TESTED = {"debian": ("12", "13")}
SUPPORTED_FAMILIES = ("debian", "ubuntu", "rhel", "fedora", "centos", "rocky", "almalinux")

OK, WARN, FAIL = "ok", "warn", "fail"


def _check(name, status, detail, fix=""):
    # name: ssh, sudo, python, os, disk, memory, port, docker, cpu, gpu, selinux, clock; status: ok, warn
    # (reported, not blocking) or fail.
    return {"name": name, "status": status, "detail": detail, "fix": fix}


def judge(facts, needs, window):
    """The verdicts on one node's facts (fleet_preflight's report). `needs`: what the spec asks of a node
    (service, port, runtime, memory in bytes or None, gpus, data_bytes, kept_releases); `window`: the
    controller's clock (epoch seconds) before and after the node was asked."""
    return [
        _python(facts["python"]),
        _os(facts["os"]),
        _disk(facts["disk"], needs),
        _memory(facts["memory"], needs),
        _port(facts["port"], needs),
        *([_docker(facts["docker"])] if needs["runtime"] == "docker" else []),
        _cpu(facts["cpu"]),
        *([_gpu(facts["nvidia"])] if needs["gpus"] else []),
        _selinux(facts["selinux"]),
        _clock(facts["time"], window),
    ]


def verdicts(facts, needs, started, ended=None):
    """judge() as deploy.yml calls it: `started` is the controller's clock before the module ran, the
    end of the window is now."""
    return judge(facts, needs, (float(started), float(ended) if ended is not None else time.time()))


def failures(checks):
    """The failed checks, each as "name: detail (fix: ...)", for a task's message."""
    return [
        f"{check['name']}: {check['detail']}" + (f" (fix: {check['fix']})" if check["fix"] else "")
        for check in checks
        if check["status"] == FAIL
    ]


def _python(version: str) -> dict:
    parts = tuple(int(part) for part in version.split(".")[:2])
    if parts < MIN_PYTHON:
        return _check("python", FAIL, f"python3 {version}", "install python3 3.8 or newer (Ansible runs its modules with it)")
    return _check("python", OK, version)


def _os(os_release: dict) -> dict:
    ident, like, version = os_release.get("id", ""), os_release.get("id_like", ""), os_release.get("version_id", "")
    name = os_release.get("pretty_name") or f"{ident} {version}".strip() or "unknown"
    if version.split(".")[0] in TESTED.get(ident, ()):
        return _check("os", OK, name)
    families = {ident, *like.split()}
    if families & set(SUPPORTED_FAMILIES):
        return _check("os", WARN, f"{name}: rendered for, not tested on the sandbox", "see docs/real-machines.md")
    return _check("os", FAIL, f"{name}: not a system the roles are written for", "use a Debian, Ubuntu or RHEL-family node")


def _disk(disk: dict, needs: dict) -> dict:
    free, path = disk["free"], disk["path"]
    detail = f"{_size(free)} free under {path}"
    if free < needs["data_bytes"]:
        return _check(
            "disk", FAIL, f"{detail}; the service needs {_size(needs['data_bytes'])} there "
            f"(models x {needs['kept_releases']} kept releases, and {_size(DATA_MARGIN)} for code, records and logs)",
            f"free space under {path}, or lower rollout.keep_releases",
        )
    if needs["runtime"] == "docker":
        detail += f"; {_size(disk['docker_free'])} under {disk['docker_path']} for images"
    return _check("disk", OK, detail)


def _memory(memory: dict, needs: dict) -> dict:
    total = memory.get("total") or 0
    detail = f"{_size(total)} total, {_size(memory.get('available') or 0)} available"
    if needs["memory"] and total < needs["memory"]:
        return _check(
            "memory", FAIL, f"{detail}; the spec's memory limit is {_size(needs['memory'])}",
            "lower resources.memory for this node, or give it more memory",
        )
    return _check("memory", OK, detail)


def _port(port: dict, needs: dict) -> dict:
    number, holders = port["number"], port["holders"]
    others = [holder for holder in holders if holder != needs["service"]]
    if others:
        return _check(
            "port", FAIL, f"port {number} is held by fleetdeploy service {', '.join(others)}",
            f"give {needs['service']} another port (spec `port`), or remove {others[0]}",
        )
    if port["listening"] and needs["service"] not in holders:
        return _check(
            "port", FAIL, f"port {number} is held by another program", f"free port {number}, or change the spec's port"
        )
    return _check("port", OK, f"{number}: {'ours' if port['listening'] else 'free'}")


def _docker(docker: dict) -> dict:
    if not docker["installed"]:
        return _check("docker", OK, "not installed: apply installs it (apt)")
    if not docker["running"]:
        return _check("docker", WARN, f"installed, engine not answering: {docker.get('error') or ''}".strip(), "apply starts it")
    return _check("docker", OK, f"engine {docker['version']}")


def _cpu(cpu: dict) -> dict:
    if cpu["missing_x86_64_v2"]:
        return _check(
            "cpu", WARN, f"{cpu['machine']} without {', '.join(cpu['missing_x86_64_v2'])} (below x86-64-v2)",
            "recent numpy/scikit-learn wheels may not run here: pin older ones or build from source",
        )
    return _check("cpu", OK, f"{cpu['machine']}, {cpu['count']} core(s)")


def _gpu(nvidia: dict) -> dict:
    if not nvidia["driver"]:
        return _check("gpu", FAIL, "the spec asks for GPUs; nvidia-smi finds none", "install the NVIDIA driver")
    if not nvidia["toolkit"]:
        return _check("gpu", FAIL, "no NVIDIA container toolkit", "install nvidia-container-toolkit")
    return _check("gpu", OK, f"{len(nvidia['gpus'])} GPU(s)")


def _selinux(selinux: dict) -> dict:
    if selinux["mode"] == "enforcing" and not selinux["haproxy_connect_any"]:
        return _check(
            "selinux", FAIL, "enforcing; HAProxy may not reach the slot ports",
            "setsebool -P haproxy_connect_any 1",
        )
    return _check("selinux", OK, selinux["mode"])


def _clock(node_time: float, window: tuple[float, float]) -> dict:
    start, end = window
    skew = 0.0 if start - 1 <= node_time <= end + 1 else min(abs(node_time - start), abs(node_time - end))
    if skew > MAX_CLOCK_SKEW:
        return _check("clock", FAIL, f"{skew:.0f} s off the controller's", "enable NTP (systemd-timesyncd, chrony)")
    return _check("clock", OK, f"within {max(skew, 1.0):.0f} s of the controller's")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


class FilterModule:
    def filters(self):
        return {"fleet_preflight_verdicts": verdicts, "fleet_preflight_failures": failures}
