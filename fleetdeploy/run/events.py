"""Our own small typed events, translated from ansible-runner's event dicts.

Nothing above fleetdeploy.run sees a runner dict: the progress display and the CLI work with these.
`translate` is pure, so it is tested on recorded event dicts without running Ansible.

Per-host data from the roles (release, /score latency...) arrives through a fact: any task that sets
`fleetdeploy_report` (a mapping) with `ansible.builtin.set_fact` reports it; see docs/image.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

REPORT_FACT = "fleetdeploy_report"
_MESSAGE_LIMIT = 600

TaskStatus = Literal["ok", "changed", "failed", "ignored", "skipped"]


@dataclass(frozen=True)
class PlayStarted:
    name: str


@dataclass(frozen=True)
class HostTaskStarted:
    host: str
    task: str


@dataclass(frozen=True)
class HostTaskRetrying:
    """An `until:` loop is trying again (e.g. waiting for /ready)."""

    host: str
    task: str
    attempt: int
    retries: int


@dataclass(frozen=True)
class HostTaskDone:
    host: str
    task: str
    status: TaskStatus
    message: str | None = None  # why it failed (or was ignored)
    report: dict | None = None  # the task's `fleetdeploy_report` fact, when it set one


@dataclass(frozen=True)
class HostUnreachable:
    host: str
    task: str
    message: str


@dataclass(frozen=True)
class HostCounts:
    """A host's line of Ansible's recap."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class RecapReceived:
    counts: dict[str, HostCounts] = field(default_factory=dict)


@dataclass(frozen=True)
class AnsibleOutput:
    """Ansible's own text for one event, for `-v`; displays ignore it otherwise."""

    text: str


@dataclass(frozen=True)
class RunFinished:
    status: str  # successful | failed | canceled | timeout | error
    rc: int | None


RunEvent = (
    PlayStarted
    | HostTaskStarted
    | HostTaskDone
    | HostUnreachable
    | RecapReceived
    | AnsibleOutput
    | RunFinished
)

_DONE = {"runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_skipped": "skipped"}
_RECAP_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


def translate(raw: dict) -> list[RunEvent]:
    """One ansible-runner event dict -> its typed event, if any, then its text as AnsibleOutput."""
    typed = _typed(raw)
    text = (raw.get("stdout") or "").strip("\r\n")
    return [*typed, AnsibleOutput(text)] if text else typed


def _typed(raw: dict) -> list[RunEvent]:
    # Loop items and chatter (task starts without a host, verbose lines) have no typed event.
    kind = raw.get("event")
    data = raw.get("event_data") or {}
    host, task = data.get("host"), (data.get("task") or "").strip()
    if kind == "playbook_on_play_start":
        return [PlayStarted(data.get("play") or data.get("name") or "")]
    if kind == "runner_on_start" and host:
        return [HostTaskStarted(host, task)]
    if kind == "runner_retry" and host:
        res = data.get("res") or {}
        return [HostTaskRetrying(host, task, int(res.get("attempts") or 0), int(res.get("retries") or 0))]
    if kind == "runner_on_unreachable" and host:
        return [HostUnreachable(host, task, failure_message(data.get("res") or {}) or "unreachable")]
    if kind in _DONE and host:
        return [_task_done(kind, host, task, data)]
    if kind == "playbook_on_stats":
        return [RecapReceived(_recap(data))]
    return []


def _task_done(kind: str, host: str, task: str, data: dict) -> HostTaskDone:
    res = data.get("res") or {}
    status = _DONE[kind]
    if status == "ok" and res.get("changed"):
        status = "changed"
    if status == "failed":
        message = failure_message(res)
        return HostTaskDone(host, task, "ignored" if data.get("ignore_errors") else "failed", message)
    facts = res.get("ansible_facts") or {}
    report = facts.get(REPORT_FACT)
    return HostTaskDone(host, task, status, report=dict(report) if isinstance(report, dict) else None)


def _recap(data: dict) -> dict[str, HostCounts]:
    hosts: dict[str, dict[str, int]] = {}
    for key, ours in _RECAP_KEYS.items():
        for host, count in (data.get(key) or {}).items():
            hosts.setdefault(host, {})[ours] = int(count)
    return {host: HostCounts(**counts) for host, counts in hosts.items()}


def failure_message(res: dict) -> str | None:
    """The most useful short explanation a failed result holds: msg, then stderr/stdout tails."""
    results = res.get("results")
    if isinstance(results, list):  # a loop: explain the first item that failed
        failed = [item for item in results if isinstance(item, dict) and item.get("failed")]
        if failed:
            return failure_message(failed[0])
    modules = res.get("failed_modules")
    if isinstance(modules, dict) and modules:  # fact gathering: say why its module failed (e.g. no python3)
        inner = next(iter(modules.values()))
        if isinstance(inner, dict):
            return failure_message(inner)
    parts = []
    if res.get("msg"):
        parts.append(str(res["msg"]).strip())
    for key in ("stderr", "module_stderr", "stdout", "module_stdout"):
        text = str(res.get(key) or "").strip()
        if text and text not in parts[0:1]:
            parts.append(" / ".join(text.splitlines()[-3:]))
            break
    if not parts and res.get("rc") not in (None, 0):
        parts.append(f"exit status {res['rc']}")
    message = ": ".join(parts)
    return message[:_MESSAGE_LIMIT] if message else None
