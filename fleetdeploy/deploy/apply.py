"""`apply`, as a runbook: validate everything, prepare the release, render the project, run it.

Every check that needs no node happens before any node is touched (spec, entry script, inventory,
image build), so a typo never leaves a fleet half-updated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fleetdeploy.code_selection import shipment_report
from fleetdeploy.deploy.lock import check_lock, local_lock, new_holder
from fleetdeploy.deploy.release import PreparedRelease, Say
from fleetdeploy.deploy.retry import node_outcomes, record_outcome
from fleetdeploy.deploy.rollout import RolloutReport, rollout_report, with_rollout_outcomes
from fleetdeploy.deploy.tls import tls_host_variables, with_tls
from fleetdeploy.deploy.transfer import say_transfers, tunnel_for_run
from fleetdeploy.deploy.variables import desired_digest, host_variables
from fleetdeploy.inventory import Inventory, load_inventory
from fleetdeploy.keys import ensure_keys
from fleetdeploy.model_checks import check_models
from fleetdeploy.paths import new_run_folder, prune_run_folders
from fleetdeploy.runtimes import prepare_release, role_variables
from fleetdeploy.spec import load_spec
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.overrides import HostSpec, host_specs

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
    hosts: dict[str, HostSpec]  # each host's effective spec: the spec with its inventory overrides
    host_variables: dict[str, dict]  # per host with overrides, the variables that differ for it

    def release_of(self, host: str) -> str:
        """The release `host` runs: the plan's, or its own when its overrides change its settings."""
        return self.prepared.for_host(self.hosts[host].spec).release


def _made_keys(names: list[str]) -> str:
    """"primary and secondary keys and metrics token", "metrics token", ..."""
    keys = [name for name in names if name != "metrics"]
    said = [f"{' and '.join(keys)} key{'s' if len(keys) > 1 else ''}"] if keys else []
    return " and ".join(said + (["metrics token"] if "metrics" in names else []))


def plan(
    inventory_path: Path,
    spec_path: Path,
    *,
    limit: str | None,
    say: Say,
    build_log: Say | None = None,
    run_dir: Path | None = None,
    every_file: bool = False,
    loaded: tuple[Spec, Inventory] | None = None,
) -> Plan:
    """Everything short of touching a node. `run_dir` defaults to a new folder under the data home;
    `render -o DIR` passes DIR, so the project and the files it ships stay together. `say` gets what
    the code ships (every file when `every_file`). `loaded`: the spec and the inventory (with `limit`)
    already read from those paths by this process (apply's preflight), not read again."""
    spec, inventory = loaded or (load_spec(spec_path), load_inventory(inventory_path, limit=limit))
    hosts = host_specs(spec, inventory)  # refused overrides: before building
    check_models(spec, say)  # a model that would run code, or load with another scikit-learn: before building
    if spec.keys_path is not None:
        _, made = ensure_keys(spec.keys_path, metrics=spec.endpoint.metrics_token)
        if made:
            say(f"keys: made the service's {_made_keys(made)} in {spec.keys_path} (mode 0600 unless vaulted; "
                "`fleetdeploy keys show` prints them; keep the file out of version control, or vault-encrypt it)")
    tls = tls_host_variables(spec, inventory, Path(inventory_path), say)  # a node without its files: before building
    if run_dir is None:
        run_dir = new_run_folder("runs", spec.service)
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
    per_host = host_variables(variables, hosts, lambda mine: role_variables(mine, prepared.for_host(mine)))
    per_host = with_tls(per_host, tls, variables, desired_digest)
    return Plan(spec, inventory, Path(inventory_path), limit, run_dir, prepared, variables, hosts, per_host)


def render(plan_: Plan, *, self_contained: bool = False) -> RenderedProject:
    """The project into the plan's run folder; `self_contained` for `fleetdeploy render` (render_project)."""
    from fleetdeploy.render import render_project, site_config_file

    return render_project(
        plan_.run_dir,
        inventory_path=plan_.inventory_path,
        variables=plan_.variables,
        host_variables=plan_.host_variables,
        playbook=PLAYBOOK,
        self_contained=self_contained,
        site_config=site_config_file(),
    )


