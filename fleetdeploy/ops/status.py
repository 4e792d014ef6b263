"""`status`: every node's health in one pass, fast.

The HTTP part (live, ready, /version, a /score smoke test) goes straight from here to every node in
parallel (fleetdeploy.health.probe, no playbook). The nodes themselves are asked (fleet_inspect over
Ansible, one module call each) only where HTTP alone cannot tell: nodes that failed their probe (to
say why: unreachable, never deployed, container stopped...) — or every node with `--facts` or
`--drift`. Measured in docs/operations.md.

`assess` is the pure judgement: probe + facts -> one of four states and the reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from fleetdeploy.health.probe import NodeProbe, probe_fleet
from fleetdeploy.inventory import load_inventory
from fleetdeploy.ops.drift import Desired, Difference, node_drift, spec_drift
from fleetdeploy.ops.inspect import NodeFacts, inspect_nodes
from fleetdeploy.ops.target import Target, node_root
from fleetdeploy.spec.overrides import overrides_of

HEALTHY, UNHEALTHY, UNREACHABLE, NOT_DEPLOYED = "healthy", "unhealthy", "unreachable", "not deployed"
STATES = (HEALTHY, UNHEALTHY, UNREACHABLE, NOT_DEPLOYED)
JSON_SCHEMA = 1


@dataclass(frozen=True)
class NodeStatus:
    node: str
    state: str  # one of STATES
    reasons: tuple[str, ...] = ()
    reachable: bool | None = None  # its scoring port or SSH answered
    url: str | None = None
    live: bool | None = None
    ready: bool | None = None
    release: str | None = None  # what the node serves (/version), else its active release
    score_status: int | None = None
    score_latency_ms: float | None = None
    runtime: str | None = None
    slot: str | None = None
    instance: str | None = None
    instance_state: str | None = None
    restarts: int | None = None
    auth: bool | None = None  # whether the node's front asks for a key (None: its port did not answer)
    tls_days_left: int | None = None  # days until the certificate the node serves expires (https only)
    tls_fingerprint: str | None = None  # that certificate's sha256 (hex): which one the node serves
    drift: tuple[Difference, ...] | None = None  # None: not checked
    overrides: dict = field(default_factory=dict)  # the host's fleetdeploy_ settings (spec/overrides.py)

    @property
    def healthy(self) -> bool:
        return self.state == HEALTHY and not self.drift

    def as_json(self) -> dict:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        data["drift"] = None if self.drift is None else [asdict(d) for d in self.drift]
        return data


@dataclass(frozen=True)
class FleetStatus:
    service: str
    nodes: tuple[NodeStatus, ...]
    facts_gathered_for: tuple[str, ...] = ()
    drift_checked: bool = False
    inspect_error: str | None = field(default=None, compare=False)

    @property
    def healthy(self) -> bool:
        return all(node.healthy for node in self.nodes)

    @property
    def exit_code(self) -> int:
        return 0 if self.healthy else 1

    def summary(self) -> dict:
        counts = {state.replace(" ", "_"): sum(n.state == state for n in self.nodes) for state in STATES}
        drifted = sum(bool(n.drift) for n in self.nodes) if self.drift_checked else None
        return {"nodes": len(self.nodes), **counts, "drifted": drifted, "healthy_fleet": self.healthy}

    def as_json(self) -> dict:
        """The stable `status --json` document (docs/operations.md)."""
        return {
            "schema": JSON_SCHEMA,
            "service": self.service,
            "nodes": [node.as_json() for node in self.nodes],
            "summary": self.summary(),
        }


def assess(name: str, service: str, probe: NodeProbe | None, facts: NodeFacts | None) -> NodeStatus:
    """One node's state from what HTTP and (when asked) the node said. Pure."""
    base = _base(name, probe, facts)
    if facts is not None and not facts.reachable:
        http = "; its scoring port answers" if probe and probe.error is None else ""
        return NodeStatus(**base, state=UNREACHABLE, reasons=(f"SSH: {facts.error}{http}",))
    if facts is not None and facts.reachable and not facts.deployed:
        reasons = [f"service {service} was never deployed here, or was removed"]
        if probe and probe.error is None:
            reasons.append(f"yet something answers at {probe.url}")
        if facts.error:
            reasons.append(f"inspect failed: {facts.error}")
        return NodeStatus(**base, state=NOT_DEPLOYED, reasons=tuple(reasons))
    # What the node says first: "container stopped" explains "no answer on the port" after it.
    reasons = (_node_reasons(probe, facts) if facts else []) + _http_reasons(service, probe)
    if probe is not None and probe.error is not None and facts is None:
        return NodeStatus(**base, state=UNREACHABLE, reasons=tuple(reasons))
    return NodeStatus(**base, state=UNHEALTHY if reasons else HEALTHY, reasons=tuple(reasons))


def _base(name: str, probe: NodeProbe | None, facts: NodeFacts | None) -> dict:
    active = facts.active if facts else {}
    instance = facts.instance if facts else {}
    served = probe.release if probe else None
    http_answered = probe is not None and probe.error is None
    return {
        "node": name,
        "reachable": http_answered or bool(facts and facts.reachable),
        "url": probe.url if probe else None,
        "live": probe.live if probe and probe.error is None else (False if probe else None),
        "ready": probe.ready if probe and probe.error is None else (False if probe else None),
        "release": served or active.get("release"),
        "score_status": probe.score_status if probe else None,
        "score_latency_ms": probe.score_latency_ms if probe else None,
        "runtime": active.get("runtime"),
        "slot": active.get("slot"),
        "instance": instance.get("name") or active.get("instance"),
        "instance_state": _instance_state(instance) if instance else None,
        "restarts": instance.get("restarts") if instance.get("exists") else None,
        "auth": probe.auth if http_answered else None,
        "tls_days_left": probe.tls_days_left if http_answered else None,
        "tls_fingerprint": probe.tls_fingerprint if http_answered else None,
    }


