"""The status judgement: four states, each with the reasons an operator needs, and the rule that only
nodes HTTP cannot vouch for are asked over Ansible."""

from pathlib import Path

import pytest

from fleetdeploy.health.probe import NodeProbe
from fleetdeploy.ops import status as status_module
from fleetdeploy.ops.inspect import NodeFacts
from fleetdeploy.ops.status import (
    HEALTHY,
    NOT_DEPLOYED,
    UNHEALTHY,
    UNREACHABLE,
    FleetStatus,
    assess,
    fleet_status,
)
from fleetdeploy.ops.target import Target

RELEASE = "79c4f1af2f8d"
URL = "http://127.0.0.1:16789"
FLEET = Path(__file__).resolve().parents[2] / "fixtures" / "inventories" / "fleet.yml"


def good_probe(**changes):
    fields = {
        "url": URL,
        "live": True,
        "ready": True,
        "version": {"service": "mnist", "release": RELEASE},
        "score_status": 200,
        "score_latency_ms": 3.2,
    }
    return NodeProbe(**{**fields, **changes})


def refused():
    return NodeProbe(URL, error="ConnectionRefusedError: [Errno 111] Connection refused")


def test_a_node_answering_everything_is_healthy():
    node = assess("n1", "mnist", good_probe(), None)
    assert (node.state, node.reasons, node.release, node.score_latency_ms) == (HEALTHY, (), RELEASE, 3.2)


def test_no_answer_and_no_ssh_is_unreachable_naming_both(report):
    facts = NodeFacts(reachable=False, report={}, error="Failed to connect to the host via ssh: refused")
    node = assess("n1", "mnist", refused(), facts)
    assert node.state == UNREACHABLE and node.reachable is False
    assert "SSH: Failed to connect" in node.reasons[0]


def test_no_answer_without_node_facts_is_unreachable():
    node = assess("n1", "mnist", refused(), None)
    assert node.state == UNREACHABLE and "Connection refused" in node.reasons[0]


def test_a_node_without_the_service_is_not_deployed():
    facts = NodeFacts(reachable=True, report={"deployed": False, "active": None})
    node = assess("n1", "mnist", refused(), facts)
    assert node.state == NOT_DEPLOYED and node.reachable is True
    assert node.reasons == ("service mnist was never deployed here, or was removed",)


def test_a_container_stopped_by_hand_is_unhealthy_with_the_reason(report):
    report["instance"].update(
        running=False, state="exited", exit_code=0, health=None, finished_at="2026-11-24T02:54:51.1Z"
    )
    node = assess("n1", "mnist", refused(), NodeFacts(True, report))
    assert node.state == UNHEALTHY
    assert node.instance_state == "exited" and node.restarts == 0
    assert node.reasons[0].startswith(
        "container fleetdeploy-mnist-blue is exited (exit code 0, since 2026-11-24T02:54:51Z"
    )
    assert "fleetdeploy apply" in node.reasons[0]
    assert "Connection refused" in node.reasons[1]


def test_a_crash_looping_unit_reports_its_restarts(report):
    report["active"].update(runtime="venv", instance="fleetdeploy-mnist@blue.service")
    report["instance"] = {
        "name": "fleetdeploy-mnist@blue.service",
        "kind": "unit",
        "exists": True,
        "state": "activating",
        "running": False,
        "restarting": True,
        "exit_code": 1,
        "restarts": 7,
    }
    node = assess("n1", "mnist", refused(), NodeFacts(True, report))
    assert node.state == UNHEALTHY
    assert "unit fleetdeploy-mnist@blue.service is activating" in node.reasons[0]
    assert "restarted 7 time(s)" in node.reasons[1]


def test_a_stopped_front_is_named(report):
    report["front"].update(running=False, state="failed")
    node = assess("n1", "mnist", refused(), NodeFacts(True, report))
    assert any("front fleetdeploy-front@mnist.service is failed" in reason for reason in node.reasons)


