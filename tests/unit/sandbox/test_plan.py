"""Planning a sandbox: how releases and Docker modes are spread over nodes, and what input is refused."""

import pytest

from fleetdeploy.errors import ConfigError
from fleetdeploy.sandbox.plan import check_name, plan_nodes


def test_releases_and_docker_modes_cycle_over_nodes():
    plans = plan_nodes("mix", 3, ["bookworm", "trixie"], ["absent", "preinstalled"])
    assert [(p.host, p.release, p.docker) for p in plans] == [
        ("node1", "bookworm", "absent"),
        ("node2", "trixie", "preinstalled"),
        ("node3", "bookworm", "absent"),
    ]
    assert [p.image for p in plans] == [
        "fleetdeploy/node:bookworm",
        "fleetdeploy/node:trixie-docker",
        "fleetdeploy/node:bookworm",
    ]


def test_names_and_labels_follow_the_sandbox():
    (node,) = plan_nodes("demo", 1)
    assert node.container == "fleetdeploy-demo-node1"
    assert node.volume == "fleetdeploy-demo-node1-docker"
    assert node.labels == {
        "fleetdeploy.sandbox": "demo",
        "fleetdeploy.node": "node1",
        "fleetdeploy.release": "bookworm",
        "fleetdeploy.docker": "absent",
    }


def test_ssh_and_scoring_ports_are_ephemeral_unless_fixed():
    first, second = plan_nodes("p", 2, extra_ports=[8080, 8080])
    assert second.ports == first.ports
    assert first.ports == ((22, None), (6789, None), (8080, None))
    fixed = plan_nodes("p", 2, ssh_ports=[2201, 2202])
    assert [dict(n.ports)[22] for n in fixed] == [2201, 2202]
    assert all(dict(n.ports)[6789] is None for n in fixed)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        plan_nodes("Bad_Name", 0, ["buster", "trixie"], ["sometimes"], extra_ports=[22], ssh_ports=[2200])
    message = str(caught.value)
    for expected in (
        "--name 'Bad_Name'",
        "--nodes 0",
        "--distro 'buster': choose from bookworm, trixie",
        "--docker 'sometimes': choose from absent, preinstalled",
        "extra port 22",
        "--ssh-port given 1 times for 0 nodes",
    ):
        assert expected in message


@pytest.mark.parametrize("name", ["demo", "ci-2", "a"])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Demo", "2fast", "has space", "-x", "x" * 32, "a/b"])
def test_bad_names_name_the_rule(name):
    with pytest.raises(ConfigError, match="lowercase letter"):
        check_name(name)


def test_empty_distro_list_is_refused():
    with pytest.raises(ConfigError, match="--distro: give at least one of bookworm, trixie"):
        plan_nodes("x", 1, [])
