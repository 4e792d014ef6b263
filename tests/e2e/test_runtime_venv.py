"""The venv runtime end to end on a sandbox without Docker: the example model served from a virtual
environment under a hardened systemd slot behind the service's HAProxy front; the seed's client gets
'2'; an update switches slots under load without a failed request; `fleetdeploy rollback` goes back;
a Python the node lacks is refused suggesting conda; a node without python3 is named in the summary.

The tests run in file order and share one fleet (node1 bookworm, node2 trixie, node3 bookworm): each
builds on the state the one before left. node3 is kept for the python3-less case, which removes the
node's python3 for real (apt-get purge), as on a minimal appliance."""

from __future__ import annotations

import json
import re
import uuid

import pytest
import yaml

from tests.e2e.deploy_helpers import (
    SECRET_SCRIPT,
    changed_tasks,
    copy_example,
    fleetdeploy,
    node_exec,
    run_dir,
    secret_seen,
    seed_client,
    sha256,
    version,
)
from tests.load import start_load

pytestmark = [pytest.mark.docker, pytest.mark.e2e, pytest.mark.timeout(1800)]

SERVED = "node1,node2"
UNIT = "fleetdeploy-mnist@{slot}.service"
ACTIVE = "/opt/fleetdeploy/mnist/state/active.json"


@pytest.fixture(scope="module")
def fleet(sandbox_fleet):
    return sandbox_fleet("venv", nodes=3, distros=("bookworm", "trixie"), docker=("absent",))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = copy_example(tmp_path_factory.mktemp("mnist-venv"))
    spec_path = project / "fleetdeploy.yml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["runtime"] = "venv"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return project


def apply(fleet, project, *extra, spec="fleetdeploy.yml"):
    return fleetdeploy("apply", fleet.inventory, "-f", project / spec, *extra)


def output(result) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def active(docker_engine, node) -> dict:
    return json.loads(node_exec(docker_engine, node, f"cat {ACTIVE}"))


def served(fleet):
    return [node for node in fleet.nodes if node.host in SERVED.split(",")]


def test_first_apply_serves_the_seed_client_from_a_systemd_slot(fleet, project, docker_engine):
    result = apply(fleet, project, "--limit", SERVED)
    assert result.returncode == 0, output(result)
    for node in served(fleet):
        assert "prediction: [2]" in seed_client(project, node), node.host
        record = active(docker_engine, node)
        assert record["runtime"] == "venv" and record["instance"] == UNIT.format(slot=record["slot"])
        assert version(node)["release"] == record["release"]
        unit = record["instance"]
        # No Docker on the node: the release runs from a virtual environment under systemd.
        assert node_exec(docker_engine, node, "command -v docker || echo none") == "none"
        pid = node_exec(docker_engine, node, f"systemctl show -P MainPID {unit}")
        assert node_exec(docker_engine, node, f"stat -c %U /proc/{pid}") == "fleetdeploy"
        exe = node_exec(docker_engine, node, f"readlink /proc/{pid}/exe")
        assert exe.startswith("/opt/fleetdeploy/mnist/envs/") or "python3" in exe, exe
        cmdline = node_exec(docker_engine, node, f"tr '\\0' ' ' < /proc/{pid}/cmdline")
        assert "/opt/fleetdeploy/mnist/envs/" in cmdline and "fleetdeploy serve" in cmdline, cmdline
        # The slot listens on 127.0.0.1 only; the node port is HAProxy's.
        listeners = node_exec(docker_engine, node, f"ss -Hltn 'sport = :{record['slot_port']}'")
        assert [line.split()[3] for line in listeners.splitlines()] == [f"127.0.0.1:{record['slot_port']}"], (
            listeners
        )
        # systemd read the environment file back as written (the sample request is JSON with quotes).
        environ = node_exec(docker_engine, node, f"tr '\\0' '\\n' < /proc/{pid}/environ")
        env = dict(line.split("=", 1) for line in environ.splitlines() if "=" in line)
        assert json.loads(env["FLEETDEPLOY_SAMPLE_REQUEST"]) == json.loads(
            (project / "sample_request.json").read_text()
        )
        assert env["AZUREML_MODEL_DIR"] == "/var/azureml-app/azureml-models/sklearn_mnist/1"
        assert node_exec(docker_engine, node, f"systemctl show -P NoNewPrivileges {unit}") == "yes"
        assert node_exec(docker_engine, node, f"systemctl show -P ProtectSystem {unit}") == "strict"
        # Logs go to the journal (what `fleetdeploy logs` reads for these runtimes).
        assert '"path": "/score"' in node_exec(docker_engine, node, f"journalctl -u {unit} -o cat --no-pager")


