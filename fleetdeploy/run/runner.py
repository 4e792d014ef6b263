"""Running a playbook with ansible-runner: the one module of fleetdeploy that imports it.

ansible-runner keeps everything of a run in `<private_data_dir>/artifacts/<ident>/` (raw stdout,
job_events, rc, status); we return our own RunResult and stream our own typed events."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from fleetdeploy.errors import ConfigError, EnvironmentProblem
from fleetdeploy.run.events import RunEvent, RunFinished, translate
from fleetdeploy.run.options import ansible_verbosity, extra_vars
from fleetdeploy.run.results import ResultCollector, RunResult

EventCallback = Callable[[RunEvent], None]

# Variables of this process's environment the Ansible runs must not inherit: ansible-runner writes the
# whole environment of a run into artifacts/<ident>/command, and a run folder is kept.
_withheld: set[str] = set()


def withhold_from_runs(name: str) -> None:
    """Keep environment variable `name` out of every later run (an entry script's secret was read from it)."""
    _withheld.add(name)


@contextmanager
def _environment_without(names: set[str]):
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def run_playbook(
    private_data_dir: Path,
    playbook: str,
    *,
    limit: str | None = None,
    verbosity: int | None = None,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    extravars: dict | None = None,
    ident: str | None = None,
) -> RunResult:
    """Run `project/<playbook>` of an ansible-runner private_data_dir and wait for it.

    `on_event` gets each typed event as it happens (from this thread); setting `cancel` stops the
    run (status "canceled"). Ansible's own output is not printed: it is in `result.stdout_path`, and in
    AnsibleOutput events. `verbosity`: ansible-playbook's -v count (default: from the command line's -v).
    """
    import ansible_runner  # heavy; and the scoring server must never need it

    private_data_dir = Path(private_data_dir).resolve()
    _check_project(private_data_dir, playbook)
    collector = ResultCollector()
    notify = on_event or (lambda event: None)

    def handle(raw: dict) -> bool:
        for event in translate(raw):
            collector.apply(event)
            notify(event)
        return True  # keep every event in the artifacts too

    with _environment_without(_withheld):
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            playbook=playbook,
            limit=limit,
            verbosity=(ansible_verbosity() if verbosity is None else verbosity) or None,
            # -e from the command line first: a run's own values (the lock holder...) must win.
            extravars={**extra_vars(), **(extravars or {})} or None,
            ident=ident,
            # No colour codes: the raw output is kept as a file (and shown by apply -v).
            envvars={"PATH": _path_with_ansible(), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
            suppress_env_files=True,  # the run folder's env/ belongs to render; never rewrite it
            event_handler=handle,
            cancel_callback=cancel.is_set if cancel is not None else None,
            quiet=True,
        )
    artifact_dir = Path(runner.config.artifact_dir)
    stdout = artifact_dir / "stdout"
    notify(RunFinished(runner.status, runner.rc))
    return RunResult(
        status=runner.status,
        rc=runner.rc,
        hosts=dict(sorted(collector.hosts.items())),
        stdout_path=stdout if stdout.exists() else None,
        artifact_dir=artifact_dir,
    )


def _check_project(private_data_dir: Path, playbook: str) -> None:
    if not private_data_dir.is_dir():
        raise ConfigError(f"run folder {private_data_dir} does not exist (render the project first)")
    path = Path(playbook) if Path(playbook).is_absolute() else private_data_dir / "project" / playbook
    if not path.is_file():
        raise ConfigError(f"playbook {path} does not exist in run folder {private_data_dir}")


def _path_with_ansible() -> str:
    # ansible-runner starts `ansible-playbook` from PATH; when fleetdeploy runs as
    # .venv/bin/fleetdeploy without an activated venv, the one beside this Python is not on it.
    path = os.environ.get("PATH", os.defpath)
    beside = Path(sys.executable).parent
    if (beside / "ansible-playbook").is_file():
        return f"{beside}{os.pathsep}{path}"
    if not shutil.which("ansible-playbook"):
        raise EnvironmentProblem("ansible-playbook is not installed; install fleetdeploy's requirements")
    return path
