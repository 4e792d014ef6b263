"""Connecting to the local Docker engine, with an error that says how to fix it when it is absent."""

from __future__ import annotations

import os
import shutil

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