def test_second_apply_changes_nothing(fleet, project):
    result = apply(fleet, project, "--limit", SERVED)
    assert result.returncode == 0, output(result)
    assert changed_tasks(run_dir(result)) == {}


def test_status_drift_and_logs_read_the_systemd_slot(fleet, project):
    done = fleetdeploy(
        "status", fleet.inventory, "-f", project / "fleetdeploy.yml", "--limit", SERVED, "--json", "--drift"
    )
    assert "Traceback" not in done.stderr, output(done)
    nodes = {node["node"]: node for node in json.loads(done.stdout)["nodes"]}
    for host in SERVED.split(","):
        assert nodes[host]["state"] == "healthy", nodes[host]
        assert nodes[host]["drift"] == [], nodes[host]["drift"]
    logs = fleetdeploy("logs", fleet.inventory, "--file", project / "fleetdeploy.yml", "--limit", SERVED)
    assert logs.returncode == 0, output(logs)
    for host in SERVED.split(","):
        assert re.search(rf"{host}.*\"path\": \"/score\"", logs.stdout), logs.stdout[-3000:]


def test_update_switches_slots_under_load_without_a_failed_request_then_rolls_back(
    fleet, project, docker_engine, monkeypatch, request
):
    """The update also brings a plain `env` value and a secret (with the characters an env file could
    mangle): systemd reads it from the release's root-only file into score.py's environment, and it is
    in no unit file, log or journal."""
    nodes = served(fleet)
    before = {node.host: active(docker_engine, node) for node in nodes}
    script = project / "score.py"
    script.write_text(script.read_text() + SECRET_SCRIPT)  # a new release of the code, same environment
    spec_path = project / "fleetdeploy.yml"
    plain_spec = spec_path.read_text()
    spec = yaml.safe_load(plain_spec)
    spec["env"] = {"FD_PLAIN": "plain-setting"}
    spec["secrets"] = {"FD_CANARY": {"env": "FD_TEST_CANARY"}}
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    request.addfinalizer(lambda: spec_path.write_text(plain_spec))  # later applies know no FD_TEST_CANARY
    token = f"canary-{uuid.uuid4().hex}"
    canary = f'{token} "quoted" $HOME `tick` back\\slash\nsecond line'
    monkeypatch.setenv("FD_TEST_CANARY", canary)
    body = (project / "sample_request.json").read_bytes()
    load = start_load(
        {node.host: node.scoring_url for node in nodes},
        rate=16,
        max_requests=16 * 400,
        max_seconds=400,
        body=body,
        expect_body=b"[2]",
        timeout=10,
    )
    try:
        result = apply(fleet, project, "--limit", SERVED)
    finally:
        load.stop()
    report = load.result(timeout=30)
    summary = report.summary()
    assert result.returncode == 0, output(result)
    assert summary.failed == 0, f"{summary.line()} first: {report.failures()[:5]}"
    assert summary.sent > 50, summary.line()
    changed = changed_tasks(run_dir(result))
    for node in nodes:
        after = active(docker_engine, node)
        assert after["slot"] != before[node.host]["slot"], node.host
        assert after["previous"] == before[node.host]["release"]
        assert version(node)["release"] == after["release"] != before[node.host]["release"]
        # Same requirements and server: the environment was reused, not rebuilt.
        assert not any("virtual environment" in task for task in changed[node.host]), changed[node.host]
        old_unit = before[node.host]["instance"]
        assert node_exec(docker_engine, node, f"systemctl is-active {old_unit} || true") == "inactive"
        assert secret_seen(node) == {"sha256": sha256(canary), "plain": "plain-setting"}, node.host
        release = after["release"]
        found = node_exec(
            docker_engine, node,
            "stat -c '%a %U %G' /opt/fleetdeploy/mnist; "
            f"stat -c '%a %U' /opt/fleetdeploy/mnist/secrets/{release}.env; "
            f"grep -rlI --exclude-dir=secrets {token} /etc/systemd /etc/fleetdeploy /opt/fleetdeploy /var/log; "
            f"journalctl --no-pager -o cat | grep -c {token}; true",
        )
        # The service's folder is closed to all but its own user's group (its environment is there).
        assert found.splitlines() == ["750 root fleetdeploy", "600 root", "0"], f"{node.host}: {found}"

    back = fleetdeploy("rollback", fleet.inventory, "-f", project / "fleetdeploy.yml", "--limit", SERVED)
    assert back.returncode == 0, output(back)
    for node in nodes:
        assert version(node)["release"] == before[node.host]["release"], node.host
        assert active(docker_engine, node)["runtime"] == "venv"
        assert "prediction: [2]" in seed_client(project, node)


