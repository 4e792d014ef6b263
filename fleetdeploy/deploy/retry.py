"""`apply --retry-failed`: what the last apply of a service left undone, read back from its run folder.

Each apply writes `outcome.json` in its run folder (runs/<service>/<stamp>/): every targeted node and how
it ended. The newest run of the service that got that far names the nodes to try again: those that
failed, could not be reached, were rolled back, or were never started because the rollout stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from fleetdeploy.errors import ConfigError
from fleetdeploy.paths import data_home

OUTCOME_FILE = "outcome.json"
DONE = "ok"


def node_outcomes(hosts: list[str], result, rollout) -> dict[str, str]:
    """How each targeted node ended: ok, failed, unreachable, rolled back (or rollback failed) or not
    started."""
    outcomes = {}
    for name in hosts:
        host = result.hosts.get(name)
        if name in rollout.rollbacks:
            outcomes[name] = "rolled back" if rollout.rollbacks[name].ok else "rollback failed"
        elif host is None or name in rollout.not_started:
            outcomes[name] = "not started"  # a stopped rollout or a canceled run never got to it
        elif host.unreachable:
            outcomes[name] = "unreachable"
        else:
            outcomes[name] = DONE if host.succeeded else "failed"
    return outcomes


def record_outcome(run_dir: Path, service: str, release: str, outcomes: dict[str, str]) -> None:
    record = {"service": service, "release": release, "nodes": outcomes}
    (run_dir / OUTCOME_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def hosts_to_retry(service: str, runs_root: Path | None = None) -> tuple[list[str], Path]:
    """The nodes the newest recorded apply of `service` left undone, and that run's folder."""
    service_runs = (runs_root or data_home() / "runs") / service
    recorded = sorted(service_runs.glob(f"*/{OUTCOME_FILE}")) if service_runs.is_dir() else []
    if not recorded:
        raise ConfigError(
            f"--retry-failed: no earlier apply of {service} is recorded on this controller (under "
            f"{service_runs}); run `fleetdeploy apply` without it"
        )
    newest = recorded[-1]
    try:
        nodes = json.loads(newest.read_text())["nodes"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"--retry-failed: cannot read {newest}: {exc}") from None
    return sorted(name for name, outcome in nodes.items() if outcome != DONE), newest.parent