def _http_reasons(service: str, probe: NodeProbe | None) -> list[str]:
    if probe is None:
        return []
    if probe.error is not None:
        return [f"no answer at {probe.url}: {probe.error}"]
    reasons = []
    if not probe.live:
        reasons.append(f"not live: GET {probe.url}/ did not answer 200")
    if not probe.ready:
        reasons.append(f"not ready: GET {probe.url}/ready did not answer 200")
    if probe.auth and probe.version is None:
        reasons.append(
            "the node asks for a key (endpoint.auth: key) and the one sent was refused or none was: give -f "
            "with the service's spec, whose endpoint.keys_file holds its keys"
        )
    served = (probe.version or {}).get("service")
    if probe.version is not None and served != service:
        reasons.append(f"port serves service {served!r}, not {service!r}")
    if probe.score_status is not None and probe.score_status != 200:
        answer = (probe.score_answer or "").strip().splitlines()[:1]
        reasons.append(
            f"POST /score answered {probe.score_status}" + (f": {answer[0][:200]}" if answer else "")
        )
    return reasons


def _node_reasons(probe: NodeProbe | None, facts: NodeFacts) -> list[str]:
    """What the node says about its serving instance and front."""
    reasons = []
    instance, active = facts.instance, facts.active
    name = instance.get("name") or active.get("instance")
    if instance and not instance.get("exists"):
        reasons.append(
            f"{_kind(instance)} {name} is missing"
            + (f" ({instance['error']})" if instance.get("error") else "")
        )
    elif instance and not instance.get("running"):
        reasons.append(f"{_kind(instance)} {name} is {_instance_state(instance)}{_stopped_detail(instance)}")
    elif instance.get("health") == "unhealthy":
        reasons.append(f"container {name} fails its health check (GET /ready inside the container)")
    if instance.get("restarting") or ((instance.get("restarts") or 0) > 0 and not instance.get("running")):
        reasons.append(f"{name} restarted {instance.get('restarts')} time(s)")
    front = facts.report.get("front")
    if front and not front.get("running"):
        reasons.append(
            f"front {front.get('name')} is {front.get('state') or 'missing'}: nothing holds the node port"
        )
    served = probe.release if probe else None
    if served and active.get("release") and served != active["release"]:
        reasons.append(f"serves release {served}, but state/active.json says {active['release']}")
    reasons += list(facts.report.get("errors") or [])
    if facts.error:
        reasons.append(f"inspect failed: {facts.error}")
    return reasons


def _kind(instance: dict) -> str:
    return {"container": "container", "unit": "unit"}.get(instance.get("kind"), "instance")


def _instance_state(instance: dict) -> str:
    if not instance.get("exists"):
        return "missing"
    state = instance.get("state") or "unknown"
    if instance.get("health") and instance.get("running"):
        return f"{state} ({instance['health']})"
    return state


def _stopped_detail(instance: dict) -> str:
    parts = []
    if instance.get("exit_code") not in (None, 0) or instance.get("kind") == "container":
        parts.append(f"exit code {instance.get('exit_code')}")
    if instance.get("oom_killed"):
        parts.append("killed for lack of memory")
    if instance.get("finished_at") and not str(instance["finished_at"]).startswith("0001"):
        parts.append(f"since {instance['finished_at'][:19]}Z")
    if instance.get("kind") == "container" and instance.get("exit_code") in (0, 143):
        parts.append("stopped on purpose (docker stop or by hand)? `fleetdeploy apply` starts it again")
    return f" ({', '.join(parts)})" if parts else ""


def fleet_status(
    inventory_path: Path,
    target: Target,
    *,
    limit: str | None = None,
    all_facts: bool = False,
    drift: bool = False,
    desired: Desired | None = None,
    probe: Callable[..., dict[str, NodeProbe]] = probe_fleet,
) -> FleetStatus:
    """Probe every node; ask the nodes that need it (or all, with all_facts/drift); judge each."""
    inventory = load_inventory(inventory_path, limit=limit)
    urls = target.urls(inventory)
    probes = probe(urls, target.sample_body, timeout=target.request_timeout, key=target.key(), context=target.context())
    needs_facts = [
        name
        for name in inventory.names
        if all_facts or drift or probes[name].error or not _http_ok(probes[name])
    ]
    facts = (
        inspect_nodes(inventory_path, inventory, target, needs_facts, hash_files=drift) if needs_facts else {}
    )
    nodes = []
    for name in inventory.names:
        status = assess(name, target.service, probes[name], facts.get(name))
        if drift and name in facts and facts[name].reachable and facts[name].deployed:
            found = node_drift(facts[name].report, node_root(inventory.get(name)))
            if desired is not None:
                found += spec_drift(facts[name].manifest, desired.for_host(name))
            status = replace(status, drift=tuple(found))
        nodes.append(replace(status, overrides=overrides_of(inventory.get(name).vars)))
    return FleetStatus(target.service, tuple(nodes), tuple(needs_facts), drift)


def _http_ok(probe: NodeProbe) -> bool:
    return probe.live and probe.ready and probe.score_status in (None, 200)
