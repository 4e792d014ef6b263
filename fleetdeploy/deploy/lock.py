"""Who holds a deploy: the holder record written into each node's lock (roles/fleet_lock, which also
takes over a lock whose holder ran on this controller and whose process is gone), and a local file lock
so two runs on one controller never interleave."""

from __future__ import annotations

import fcntl
import getpass
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fleetdeploy.errors import FleetdeployError
from fleetdeploy.paths import data_home


class LockHeld(FleetdeployError):
    """Another deploy of the service holds the lock."""


def new_holder(action: str, release: str | None = None) -> dict:
    now = datetime.now(UTC)
    return {
        "run_id": f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        "user": getpass.getuser(),
        "controller": socket.gethostname(),
        "pid": os.getpid(),
        "since": f"{now:%Y-%m-%dT%H:%M:%SZ}",
        "action": action,
        "release": release or "",
    }


def describe(holder: dict) -> str:
    return (
        f"{holder.get('user', '?')}@{holder.get('controller', '?')} "
        f"({holder.get('action', '?')}, run {holder.get('run_id', '?')}, pid {holder.get('pid', '?')}) "
        f"since {holder.get('since', '?')}"
    )


@contextmanager
def local_lock(service: str, wait: float) -> Iterator[None]:
    """One deploy of `service` at a time from this controller; the kernel drops it if we die."""
    path = data_home() / "locks" / f"{service}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    raise LockHeld(
                        f"another fleetdeploy run on this machine is deploying {service} "
                        f"({handle.read().strip() or 'holder unknown'}); wait for it or pass --lock-wait SECONDS"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
