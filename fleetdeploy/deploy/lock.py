"""Who holds a deploy: the holder record written into each node's lock (roles/fleet_lock, which also
takes over a lock whose holder ran on this controller and whose process is gone), a local file lock so
two runs on one controller never interleave, and what a run's result says of the lock (`check_lock`):
shared by apply and the day-two operations whose playbooks take the lock."""

from __future__ import annotations

import fcntl
import getpass
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

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
    def refused(holder: str) -> Exception:
        return LockHeld(f"another fleetdeploy run on this machine is deploying {service} ({holder}); wait for it "
                        "or pass --lock-wait SECONDS")

    with file_lock(data_home() / "locks" / f"{service}.lock", wait, refused):
        yield


@contextmanager
def file_lock(path: Path, wait: float, refused: Callable[[str], Exception]) -> Iterator[None]:
    """An flock on `path` (made if missing) naming its holder inside, for `wait` seconds at most: then
    refused(holder) is raised. The kernel gives it back when the process dies."""
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
                    raise refused(handle.read().strip() or "holder unknown") from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_lock(result, say: Callable[[str], None]) -> None:
    """Says which stale locks the run took over (fleet_lock does: their holder ran on this controller and
    its process is gone); raises LockHeld naming the holders when another deploy holds the lock."""
    for host, info in sorted(result.hosts.items()):
        if info.report.get("lock_taken_over"):
            say(f"{host}: took over the deploy lock left by {describe(info.report['lock_taken_over'])} (that process is gone)")
    held = held_by_others(result)
    if held:
        lines = "; ".join(f"{host}: {describe(info)}" for host, info in sorted(held.items()))
        raise LockHeld(
            f"another deploy holds the lock: {lines}. Wait for it (--lock-wait SECONDS), or if it is gone "
            f"for good, `fleetdeploy unlock` the inventory"
        )


def held_by_others(result) -> dict[str, dict]:
    """Hosts whose lock another run holds, with the holder record."""
    held = {}
    for name, host in result.hosts.items():
        lock = host.report.get("lock") or {}
        # Only a lock record says "held": a node that failed otherwise (e.g. no Python for Ansible) goes on
        # to the deploy, which names it and why in the summary.
        if not host.unreachable and host.failed and "lock" in host.report and not lock.get("locked"):
            held[name] = lock.get("holder") or {}
    return held
