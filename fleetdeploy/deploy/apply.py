"""`apply`, as a runbook: validate everything, prepare the release, render the project, run it.

Every check that needs no node happens before any node is touched (spec, entry script, inventory,
image build), so a typo never leaves a fleet half-updated.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fleetdeploy.code_selection import shipment_report
from fleetdeploy.deploy.lock import new_holder
from fleetdeploy.deploy.prepare import PreparedRelease, Say, prepare_release
from fleetdeploy.deploy.retry import node_outcomes, record_outcome
from fleetdeploy.deploy.rollout import RolloutReport, run_rollout
from fleetdeploy.deploy.variables import role_variables
from fleetdeploy.inventory import Inventory, load_inventory, scoring_url
from fleetdeploy.paths import data_home
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.model import Spec

if TYPE_CHECKING:
    from fleetdeploy.render import RenderedProject
    from fleetdeploy.run import RunResult

PLAYBOOK = "deploy.yml"
RUNS_KEPT = 20


@dataclass(frozen=True)
class Plan:
    """What apply will do, known before any node is touched."""

    spec: Spec
    inventory: Inventory
    inventory_path: Path
    limit: str | None
    run_dir: Path
    prepared: PreparedRelease
    variables: dict


def plan(
    inventory_path: Path,
    spec_path: Path,
    *,
    limit: str | None,
    say: Say,
    build_log: Say | None = None,
    run_dir: Path | None = None,
    every_file: bool = False,
) -> Plan:
    """Everything short of touching a node. `run_dir` defaults to a new folder under the data home;
    `render -o DIR` passes DIR, so the project and the files it ships stay together. `say` gets what
    the code ships (every file when `every_file`)."""
    spec = load_spec(spec_path)
    inventory = load_inventory(inventory_path, limit=limit)
    if run_dir is None:
        run_dir = new_run_dir(spec.service)
    else:
        run_dir = Path(run_dir).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
    say(f"preparing release of {spec.service} for {len(inventory.hosts)} node(s)")
    with open(run_dir / "build.log", "a") as log:
        # Docker's build output is kept with the run; the caller may also show it (-v).
        def keep(line: str) -> None:
            log.write(line.rstrip("\n") + "\n")
            if build_log:
                build_log(line)

        prepared = prepare_release(
            spec, run_dir, say=say, build_log=keep, leave_out=(Path(inventory_path),)
        )
    for line in shipment_report(spec.entry_script.source_dir, prepared.staged.code_files, every_file=every_file):
        say(line)
    variables = role_variables(spec, prepared)
    return Plan(spec, inventory, Path(inventory_path), limit, run_dir, prepared, variables)


def render(plan_: Plan, *, self_contained: bool = False) -> RenderedProject:
    """The project into the plan's run folder; `self_contained` for `fleetdeploy render` (render_project)."""
    from fleetdeploy.render import render_project

    return render_project(
        plan_.run_dir,
        inventory_path=plan_.inventory_path,
        variables=plan_.variables,
        playbook=PLAYBOOK,
        self_contained=self_contained,
    )


@dataclass(frozen=True)
class Outcome:
    result: RunResult  # per node: the deploy's result, with the release each node serves (its /version)
    rollout: RolloutReport
    rollback: RunResult | None  # the automatic rollback's run, when one happened

    @property
    def succeeded(self) -> bool:
        return self.result.succeeded and not self.rollout.stopped


