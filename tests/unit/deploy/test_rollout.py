"""The rollout's decisions: canary gate, failure budget, what is rolled back, interruption."""

from fleetdeploy.deploy.rollout import run_rollout


def _run(batches, failing=(), allowed=0, mode="batch", stop_after=None):
    deployed, rolled_back = [], []

    def deploy(hosts):
        deployed.append(hosts)
        return [host for host in hosts if host in failing]

    calls = {"n": 0}

    def stop_requested():
        calls["n"] += 1
        return stop_after is not None and calls["n"] > stop_after

    report = run_rollout(
        batches,
        allowed_failures=allowed,
        deploy=deploy,
        rollback=rolled_back.extend,
        rollback_mode=mode,
        stop_requested=stop_requested,
    )
    return report, deployed, rolled_back


def test_every_batch_runs_in_order_when_nothing_fails():
    report, deployed, rolled_back = _run([["a"], ["b", "c"]])
    assert deployed == [["a"], ["b", "c"]]
    assert report.stopped is None and rolled_back == [] and report.updated == ["a", "b", "c"]


def test_a_failed_canary_stops_the_rollout_even_within_max_fail():
    report, deployed, rolled_back = _run([["a"], ["b", "c"]], failing={"a"}, allowed=1)
    assert deployed == [["a"]]
    assert report.stopped == "canary batch failed on a"
    assert report.not_started == ["b", "c"] and rolled_back == []


def test_failures_within_max_fail_let_the_rollout_go_on():
    report, deployed, _ = _run([["a"], ["b", "c"], ["d"]], failing={"b"}, allowed=1)
    assert deployed == [["a"], ["b", "c"], ["d"]]
    assert report.stopped is None and report.failed == ["b"]


def test_beyond_max_fail_the_batch_is_rolled_back():
    report, deployed, rolled_back = _run([["a"], ["b", "c"], ["d"]], failing={"b"}, allowed=0)
    assert deployed == [["a"], ["b", "c"]]
    assert rolled_back == ["c"]  # b never switched: it still serves its old release
    assert report.not_started == ["d"] and report.updated == ["a"]


def test_rollback_all_also_takes_back_earlier_batches():
    _, _, rolled_back = _run([["a"], ["b", "c"]], failing={"b"}, mode="all")
    assert rolled_back == ["a", "c"]


def test_rollback_none_leaves_updated_nodes():
    report, _, rolled_back = _run([["a"], ["b", "c"]], failing={"b"}, mode="none")
    assert rolled_back == [] and report.stopped


def test_a_single_batch_is_judged_by_max_fail_only():
    report, _, _ = _run([["a", "b"]], failing={"a"}, allowed=1)
    assert report.stopped is None


def test_a_stop_request_ends_the_rollout_before_the_next_batch():
    report, deployed, rolled_back = _run([["a"], ["b"], ["c"]], stop_after=1)
    assert deployed == [["a"], ["b"]]
    assert report.stopped.startswith("interrupted") and report.not_started == ["c"] and rolled_back == []
