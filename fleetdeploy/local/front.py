"""A local service's front: HAProxy in a container with the config a node's front has (rendered from
roles/fleet_front/templates/front.cfg.j2), both slots behind it on one loopback: the front and the slots
join the network namespace of a holder container that publishes the service's port (as a node's front
and slots share the node's)."""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import docker.errors

from fleetdeploy.errors import ConfigError, EnvironmentProblem
from fleetdeploy.local.role_code import layout, render_role_template, role_values

SLOTS = ("blue", "green")  # roles/fleet_front/vars/main.yml's __fleet_front_slots
CONFIG_IN_CONTAINER = "/etc/fleetdeploy-local"
SOCKET_IN_CONTAINER = "/run/fleetdeploy-local"
READY_SECONDS = 15


class FrontFiles:
    """<service folder>/front: the config HAProxy reads (front.cfg, kept naming the serving slot so a
    restart keeps it), local.cfg (the admin socket this machine's user reaches) and run/admin.sock."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.config = folder / "front.cfg"
        self.local_config = folder / "local.cfg"
        self.run_dir = folder / "run"

    @contextmanager
    def socket(self) -> Iterator[str]:
        """The admin socket's path, short enough to connect to: a unix socket's path may have 107 bytes,
        which a workspace deep in a home folder passes (the folder opened, named through /proc)."""
        fd = os.open(self.run_dir, os.O_PATH | os.O_DIRECTORY)
        try:
            yield f"/proc/self/fd/{fd}/admin.sock"
        finally:
            os.close(fd)

    def write(self, service: str, port: int, slot_ports: dict[str, int], serving: str | None) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The socket is HAProxy's (root in its container): owned by this machine's user, in a folder only it enters.
        local = f"global\n    stats socket {SOCKET_IN_CONTAINER}/admin.sock mode 600 uid {os.getuid()} level admin\n"
        write = layout().write_durably
        write(str(self.local_config), local.encode())
        write(str(self.config), front_config(service, port, slot_ports, serving).encode())


def front_config(service: str, port: int, slot_ports: dict[str, int], serving: str | None) -> str:
    defaults = role_values("fleet_front")
    return render_role_template("fleet_front", "front.cfg.j2", {
        "ansible_managed": "written by fleetdeploy for a service on this machine's Docker engine; do not edit",
        "fleet_front_service": service,
        "__fleet_front_socket": "/run/haproxy-admin.sock",  # inside the container; ours is local.cfg's
        "fleet_front_tls": False,
        "fleet_front_keepalive_timeout": defaults["fleet_front_keepalive_timeout"],
        "fleet_front_server_timeout": defaults["fleet_front_server_timeout"],
        "fleet_front_bind": "*",  # in the front's own network namespace; Docker publishes it
        "fleet_front_port": port,
        "fleet_front_key_hashes": [],
        "fleet_front_metrics_hashes": [],
        "__fleet_front_slots": list(SLOTS),
        "fleet_front_slot_ports": slot_ports,
        "__fleet_front_config_slot": serving or "",
    })


def log_config() -> docker.types.LogConfig:
    """Rotated logs for every container of a local service, as roles/fleet_service rotates a node's."""
    defaults = role_values("fleet_service")
    return docker.types.LogConfig(type="json-file", config={
        "max-size": defaults["fleet_service_log_max_size"], "max-file": str(defaults["fleet_service_log_max_file"])})


def check_port_free(address: str, port: int, service: str) -> None:
    """Refuse a port some program on this machine holds, before anything starts (Docker would only
    say so once the front is created)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections just closed do not count
    try:
        probe.bind((address, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(_port_taken(address, port, service)) from None
        raise
    finally:
        probe.close()


def _port_taken(address: str, port: int, service: str) -> str:
    return (f"port {port} on this machine ({address}) is already in use by another program; free it, or give "
            f"service {service} another: LocalWebservice.deploy_configuration(port=...)")


def start_holder(client, *, image: str, name: str, address: str, port: int, labels: dict, service: str):
    """The container that holds the service's network namespace and publishes its port, and does nothing
    else (a pod's pause container): the front and the slots join it, so the front restarting on its own
    (HAProxy crashed, a `docker restart`) finds the slots where they were."""
    try:
        return client.containers.run(
            image, command=["sleep", "infinity"], name=name, detach=True, init=True,
            ports={f"{port}/tcp": (address, port)}, labels=labels, restart_policy={"Name": "unless-stopped"},
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            log_config=log_config(),
        )
    except docker.errors.APIError as exc:
        text = str(exc.explanation or exc)
        if "port is already allocated" in text or "address already in use" in text:
            raise ConfigError(_port_taken(address, port, service)) from None
        raise EnvironmentProblem(f"the Docker engine refused the network of {service}: {text}") from None


def start_front(client, *, image: str, name: str, files: FrontFiles, holder: str, labels: dict, service: str):
    """The front container in `holder`'s network namespace, answering on its admin socket."""
    try:
        container = client.containers.run(
            image,
            command=["haproxy", "-W", "-db", "-f", f"{CONFIG_IN_CONTAINER}/front.cfg",
                     "-f", f"{CONFIG_IN_CONTAINER}/local.cfg"],
            name=name,
            detach=True,
            network_mode=f"container:{holder}",
            volumes={str(files.folder): {"bind": CONFIG_IN_CONTAINER, "mode": "ro"},
                     str(files.run_dir): {"bind": SOCKET_IN_CONTAINER, "mode": "rw"}},
            labels=labels,
            restart_policy={"Name": "unless-stopped"},
            log_config=log_config(),
        )
    except docker.errors.APIError as exc:
        raise EnvironmentProblem(f"the Docker engine refused the front of {service}: {exc.explanation or exc}") from None
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        try:
            with files.socket() as path:
                layout().front_admin(path, "show info")
            return container
        except OSError:
            container.reload()
            if container.status not in ("created", "running"):
                break
            time.sleep(0.1)
    tail = container.logs(tail=20).decode(errors="replace")
    raise EnvironmentProblem(f"the front of {service} (container {name}) did not start: {tail.strip()}")
