"""run_playbook against real ansible-runner and ansible-playbook: local hosts, a failing task, a host
whose SSH port (127.0.0.1:1) refuses connections, cancellation, and the raw output kept on disk."""

import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from fleetdeploy.errors import ConfigError
from fleetdeploy.run import (
    HostTaskDone,
    HostTaskRetrying,
    HostTaskStarted,
    HostUnreachable,
    PlayStarted,
    RecapReceived,
    RunFinished,
    run_playbook,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PLAYBOOK = [
    {
        "name": "Exercise the runner",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "Say hello", "ansible.builtin.command": "echo hello"},
            {
                "name": "Fail on bad",
                "ansible.builtin.shell": "echo 'disk full' >&2; exit 3",
                "when": "inventory_hostname == 'bad'",
            },
            {
                "name": "Try and recover",
                "block": [{"name": "Break", "ansible.builtin.command": "false"}],
                "rescue": [{"name": "Recover", "ansible.builtin.debug": {"msg": "recovered"}}],
            },
            {
                "name": "Wait for something that never comes",
                "ansible.builtin.command": "false",
                "register": "probe",
                "until": "probe.rc == 0",
                "retries": 2,
                "delay": 0,
                "ignore_errors": True,
                "when": "inventory_hostname == 'good'",
            },
            {
                "name": "fleetdeploy report",
                "ansible.builtin.set_fact": {
                    "fleetdeploy_report": {"release": "abc123def456", "score_latency_ms": 4.5}
                },
            },
        ],
    }
]

SLOW_PLAYBOOK = [
    {
        "name": "Slow",
        "hosts": "good",
        "gather_facts": False,
        "tasks": [{"name": "Sleep", "ansible.builtin.command": "sleep 60"}],
    }
]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {
        "all": {
            "hosts": {
                "good": local,
                "bad": local,
                "gone": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "nobody"},
            }
        }
    }
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "site.yml").write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))
    (tmp_path / "project" / "slow.yml").write_text(yaml.safe_dump(SLOW_PLAYBOOK, sort_keys=False))
    return tmp_path


def test_failed_unreachable_and_ok_hosts_are_reported(run_dir):
    events = []
    result = run_playbook(run_dir, "site.yml", on_event=events.append)

    assert result.status == "failed" and result.rc != 0
    assert result.failed_hosts == ["bad", "gone"]
    good, bad, gone = result.hosts["good"], result.hosts["bad"], result.hosts["gone"]
    assert good.succeeded and good.report == {"release": "abc123def456", "score_latency_ms": 4.5}
    assert good.failed_task is None, "a failure handled by rescue: is not a failure"
    assert (bad.failed, bad.failed_task) == (1, "Fail on bad")
    assert "disk full" in bad.message
    assert gone.unreachable and gone.failed_task == "Say hello" and "port 1" in gone.message

    assert isinstance(events[0], PlayStarted) and isinstance(events[-1], RunFinished)
    assert HostTaskStarted("good", "Say hello") in events
    assert any(isinstance(e, HostUnreachable) and e.host == "gone" for e in events)
    assert any(isinstance(e, HostTaskDone) and e.status == "failed" and e.host == "bad" for e in events)
    assert sum(isinstance(e, RecapReceived) for e in events) == 1
    retries = [(e.host, e.attempt, e.retries) for e in events if isinstance(e, HostTaskRetrying)]
    assert retries == [("good", 1, 3), ("good", 2, 3)]
    waited = next(e for e in events if isinstance(e, HostTaskDone) and e.task.startswith("Wait for"))
    assert waited.status == "ignored"

    raw = result.stdout_path.read_text()
    assert result.stdout_path.is_relative_to(run_dir / "artifacts")
    assert "disk full" in raw and "PLAY RECAP" in raw
    assert "\x1b[" not in raw, "terminal colour codes in a kept file"


def test_limit_runs_only_the_named_host(run_dir):
    result = run_playbook(run_dir, "site.yml", limit="good")
    assert result.status == "successful" and result.rc == 0 and result.succeeded
    assert list(result.hosts) == ["good"]
    # `echo hello` and the ignored `false` (commands report changed); the rescued `false` does not count
    assert result.hosts["good"].changed == 2


def test_cancel_stops_a_running_playbook(run_dir):
    cancel = threading.Event()

    def on_event(event):
        if isinstance(event, HostTaskStarted) and event.task == "Sleep":
            cancel.set()

    started = time.monotonic()
    result = run_playbook(run_dir, "slow.yml", on_event=on_event, cancel=cancel)
    assert result.status == "canceled"
    assert time.monotonic() - started < 30


def test_missing_playbook_is_a_config_error(run_dir):
    with pytest.raises(ConfigError, match=r"playbook .*project/nope.yml does not exist"):
        run_playbook(run_dir, "nope.yml")
    with pytest.raises(ConfigError, match="does not exist"):
        run_playbook(run_dir / "missing", "site.yml")


def test_a_withheld_variable_is_not_in_the_run_nor_in_its_recorded_command(run_dir, monkeypatch):
    from fleetdeploy.run.runner import _withheld, withhold_from_runs

    monkeypatch.setenv("FD_WITHHELD_SECRET", "hunter2-canary")
    monkeypatch.setattr("fleetdeploy.run.runner._withheld", set(_withheld))
    withhold_from_runs("FD_WITHHELD_SECRET")
    (run_dir / "project" / "env.yml").write_text(yaml.safe_dump([{
        "hosts": "good", "gather_facts": False,
        "tasks": [{"name": "Not inherited", "ansible.builtin.shell": 'test -z "${FD_WITHHELD_SECRET:-}"'}],
    }]))
    result = run_playbook(run_dir, "env.yml", limit="good")
    assert result.succeeded, result.stdout_path.read_text()
    recorded = (result.artifact_dir / "command").read_text()
    assert "hunter2-canary" not in recorded and "FD_WITHHELD_SECRET" not in recorded
    import os

    assert os.environ["FD_WITHHELD_SECRET"] == "hunter2-canary"  # given back after the run
