"""The node-side module (roles/fleet_inspect/library/fleet_inspect.py) on a node layout in a temporary
folder; `docker` and `systemctl` are replaced by recorded answers (their output shapes)."""

import json
import os

import pytest

from tests.unit.ops.conftest import load_node_module
from tests.unit.role_modules import artifacts_shell

node = load_node_module()

INSPECT = {
    "State": {
        "Status": "exited",
        "Running": False,
        "Restarting": False,
        "ExitCode": 137,
        "OOMKilled": True,
        "StartedAt": "2026-11-24T01:00:00Z",
        "FinishedAt": "2026-11-24T02:00:00Z",
    },
    "RestartCount": 2,
    "Image": "sha256:abc",
    "Config": {
        "Image": "fleetdeploy-mnist:1",
        "Labels": {"fleetdeploy.release": "r1"},
        "Env": ["FLEETDEPLOY_RELEASE=r1", "PATH=/usr/bin", "API_TOKEN=secret"],
    },
    "HostConfig": {"NanoCpus": 1000000000, "Memory": 0, "RestartPolicy": {"Name": "unless-stopped"}},
    "Mounts": [{"Source": "/opt/x", "Destination": "/var/azureml-app/code", "RW": False}],
}


class Answers:
    """Fake command runner: argv[0:2] -> (rc, stdout, stderr); records what was asked."""

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def __call__(self, argv):
        self.asked.append(argv)
        return self.answers.get(tuple(argv[:2]), (127, "", "not installed"))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def layout(tmp_path):
    service = tmp_path / "mnist"
    write(service / "code" / "c0de" / "score.py", "def init(): pass\n")
    write(service / "code" / "c0de" / "__pycache__" / "score.cpython-311.pyc", "x")
    write(service / "models" / "m" / "1" / "model.pkl", "weights")
    manifest = {
        "release": "r1",
        "service": "mnist",
        "code_hash": "c0de",
        "models": [{"name": "m", "version": 1}],
    }
    write(service / "releases" / "r1.json", json.dumps(manifest))
    return tmp_path


def test_never_deployed_is_said_plainly(tmp_path):
    report = node.inspect("mnist", str(tmp_path), runner=Answers({}))
    assert report["deployed"] is False and report["active"] is None and report["leftovers"] == []


def test_the_layout_before_slots_is_read_from_current(layout):
    os.symlink("releases/r1.json", layout / "mnist" / "current")
    runner = Answers({("docker", "inspect"): (0, json.dumps([INSPECT]), "")})
    report = node.inspect("mnist", str(layout), hash_files=True, runner=runner)
    assert report["active"]["release"] == "r1" and report["active"]["layout"] == "single"
    assert runner.asked == [["docker", "inspect", "--type", "container", "fleetdeploy-mnist"]]
    instance = report["instance"]
    assert (instance["state"], instance["exit_code"], instance["oom_killed"], instance["restarts"]) == (
        "exited",
        137,
        True,
        2,
    )
    assert instance["env"] == {"FLEETDEPLOY_RELEASE": "r1"}  # others by name only: they may be secrets
    assert instance["other_env"] == ["API_TOKEN", "PATH"]
    assert "front" not in report
    assert report["files"]["code"] == {"score.py": node.file_sha256(str(layout / "mnist/code/c0de/score.py"))}
    assert list(report["files"]["models"]["m/1"]) == ["model.pkl"]


def test_the_slot_layout_dispatches_on_runtime(layout):
    active = {
        "service": "mnist",
        "release": "r1",
        "slot": "green",
        "runtime": "venv",
        "instance": "fleetdeploy-mnist@green.service",
    }
    write(layout / "mnist" / "state" / "active.json", json.dumps(active))
    shown = "ActiveState=activating\nSubState=auto-restart\nNRestarts=5\nExecMainStatus=1\nLoadState=loaded\n"
    runner = Answers({("systemctl", "show"): (0, shown, "")})
    report = node.inspect("mnist", str(layout), runner=runner)
    assert [argv[2] for argv in runner.asked] == [
        "fleetdeploy-mnist@green.service",
        "fleetdeploy-front@mnist.service",
    ]
    instance = report["instance"]
    assert (instance["kind"], instance["running"], instance["restarting"], instance["restarts"]) == (
        "unit",
        False,
        True,
        5,
    )
    assert report["front"]["kind"] == "unit"


def test_a_missing_container_and_a_docker_less_node(layout):
    os.symlink("releases/r1.json", layout / "mnist" / "current")
    gone = Answers({("docker", "inspect"): (1, "[]", "Error: No such container: fleetdeploy-mnist")})
    assert node.inspect("mnist", str(layout), runner=gone)["instance"] == {
        "name": "fleetdeploy-mnist",
        "kind": "container",
        "exists": False,
        "error": None,
    }
    no_docker = node.inspect("mnist", str(layout), runner=Answers({}))["instance"]
    assert no_docker["error"] == "docker is not installed"


def test_history_lines_are_the_newest_and_bad_lines_are_kept_as_such(layout):
    lines = [json.dumps({"action": "apply", "n": n}) for n in range(5)] + ["{not json"]
    write(layout / "mnist" / "state" / "history.jsonl", "\n".join(lines) + "\n")
    report = node.inspect("mnist", str(layout), history_lines=3, runner=Answers({}))
    assert report["history"] == [
        {"action": "apply", "n": 3},
        {"action": "apply", "n": 4},
        {"unreadable": "{not json"},
    ]


def test_an_unreadable_active_json_is_an_error_not_a_crash(layout):
    write(layout / "mnist" / "state" / "active.json", "{broken")
    report = node.inspect("mnist", str(layout), runner=Answers({}))
    assert report["deployed"] is False
    assert "is not JSON" in report["errors"][0]


def test_stored_reports_markers_kept_releases_and_the_image_even_where_nothing_serves(tmp_path, manifest):
    service_dir = tmp_path / "mnist"
    write(service_dir / "releases" / f"{manifest['release']}.json", json.dumps(manifest))
    code_dir = service_dir / "code" / manifest["code_hash"]
    write(code_dir / "score.py", "")
    write(service_dir / "state" / "history.jsonl", "")
    marker = service_dir / "state" / f"code-{manifest['code_hash']}.done"
    assert artifacts_shell('mark "$1" "$2"', str(marker), str(code_dir)).returncode == 0
    # An unfinished copy, or one edited since it was marked, is not reported: apply sends it again.
    write(service_dir / "state" / f"code-{'e' * 64}.done", str(code_dir) + "\n0 0 " + str(code_dir / "score.py"))
    image = manifest["image_id"]
    runner = Answers({("docker", "image"): (0, image + "\n", "")})
    report = node.inspect("mnist", str(tmp_path), runner=runner, stored=True, image_id=image)
    assert report["deployed"] is False  # no active.json: removed, but its parts are kept
    assert report["stored"] == {
        "markers": [f"code-{manifest['code_hash']}.done"],
        "releases": {
            manifest["release"]: {
                "code_hash": manifest["code_hash"],
                "image_id": image,
                "env_hash": None,
                "models": {"sklearn_mnist/1": {"model.pkl": "33" * 32}},
            }
        },
        "image_present": True,
    }
    assert runner.asked == [["docker", "image", "inspect", "--format", "{{.Id}}", image]]
    missing = Answers({("docker", "image"): (1, "", "Error: No such image")})
    assert node.inspect("mnist", str(tmp_path), runner=missing, stored=True, image_id=image)["stored"][
        "image_present"
    ] is False
    assert "stored" not in node.inspect("mnist", str(tmp_path), runner=missing)
