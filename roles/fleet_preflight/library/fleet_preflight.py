#!/usr/bin/python
"""Ansible module: what a node offers a fleetdeploy service, read-only, in one round trip (preflight).

It reports facts, not verdicts: the system, Python, free space under the data root and Docker's, memory,
who listens on the service's port (a fleetdeploy service, by its active.json, or another program),
Docker's state, the CPU's x86-64 level, NVIDIA's tools, SELinux's mode and the node's clock. The
controller judges them against the spec (fleetdeploy/preflight.py), so one rule serves every node.

Standard library only and Python 3.6 compatible: it runs with the node's own python3.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # noqa: F821  (Ansible's module boilerplate)

DOCUMENTATION = r"""
module: fleet_preflight
short_description: Report what a node offers a fleetdeploy service (read-only)
description:
  - Reports the OS, Python, free disk under the data root and Docker's data root, memory, listeners on
    the port and which fleetdeploy service holds it, Docker's state, CPU features, NVIDIA tools, SELinux
    mode and the node's clock, as C(preflight). Changes nothing.
options:
  root:
    description: Root of fleetdeploy's files on the node (may not exist yet).
    type: str
    default: /opt/fleetdeploy
  port:
    description: The service's node port.
    type: int
    required: true
  service:
    description: The service name.
    type: str
    required: true
author: fleetdeploy
"""

import os
import platform
import shutil
import subprocess
import sys
import time

from ansible.module_utils.fleet_layout import active_path, read_json

# x86-64-v2, the level the wheels of numpy and friends are built for (cpuinfo flag names).
X86_64_V2 = ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3")


def run(argv):
    """(rc, stdout); rc 127 when the program is not installed."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError:
        return 127, ""
    out, _ = proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace").strip()


def os_release(path="/etc/os-release"):
    values = {}
    try:
        with open(path) as fh:
            for line in fh:
                key, _, value = line.strip().partition("=")
                if key:
                    values[key] = value.strip('"')
    except (IOError, OSError):
        pass
    return {key.lower(): values.get(key, "") for key in ("ID", "ID_LIKE", "VERSION_ID", "PRETTY_NAME")}


def free_space(path):
    """(existing folder measured, free bytes) for path or its nearest existing parent."""
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    stats = os.statvfs(path)
    return path, stats.f_bavail * stats.f_frsize


def meminfo(path="/proc/meminfo"):
    values = {}
    with open(path) as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                values[key] = int(parts[0]) * 1024
    return {"total": values.get("MemTotal"), "available": values.get("MemAvailable")}


def listening(port, tables=("/proc/net/tcp", "/proc/net/tcp6")):
    """Whether anything listens on TCP `port`, from the kernel's socket tables (state 0A: LISTEN)."""
    for table in tables:
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except (IOError, OSError, StopIteration):
            continue
    return False


def port_holders(root, port, service):
    """The fleetdeploy services whose active.json says they serve on `port`; `service` too when its folder
    exists with no active.json (a first deploy cut short may have started its front on the port)."""
    holders = []
    recorded = False
    if not os.path.isdir(root):
        return holders
    for name in sorted(os.listdir(root)):
        active = read_json(active_path(os.path.join(root, name)))[0]  # None: absent or unreadable
        if not isinstance(active, dict):
            continue
        recorded = recorded or name == service
        if str(active.get("port")) == str(port):
            holders.append(name)
    if not recorded and os.path.isdir(os.path.join(root, service)):
        holders.append(service)
    return holders


def docker_facts(runner=run):
    if not shutil.which("docker"):
        return {"installed": False, "running": False, "version": None}
    rc, out = runner(["docker", "version", "--format", "{{.Server.Version}}"])
    return {"installed": True, "running": rc == 0, "version": out if rc == 0 else None, "error": None if rc == 0 else out[-300:]}


def cpu_facts(path="/proc/cpuinfo"):
    machine = platform.machine()
    flags = set()
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.partition(":")[2].split())
                    break
    except (IOError, OSError):
        pass
    missing = [flag for flag in X86_64_V2 if flag not in flags] if machine == "x86_64" else []
    return {"machine": machine, "missing_x86_64_v2": missing, "count": os.cpu_count()}


def nvidia_facts(runner=run):
    rc, out = runner(["nvidia-smi", "-L"]) if shutil.which("nvidia-smi") else (127, "")
    toolkit = any(shutil.which(name) for name in ("nvidia-container-toolkit", "nvidia-container-runtime", "nvidia-ctk"))
    return {"driver": rc == 0, "gpus": out.splitlines() if rc == 0 else [], "toolkit": toolkit}


def selinux_facts(runner=run):
    try:
        with open("/sys/fs/selinux/enforce") as fh:
            mode = "enforcing" if fh.read().strip() == "1" else "permissive"
    except (IOError, OSError):
        return {"mode": "disabled", "haproxy_connect_any": None}
    rc, out = runner(["getsebool", "haproxy_connect_any"])
    return {"mode": mode, "haproxy_connect_any": out.endswith("on") if rc == 0 else None}


def preflight(root, port, service, runner=run):
    data_path, data_free = free_space(root)
    docker_path, docker_free = free_space("/var/lib/docker")
    return {
        "os": os_release(),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "disk": {"path": data_path, "free": data_free, "docker_path": docker_path, "docker_free": docker_free},
        "memory": meminfo(),
        "port": {"number": port, "listening": listening(port), "holders": port_holders(root, port, service)},
        "docker": docker_facts(runner),
        "cpu": cpu_facts(),
        "nvidia": nvidia_facts(runner),
        "selinux": selinux_facts(runner),
        "time": time.time(),
    }


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "root": {"type": "str", "default": "/opt/fleetdeploy"},
            "port": {"type": "int", "required": True},
            "service": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    report = preflight(module.params["root"], module.params["port"], module.params["service"])
    module.exit_json(changed=False, ansible_facts={"fleetdeploy_report": {"preflight": report}})


if __name__ == "__main__":
    main()
