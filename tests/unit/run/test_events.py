"""translate() and ResultCollector on event dicts recorded from a real ansible-runner run
(recorded_events.json: hosts `good`, `bad` whose task exits 3, and `gone`, unreachable)."""

import json
from pathlib import Path

import pytest

from fleetdeploy.run.events import (
    AnsibleOutput,
    HostCounts,
    HostTaskDone,
    HostTaskStarted,
    HostUnreachable,
    PlayStarted,
    RecapReceived,
    failure_message,
    translate,
)
from fleetdeploy.run.results import HostResult, ResultCollector, RunResult

RECORDED = json.loads((Path(__file__).parent / "recorded_events.json").read_text())


def _typed():
    return [event for raw in RECORDED for event in translate(raw)]


def test_recorded_run_translates_to_typed_events():
    events = _typed()
    assert events[0] == PlayStarted("Try things")
    assert HostTaskStarted("bad", "Fail on bad") in events
    assert HostTaskDone("good", "Say hello", "changed") in events
    assert HostTaskDone("good", "Fail on bad", "skipped") in events
    assert HostTaskDone("bad", "Fail on bad", "failed", "non-zero return code: disk full") in events
    unreachable = [e for e in events if isinstance(e, HostUnreachable)]
    assert [(e.host, e.task) for e in unreachable] == [("gone", "Say hello")]
    assert "port 1: Connection refused" in unreachable[0].message
    report = next(e for e in events if isinstance(e, HostTaskDone) and e.report)
    assert (report.host, report.report) == ("good", {"release": "abc123", "score_latency_ms": 4.2})
    assert events[-1] == RecapReceived(
        {
            "good": HostCounts(ok=2, changed=1, skipped=1),
            "bad": HostCounts(ok=1, changed=1, failed=1),
            "gone": HostCounts(unreachable=1),
        }
    )


def test_chatter_events_translate_to_nothing():
    for kind in ("playbook_on_start", "playbook_on_task_start", "verbose", "runner_item_on_ok"):
        assert translate({"event": kind, "event_data": {"host": "h", "task": "t"}}) == []


def test_ignored_failures_are_not_failures():
    raw = {
        "event": "runner_on_failed",
        "event_data": {"host": "h", "task": "probe", "ignore_errors": True, "res": {"msg": "nope"}},
    }
    assert translate(raw) == [HostTaskDone("h", "probe", "ignored", "nope")]


def test_collector_builds_host_results_from_the_recorded_run():
    collector = ResultCollector()
    for event in _typed():
        collector.apply(event)
    assert collector.hosts["good"] == HostResult(
        ok=2, changed=1, skipped=1, report={"release": "abc123", "score_latency_ms": 4.2}
    )
    bad = collector.hosts["bad"]
    assert (bad.failed, bad.failed_task, bad.message) == (1, "Fail on bad", "non-zero return code: disk full")
    assert bad.outcome == "failed" and not bad.succeeded
    gone = collector.hosts["gone"]
    assert gone.unreachable and gone.outcome == "unreachable" and gone.failed_task == "Say hello"
    result = RunResult("failed", 2, collector.hosts, None)
    assert result.failed_hosts == ["bad", "gone"] and not result.succeeded


def test_reports_from_several_tasks_are_merged():
    collector = ResultCollector()
    collector.apply(HostTaskDone("h", "a", "ok", report={"release": "r1"}))
    collector.apply(HostTaskDone("h", "b", "changed", report={"score_latency_ms": 3.0}))
    assert collector.hosts["h"].report == {"release": "r1", "score_latency_ms": 3.0}
    assert (collector.hosts["h"].ok, collector.hosts["h"].changed) == (2, 1)
    assert collector.hosts["h"].outcome == "changed"


def test_recap_clears_a_failure_that_a_rescue_block_handled():
    collector = ResultCollector()
    collector.apply(HostTaskDone("h", "try", "failed", "boom"))
    collector.apply(RecapReceived({"h": HostCounts(ok=2, rescued=1)}))
    assert collector.hosts["h"] == HostResult(ok=2)
    assert collector.hosts["h"].succeeded


@pytest.mark.parametrize(
    ("res", "message"),
    [
        ({"msg": "non-zero return code", "stderr": "a\nb\nc\nd", "rc": 1}, "non-zero return code: b / c / d"),
        ({"msg": "Could not find file"}, "Could not find file"),
        ({"module_stderr": "Traceback\nKeyError: x", "rc": 1}, "Traceback / KeyError: x"),
        ({"rc": 5}, "exit status 5"),
        ({"results": [{"failed": False}, {"failed": True, "msg": "item 2 broke"}]}, "item 2 broke"),
        ({}, None),
    ],
)
def test_failure_message(res, message):
    assert failure_message(res) == message


def test_ansible_text_follows_the_typed_event():
    raw = {
        "event": "runner_on_ok",
        "stdout": "ok: [h]\r\n",
        "event_data": {"host": "h", "task": "t", "res": {"changed": False}},
    }
    assert translate(raw) == [HostTaskDone("h", "t", "ok"), AnsibleOutput("ok: [h]")]
    assert translate({"event": "verbose", "stdout": "Using /etc/ansible/ansible.cfg"}) == [
        AnsibleOutput("Using /etc/ansible/ansible.cfg")
    ]


def test_retry_events_carry_attempt_and_retries():
    from fleetdeploy.run import HostTaskRetrying

    raw = {
        "event": "runner_retry",
        "event_data": {"host": "h", "task": "wait", "res": {"attempts": 2, "retries": 5}},
    }
    assert translate(raw) == [HostTaskRetrying("h", "wait", 2, 5)]
