"""Merging the nodes' histories into one timeline, and reading remove.yml's results."""

from pathlib import Path

from fleetdeploy.ops.history import merge_history
from fleetdeploy.ops.inspect import NodeFacts
from fleetdeploy.ops.remove import Removal, removal_from_result
from fleetdeploy.run import HostResult, RunResult


def record(time, action, release=None):
    return {
        "time": time,
        "action": action,
        "release": release,
        "result": "ok",
        "user": "ana",
        "controller": "ctl",
    }


def test_histories_are_merged_in_time_order_and_silent_nodes_are_named():
    facts = {
        "n2": NodeFacts(True, {"history": [record("2026-11-24T10:00:02.000001Z", "apply", "r2")]}),
        "n1": NodeFacts(
            True,
            {
                "history": [
                    record("2026-11-24T10:00:01.5Z", "apply", "r1"),
                    record("2026-11-24T10:05:00Z", "remove", ""),
                ]
            },
        ),
        "n3": NodeFacts(False, {}, error="ssh: connection refused"),
    }
    entries, problems = merge_history(facts)
    assert [(e.node, e.action, e.release) for e in entries] == [
        ("n1", "apply", "r1"),
        ("n2", "apply", "r2"),
        ("n1", "remove", None),
    ]
    assert problems == {"n3": "unreachable: ssh: connection refused"}


def test_a_skewed_clock_never_puts_a_nodes_later_action_before_its_earlier_one():
    """The controller of n1's second run had its clock 2 h behind: n1's own order (its file's) holds,
    and the other node's line still goes between by the controller times it can be compared with."""
    facts = {
        "n1": NodeFacts(
            True,
            {
                "history": [
                    {**record("2026-11-24T10:00:00Z", "apply", "r1"), "node_time": "2026-11-24T10:00:01Z"},
                    {**record("2026-11-24T08:30:00Z", "rollback", "r0"), "node_time": "2026-11-24T10:30:01Z"},
                ]
            },
        ),
        "n2": NodeFacts(True, {"history": [record("2026-11-24T09:00:00Z", "apply", "r1")]}),
    }
    entries, _ = merge_history(facts)
    assert [(e.node, e.action) for e in entries] == [("n2", "apply"), ("n1", "apply"), ("n1", "rollback")]
    assert [e.node_time for e in entries] == [None, "2026-11-24T10:00:01Z", "2026-11-24T10:30:01Z"]


def test_remove_results_per_node():
    result = RunResult(
        status="failed",
        rc=2,
        hosts={
            "a": HostResult(ok=5, changed=3, report={"found": "True", "previous": "r1", "purged": False}),
            "b": HostResult(ok=4, report={"found": False, "previous": None}),
            "c": HostResult(unreachable=True, message="ssh: refused"),
            "d": HostResult(failed=1, failed_task="Stop and remove the service's containers", message="boom"),
        },
        stdout_path=Path("/tmp/stdout"),
    )
    nodes = removal_from_result(result, ["a", "b", "c", "d", "e"])
    assert [(n.node, n.outcome, n.previous) for n in nodes] == [
        ("a", "removed", "r1"),
        ("b", "nothing to remove", None),
        ("c", "unreachable", None),
        ("d", "failed", None),
        ("e", "failed", None),
    ]
    assert nodes[3].message == "Stop and remove the service's containers: boom"
    assert Removal("mnist", False, tuple(nodes[:2])).exit_code == 0
    assert Removal("mnist", False, tuple(nodes)).exit_code == 1
