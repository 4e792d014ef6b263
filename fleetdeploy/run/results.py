"""Folding typed run events into per-host results. Pure: no Ansible, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from fleetdeploy.run.events import (
    HostCounts,
    HostTaskDone,
    HostUnreachable,
    RecapReceived,
    RunEvent,
)


@dataclass(frozen=True)
class HostResult:
    ok: int = 0  # tasks that succeeded, changed ones included (as in Ansible's recap)
    changed: int = 0
    failed: int = 0
    unreachable: bool = False
    skipped: int = 0
    failed_task: str | None = None
    message: str | None = None
    report: dict = field(default_factory=dict)  # merged `fleetdeploy_report` facts (release, latency...)

    @property
    def succeeded(self) -> bool:
        return not self.failed and not self.unreachable

    @property
    def outcome(self) -> str:
        """One word for tables: unreachable, failed, changed or ok."""
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "changed" if self.changed else "ok"


@dataclass(frozen=True)
class RunResult:
    status: str  # successful | failed | canceled | timeout | error (ansible-runner's words)
    rc: int | None
    hosts: dict[str, HostResult]
    stdout_path: Path | None  # Ansible's raw output, kept in the run's artifact folder
    artifact_dir: Path | None = None

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(name for name, host in self.hosts.items() if not host.succeeded)

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and not self.failed_hosts


class ResultCollector:
    """Feed it every event of a run; `hosts` is then each host's result."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostResult] = {}

    def apply(self, event: RunEvent) -> None:
        if isinstance(event, HostTaskDone):
            self._task_done(event)
        elif isinstance(event, HostUnreachable):
            host = self._host(event.host)
            self.hosts[event.host] = replace(
                host, unreachable=True, failed_task=event.task, message=event.message
            )
        elif isinstance(event, RecapReceived):
            for name, counts in event.counts.items():
                self.hosts[name] = _with_recap(self._host(name), counts)

    def _host(self, name: str) -> HostResult:
        return self.hosts.get(name) or HostResult()

    def _task_done(self, event: HostTaskDone) -> None:
        host = self._host(event.host)
        changes: dict = {}
        if event.status in ("ok", "changed"):
            changes["ok"] = host.ok + 1
        if event.status == "changed":
            changes["changed"] = host.changed + 1
        if event.status == "skipped":
            changes["skipped"] = host.skipped + 1
        if event.status == "failed":
            changes.update(failed=host.failed + 1, failed_task=event.task, message=event.message)
        if event.report:
            changes["report"] = {**host.report, **event.report}
        self.hosts[event.host] = replace(host, **changes)


def _with_recap(host: HostResult, counts: HostCounts) -> HostResult:
    # The recap is authoritative: a failure rescued by a `rescue:` block is not a failure any more.
    rescued = counts.failed == 0 and not counts.unreachable
    return replace(
        host,
        ok=counts.ok,
        changed=counts.changed,
        failed=counts.failed,
        unreachable=bool(counts.unreachable),
        skipped=counts.skipped,
        failed_task=None if rescued else host.failed_task,
        message=None if rescued else host.message,
    )
