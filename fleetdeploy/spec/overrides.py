"""Per-host settings: the spec's values are the fleet's defaults, and inventory variables with the prefix
`fleetdeploy_` (group_vars, host_vars, the inventory file itself) override a few of them for the hosts
they apply to, with Ansible's own precedence (a host's value beats its group's): a GPU group gets
`fleetdeploy_resources: {gpus: all}`, bigger machines more workers.

A host's effective spec is the spec file's mapping with its overrides laid over it, validated by the
same model, so a value the spec would refuse is refused the same way, naming the inventory and the host.
Its settings are part of its release's identity (deploy.release.container_settings): a host whose
settings differ gets a release id of its own (the same image, code and models).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from fleetdeploy.errors import ConfigError
from fleetdeploy.inventory import Inventory
from fleetdeploy.spec.issues import SpecIssue, format_path
from fleetdeploy.spec.model import Spec
from fleetdeploy.spec.yamlmarks import MarkedDocument

PREFIX = "fleetdeploy_"
# variable -> (where in the spec, whether a mapping merges key by key over the spec's)
OVERRIDES: dict[str, tuple[tuple[str, ...], bool]] = {
    "fleetdeploy_port": (("port",), False),
    "fleetdeploy_workers": (("server", "workers"), False),
    "fleetdeploy_server": (("server",), True),
    "fleetdeploy_resources": (("resources",), True),
    "fleetdeploy_env": (("env",), True),
}


class OverrideError(ConfigError):
    """Inventory overrides the spec would refuse (all of them are listed)."""

    def __init__(self, issues: list[SpecIssue]):
        self.issues = issues
        count = len(issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the inventory's fleetdeploy_ settings"
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in issues))


@dataclass(frozen=True)
class HostSpec:
    """One host's effective spec, and the inventory variables that made it differ from the file."""

    host: str
    spec: Spec
    overrides: dict  # {"fleetdeploy_workers": 4, ...}; empty: the spec file as it is


def overrides_of(host_vars: Mapping) -> dict:
    """The host's override variables, in a fixed order."""
    return {name: host_vars[name] for name in OVERRIDES if name in host_vars}


def host_port(host, default: int) -> int:
    """The port of the service on `host`: its `fleetdeploy_port`, else the spec's (or --port's).
    Checked as a port when the spec is applied with it (host_specs); here only read."""
    value = host.vars.get("fleetdeploy_port")
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def host_specs(spec: Spec, inventory: Inventory) -> dict[str, HostSpec]:
    """Every host's effective spec (the spec object itself for hosts without overrides). Raises
    OverrideError listing every refused value, each naming the inventory's sources and the host."""
    source = ", ".join(inventory.sources)
    found, issues = {}, []
    for host in inventory:
        overrides = overrides_of(host.vars)
        if not overrides:
            found[host.name] = HostSpec(host.name, spec, {})
            continue
        try:
            found[host.name] = HostSpec(host.name, _applied(spec, overrides), overrides)
        except ValidationError as exc:
            issues += _issues(exc, overrides, f"{source}: host {host.name}")
    if issues:
        raise OverrideError(issues)
    return found


def differences(spec: Spec, host_spec: HostSpec) -> dict[str, tuple]:
    """{setting: (the spec's value, this host's)} for each setting its overrides changed, for summaries."""
    changed = {}
    for name in host_spec.overrides:
        where = OVERRIDES[name][0]
        theirs, mine = _value(spec, where), _value(host_spec.spec, where)
        if isinstance(theirs, dict) and isinstance(mine, dict):  # merged: the keys that changed
            for key in sorted(set(theirs) | set(mine)):
                if theirs.get(key) != mine.get(key):
                    changed[format_path((*where, key))] = (theirs.get(key), mine.get(key))
        elif theirs != mine:
            changed[format_path(where)] = (theirs, mine)
    return changed


def _applied(spec: Spec, overrides: dict) -> Spec:
    if spec.data is None or spec.source is None:
        raise ConfigError("per-host overrides need a spec read from a file")
    data = copy.deepcopy(spec.data)
    for name, value in overrides.items():
        where, merge = OVERRIDES[name]
        parent = data
        for key in where[:-1]:
            parent = parent.setdefault(key, {})  # the loaded spec holds a mapping there, or nothing
        key = where[-1]
        if merge and isinstance(value, Mapping) and isinstance(parent.get(key, {}), Mapping):
            parent[key] = {**(parent.get(key) or {}), **value}
        else:
            parent[key] = value
    applied = Spec.model_validate(data, context={"base_dir": spec.source.parent})
    applied._source, applied._data = spec.source, data
    return applied


def _issues(exc: ValidationError, overrides: dict, where: str) -> list[SpecIssue]:
    from fleetdeploy.spec.loader import issues_from

    issues = []
    for issue in issues_from(exc, MarkedDocument(None), where):
        issues.append(SpecIssue(where, _as_variable(issue.loc, overrides), issue.problem, issue.hint))
    return issues


def _as_variable(loc: tuple, overrides: dict) -> tuple:
    """A spec location as the override variable that set it: ("server", "workers") ->
    ("fleetdeploy_workers",), ("resources", "memory") -> ("fleetdeploy_resources", "memory")."""
    best = None
    for name in overrides:
        where = OVERRIDES[name][0]
        if tuple(loc[: len(where)]) == where and (best is None or len(where) > len(OVERRIDES[best][0])):
            best = name
    if best is None:  # a rule over several settings (the slot ports left by a port)
        return (f"{' / '.join(overrides)} (spec {format_path(loc)})",)
    return (best, *loc[len(OVERRIDES[best][0]) :])


def _value(spec: Spec, where: tuple[str, ...]):
    value = spec
    for key in where:
        value = getattr(value, key)
    return value.model_dump() if hasattr(value, "model_dump") else value
