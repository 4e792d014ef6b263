"""The rollout's decisions (roles/fleet_rollout/filter_plugins, as deploy.yml calls them between batches
and after the last one) and how apply reads back what deploy.yml reported."""

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from fleetdeploy.deploy.rollout import rollout_report, with_rollout_outcomes
from fleetdeploy.run.results import HostResult, RunResult

PLUGIN = Path(__file__).resolve().parents[3] / "roles" / "fleet_rollout" / "filter_plugins" / "fleet_rollout.py"


@pytest.fixture(scope="module")
def rollout():
    spec = importlib.util.spec_from_file_location("fleet_rollout_filters", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def states(*batches, failing=(), switched=True):
    """Hosts a..: batch numbers from the lists given, outcome failed for `failing`."""
    return [
        {"host": host, "batch": number, "outcome": "failed" if host in failing else "ok", "switched": switched}
        for number, hosts in enumerate(batches, start=1)
        for host in hosts
    ]


def test_the_states_come_from_the_hosts_a_batch_started_on(rollout):
    hostvars = {
        "a": {"fleet_rollout_batch_number": "1", "fleet_rollout_outcome": "ok", "fleet_rollout_switched": True},
        "b": {"fleet_rollout_batch_number": 2},  # dropped out mid-batch: no outcome
        "c": {},
    }
    assert rollout.rollout_states(hostvars, ["a", "b", "c"]) == [
        {"host": "a", "batch": 1, "outcome": "ok", "switched": True},
        {"host": "b", "batch": 2, "outcome": "", "switched": False},
    ]


def test_nothing_stops_a_rollout_where_nothing_failed(rollout):
    assert rollout.rollout_stop_reason(states(["a"]), 3, 0) == ""
    assert rollout.rollout_stop_reason(states(["a"], ["b", "c"]), 3, 0) == ""


def test_a_failed_canary_stops_the_rollout_even_within_max_fail(rollout):
    assert rollout.rollout_stop_reason(states(["a"], failing={"a"}), 3, 1) == "canary batch failed on a"


def test_a_node_that_dropped_out_mid_batch_counts_as_failed(rollout):
    dropped = [{"host": "a", "batch": 1, "outcome": "", "switched": False}]
    assert rollout.rollout_stop_reason(dropped, 3, 5) == "canary batch failed on a"


def test_failures_within_max_fail_let_the_rollout_go_on(rollout):
    assert rollout.rollout_stop_reason(states(["a"], ["b", "c"], failing={"b"}), 4, 1) == ""


def test_beyond_max_fail_the_rollout_stops(rollout):
    reason = rollout.rollout_stop_reason(states(["a"], ["b", "c"], failing={"b", "c"}), 4, 1)
    assert reason == "2 node(s) failed, more than max_fail allows (1)"


def test_max_fail_as_a_share_is_floored(rollout):
    assert rollout.allowed_failures("25%", 7) == 1 and rollout.allowed_failures("10%", 5) == 0
    assert rollout.allowed_failures(2, 5) == 2


def test_a_single_batch_is_judged_by_max_fail_only(rollout):
    assert rollout.rollout_stop_reason(states(["a", "b"], failing={"a"}), 2, 1) == ""
    assert rollout.rollout_stop_reason(states(["a", "b"], failing={"a"}), 2, 0).startswith("1 node(s) failed")


def test_a_stop_request_ends_the_rollout_before_the_next_batch(rollout):
    assert rollout.rollout_stop_reason(states(["a"]), 3, 0, True) == "interrupted: stopped before the next batch"
    assert rollout.rollout_stop_reason(states(["a"], ["b", "c"]), 3, 0, True) == ""  # nothing left to stop


def test_the_last_batch_updated_nodes_go_back_by_default(rollout):
    ran = states(["a"], ["b", "c"], failing={"b"})
    assert rollout.rollout_rollback_hosts(ran, "batch") == ["c"]  # b went back itself when it failed
    assert rollout.rollout_rollback_hosts(ran, "all") == ["a", "c"]
    assert rollout.rollout_rollback_hosts(ran, "none") == []


def test_a_node_this_run_did_not_switch_does_not_go_back(rollout):
    assert rollout.rollout_rollback_hosts(states(["a", "b"], switched=False), "all") == []


def _run(status="successful", **reports):
    return RunResult(status, 0, {name: HostResult(ok=3, report=report) for name, report in reports.items()}, None)


def test_the_report_lists_batches_rollbacks_and_nodes_never_started():
    result = _run(
        "failed",
        a={"rollout": {"batch": 1, "outcome": "ok", "rolled_back": {"release": "v1", "ok": True, "message": ""}}},
        b={"rollout": {"batch": 2, "outcome": "failed", "stopped": "canary batch failed on b"}},
        c={"rollout": {"batch": None, "outcome": "not started"}},
    )
    result.hosts["e"] = HostResult(failed=1, message="Missing sudo password")  # refused at the lock play
    report = rollout_report(["a", "b", "c", "d", "e"], result)
    assert [(batch.hosts, batch.failed) for batch in report.batches] == [(["a"], []), (["b"], ["b"])]
    assert report.stopped == "canary batch failed on b"
    assert report.rolled_back == ["a"] and report.rollbacks["a"].release == "v1"
    assert report.not_started == ["c"]  # d was never reached, e failed at the lock: neither "not started"
    assert report.updated == []


def test_nodes_the_lock_play_found_already_there_are_in_no_batch_and_not_never_started():
    result = _run(
        "failed",
        a={"rollout": {"batch": None, "outcome": "ok", "already": True}},
        b={"rollout": {"batch": 1, "outcome": "failed", "stopped": "canary batch failed on b"}},
        c={"rollout": {"batch": None, "outcome": "not started", "already": False}},
    )
    report = rollout_report(["a", "b", "c"], result)
    assert [batch.hosts for batch in report.batches] == [["b"]]
    assert report.already == ["a"] and report.not_started == ["c"]
    assert with_rollout_outcomes(result).hosts["a"].outcome == "ok"


def test_a_run_cut_short_says_so():
    result = _run("canceled", a={"rollout": {"batch": 1}}, b={})
    assert rollout_report(["a", "b"], result).stopped == "interrupted: the run was canceled"


def test_unreachable_and_failed_nodes_are_named_as_the_rollout_saw_them():
    result = _run(
        a={"rollout": {"batch": 1, "outcome": "unreachable", "message": "ssh: connection refused"}},
        b={"rollout": {"batch": 1, "outcome": "failed", "failed_task": "Start", "message": "exit 1"}},
    )
    hosts = with_rollout_outcomes(result).hosts
    assert hosts["a"].unreachable and hosts["a"].message == "ssh: connection refused"
    assert (hosts["b"].failed_task, hosts["b"].message) == ("Start", "exit 1")


def test_a_node_already_there_is_ok_though_its_lock_and_history_changed():
    result = _run(
        a={"rollout": {"batch": 1, "outcome": "ok", "already": True}},
        b={"rollout": {"batch": 1, "outcome": "ok", "already": False}},
    )
    result.hosts.update({name: replace(host, changed=3) for name, host in result.hosts.items()})
    hosts = with_rollout_outcomes(result).hosts
    assert (hosts["a"].outcome, hosts["b"].outcome) == ("ok", "changed")