def execute(
    plan_: Plan,
    *,
    on_event: Callable | None = None,
    verbosity: int = 0,
    cancel: threading.Event | None = None,
    stop: threading.Event | None = None,
    lock_wait: float = 0,
    say: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """The rollout: lock, then the spec's batches in order (the first a canary), stopping and rolling
    back when more nodes fail than `rollout.max_fail` allows. `stop` ends it after the current batch,
    `cancel` at once; either way every node keeps serving a complete release."""
    from fleetdeploy.deploy import session

    rendered = render(plan_)
    cancel = cancel or threading.Event()
    stop = stop or threading.Event()
    hosts = [host.name for host in plan_.inventory]
    holder = new_holder("apply", plan_.prepared.release)
    rollout_spec = plan_.spec.rollout
    batches = [[hosts[i] for i in batch] for batch in rollout_spec.batches(len(hosts))]
    runs: list[RunResult] = []
    rollbacks: list[RunResult] = []
    with session.locked(
        rendered.private_data_dir, plan_.spec.service, hosts, holder, wait=lock_wait, say=say
    ) as history:
        before = served_releases(plan_.inventory, plan_.spec)
        extravars = {"fleetdeploy_run_id": holder["run_id"]}

        def deploy(batch: list[str]) -> list[str]:
            if cancel.is_set():
                return batch
            say(f"batch: {', '.join(batch)}")
            result = session.run(
                rendered.private_data_dir,
                rendered.playbook,
                batch,
                extravars,
                verbosity=verbosity,
                on_event=on_event,
                cancel=cancel,
            )
            runs.append(result)
            return [h for h in batch if h not in result.hosts or not result.hosts[h].succeeded]

        def rollback(batch: list[str]) -> None:
            targets = {h: before[h] for h in batch if before.get(h) and before[h] != plan_.prepared.release}
            if cancel.is_set() or not targets:
                return
            say(f"rolling back {', '.join(sorted(targets))}")
            rollbacks.append(
                session.run(
                    rendered.private_data_dir,
                    "playbooks/rollback.yml",
                    sorted(targets),
                    {**extravars, "fleetdeploy_rollback_targets": targets},
                    on_event=on_event,
                )
            )

        report = run_rollout(
            batches,
            allowed_failures=rollout_spec.allowed_failures(len(hosts)),
            deploy=deploy,
            rollback=rollback,
            rollback_mode=rollout_spec.rollback,
            pause=lambda: stop.wait(rollout_spec.pause),
            stop_requested=stop.is_set,
        )
        merged = with_probes(merge_results(runs), plan_)
        rolled = merge_results(rollbacks) if rollbacks else None
        history.update(session.history_entries("apply", merged, before))
        if rolled:
            history.update(
                session.history_entries("rollback", rolled, {h: plan_.prepared.release for h in rolled.hosts})
            )
    # What `apply --retry-failed` reads back (deploy/retry.py).
    record_outcome(
        plan_.run_dir, plan_.spec.service, plan_.prepared.release, node_outcomes(hosts, merged, report)
    )
    prune_runs(plan_.run_dir.parent)
    return Outcome(merged, report, rolled)


def served_releases(inventory: Inventory, spec: Spec, only: set[str] | None = None) -> dict[str, str | None]:
    """The release each node (of `only`, if given) serves now, asked over its /version."""
    from fleetdeploy.health import probe_fleet

    urls = {
        host.name: scoring_url(host, spec.port) for host in inventory if only is None or host.name in only
    }
    probes = probe_fleet(urls, timeout=spec.health.request_timeout)
    return {name: probe.release for name, probe in probes.items()}


def merge_results(runs: list[RunResult]) -> RunResult:
    """One result for several runs over disjoint hosts (the batches)."""
    from fleetdeploy.run import RunResult

    if not runs:
        return RunResult("canceled", None, {}, None)
    hosts = {}
    for run in runs:
        hosts.update(run.hosts)
    worst = next((run for run in runs if run.status != "successful"), runs[-1])
    return replace(worst, hosts=hosts)


def with_probes(result: RunResult, plan_: Plan) -> RunResult:
    """Each deployed node asked directly from here which release it really serves (/version), rather
    than trusting the role's word for it. The /score latency stays the one fleet_verify measured."""
    deployed = {name for name, host in result.hosts.items() if host.succeeded}
    hosts = dict(result.hosts)
    for name, release in served_releases(plan_.inventory, plan_.spec, only=deployed).items():
        hosts[name] = replace(hosts[name], report={**hosts[name].report, "release": release})
    return replace(result, hosts=hosts)


def new_run_dir(service: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    runs = data_home() / "runs"
    path = runs / service / stamp
    path.mkdir(parents=True)
    # A run folder holds the inventory copy and Ansible's output: the user's only, from `runs/` down.
    for folder in (runs, runs / service, path):
        folder.chmod(0o700)
    return path


def prune_runs(service_runs: Path, keep: int = RUNS_KEPT) -> None:
    """Old run folders hold staged artifacts; keep the newest few for inspection."""
    runs = sorted(p for p in service_runs.iterdir() if p.is_dir())
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
