"""Connecting to the local Docker engine, with an error that says how to fix it when it is absent."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid

import docker
from docker.errors import DockerException

from fleetdeploy.errors import EnvironmentProblem


def docker_client() -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (default: the local socket), known to answer."""
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        raise EnvironmentProblem(_explain_unreachable(exc)) from exc
    return client


def cgroup_version(client: docker.DockerClient) -> int:
    """The cgroup version of the engine's host (1 or 2); node containers are set up differently."""
    return int(client.info().get("CgroupVersion") or 1)


def exec_output(container, argv: list[str]) -> tuple[int, str]:
    """Run `argv` in a running container and return (exit code, stdout and stderr together).

    Not `exec_run`'s own output: the engine sometimes hands back an empty stream for a command that
    printed and exited quickly (docker-py #2042, moby #27289), which read as "no host keys" or "empty
    state file" once in a few thousand calls. The output goes to a file in the container, read back as
    an archive (a plain API call, no stream to race with), then removed. The file is in /var/tmp: the
    archive API reads the container's own filesystem, not what is mounted inside it, and a node booting
    systemd mounts a tmpfs on /tmp.
    """
    out = f"/var/tmp/.fleetdeploy-exec-{uuid.uuid4().hex}"
    runner = 'out=$1; shift; "$@" > "$out" 2>&1'
    code, _ = container.exec_run(["sh", "-c", runner, "sh", out, *argv])
    try:
        chunks, _ = container.get_archive(out)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            member = archive.extractfile(archive.getmembers()[0])
            text = member.read().decode(errors="replace") if member else ""
    finally:
        container.exec_run(["rm", "-f", out])
    return code, text


def _explain_unreachable(exc: Exception) -> str:
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if shutil.which("dockerd") is None and "DOCKER_HOST" not in os.environ:
        fix = (
            "install it with `sudo scripts/bootstrap.sh` (Debian's docker.io)"
            if os.geteuid() != 0
            else "install and start it with scripts/bootstrap.sh (run as root)"
        )
        return f"the Docker engine is not installed on this machine; {fix}"
    fix = (
        "start it with `sudo systemctl start docker` (or run scripts/bootstrap.sh as root)"
        if os.geteuid() != 0
        else "start it with `systemctl start docker`, or run scripts/bootstrap.sh, which starts dockerd"
    )
    return f"cannot reach the Docker engine at {where} ({_first_line(exc)}); {fix}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
