"""Showing a run while it goes on: one live line per host on a terminal, one plain line per host
change elsewhere (CI logs), and a results table at the end.

Fed only with fleetdeploy.run's typed events. `ProgressState` is the pure part (events -> rows);
the displays only draw it. Ansible's own output is kept in the run folder; it is shown with `-v`
(live) or, on failure, as the tail of the file.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Self

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from fleetdeploy.run import (
    AnsibleOutput,
    HostTaskDone,
    HostTaskRetrying,
    HostTaskStarted,
    HostUnreachable,
    PlayStarted,
    RecapReceived,
    RunEvent,
    RunFinished,
    RunResult,
)

_STYLES = {
    "waiting": "dim",
    "running": "cyan",
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "unreachable": "bold red",
}
_DONE_SYMBOLS = {"ok": "✓", "changed": "✓", "failed": "✗", "unreachable": "✗"}
_FAILURE_TAIL = 40


@dataclass(frozen=True)
class HostRow:
    host: str
    state: str = "waiting"  # waiting | running | ok | changed | failed | unreachable
    task: str = ""
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("ok", "changed", "failed", "unreachable")

    def counts(self) -> str:
        return f"ok={self.ok} changed={self.changed} failed={self.failed}"


class ProgressState:
    """Per-host rows folded from typed events. `apply` returns the rows it changed."""

    def __init__(self) -> None:
        self.rows: dict[str, HostRow] = {}
        self.play: str | None = None
        self.finished: RunFinished | None = None

    def apply(self, event: RunEvent) -> list[HostRow]:
        if isinstance(event, PlayStarted):
            self.play = event.name
        elif isinstance(event, RunFinished):
            self.finished = event
        elif isinstance(event, HostTaskStarted):
            return self._update(event.host, lambda row: _started(row, event.task))
        elif isinstance(event, HostTaskRetrying):
            task = f"{event.task} (attempt {event.attempt + 1} of {event.retries})"
            return self._update(event.host, lambda row: _started(row, task))
        elif isinstance(event, HostTaskDone):
            return self._update(event.host, lambda row: _done(row, event))
        elif isinstance(event, HostUnreachable):
            return self._update(
                event.host,
                lambda row: replace(row, state="unreachable", task=event.task, message=event.message),
            )
        elif isinstance(event, RecapReceived):
            changed = []
            for host, counts in event.counts.items():
                changed += self._update(host, lambda row, c=counts: _recapped(row, c))
            return changed
        return []

    def _update(self, host: str, change) -> list[HostRow]:
        row = self.rows.get(host) or HostRow(host)
        new = change(row)
        self.rows[host] = new
        return [new] if new != row else []


def _started(row: HostRow, task: str) -> HostRow:
    # A host that failed stays failed: Ansible runs no more tasks on it, but say so to the end.
    return row if row.finished else replace(row, state="running", task=task)


def _done(row: HostRow, event: HostTaskDone) -> HostRow:
    status = event.status
    row = replace(
        row,
        task=event.task,
        ok=row.ok + (status in ("ok", "changed")),
        changed=row.changed + (status == "changed"),
        skipped=row.skipped + (status == "skipped"),
    )
    if status == "failed":
        return replace(row, state="failed", failed=row.failed + 1, message=event.message)
    return row


def _recapped(row: HostRow, counts) -> HostRow:
    if counts.unreachable:
        state = "unreachable"
    elif counts.failed:
        state = "failed"
    else:
        state = "changed" if counts.changed else "ok"
    message = row.message if state in ("failed", "unreachable") else None
    return replace(
        row,
        state=state,
        ok=counts.ok,
        changed=counts.changed,
        failed=counts.failed,
        skipped=counts.skipped,
        message=message,
        task="" if state in ("ok", "changed") else row.task,
    )


class LiveProgress:
    """A rich Live block: spinner, host, state, counts and current task, one line per host."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.state = ProgressState()
        self._spinners: dict[str, Spinner] = {}
        self._lock = threading.Lock()
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=8, transient=False)

    def __enter__(self) -> Self:
        self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._live.refresh()
        self._live.__exit__(*exc)

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, AnsibleOutput):
            if self.verbose:
                self._live.console.print(Text(event.text))  # printed above the live block
            return
        with self._lock:
            self.state.apply(event)

    def _render(self):
        with self._lock:
            rows = list(self.state.rows.values())
            play = self.state.play
        grid = Table.grid(padding=(0, 1))
        for _ in range(4):  # symbol, host, state, counts: never squeezed
            grid.add_column(no_wrap=True, min_width=1)
        grid.add_column(ratio=1, overflow="ellipsis")  # task or failure: takes what is left
        for row in rows:
            grid.add_row(
                self._symbol(row),
                Text(row.host, style="bold"),
                Text(row.state, style=_STYLES[row.state]),
                Text(row.counts(), style="dim"),
                Text(
                    row.message or row.task,
                    style="red" if row.message else "",
                    no_wrap=True,
                    overflow="ellipsis",
                ),
            )
        title = Text(f"▶ {play}" if play else "starting Ansible…", style="bold")
        return Group(title, grid)

    def _symbol(self, row: HostRow):
        if row.finished:
            return Text(_DONE_SYMBOLS[row.state], style=_STYLES[row.state])
        return self._spinners.setdefault(row.host, Spinner("dots", style="cyan"))


