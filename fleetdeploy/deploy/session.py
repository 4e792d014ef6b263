"""What apply adds around deploy.yml: running it on the hosts, the lock given back on the nodes a run cut
short never reached its last play on (`give_back_unrecorded`), the interrupt handlers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from fleetdeploy.deploy.lock import held_by_others

LOCK_PLAYBOOK = "playbooks/lock.yml"


def run(private_data_dir: Path, playbook: str, hosts: list[str], extravars: dict | None = None, **kwargs):
    from fleetdeploy.run import run_playbook

    return run_playbook(private_data_dir, playbook, limit=",".join(hosts), extravars=extravars, **kwargs)


def give_back_unrecorded(private_data_dir: Path, result, holder: dict) -> None:
    """deploy.yml gives the lock back and writes the history in its last play. A run cut short (canceled,
    or ended by Ansible when every node of a batch became unreachable) leaves nodes that never got there:
    their lock is given back here, with a history record for those whose deploy had started."""
    left = [
        name
        for name, host in result.hosts.items()
        if (host.report.get("lock") or {}).get("locked")
        and not (host.report.get("rollout") or {}).get("recorded")
        and not host.unreachable
    ]
    if not left or held_by_others(result):  # refused: deploy.yml gave back what it took itself
        return
    started = {name for name in left if (result.hosts[name].report.get("rollout") or {}).get("batch")}
    previous = {name: (result.hosts[name].report.get("rollout") or {}).get("previous") for name in started}
    entries = history_entries("apply", result, previous)
    history = {name: entries[name] for name in started if name in entries}
    for entry in history.values():
        if entry["result"] == "ok":  # it never reached the end of its deploy
            entry.update(result="interrupted", detail="the run ended before this node's deploy finished")
    run(
        private_data_dir,
        LOCK_PLAYBOOK,
        left,
        {
            "fleet_lock_holder": holder,
            "fleetdeploy_lock_action": "release",
            "fleetdeploy_history": history,
            "fleetdeploy_run_id": holder["run_id"],
        },
    )


def interrupt_handlers(stop: threading.Event, cancel: threading.Event, say: Callable[[str], None]):
    """Ctrl-C once: finish the batch in progress, then stop. Again, or SIGTERM: stop now (every node
    still serves a complete release: the switch never leaves a slot without one)."""
    import signal

    def on_int(signum, frame):
        if stop.is_set():
            say("stopping now; nodes keep whichever complete release they serve")
            cancel.set()
        else:
            say("finishing the batch in progress, then stopping (Ctrl-C again to stop now)")
            stop.set()

    def on_term(signum, frame):
        stop.set()
        cancel.set()

    return {signal.SIGINT: on_int, signal.SIGTERM: on_term}


def history_entries(action: str, result, before: dict[str, str | None], detail: dict[str, str] | None = None):
    """One history entry per reachable node of `result`, with what it served before and serves now."""
    entries = {}
    for name, host in result.hosts.items():
        if host.unreachable:
            continue
        entries[name] = {
            "action": action,
            "release": host.report.get("release") or "",
            "previous": before.get(name) or "",
            "result": "ok" if host.succeeded else "failed",
            "detail": (detail or {}).get(name) or (host.message or "")[:500],
        }
    return entries
