"""How a node container is run so that systemd works as PID 1 and can host its own Docker engine.

`--privileged` is not used: it fails on hosts whose capability bounding set lacks CAP_SYS_RESOURCE,
and nodes do not need it. All other capabilities, no seccomp/AppArmor filter, a writable cgroup tree
and tmpfs on /run give systemd and an inner dockerd what they need.
"""

from __future__ import annotations

from fleetdeploy.sandbox.plan import STATE_LABEL, NodePlan, network_name


def run_options(node: NodePlan, cgroup_version: int, state_folder: str) -> dict:
    """Keyword arguments for docker's `containers.create` for one node."""
    options = {
        "image": node.image,
        "name": node.container,
        "hostname": node.container,
        "labels": {**node.labels, STATE_LABEL: state_folder},
        "detach": True,
        "network": network_name(node.sandbox),
        # Only ever on the loopback address: the host reaches nodes through 127.0.0.1 and nothing else.
        "ports": {f"{port}/tcp": ("127.0.0.1", host_port) for port, host_port in node.ports},
        "cap_add": ["ALL"],
        "cap_drop": ["SYS_RESOURCE"],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "tmpfs": {"/run": "rw,exec,mode=755", "/run/lock": "rw,mode=1777"},
        "volumes": {
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            node.volume: {"bind": "/var/lib/docker", "mode": "rw"},
        },
        "stop_signal": "SIGRTMIN+3",
    }
    options.update(_cgroup_options(cgroup_version))
    return options


def _cgroup_options(cgroup_version: int) -> dict:
    if cgroup_version >= 2:
        # On the unified hierarchy a private cgroup namespace would see the host's tree through the
        # bind mount and disagree with /proc/self/cgroup; sharing the host's namespace keeps them in step.
        return {"cgroupns": "host"}
    # cgroup v1: Docker 20.10 has no cgroup namespaces on v1; the bind mount alone is what systemd needs.
    # (systemd 257 of Debian trixie still boots on v1 inside a container, marking itself tainted.)
    return {}