class PlainProgress:
    """One line per host change, no colours or cursor moves: for CI logs and pipes."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.state = ProgressState()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, AnsibleOutput):
            if self.verbose:
                self._line(event.text)
            return
        changed = self.state.apply(event)
        if isinstance(event, PlayStarted):
            self._line(f"PLAY {event.name}")
        elif isinstance(event, HostTaskDone | HostUnreachable):
            for row in changed:
                self._line(plain_line(row, event))
        elif isinstance(event, RunFinished):
            self._line(f"run {event.status} (rc={event.rc})")

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def plain_line(row: HostRow, event: HostTaskDone | HostUnreachable) -> str:
    status = "unreachable" if isinstance(event, HostUnreachable) else event.status
    line = f"{row.host}: {status}: {event.task}"
    message = event.message if status in ("failed", "ignored", "unreachable") else None
    return f"{line}: {message}" if message else line


def make_progress(console: Console, *, verbose: bool | None = None) -> LiveProgress | PlainProgress:
    """The live display on an interactive terminal, plain lines anywhere else; with Ansible's own output
    when `verbose` (by default: when the command line said -v)."""
    if verbose is None:
        from fleetdeploy.run.options import verbosity

        verbose = bool(verbosity())
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveProgress(console, verbose=verbose)
    return PlainProgress(console, verbose=verbose)


def results_table(result: RunResult) -> Table:
    table = Table(title="Results", title_justify="left")
    for column in ("node", "result", "release", "/score latency", "message"):
        table.add_column(column, overflow="fold")
    for name, host in result.hosts.items():
        table.add_row(
            name,
            Text(host.outcome, style=_STYLES.get(host.outcome, "")),
            str(host.report.get("release") or "-"),
            _latency(host.report.get("score_latency_ms")),
            _failure_text(host.failed_task, host.message),
        )
    return table


def print_summary(console: Console, result: RunResult, *, verbose: bool = False) -> None:
    """The results table; on failure, the tail of Ansible's raw output unless `-v` showed it all."""
    console.print(results_table(result))
    if result.succeeded:
        return
    if not verbose and result.stdout_path:
        tail = _tail(result.stdout_path, _FAILURE_TAIL)
        console.print(f"\nlast {len(tail)} lines of Ansible's output:", style="bold", highlight=False)
        console.print(Text("\n".join(tail)))
    failed = ", ".join(result.failed_hosts) or "none"
    console.print(
        f"\nrun {result.status}; failed nodes: {failed}. Full Ansible output: {result.stdout_path}",
        style="red",
        markup=False,
        highlight=False,
    )


def _latency(value) -> str:
    # Roles report it through Jinja, which may hand over a number or its text.
    try:
        return f"{float(value):.1f} ms"
    except (TypeError, ValueError):
        return "-"


def _failure_text(task: str | None, message: str | None) -> str:
    if not task and not message:
        return ""
    return f"{task}: {message}" if task and message else (message or task or "")


def _tail(path: Path, lines: int) -> list[str]:
    with open(path, errors="replace") as fh:
        return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]


def print_rollout(console: Console, rollout) -> None:
    """How the batches went (nodes already there are in none): where the rollout stopped, which nodes went
    back, which were never touched."""
    sizes = " -> ".join(str(len(batch.hosts)) for batch in rollout.batches)
    already = f" ({len(rollout.already)} node(s) already there)" if rollout.already else ""
    console.print(f"batches: {sizes or 'none'}{already}", markup=False, highlight=False)
    for name, back in rollout.rollbacks.items():
        state = (
            f"rolled back to {back.release}"
            if back.ok
            else f"rollback to {back.release} failed: {back.message}"
        )
        console.print(f"  {name}: {state}", markup=False, highlight=False)
    if not rollout.stopped:
        return
    console.print(f"rollout stopped: {rollout.stopped}", style="red", markup=False, highlight=False)
    if rollout.not_started:
        console.print(
            f"  not started (keep their release): {', '.join(rollout.not_started)}",
            markup=False,
            highlight=False,
        )


def print_releases(console: Console, result: RunResult) -> None:
    """One row per node and kept release, newest first; the serving one marked."""
    table = Table(title="Releases kept on each node", title_justify="left")
    for column in ("node", "release", "state", "shipped", "models", "complete"):
        table.add_column(column, overflow="fold")
    for name, host in sorted(result.hosts.items()):
        if not host.succeeded:
            table.add_row(
                name,
                "-",
                Text(host.outcome, style="red"),
                "",
                "",
                _failure_text(host.failed_task, host.message),
            )
            continue
        for item in host.report.get("releases", []):
            state = "serving" if item.get("serving") else "previous" if item.get("previous") else ""
            table.add_row(
                name,
                item.get("release", "?"),
                Text(state, style="green" if state == "serving" else ""),
                item.get("shipped", ""),
                ", ".join(item.get("models", [])),
                "yes" if item.get("complete") else "no",
            )
    console.print(table)
