"""The one way a day-two operation runs a playbook against the nodes (status, drift and history ask with
inspect.yml; releases; rollback, remove and unlock change things): the project rendered into a fresh run
folder under `<data home>/ops/<service>/`, with the operation's values in its vars file, run by
ansible-runner; under the deploy lock when the playbook takes it (rollback.yml, remove.yml)."""

from __future__ import annotations

import contextlib
import getpass
import socket
import sys
import threading
from pathlib import Path

from fleetdeploy.paths import new_run_folder, prune_run_folders

OPS_RUNS_KEPT = 10
_noted: set[str] = set()  # `status --watch` renders a project every few seconds: each note is said once


def run_on_nodes(
    inventory_path: Path,
    playbook: str,
    variables: dict,
    *,
    service: str,
    action: str,
    limit: str | None,
    on_event=None,
    cancel: threading.Event | None = None,
    extravars: dict | None = None,
    lock: dict | None = None,
    lock_wait: float = 0,
    say=lambda line: None,
    host_variables: dict[str, dict] | None = None,
):
    """Render the project with `playbook` into a fresh ops run folder and run it; RunResult back.
    `extravars`: this run's own values (a rollback's target...), never the operation's settings, which
    are the vars file's. With a `lock` holder (a playbook that takes the deploy lock on every node or on
    none), this controller's file lock is held too, and a refused run raises LockHeld naming the holders.
    `host_variables`: per host, the values its inventory overrides change (render_project)."""
    from fleetdeploy.deploy.lock import check_lock, local_lock
    from fleetdeploy.render import render_project, site_config_file
    from fleetdeploy.run import run_playbook

    run_dir = new_run_folder("ops", service, action)
    # Roles that record history (fleet_history) name who did it, from where, in which run.
    variables = {
        **variables,
        "fleet_history_run_id": run_dir.name,
        "fleet_history_user": getpass.getuser(),
        "fleet_history_controller": socket.gethostname(),
    }
    rendered = render_project(
        run_dir, inventory_path=inventory_path, variables=variables, playbook=playbook, site_config=site_config_file(),
        host_variables=host_variables,
    )

    # On stderr: stdout is the command's own answer (status --json is read by programs).
    for note in rendered.config_notes:
        if note not in _noted:
            _noted.add(note)
            print(f"note: {note}", file=sys.stderr)
    extra = dict(extravars or {})
    if lock is not None:
        extra.update(fleet_lock_holder=lock, fleet_lock_wait=int(lock_wait))
    try:
        with local_lock(service, lock_wait) if lock is not None else contextlib.nullcontext():
            result = run_playbook(
                rendered.private_data_dir, rendered.playbook, limit=limit, on_event=_shown(on_event), cancel=cancel,
                extravars=extra or None,
            )
    finally:
        prune_run_folders(run_dir.parent, OPS_RUNS_KEPT)
    if lock is not None:
        check_lock(result, say)
    return result


def _shown(on_event):
    """With -v, Ansible's own output goes to stderr as it comes, unless the command shows progress (rollback,
    remove), which prints it itself as apply's does."""
    from fleetdeploy.run.events import AnsibleOutput
    from fleetdeploy.run.options import verbosity

    if on_event is not None or not verbosity():
        return on_event

    def show(event) -> None:
        if isinstance(event, AnsibleOutput):
            print(event.text, file=sys.stderr, flush=True)

    return show
