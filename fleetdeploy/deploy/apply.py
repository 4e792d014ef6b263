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

from fleetdeploy.deploy.prepare import PreparedRelease, Say, prepare_release
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
) -> Plan:
    """Everything short of touching a node. `run_dir` defaults to a new folder under the data home;
    `render -o DIR` passes DIR, so the project and the files it ships stay together."""
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

        prepared = prepare_release(spec, run_dir, say=say, build_log=keep)
    variables = role_variables(spec, prepared)
    return Plan(spec, inventory, Path(inventory_path), limit, run_dir, prepared, variables)


def render(plan_: Plan, out_dir: Path | None = None) -> RenderedProject:
    from fleetdeploy.render import render_project

    target = out_dir or plan_.run_dir
    return render_project(
        target, inventory_path=plan_.inventory_path, variables=plan_.variables, playbook=PLAYBOOK
    )


def execute(
    plan_: Plan,
    *,
    on_event: Callable | None = None,
    verbosity: int = 0,
    cancel: threading.Event | None = None,
) -> RunResult:
    from fleetdeploy.run import run_playbook

    rendered = render(plan_)
    result = run_playbook(
        rendered.private_data_dir,
        rendered.playbook,
        limit=plan_.limit,
        verbosity=verbosity,
        on_event=on_event,
        cancel=cancel,
    )
    prune_runs(plan_.run_dir.parent)
    return with_probes(result, plan_)


def with_probes(result: RunResult, plan_: Plan) -> RunResult:
    """Each deployed node asked directly from here which release it really serves (/version), rather
    than trusting the role's word for it. The /score latency stays the one fleet_verify measured."""
    from fleetdeploy.health import probe_fleet

    deployed = {name for name, host in result.hosts.items() if host.succeeded}
    urls = {
        host.name: scoring_url(host, plan_.spec.port) for host in plan_.inventory if host.name in deployed
    }
    probes = probe_fleet(urls, timeout=plan_.spec.health.request_timeout)
    hosts = dict(result.hosts)
    for name, probe in probes.items():
        hosts[name] = replace(hosts[name], report={**hosts[name].report, "release": probe.release})
    return replace(result, hosts=hosts)


def new_run_dir(service: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = data_home() / "runs" / service / stamp
    path.mkdir(parents=True)
    return path


def prune_runs(service_runs: Path, keep: int = RUNS_KEPT) -> None:
    """Old run folders hold staged artifacts; keep the newest few for inspection."""
    runs = sorted(p for p in service_runs.iterdir() if p.is_dir())
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
