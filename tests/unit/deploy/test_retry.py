"""`apply --retry-failed`: which nodes the last recorded apply left undone."""

import pytest

from fleetdeploy.deploy.retry import hosts_to_retry, node_outcomes, record_outcome
from fleetdeploy.deploy.rollout import Rollback, RolloutReport
from fleetdeploy.errors import ConfigError
from fleetdeploy.run.results import HostResult, RunResult


def result(**hosts) -> RunResult:
    return RunResult("failed", 2, hosts, None)


def test_each_node_ends_as_ok_failed_unreachable_rolled_back_or_not_started():
    ran = result(
        n1=HostResult(ok=9),
        n2=HostResult(failed=1),
        n3=HostResult(unreachable=True),
        n4=HostResult(ok=9),
        n6=HostResult(ok=2),  # its lock was taken and given back; the rollout stopped before its batch
        n7=HostResult(ok=9),
    )
    report = RolloutReport(rollbacks={"n4": Rollback("old", True), "n7": Rollback("old", False)}, not_started=["n6"])
    assert node_outcomes(["n1", "n2", "n3", "n4", "n5", "n6", "n7"], ran, report) == {
        "n1": "ok",
        "n2": "failed",
        "n3": "unreachable",
        "n4": "rolled back",  # it succeeded, then the stopped rollout took it back
        "n5": "not started",
        "n6": "not started",
        "n7": "rollback failed",
    }


def test_the_newest_recorded_run_names_the_nodes_to_retry(tmp_path):
    runs = tmp_path / "runs"
    for stamp, nodes in (
        ("20261201T100000.000000Z", {"n1": "failed", "n2": "failed"}),
        ("20261201T110000.000000Z", {"n1": "ok", "n2": "unreachable", "n3": "not started"}),
    ):
        (runs / "mnist" / stamp).mkdir(parents=True)
        record_outcome(runs / "mnist" / stamp, "mnist", "abc", nodes)
    (runs / "mnist" / "20261201T120000.000000Z").mkdir()  # a newer run stopped before any node (lock held)

    hosts, run = hosts_to_retry("mnist", runs)
    assert hosts == ["n2", "n3"]
    assert run.name == "20261201T110000.000000Z"


def test_a_run_that_left_nothing_undone_gives_no_node(tmp_path):
    (tmp_path / "mnist" / "1").mkdir(parents=True)
    record_outcome(tmp_path / "mnist" / "1", "mnist", "abc", {"n1": "ok"})
    assert hosts_to_retry("mnist", tmp_path)[0] == []


def test_no_recorded_run_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no earlier apply of mnist is recorded"):
        hosts_to_retry("mnist", tmp_path)


def test_an_unreadable_record_is_named(tmp_path):
    (tmp_path / "mnist" / "1").mkdir(parents=True)
    (tmp_path / "mnist" / "1" / "outcome.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read .*outcome.json"):
        hosts_to_retry("mnist", tmp_path)
