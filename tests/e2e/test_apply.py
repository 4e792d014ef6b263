"""`fleetdeploy apply` end to end on a 3-node sandbox (bookworm and trixie, one bare node whose Docker
engine the role installs): deploy the example, the seed's client gets a '2' from every node, a second
apply changes nothing, and a score.py change ships only the code. The tests run in file order and
share one fleet: each builds on the state the one before left."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.e2e.deploy_helpers import (
    changed_in_output,
    changed_tasks,
    copy_example,
    fleetdeploy,
    node_exec,
    node_tasks,
    render_elsewhere,
    run_dir,
    run_rendered,
    seed_client,
    version,
)

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timeout(1500)]

# The serving slot's container (docs/rollout.md): fleetdeploy-mnist-blue or -green, named in active.json.
SERVICE_DIR = "/opt/fleetdeploy/mnist"
ACTIVE = f"{SERVICE_DIR}/state/active.json"
REACH_TASK = "Ask the node whether it is already where this deploy wants it"  # fleet_rollout's reach.yml


@pytest.fixture(scope="module")
def fleet(sandbox_fleet):
    return sandbox_fleet(
        "apply", nodes=3, distros=("bookworm", "trixie"), docker=("absent", "preinstalled", "preinstalled")
    )


# The first release is the example with this line in score.py; test_score_change_ships_only_the_script takes
# it out, so the fleet ends serving the example as it is: the baseline test_apply_faults.py and
# test_rollout.py need on this fleet, which then costs them no apply.
FIRST_RELEASE_MARK = "\n# test_apply: the first release (the score.py change takes this line out)\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = copy_example(tmp_path_factory.mktemp("mnist"))
    script = project / "score.py"
    script.write_text(script.read_text() + FIRST_RELEASE_MARK)
    return project


def apply(fleet, project, *extra):
    return fleetdeploy("apply", fleet.inventory, "-f", project / "fleetdeploy.yml", *extra)


def started_at(docker_engine, node) -> str:
    instance = json.loads(node_exec(docker_engine, node, f"cat {ACTIVE}"))["instance"]
    return node_exec(docker_engine, node, f"docker inspect -f '{{{{.State.StartedAt}}}}' {instance}")


def test_first_apply_serves_the_seed_client_on_every_node(fleet, project, docker_engine):
    bare = [node for node in fleet.nodes if node.docker == "absent"]
    assert bare, "the fleet must include a node without Docker"
    result = apply(fleet, project)
    assert result.returncode == 0, result.stdout + result.stderr
    for node in fleet.nodes:
        assert "prediction: [2]" in seed_client(project, node), node.host
        assert version(node)["service"] == "mnist"
    releases = {version(node)["release"] for node in fleet.nodes}
    assert len(releases) == 1
    assert releases.pop() in result.stdout
    assert re.search(r"scoring image fleetdeploy-mnist:\w+: \d+ MB \(base image \d+ MB, environment", result.stdout)
    # The environment image leaves the numeric packages' test suites out (never imported when serving).
    tests_left = node_exec(
        docker_engine, fleet.nodes[1],
        "docker run --rm --entrypoint python3 $(docker ps --filter label=fleetdeploy.service=mnist -q | head -1 | "
        "xargs docker inspect --format '{{.Image}}') -c 'import os, numpy, scipy, sklearn; "
        "print(sum(os.path.isdir(os.path.join(os.path.dirname(m.__file__), \"tests\")) for m in (numpy, scipy, sklearn)))'",
    )
    assert tests_left == "0", tests_left
    for node in bare:
        assert node_exec(docker_engine, node, "systemctl is-active docker") == "active"


def test_second_apply_changes_nothing(fleet, project, docker_engine):
    before = {node.host: started_at(docker_engine, node) for node in fleet.nodes}
    records = {node.host: history_lines(docker_engine, node) for node in fleet.nodes}
    result = apply(fleet, project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_tasks(run_dir(result)) == {}
    assert {node.host: started_at(docker_engine, node) for node in fleet.nodes} == before
    # Already there: one module call per node, before any lock, compares the node's record with what this
    # deploy wants (the check of /score runs from the controller). No lock taken, no history line written.
    ran = node_tasks(run_dir(result))
    assert ran == {node.host: [REACH_TASK] for node in fleet.nodes}, ran
    assert {node.host: history_lines(docker_engine, node) for node in fleet.nodes} == records
    # ...and the results table says so: ok, not changed.
    for node in fleet.nodes:
        assert re.search(rf"{node.host}\s*│\s*ok\s*│", result.stdout), result.stdout
    # The first look found every node there: no batch started.
    assert f"batches: none ({len(fleet.nodes)} node(s) already there)" in result.stdout, result.stdout


def test_score_change_ships_only_the_script(fleet, project, docker_engine):
    old_release = version(fleet.nodes[0])["release"]
    script = project / "score.py"
    script.write_text(script.read_text().replace(FIRST_RELEASE_MARK, ""))  # new code, same model
    result = apply(fleet, project)
    assert result.returncode == 0, result.stdout + result.stderr
    changed = changed_tasks(run_dir(result))
    for node in fleet.nodes:
        tasks = changed[node.host]
        assert any("code" in task.lower() for task in tasks), tasks
        assert not any("model" in task.lower() and "copy" in task.lower() for task in tasks), tasks
        assert not any(
            "image" in task.lower() and ("load" in task.lower() or "send" in task.lower()) for task in tasks
        ), tasks
        assert version(node)["release"] != old_release
        assert "prediction: [2]" in seed_client(project, node)


def recap_says_nothing_changed(stdout: str, fleet) -> None:
    stdout = re.sub(r"\x1b\[[0-9;]*m", "", stdout)  # ansible-runner's pty makes Ansible colour it
    recap = stdout[stdout.index("PLAY RECAP") :]
    for node in fleet.nodes:
        line = next(line for line in recap.splitlines() if line.startswith(node.host))
        assert "failed=0" in line and "unreachable=0" in line, recap
    assert changed_in_output(stdout) == {}, "the deploy changed something, not only the lock and history"


def history_lines(docker_engine, node) -> list[dict]:
    text = node_exec(docker_engine, node, f"cat {SERVICE_DIR}/state/history.jsonl 2>/dev/null || true")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_rendered_project_moved_elsewhere_runs_with_ansible_playbook_and_ansible_runner(
    fleet, project, tmp_path, docker_engine
):
    """`render -o` carries what it ships: moved away from where it was written (and from the run
    folders and image cache apply uses), it runs under plain ansible-playbook and under ansible-runner
    as AWX starts it, and each finds the fleet already deployed (no lock, no history line). Its lock is its
    own: another deploy holding it on one node refuses the run everywhere."""
    moved = render_elsewhere(fleet.inventory, project, tmp_path)
    assert str(tmp_path / "rendered") not in (moved / "project" / "vars" / "fleetdeploy.json").read_text()
    checked = subprocess.run(
        ["sha256sum", "-c", "--quiet", "files/SHA256SUMS"],
        cwd=moved / "project",
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    held, lock = fleet.nodes[1], f"{SERVICE_DIR}/state/lock"
    holder = {"run_id": "awx-job-41", "user": "awx", "controller": "awx-1", "pid": 7, "action": "apply"}
    node_exec(docker_engine, held, f"mkdir -p {lock} && echo '{json.dumps(holder)}' > {lock}/holder.json")
    records = {node.host: history_lines(docker_engine, node) for node in fleet.nodes}
    try:
        refused = run_rendered(moved)
        assert refused.returncode != 0, refused.stdout[-3000:]
        assert "awx@awx-1 (apply, run awx-job-41)" in refused.stdout, refused.stdout[-3000:]
        for node in fleet.nodes:
            assert node_exec(docker_engine, node, f"test -d {lock} && echo held || echo free") == (
                "held" if node is held else "free"
            ), node.host
        assert changed_in_output(refused.stdout) == {}
    finally:
        node_exec(docker_engine, held, f"rm -rf {lock}")

    for runner in (False, True):
        done = run_rendered(moved, runner=runner)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        recap_says_nothing_changed(done.stdout, fleet)
        # Preflight is the project's own too (deploy.yml's first play): every node asked and judged.
        assert "TASK [fleet_preflight : Judge what the node offers by preflight's rules]" in done.stdout
        # Found already there in the first look: the lock play and the ones after it had no hosts.
        assert "Take the deploy lock of" not in done.stdout, done.stdout[-3000:]
    for node in fleet.nodes:  # the refused run and the two that found nothing to change add no history line
        assert history_lines(docker_engine, node) == records[node.host], node.host


def test_a_rendered_project_stops_at_a_failing_canary_on_its_own(fleet, project, tmp_path, docker_engine):
    """The canary gate is the playbook's own: a release whose init() raises, rendered, moved elsewhere and
    run with ansible-runner as AWX runs it, fails on the first node and goes no further; every node keeps
    serving the release it served, and the failed attempt is in the canary's history."""
    broken = copy_example(tmp_path / "broken", batch=[1, "100%"], max_fail=0)
    script = broken / "score.py"
    script.write_text(
        script.read_text().replace("def init():", "def init():\n    raise RuntimeError('rendered canary test')", 1)
    )
    moved = render_elsewhere(fleet.inventory, broken, tmp_path)
    serving = {node.host: version(node)["release"] for node in fleet.nodes}
    records = {node.host: history_lines(docker_engine, node) for node in fleet.nodes}
    runner = run_rendered(moved, runner=True)
    assert runner.returncode != 0, runner.stdout[-3000:]
    assert "rendered canary test" in runner.stdout, runner.stdout[-3000:]
    canary, *rest = fleet.nodes
    assert {node.host: version(node)["release"] for node in fleet.nodes} == serving
    added = history_lines(docker_engine, canary)[len(records[canary.host]) :]
    assert [(entry["action"], entry["result"]) for entry in added] == [("apply", "failed")], added
    assert "rendered canary test" in added[0]["detail"]
    for node in rest:  # never started: locked and given back, nothing recorded, nothing run
        assert history_lines(docker_engine, node) == records[node.host], node.host
