"""`history`: each node's record of what was done to the service (state/history.jsonl, appended by
apply, rollback and remove through roles/fleet_history), merged into one timeline."""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from fleetdeploy.inventory import load_inventory
from fleetdeploy.ops.inspect import NodeFacts, inspect_nodes
from fleetdeploy.ops.target import Target


@dataclass(frozen=True)
class HistoryEntry:
    node: str
    time: str | None = None  # the controller's clock when the run made the record
    node_time: str | None = None  # the node's clock when it wrote the line (None before 2026-12-02)
    action: str | None = None
    release: str | None = None
    previous: str | None = None
    result: str | None = None
    user: str | None = None
    controller: str | None = None
    run_id: str | None = None
    detail: str | None = None

    def as_json(self) -> dict:
        return asdict(self)


# What a history line may hold: every field but the node, which the line's file says.
FIELDS = tuple(field.name for field in fields(HistoryEntry) if field.name != "node")


@dataclass(frozen=True)
class History:
    service: str
    entries: tuple[HistoryEntry, ...]
    problems: dict[str, str]  # node -> why its history could not be read

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def as_json(self) -> dict:
        return {
            "schema": 1,
            "service": self.service,
            "entries": [entry.as_json() for entry in self.entries],
            "problems": dict(self.problems),
        }


def merge_history(facts: dict[str, NodeFacts]) -> tuple[list[HistoryEntry], dict[str, str]]:
    """Every node's records as one timeline, and the nodes that could not say. Pure.

    Each node's lines stay in the order the node wrote them (its file is appended in order, whatever any
    clock says); the nodes' lines are interleaved by the controller's `time` (ISO times sort as text).
    So a controller or node whose clock is off never puts a node's later action before its earlier one."""
    per_node, problems = [], {}
    for node, fact in facts.items():
        if not fact.reachable:
            problems[node] = f"unreachable: {fact.error}"
            continue
        if fact.error:
            problems[node] = fact.error
        lines = []
        for record in fact.report.get("history") or []:
            if "unreadable" in record:
                problems[node] = f"unreadable history line: {record['unreadable'][:120]}"
                continue
            lines.append(HistoryEntry(node, **{key: _text(record.get(key)) for key in FIELDS}))
        per_node.append(lines)
    return list(heapq.merge(*per_node, key=lambda entry: (entry.time or "", entry.node))), problems


def read_history(
    inventory_path: Path, target: Target, *, limit: str | None = None, lines: int = 50
) -> History:
    inventory = load_inventory(inventory_path, limit=limit)
    facts = inspect_nodes(inventory_path, inventory, target, inventory.names, history_lines=lines)
    entries, problems = merge_history(facts)
    return History(target.service, tuple(entries), problems)


def _text(value) -> str | None:
    return None if value in (None, "") else str(value)
