"""Preflight: can each node take the service, asked before anything is built or sent.

`fleetdeploy check` prints it as a table; `apply` runs it first and stops before building anything when
more nodes fail it than the spec's max_fail allows. One read-only run of playbooks/preflight.yml (role
fleet_preflight, one module call per node) gathers facts; the verdicts are the rules of the role's filter
plugin, which deploy.yml's first play applies too (a project run by ansible-playbook or AWX is checked
the same way), loaded here by `judge`; this module adds the table's cases Ansible itself reports (SSH,
sudo, Python missing)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fleetdeploy.inventory import Inventory
from fleetdeploy.spec.model import Spec

PLAYBOOK = "preflight.yml"
OK, WARN, FAIL = "ok", "warn", "fail"  # as the rules say them


@dataclass(frozen=True)
class Check:
    name: str  # ssh, sudo, python, os, disk, memory, port, docker, cpu, gpu, selinux, clock
    status: str  # ok, warn (reported, not blocking), fail
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Needs:
    """What the spec asks of a node, in the terms the facts are in."""

    service: str
    port: int
    runtime: str
    memory: int | None  # bytes, the container's or unit's limit
    gpus: bool
    data_bytes: int  # under the data root: the models, kept releases' worth, and a margin
    kept_releases: int

    @classmethod
    def from_spec(cls, spec: Spec) -> Needs:
        models = sum(
            path.stat().st_size
            for model in spec.models
            for path in ([model.path] if model.path.is_file() else model.path.rglob("*"))
            if path.is_file()
        )
        kept = spec.rollout.keep_releases
        return cls(
            service=spec.service,
            port=spec.port,
            runtime=spec.runtime,
            memory=spec.resources.memory,
            gpus=bool(spec.resources.gpus),
            data_bytes=models * kept + _rules().DATA_MARGIN,
            kept_releases=kept,
        )


@dataclass(frozen=True)
class NodePreflight:
    host: str
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == FAIL]


def run_preflight(inventory_path: Path, spec: Spec, inventory: Inventory) -> dict[str, NodePreflight]:
    """Ask every host of `inventory` (one read-only Ansible run) and judge each against its own effective
    spec (spec/overrides.py: a host's `fleetdeploy_port`, `fleetdeploy_resources`...)."""
    from fleetdeploy.deploy.variables import host_variables
    from fleetdeploy.ops.runs import run_on_nodes
    from fleetdeploy.spec.overrides import host_specs

    hosts = host_specs(spec, inventory)

    def variables_of(mine: Spec) -> dict:
        return {"fleet_preflight_service": mine.service, "fleet_preflight_port": mine.port}

    fleet = Needs.from_spec(spec)
    needs = {name: Needs.from_spec(host.spec) if host.overrides else fleet for name, host in hosts.items()}
    variables = variables_of(spec)
    started = time.time()
    result = run_on_nodes(
        inventory_path, PLAYBOOK, variables, service=spec.service, action="preflight", limit=",".join(hosts),
        host_variables=host_variables(variables, hosts, variables_of),
    )
    window = (started, time.time())
    return {name: NodePreflight(name, judge_host(result.hosts.get(name), needs[name], window)) for name in hosts}


def judge_host(host, needs: Needs, window: tuple[float, float]) -> list[Check]:
    """The checks of one host from its Ansible result (None: Ansible said nothing about it)."""
    if host is None:
        return [Check("ssh", FAIL, "Ansible gave no result for this host", "see the run folder's artifacts")]
    if host.unreachable:
        return [Check("ssh", FAIL, host.message or "unreachable", "check ansible_host/port/user and the SSH key")]
    facts = (host.report or {}).get("preflight")
    if host.failed or not facts:
        message = host.message or "the preflight module failed"
        lowered = message.lower()
        if "sudo" in lowered or "become" in lowered or "password" in lowered:
            return [Check("ssh", OK, "reached"), Check("sudo", FAIL, message, "passwordless sudo, or -K / --become-password-file")]
        if "python" in lowered or "interpreter" in lowered:
            return [Check("ssh", OK, "reached"), Check("python", FAIL, message, "install python3 (3.8 or newer) on the node")]
        return [Check("ssh", OK, "reached"), Check("preflight", FAIL, message)]
    return [Check("ssh", OK, "reached"), Check("sudo", OK, "works"), *judge(facts, needs, window)]


def judge(facts: dict, needs: Needs, window: tuple[float, float]) -> list[Check]:
    """Pure: the verdicts on one node's facts (fleet_preflight's report), by the rules deploy.yml's own
    preflight play applies (roles/fleet_preflight/filter_plugins)."""
    return [Check(**check) for check in _rules().judge(facts, asdict(needs), window)]


def _rules():
    from fleetdeploy.render.sources import role_plugin

    return role_plugin("fleet_preflight", "filter_plugins", "fleet_preflight")
