"""Creating, listing and removing sandboxes.

Everything `up` makes (node containers, their /var/lib/docker volumes, the sandbox's bridge network)
carries the label fleetdeploy.sandbox=<name>, so `list` and `down` are label queries and touch nothing
else. `up` is all or nothing: if any step fails, what it made so far is removed before the error is shown.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, NotFound

from fleetdeploy.dockerhost import cgroup_version, docker_client, exec_output
from fleetdeploy.errors import ConfigError, EnvironmentProblem, FleetdeployError
from fleetdeploy.sandbox.container import run_options
from fleetdeploy.sandbox.images import ensure_images
from fleetdeploy.sandbox.plan import (
    DOCKER_LABEL,
    NODE_LABEL,
    RELEASE_LABEL,
    SANDBOX_LABEL,
    STATE_LABEL,
    NodePlan,
    check_name,
    network_name,
    plan_nodes,
    sandbox_labels,
)
from fleetdeploy.sandbox.state import (
    Node,
    StatePaths,
    known_hosts_lines,
    new_keypair,
    remove_state,
    state_paths,
    write_state,
)
from fleetdeploy.sandbox.wait import wait_until

Progress = Callable[[str], None]
_READY_STATES = ("running", "degraded")


class SandboxExists(FleetdeployError):
    """`up` was asked for a sandbox that already exists; nothing was changed."""


class SandboxNotFound(FleetdeployError):
    """No sandbox has the given name."""


class SandboxConflict(ConfigError):
    """A name or host port the sandbox needs is taken by something else."""


@dataclass(frozen=True)
class Sandbox:
    name: str
    nodes: tuple[Node, ...]
    paths: StatePaths
    states: tuple[str, ...] = ()  # container state per node, for `list`

    @property
    def inventory(self):
        return self.paths.inventory


@dataclass(frozen=True)
class Removed:
    containers: int
    volumes: int
    networks: int
    state_folder: bool


def up(
    name: str = "default",
    nodes: int = 2,
    distros: Sequence[str] = ("bookworm",),
    docker_modes: Sequence[str] = ("absent",),
    extra_ports: Sequence[int] = (),
    ssh_ports: Sequence[int] | None = None,
    ready_timeout: float = 180,
    client: docker.DockerClient | None = None,
    progress: Progress | None = None,
) -> Sandbox:
    """Start a sandbox of `nodes` node containers and write its inventory. See plan_nodes for how
    releases and Docker modes are spread over the nodes."""
    say = progress or (lambda _msg: None)
    plans = plan_nodes(name, nodes, distros, docker_modes, extra_ports, ssh_ports)
    client = client or docker_client()
    existing = find(name, client)
    if existing is not None or _labelled_leftovers(client, name):
        raise SandboxExists(_describe_existing(name, existing))
    _check_names_free(client, plans)
    ensure_images(
        {p.release for p in plans},
        {p.docker == "preinstalled" for p in plans},
        python_base=False,
        client=client,
        progress=say,
    )
    undo = _Undo()
    paths = state_paths(name)
    try:
        containers = _create(client, plans, paths, undo, say)
        for container in containers:
            _wait_ready(container, ready_timeout, say)
        made = [_node(c) for c in containers]
        private_key, public_key = new_keypair()
        for container in containers:
            _authorize(container, public_key)
        undo.add(lambda: remove_state(paths))
        write_state(paths, private_key, _known_hosts(containers, made), made)
    except BaseException as exc:
        say(f"removing what was made for sandbox {name!r}")
        undo.run()
        if isinstance(exc, DockerException):
            raise EnvironmentProblem(f"sandbox {name!r}: Docker refused a step: {exc}") from exc
        raise
    return Sandbox(name, tuple(made), paths)


def power_cycle(
    name: str,
    hosts: Sequence[str] = (),
    ready_timeout: float = 180,
    client: docker.DockerClient | None = None,
    progress: Progress | None = None,
) -> Sandbox:
    """Cut the power of `hosts` (every node when empty) and boot them again, as a site's outage would: each
    node container is killed at once (no shutdown: what was not on disk is lost) and started, so systemd
    boots and starts only what is enabled. Docker publishes the ports anew when a container starts, so the
    inventory and known_hosts are rewritten with the ports each node got (its host keys stay)."""
    say = progress or (lambda _msg: None)
    client = client or docker_client()
    box = find(name, client)
    if box is None:
        raise SandboxNotFound(f"no sandbox named {name!r} (see `fleetdeploy sandbox list`)")
    known = [node.host for node in box.nodes]
    unknown = [host for host in hosts if host not in known]
    if unknown:
        raise ConfigError(f"sandbox {name!r} has no node {', '.join(unknown)}; its nodes: {', '.join(known)}")
    containers = [client.containers.get(node.container) for node in box.nodes]
    for node, container in zip(box.nodes, containers):
        if hosts and node.host not in hosts:
            continue
        say(f"cutting the power of {node.host} and booting it again")
        container.reload()
        if container.status == "running":
            container.kill()
            container.wait(condition="not-running")
        container.start()
        container.reload()
        _wait_ready(container, ready_timeout, say)
    for container in containers:
        container.reload()
    made = [_node(c) for c in containers]
    write_state(box.paths, box.paths.private_key.read_bytes(), _known_hosts(containers, made), made)
    return Sandbox(name, tuple(made), box.paths)


def down(name: str, client: docker.DockerClient | None = None) -> Removed:
    """Remove the sandbox's containers, volumes, network and state folder, and nothing else."""
    check_name(name)
    client = client or docker_client()
    labels = {"label": f"{SANDBOX_LABEL}={name}"}
    try:
        # Containers first: a network or volume in use cannot be removed.
        containers = client.containers.list(all=True, filters=labels)
        folders = {state_paths(name).folder, *(_state_folder(name, c) for c in containers)}
        for container in containers:
            container.remove(force=True, v=True)
        networks = client.networks.list(filters=labels)
        for network in networks:
            network.remove()
        volumes = client.volumes.list(filters=labels)
        for volume in volumes:
            volume.remove(force=True)
    except DockerException as exc:
        raise EnvironmentProblem(
            f"sandbox {name!r}: Docker refused a removal: {exc}; run down again"
        ) from exc
    removed_folders = [folder for folder in folders if remove_state(StatePaths(folder))]
    if not (containers or networks or volumes or removed_folders):
        known = ", ".join(sandbox_names(client)) or "none"
        raise SandboxNotFound(f"no sandbox named {name!r} (existing sandboxes: {known}); nothing was removed")
    return Removed(len(containers), len(volumes), len(networks), bool(removed_folders))


