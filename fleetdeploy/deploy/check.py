"""`apply --check` (and `--diff`): what an apply would do on each node, found by asking the nodes and
changing nothing on them.

The release is prepared as apply prepares it (the image is built or taken from the cache: its id is part
of the release id), then one read-only run of inspect.yml asks every node what serves and what it keeps
(fleet_inspect with `stored`). The judgement is made here, by the same rules the roles follow: a code
folder or model version the node has complete is not sent again (its marker, or a kept release holding
the same files), an image already loaded is not sent, a node serving the release has nothing to do."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fleetdeploy.deploy.apply import Plan
from fleetdeploy.deploy.transfer import offers_tunnel
from fleetdeploy.ops.desired import desired_from_manifest
from fleetdeploy.ops.drift import Desired, Difference, spec_drift
from fleetdeploy.ops.inspect import NodeFacts, inspect_nodes
from fleetdeploy.ops.target import Target

MIB = 1024 * 1024


@dataclass(frozen=True)
class Wanted:
    """The parts of the prepared release a node needs, in the terms fleet_inspect reports."""

    release: str
    code_hash: str
    code_files: int
    models: dict[str, dict[str, str]]  # "<name>/<version>" -> {relative path: sha256}
    image_id: str | None = None  # docker runtime
    image_tag: str | None = None
    image_bytes: int | None = None  # the tarball apply would send; None when nodes pull from a registry
    tunnel: bool = False  # nodes pull the layers they lack through apply's SSH tunnel (docs/image.md)
    env_hash: str | None = None  # venv / conda runtimes


@dataclass(frozen=True)
class NodeCheck:
    host: str
    reachable: bool
    error: str | None
    serving: str | None  # the release the node serves now, None when none
    actions: list[str] = field(default_factory=list)  # what apply would do, in order
    differences: list[Difference] = field(default_factory=list)  # --diff: deployed release vs the new one


def wanted_from_plan(plan_: Plan, manifest: dict, desired: Desired) -> Wanted:
    """`manifest`: the plan's staged manifest, `desired` made from it."""
    prepared = plan_.prepared
    runs_from = prepared.runs_from
    image = getattr(runs_from, "image", None)
    archive = getattr(runs_from, "archive", None)
    return Wanted(
        release=prepared.release,
        code_hash=manifest["code_hash"],
        code_files=len(manifest["code_files"]),
        models=desired.models,
        image_id=image.image_id if image is not None else None,
        image_tag=image.tag if image is not None else None,
        image_bytes=archive.size if archive is not None else None,
        tunnel=offers_tunnel(plan_.spec, prepared),
        env_hash=getattr(runs_from, "env_hash", None),
    )


def check_fleet(plan_: Plan) -> dict[str, NodeCheck]:
    """Ask every node of the plan (read-only) and judge what apply would do there."""
    manifest = plan_.prepared.staged.manifest()
    desired = desired_from_manifest(manifest, plan_.prepared.settings)
    wanted = wanted_from_plan(plan_, manifest, desired)
    target = Target(service=plan_.spec.service, port=plan_.spec.port)
    hosts = [host.name for host in plan_.inventory]
    facts = inspect_nodes(
        plan_.inventory_path, plan_.inventory, target, hosts, stored=True, image_id=wanted.image_id or ""
    )
    return {name: judge(name, facts[name], *_for_host(plan_, name, wanted, manifest)) for name in hosts}


def _for_host(plan_: Plan, host: str, wanted: Wanted, manifest: dict) -> tuple[Wanted, Desired]:
    """What `host` wants: its own release and settings when its inventory overrides some."""
    prepared = plan_.prepared.for_host(plan_.hosts[host].spec)
    return replace(wanted, release=prepared.release), desired_from_manifest(manifest, prepared.settings)


def judge(host: str, facts: NodeFacts, wanted: Wanted, desired: Desired) -> NodeCheck:
    """Pure: what apply would do on one node, from what the node said."""
    if not facts.reachable or facts.error:
        return NodeCheck(host, facts.reachable, facts.error or "unreachable", None)
    serving = facts.active.get("release") if facts.deployed else None
    differences = spec_drift(facts.manifest, desired) if serving else []
    if serving == wanted.release:
        return NodeCheck(host, True, None, serving, [], differences)
    stored = facts.report.get("stored") or {}
    kept = stored.get("releases") or {}
    markers = set(stored.get("markers") or [])
    actions = []
    if wanted.image_id:
        if stored.get("image_present"):
            actions.append(f"image {wanted.image_tag}: on the node, not sent")
        elif wanted.tunnel:
            actions.append(f"image {wanted.image_tag}: the layers the node lacks pulled through the SSH tunnel "
                           f"(at most {wanted.image_bytes / MIB:.0f} MiB; the tarball where the tunnel is refused)")
        elif wanted.image_bytes is not None:
            actions.append(f"image {wanted.image_tag}: sent ({wanted.image_bytes / MIB:.0f} MiB) and loaded")
        else:
            actions.append(f"image {wanted.image_tag}: pulled from the registry")
    if wanted.env_hash:
        if any(parts.get("env_hash") == wanted.env_hash for parts in kept.values()):
            actions.append(f"environment {wanted.env_hash[:12]}: on the node, not built")
        else:
            actions.append(f"environment {wanted.env_hash[:12]}: built on the node")
    if f"code-{wanted.code_hash}.done" in markers:
        actions.append(f"code {wanted.code_hash[:12]}: on the node, not sent")
    else:
        actions.append(f"code {wanted.code_hash[:12]}: sent ({wanted.code_files} file(s), only those that differ)")
    for key, files in wanted.models.items():
        if any((parts.get("models") or {}).get(key) == files for parts in kept.values()):
            actions.append(f"model {key}: on the node, not sent")
        else:
            actions.append(f"model {key}: sent ({len(files)} file(s))")
    if serving:
        actions.append(f"release {wanted.release}: started beside {serving}, checked, then switched to")
    else:
        actions.append(f"release {wanted.release}: started, checked, then served (first deploy)")
    return NodeCheck(host, True, None, serving, actions, differences)
