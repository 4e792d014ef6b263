"""apply --check's judgement (fleetdeploy/deploy/check.py): what apply would do on a node, from what
fleet_inspect reported there. The real run against sandbox nodes: tests/e2e/test_ops.py."""

from dataclasses import replace

from fleetdeploy.deploy.check import Wanted, judge
from fleetdeploy.ops.drift import Desired
from fleetdeploy.ops.inspect import NodeFacts

MODEL = {"model.pkl": "a" * 64}
WANTED = Wanted(
    release="new123",
    code_hash="c" * 64,
    code_files=3,
    models={"mnist/1": MODEL},
    image_id="sha256:" + "1" * 64,
    image_tag="fleetdeploy-mnist:abc",
    image_bytes=517 * 1024 * 1024,
)
DESIRED = Desired(code_files={"score.py": "b" * 64}, models={"mnist/1": MODEL}, settings={"workers": 2})


def facts(serving=None, stored=None, manifest=None) -> NodeFacts:
    report = {"deployed": serving is not None, "stored": stored or {}}
    if serving:
        report["active"] = {"release": serving}
        report["manifest"] = manifest or {
            "code_files": {"score.py": "0" * 64},
            "models": [{"name": "mnist", "version": "1", "files": MODEL}],
            "settings": {"workers": 2},
        }
    return NodeFacts(reachable=True, report=report)


def test_a_fresh_node_gets_everything_sent_and_its_first_release_started():
    node = judge("node1", facts(), WANTED, DESIRED)
    assert node.serving is None and node.differences == []
    assert node.actions == [
        "image fleetdeploy-mnist:abc: sent (517 MiB) and loaded",
        f"code {'c' * 12}: sent (3 file(s), only those that differ)",
        "model mnist/1: sent (1 file(s))",
        "release new123: started, checked, then served (first deploy)",
    ]


def test_what_the_node_keeps_is_not_sent_again_and_the_diff_names_the_changed_file():
    stored = {
        "image_present": True,
        "markers": [f"code-{'c' * 64}.done"],
        "releases": {"old456": {"models": {"mnist/1": MODEL}}},
    }
    node = judge("node1", facts("old456", stored), WANTED, DESIRED)
    assert node.actions == [
        "image fleetdeploy-mnist:abc: on the node, not sent",
        f"code {'c' * 12}: on the node, not sent",
        "model mnist/1: on the node, not sent",
        "release new123: started beside old456, checked, then switched to",
    ]
    assert [d.subject for d in node.differences] == ["spec code/score.py"]


def test_with_the_tunnel_only_the_missing_layers_are_pulled_the_tarball_bounding_them():
    node = judge("node1", facts(), replace(WANTED, tunnel=True), DESIRED)
    assert node.actions[0] == (
        "image fleetdeploy-mnist:abc: the layers the node lacks pulled through the SSH tunnel "
        "(at most 517 MiB; the tarball where the tunnel is refused)"
    )


def test_a_model_version_with_other_files_is_sent():
    stored = {"releases": {"old456": {"models": {"mnist/1": {"model.pkl": "f" * 64}}}}}
    node = judge("node1", facts("old456", stored), WANTED, DESIRED)
    assert "model mnist/1: sent (1 file(s))" in node.actions


def test_a_node_serving_the_release_has_nothing_to_do():
    node = judge("node1", facts("new123"), WANTED, DESIRED)
    assert node.actions == [] and node.error is None


def test_an_unreachable_node_is_named_with_ansibles_words():
    node = judge("node2", NodeFacts(reachable=False, report={}, error="SSH: Connection refused"), WANTED, DESIRED)
    assert not node.reachable and node.error == "SSH: Connection refused" and node.actions == []