def sandbox_names(client: docker.DockerClient | None = None) -> list[str]:
    """Every sandbox with something labelled in Docker, including ones left half-removed."""
    client = client or docker_client()
    labelled = {"label": SANDBOX_LABEL}
    found = [c.labels for c in client.containers.list(all=True, filters=labelled)]
    found += [n.attrs.get("Labels") or {} for n in client.networks.list(filters=labelled)]
    found += [v.attrs.get("Labels") or {} for v in client.volumes.list(filters=labelled)]
    return sorted({labels[SANDBOX_LABEL] for labels in found if SANDBOX_LABEL in labels})


def list_sandboxes(client: docker.DockerClient | None = None) -> list[Sandbox]:
    client = client or docker_client()
    by_name: dict[str, list] = {}
    for container in client.containers.list(all=True, filters={"label": SANDBOX_LABEL}):
        by_name.setdefault(container.labels[SANDBOX_LABEL], []).append(container)
    return [_sandbox(name, containers) for name, containers in sorted(by_name.items())]


def find(name: str, client: docker.DockerClient | None = None) -> Sandbox | None:
    client = client or docker_client()
    containers = client.containers.list(all=True, filters={"label": f"{SANDBOX_LABEL}={name}"})
    return _sandbox(name, containers) if containers else None


def _sandbox(name: str, containers: list) -> Sandbox:
    containers = sorted(containers, key=lambda c: int(c.labels[NODE_LABEL].removeprefix("node")))
    paths = StatePaths(_state_folder(name, containers[0]))
    return Sandbox(name, tuple(_node(c) for c in containers), paths, tuple(c.status for c in containers))


def _state_folder(name: str, container) -> Path:
    """Where `up` wrote this sandbox's files. Only a folder that looks like one is trusted from a label,
    since `down` deletes it."""
    labelled = Path(container.labels.get(STATE_LABEL) or state_paths(name).folder)
    if labelled.parts[-2:] != ("sandboxes", name):
        return state_paths(name).folder
    return labelled


def _node(container) -> Node:
    ports = {
        int(key.split("/")[0]): int(bindings[0]["HostPort"])
        for key, bindings in (container.ports or {}).items()
        if bindings
    }
    labels = container.labels
    return Node(labels[NODE_LABEL], container.name, labels[RELEASE_LABEL], labels[DOCKER_LABEL], ports)


def _describe_existing(name: str, existing: Sandbox | None) -> str:
    if existing is None:
        return (
            f"sandbox {name!r} is half there (labelled volumes or network without nodes); "
            f"remove it with `fleetdeploy sandbox down --name {name}`"
        )
    nodes = "; ".join(
        f"{n.host} ({n.release}, docker {n.docker}, {state}, ssh 127.0.0.1:{n.ports.get(22, '-')})"
        for n, state in zip(existing.nodes, existing.states)
    )
    return (
        f"sandbox {name!r} already exists with {len(existing.nodes)} node(s): {nodes}; "
        f"inventory: {existing.inventory}. Nothing was changed; "
        f"`fleetdeploy sandbox down --name {name}` removes it"
    )


