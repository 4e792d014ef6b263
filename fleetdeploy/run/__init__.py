"""Running Ansible: the only package that imports ansible_runner. Callers get typed events while a
run goes on and a RunResult at the end; see fleetdeploy.run.events for how roles report data."""

from fleetdeploy.run.events import (
    REPORT_FACT,
    AnsibleOutput,
    HostCounts,
    HostTaskDone,
    HostTaskRetrying,
    HostTaskStarted,
    HostUnreachable,
    PlayStarted,
    RecapReceived,
    RunEvent,
    RunFinished,
)
from fleetdeploy.run.results import HostResult, ResultCollector, RunResult
from fleetdeploy.run.runner import run_playbook

__all__ = [
    "REPORT_FACT",
    "AnsibleOutput",
    "HostCounts",
    "HostResult",
    "HostTaskDone",
    "HostTaskRetrying",
    "HostTaskStarted",
    "HostUnreachable",
    "PlayStarted",
    "RecapReceived",
    "ResultCollector",
    "RunEvent",
    "RunFinished",
    "RunResult",
    "run_playbook",
]