def test_a_wheelhouse_deploys_to_a_node_that_cannot_reach_pypi(fleet, project, docker_engine):
    """Air-gapped: wheels downloaded on the controller and shipped; the node's names for PyPI lead nowhere."""
    node3 = fleet.nodes[2]
    spec = yaml.safe_load((project / "fleetdeploy.yml").read_text())
    spec["node_runtime"] = {"venv": {"wheelhouse": True, "wheelhouse_python": ["3.11"]}}
    (project / "wheelhouse.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    blocked = "0.0.0.0 pypi.org files.pythonhosted.org # fleetdeploy test"
    # /etc/hosts is bind-mounted into the container: rewrite it in place, never replace it.
    node_exec(docker_engine, node3, f"echo '{blocked}' >> /etc/hosts")
    try:
        reach = "python3 -c \"import urllib.request as u; u.urlopen('https://pypi.org/simple/', timeout=5)\""
        assert node_exec(docker_engine, node3, f"{reach} 2>/dev/null && echo reachable || echo blocked") == "blocked"
        result = apply(fleet, project, "--limit", "node3", spec="wheelhouse.yml")
        assert result.returncode == 0, output(result)
        assert "prediction: [2]" in seed_client(project, node3)
        assert active(docker_engine, node3)["runtime"] == "venv"
    finally:
        node_exec(docker_engine, node3, "grep -v 'fleetdeploy test' /etc/hosts > /tmp/hosts; cat /tmp/hosts > /etc/hosts")


def test_a_python_the_node_lacks_is_refused_suggesting_conda(fleet, project, docker_engine):
    node1 = fleet.nodes[0]
    serving = version(node1)["release"]
    (project / "conda_py312.yml").write_text(
        "dependencies:\n  - python=3.12\n  - pip:\n"
        + "".join(
            f"    - {line}\n" for line in (project / "requirements.txt").read_text().split() if "==" in line
        )
    )
    spec = yaml.safe_load((project / "fleetdeploy.yml").read_text())
    spec["environment"] = {"conda": "conda_py312.yml"}
    (project / "py312.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = apply(fleet, project, "--limit", "node1", spec="py312.yml")
    assert result.returncode != 0, output(result)
    text = re.sub(r"\s+", " ", result.stdout)
    assert "node1" in text and "Python 3.11" in text and "runtime: conda" in text, output(result)
    assert version(node1)["release"] == serving, "the serving release must keep serving"


def test_a_node_without_python3_is_named_in_the_summary(fleet, project, docker_engine):
    node3 = fleet.nodes[2]
    node_exec(
        docker_engine,
        node3,
        "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq python3 python3-minimal 'python3.*-minimal'"
        " 'libpython3.*-minimal' >/dev/null 2>&1; ! command -v python3",
    )
    result = apply(fleet, project, "--limit", "node3")
    assert result.returncode != 0, output(result)
    text = re.sub(r"\s+", " ", result.stdout)
    assert re.search(r"node3\W.*failed.*python3.*not found", text), output(result)
    assert "holds the lock" not in result.stdout + result.stderr