@dataclass(frozen=True)
class Outcome:
    result: RunResult  # per node: the deploy's result, with the release each node serves (its /version)
    rollout: RolloutReport

    @property
    def succeeded(self) -> bool:
        return self.result.succeeded and not self.rollout.stopped


def execute(
    plan_: Plan,
    *,
    on_event: Callable | None = None,
    cancel: threading.Event | None = None,
    stop: threading.Event | None = None,
    lock_wait: float = 0,
    say: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """One run of deploy.yml, which is the whole rollout (docs/rollout.md): the lock, the spec's batches
    (the first a canary), the failure budget, the automatic rollback and the history. Here only what a
    controller adds: its own lock, `stop` (a first Ctrl-C) turned into the playbook's stop file so the
    rollout ends after the current batch, `cancel` to end it at once, and the lock given back on nodes a
    run cut short never reached the end on."""
    from fleetdeploy.deploy import session

    rendered = render(plan_)
    for note in rendered.config_notes:
        say(note)
    hosts = [host.name for host in plan_.inventory]
    holder = new_holder("apply", plan_.prepared.release)
    stop_file = plan_.run_dir / "stop"
    extravars = {
        # apply's own preflight ran before anything was built (or --skip-preflight said not to).
        "fleetdeploy_preflight": False,
        "fleet_lock_holder": holder,
        "fleet_lock_wait": int(lock_wait),
        "fleet_rollout_stop_file": str(stop_file),
    }
    with (
        local_lock(plan_.spec.service, lock_wait),
        _stop_file(stop or threading.Event(), stop_file),
        tunnel_for_run(plan_.spec, plan_.prepared, plan_.run_dir, say) as transfer,
    ):
        extravars.update(transfer)
        result = session.run(
            rendered.private_data_dir,
            rendered.playbook,
            hosts,
            extravars,
            on_event=on_event,
            cancel=cancel,
        )
        session.give_back_unrecorded(rendered.private_data_dir, result, holder)
    check_lock(result, say)
    say_transfers(result, say)
    report = rollout_report(hosts, result)
    merged = with_probes(with_rollout_outcomes(result), plan_)
    # What `apply --retry-failed` reads back (deploy/retry.py).
    record_outcome(
        plan_.run_dir, plan_.spec.service, plan_.prepared.release, node_outcomes(hosts, merged, report)
    )
    prune_run_folders(plan_.run_dir.parent, RUNS_KEPT)
    return Outcome(merged, report)


@contextmanager
def _stop_file(stop: threading.Event, path: Path) -> Iterator[None]:
    """While the run goes on, `stop` being set creates `path`: deploy.yml stops before its next batch."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(0.2):
                path.touch()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def served_releases(inventory: Inventory, spec: Spec, only: set[str] | None = None) -> dict[str, str | None]:
    """The release each node (of `only`, if given) serves now, asked over its /version."""
    from fleetdeploy.health import probe_fleet
    from fleetdeploy.ops.target import target_of

    target = target_of(spec)
    urls = target.urls(host for host in inventory if only is None or host.name in only)
    probes = probe_fleet(urls, timeout=spec.health.request_timeout, key=target.key(), context=target.context())
    return {name: probe.release for name, probe in probes.items()}


def with_probes(result: RunResult, plan_: Plan) -> RunResult:
    """Each deployed node asked directly from here which release it really serves (/version), rather
    than trusting the role's word for it. The /score latency stays the one fleet_verify measured."""
    deployed = {name for name, host in result.hosts.items() if host.succeeded}
    hosts = dict(result.hosts)
    for name, release in served_releases(plan_.inventory, plan_.spec, only=deployed).items():
        hosts[name] = replace(hosts[name], report={**hosts[name].report, "release": release})
    return replace(result, hosts=hosts)
