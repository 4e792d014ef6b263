"""The rollout as a decision procedure: batches in order, the first one a canary, a failure budget,
and what to roll back when the budget is spent. Pure logic: the caller supplies how a batch is
deployed and how hosts are rolled back, so every branch is unit-tested without a fleet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

RollbackMode = Literal["batch", "all", "none"]


@dataclass
class BatchReport:
    hosts: list[str]
    failed: list[str]


@dataclass
class RolloutReport:
    batches: list[BatchReport] = field(default_factory=list)
    stopped: str | None = None  # why the rollout stopped early, None when every batch ran
    rolled_back: list[str] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)

    @property
    def updated(self) -> list[str]:
        failed = {host for batch in self.batches for host in batch.failed}
        done = [host for batch in self.batches for host in batch.hosts if host not in failed]
        return [host for host in done if host not in self.rolled_back]

    @property
    def failed(self) -> list[str]:
        return [host for batch in self.batches for host in batch.failed]


def run_rollout(
    batches: Sequence[Sequence[str]],
    *,
    allowed_failures: int,
    deploy: Callable[[list[str]], list[str]],
    rollback: Callable[[list[str]], None],
    rollback_mode: RollbackMode = "batch",
    pause: Callable[[], None] = lambda: None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> RolloutReport:
    """`deploy(hosts)` returns the hosts that failed; `rollback(hosts)` switches hosts back."""
    report = RolloutReport()
    failures = 0
    for index, hosts in enumerate(batches):
        if index and stop_requested():
            report.stopped = "interrupted: stopped before the next batch"
        elif index:
            pause()
        if report.stopped:
            report.not_started = [host for batch in batches[index:] for host in batch]
            break
        failed = deploy(list(hosts))
        report.batches.append(BatchReport(list(hosts), failed))
        failures += len(failed)
        more_to_come = index < len(batches) - 1
        if failed and index == 0 and more_to_come:
            report.stopped = f"canary batch failed on {', '.join(failed)}"
        elif failures > allowed_failures:
            report.stopped = f"{failures} node(s) failed, more than max_fail allows ({allowed_failures})"
        if report.stopped:
            report.rolled_back = _roll_back(report, rollback_mode, rollback)
            report.not_started = [host for batch in batches[index + 1 :] for host in batch]
            break
    return report


def _roll_back(report: RolloutReport, mode: RollbackMode, rollback: Callable[[list[str]], None]) -> list[str]:
    if mode == "none":
        return []
    batches = report.batches[-1:] if mode == "batch" else report.batches
    hosts = [host for batch in batches for host in batch.hosts if host not in batch.failed]
    if hosts:
        rollback(hosts)
    return hosts