def _labelled_leftovers(client, name: str) -> bool:
    labels = {"label": f"{SANDBOX_LABEL}={name}"}
    return bool(client.networks.list(filters=labels) or client.volumes.list(filters=labels))


def _check_names_free(client, plans: list[NodePlan]) -> None:
    """Refuse before making anything if a planned name belongs to something that is not this sandbox."""
    sandbox = plans[0].sandbox
    taken = [f"network {network_name(sandbox)}"] if _exists(client.networks, network_name(sandbox)) else []
    for plan in plans:
        taken += [f"container {plan.container}"] if _exists(client.containers, plan.container) else []
        taken += [f"volume {plan.volume}"] if _exists(client.volumes, plan.volume) else []
    if taken:
        raise SandboxConflict(
            f"sandbox {sandbox!r} needs names that something else already uses: {', '.join(taken)}; "
            "choose another --name or remove those; nothing was created"
        )


def _exists(collection, name: str) -> bool:
    try:
        collection.get(name)
    except NotFound:
        return False
    return True


def _create(client, plans: list[NodePlan], paths: StatePaths, undo: _Undo, say: Progress) -> list:
    sandbox = plans[0].sandbox
    network = client.networks.create(
        network_name(sandbox), driver="bridge", labels=sandbox_labels(sandbox), check_duplicate=True
    )
    undo.add(network.remove)
    cgroups = cgroup_version(client)
    containers = []
    for plan in plans:
        say(f"starting {plan.container} ({plan.image})")
        volume = client.volumes.create(plan.volume, labels=plan.labels)
        undo.add(lambda v=volume: v.remove(force=True))
        container = client.containers.create(**run_options(plan, cgroups, str(paths.folder)))
        undo.add(lambda c=container: c.remove(force=True, v=True))
        _start(container, plan)
        container.reload()
        containers.append(container)
    return containers


def _start(container, plan: NodePlan) -> None:
    try:
        container.start()
    except APIError as exc:
        reason = str(exc.explanation or exc)
        if "already allocated" in reason or "address already in use" in reason:
            fixed = ", ".join(f"127.0.0.1:{host}" for _port, host in plan.ports if host) or "a published port"
            raise SandboxConflict(
                f"{plan.container}: host port {fixed} is already in use ({reason}); "
                "choose a free --ssh-port or leave it out for an ephemeral one; nothing was left behind"
            ) from exc
        raise


def _wait_ready(container, timeout: float, say: Progress) -> None:
    def systemd() -> tuple[bool, str]:
        container.reload()
        if container.status != "running":
            log = container.logs(tail=15).decode(errors="replace").strip()
            raise EnvironmentProblem(
                f"node {container.name} stopped while booting ({container.status}):\n{log}"
            )
        code, output = exec_output(container, ["systemctl", "is-system-running"])
        state = output.strip() or f"exit {code}"
        return state in _READY_STATES, f"systemd {state!r}"

    port = _node(container).ssh_port

    def sshd() -> tuple[bool, str]:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
                banner = conn.recv(64)
        except OSError as exc:
            return False, f"no SSH answer on 127.0.0.1:{port} ({exc.strerror or exc})"
        return banner.startswith(b"SSH-"), f"SSH on 127.0.0.1:{port} answering {banner[:30]!r}"

    state = wait_until(systemd, f"node {container.name}", timeout)
    if state == "systemd 'degraded'":
        _, failed = exec_output(container, ["systemctl", "--failed", "--no-legend", "--plain"])
        say(f"{container.name}: systemd degraded; failed units: {failed.strip() or 'none listed'}")
    wait_until(sshd, f"node {container.name}", timeout)


def _known_hosts(containers: list, nodes: list[Node]) -> list[str]:
    """known_hosts lines for each node's host keys at the SSH port published for it now."""
    lines = []
    for container, node in zip(containers, nodes):
        lines += known_hosts_lines(node.ssh_port, _host_keys(container))
    return lines


def _authorize(container, public_key: str) -> None:
    script = (
        'umask 077 && printf "%s\\n" "$1" > /home/fleet/.ssh/authorized_keys'
        " && chown -R fleet:fleet /home/fleet/.ssh"
    )
    code, output = exec_output(container, ["sh", "-c", script, "sh", public_key])
    if code != 0:
        raise EnvironmentProblem(f"node {container.name}: could not install the sandbox SSH key: {output}")


def _host_keys(container) -> list[str]:
    code, output = exec_output(container, ["sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub"])
    if code != 0:
        raise EnvironmentProblem(f"node {container.name}: could not read its SSH host keys: {output}")
    return output.splitlines()


class _Undo:
    """Removal steps for what `up` made, run newest first if `up` fails."""

    def __init__(self):
        self._steps: list[Callable[[], object]] = []

    def add(self, step: Callable[[], object]) -> None:
        self._steps.append(step)

    def run(self) -> None:
        for step in reversed(self._steps):
            try:
                step()
            except (DockerException, OSError):
                pass  # already gone, or removed with its container