@pytest.mark.parametrize(
    ("probe", "words"),
    [
        (good_probe(ready=False), "not ready"),
        (good_probe(score_status=500, score_answer="boom\nmore"), "POST /score answered 500: boom"),
        (good_probe(version={"service": "other", "release": "x"}), "port serves service 'other'"),
    ],
)
def test_http_answers_that_are_not_right_are_unhealthy(probe, words):
    node = assess("n1", "mnist", probe, None)
    assert node.state == UNHEALTHY and any(words in reason for reason in node.reasons), node.reasons


def test_serving_another_release_than_active_json_is_unhealthy(report):
    node = assess(
        "n1",
        "mnist",
        good_probe(version={"service": "mnist", "release": "aaaaaaaaaaaa"}),
        NodeFacts(True, report),
    )
    assert node.state == UNHEALTHY
    assert node.reasons == (f"serves release aaaaaaaaaaaa, but state/active.json says {RELEASE}",)


def test_the_fleet_is_healthy_only_when_every_node_is(report):
    fleet = FleetStatus(
        "mnist", (assess("a", "mnist", good_probe(), None), assess("b", "mnist", refused(), None))
    )
    assert fleet.exit_code == 1
    summary = fleet.as_json()["summary"]
    assert summary == {
        "nodes": 2,
        "healthy": 1,
        "unhealthy": 0,
        "unreachable": 1,
        "not_deployed": 0,
        "drifted": None,
        "healthy_fleet": False,
    }


def test_the_json_document_has_one_object_per_node_and_a_summary():
    document = FleetStatus("mnist", (assess("a", "mnist", good_probe(), None),)).as_json()
    assert set(document) == {"schema", "service", "nodes", "summary"}
    assert set(document["nodes"][0]) == {
        "node",
        "state",
        "reasons",
        "reachable",
        "url",
        "live",
        "ready",
        "release",
        "score_status",
        "score_latency_ms",
        "runtime",
        "slot",
        "instance",
        "instance_state",
        "restarts",
        "auth",
        "tls_days_left",
        "tls_fingerprint",
        "drift",
        "overrides",
    }


def test_only_nodes_http_cannot_vouch_for_are_asked_over_ansible(monkeypatch):
    asked = []

    def fake_probe(urls, sample, timeout, key=None, context=None):
        return {
            name: (refused() if name == "node-trixie-1" else good_probe(url=url))
            for name, url in urls.items()
        }

    def fake_inspect(inventory_path, inventory, target, hosts, hash_files=False):
        asked.append(list(hosts))
        return {name: NodeFacts(True, {"deployed": False}) for name in hosts}

    monkeypatch.setattr(status_module, "inspect_nodes", fake_inspect)
    result = fleet_status(FLEET, Target("mnist", 6789), probe=fake_probe)
    assert asked == [["node-trixie-1"]]
    assert [node.state for node in result.nodes] == [HEALTHY, HEALTHY, NOT_DEPLOYED]
    assert result.exit_code == 1

    asked.clear()
    fleet_status(FLEET, Target("mnist", 6789), probe=fake_probe, all_facts=True)
    assert asked == [["node-bookworm-1", "node-bookworm-2", "node-trixie-1"]]


def test_drift_turns_a_healthy_node_into_a_failing_exit(monkeypatch, report):
    report["files"]["code"]["score.py"] = "99" * 32
    monkeypatch.setattr(
        status_module, "inspect_nodes", lambda *a, **k: {name: NodeFacts(True, report) for name in a[3]}
    )
    result = fleet_status(
        FLEET,
        Target("mnist", 6789),
        drift=True,
        limit="node-bookworm-1",
        probe=lambda urls, *a, **k: {name: good_probe() for name in urls},
    )
    node = result.nodes[0]
    assert node.state == HEALTHY and [d.subject for d in node.drift] == ["code/score.py"]
    assert result.exit_code == 1 and result.summary()["drifted"] == 1
